package dev.hybridge.e2e;

import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.InferResponse;
import dev.hybridge.oip.OipCodec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** A small OIP client over java.net.http, for tests and load generation against real programs. */
public final class OipClient {

    /** An HTTP answer: status, body, and the binary-extension header when present (else -1). */
    public record Answer(int status, byte[] body, int jsonLength) {
        public String text() {
            return new String(body, java.nio.charset.StandardCharsets.UTF_8);
        }
    }

    private final URI base;
    private final HttpClient http;
    private final OipCodec codec = new OipCodec();

    public OipClient(URI base) {
        this.base = base;
        this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5)).build();
    }

    public OipCodec codec() {
        return codec;
    }

    public Answer get(String path) {
        return send(HttpRequest.newBuilder(base.resolve(path)).GET());
    }

    /** POSTs raw bytes, optionally with the binary-extension header. */
    public Answer post(String path, byte[] body, int jsonLength) {
        HttpRequest.Builder builder = HttpRequest.newBuilder(base.resolve(path))
                .POST(HttpRequest.BodyPublishers.ofByteArray(body));
        if (jsonLength >= 0) {
            builder.header(OipCodec.HEADER_LENGTH, Integer.toString(jsonLength))
                    .header("Content-Type", "application/octet-stream");
        } else {
            builder.header("Content-Type", "application/json");
        }
        return send(builder);
    }

    /** Sends an inference request (inputs as JSON or binary) and returns the raw answer. */
    public Answer infer(String model, InferRequest request, boolean binaryInputs) {
        OipCodec.Encoded encoded = codec.encodeRequest(request, binaryInputs);
        return post("/v2/models/" + model + "/infer", encoded.body(), encoded.jsonLength());
    }

    /** Sends an inference request and decodes a 200 answer; throws with the error body otherwise. */
    public InferResponse inferOk(String model, InferRequest request, boolean binaryInputs) {
        Answer answer = infer(model, request, binaryInputs);
        if (answer.status() != 200) {
            throw new IllegalStateException("infer on " + model + " answered " + answer.status() + ": " + answer.text());
        }
        return codec.decodeResponse(answer.body(), answer.jsonLength());
    }

    private Answer send(HttpRequest.Builder builder) {
        try {
            HttpResponse<byte[]> response = http.send(builder.timeout(Duration.ofSeconds(30)).build(),
                    HttpResponse.BodyHandlers.ofByteArray());
            int jsonLength = response.headers().firstValue(OipCodec.HEADER_LENGTH).map(Integer::parseInt).orElse(-1);
            return new Answer(response.statusCode(), response.body(), jsonLength);
        } catch (IOException e) {
            throw new UncheckedIOException("request to " + base + " failed", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }
}
