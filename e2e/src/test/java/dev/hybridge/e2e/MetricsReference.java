package dev.hybridge.e2e;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The metrics reference table ({@code docs/metrics.md}) as data, and a program's Prometheus text
 * as families with the label names their samples carry: what the metrics tests compare.
 */
final class MetricsReference {

    /** A documented family: its Prometheus type, its labels, and the programs (G, E, W) that export it. */
    record Family(String name, String type, Set<String> labels, Set<String> programs) {
    }

    /** A scraped family: its type and the label names its samples carry (besides le and quantile). */
    record Scraped(String name, String type, Set<String> labels) {
    }

    static final Path FILE = ProgramProcess.root().resolve("docs/metrics.md");

    private static final Pattern NAME = Pattern.compile("`(hybridge_[a-z_]+)`");
    private static final Pattern SAMPLE = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\\{(.*)})? .*$");
    private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"(?:[^\"\\\\]|\\\\.)*\"");

    private MetricsReference() {
    }

    /** Every family the table lists, by name. */
    static Map<String, Family> documented() throws IOException {
        Map<String, Family> families = new LinkedHashMap<>();
        for (String line : Files.readAllLines(FILE)) {
            // | `family` | type | unit | labels | programs | meaning |
            String[] cells = line.split("\\|", -1);
            Matcher name = cells.length == 8 ? NAME.matcher(cells[1].trim()) : null;
            if (name != null && name.matches()) {
                Set<String> labels = words(cells[4]);
                labels.remove("le");
                families.put(name.group(1), new Family(name.group(1), cells[2].trim(), labels, words(cells[5])));
            }
        }
        return families;
    }

    private static Set<String> words(String list) {
        return Arrays.stream(list.split(",")).map(String::trim).filter(s -> !s.isEmpty())
                .collect(Collectors.toCollection(TreeSet::new));
    }

    /**
     * The {@code hybridge_} families in a scrape, named as the table names them (a counter with
     * its {@code _total}); a summary's {@code _max} gauge is left out (the table says every
     * summary has one).
     */
    static Map<String, Scraped> scraped(String text) {
        Map<String, String> types = new TreeMap<>();
        for (String line : text.split("\n")) {
            if (line.startsWith("# TYPE hybridge_")) {
                String[] parts = line.split(" ");
                types.put(parts[2], parts[3]);
            }
        }
        Map<String, Scraped> families = new TreeMap<>();
        for (String line : text.split("\n")) {
            Matcher m = SAMPLE.matcher(line);
            if (line.startsWith("#") || !m.matches() || !m.group(1).startsWith("hybridge_")) {
                continue;
            }
            String sample = m.group(1);
            String family = familyOf(sample, types);
            if (family == null) {
                throw new AssertionError("a sample of no declared family: " + line);
            }
            String type = types.get(family);
            if (type.equals("gauge") && family.endsWith("_max") && types.containsKey(family.substring(0, family.length() - 4))) {
                continue;
            }
            String name = type.equals("counter") && !family.endsWith("_total") ? family + "_total" : family;
            Set<String> labels = new TreeSet<>();
            if (m.group(2) != null) {
                Matcher l = LABEL.matcher(m.group(2));
                while (l.find()) {
                    labels.add(l.group(1));
                }
            }
            labels.remove("le");
            labels.remove("quantile");
            Scraped known = families.get(name);
            if (known != null && !known.labels().equals(labels)) {
                throw new AssertionError(name + ": samples with different labels: " + known.labels() + " and " + labels);
            }
            families.put(name, new Scraped(name, type, labels));
        }
        return families;
    }

    private static String familyOf(String sample, Map<String, String> types) {
        if (types.containsKey(sample)) {
            return sample;
        }
        for (String suffix : new String[] {"_total", "_count", "_sum", "_bucket", "_created"}) {
            if (sample.endsWith(suffix)) {
                String base = sample.substring(0, sample.length() - suffix.length());
                if (types.containsKey(base)) {
                    return base;
                }
            }
        }
        return null;
    }

    /** Only the {@code hybridge_} families of a scrape, with their HELP and TYPE lines: what promtool is given. */
    static String ownFamilies(String text) {
        StringBuilder out = new StringBuilder();
        for (String line : text.split("\n")) {
            String name = line.startsWith("# HELP ") || line.startsWith("# TYPE ") ? line.split(" ")[2] : line;
            if (name.startsWith("hybridge_")) {
                out.append(line).append('\n');
            }
        }
        return out.toString();
    }
}
