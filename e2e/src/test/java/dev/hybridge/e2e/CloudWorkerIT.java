package dev.hybridge.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.hybridge.oip.InferResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Two cloud-workers on the good test models, started side by side: one as packaged (dynamic
 * batching on), one asked for CUDA on this GPU-less machine, which must fall back to CPU and say so.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CloudWorkerIT {

    private static final int DISTINCT_INPUTS = 8;
    private static final int CONCURRENT_REQUESTS = 32;

    private ProgramProcess worker;
    private ProgramProcess cudaWorker;
    private OipClient client;
    private OipClient cudaClient;

    @BeforeAll
    void start() {
        worker = E2e.start(E2e.CLOUD, E2e.testdata("repository"));
        cudaWorker = E2e.start(E2e.CLOUD, E2e.testdata("repository"), "--hybridge.serving.execution-provider=cuda");
        worker.awaitReady(E2e.START_TIMEOUT);
        cudaWorker.awaitReady(E2e.START_TIMEOUT);
        client = new OipClient(worker.baseUri());
        cudaClient = new OipClient(cudaWorker.baseUri());
    }

    @AfterAll
    void stop() {
        E2e.closeQuietly(worker);
        E2e.closeQuietly(cudaWorker);
    }

    @Test
    void serverMetadataNamesTheCloudWorker() {
        OipClient.Answer answer = client.get("/v2");
        assertThat(answer.status()).isEqualTo(200);
        assertThat(E2e.jsonObject(answer)).containsEntry("name", "hybridge-cloud-worker");
    }

    @Test
    void concurrentRequestsAreBatchedAndEachGetsItsOwnAnswer() throws Exception {
        // what each input gives when sent alone
        List<InferResponse> alone = new ArrayList<>();
        for (int seed = 0; seed < DISTINCT_INPUTS; seed++) {
            alone.add(client.inferOk("classifier", E2e.classifierRequest("alone-" + seed, seed, Map.of()), true));
        }
        for (int seed = 1; seed < DISTINCT_INPUTS; seed++) {
            assertThat((float[]) alone.get(seed).output("probs").data())
                    .as("inputs %d and 0 differ", seed).isNotEqualTo(alone.get(0).output("probs").data());
        }
        BatchStats before = batchStats(client, "classifier");

        ExecutorService pool = Executors.newFixedThreadPool(16);
        CountDownLatch go = new CountDownLatch(1);
        try {
            List<Future<InferResponse>> futures = new ArrayList<>();
            for (int i = 0; i < CONCURRENT_REQUESTS; i++) {
                int n = i;
                futures.add(pool.submit(() -> {
                    go.await(10, TimeUnit.SECONDS);
                    // half over JSON, half over the binary extension: both kinds share batches
                    return client.inferOk("classifier",
                            E2e.classifierRequest("together-" + n, n % DISTINCT_INPUTS, Map.of("n", (long) n)), n % 2 == 0);
                }));
            }
            go.countDown();
            List<InferResponse> together = E2e.all(futures, Duration.ofSeconds(60));
            for (int i = 0; i < CONCURRENT_REQUESTS; i++) {
                InferResponse response = together.get(i);
                InferResponse expected = alone.get(i % DISTINCT_INPUTS);
                assertThat(response.id()).isEqualTo("together-" + i);
                assertThat(response.parameters()).containsEntry("n", (long) i);
                assertThat(response.modelVersion()).isEqualTo("3");
                assertThat(response.output("probs").shape()).containsExactly(1, 10);
                float[] probs = (float[]) response.output("probs").data();
                float[] expectedProbs = (float[]) expected.output("probs").data();
                for (int c = 0; c < probs.length; c++) {
                    assertThat(probs[c]).as("request %d class %d", i, c).isCloseTo(expectedProbs[c], within(1e-5f));
                }
                assertThat(response.parameters().get("hybridge.label"))
                        .as("request %d", i).isEqualTo(expected.parameters().get("hybridge.label"));
                EdgeAgentIT.checkConfidence("request " + i, response);
            }
        } finally {
            E2e.shutdown(pool);
        }

        BatchStats after = batchStats(client, "classifier");
        long runs = after.count() - before.count();
        double requests = after.sum() - before.sum();
        assertThat(requests).as("requests that went through the batcher").isEqualTo(CONCURRENT_REQUESTS);
        assertThat(runs).as("model runs for %d concurrent requests: fewer when batched (max batch %s)",
                CONCURRENT_REQUESTS, after.max()).isLessThan(CONCURRENT_REQUESTS);
        assertThat(after.max()).as("largest batch").isGreaterThan(1).isLessThanOrEqualTo(8);
    }

    @Test
    void cudaOnAMachineWithoutItFallsBackToCpu() {
        assertThat(cudaWorker.isAlive()).isTrue();
        assertThat(cudaClient.get("/v2/models/classifier").status()).isEqualTo(200);
        InferResponse onCuda = cudaClient.inferOk("classifier", E2e.classifierRequest("cuda", 5, Map.of()), false);
        EdgeAgentIT.checkConfidence("cuda fallback", onCuda);
        InferResponse onCpu = client.inferOk("classifier", E2e.classifierRequest("cpu", 5, Map.of()), false);
        float[] expected = (float[]) onCpu.output("probs").data();
        float[] got = (float[]) onCuda.output("probs").data();
        for (int c = 0; c < expected.length; c++) {
            assertThat(got[c]).as("class %d", c).isCloseTo(expected[c], within(1e-6f));
        }
        String log = cudaWorker.logText();
        assertThat(log).as("the log says the classifier runs on CPU")
                .containsPattern("Model classifier: .*running on CPU")
                .containsPattern("Model classifier version 3 loaded in \\d+ ms on CPU");
        assertThat(log).doesNotContain("running on CUDA");
        // the worker asked for CPU has nothing to fall back from
        assertThat(worker.logText()).doesNotContain("running on CPU");
    }

    /** One model's {@code hybridge_batch_requests} summary, read from the Prometheus endpoint. */
    record BatchStats(long count, double sum, double max) {
    }

    static BatchStats batchStats(OipClient client, String model) {
        OipClient.Answer answer = client.get("/actuator/prometheus");
        assertThat(answer.status()).isEqualTo(200);
        String text = answer.text();
        double count = metric(text, "hybridge_batch_requests_count", model);
        double sum = metric(text, "hybridge_batch_requests_sum", model);
        double max = metric(text, "hybridge_batch_requests_max", model);
        return new BatchStats((long) count, sum, max);
    }

    static double metric(String prometheus, String name, String model) {
        return PrometheusText.parse(prometheus).sum(name, "model", model).orElseThrow(() -> new AssertionError(
                "no " + name + " for model " + model + " in:\n" + prometheus.lines()
                        .filter(l -> l.startsWith("hybridge")).reduce("", (a, b) -> a + b + "\n")));
    }
}
