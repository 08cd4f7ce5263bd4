package dev.hybridge.policy;

/**
 * A compiled policy condition (a CEL expression checked when its file is loaded). Evaluating
 * it cannot run arbitrary code: CEL has no loops beyond bounded macros and no side effects.
 */
public interface Condition {

    /**
     * @param outcome   the edge's outcome, or {@code null} for conditions evaluated before the edge runs
     * @param threshold the route's current confidence threshold
     */
    boolean test(RequestFacts facts, EdgeOutcome outcome, double threshold);

    /** The expression as written in the policy file. */
    String source();

    /** How many evaluations failed (a missing map key, a type mismatch at run time); each counted as false. */
    default long errors() {
        return 0;
    }
}
