package dev.hybridge.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.hybridge.gateway.pool.WorkerPool;
import dev.hybridge.oip.Datatype;
import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.InferResponse;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.Tensor;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.http.MediaType;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.web.reactive.server.EntityExchangeResult;
import org.springframework.test.web.reactive.server.WebTestClient;

/**
 * The gateway over real HTTP against in-process fake workers (real loopback servers) that answer
 * sure or unsure, fail, flap, are slow or are gone.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class GatewayTest {

    static final FakeWorker EDGE = new FakeWorker("edge");
    static final FakeWorker CLOUD_A = new FakeWorker("cloud-a");
    static final FakeWorker CLOUD_B = new FakeWorker("cloud-b");
    static final Path POLICIES = policies();
    static final OipCodec CODEC = new OipCodec();

    @LocalServerPort
    int port;

    @Autowired
    @Qualifier("edgePool")
    WorkerPool edgePool;

    @Autowired
    @Qualifier("cloudPool")
    WorkerPool cloudPool;

    @Autowired
    PolicyReloader reloader;



    WebTestClient client;

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        registry.add("hybridge.gateway.policy-folder", POLICIES::toString);
        registry.add("hybridge.gateway.edge.addresses", EDGE::address);
        registry.add("hybridge.gateway.cloud.addresses", () -> CLOUD_A.address() + "," + CLOUD_B.address());
        registry.add("hybridge.gateway.api-keys.key-rich", () -> "rich");
        registry.add("hybridge.gateway.api-keys.key-poor", () -> "poor");
        registry.add("hybridge.gateway.api-keys.key-poor-too", () -> "poor-too");
        registry.add("hybridge.gateway.api-keys.key-once", () -> "once");
        registry.add("hybridge.gateway.anonymous-tenant", () -> "anon");
        registry.add("hybridge.gateway.cloud.max-concurrent", () -> "4");
        registry.add("hybridge.gateway.cloud.breaker.sliding-window-size", () -> "4");
        registry.add("hybridge.gateway.cloud.breaker.minimum-number-of-calls", () -> "4");
        registry.add("hybridge.gateway.cloud.breaker.wait-in-open-state", () -> "60s");
        registry.add("hybridge.gateway.policy-reload-interval", () -> "1h"); // reloads are driven by the test
    }

    static Path policies() {
        try {
            Path folder = Files.createTempDirectory("gateway-policies");
            Files.writeString(folder.resolve("cascade.yaml"), """
                    version: 1
                    kind: cascade
                    edge: {model: small}
                    cloud: {model: big}
                    hard-when: '"hard" in parameters && parameters["hard"] == true'
                    threshold: {value: 0.5}
                    deadline: 600ms
                    cloud-latency: {initial: 10ms}
                    cost:
                      edge: {per-request-usd: 0.0001}
                      cloud: {per-request-usd: 0.001}
                    """);
            // the cascade with its own latency estimate over the last 5 cloud calls
            Files.writeString(folder.resolve("slow.yaml"), """
                    version: 1
                    kind: cascade
                    edge: {model: small}
                    cloud: {model: big}
                    deadline: 600ms
                    cloud-latency: {initial: 10ms, window: 5}
                    """);
            Files.writeString(folder.resolve("split.yaml"), """
                    version: 1
                    kind: split-early-exit
                    edge: {model: small, output: embedding}
                    cloud: {model: head, input: features}
                    threshold: {value: 0.5}
                    cloud-latency: {initial: 10ms}
                    """);
            Files.writeString(folder.resolve("cloudonly.yaml"), """
                    version: 1
                    kind: cloud-only
                    cloud: {model: big}
                    """);
            Files.writeString(folder.resolve("shadow.yaml"), """
                    version: 1
                    kind: shadow
                    edge: {model: small}
                    cloud: {model: big}
                    shadow: {sample-rate: 1.0}
                    """);
            Files.writeString(folder.resolve("tenants.yaml"), """
                    version: 1
                    default: {allow: [auto, edge]}
                    tenants:
                      rich: {budget-usd: 100, allow: [auto, edge, cloud]}
                      poor: {budget-usd: 0.0025, when-spent: reject, allow: [auto, edge, cloud]}
                      poor-too: {budget-usd: 0.0025, when-spent: reject, allow: [auto, edge, cloud]}
                      once: {budget-usd: 0.0015, when-spent: reject, allow: [auto, edge, cloud]}
                    """);
            return folder;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @AfterAll
    static void stopWorkers() throws IOException {
        EDGE.close();
        CLOUD_A.close();
        CLOUD_B.close();
        TestFiles.deleteTree(POLICIES);
    }

    @BeforeEach
    void reset() {
        EDGE.reset();
        CLOUD_A.reset();
        CLOUD_B.reset();
        edgePool.setAddresses(List.of(URI.create(EDGE.address())));
        cloudPool.setAddresses(List.of(URI.create(CLOUD_A.address()), URI.create(CLOUD_B.address())));
        for (WorkerPool pool : List.of(edgePool, cloudPool)) {
            pool.breakers().getAllCircuitBreakers().forEach(CircuitBreaker::reset);
        }
        client = WebTestClient.bindToServer().baseUrl("http://127.0.0.1:" + port).responseTimeout(Duration.ofSeconds(10))
                .build();
    }

    // ------------------------------------------------------------------------------ helpers

    static byte[] request(Map<String, Object> parameters) {
        InferRequest request = new InferRequest("req-1", parameters,
                List.of(new Tensor("audio", Datatype.FP32, new long[] {1, 4}, new float[] {0.1f, 0.2f, 0.3f, 0.4f})),
                List.of());
        return CODEC.encodeRequest(request, false).body();
    }

    EntityExchangeResult<byte[]> infer(String route, Map<String, Object> parameters, String apiKey) {
        WebTestClient.RequestBodySpec spec = client.post().uri("/v2/models/" + route + "/infer")
                .contentType(MediaType.APPLICATION_JSON);
        if (apiKey != null) {
            spec.header("X-Api-Key", apiKey);
        }
        return spec.bodyValue(request(parameters)).exchange().expectBody(byte[].class).returnResult();
    }

    static InferResponse ok(EntityExchangeResult<byte[]> result) {
        assertThat(result.getStatus().value()).as(new String(result.getResponseBody() == null ? new byte[0]
                : result.getResponseBody())).isEqualTo(200);
        return CODEC.decodeResponse(result.getResponseBody(), -1);
    }

    static String errorOf(EntityExchangeResult<byte[]> result) {
        return CODEC.decodeError(result.getResponseBody());
    }

    // ------------------------------------------------------------------------------- cascade

    @Test
    void aConfidentEdgeAnswers() {
        EDGE.answering(0.9, "7");
        EntityExchangeResult<byte[]> result = infer("cascade", Map.of(), "key-rich");
        InferResponse response = ok(result);
        assertThat(response.modelName()).isEqualTo("cascade");
        assertThat(response.id()).isEqualTo("req-1");
        assertThat(response.parameters()).containsEntry("hybridge.tier", "edge")
                .containsEntry("hybridge.reason", "confident")
                .containsEntry("hybridge.confidence", 0.9)
                .containsEntry("hybridge.degraded", false)
                .containsEntry("hybridge.label", "7");
        assertThat((Double) response.parameters().get("hybridge.cost_usd")).isEqualTo(0.0001);
        assertThat(result.getResponseHeaders().getFirst("Hybridge-Tier")).isEqualTo("edge");
        assertThat(result.getResponseHeaders().getFirst("Hybridge-Reason")).isEqualTo("confident");
        assertThat(CLOUD_A.calls() + CLOUD_B.calls()).isZero();
        assertThat(EDGE.requests().get(0).inputs().get(0).name()).isEqualTo("audio");
    }

    @Test
    void anUnsureEdgeEscalatesToTheCloud() {
        EDGE.answering(0.3, "3");
        CLOUD_A.answering(0.99, "8");
        CLOUD_B.answering(0.99, "8");
        InferResponse response = ok(infer("cascade", Map.of(), "key-rich"));
        assertThat(response.parameters()).containsEntry("hybridge.tier", "cloud")
                .containsEntry("hybridge.reason", "low_confidence")
                .containsEntry("hybridge.label", "8")
                .containsEntry("hybridge.confidence", 0.99)
                .containsEntry("hybridge.degraded", false);
        assertThat((Double) response.parameters().get("hybridge.cost_usd")).isCloseTo(0.0011,
                org.assertj.core.data.Offset.offset(1e-12));
        assertThat(CLOUD_A.calls() + CLOUD_B.calls()).isEqualTo(1);
    }

    @Test
    void aHardRequestSkipsTheEdge() {
        InferResponse response = ok(infer("cascade", Map.of("hard", true), "key-rich"));
        assertThat(response.parameters()).containsEntry("hybridge.tier", "cloud").containsEntry("hybridge.reason",
                "hard_by_rule");
        assertThat(EDGE.calls()).isZero();
    }

    // ----------------------------------------------------------------------------- fallbacks

    @Test
    void aFailingCloudLeavesTheEdgeAnswerMarkedDegraded() {
        EDGE.answering(0.3, "3");
        CLOUD_A.failing(500);
        CLOUD_B.failing(500);
        InferResponse response = ok(infer("cascade", Map.of(), "key-rich"));
        assertThat(response.parameters()).containsEntry("hybridge.tier", "edge")
                .containsEntry("hybridge.reason", "cloud_unavailable")
                .containsEntry("hybridge.degraded", true)
                .containsEntry("hybridge.label", "3");
    }

    @Test
    void aSlowCloudLeavesTheEdgeAnswerWithinTheDeadline() {
        EDGE.answering(0.3, "3");
        CLOUD_A.delayed(Duration.ofSeconds(3));
        CLOUD_B.delayed(Duration.ofSeconds(3));
        InferResponse response = ok(infer("slow", Map.of(), "key-rich"));
        assertThat(response.parameters()).containsEntry("hybridge.reason", "cloud_unavailable")
                .containsEntry("hybridge.degraded", true);
        // the slow call raised the route's latency estimate: the next unsure request stays at the edge at once
        InferResponse next = ok(infer("slow", Map.of(), "key-rich"));
        assertThat(next.parameters()).containsEntry("hybridge.reason", "deadline_too_tight")
                .containsEntry("hybridge.tier", "edge");
    }

    @Test
    void anUnavailableWorkerIsRetriedOnAnother() {
        EDGE.answering(0.3, "3");
        CLOUD_A.failing(503);
        for (int i = 0; i < 6; i++) {
            InferResponse response = ok(infer("cascade", Map.of(), "key-rich"));
            assertThat(response.parameters()).containsEntry("hybridge.tier", "cloud")
                    .containsEntry("hybridge.degraded", false);
        }
        assertThat(CLOUD_B.calls()).isEqualTo(6);
    }

    @Test
    void aFailingWorkersBreakerOpensAndStopsTheCalls() {
        cloudPool.setAddresses(List.of(URI.create(CLOUD_A.address())));
        EDGE.answering(0.3, "3");
        CLOUD_A.failing(500);
        for (int i = 0; i < 12; i++) {
            InferResponse response = ok(infer("cascade", Map.of(), "key-rich"));
            assertThat(response.parameters()).containsEntry("hybridge.reason", "cloud_unavailable")
                    .containsEntry("hybridge.degraded", true);
        }
        CircuitBreaker breakerA = cloudPool.breakers().circuitBreaker("cloud/" + URI.create(CLOUD_A.address()).getAuthority());
        assertThat(breakerA.getState()).isEqualTo(CircuitBreaker.State.OPEN);
        assertThat(CLOUD_A.calls()).as("the breaker opens after its minimum of 4 calls, all failed").isEqualTo(4);
    }

    @Test
    void theBalancerStepsAroundAFailingWorker() {
        EDGE.answering(0.3, "3");
        CLOUD_A.failing(500);
        int degraded = 0;
        for (int i = 0; i < 30; i++) {
            InferResponse response = ok(infer("cascade", Map.of(), "key-rich"));
            degraded += Boolean.TRUE.equals(response.parameters().get("hybridge.degraded")) ? 1 : 0;
        }
        // a failed call leaves the worker's latency average unimproved, and its breaker opens after 4:
        // either way the other worker takes the load
        assertThat(CLOUD_A.calls()).isLessThanOrEqualTo(4);
        assertThat(degraded).isEqualTo(CLOUD_A.calls());
        assertThat(CLOUD_B.calls()).isEqualTo(30 - degraded);
    }

    @Test
    void aFlappingWorkerNeverFailsAClientRequest() {
        EDGE.answering(0.3, "3");
        CLOUD_A.flapping(503);
        CLOUD_B.flapping(503);
        for (int i = 0; i < 10; i++) {
            InferResponse response = ok(infer("cascade", Map.of(), "key-rich"));
            assertThat(response.parameters().get("hybridge.tier")).isIn("cloud", "edge");
        }
    }

    @Test
    void anOverloadedCloudPoolFallsBackAtOnce() throws Exception {
        EDGE.answering(0.3, "3");
        CLOUD_A.delayed(Duration.ofMillis(400));
        CLOUD_B.delayed(Duration.ofMillis(400));
        List<Thread> threads = new ArrayList<>();
        List<InferResponse> answers = java.util.Collections.synchronizedList(new ArrayList<>());
        for (int i = 0; i < 8; i++) {
            Thread t = new Thread(() -> answers.add(ok(infer("cascade", Map.of(), "key-rich"))));
            threads.add(t);
            t.start();
        }
        for (Thread t : threads) {
            t.join();
        }
        assertThat(answers).hasSize(8);
        long degraded = answers.stream().filter(a -> Boolean.TRUE.equals(a.parameters().get("hybridge.degraded"))).count();
        assertThat(degraded).as("the bulkhead admits 4 escalations at once").isGreaterThanOrEqualTo(4);
        assertThat(CLOUD_A.calls() + CLOUD_B.calls()).isLessThanOrEqualTo(4);
    }

    @Test
    void whenTheEdgeTierIsGoneTheCloudAnswers() {
        edgePool.setAddresses(List.of(URI.create("http://127.0.0.1:" + closedPort())));
        InferResponse response = ok(infer("cascade", Map.of(), "key-rich"));
        assertThat(response.parameters()).containsEntry("hybridge.tier", "cloud")
                .containsEntry("hybridge.reason", "edge_unavailable")
                .containsEntry("hybridge.degraded", false);
    }

    @Test
    void whenBothTiersAreGoneTheClientGets503() {
        edgePool.setAddresses(List.of(URI.create("http://127.0.0.1:" + closedPort())));
        cloudPool.setAddresses(List.of(URI.create("http://127.0.0.1:" + closedPort())));
        EntityExchangeResult<byte[]> result = infer("cascade", Map.of(), "key-rich");
        assertThat(result.getStatus().value()).isEqualTo(503);
        assertThat(errorOf(result)).startsWith("both tiers are unavailable: edge: ");
        assertThat(result.getResponseHeaders().getFirst("Hybridge-Reason")).isEqualTo("cloud_unavailable");
    }

    @Test
    void cloudOnlyRoutesHaveNoEdgeToFallBackOn() {
        CLOUD_A.failing(500);
        CLOUD_B.failing(500);
        EntityExchangeResult<byte[]> result = infer("cloudonly", Map.of(), "key-rich");
        assertThat(result.getStatus().value()).isEqualTo(503);
    }

    // ---------------------------------------------------------------------------------- split

    @Test
    void splitSendsTheEdgesTensorUnderTheCloudsInputName() {
        EDGE.answering(0.2, "1").withEmbedding(true);
        CLOUD_A.answering(0.95, "4");
        CLOUD_B.answering(0.95, "4");
        InferResponse response = ok(infer("split", Map.of(), "key-rich"));
        assertThat(response.parameters()).containsEntry("hybridge.tier", "cloud").containsEntry("hybridge.label", "4");
        InferRequest sent = (CLOUD_A.calls() > 0 ? CLOUD_A : CLOUD_B).requests().get(0);
        assertThat(sent.inputs()).hasSize(1);
        assertThat(sent.inputs().get(0).name()).isEqualTo("features");
        assertThat((float[]) sent.inputs().get(0).data()).containsExactly(1, 2, 3, 4);
    }

    @Test
    void splitExitsEarlyAndHidesTheIntermediateTensor() {
        EDGE.answering(0.9, "1").withEmbedding(true);
        InferResponse response = ok(infer("split", Map.of(), "key-rich"));
        assertThat(response.parameters()).containsEntry("hybridge.tier", "edge");
        assertThat(response.outputs()).extracting(Tensor::name).containsExactly("probs");
    }

    // ------------------------------------------------------------------------ tenants, budgets

    @Test
    void tenantsAskForTiersWithinTheirRights() {
        EDGE.answering(0.9, "7");
        InferResponse cloud = ok(infer("cascade", Map.of("hybridge.route", "cloud"), "key-rich"));
        assertThat(cloud.parameters()).containsEntry("hybridge.tier", "cloud").containsEntry("hybridge.reason",
                "client_asked");
        EntityExchangeResult<byte[]> refused = infer("cascade", Map.of("hybridge.route", "cloud"), null);
        assertThat(refused.getStatus().value()).isEqualTo(403);
        assertThat(errorOf(refused)).contains("tenant 'anon' may not ask for hybridge.route=cloud");
        EDGE.answering(0.1, "7");
        InferResponse edge = ok(infer("cascade", Map.of("hybridge.route", "edge"), null));
        assertThat(edge.parameters()).containsEntry("hybridge.tier", "edge").containsEntry("hybridge.reason",
                "client_asked");
    }

    @Test
    void aSpentBudgetIsRefusedWith429() {
        EDGE.answering(0.3, "3");
        // 0.0011 per escalated request against a budget of 0.0025: two fit
        assertThat(ok(infer("cascade", Map.of(), "key-poor")).parameters()).containsEntry("hybridge.tier", "cloud");
        assertThat(ok(infer("cascade", Map.of(), "key-poor")).parameters()).containsEntry("hybridge.tier", "cloud");
        EntityExchangeResult<byte[]> third = infer("cascade", Map.of(), "key-poor");
        assertThat(third.getStatus().value()).isEqualTo(429);
        assertThat(errorOf(third)).contains("the budget of tenant 'poor' for this window is spent");
        assertThat(third.getResponseHeaders().getFirst("Hybridge-Reason")).isEqualTo("budget_exhausted");
    }

    // -------------------------------------------------------------------------------- shadow

    @Test
    void shadowAnswersAtTheEdgeAndAlsoAsksTheCloud() throws Exception {
        EDGE.answering(0.4, "2");
        InferResponse response = ok(infer("shadow", Map.of(), "key-rich"));
        assertThat(response.parameters()).containsEntry("hybridge.tier", "edge").containsEntry("hybridge.reason", "shadow");
        // the shadow call runs after the answer
        java.util.concurrent.CompletableFuture.anyOf(CLOUD_A.firstCall(), CLOUD_B.firstCall())
                .get(10, java.util.concurrent.TimeUnit.SECONDS);
        assertThat(CLOUD_A.calls() + CLOUD_B.calls()).isEqualTo(1);
    }

    // ---------------------------------------------------------------------- edge escalations

    @Test
    void anEdgeAgentsEscalationGoesToTheCloud() {
        Map<String, Object> escalation = Map.of("hybridge.escalation", true, "hybridge.confidence", 0.2,
                "hybridge.label", "3", "hybridge.reason", "low_confidence");
        InferResponse response = ok(infer("cascade", escalation, "key-rich"));
        assertThat(response.parameters()).containsEntry("hybridge.tier", "cloud").containsEntry("hybridge.reason",
                "low_confidence");
        assertThat(EDGE.calls()).isZero();
    }

    @Test
    void anEscalationSentAgainIsAnsweredFromTheRecordNotRunOrChargedTwice() {
        Map<String, Object> escalation = Map.of("hybridge.escalation", true, "hybridge.reason", "low_confidence",
                "hybridge.idempotency_key", "dev-9/req-1");
        InferResponse first = ok(infer("cascade", escalation, "key-once"));
        int cloudCalls = CLOUD_A.calls() + CLOUD_B.calls();
        assertThat(cloudCalls).isEqualTo(1);
        InferResponse again = ok(infer("cascade", escalation, "key-once"));
        assertThat(again.parameters()).isEqualTo(first.parameters());
        assertThat(again.outputs().get(0).name()).isEqualTo(first.outputs().get(0).name());
        assertThat(CLOUD_A.calls() + CLOUD_B.calls()).as("the cloud asked once").isEqualTo(1);
        // charged once: the tenant's budget (0.0015) still has room for nothing but the one cloud answer (0.001)
        EntityExchangeResult<byte[]> another = infer("cascade", Map.of("hybridge.escalation", true,
                "hybridge.idempotency_key", "dev-9/req-2"), "key-once");
        assertThat(another.getStatus().value()).isEqualTo(429);
        // the same key under another tenant is another escalation
        ok(infer("cascade", escalation, "key-rich"));
        assertThat(CLOUD_A.calls() + CLOUD_B.calls()).isEqualTo(2);
    }

    @Test
    void anEscalationOverBudgetIsDeclinedSoTheAgentAnswersItself() {
        ok(infer("cascade", Map.of("hybridge.route", "cloud"), "key-poor-too"));
        ok(infer("cascade", Map.of("hybridge.route", "cloud"), "key-poor-too"));
        EntityExchangeResult<byte[]> declined = infer("cascade", Map.of("hybridge.escalation", true,
                "hybridge.confidence", 0.2), "key-poor-too");
        assertThat(declined.getStatus().value()).isEqualTo(429);
        assertThat(declined.getResponseHeaders().getFirst("Hybridge-Reason")).isEqualTo("budget_exhausted");
    }

    // ------------------------------------------------------------------------ bad requests

    @Test
    void badInputGetsAClearError() {
        assertThat(infer("nope", Map.of(), "key-rich").getStatus().value()).isEqualTo(404);
        assertThat(errorOf(infer("nope", Map.of(), "key-rich"))).contains("no route named 'nope'; routes: cascade");
        EntityExchangeResult<byte[]> badKey = infer("cascade", Map.of(), "wrong-key");
        assertThat(badKey.getStatus().value()).isEqualTo(401);
        assertThat(errorOf(badKey)).isEqualTo("the API key is not known");
        EntityExchangeResult<byte[]> badRoute = infer("cascade", Map.of("hybridge.route", "gpu"), "key-rich");
        assertThat(badRoute.getStatus().value()).isEqualTo(400);
        assertThat(errorOf(badRoute)).isEqualTo("hybridge.route must be auto, edge or cloud but was \"gpu\"");
        EntityExchangeResult<byte[]> badDeadline = infer("cascade", Map.of("hybridge.deadline_ms", -5), "key-rich");
        assertThat(badDeadline.getStatus().value()).isEqualTo(400);
        assertThat(errorOf(badDeadline)).contains("hybridge.deadline_ms must be a whole number of milliseconds");
        client.post().uri("/v2/models/cascade/infer").contentType(MediaType.APPLICATION_JSON).bodyValue("{\"inputs\": 5}")
                .exchange().expectStatus().isBadRequest();
        client.get().uri("/v2/models/cascade/infer").exchange().expectStatus().isEqualTo(405);
        client.post().uri("/v2/models/cascade/versions/1/infer").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(request(Map.of())).exchange().expectStatus().isNotFound()
                .expectBody(String.class).value(body -> assertThat(body).contains("routes have no versions"));
        assertThat(EDGE.calls()).isZero();
        String metrics = new String(client.get().uri("/actuator/prometheus").exchange().expectBody(byte[].class)
                .returnResult().getResponseBody());
        assertThat(metrics).containsPattern("hybridge_gateway_requests_seconds_count\\{[^}]*reason=\"refused\""
                + "[^}]*route=\"unknown\"[^}]*status=\"4xx\"");
    }

    @Test
    void aBodyOverTheLimitGets413() {
        byte[] huge = new byte[9 * 1024 * 1024]; // over the default 8MB (hybridge.gateway.max-request-size)
        java.util.Arrays.fill(huge, (byte) ' ');
        EntityExchangeResult<byte[]> result = client.post().uri("/v2/models/cascade/infer")
                .contentType(MediaType.APPLICATION_JSON).bodyValue(huge).exchange().expectBody(byte[].class).returnResult();
        assertThat(result.getStatus().value()).isEqualTo(413);
        assertThat(errorOf(result)).contains("hybridge.gateway.max-request-size");
        assertThat(EDGE.calls()).isZero();
    }

    // ----------------------------------------------------------------------- metadata, health

    @Test
    void metadataListsRoutes() {
        String server = new String(client.get().uri("/v2").exchange().expectStatus().isOk().expectBody(byte[].class)
                .returnResult().getResponseBody());
        assertThat(server).contains("\"routes\":[\"cascade\",\"cloudonly\",\"shadow\",\"slow\",\"split\"]");
        String model = new String(client.get().uri("/v2/models/cascade").exchange().expectStatus().isOk()
                .expectBody(byte[].class).returnResult().getResponseBody());
        assertThat(model).contains("\"name\":\"cascade\"").contains("\"hybridge.kind\":\"cascade\"").contains("audio");
        client.get().uri("/v2/health/ready").exchange().expectStatus().isOk();
        client.get().uri("/v2/models/cascade/ready").exchange().expectStatus().isOk();
        ok(infer("cascade", Map.of(), "key-rich"));
        String metrics = new String(client.get().uri("/actuator/prometheus").exchange().expectStatus().isOk()
                .expectBody(byte[].class).returnResult().getResponseBody());
        // a route's infer requests are timed by the Hybridge filter only; Spring's server timer keeps the rest
        assertThat(metrics).containsPattern("http_server_requests_seconds_count\\{[^}]*uri=\"/v2/models/\\{model}\"")
                .doesNotContainPattern("http_server_requests_seconds_count\\{[^}]*method=\"POST\"")
                .containsPattern("hybridge_gateway_requests_seconds_count\\{[^}]*route=\"cascade\"");
    }

    @Test
    void aChangedPolicyFolderIsReloadedAndABadOneIsNot() throws Exception {
        Files.writeString(POLICIES.resolve("extra.yaml"), "version: 1\nkind: edge-only\nedge: {model: small}\n");
        assertThat(reloader.checkForChanges()).isTrue();
        assertThat(ok(infer("extra", Map.of(), "key-rich")).parameters()).containsEntry("hybridge.reason", "edge_only");
        Files.writeString(POLICIES.resolve("extra.yaml"), "version: 1\nkind: edge-only\nedge: {model: small}\nbogus: 1\n");
        assertThat(reloader.checkForChanges()).isFalse();
        assertThat(reloader.lastProblems()).hasSize(1);
        assertThat(reloader.lastProblems().get(0)).startsWith("extra.yaml: bogus: unknown field");
        assertThat(ok(infer("extra", Map.of(), "key-rich")).parameters()).containsEntry("hybridge.reason", "edge_only");
        Files.delete(POLICIES.resolve("extra.yaml"));
        assertThat(reloader.checkForChanges()).isTrue();
    }

    private static int closedPort() {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
