package dev.hybridge.serving.web;

import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.OipException;
import dev.hybridge.serving.model.ModelHost;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.reactivestreams.Publisher;
import org.springframework.boot.reactor.netty.NettyRouteProvider;
import org.springframework.web.util.UriUtils;
import reactor.core.publisher.Mono;
import reactor.netty.http.server.HttpServerRequest;
import reactor.netty.http.server.HttpServerResponse;
import reactor.netty.http.server.HttpServerRoutes;

/**
 * {@code POST /v2/models/{model}[/versions/{version}]/infer}, served by Reactor Netty directly,
 * ahead of WebFlux; every other endpoint (and any other method on these paths) falls through to
 * {@link OipHandler}.
 *
 * <p>Why: infer is the one endpoint on the hot path, and WebFlux's dispatch (exchange, handler
 * mappings, result handling, message writers) cost about 0.09 ms of the 0.33 ms HTTP added to an
 * edge-agent request with the C1-only launch options, measured side by side (benchmarks/README.md,
 * HttpOverhead). What infer does here is what the rest of the API does: OIP errors with the same
 * statuses, the request size limit (announced or streamed), 404 before reading a body that cannot
 * be used.
 *
 * <p>WebFilters do not see these requests. Anything that must apply to every request (an
 * authentication filter, say) has to be added here as well.
 */
final class InferRoute implements NettyRouteProvider {

    private static final String METRIC = "hybridge.infer.requests";

    private final ModelHost host;
    private final OipCodec codec;
    private final int maxRequestBytes;
    private final MeterRegistry meters;
    /** The timers by model tag and status; bounded: served models (and "unknown") times the statuses answered. */
    private final Map<String, Timer> timers = new ConcurrentHashMap<>();

    InferRoute(ModelHost host, OipCodec codec, int maxRequestBytes, MeterRegistry meters) {
        this.host = host;
        this.codec = codec;
        this.maxRequestBytes = maxRequestBytes;
        this.meters = meters;
    }

    @Override
    public HttpServerRoutes apply(HttpServerRoutes routes) {
        return routes.post("/v2/models/{model}/infer", this::infer)
                .post("/v2/models/{model}/versions/{version}/infer", this::infer);
    }

    private Publisher<Void> infer(HttpServerRequest request, HttpServerResponse response) {
        long start = System.nanoTime();
        String model = pathVariable(request, "model");
        String version = pathVariable(request, "version");
        return Mono.defer(() -> {
            host.require(model, version); // 404 before reading a body that cannot be used
            long declared = contentLength(request);
            if (declared > maxRequestBytes) {
                throw OipHandler.tooLarge(maxRequestBytes);
            }
            int jsonLength = OipCodec.jsonLengthHeader(request.requestHeaders().get(OipCodec.HEADER_LENGTH));
            return body(request, declared).flatMap(body -> {
                InferRequest inferRequest = codec.decodeRequest(body, jsonLength);
                return Mono.fromFuture(host.infer(model, version, inferRequest))
                        .map(answer -> codec.encodeResponse(answer, inferRequest));
            });
        }).map(encoded -> {
            response.status(HttpResponseStatus.OK);
            if (encoded.hasBinary()) {
                response.header(HttpHeaderNames.CONTENT_TYPE, "application/octet-stream")
                        .header(OipCodec.HEADER_LENGTH, Integer.toString(encoded.jsonLength()));
            } else {
                response.header(HttpHeaderNames.CONTENT_TYPE, "application/json");
            }
            return encoded.body();
        }).onErrorResume(failure -> {
            OipException error = OipHandler.asOipException(failure);
            response.status(error.status()).header(HttpHeaderNames.CONTENT_TYPE, "application/json");
            return Mono.just(codec.encodeError(error.getMessage()));
        }).flatMap(body -> {
            response.header(HttpHeaderNames.CONTENT_LENGTH, Integer.toString(body.length));
            record(model, response.status().code(), start);
            return response.sendByteArray(Mono.just(body)).then();
        });
    }

    /**
     * The whole body, copied chunk by chunk into one array sized from Content-Length when the
     * client announced it; a body that grows past the limit fails with 413 as soon as it does.
     */
    private Mono<byte[]> body(HttpServerRequest request, long declared) {
        return request.receive()
                .reduceWith(() -> new Body(declared >= 0 ? (int) declared : 16 * 1024), (body, chunk) -> {
                    body.append(chunk, maxRequestBytes);
                    return body;
                })
                .map(Body::bytes)
                .filter(bytes -> bytes.length > 0)
                .switchIfEmpty(Mono.error(() ->
                        OipException.badRequest("the request body is empty; send an OIP inference request")));
    }

    private void record(String model, int status, long start) {
        // the model tag only for served models, so that requests naming anything else add no series
        String tag = model != null && host.models().containsKey(model) ? model : "unknown";
        timers.computeIfAbsent(tag + ' ' + status, key -> Timer.builder(METRIC)
                        .description("Inference requests, from routing to the answer being written")
                        .tag("model", tag).tag("status", Integer.toString(status)).register(meters))
                .record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
    }

    private static long contentLength(HttpServerRequest request) {
        String header = request.requestHeaders().get(HttpHeaderNames.CONTENT_LENGTH);
        if (header == null) {
            return -1;
        }
        try {
            return Long.parseLong(header.trim());
        } catch (NumberFormatException e) {
            throw OipException.badRequest("Content-Length is not a number: " + header);
        }
    }

    /** A path variable, percent-decoded as WebFlux decodes the other endpoints' variables; null when absent. */
    private static String pathVariable(HttpServerRequest request, String name) {
        String raw = request.param(name);
        return raw == null ? null : UriUtils.decode(raw, StandardCharsets.UTF_8);
    }

    /** A growing copy of the request body. */
    private static final class Body {
        private byte[] bytes;
        private int length;

        Body(int expected) {
            bytes = new byte[expected];
        }

        void append(ByteBuf chunk, int limit) {
            int n = chunk.readableBytes();
            if ((long) length + n > limit) {
                throw OipHandler.tooLarge(limit);
            }
            if (length + n > bytes.length) {
                bytes = Arrays.copyOf(bytes, (int) Math.min(limit, Math.max((long) bytes.length * 2, length + n)));
            }
            chunk.readBytes(bytes, length, n);
            length += n;
        }

        byte[] bytes() {
            return length == bytes.length ? bytes : Arrays.copyOf(bytes, length);
        }
    }
}
