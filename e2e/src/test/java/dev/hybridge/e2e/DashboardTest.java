package dev.hybridge.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The Grafana dashboard the chart ships (helm/hybridge/dashboards/hybridge.json) reads only
 * metrics the programs export: every {@code hybridge_} series a query names belongs to a family
 * in the reference table ({@code docs/metrics.md}, which {@link MetricsIT} holds to what the
 * running programs export), with the labels it filters and groups by; and it has a panel for
 * each thing an operator of a hybrid system watches first.
 */
class DashboardTest {

    static final Path DASHBOARD = ProgramProcess.root().resolve("helm/hybridge/dashboards/hybridge.json");
    private static final Pattern SERIES = Pattern.compile("\\b(hybridge_[a-z_]+)\\b(\\{[^}]*})?");
    private static final Pattern LABEL = Pattern.compile("([a-z_]+)\\s*(=~|!~|!=|=)");
    private static final Pattern GROUPING = Pattern.compile("\\b(?:by|without)\\s*\\(([^)]*)\\)");

    @Test
    void everyQueryReadsDocumentedFamiliesAndLabels() throws Exception {
        Map<String, MetricsReference.Family> documented = MetricsReference.documented();
        List<String> queries = queries();
        assertThat(queries).hasSizeGreaterThan(15);
        Set<String> read = new TreeSet<>();
        for (String query : queries) {
            Set<String> families = new TreeSet<>();
            Matcher series = SERIES.matcher(query);
            while (series.find()) {
                MetricsReference.Family family = familyOf(series.group(1), documented);
                assertThat(family).as(query + ": " + series.group(1) + " is no documented family's series").isNotNull();
                families.add(family.name());
                if (series.group(2) != null) {
                    Matcher label = LABEL.matcher(series.group(2));
                    while (label.find()) {
                        assertThat(allowed(family)).as(query + ": " + family.name() + " has no label " + label.group(1))
                                .contains(label.group(1));
                    }
                }
            }
            Matcher grouping = GROUPING.matcher(query);
            while (grouping.find()) {
                for (String label : grouping.group(1).split(",")) {
                    String name = label.trim();
                    if (!name.isEmpty()) {
                        assertThat(families).as(query + ": grouped by " + name)
                                .anyMatch(f -> allowed(documented.get(f)).contains(name));
                    }
                }
            }
            read.addAll(families);
        }
        // what the dashboard is for: escalation ratio, cost and budget, latency by tier, breakers,
        // outbox depth, confidence distribution
        assertThat(read).contains("hybridge_route_judged_total", "hybridge_route_escalation_ratio",
                "hybridge_route_threshold", "hybridge_route_cost_usd_total", "hybridge_tenant_budget_left_usd",
                "hybridge_gateway_requests_seconds", "hybridge_edge_requests_seconds", "hybridge_gateway_breaker_state",
                "hybridge_edge_uplink_state", "hybridge_outbox_entries", "hybridge_route_confidence_percent");
    }

    /** The labels a query may use on a family: its own, and those Prometheus adds (le on histograms, the target's). */
    private static Set<String> allowed(MetricsReference.Family family) {
        Set<String> labels = new TreeSet<>(family.labels());
        labels.addAll(List.of("instance", "job"));
        if (family.type().equals("histogram")) {
            labels.add("le");
        }
        return labels;
    }

    /** The documented family a series belongs to: itself, or a summary's or histogram's _sum, _count, _bucket, _max. */
    private static MetricsReference.Family familyOf(String series, Map<String, MetricsReference.Family> documented) {
        if (documented.containsKey(series)) {
            return documented.get(series);
        }
        for (String suffix : new String[] {"_sum", "_count", "_bucket", "_max"}) {
            if (series.endsWith(suffix)) {
                MetricsReference.Family family = documented.get(series.substring(0, series.length() - suffix.length()));
                if (family != null && (family.type().equals("summary") || family.type().equals("histogram"))
                        && (!suffix.equals("_bucket") || family.type().equals("histogram"))) {
                    return family;
                }
            }
        }
        return null;
    }

    @Test
    void theDashboardIsOneGrafanaDocumentWithADataSourceChoice() throws Exception {
        Map<?, ?> dashboard = (Map<?, ?>) E2e.json(Files.readAllBytes(DASHBOARD));
        assertThat(dashboard.get("uid")).isEqualTo("hybridge");
        assertThat(dashboard.get("schemaVersion")).isInstanceOf(Long.class);
        List<?> variables = (List<?>) ((Map<?, ?>) dashboard.get("templating")).get("list");
        assertThat(variables).anyMatch(v -> "datasource".equals(((Map<?, ?>) v).get("type")));
        Set<Object> ids = new TreeSet<>();
        for (Object panel : (List<?>) dashboard.get("panels")) {
            assertThat(ids.add(((Map<?, ?>) panel).get("id"))).as("panel ids are unique").isTrue();
        }
    }

    /** Every query expression of every panel. */
    static List<String> queries() throws Exception {
        Map<?, ?> dashboard = (Map<?, ?>) E2e.json(Files.readAllBytes(DASHBOARD));
        List<String> out = new ArrayList<>();
        for (Object panel : (List<?>) dashboard.get("panels")) {
            Object targets = ((Map<?, ?>) panel).get("targets");
            if (targets != null) {
                for (Object target : (List<?>) targets) {
                    out.add((String) ((Map<?, ?>) target).get("expr"));
                }
            }
        }
        return out;
    }
}
