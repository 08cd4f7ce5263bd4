package dev.hybridge.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.hybridge.models.Fsdd;
import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.InferResponse;
import dev.hybridge.oip.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The whole system as real processes on loopback: the gateway, an edge-tier agent and two cloud
 * workers, serving the demo models (models/demo/repository) under the shipped policies
 * (config/policies), on real spoken-digit recordings. The scenarios run in order: the last two
 * kill cloud workers.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class GatewayIT {

    static final String SMALL_BUDGET_KEY = "key-small-budget";

    static ProgramProcess edge;
    static ProgramProcess cloudA;
    static ProgramProcess cloudB;
    static ProgramProcess gateway;
    static OipClient client;
    static List<Fsdd.Clip> clips;
    static Path policies;

    @BeforeAll
    static void start() throws IOException {
        policies = E2e.shippedPolicies("hybridge-e2e-policies");
        // the shipped routes, with tenants for the test: everyone may ask for any tier; one tenant
        // can pay for a single escalation per hour
        Files.writeString(policies.resolve("tenants.yaml"), """
                version: 1
                default: {allow: [auto, edge, cloud]}
                tenants:
                  small: {budget-usd: 0.0006, when-spent: edge-only, allow: [auto, edge, cloud]}
                """);
        edge = E2e.start(E2e.EDGE, E2e.DEMO.resolve("edge"));
        cloudA = E2e.start(E2e.CLOUD, E2e.DEMO.resolve("cloud"));
        cloudB = E2e.start(E2e.CLOUD, E2e.DEMO.resolve("cloud"));
        edge.awaitReady(E2e.START_TIMEOUT);
        cloudA.awaitReady(E2e.START_TIMEOUT);
        cloudB.awaitReady(E2e.START_TIMEOUT);
        gateway = E2e.startGateway("--hybridge.gateway.policy-folder=" + policies,
                "--hybridge.gateway.edge.addresses=" + edge.baseUri(),
                "--hybridge.gateway.cloud.addresses=" + cloudA.baseUri() + "," + cloudB.baseUri(),
                "--hybridge.gateway.anonymous-tenant=demo",
                "--hybridge.gateway.api-keys." + SMALL_BUDGET_KEY + "=small");
        gateway.awaitReady(E2e.START_TIMEOUT);
        client = new OipClient(gateway.baseUri());
        clips = Fsdd.testSplit(Fsdd.recordings(ProgramProcess.root()));
    }

    @AfterAll
    static void stop() throws IOException {
        for (ProgramProcess p : new ProgramProcess[] {gateway, cloudA, cloudB, edge}) {
            if (p != null) {
                p.close();
            }
        }
        E2e.deleteTrees(policies);
    }

    static InferRequest clip(Fsdd.Clip clip, Map<String, Object> parameters) {
        return E2e.clip(clip, clip.file(), parameters);
    }

    static InferResponse ok(OipClient.Answer answer) {
        assertThat(answer.status()).as(answer.text()).isEqualTo(200);
        return client.codec().decodeResponse(answer.body(), answer.jsonLength());
    }

    /** Every fifth clip of the test split: 50 clips, all digits and speakers. */
    static List<Fsdd.Clip> sample() {
        return E2e.everyFifth(clips);
    }

    // -------------------------------------------------------------------------------------------

    @Test
    @Order(1)
    void aDeadlineTooTightForTheCloudKeepsTheAnswerAtTheEdge() {
        // warm the path to the edge first (answers asked of the edge make no cloud call)
        for (int i = 0; i < 5; i++) {
            ok(client.infer("digits", clip(clips.get(i), Map.of("hybridge.route", "edge")), true));
        }
        // no cloud call has been made on this route yet: its estimate is the policy's initial 100 ms
        OipClient.Answer answer = client.infer("digits", clip(clips.get(0),
                Map.of("hybridge.route", "cloud", "hybridge.deadline_ms", 95L)), true);
        InferResponse response = ok(answer);
        assertThat(response.parameters()).containsEntry("hybridge.tier", "edge")
                .containsEntry("hybridge.reason", "deadline_too_tight");
        assertThat(answer.header("Hybridge-Reason")).isEqualTo("deadline_too_tight");
    }

    @Test
    @Order(2)
    void cascadeAnswersConfidentClipsAtTheEdgeAndEscalatesTheRest() {
        int correct = 0;
        int atEdge = 0;
        int inCloud = 0;
        List<Fsdd.Clip> sample = sample();
        for (Fsdd.Clip c : sample) {
            InferResponse response = ok(client.infer("digits", clip(c, Map.of()), true));
            String tier = (String) response.parameters().get("hybridge.tier");
            String reason = (String) response.parameters().get("hybridge.reason");
            double margin = (Double) response.parameters().get("hybridge.margin");
            if (tier.equals("edge")) {
                atEdge++;
                assertThat(reason).isEqualTo("confident");
                assertThat(margin).isGreaterThanOrEqualTo(E2e.MARGIN_THRESHOLD);
            } else {
                inCloud++;
                assertThat(reason).isEqualTo("low_confidence");
            }
            assertThat(response.modelName()).isEqualTo("digits");
            assertThat(response.id()).isEqualTo(c.file());
            assertThat(response.parameters()).containsEntry("hybridge.degraded", false);
            correct += response.parameters().get("hybridge.label").equals(Integer.toString(c.digit())) ? 1 : 0;
        }
        // 82 of the 250 test clips have a margin under the scenarios' threshold (E2e.shippedPolicies)
        assertThat(inCloud).isBetween(5, 30);
        assertThat(atEdge).isGreaterThan(inCloud);
        assertThat(correct).isGreaterThanOrEqualTo(sample.size() - 2);
    }

    @Test
    @Order(3)
    void splitSendsOnlyTheEmbeddingToTheCloudHead() {
        int viaHead = 0;
        int correct = 0;
        List<Fsdd.Clip> sample = sample();
        for (Fsdd.Clip c : sample) {
            InferResponse response = ok(client.infer("digits-split", clip(c, Map.of()), true));
            if (response.parameters().get("hybridge.tier").equals("cloud")) {
                viaHead++;
            }
            assertThat(response.outputs()).extracting(Tensor::name).containsExactly("probs");
            correct += response.parameters().get("hybridge.label").equals(Integer.toString(c.digit())) ? 1 : 0;
        }
        assertThat(viaHead).isGreaterThan(0);
        assertThat(correct).isGreaterThanOrEqualTo(sample.size() - 2);
        // the cloud head (digits-head) really ran: its runs are in the cloud workers' metrics
        assertThat(metric(cloudA, "hybridge_model_run_seconds_count", "digits-head")
                + metric(cloudB, "hybridge_model_run_seconds_count", "digits-head")).isEqualTo(viaHead);
    }

    @Test
    @Order(4)
    void aSpentBudgetKeepsTheTenantAtTheEdge() {
        Map<String, String> key = Map.of("X-Api-Key", SMALL_BUDGET_KEY);
        // hard requests: the tenant asks for the cloud each time
        InferResponse first = ok(client.infer("digits", clip(clips.get(1), Map.of("hybridge.route", "cloud")), true, key));
        assertThat(first.parameters()).containsEntry("hybridge.tier", "cloud");
        assertThat((Double) first.parameters().get("hybridge.cost_usd")).isGreaterThan(0.0004);
        InferResponse second = ok(client.infer("digits", clip(clips.get(2), Map.of("hybridge.route", "cloud")), true, key));
        assertThat(second.parameters()).containsEntry("hybridge.tier", "edge")
                .containsEntry("hybridge.reason", "budget_exhausted");
        InferResponse other = ok(client.infer("digits", clip(clips.get(2), Map.of("hybridge.route", "cloud")), true));
        assertThat(other.parameters()).as("another tenant's budget").containsEntry("hybridge.tier", "cloud");
    }

    @Test
    @Order(5)
    void shadowAnswersAtTheEdgeAndComparesASampleWithTheCloud() throws Exception {
        for (int i = 0; i < 20; i++) {
            InferResponse r = ok(client.infer("digits-shadow", clip(clips.get(10 + i), Map.of()), true));
            assertThat(r.parameters()).containsEntry("hybridge.tier", "edge").containsEntry("hybridge.reason", "shadow");
        }
        // one request in ten went to the cloud in the background: two comparisons are counted
        long until = System.nanoTime() + 30_000_000_000L;
        double compared = 0;
        while (System.nanoTime() < until) {
            compared = shadowSamples();
            if (compared >= 2) {
                break;
            }
            Thread.sleep(50); // the comparisons finish in the gateway's own time: poll its metrics
        }
        assertThat(compared).isEqualTo(2.0);
    }

    @Test
    @Order(6)
    void anEdgeAgentsEscalationIsAnsweredByTheCloud() {
        Fsdd.Clip c = clips.get(40);
        InferResponse r = ok(client.infer("digits", clip(c, Map.of("hybridge.escalation", true,
                "hybridge.confidence", 0.31, "hybridge.label", "1", "hybridge.reason", "low_confidence")), true));
        InferResponse direct = new OipClient(cloudA.baseUri()).inferOk("digits-cloud", clip(c, Map.of()), true);
        assertThat(r.parameters()).containsEntry("hybridge.tier", "cloud").containsEntry("hybridge.reason", "low_confidence")
                .containsEntry("hybridge.label", direct.parameters().get("hybridge.label"));
    }

    static double shadowSamples() {
        String text = client.get("/actuator/prometheus").text();
        return PrometheusText.parse(text).sum("hybridge_gateway_shadow_total", "route", "digits-shadow").orElse(0);
    }

    @Test
    @Order(7)
    void oneCloudWorkerKilledUnderLoadFailsNoClientRequest() throws Exception {
        ExecutorService callers = Executors.newFixedThreadPool(4);
        java.util.concurrent.CountDownLatch firstForty = new java.util.concurrent.CountDownLatch(40);
        List<Future<InferResponse>> answers = new ArrayList<>();
        for (int i = 0; i < 160; i++) {
            Fsdd.Clip c = clips.get(i % clips.size());
            answers.add(callers.submit(() -> {
                InferResponse r = ok(client.infer("digits", clip(c, Map.of("hybridge.route", "cloud")), true));
                firstForty.countDown();
                return r;
            }));
        }
        assertThat(firstForty.await(120, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        cloudA.kill();
        int fromCloud = 0;
        for (Future<InferResponse> f : answers) {
            InferResponse r = f.get(); // a failed request fails the test here
            fromCloud += r.parameters().get("hybridge.tier").equals("cloud") ? 1 : 0;
        }
        callers.shutdown();
        assertThat(answers).hasSize(160);
        // the survivor answers (retried there when the killed one drops a call); at worst a degraded edge answer
        assertThat(fromCloud).isGreaterThanOrEqualTo(150);
        InferResponse after = ok(client.infer("digits", clip(clips.get(3), Map.of("hybridge.route", "cloud")), true));
        assertThat(after.parameters()).containsEntry("hybridge.tier", "cloud");
    }

    @Test
    @Order(8)
    void withBothCloudWorkersGoneTheEdgeAnswersDegradedAndTheBreakersOpen() {
        cloudB.kill();
        long deadlineMillis = 500; // digits.yaml
        for (int i = 0; i < 12; i++) {
            long started = System.nanoTime();
            InferResponse r = ok(client.infer("digits", clip(clips.get(i), Map.of("hybridge.route", "cloud")), true));
            long tookMillis = (System.nanoTime() - started) / 1_000_000;
            assertThat(r.parameters()).containsEntry("hybridge.tier", "edge")
                    .containsEntry("hybridge.reason", "cloud_unavailable")
                    .containsEntry("hybridge.degraded", true);
            // never held past the deadline (plus the gateway's 50 ms to write the answer, plus the trip here)
            assertThat(tookMillis).isLessThan(deadlineMillis + 450);
        }
        String metrics = client.get("/actuator/prometheus").text();
        assertThat(metrics).containsPattern("resilience4j_circuitbreaker_state\\{[^}]*name=\"cloud/127.0.0.1:"
                + cloudB.port() + "\"[^}]*state=\"open\"[^}]*} 1.0");
        assertThat(metrics).contains("hybridge_gateway_requests_seconds_count");
        assertThat(metrics).containsPattern("reason=\"cloud_unavailable\"");
    }

    /** A counter from a program's Prometheus page, for one model. */
    static double metric(ProgramProcess program, String name, String model) {
        String text = new OipClient(program.baseUri()).get("/actuator/prometheus").text();
        return PrometheusText.parse(text).sum(name, "model", model).orElse(0);
    }
}
