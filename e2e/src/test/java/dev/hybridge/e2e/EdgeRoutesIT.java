package dev.hybridge.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.hybridge.models.Fsdd;
import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.InferResponse;
import dev.hybridge.oip.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The edge agent as the decision point, with real processes on loopback: an agent serving the
 * demo edge model with its uplink to the gateway, the gateway with the shipped policies, two
 * cloud workers, real recordings. The agent takes its routes from the gateway. In order: routes
 * answered on the agent from both tiers (a split sends only the embedding); a policy change on
 * the gateway reaches the agent; the gateway frozen (the link hangs), then killed: every request
 * still answered, degraded, within its deadline; and an agent started while the gateway is down
 * starts from the policies it stored.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class EdgeRoutesIT {

    /** The shipped cascade's deadline (config/policies/digits.yaml). */
    static final long DEADLINE_MS = 500;

    static ProgramProcess agent;
    static ProgramProcess cloudA;
    static ProgramProcess cloudB;
    static ProgramProcess gateway;
    static OipClient client;
    static List<Fsdd.Clip> clips;
    static Path policies;
    static Path state;

    @BeforeAll
    static void start() throws IOException {
        policies = E2e.shippedPolicies("hybridge-e2e-edge-policies");
        state = Files.createTempDirectory("hybridge-e2e-edge-state");
        cloudA = E2e.start(E2e.CLOUD, E2e.DEMO.resolve("cloud"));
        cloudB = E2e.start(E2e.CLOUD, E2e.DEMO.resolve("cloud"));
        cloudA.awaitReady(E2e.START_TIMEOUT);
        cloudB.awaitReady(E2e.START_TIMEOUT);
        gateway = E2e.startGateway("--hybridge.gateway.policy-folder=" + policies,
                "--hybridge.gateway.policy-reload-interval=300ms",
                "--hybridge.gateway.cloud.addresses=" + cloudA.baseUri() + "," + cloudB.baseUri(),
                "--hybridge.gateway.anonymous-tenant=fleet");
        gateway.awaitReady(E2e.START_TIMEOUT);
        agent = startAgent();
        agent.awaitReady(E2e.START_TIMEOUT);
        client = new OipClient(agent.baseUri());
        clips = Fsdd.testSplit(Fsdd.recordings(ProgramProcess.root()));
        E2e.awaitRoute(client, "digits", Duration.ofSeconds(30));
    }

    /** The agent as it is launched, its routes from the gateway. */
    static ProgramProcess startAgent() {
        return E2e.startAgent(gateway.baseUri(), "e2e-device", state, "--hybridge.edge.uplink.policy-refresh=500ms");
    }

    @AfterAll
    static void stop() throws IOException {
        for (ProgramProcess p : new ProgramProcess[] {agent, gateway, cloudA, cloudB}) {
            if (p != null) {
                p.close();
            }
        }
        E2e.deleteTrees(policies, state);
    }

    static InferRequest clip(Fsdd.Clip clip) {
        return E2e.clip(clip, clip.file(), Map.of());
    }

    static InferResponse ok(OipClient.Answer answer) {
        assertThat(answer.status()).as(answer.text()).isEqualTo(200);
        return client.codec().decodeResponse(answer.body(), answer.jsonLength());
    }

    static List<Fsdd.Clip> sample() {
        return E2e.everyFifth(clips);
    }

    // -------------------------------------------------------------------------------------------

    @Test
    @Order(1)
    void cascadeAndSplitRunOnTheAgentAndASplitSendsOnlyTheEmbedding() {
        int inCloud = 0;
        int correct = 0;
        for (Fsdd.Clip c : sample()) {
            InferResponse response = ok(client.infer("digits", clip(c), true));
            assertThat(response.modelName()).isEqualTo("digits");
            assertThat(response.parameters()).containsEntry("hybridge.degraded", false);
            inCloud += response.parameters().get("hybridge.tier").equals("cloud") ? 1 : 0;
            correct += response.parameters().get("hybridge.label").equals(Integer.toString(c.digit())) ? 1 : 0;
        }
        assertThat(inCloud).as("escalated through the gateway").isBetween(5, 30);
        assertThat(correct).isGreaterThanOrEqualTo(48);

        double cloudRunsBefore = runs("digits-cloud");
        int viaHead = 0;
        for (Fsdd.Clip c : sample()) {
            InferResponse response = ok(client.infer("digits-split", clip(c), true));
            viaHead += response.parameters().get("hybridge.tier").equals("cloud") ? 1 : 0;
            assertThat(response.outputs()).extracting(Tensor::name).containsExactly("probs");
        }
        assertThat(viaHead).isGreaterThan(0);
        // the cloud ran the head on the agent's embeddings, and never the full model on audio
        assertThat(runs("digits-head")).isEqualTo(viaHead);
        assertThat(runs("digits-cloud")).isEqualTo(cloudRunsBefore);
        String metrics = client.get("/actuator/prometheus").text();
        assertThat(metrics).containsPattern("hybridge_edge_uplink_sent_bytes_count\\{route=\"digits-split\"}");
        assertThat(metrics).contains("hybridge_edge_requests_seconds_count");
    }

    @Test
    @Order(2)
    void theDeviceKeepsItsUsersVoiceProfileOnDisk() throws Exception {
        // the first test sent the sample through digits on the agent (its escalations, carrying the profile, were
        // answered by the cloud model through the gateway); the agent keeps the mean of the edge model's
        // clip profiles, written every 5 s while it changes
        Path file = state.resolve("device-profiles.json");
        Pattern rows = Pattern.compile("\"digits\":\\{\"rows\":(\\d+),\"values\":\\[([^\\]]*)\\]");
        long until = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        Matcher kept = null;
        while (kept == null || Long.parseLong(kept.group(1)) < sample().size()) {
            assertThat(System.nanoTime()).as("the agent's device-profiles.json after 20 s").isLessThan(until);
            Thread.sleep(100); // polling another process's file: there is nothing to be notified by
            if (Files.exists(file)) {
                Matcher m = rows.matcher(Files.readString(file));
                kept = m.find() ? m : null;
            }
        }
        assertThat(Long.parseLong(kept.group(1))).isEqualTo(sample().size());
        assertThat(kept.group(2).split(",")).hasSize(40);
        // and the speeds: each clip heard again at every speed in the background (one run at a time, so
        // a clip that came during one may not have been), a mean confidence and profile per speed
        String text = Files.readString(file);
        for (String speed : List.of("0.88", "1.0", "1.09")) {
            Matcher profile = Pattern.compile("\"digits speed " + Pattern.quote(speed)
                    + "\":\\{\"rows\":(\\d+),\"values\":\\[([^\\]]*)\\]").matcher(text);
            Matcher confidence = Pattern.compile("\"digits speed " + Pattern.quote(speed)
                    + " confidence\":\\{\"rows\":(\\d+),\"values\":\\[([^\\]]*)\\]").matcher(text);
            assertThat(profile.find()).as("speed " + speed + " in " + text).isTrue();
            assertThat(confidence.find()).as("speed " + speed + "'s confidence").isTrue();
            assertThat(profile.group(2).split(",")).hasSize(40);
            assertThat(Double.parseDouble(confidence.group(2))).isBetween(0.1, 1.0);
            assertThat(Long.parseLong(profile.group(1))).isBetween(1L, (long) sample().size());
        }
        String metrics = client.get("/actuator/prometheus").text();
        assertThat(metrics).containsPattern("hybridge_route_views_total\\{result=\"learned\",route=\"digits\"} [1-9]");
    }

    @Test
    @Order(3)
    void aPolicyChangeOnTheGatewayReachesTheAgentWithoutARestart() throws IOException {
        Files.writeString(policies.resolve("digits-local.yaml"), """
                version: 1
                kind: edge-only
                edge: {model: digits-edge}
                """);
        E2e.awaitRoute(client, "digits-local", Duration.ofSeconds(15));
        InferResponse response = ok(client.infer("digits-local", clip(clips.get(0)), true));
        assertThat(response.parameters()).containsEntry("hybridge.tier", "edge").containsEntry("hybridge.reason", "edge_only");
    }

    @Test
    @Order(4)
    void aFrozenGatewayCostsNoRequestItsDeadlineAndOnceTheBreakerOpensNothingIsSent() {
        gateway.freeze();
        try {
            List<Fsdd.Clip> sample = sample();
            List<Long> escalatedMillis = new ArrayList<>();
            for (Fsdd.Clip c : sample) {
                long start = System.nanoTime();
                InferResponse response = ok(client.infer("digits", clip(c), true));
                long took = (System.nanoTime() - start) / 1_000_000;
                assertThat(took).as("answered within the deadline").isLessThan(DEADLINE_MS + 300);
                if (response.parameters().get("hybridge.degraded").equals(true)) {
                    assertThat(response.parameters()).containsEntry("hybridge.tier", "edge")
                            .containsEntry("hybridge.reason", "cloud_unavailable");
                    escalatedMillis.add(took);
                }
            }
            assertThat(escalatedMillis).hasSizeGreaterThan(5);
            assertThat(client.get("/v2/health/ready").text()).contains("\"uplink\":\"offline\"");

            // the breaker is open: no request goes near the link any more (nothing more is sent),
            // each is answered at once from the edge. How fast against the edge model alone is the
            // EdgeRoutes benchmark's to say (benchmarks/README.md), not a timed assertion here.
            double sentBefore = sentEscalations();
            for (Fsdd.Clip c : sample) {
                InferResponse response = ok(client.infer("digits", clip(c), true));
                if (!response.parameters().get("hybridge.reason").equals("confident")) {
                    assertThat(response.parameters()).containsEntry("hybridge.degraded", true)
                            .containsEntry("hybridge.reason", "cloud_unavailable");
                }
            }
            assertThat(sentEscalations()).as("escalations sent while the breaker is open").isEqualTo(sentBefore);
        } finally {
            gateway.thaw();
        }
    }

    @Test
    @Order(5)
    void aKilledGatewayLeavesEveryRequestAnsweredAtTheEdge() {
        gateway.kill();
        for (Fsdd.Clip c : sample().subList(0, 20)) {
            long start = System.nanoTime();
            InferResponse response = ok(client.infer("digits", clip(c), true));
            assertThat((System.nanoTime() - start) / 1_000_000).isLessThan(DEADLINE_MS + 300);
            assertThat(response.parameters()).containsEntry("hybridge.tier", "edge");
        }
    }

    @Test
    @Order(6)
    void anAgentStartedWhileTheGatewayIsDownStartsFromItsStoredPolicies() {
        try (ProgramProcess second = startAgent()) {
            second.awaitReady(E2e.START_TIMEOUT);
            OipClient other = new OipClient(second.baseUri());
            assertThat(other.get("/v2").text()).contains("\"digits\"", "\"digits-split\"", "\"digits-local\"");
            assertThat(other.get("/v2/health/ready").text()).contains("\"uplink\":\"");
            int degraded = 0;
            for (Fsdd.Clip c : sample()) {
                OipClient.Answer answer = other.infer("digits", clip(c), true);
                assertThat(answer.status()).as(answer.text()).isEqualTo(200);
                InferResponse response = other.codec().decodeResponse(answer.body(), answer.jsonLength());
                assertThat(response.parameters()).containsEntry("hybridge.tier", "edge");
                degraded += response.parameters().get("hybridge.degraded").equals(true) ? 1 : 0;
            }
            assertThat(degraded).as("low-confidence clips, answered at the edge").isGreaterThan(5);
        }
    }

    static double runs(String model) {
        return GatewayIT.metric(cloudA, "hybridge_model_run_seconds_count", model)
                + GatewayIT.metric(cloudB, "hybridge_model_run_seconds_count", model);
    }

    /** Escalations the agent has sent to the gateway, from its metrics. */
    static double sentEscalations() {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile(
                "(?m)^hybridge_edge_uplink_sent_bytes_count\\{route=\"digits\"} ([0-9.Ee+-]+)$")
                .matcher(client.get("/actuator/prometheus").text());
        return m.find() ? Double.parseDouble(m.group(1)) : 0;
    }
}
