package dev.hybridge.helm;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The house rule for values.yaml: every key is explained where it is set, by a comment on the
 * line above at the same indentation or at the end of its line. Keys inside blocks whose content
 * is a Kubernetes structure (resources, security contexts, probe timings, node selectors,
 * tolerations) are explained by the block's own comment.
 */
final class ValuesComments {

    static final Set<String> NATIVE_BLOCKS = Set.of("podSecurityContext", "containerSecurityContext", "resources",
            "copyResources", "probes", "nodeSelector", "tolerations");

    /** A mapping key: a name, a colon, then a space or the end of the line (not "-XX:+Flag"). */
    private static final Pattern KEY = Pattern.compile("^(\\s*)([A-Za-z0-9_./\"][A-Za-z0-9_./\"-]*):(\\s.*)?$");

    private record Key(int indent, String name) {
    }

    private ValuesComments() {
    }

    /** The keys without a comment of their own, as dotted paths. */
    static List<String> uncommented(List<String> lines) {
        Deque<Key> stack = new ArrayDeque<>();
        List<String> missing = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            Matcher m = KEY.matcher(lines.get(i));
            if (!m.matches()) {
                continue;
            }
            int indent = m.group(1).length();
            while (!stack.isEmpty() && stack.peekLast().indent() >= indent) {
                stack.removeLast();
            }
            boolean covered = stack.stream().anyMatch(k -> NATIVE_BLOCKS.contains(k.name()));
            stack.addLast(new Key(indent, m.group(2)));
            if (covered || m.group(3) != null && m.group(3).contains("#")) {
                continue;
            }
            if (i > 0) {
                String previous = lines.get(i - 1);
                String trimmed = previous.stripLeading();
                if (trimmed.startsWith("#") && previous.length() - trimmed.length() == indent) {
                    continue;
                }
            }
            missing.add(String.join(".", stack.stream().map(Key::name).toList()));
        }
        return missing;
    }
}
