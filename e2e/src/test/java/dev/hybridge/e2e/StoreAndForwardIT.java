package dev.hybridge.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.hybridge.models.Fsdd;
import dev.hybridge.oip.Datatype;
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
 * Store-and-forward with real processes: an edge agent as launched, its uplink to a gateway with
 * the shipped policies, one cloud worker, real recordings. The link is cut by freezing the
 * gateway (SIGSTOP: connections hang, as over a dead link). While it is cut every request is
 * answered at the edge and the escalations are kept; once it is back each kept escalation is
 * answered, and the cloud ran each exactly once, although the gateway also received the live
 * attempts that had given up, and the agent was killed with escalations waiting and again while
 * replaying them. An agent with a small outbox drops its oldest entries when full, counts them,
 * and pushes the late answers of the rest to the caller's callback address.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class StoreAndForwardIT {

    static final long DEADLINE_MS = 500;

    static ProgramProcess agent;
    static ProgramProcess cloud;
    static ProgramProcess gateway;
    static List<Fsdd.Clip> clips;
    static Path policies;
    static Path state;

    @BeforeAll
    static void start() throws IOException {
        policies = E2e.shippedPolicies("hybridge-e2e-saf-policies");
        state = Files.createTempDirectory("hybridge-e2e-saf-state");
        cloud = E2e.start(E2e.CLOUD, E2e.DEMO.resolve("cloud"));
        cloud.awaitReady(E2e.START_TIMEOUT);
        gateway = E2e.startGateway("--hybridge.gateway.policy-folder=" + policies,
                "--hybridge.gateway.cloud.addresses=" + cloud.baseUri(),
                "--hybridge.gateway.anonymous-tenant=fleet");
        gateway.awaitReady(E2e.START_TIMEOUT);
        agent = startAgent();
        clips = Fsdd.testSplit(Fsdd.recordings(ProgramProcess.root()));
    }

    static ProgramProcess startAgent(String... more) {
        List<String> settings = new ArrayList<>(List.of(
                "--hybridge.edge.uplink.policy-refresh=500ms",
                "--hybridge.edge.uplink.breaker.wait-in-open-state=300ms",
                "--hybridge.edge.uplink.probe.first-backoff=200ms",
                "--hybridge.edge.uplink.probe.max-backoff=500ms"));
        settings.addAll(List.of(more));
        return E2e.startAgent(gateway.baseUri(), "saf-device", state, settings.toArray(String[]::new));
    }

    static long outboxCount(OipClient client, String field) {
        Matcher m = Pattern.compile("\"" + field + "\":([0-9]+)").matcher(client.get("/v2/outbox").text());
        return m.find() ? Long.parseLong(m.group(1)) : -1;
    }

    @AfterAll
    static void stop() throws IOException {
        for (ProgramProcess p : new ProgramProcess[] {agent, gateway, cloud}) {
            if (p != null) {
                p.close();
            }
        }
        E2e.deleteTrees(policies, state);
    }

    static InferRequest clip(Fsdd.Clip clip, String id) {
        return E2e.clip(clip, id, Map.of());
    }

    /** Sends clips while the link is cut; returns the ids of the escalations the agent kept. */
    static List<String> whileCut(OipClient client, int from, int count, String idPrefix) {
        List<String> kept = new ArrayList<>();
        for (int i = from; i < from + count; i++) {
            long start = System.nanoTime();
            OipClient.Answer answer = client.infer("digits", clip(clips.get(i), idPrefix + i), true);
            long took = (System.nanoTime() - start) / 1_000_000;
            assertThat(answer.status()).as(answer.text()).isEqualTo(200);
            assertThat(took).as("answered within the deadline").isLessThan(DEADLINE_MS + 300);
            InferResponse response = client.codec().decodeResponse(answer.body(), answer.jsonLength());
            assertThat(response.parameters()).containsEntry("hybridge.tier", "edge");
            Object id = response.parameters().get("hybridge.escalation_id");
            if (id != null) {
                assertThat(response.parameters()).containsEntry("hybridge.degraded", true);
                assertThat(answer.header("Hybridge-Escalation-Id")).isEqualTo(id);
                kept.add(id.toString());
            }
        }
        return kept;
    }

    /** Waits, a bounded time, until every kept escalation is answered; returns their states' texts. */
    static List<String> awaitAnswered(OipClient client, List<String> ids, Duration timeout) throws InterruptedException {
        long until = System.nanoTime() + timeout.toNanos();
        List<String> states = new ArrayList<>();
        for (String id : ids) {
            String text;
            while (!(text = client.get("/v2/escalations/" + id).text()).contains("\"state\":\"answered\"")) {
                assertThat(System.nanoTime()).as("escalation %s answered in time: %s", id, text).isLessThan(until);
                Thread.sleep(100);
            }
            states.add(text);
        }
        return states;
    }

    static double gatewayCount(String result) {
        return PrometheusText.parse(new OipClient(gateway.baseUri()).get("/actuator/prometheus").text())
                .sum("hybridge_gateway_escalations_total", "result", result).orElse(0);
    }

    /** Requests the cloud worker answered for the cloud model (a batched run answers several). */
    static double cloudRuns() {
        return GatewayIT.metric(cloud, "hybridge_infer_requests_seconds_count", "digits-cloud");
    }

    @Test
    @Order(1)
    void escalationsKeptWhileTheLinkIsCutAreAnsweredOnceItReturnsEachByTheCloudOnce() throws Exception {
        OipClient client = new OipClient(agent.baseUri());
        double runsBefore = cloudRuns();
        gateway.freeze();
        List<String> kept;
        try {
            kept = whileCut(client, 0, 60, "cut-");
            assertThat(kept).as("low-confidence clips kept for the cloud").hasSizeGreaterThan(8);
            assertThat(client.get("/v2/escalations/" + kept.get(0)).text()).contains("\"state\":\"pending\"");
        } finally {
            gateway.thaw();
        }
        List<String> states = awaitAnswered(client, kept, Duration.ofSeconds(90));
        assertThat(states).allSatisfy(s -> assertThat(s).contains("\"label\":\"").contains("\"agreed\":"));
        // the cloud ran each kept escalation once: the live attempts the frozen gateway still held when it
        // woke up ran, and their replays were answered from the gateway's record
        assertThat(cloudRuns() - runsBefore).isEqualTo(kept.size());
        assertThat(gatewayCount("answered")).isEqualTo(kept.size());
        System.out.printf("store-and-forward: %d kept while cut, answered %d, of them %.0f sendings answered from the"
                + " gateway's record%n", kept.size(), states.size(), gatewayCount("duplicate"));
    }

    @Test
    @Order(2)
    void anAgentKilledWithEscalationsWaitingAndAgainMidReplayDeliversThemAllOnce() throws Exception {
        OipClient client = new OipClient(agent.baseUri());
        // nothing left over from before: every count below is this test's own
        long until = System.nanoTime() + Duration.ofSeconds(180).toNanos();
        String outbox;
        while (!(outbox = client.get("/v2/outbox").text()).contains("\"entries\":0,")) {
            assertThat(System.nanoTime()).as("outbox emptied: %s", outbox).isLessThan(until);
            Thread.sleep(100);
        }
        double runsBefore = cloudRuns();
        double answeredBefore = gatewayCount("answered");
        gateway.freeze();
        List<String> kept;
        try {
            kept = whileCut(client, 60, 60, "crash-");
            assertThat(kept).hasSizeGreaterThan(8);
            agent.kill(); // kill -9, entries waiting
        } finally {
            gateway.thaw();
        }
        // started again on its state folder, draining slowly; killed again once a few are answered, mid-replay
        agent = startAgent("--hybridge.edge.outbox.replay-rate=4", "--hybridge.edge.outbox.replay-concurrent=2");
        OipClient draining = new OipClient(agent.baseUri());
        while (outboxCount(draining, "replayed") < 3) {
            assertThat(System.nanoTime()).as("replay started").isLessThan(until);
            Thread.sleep(20);
        }
        assertThat(outboxCount(draining, "entries")).as("entries still waiting at the kill").isPositive();
        agent.kill();
        agent = startAgent();
        OipClient restarted = new OipClient(agent.baseUri());
        awaitAnswered(restarted, kept, Duration.ofSeconds(90));
        assertThat(cloudRuns() - runsBefore).isEqualTo(kept.size());
        assertThat(gatewayCount("answered") - answeredBefore).isEqualTo(kept.size());
    }

    @Test
    @Order(3)
    void aFullOutboxDropsItsOldestAndTheKeptAnswersReachTheCallersAddress() throws Exception {
        java.util.List<String> received = new java.util.concurrent.CopyOnWriteArrayList<>();
        com.sun.net.httpserver.HttpServer receiver = com.sun.net.httpserver.HttpServer.create(
                new java.net.InetSocketAddress("127.0.0.1", 0), 0);
        receiver.createContext("/late", exchange -> {
            received.add(new String(exchange.getRequestBody().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8));
            exchange.sendResponseHeaders(204, -1);
            exchange.close();
        });
        receiver.start();
        Path smallState = Files.createTempDirectory("hybridge-e2e-saf-small");
        String hook = "http://127.0.0.1:" + receiver.getAddress().getPort() + "/late";
        try (ProgramProcess small = ProgramProcess.start(E2e.EDGE, E2e.logDir(), EdgeLaunch.OPTIONS, List.of(
                "--hybridge.serving.model-repository=" + E2e.DEMO.resolve("edge"),
                "--hybridge.edge.uplink.url=" + gateway.baseUri(),
                "--hybridge.edge.device-id=saf-small",
                "--hybridge.edge.state-dir=" + smallState,
                "--hybridge.edge.outbox.max-entries=5",
                "--hybridge.edge.outbox.callback-hosts=127.0.0.1:" + receiver.getAddress().getPort(),
                "--hybridge.edge.uplink.breaker.wait-in-open-state=300ms",
                "--hybridge.edge.uplink.probe.first-backoff=200ms",
                "--hybridge.edge.uplink.probe.max-backoff=500ms"))) {
            small.awaitReady(E2e.START_TIMEOUT);
            E2e.awaitRoute(new OipClient(small.baseUri()), "digits", Duration.ofSeconds(30));
            OipClient client = new OipClient(small.baseUri());
            List<String> kept = new ArrayList<>();
            gateway.freeze();
            try {
                for (int i = 120; i < 200 && kept.size() < 12; i++) {
                    OipClient.Answer answer = client.infer("digits", new InferRequest("small-" + i,
                            Map.of("hybridge.callback_url", hook), List.of(new Tensor("audio", Datatype.FP32,
                            new long[] {1, Fsdd.SAMPLES}, clips.get(i).audio())), List.of()), true);
                    assertThat(answer.status()).isEqualTo(200);
                    Object id = client.codec().decodeResponse(answer.body(), answer.jsonLength()).parameters()
                            .get("hybridge.escalation_id");
                    if (id != null) {
                        kept.add(id.toString());
                    }
                }
            } finally {
                gateway.thaw();
            }
            assertThat(kept).hasSize(12);
            // the bound held: the 7 oldest were dropped to make room, and counted
            for (String dropped : kept.subList(0, 7)) {
                assertThat(client.get("/v2/escalations/" + dropped).text()).contains("\"state\":\"dropped\"");
            }
            assertThat(client.get("/v2/outbox").text()).contains("\"dropped\":7");
            assertThat(client.get("/actuator/prometheus").text())
                    .containsPattern("hybridge_outbox_dropped_total\\{reason=\"overflow\"} 7.0");
            List<String> answered = kept.subList(7, 12);
            awaitAnswered(client, answered, Duration.ofSeconds(90));
            long until = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (received.size() < answered.size()) {
                assertThat(System.nanoTime()).as("callbacks delivered: %s", received).isLessThan(until);
                Thread.sleep(100);
            }
            for (String id : answered) {
                assertThat(received).anySatisfy(body -> assertThat(body).contains("\"id\":\"" + id + "\"")
                        .contains("\"state\":\"answered\""));
            }
            assertThat(received).hasSize(5); // none for the dropped ones, none twice
        } finally {
            receiver.stop(0);
            E2e.deleteTrees(smallState);
        }
    }
}
