package dev.hybridge.edge;

import static org.assertj.core.api.Assertions.assertThat;

import dev.hybridge.oip.Datatype;
import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.RoutingParameters;
import dev.hybridge.oip.Tensor;
import dev.hybridge.serving.TestModels;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.http.MediaType;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.web.reactive.server.WebTestClient;

/**
 * The agent running routes with the demo edge model in process and an uplink to a stand-in
 * gateway: what it escalates and how (binary, the routing facts, only the tensor for a split),
 * what it answers itself, and how it answers when the link fails: degraded at once, the breaker
 * open so that nothing waits for the link, back once the probe finds the gateway again.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "hybridge.edge.device-id=dev-test",
        "hybridge.edge.uplink.api-key=device-secret",
        "hybridge.edge.uplink.breaker.sliding-window-size=2",
        "hybridge.edge.uplink.breaker.minimum-number-of-calls=2",
        "hybridge.edge.uplink.breaker.wait-in-open-state=1h",
        "hybridge.edge.uplink.policy-refresh=1h",
        // the test drains the outbox itself, pass by pass
        "hybridge.edge.outbox.replay-interval=1h"})
class EdgeRoutesTest {

    static final StandInGateway GATEWAY = new StandInGateway();
    static final Path POLICIES = policies();
    static final OipCodec CODEC = new OipCodec();

    @LocalServerPort
    int port;

    @Autowired
    Uplink uplink;

    @Autowired
    Replayer replayer;

    @Autowired
    Outbox outbox;

    @Autowired
    Callbacks callbacks;

    WebTestClient client;

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        registry.add("hybridge.serving.model-repository", () -> TestModels.root().resolve("models/demo/repository/edge").toString());
        registry.add("hybridge.edge.policy-folder", POLICIES::toString);
        registry.add("hybridge.edge.state-dir", () -> POLICIES.resolveSibling(POLICIES.getFileName() + "-state").toString());
        registry.add("hybridge.edge.uplink.url", GATEWAY::url);
        registry.add("hybridge.edge.outbox.callback-hosts", () -> GATEWAY.url().substring("http://".length()));
    }

    static Path policies() {
        try {
            Path folder = Files.createTempDirectory("edge-routes");
            Files.writeString(folder.resolve("always.yaml"), """
                    version: 1
                    kind: cascade
                    edge: {model: digits-edge}
                    cloud: {model: digits-cloud}
                    escalate-when: 'true'
                    deadline: 2s
                    cloud-latency: {initial: 10ms}
                    """);
            Files.writeString(folder.resolve("split.yaml"), """
                    version: 1
                    kind: split-early-exit
                    edge: {model: digits-edge, output: embedding}
                    cloud: {model: digits-head, input: embedding}
                    escalate-when: 'true'
                    deadline: 2s
                    cloud-latency: {initial: 10ms}
                    """);
            Files.writeString(folder.resolve("local.yaml"), """
                    version: 1
                    kind: edge-only
                    edge: {model: digits-edge}
                    """);
            return folder;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @AfterAll
    static void stop() {
        GATEWAY.close();
    }

    @BeforeEach
    void reset() {
        GATEWAY.reset();
        uplink.breaker().reset();
        client = WebTestClient.bindToServer().baseUrl("http://127.0.0.1:" + port).build();
    }

    private static byte[] audioRequest(String id) {
        InferRequest request = new InferRequest(id, Map.of(),
                List.of(new Tensor("audio", Datatype.FP32, new long[] {1, 8000}, TestModels.audio(3))), List.of());
        return CODEC.encodeRequest(request, false).body();
    }

    private WebTestClient.BodyContentSpec infer(String route, String id) {
        return client.post().uri("/v2/models/" + route + "/infer").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(audioRequest(id)).exchange().expectStatus().isOk().expectBody();
    }

    @Test
    void aCascadeEscalatesTheRequestAsBinaryWithTheRoutingFacts() {
        infer("always", "req-1")
                .jsonPath("$.model_name").isEqualTo("always")
                .jsonPath("$.parameters['hybridge.tier']").isEqualTo("cloud")
                .jsonPath("$.parameters['hybridge.label']").isEqualTo("3")
                .jsonPath("$.parameters['hybridge.degraded']").isEqualTo(false)
                .jsonPath("$.parameters['hybridge.idempotency_key']").doesNotExist()
                .jsonPath("$.parameters['hybridge.escalation']").doesNotExist()
                .jsonPath("$.outputs[0].name").isEqualTo("probs");

        assertThat(GATEWAY.escalations()).hasSize(1);
        StandInGateway.Received sent = GATEWAY.escalations().get(0);
        assertThat(sent.path()).isEqualTo("/v2/models/always/infer");
        assertThat(sent.contentType()).isEqualTo("application/octet-stream");
        assertThat(sent.authorization()).isEqualTo("Bearer device-secret");
        assertThat(sent.escalationHeader()).as("for the gateway's door, before it reads the body").isEqualTo("true");
        Map<String, Object> parameters = sent.request().parameters();
        assertThat(parameters).containsEntry(RoutingParameters.ESCALATION, true)
                .containsEntry(RoutingParameters.DEVICE, "dev-test")
                .containsEntry(RoutingParameters.IDEMPOTENCY_KEY, "dev-test/req-1")
                .containsKeys(RoutingParameters.REASON, RoutingParameters.EDGE_LABEL, RoutingParameters.EDGE_CONFIDENCE);
        assertThat((Long) parameters.get(RoutingParameters.DEADLINE_MS)).isBetween(1L, 2000L);
        assertThat(sent.request().inputs()).singleElement().satisfies(input -> {
            assertThat(input.name()).isEqualTo("audio");
            assertThat(input.shape()).containsExactly(1, 8000);
        });
        // binary: 32,000 bytes of samples and a small header, not 90 KB of JSON text
        assertThat(sent.bodyBytes()).isLessThan(33_000);
    }

    @Test
    void aSplitRouteSendsOnlyTheEdgesTensor() {
        infer("split", null).jsonPath("$.parameters['hybridge.tier']").isEqualTo("cloud");
        StandInGateway.Received sent = GATEWAY.escalations().get(0);
        assertThat(sent.request().inputs()).singleElement().satisfies(input -> {
            assertThat(input.name()).isEqualTo("embedding");
            assertThat(input.shape()[1]).isLessThan(8000);
        });
        // the second of audio is 32,000 bytes as binary FP32; the half-precision embedding under a third of that
        assertThat(sent.bodyBytes()).isLessThan(32_000 / 3);
        // no id from the client: the agent makes one, still under the device
        assertThat((String) sent.request().parameters().get(RoutingParameters.IDEMPOTENCY_KEY)).startsWith("dev-test/");
    }

    @Test
    void anEdgeOnlyRouteNeverUsesTheLink() {
        infer("local", "x").jsonPath("$.parameters['hybridge.tier']").isEqualTo("edge")
                .jsonPath("$.parameters['hybridge.reason']").isEqualTo("edge_only");
        assertThat(GATEWAY.escalations()).isEmpty();
    }

    @Test
    void aFailingLinkIsAnsweredAtTheEdgeThenNotTriedUntilTheProbeFindsTheGateway() {
        GATEWAY.failWith(503);
        for (int i = 0; i < 2; i++) {
            infer("always", "f" + i).jsonPath("$.parameters['hybridge.tier']").isEqualTo("edge")
                    .jsonPath("$.parameters['hybridge.reason']").isEqualTo("cloud_unavailable")
                    .jsonPath("$.parameters['hybridge.degraded']").isEqualTo(true);
        }
        assertThat(uplink.breaker().getState()).isEqualTo(CircuitBreaker.State.OPEN);
        client.get().uri("/v2/health/ready").exchange().expectStatus().isOk()
                .expectBody().json("{\"ready\":true,\"uplink\":\"offline\"}");

        // open: answered at once from the edge, the gateway not asked
        infer("always", "f2").jsonPath("$.parameters['hybridge.degraded']").isEqualTo(true);
        assertThat(GATEWAY.escalations()).hasSize(2);

        // the route is still described while the link is down: by its edge stage
        client.get().uri("/v2/models/always").exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.name").isEqualTo("always").jsonPath("$.outputs[0].name").isEqualTo("probs");

        // a probe while the gateway still fails leaves it open; one that is answered lets escalations through
        uplink.probe();
        assertThat(uplink.breaker().getState()).isEqualTo(CircuitBreaker.State.OPEN);
        GATEWAY.failWith(0);
        uplink.probe();
        assertThat(uplink.breaker().getState()).isEqualTo(CircuitBreaker.State.HALF_OPEN);
        infer("always", "back").jsonPath("$.parameters['hybridge.tier']").isEqualTo("cloud");
    }

    @Test
    void aGatewaySheddingLoadIsABusyLinkNotADownOne() {
        GATEWAY.shedding();
        for (int i = 0; i < 6; i++) {
            infer("always", "busy" + i).jsonPath("$.parameters['hybridge.tier']").isEqualTo("edge")
                    .jsonPath("$.parameters['hybridge.degraded']").isEqualTo(true)
                    .jsonPath("$.parameters['hybridge.escalation_id']").exists();
        }
        // every escalation was tried: a busy gateway does not open the link's breaker
        assertThat(GATEWAY.escalations()).hasSizeGreaterThanOrEqualTo(6); // and perhaps a replay of one
        assertThat(uplink.breaker().getState()).isEqualTo(CircuitBreaker.State.CLOSED);
        client.get().uri("/v2/health/ready").exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.uplink").isEqualTo("online");
    }

    @Test
    void routesAreModelsOnTheAgentsOipFront() {
        client.get().uri("/v2").exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.routes").isEqualTo(List.of("always", "local", "split"));
        client.get().uri("/v2/models/always").exchange().expectStatus().isOk().expectBody()
                .jsonPath("$.name").isEqualTo("always")
                .jsonPath("$.inputs[0].name").isEqualTo("audio")
                .jsonPath("$.parameters['hybridge.kind']").isEqualTo("cascade");
        client.get().uri("/v2/models/local/ready").exchange().expectStatus().isOk();
        client.get().uri("/v2/models/local/config").exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.name").isEqualTo("local");
        // the models stay served under their own names
        client.get().uri("/v2/models/digits-edge").exchange().expectStatus().isOk();
        client.post().uri("/v2/models/nothing/infer").contentType(MediaType.APPLICATION_JSON).bodyValue(audioRequest("n"))
                .exchange().expectStatus().isNotFound().expectBody().jsonPath("$.error").isNotEmpty();
    }

    private String escalationState(String id) {
        return new String(client.get().uri("/v2/escalations/" + id).exchange().expectStatus().isOk()
                .expectBody().returnResult().getResponseBody(), java.nio.charset.StandardCharsets.UTF_8);
    }

    @Test
    void whatCannotBeSentIsKeptAndSentOnceTheLinkReturnsWithTheSameKey() {
        GATEWAY.failWith(503);
        List<String> ids = new java.util.ArrayList<>();
        for (int i = 0; i < 3; i++) {
            byte[] answer = infer("always", "kept-" + i).jsonPath("$.parameters['hybridge.degraded']").isEqualTo(true)
                    .returnResult().getResponseBody();
            String id = com.jayway.jsonpath.JsonPath.read(new String(answer, java.nio.charset.StandardCharsets.UTF_8),
                    "$.parameters['hybridge.escalation_id']");
            assertThat(id).isNotBlank();
            ids.add(id);
            assertThat(escalationState(id)).contains("\"state\":\"pending\"").contains("\"route\":\"always\"");
        }
        int live = GATEWAY.escalations().size(); // two failed live attempts, then the breaker opened
        assertThat(uplink.breaker().getState()).isEqualTo(CircuitBreaker.State.OPEN);
        replayer.drain().join();
        assertThat(GATEWAY.escalations()).as("nothing is sent while the link is down").hasSize(live);

        GATEWAY.failWith(0);
        uplink.probe();
        // passes as the schedule would run them, until this test's three are settled (other tests' entries may wait too)
        for (int pass = 0; pass < 100 && !ids.stream().allMatch(id -> outbox.get(id).join().orElseThrow().state()
                == Outbox.State.ANSWERED); pass++) {
            replayer.drain().join();
        }
        for (String id : ids) {
            assertThat(escalationState(id)).contains("\"state\":\"answered\"").contains("\"label\":\"3\"")
                    .contains("\"agreed\":");
        }
        // each was sent once, with its request's key, as the live attempt was: a repeat the gateway answers from its record
        List<Object> replayedKeys = GATEWAY.escalations().subList(live, GATEWAY.escalations().size()).stream()
                .map(r -> r.request().parameters().get(RoutingParameters.IDEMPOTENCY_KEY)).toList();
        for (int i = 0; i < 3; i++) {
            assertThat(replayedKeys).as("sends of kept-" + i).containsOnlyOnce("dev-test/kept-" + i);
        }
        client.get().uri("/v2/escalations/nothing-like-it").exchange().expectStatus().isNotFound()
                .expectBody().jsonPath("$.error").isNotEmpty();
    }

    @Test
    void aLateAnswerIsPushedToTheCallersAddressWhenItsHostIsAllowed() {
        GATEWAY.failWith(503);
        uplink.breaker().transitionToOpenState();
        byte[] withCallback = CODEC.encodeRequest(new InferRequest("cb-1", Map.of(RoutingParameters.CALLBACK_URL,
                GATEWAY.url() + "/callback"), List.of(new Tensor("audio", Datatype.FP32, new long[] {1, 8000},
                TestModels.audio(3))), List.of()), false).body();
        byte[] elsewhere = CODEC.encodeRequest(new InferRequest("cb-2", Map.of(RoutingParameters.CALLBACK_URL,
                "http://example.com/hook"), List.of(new Tensor("audio", Datatype.FP32, new long[] {1, 8000},
                TestModels.audio(3))), List.of()), false).body();
        String id = idOf(client.post().uri("/v2/models/always/infer").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(withCallback).exchange().expectStatus().isOk().expectBody().returnResult().getResponseBody());
        String other = idOf(client.post().uri("/v2/models/always/infer").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(elsewhere).exchange().expectStatus().isOk().expectBody().returnResult().getResponseBody());
        assertThat(escalationState(id)).contains("\"callback\":\"waiting\"");
        assertThat(escalationState(other)).doesNotContain("\"callback\"");

        GATEWAY.failWith(0);
        uplink.probe();
        for (int pass = 0; pass < 100 && outbox.get(id).join().orElseThrow().state() != Outbox.State.ANSWERED; pass++) {
            replayer.drain().join();
        }
        for (int pass = 0; pass < 20 && GATEWAY.callbacks().stream().noneMatch(c -> c.contains(id)); pass++) {
            callbacks.deliver().join();
        }
        assertThat(GATEWAY.callbacks()).anySatisfy(body -> assertThat(body).contains("\"id\":\"" + id + "\"")
                .contains("\"state\":\"answered\"").contains("\"label\":\"3\""));
        assertThat(escalationState(id)).contains("\"callback\":\"delivered\"");
        assertThat(GATEWAY.callbacks()).noneSatisfy(body -> assertThat(body).contains(other));
    }

    private static String idOf(byte[] answer) {
        return com.jayway.jsonpath.JsonPath.read(new String(answer, java.nio.charset.StandardCharsets.UTF_8),
                "$.parameters['hybridge.escalation_id']");
    }
}
