package dev.hybridge.policy.internal;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import tools.jackson.databind.JsonNode;

/**
 * A YAML mapping being read field by field, which knows its own path so that every problem says
 * where it is ({@code file: threshold.calibrate.window: ...}). Problems are collected, not thrown,
 * so a user sees all of them at once.
 */
public final class YamlNode {

    private static final Pattern DURATION = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*(ms|s|m|h|d)");

    private final JsonNode node;
    private final String file;
    private final String path;
    private final List<String> problems;

    public YamlNode(JsonNode node, String file, String path, List<String> problems) {
        this.node = node;
        this.file = file;
        this.path = path;
        this.problems = problems;
    }

    public static YamlNode root(JsonNode node, String file, List<String> problems) {
        return new YamlNode(node, file, "", problems);
    }

    public boolean isMapping() {
        return node != null && node.isObject();
    }

    public boolean has(String field) {
        return node != null && node.has(field) && !node.get(field).isNull();
    }

    public String where(String field) {
        return path.isEmpty() ? field : path + "." + field;
    }

    public void problem(String field, String message) {
        problems.add(file + ": " + (field == null ? (path.isEmpty() ? "" : path + ": ") : where(field) + ": ") + message);
    }

    /** Reports every field that is not one of {@code known}: a misspelt field must not pass silently. */
    public void allowOnly(Set<String> known) {
        if (node == null || !node.isObject()) {
            return;
        }
        for (Iterator<String> it = node.propertyNames().iterator(); it.hasNext(); ) {
            String name = it.next();
            if (!known.contains(name)) {
                problem(name, "unknown field; expected one of " + String.join(", ", new java.util.TreeSet<>(known)));
            }
        }
    }

    /** A nested mapping, or {@code null} when absent (reported when required). */
    public YamlNode mapping(String field, boolean required) {
        if (!has(field)) {
            if (required) {
                problem(field, "is required");
            }
            return null;
        }
        JsonNode child = node.get(field);
        if (!child.isObject()) {
            problem(field, "must be a mapping but was " + describe(child));
            return null;
        }
        return new YamlNode(child, file, where(field), problems);
    }

    /** The fields of a mapping whose keys are names (e.g. tenants), each as a node. */
    public Map<String, YamlNode> entries() {
        Map<String, YamlNode> out = new java.util.LinkedHashMap<>();
        if (node != null && node.isObject()) {
            for (Map.Entry<String, JsonNode> e : node.properties()) {
                if (!e.getValue().isObject()) {
                    problem(e.getKey(), "must be a mapping but was " + describe(e.getValue()));
                } else {
                    out.put(e.getKey(), new YamlNode(e.getValue(), file, where(e.getKey()), problems));
                }
            }
        }
        return out;
    }

    public String string(String field, boolean required) {
        if (!has(field)) {
            if (required) {
                problem(field, "is required");
            }
            return null;
        }
        JsonNode value = node.get(field);
        if (!value.isString() || value.asString().isBlank()) {
            problem(field, "must be a non-empty string but was " + describe(value));
            return null;
        }
        return value.asString();
    }

    public boolean bool(String field, boolean fallback) {
        if (!has(field)) {
            return fallback;
        }
        JsonNode value = node.get(field);
        if (!value.isBoolean()) {
            problem(field, "must be true or false but was " + describe(value));
            return fallback;
        }
        return value.asBoolean();
    }

    public double number(String field, double fallback, double min, double max) {
        if (!has(field)) {
            return fallback;
        }
        JsonNode value = node.get(field);
        if (!value.isNumber()) {
            problem(field, "must be a number but was " + describe(value));
            return fallback;
        }
        double d = value.asDouble();
        if (!(d >= min && d <= max)) {
            problem(field, "must be between " + plain(min) + " and " + plain(max) + " but was " + plain(d));
            return fallback;
        }
        return d;
    }

    public int integer(String field, int fallback, int min, int max) {
        if (!has(field)) {
            return fallback;
        }
        JsonNode value = node.get(field);
        if (!value.isIntegralNumber() || !value.canConvertToInt()) {
            problem(field, "must be a whole number but was " + describe(value));
            return fallback;
        }
        int i = value.asInt();
        if (i < min || i > max) {
            problem(field, "must be between " + min + " and " + max + " but was " + i);
            return fallback;
        }
        return i;
    }

    /** A duration written as a number and a unit: {@code 250ms}, {@code 2s}, {@code 5m}, {@code 1h}, {@code 1d}. */
    public Duration duration(String field, Duration fallback, Duration min, Duration max) {
        if (!has(field)) {
            return fallback;
        }
        JsonNode value = node.get(field);
        Duration d = value.isString() ? parseDuration(value.asString()) : null;
        if (d == null) {
            problem(field, "must be a duration such as 250ms, 2s, 5m or 1h but was " + describe(value));
            return fallback;
        }
        if (d.compareTo(min) < 0 || d.compareTo(max) > 0) {
            problem(field, "must be between " + text(min) + " and " + text(max) + " but was " + value.asString());
            return fallback;
        }
        return d;
    }

    /** A list of numbers, each between {@code min} and {@code max}, at least one; null when absent or wrong. */
    public double[] numbers(String field, double min, double max, int most) {
        if (!has(field)) {
            return null;
        }
        JsonNode value = node.get(field);
        if (!value.isArray() || value.isEmpty() || value.size() > most) {
            problem(field, "must be a list of 1 to " + most + " numbers such as [0.9, 1.0] but was " + describe(value));
            return null;
        }
        double[] out = new double[value.size()];
        for (int i = 0; i < value.size(); i++) {
            JsonNode item = value.get(i);
            double d = item.isNumber() ? item.asDouble() : Double.NaN;
            if (!(d >= min && d <= max)) {
                problem(field + "[" + i + "]", "must be a number between " + plain(min) + " and " + plain(max)
                        + " but was " + describe(item));
                return null;
            }
            out[i] = d;
        }
        return out;
    }

    /** A list of strings, each one of {@code allowed}. */
    public List<String> words(String field, Set<String> allowed) {
        List<String> out = new ArrayList<>();
        if (!has(field)) {
            return null;
        }
        JsonNode value = node.get(field);
        if (!value.isArray()) {
            problem(field, "must be a list such as [" + String.join(", ", allowed) + "] but was " + describe(value));
            return null;
        }
        for (int i = 0; i < value.size(); i++) {
            JsonNode item = value.get(i);
            if (!item.isString() || !allowed.contains(item.asString())) {
                problem(field + "[" + i + "]", "must be one of " + String.join(", ", allowed) + " but was " + describe(item));
            } else {
                out.add(item.asString());
            }
        }
        return out;
    }

    public static Duration parseDuration(String text) {
        Matcher m = DURATION.matcher(text.trim().toLowerCase(Locale.ROOT));
        if (!m.matches()) {
            return null;
        }
        double amount = Double.parseDouble(m.group(1));
        double millis = switch (m.group(2)) {
            case "ms" -> amount;
            case "s" -> amount * 1_000;
            case "m" -> amount * 60_000;
            case "h" -> amount * 3_600_000;
            default -> amount * 86_400_000;
        };
        return Duration.ofNanos(Math.round(millis * 1_000_000));
    }

    static String describe(JsonNode value) {
        if (value == null || value.isNull()) {
            return "empty";
        }
        if (value.isString()) {
            return "\"" + value.asString() + "\"";
        }
        if (value.isObject()) {
            return "a mapping";
        }
        if (value.isArray()) {
            return "a list";
        }
        return value.toString();
    }

    private static String plain(double d) {
        return d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString((long) d) : Double.toString(d);
    }

    /** A duration in the largest unit that writes it whole: 250ms, 90s, 10m, 1h, 31d. */
    static String text(Duration d) {
        long ms = d.toMillis();
        if (ms == 0 || ms % 1000 != 0) {
            return ms + "ms";
        }
        long[] sizes = {86_400_000, 3_600_000, 60_000, 1000};
        String[] units = {"d", "h", "m", "s"};
        for (int i = 0; i < sizes.length; i++) {
            if (ms % sizes[i] == 0) {
                return ms / sizes[i] + units[i];
            }
        }
        return ms + "ms";
    }
}
