package dev.hybridge.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.hybridge.oip.Datatype;
import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.InferResponse;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.Tensor;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * SIGTERM (what Kubernetes sends on every rollout) with requests in flight: each is answered, and
 * the program exits cleanly.
 *
 * <p>The requests sit in {@code dense_audio}'s batch queue, which waits up to 2 s for company, when
 * the signal comes; the metric {@code hybridge_queue_pending} says when they are all there. On the
 * JVM's own shutdown, ONNX Runtime's shutdown hook freed its native environment while the requests
 * were still being drained, and the batch that ran then crashed the process (SIGSEGV).
 */
class OrderlyShutdownIT {

    private static final int REQUESTS = 6;

    @ParameterizedTest
    @ValueSource(strings = {E2e.EDGE, E2e.CLOUD})
    void requestsInFlightAreAnsweredAndTheProgramExitsCleanly(String program) throws Exception {
        ProgramProcess process = E2e.start(program, E2e.testdata("repository"),
                "--hybridge.serving.batching.enabled=true", "--hybridge.serving.batching.max-queue-delay=2s",
                "--hybridge.serving.batching.max-batch-size=64");
        ExecutorService pool = Executors.newFixedThreadPool(REQUESTS);
        try {
            process.awaitReady(E2e.START_TIMEOUT);
            OipClient client = new OipClient(process.baseUri());
            InferRequest request = new InferRequest("in-flight", java.util.Map.of(),
                    List.of(new Tensor("audio", Datatype.FP32, new long[] {1, E2e.AUDIO_SAMPLES}, E2e.audio(3))),
                    List.of());
            OipCodec.Encoded encoded = client.codec().encodeRequest(request, true);
            List<Future<OipClient.Answer>> futures = new ArrayList<>();
            for (int i = 0; i < REQUESTS; i++) {
                futures.add(pool.submit(() -> client.post("/v2/models/dense_audio/infer", encoded.body(),
                        encoded.jsonLength())));
            }
            awaitPending(client, REQUESTS);

            process.terminate();
            List<OipClient.Answer> answers = E2e.all(futures, Duration.ofSeconds(30));
            int exit = process.awaitExit(Duration.ofSeconds(30));

            for (OipClient.Answer answer : answers) {
                assertThat(answer.status()).as(answer.text()).isEqualTo(200);
                InferResponse response = client.codec().decodeResponse(answer.body(), answer.jsonLength());
                assertThat(response.id()).isEqualTo("in-flight");
                assertThat((float[]) response.output("probs").data()).hasSize(10);
            }
            String log = process.logText();
            assertThat(log).contains("SIGTERM received").contains("Graceful shutdown complete")
                    .doesNotContain("A fatal error has been detected");
            assertThat(exit).as("exit code (128 + SIGTERM)\n%s", process.logTail(30)).isEqualTo(143);
        } finally {
            E2e.shutdown(pool);
            E2e.closeQuietly(process);
        }
    }

    /** Polls the metric until {@code count} requests wait for dense_audio (the batch delay is 2 s). */
    private static void awaitPending(OipClient client, int count) {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        double pending = 0;
        while (System.nanoTime() < deadline) {
            pending = CloudWorkerIT.metric(client.get("/actuator/prometheus").text(), "hybridge_queue_pending",
                    "dense_audio");
            if (pending == count) {
                return;
            }
            Thread.onSpinWait();
        }
        throw new AssertionError("dense_audio never had " + count + " requests pending; last seen " + pending);
    }
}
