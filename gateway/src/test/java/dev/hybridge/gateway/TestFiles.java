package dev.hybridge.gateway;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Map;

/** Files the tests make and remove, and the policies several of them run. */
public final class TestFiles {

    /** A cascade from the fake edge model {@code small} to the fake cloud model {@code big}. */
    public static final String CASCADE = """
            version: 1
            kind: cascade
            edge: {model: small}
            cloud: {model: big}
            threshold: {value: 0.5}
            cloud-latency: {initial: 10ms}
            """;

    /** Split with early exit: {@code small}'s {@code embedding} to {@code head}'s {@code features}. */
    public static final String SPLIT = """
            version: 1
            kind: split-early-exit
            edge: {model: small, output: embedding}
            cloud: {model: head, input: features}
            threshold: {value: 0.5}
            cloud-latency: {initial: 10ms}
            """;

    /** {@code small} alone. */
    public static final String EDGE_ONLY = """
            version: 1
            kind: edge-only
            edge: {model: small}
            """;

    /** A new folder holding these files (name to content). */
    public static Path policyFolder(String prefix, Map<String, String> files) {
        try {
            Path folder = Files.createTempDirectory(prefix);
            for (Map.Entry<String, String> file : files.entrySet()) {
                Files.writeString(folder.resolve(file.getKey()), file.getValue());
            }
            return folder;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private TestFiles() {
    }

    public static void deleteTree(Path folder) throws IOException {
        if (folder == null || !Files.exists(folder)) {
            return;
        }
        try (var paths = Files.walk(folder)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
