package dev.hybridge.e2e;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;

/**
 * The samples of a Prometheus text exposition, as a program's {@code /actuator/prometheus}
 * answers it: each line {@code name{label="value",...} value}, comments skipped. For the
 * end-to-end scenarios and the benchmarks, which read a few figures of the programs they run.
 */
public final class PrometheusText {

    /** One sample: its name, its labels and its value. */
    public record Sample(String name, Map<String, String> labels, double value) {
    }

    private final List<Sample> samples;

    private PrometheusText(List<Sample> samples) {
        this.samples = samples;
    }

    /** The samples of {@code text}; a line that is not a sample stops with the line named. */
    public static PrometheusText parse(String text) {
        List<Sample> samples = new ArrayList<>();
        for (String line : text.split("\n")) {
            if (!line.isBlank() && !line.startsWith("#")) {
                try {
                    samples.add(sample(line.strip()));
                } catch (IndexOutOfBoundsException | NumberFormatException e) {
                    throw new IllegalArgumentException("not a Prometheus sample: " + line, e);
                }
            }
        }
        return new PrometheusText(samples);
    }

    /** Every sample named {@code name}. */
    public List<Sample> named(String name) {
        return samples.stream().filter(s -> s.name().equals(name)).toList();
    }

    /**
     * The sum of the samples named {@code name} whose labels include each of {@code labels}
     * (name, value, name, value...), or empty if there is none.
     */
    public OptionalDouble sum(String name, String... labels) {
        if (labels.length % 2 != 0) {
            throw new IllegalArgumentException("labels come in pairs: name, value");
        }
        double sum = 0;
        boolean found = false;
        for (Sample s : named(name)) {
            boolean matches = true;
            for (int i = 0; i < labels.length && matches; i += 2) {
                matches = labels[i + 1].equals(s.labels().get(labels[i]));
            }
            if (matches) {
                sum += s.value();
                found = true;
            }
        }
        return found ? OptionalDouble.of(sum) : OptionalDouble.empty();
    }

    private static Sample sample(String line) {
        int brace = line.indexOf('{');
        int space = line.indexOf(' ');
        Map<String, String> labels = new LinkedHashMap<>();
        int rest;
        String name;
        if (brace >= 0 && (space < 0 || brace < space)) {
            name = line.substring(0, brace);
            int i = brace + 1;
            while (line.charAt(i) != '}') {
                int eq = line.indexOf("=\"", i);
                if (eq < 0) {
                    throw new IllegalArgumentException("not a Prometheus sample: " + line);
                }
                String label = line.substring(i, eq);
                StringBuilder value = new StringBuilder();
                int j = eq + 2;
                for (; line.charAt(j) != '"'; j++) {
                    char c = line.charAt(j);
                    if (c == '\\') {
                        char escaped = line.charAt(++j);
                        value.append(escaped == 'n' ? '\n' : escaped);
                    } else {
                        value.append(c);
                    }
                }
                labels.put(label, value.toString());
                i = j + 1;
                if (line.charAt(i) == ',') {
                    i++;
                }
            }
            rest = i + 1;
        } else {
            if (space < 0) {
                throw new IllegalArgumentException("not a Prometheus sample: " + line);
            }
            name = line.substring(0, space);
            rest = space;
        }
        String[] fields = line.substring(rest).strip().split("\\s+"); // value, then an optional timestamp
        return new Sample(name, labels, value(fields[0]));
    }

    private static double value(String text) {
        return switch (text) {
            case "+Inf" -> Double.POSITIVE_INFINITY;
            case "-Inf" -> Double.NEGATIVE_INFINITY;
            default -> Double.parseDouble(text);
        };
    }
}
