package dev.hybridge.serving.web;

import dev.hybridge.oip.ContentCoding;
import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.OipException;
import dev.hybridge.oip.web.OipErrors;
import dev.hybridge.oip.web.Traces;
import dev.hybridge.serving.model.ModelHost;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.tracing.Span;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.reactivestreams.Publisher;
import org.springframework.boot.reactor.netty.NettyRouteProvider;
import org.springframework.web.util.UriUtils;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.netty.http.server.HttpServerRequest;
import reactor.netty.http.server.HttpServerResponse;
import reactor.netty.http.server.HttpServerRoutes;

/**
 * {@code POST /v2/models/{model}[/versions/{version}]/infer}, served by Reactor Netty directly,
 * ahead of WebFlux; every other endpoint (and any other method on these paths) falls through to
 * the OIP front ({@link dev.hybridge.oip.web.OipFront}).
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
    static final String LIMIT_NAME = "hybridge.serving.max-request-size";

    private final ModelHost host;
    /** Routes served beside the models, or null. */
    private final ServedRoutes routes;
    private final OipCodec codec;
    private final int maxRequestBytes;
    private final Duration linger;
    private final MeterRegistry meters;
    /** The timers by model tag and status; bounded: served models (and "unknown") times the statuses answered. */
    private final Map<String, Timer> timers = new ConcurrentHashMap<>();

    private final Traces traces;

    InferRoute(ModelHost host, ServedRoutes routes, OipCodec codec, int maxRequestBytes, Duration linger,
               MeterRegistry meters, Traces traces) {
        this.traces = traces;
        this.host = host;
        this.routes = routes;
        this.codec = codec;
        this.maxRequestBytes = maxRequestBytes;
        this.linger = linger;
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
        BodyReader reader;
        int jsonLength;
        long declared;
        boolean routed = routes != null && version == null && routes.names().contains(model);
        HttpHeaders requestHeaders = request.requestHeaders();
        String what = (routed ? "route " : "infer ") + model;
        Span span = traces.received(what, requestHeaders::get);
        try {
            if (!routed) {
                host.require(model, version); // 404 before reading a body that cannot be used
            }
            declared = contentLength(request);
            if (declared > maxRequestBytes) {
                throw OipException.bodyTooLarge(maxRequestBytes, LIMIT_NAME);
            }
            jsonLength = OipCodec.jsonLengthHeader(request.requestHeaders().get(OipCodec.HEADER_LENGTH));
        } catch (RuntimeException refused) {
            span.error(refused);
            return refuse(request, response, errorBody(response, refused), start, model, span, what);
        }
        // a route's door before its body is read: a refusal then costs little more than its answer
        ServedRoutes.Entry entry = routed ? routes.enter(model, requestHeaders::get) : ServedRoutes.Entry.IN;
        if (entry.refused() != null) {
            return refuse(request, response, answerBody(response, entry.refused(), span), start, model, span, what);
        }
        ServedRoutes.Place place = entry.place();
        reader = BodyReader.read(request.receive(), declared, maxRequestBytes, LIMIT_NAME);
        String encoding = request.requestHeaders().get(HttpHeaderNames.CONTENT_ENCODING);
        Mono<Void> answered = reader.body().flatMap(raw -> {
            byte[] body = ContentCoding.decode(encoding, raw, maxRequestBytes, LIMIT_NAME);
            if (routed) {
                return Mono.fromFuture(routes.infer(model, body, jsonLength, traces.traceparent(span), place));
            }
            InferRequest inferRequest = codec.decodeRequest(body, jsonLength);
            return Mono.fromFuture(host.infer(model, version, inferRequest))
                    .map(answer -> codec.encodeResponse(answer, inferRequest))
                    .map(encoded -> new ServedRoutes.Answer(200, Map.of(), encoded.body(), encoded.jsonLength()));
        }).map(answer -> answerBody(response, answer, span)).onErrorResume(failure -> {
            span.error(failure);
            return Mono.just(errorBody(response, failure));
        }).flatMap(body -> {
            // a body still coming (over the limit) is answered now and read away, for the linger time at most
            return reader.ended() ? send(response, body, model, start, true, span, what)
                    : send(response, body, model, start, false, span, what).then(lingered(request, reader));
        });
        return place == null ? answered : answered.doFinally(signal -> place.giveBack());
    }

    /** Sets the answer's status and headers; returns its body. */
    private static byte[] answerBody(HttpServerResponse response, ServedRoutes.Answer answer, Span span) {
        if (!span.isNoop()) { // a span not recorded keeps no attributes
            answer.attributes().forEach(span::tag);
        }
        response.status(HttpResponseStatus.valueOf(answer.status()));
        answer.headers().forEach(response::header);
        if (answer.jsonLength() >= 0) {
            response.header(HttpHeaderNames.CONTENT_TYPE, "application/octet-stream")
                    .header(OipCodec.HEADER_LENGTH, Integer.toString(answer.jsonLength()));
        } else {
            response.header(HttpHeaderNames.CONTENT_TYPE, "application/json");
        }
        return answer.body();
    }

    /**
     * Answers a request refused before its body was read ({@code body}, with the status and
     * headers already set on {@code response}). When a body is on its way, what
     * arrives after the answer is read and dropped, for the linger time at most (see
     * {@link BodyReader}). A client that waits for {@code 100 Continue} before sending its body
     * has nothing on its way.
     */
    private Mono<Void> refuse(HttpServerRequest request, HttpServerResponse response, byte[] body, long start,
                              String model, Span span, String what) {
        HttpHeaders headers = request.requestHeaders();
        String length = headers.get(HttpHeaderNames.CONTENT_LENGTH);
        boolean bodyComing = (length != null ? !length.trim().equals("0") : headers.containsValue(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED, true))
                && !headers.containsValue(HttpHeaderNames.EXPECT, HttpHeaderValues.CONTINUE, true);
        if (!bodyComing) {
            return send(response, body, model, start, true, span, what);
        }
        BodyReader rest = BodyReader.discard(request.receive());
        return send(response, body, model, start, false, span, what).then(lingered(request, rest));
    }

    /** Waits for the rest of a body, for the linger time at most; then closes the connection. */
    private Mono<Void> lingered(HttpServerRequest request, BodyReader reader) {
        return reader.end(linger).flatMap(ended -> {
            if (!ended) {
                request.withConnection(connection -> connection.channel().close());
            }
            return Mono.<Void>empty();
        });
    }

    private byte[] errorBody(HttpServerResponse response, Throwable failure) {
        OipException error = OipErrors.of(failure);
        response.status(error.status()).header(HttpHeaderNames.CONTENT_TYPE, "application/json");
        if (error.retryAfterSeconds() > 0) {
            response.header(HttpHeaderNames.RETRY_AFTER, Long.toString(error.retryAfterSeconds()));
        }
        return codec.encodeError(error.getMessage());
    }

    /**
     * Writes the answer. With {@code bodyEnded} false (the request's body still coming) the end of
     * the exchange is not written with it: the client has the whole answer, by its Content-Length,
     * but once the end is written Reactor Netty stops handing this request's body to the handler
     * and drops the rest itself, for as long as it keeps coming. The exchange then ends when the
     * handler completes, after {@link #lingered}.
     */
    private Mono<Void> send(HttpServerResponse response, byte[] body, String model, long start, boolean bodyEnded,
                            Span span, String what) {
        response.header(HttpHeaderNames.CONTENT_LENGTH, Integer.toString(body.length));
        record(model, response.status().code(), start);
        traces.answered(span, what, response.status().code(), System.nanoTime() - start);
        return bodyEnded ? response.sendByteArray(Mono.just(body)).then()
                : response.send(Flux.just(Unpooled.wrappedBuffer(body)), buffer -> true).then();
    }

    private void record(String model, int status, long start) {
        // the model tag only for served models, so that requests naming anything else add no series
        String tag = model != null && (host.models().containsKey(model) || routes != null && routes.names().contains(model))
                ? model : "unknown";
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
}
