package dev.hybridge.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import dev.hybridge.models.Fsdd;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * What an operator's Prometheus scrapes from the three programs after traffic: a cloud worker
 * (and another serving the edge model as the gateway's edge tier), the gateway with the shipped policies (a listed tenant with a budget) and an edge agent taking
 * its routes from it. Every {@code hybridge_} family each program exports is in the reference
 * table ({@code docs/metrics.md}) with its type, its labels and that program; what operators
 * watch first (escalation ratio, threshold, confidence, cost and budget, breakers, outbox, models)
 * is there; and Prometheus's own linter ({@code promtool check metrics}, from Debian's
 * {@code prometheus} package; skipped where it is not installed, installed by {@code .ci/run})
 * accepts every family.
 */
class MetricsIT {

    static ProgramProcess cloud;
    static ProgramProcess edgeWorker;
    static ProgramProcess gateway;
    static ProgramProcess agent;
    static Path policies;
    static Path state;
    /** The scrapes after traffic, by program: G gateway, E edge agent, W cloud worker. */
    static final Map<String, String> scrapes = new LinkedHashMap<>();

    @BeforeAll
    static void startAndSendTraffic() throws IOException {
        policies = E2e.shippedPolicies("hybridge-e2e-metrics-policies");
        Files.writeString(policies.resolve("tenants.yaml"), """
                version: 1
                default: {allow: [auto, edge, cloud]}
                tenants:
                  fleet: {budget-usd: 50.0, allow: [auto, edge, cloud]}
                """);
        state = Files.createTempDirectory("hybridge-e2e-metrics-state");
        cloud = E2e.start(E2e.CLOUD, E2e.DEMO.resolve("cloud"));
        // the gateway's own edge tier: a worker serving the edge model
        edgeWorker = E2e.start(E2e.CLOUD, E2e.DEMO.resolve("edge"));
        cloud.awaitReady(E2e.START_TIMEOUT);
        edgeWorker.awaitReady(E2e.START_TIMEOUT);
        gateway = E2e.startGateway("--hybridge.gateway.policy-folder=" + policies,
                "--hybridge.gateway.cloud.addresses=" + cloud.baseUri(),
                "--hybridge.gateway.edge.addresses=" + edgeWorker.baseUri(),
                "--hybridge.gateway.anonymous-tenant=fleet");
        gateway.awaitReady(E2e.START_TIMEOUT);
        agent = E2e.startAgent(gateway.baseUri(), "metrics-device", state, "--hybridge.edge.tenant=fleet");

        OipClient onAgent = new OipClient(agent.baseUri());
        OipClient onGateway = new OipClient(gateway.baseUri());
        List<Fsdd.Clip> clips = E2e.everyFifth(Fsdd.testSplit(Fsdd.recordings(ProgramProcess.root())));
        for (Fsdd.Clip c : clips.subList(0, 30)) {
            assertThat(onAgent.infer("digits", E2e.clip(c, c.file(), Map.of()), true).status()).isEqualTo(200);
            assertThat(onGateway.infer("digits", E2e.clip(c, c.file(), Map.of()), true).status()).isEqualTo(200);
        }
        for (Fsdd.Clip c : clips.subList(30, 50)) {
            assertThat(onAgent.infer("digits-split", E2e.clip(c, c.file(), Map.of()), true).status()).isEqualTo(200);
            assertThat(onGateway.infer("digits-shadow", E2e.clip(c, c.file(), Map.of()), true).status()).isEqualTo(200);
        }
        assertThat(onGateway.infer("no-such-route", E2e.clip(clips.get(0), "x", Map.of()), true).status()).isEqualTo(404);
        scrapes.put("G", onGateway.get("/actuator/prometheus").text());
        scrapes.put("E", onAgent.get("/actuator/prometheus").text());
        scrapes.put("W", new OipClient(cloud.baseUri()).get("/actuator/prometheus").text());
    }

    @AfterAll
    static void stop() throws IOException {
        for (ProgramProcess p : new ProgramProcess[] {agent, gateway, edgeWorker, cloud}) {
            E2e.closeQuietly(p);
        }
        E2e.deleteTrees(policies, state);
    }

    @Test
    void everyFamilyIsInTheReferenceTableWithItsTypeLabelsAndProgram() throws IOException {
        Map<String, MetricsReference.Family> documented = MetricsReference.documented();
        assertThat(documented).hasSizeGreaterThan(35);
        scrapes.forEach((program, text) -> {
            Map<String, MetricsReference.Scraped> families = MetricsReference.scraped(text);
            assertThat(families).as(program).isNotEmpty();
            for (MetricsReference.Scraped family : families.values()) {
                MetricsReference.Family doc = documented.get(family.name());
                assertThat(doc).as(program + " exports " + family.name() + ", which docs/metrics.md does not list").isNotNull();
                assertThat(family.type()).as(family.name() + "'s type").isEqualTo(doc.type());
                assertThat(family.labels()).as(family.name() + "'s labels").isEqualTo(doc.labels());
                assertThat(doc.programs()).as(family.name() + "'s programs").contains(program);
            }
        });
    }

    @Test
    void whatOperatorsWatchFirstIsThereAfterTraffic() {
        List<String> routes = List.of("hybridge_route_judged_total", "hybridge_route_escalation_ratio",
                "hybridge_route_threshold", "hybridge_route_confidence_percent",
                "hybridge_route_cloud_latency_estimate_seconds", "hybridge_route_expression_errors_total",
                "hybridge_route_cost_usd_total");
        // tenants.yaml stays on the gateway (agents get the routes only): budgets are the gateway's
        List<String> tenants = List.of("hybridge_tenant_spent_usd", "hybridge_tenant_budget_usd",
                "hybridge_tenant_budget_left_usd");
        List<String> models = List.of("hybridge_model_loaded", "hybridge_model_load_duration_seconds",
                "hybridge_model_run_seconds", "hybridge_infer_requests_seconds", "hybridge_queue_pending",
                "hybridge_queue_rejected_total");
        assertThat(MetricsReference.scraped(scrapes.get("G")).keySet()).containsAll(routes).containsAll(tenants).contains(
                "hybridge_gateway_requests_seconds", "hybridge_gateway_shadow_total", "hybridge_gateway_breaker_state",
                "hybridge_gateway_workers", "hybridge_gateway_bulkhead_available", "hybridge_gateway_escalations_total",
                "hybridge_gateway_escalations_recorded");
        assertThat(MetricsReference.scraped(scrapes.get("E")).keySet()).containsAll(routes).containsAll(models).contains(
                "hybridge_edge_requests_seconds", "hybridge_edge_uplink_state", "hybridge_edge_uplink_sent_bytes",
                "hybridge_outbox_entries", "hybridge_outbox_bytes", "hybridge_outbox_oldest_age_seconds",
                "hybridge_outbox_replayed_total", "hybridge_outbox_expired_total", "hybridge_outbox_dropped_total",
                "hybridge_outbox_callbacks_total");
        assertThat(MetricsReference.scraped(scrapes.get("W")).keySet()).containsAll(models).contains(
                "hybridge_batch_rows", "hybridge_batch_requests", "hybridge_batch_queue_wait_seconds");

        String g = scrapes.get("G");
        String e = scrapes.get("E");
        // the gateway judged its own 30 digits requests; the agent's escalations it does not judge again
        assertThat(value(g, "hybridge_route_judged_total", "route=\"digits\",decision=\"kept\"")
                + value(g, "hybridge_route_judged_total", "route=\"digits\",decision=\"escalated\"")).isEqualTo(30);
        assertThat(value(e, "hybridge_route_confidence_percent_count", "route=\"digits\"")).isEqualTo(30);
        assertThat(value(e, "hybridge_route_confidence_percent_count", "route=\"digits-split\"")).isEqualTo(20);
        double ratio = value(g, "hybridge_route_escalation_ratio", "route=\"digits\"");
        assertThat(ratio).isEqualTo(value(g, "hybridge_route_judged_total", "route=\"digits\",decision=\"escalated\"") / 30);
        assertThat(value(g, "hybridge_route_threshold", "route=\"digits\"")).isEqualTo(E2e.MARGIN_THRESHOLD);
        assertThat(value(g, "hybridge_tenant_spent_usd", "tenant=\"fleet\"")).isPositive();
        assertThat(value(g, "hybridge_tenant_budget_left_usd", "tenant=\"fleet\"")
                + value(g, "hybridge_tenant_spent_usd", "tenant=\"fleet\"")).isCloseTo(50.0, org.assertj.core.data.Offset.offset(1e-9));
        assertThat(value(g, "hybridge_gateway_breaker_state", "tier=\"cloud\",worker=\"cloud/" + cloud.baseUri().getAuthority() + "\""))
                .as("closed").isEqualTo(2);
        assertThat(value(e, "hybridge_edge_uplink_state", "")).as("online").isEqualTo(2);
        assertThat(value(e, "hybridge_model_loaded", "model=\"digits-edge\"")).isEqualTo(1);
        assertThat(value(g, "hybridge_gateway_requests_seconds_count", "reason=\"refused\",route=\"unknown\",status=\"4xx\""))
                .as("a route no policy names").isEqualTo(1);
    }

    /** One sample's value: the family's sample whose labels contain {@code labels} (in the scrape's order). */
    private static double value(String text, String sample, String labels) {
        Pattern p = Pattern.compile("^" + Pattern.quote(sample) + "(\\{[^}]*})? (\\S+)$", Pattern.MULTILINE);
        Matcher m = p.matcher(text);
        while (m.find()) {
            String found = m.group(1) == null ? "" : m.group(1);
            if (labels.isEmpty() || containsAll(found, labels)) {
                return Double.parseDouble(m.group(2));
            }
        }
        throw new AssertionError("no " + sample + " with " + labels);
    }

    private static boolean containsAll(String found, String labels) {
        for (String label : labels.split(",")) {
            if (!found.contains(label)) {
                return false;
            }
        }
        return true;
    }

    @Test
    void promtoolAcceptsEveryFamily() throws Exception {
        Path promtool = Path.of("/usr/bin/promtool");
        assumeThat(Files.isExecutable(promtool)).as("promtool is not installed (apt-get install prometheus)").isTrue();
        for (Map.Entry<String, String> scrape : scrapes.entrySet()) {
            Process check = new ProcessBuilder(promtool.toString(), "check", "metrics").redirectErrorStream(true).start();
            check.getOutputStream().write(MetricsReference.ownFamilies(scrape.getValue()).getBytes(StandardCharsets.UTF_8));
            check.getOutputStream().close();
            String output = new String(check.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(check.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(check.exitValue()).as(scrape.getKey() + ": promtool says: " + output).isZero();
            assertThat(output.strip()).as(scrape.getKey()).isEmpty();
        }
    }
}
