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
import java.util.List;
import java.util.Map;

/** A small OIP client over java.net.http, for tests and load generation against real programs. */
public final class OipClient {

    /**
     * An HTTP answer: status, body, the binary-extension header when present (else -1), and all
     * headers (names in lower case).
     */
    public record Answer(int status, byte[] body, int jsonLength, Map<String, List<String>> headers) {
        public Answer(int status, byte[] body, int jsonLength) {
            this(status, body, jsonLength, Map.of());
        }

        public String text() {
            return new String(body, java.nio.charset.StandardCharsets.UTF_8);
        }

        /** The first value of a header (any case), or null. */
        public String header(String name) {
            for (Map.Entry<String, List<String>> e : headers.entrySet()) {
                if (e.getKey().equalsIgnoreCase(name) && !e.getValue().isEmpty()) {
                    return e.getValue().get(0);
                }
            }
            return null;
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
        return post(path, HttpRequest.BodyPublishers.ofByteArray(body), jsonLength);
    }

    /**
     * POSTs raw bytes without announcing their length (chunked transfer encoding), optionally with
     * the binary-extension header: for servers that must enforce limits while reading.
     */
    public Answer postChunked(String path, byte[] body, int jsonLength) {
        return post(path, HttpRequest.BodyPublishers.ofInputStream(() -> new java.io.ByteArrayInputStream(body)),
                jsonLength);
    }

    private Answer post(String path, HttpRequest.BodyPublisher body, int jsonLength) {
        HttpRequest.Builder builder = HttpRequest.newBuilder(base.resolve(path)).POST(body);
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
        return infer(model, request, binaryInputs, Map.of());
    }

    /** The same, with extra request headers (an API key, say). */
    public Answer infer(String model, InferRequest request, boolean binaryInputs, Map<String, String> headers) {
        OipCodec.Encoded encoded = codec.encodeRequest(request, binaryInputs);
        HttpRequest.Builder builder = HttpRequest.newBuilder(base.resolve("/v2/models/" + model + "/infer"))
                .POST(HttpRequest.BodyPublishers.ofByteArray(encoded.body()));
        if (encoded.hasBinary()) {
            builder.header(OipCodec.HEADER_LENGTH, Integer.toString(encoded.jsonLength()))
                    .header("Content-Type", "application/octet-stream");
        } else {
            builder.header("Content-Type", "application/json");
        }
        headers.forEach(builder::header);
        return send(builder);
    }

    /** Sends an inference request and decodes a 200 answer; throws with the error body otherwise. */
    public InferResponse inferOk(String model, InferRequest request, boolean binaryInputs) {
        Answer answer = infer(model, request, binaryInputs);
        if (answer.status() != 200) {
            throw new IllegalStateException("infer on " + model + " answered " + answer.status() + ": " + answer.text());
        }
        return codec.decodeResponse(answer.body(), answer.jsonLength());
    }

    /** Sends a request built by the caller (any method, headers and body), with this client's timeout. */
    public Answer send(HttpRequest.Builder builder) {
        try {
            HttpResponse<byte[]> response = http.send(builder.timeout(Duration.ofSeconds(30)).build(),
                    HttpResponse.BodyHandlers.ofByteArray());
            int jsonLength = response.headers().firstValue(OipCodec.HEADER_LENGTH).map(Integer::parseInt).orElse(-1);
            return new Answer(response.statusCode(), response.body(), jsonLength, response.headers().map());
        } catch (IOException e) {
            throw new UncheckedIOException("request to " + base + " failed", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }
}
