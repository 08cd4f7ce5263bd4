package dev.hybridge.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.hybridge.oip.Datatype;
import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.InferResponse;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.Tensor;
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
 * A cloud-worker whose batch queue holds one request, running one request per batch: a burst of
 * concurrent requests for the heavier {@code dense_audio} model (whose config.yaml sets no batching,
 * so these program settings apply) is partly served and partly refused with 503, and the program stays up.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class QueueFullIT {

    private static final int REQUESTS = 40;
    /** Rows per request: a few, so that each model run takes long enough for the queue to fill. */
    private static final int ROWS = 4;

    private ProgramProcess worker;
    private OipClient client;

    @BeforeAll
    void start() {
        worker = E2e.start(E2e.CLOUD, E2e.testdata("repository"),
                "--hybridge.serving.batching.max-queue-size=1", "--hybridge.serving.batching.max-batch-size=1");
        worker.awaitReady(E2e.START_TIMEOUT);
        client = new OipClient(worker.baseUri());
    }

    @AfterAll
    void stop() {
        E2e.closeQuietly(worker);
    }

    private static InferRequest denseAudio(String id) {
        float[] audio = new float[ROWS * E2e.AUDIO_SAMPLES];
        for (int r = 0; r < ROWS; r++) {
            System.arraycopy(E2e.audio(r), 0, audio, r * E2e.AUDIO_SAMPLES, E2e.AUDIO_SAMPLES);
        }
        return new InferRequest(id, Map.of(),
                List.of(new Tensor("audio", Datatype.FP32, new long[] {ROWS, E2e.AUDIO_SAMPLES}, audio)), List.of());
    }

    @Test
    void aBurstIsPartlyServedAndPartlyRefusedWith503() {
        // warm up: the model answers at all
        InferResponse first = client.inferOk("dense_audio", denseAudio("warm"), true);
        assertThat(first.output("probs").shape()).containsExactly(ROWS, 10);
        double rejectedBefore = rejected();

        OipCodec.Encoded encoded = client.codec().encodeRequest(denseAudio("burst"), true);
        ExecutorService pool = Executors.newFixedThreadPool(REQUESTS);
        CountDownLatch go = new CountDownLatch(1);
        List<OipClient.Answer> answers;
        try {
            List<Future<OipClient.Answer>> futures = new ArrayList<>();
            for (int i = 0; i < REQUESTS; i++) {
                futures.add(pool.submit(() -> {
                    go.await(10, TimeUnit.SECONDS);
                    return client.post("/v2/models/dense_audio/infer", encoded.body(), encoded.jsonLength());
                }));
            }
            go.countDown();
            answers = E2e.all(futures, Duration.ofSeconds(60));
        } finally {
            E2e.shutdown(pool);
        }

        int ok = 0;
        int refused = 0;
        for (OipClient.Answer answer : answers) {
            if (answer.status() == 200) {
                ok++;
                InferResponse response = client.codec().decodeResponse(answer.body(), answer.jsonLength());
                assertThat(response.id()).isEqualTo("burst");
                float[] probs = (float[]) response.output("probs").data();
                float[] expected = (float[]) first.output("probs").data();
                for (int k = 0; k < expected.length; k++) {
                    assertThat(probs[k]).as("probs[%d]", k).isCloseTo(expected[k], within(1e-6f));
                }
            } else {
                assertThat(answer.status()).as("status of %s", answer.text()).isEqualTo(503);
                refused++;
                assertThat(E2e.errorOf(client, answer)).containsIgnoringCase("queue").contains("dense_audio");
            }
        }
        assertThat(ok).as("served (of %d; %d refused)", REQUESTS, refused).isPositive();
        assertThat(refused).as("refused with 503 (of %d; %d served)", REQUESTS, ok).isPositive();
        assertThat(rejected() - rejectedBefore).as("hybridge_queue_rejected_total for dense_audio")
                .isEqualTo(refused);

        // the program is still up, and the queue has drained
        assertThat(worker.isAlive()).isTrue();
        assertThat(client.get("/v2/health/ready").status()).isEqualTo(200);
        assertThat(client.inferOk("dense_audio", denseAudio("after"), false).id()).isEqualTo("after");
    }

    private double rejected() {
        return CloudWorkerIT.metric(client.get("/actuator/prometheus").text(), "hybridge_queue_rejected_total",
                "dense_audio");
    }
}
