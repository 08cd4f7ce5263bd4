package dev.hybridge.helm;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import tools.jackson.databind.JsonNode;
import tools.jackson.dataformat.yaml.YAMLMapper;

/**
 * The {@code .Values} paths the templates read that values.yaml does not define: a misspelt
 * value renders as nothing in Helm (and {@code helm lint --strict} does not report it), so the
 * chart would quietly ignore what a user sets. Reads every {@code .Values.a.b.c} written out in
 * templates/ (also as {@code $.Values} and {@code .root.Values}); a path reached through
 * {@code with} or a variable is not seen; template comments are skipped.
 */
final class ValuesReferences {

    private static final Pattern COMMENT = Pattern.compile("(?s)\\{\\{-?\\s*/\\*.*?\\*/\\s*-?}}");
    private static final Pattern PATH = Pattern.compile("\\.Values((?:\\.[A-Za-z_][A-Za-z0-9_]*)+)");

    private ValuesReferences() {
    }

    static Set<String> undefined(Path chart) throws IOException {
        JsonNode values = YAMLMapper.builder().build().readTree(chart.resolve("values.yaml").toFile());
        Set<String> missing = new TreeSet<>();
        try (Stream<Path> files = Files.walk(chart.resolve("templates"))) {
            for (Path file : files.filter(Files::isRegularFile).toList()) {
                Matcher m = PATH.matcher(COMMENT.matcher(Files.readString(file)).replaceAll(""));
                while (m.find()) {
                    JsonNode node = values;
                    for (String key : m.group(1).substring(1).split("\\.")) {
                        node = node == null || !node.isObject() ? null : node.get(key);
                    }
                    if (node == null) {
                        missing.add(chart.relativize(file) + ": .Values" + m.group(1));
                    }
                }
            }
        }
        return missing;
    }
}
