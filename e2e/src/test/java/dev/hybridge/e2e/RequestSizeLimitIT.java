package dev.hybridge.e2e;

import static dev.hybridge.e2e.E2e.errorOf;
import static org.assertj.core.api.Assertions.assertThat;

import dev.hybridge.oip.Datatype;
import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.Tensor;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/** An edge-agent with a 64 KB request limit: larger bodies get 413, announced or not; smaller ones are served. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RequestSizeLimitIT {

    private static final int LIMIT = 64 * 1024;

    private ProgramProcess edge;
    private OipClient client;

    @BeforeAll
    void start() {
        edge = E2e.start(E2e.EDGE, E2e.testdata("repository"), "--hybridge.serving.max-request-size=64KB",
                "--hybridge.serving.unread-body-linger=1s");
        edge.awaitReady(E2e.START_TIMEOUT);
        client = new OipClient(edge.baseUri());
    }

    @AfterAll
    void stop() {
        E2e.closeQuietly(edge);
    }

    private OipCodec.Encoded classifierJson() {
        OipCodec.Encoded encoded = client.codec().encodeRequest(E2e.classifierRequest("big", 4, Map.of()), false);
        assertThat(encoded.body().length).as("the JSON request is over the limit").isGreaterThan(LIMIT);
        return encoded;
    }

    @Test
    @Order(1)
    void bodyWithContentLengthOverTheLimitIsRefused() {
        OipCodec.Encoded encoded = classifierJson();
        OipClient.Answer answer = client.post("/v2/models/classifier/infer", encoded.body(), -1);
        assertThat(answer.status()).as(answer.text()).isEqualTo(413);
        assertThat(errorOf(client, answer)).contains(Integer.toString(LIMIT));
    }

    @Test
    @Order(1)
    void chunkedBodyOverTheLimitIsRefused() {
        OipCodec.Encoded encoded = classifierJson();
        OipClient.Answer answer = client.postChunked("/v2/models/classifier/infer", encoded.body(), -1);
        assertThat(answer.status()).as(answer.text()).isEqualTo(413);
        assertThat(errorOf(client, answer)).contains(Integer.toString(LIMIT));
    }

    @Test
    @Order(1)
    void binaryBodyOverTheLimitIsRefused() {
        // 20 000 FP32 values: 80 000 bytes of binary data
        InferRequest request = new InferRequest(List.of(
                new Tensor("x", Datatype.FP32, new long[] {2, 10_000}, new float[20_000])));
        OipCodec.Encoded encoded = client.codec().encodeRequest(request, true);
        OipClient.Answer announced = client.post("/v2/models/identity_fp32/infer", encoded.body(), encoded.jsonLength());
        assertThat(announced.status()).as(announced.text()).isEqualTo(413);
        errorOf(client, announced);
        OipClient.Answer chunked = client.postChunked("/v2/models/identity_fp32/infer", encoded.body(),
                encoded.jsonLength());
        assertThat(chunked.status()).as(chunked.text()).isEqualTo(413);
        errorOf(client, chunked);
    }

    /**
     * A client announcing a body far over the limit gets 413 at once; what it sends after is read
     * away for the linger time only, then the connection is closed, however much is still to come.
     */
    @Test
    @Order(1)
    void aBodyThatKeepsComingIsReadAwayForTheLingerTimeOnly() throws java.io.IOException {
        byte[] head = RawHttp.request("POST", edge.baseUri(), "/v2/models/classifier/infer",
                Map.of("Content-Type", "application/json", "Content-Length", Long.toString(1L << 30)), null);
        try (RawHttp connection = new RawHttp(edge.baseUri(), java.time.Duration.ofSeconds(20))) {
            connection.write(head);
            connection.write(new byte[16 * 1024]);
            RawHttp.Response response = connection.read();
            assertThat(response.status()).as(response.text()).isEqualTo(413);
            assertThat(connection.closedByServer()).as("closed after the linger time").isTrue();
        }
    }

    @Test
    @Order(2)
    void bodyUnderTheLimitIsServed() {
        // the same classifier input as binary is about 32 KB
        OipCodec.Encoded encoded = client.codec().encodeRequest(E2e.classifierRequest("small", 4, Map.of()), true);
        assertThat(encoded.body().length).isLessThan(LIMIT);
        for (boolean chunked : new boolean[] {false, true}) {
            OipClient.Answer answer = chunked
                    ? client.postChunked("/v2/models/classifier/infer", encoded.body(), encoded.jsonLength())
                    : client.post("/v2/models/classifier/infer", encoded.body(), encoded.jsonLength());
            assertThat(answer.status()).as("chunked=%s: %s", chunked, answer.text()).isEqualTo(200);
            var response = client.codec().decodeResponse(answer.body(), answer.jsonLength());
            assertThat(response.id()).isEqualTo("small");
            EdgeAgentIT.checkConfidence("under the limit", response);
        }
    }

    @Test
    @Order(3)
    void stillAliveAndServing() {
        assertThat(edge.isAlive()).isTrue();
        assertThat(client.get("/v2/health/ready").status()).isEqualTo(200);
        assertThat(client.inferOk("classifier", E2e.classifierRequest("after", 4, Map.of()), true).id())
                .isEqualTo("after");
    }
}
