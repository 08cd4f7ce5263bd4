package dev.hybridge.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.hybridge.models.Fsdd;
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
 * The edge agent as it is launched ({@link EdgeLaunch#OPTIONS}: 96 MB heap, C1 only, one event
 * loop) with the demo edge model and its shipped limits: a burst of concurrent JSON requests just
 * under the 1 MB request limit, each carrying several real recordings, is answered in full and
 * the same as one request alone; a body over the limit gets 413; the program stays up and ready.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class EdgeAsLaunchedIT {

    /** The edge agent's shipped request limit (edge-agent's application.yaml). */
    private static final int LIMIT = 1024 * 1024;
    private static final int CLIENTS = 16;
    private static final int REQUESTS_PER_CLIENT = 2;

    private ProgramProcess edge;
    private OipClient client;
    private List<Fsdd.Clip> clips;

    @BeforeAll
    void start() {
        edge = ProgramProcess.start(E2e.EDGE, E2e.logDir(), EdgeLaunch.OPTIONS, List.of(
                "--hybridge.serving.model-repository=" + ProgramProcess.root().resolve("models/demo/repository/edge")));
        edge.awaitReady(E2e.START_TIMEOUT);
        client = new OipClient(edge.baseUri());
        clips = Fsdd.testSplit(Fsdd.recordings(ProgramProcess.root()));
    }

    @AfterAll
    void stop() {
        E2e.closeQuietly(edge);
    }

    /** The first {@code rows} test recordings as one [rows, 8000] input. */
    private InferRequest recordings(String id, int rows) {
        float[] audio = new float[rows * Fsdd.SAMPLES];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(clips.get(r).audio(), 0, audio, r * Fsdd.SAMPLES, Fsdd.SAMPLES);
        }
        return new InferRequest(id, Map.of(),
                List.of(new Tensor("audio", Datatype.FP32, new long[] {rows, Fsdd.SAMPLES}, audio)), List.of());
    }

    /** The most recordings whose JSON request stays under the limit. */
    private int rowsUnderTheLimit() {
        int rows = 1;
        while (client.codec().encodeRequest(recordings("x", rows + 1), false).body().length < LIMIT) {
            rows++;
        }
        return rows;
    }

    @Test
    void aBurstOfRequestsAtTheSizeLimitIsAnsweredInFullAndTheProgramStaysUp() {
        int rows = rowsUnderTheLimit();
        OipCodec.Encoded encoded = client.codec().encodeRequest(recordings("burst", rows), false);
        assertThat(encoded.body().length).as("a request near the limit").isGreaterThan(LIMIT * 8 / 10);
        InferResponse alone = client.inferOk("digits-edge", recordings("burst", rows), false);
        float[] expected = (float[]) alone.output("probs").data();
        assertThat(expected).hasSize(rows * 10);

        ExecutorService pool = Executors.newFixedThreadPool(CLIENTS);
        CountDownLatch go = new CountDownLatch(1);
        List<OipClient.Answer> answers = new ArrayList<>();
        try {
            List<Future<List<OipClient.Answer>>> futures = new ArrayList<>();
            for (int c = 0; c < CLIENTS; c++) {
                futures.add(pool.submit(() -> {
                    go.await(10, TimeUnit.SECONDS);
                    List<OipClient.Answer> mine = new ArrayList<>();
                    for (int i = 0; i < REQUESTS_PER_CLIENT; i++) {
                        mine.add(client.post("/v2/models/digits-edge/infer", encoded.body(), -1));
                    }
                    return mine;
                }));
            }
            go.countDown();
            E2e.all(futures, Duration.ofSeconds(120)).forEach(answers::addAll);
        } finally {
            E2e.shutdown(pool);
        }

        assertThat(answers).hasSize(CLIENTS * REQUESTS_PER_CLIENT);
        for (OipClient.Answer answer : answers) {
            // the run queue (64) is deeper than this burst: nothing is refused
            assertThat(answer.status()).as(answer.text()).isEqualTo(200);
            InferResponse response = client.codec().decodeResponse(answer.body(), answer.jsonLength());
            assertThat(response.id()).isEqualTo("burst");
            assertThat((float[]) response.output("probs").data()).containsExactly(expected);
        }

        OipCodec.Encoded tooLarge = client.codec().encodeRequest(recordings("large", rows + 1), false);
        OipClient.Answer refused = client.post("/v2/models/digits-edge/infer", tooLarge.body(), -1);
        assertThat(refused.status()).as(refused.text()).isEqualTo(413);
        assertThat(E2e.errorOf(client, refused)).contains(Integer.toString(LIMIT));

        assertThat(edge.isAlive()).isTrue();
        assertThat(client.get("/v2/health/ready").status()).isEqualTo(200);
        assertThat(client.inferOk("digits-edge", recordings("after", 1), false).id()).isEqualTo("after");
    }
}
