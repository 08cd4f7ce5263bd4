package dev.hybridge.policy;

import java.util.List;

/**
 * A policy folder that cannot be used, with every problem found: each names the file, the field
 * path and what was expected.
 */
public class PolicyException extends Exception {

    private final List<String> problems;

    public PolicyException(List<String> problems) {
        super(problems.size() == 1 ? problems.get(0)
                : problems.size() + " problems:\n  " + String.join("\n  ", problems));
        this.problems = List.copyOf(problems);
    }

    public List<String> problems() {
        return problems;
    }
}
