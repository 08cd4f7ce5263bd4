package dev.hybridge.edge;

import static dev.hybridge.oip.RoutingParameters.DEADLINE_MS;
import static dev.hybridge.oip.RoutingParameters.DEVICE;
import static dev.hybridge.oip.RoutingParameters.EDGE_CONFIDENCE;
import static dev.hybridge.oip.RoutingParameters.EDGE_LABEL;
import static dev.hybridge.oip.RoutingParameters.ESCALATION;
import static dev.hybridge.oip.RoutingParameters.IDEMPOTENCY_KEY;
import static dev.hybridge.oip.RoutingParameters.REASON;

import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.web.Traces;
import dev.hybridge.policy.RoutePolicy;
import dev.hybridge.policy.runtime.TierCall;
import dev.hybridge.policy.runtime.TierClient;
import dev.hybridge.policy.runtime.TierFailure;
import dev.hybridge.policy.runtime.TierReply;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.tracing.Span;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.HttpHeaderNames;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import reactor.core.publisher.Mono;

/**
 * The cloud tier of the agent's routes: the gateway, through the uplink. A cloud stage call is an
 * escalation: an OIP infer request for the route ({@code POST /v2/models/{route}/infer}) with
 * {@code hybridge.escalation: true}, the device, the reason, the edge's label and confidence, an
 * idempotency key and the time left, always as binary tensor data (for a split route the body is
 * the edge's intermediate tensor, never the raw input). The gateway applies its fleet-wide limits
 * and the cloud pool, and answers as the route's cloud stage.
 *
 * <p>Every call goes through the uplink's breaker: while it is open, a call fails at once. A call
 * the gateway does not answer within the time left (the request's deadline, or
 * {@code uplink.timeout}) fails as unreachable, so the edge's answer stands, degraded. A
 * gateway that declines an escalation (budget, rights, deadline: 409, 429, 403, 504) or cannot
 * answer it (5xx) fails the call, so the edge's answer stands; only the first counts against the
 * link. A request's own fault (400, 404, 413) is the reply.
 */
final class UplinkTier implements TierClient {

    private final Uplink uplink;
    private final OipCodec codec;
    private final String device;
    private final MeterRegistry meters;
    private final Map<String, DistributionSummary> sentBytes = new ConcurrentHashMap<>();

    private final Traces traces;

    UplinkTier(Uplink uplink, OipCodec codec, String device, MeterRegistry meters) {
        this(uplink, codec, device, meters, Traces.none());
    }

    UplinkTier(Uplink uplink, OipCodec codec, String device, MeterRegistry meters, Traces traces) {
        this.traces = traces;
        this.uplink = uplink;
        this.codec = codec;
        this.device = device;
        this.meters = meters;
    }

    @Override
    public CompletableFuture<TierReply> infer(RoutePolicy.Stage stage, byte[] body, int jsonLength, long deadlineNanos) {
        return CompletableFuture.failedFuture(new IllegalStateException("an escalation needs its route (TierCall)"));
    }

    @Override
    public CompletableFuture<TierReply> infer(RoutePolicy.Stage stage, byte[] body, int jsonLength, long deadlineNanos,
                                              TierCall call) {
        return escalate(body, jsonLength, deadlineNanos, call, -1);
    }

    /**
     * Sends a kept escalation again (the outbox draining): as a live one, with the same key, but
     * only while more than {@code reserve} places among the escalations in flight are free.
     */
    CompletableFuture<TierReply> replay(byte[] body, int jsonLength, TierCall call, int reserve) {
        return escalate(body, jsonLength, System.nanoTime() + uplink.config().timeout().toNanos(), call, reserve);
    }

    /** @param reserve places among those in flight to leave free, or -1 for a live escalation (takes any) */
    private CompletableFuture<TierReply> escalate(byte[] body, int jsonLength, long deadlineNanos, TierCall call,
                                                  int reserve) {
        if (!uplink.configured()) {
            return CompletableFuture.failedFuture(new TierFailure(TierFailure.Kind.UNREACHABLE,
                    "no uplink is configured (hybridge.edge.uplink.url)"));
        }
        long remaining = deadlineNanos - System.nanoTime();
        if (remaining <= 0) {
            return CompletableFuture.failedFuture(new TierFailure(TierFailure.Kind.TIMEOUT, "no time left to escalate"));
        }
        CircuitBreaker breaker = uplink.breaker();
        if (!breaker.tryAcquirePermission()) {
            return CompletableFuture.failedFuture(new TierFailure(TierFailure.Kind.CIRCUIT_OPEN,
                    "the uplink is down (" + uplink.state().wire() + "): " + uplink.lastProblem()));
        }
        if (reserve < 0 ? !uplink.tryEnter() : !uplink.tryEnterLeaving(reserve)) {
            breaker.releasePermission();
            return CompletableFuture.failedFuture(new TierFailure(TierFailure.Kind.BUSY, "the uplink has "
                    + uplink.config().maxConcurrent() + " escalations in flight (hybridge.edge.uplink.max-concurrent)"));
        }
        OipCodec.Encoded escalation;
        try {
            escalation = escalation(body, jsonLength, call, remaining);
        } catch (RuntimeException e) {
            uplink.leave();
            breaker.releasePermission();
            return CompletableFuture.failedFuture(e);
        }
        summary(call.route()).record(escalation.body().length);
        // a live escalation is a step of the request's trace; a replay, later, starts its own, linked to it
        Span span = reserve < 0 ? traces.calling("escalate " + call.route(), call.trace())
                : traces.linkedTo("replay " + call.route(), call.trace());
        if (!span.isNoop()) { // a span not recorded keeps no attributes
            if (call.reason() != null) {
                span.tag("hybridge.reason", call.reason().code());
            }
            span.tag("hybridge.idempotency_key", idempotencyKey(call));
        }
        Map<String, String> headers = new HashMap<>(2);
        traces.inject(span, headers::put);
        long start = System.nanoTime();
        Duration limit = Duration.ofNanos(Math.min(remaining, uplink.config().timeout().toNanos()));
        return post(call.route(), escalation, headers)
                .take(limit)
                .switchIfEmpty(Mono.error(() -> new TimeoutException("no answer from the gateway within " + limit.toMillis()
                        + " ms")))
                .toFuture()
                .handle((sent, error) -> {
                    uplink.leave();
                    TierReply reply = sent == null ? null : sent.reply();
                    if (error != null) {
                        span.error(error);
                    } else {
                        span.tag("http.response.status_code", Integer.toString(reply.status()));
                    }
                    span.end();
                    long took = System.nanoTime() - start;
                    if (error != null) {
                        Throwable e = error instanceof java.util.concurrent.CompletionException && error.getCause() != null
                                ? error.getCause() : error;
                        breaker.onError(took, TimeUnit.NANOSECONDS, e);
                        uplink.failed(e.toString());
                        // a link that does not answer in time is a link down, not the cloud's latency: the
                        // breaker, not the route's latency estimate, keeps later requests from waiting on it
                        throw new TierFailure(TierFailure.Kind.UNREACHABLE, "the gateway could not be reached: "
                                + e.getMessage(), e);
                    }
                    TierReply answered = new TierReply(reply.status(), reply.body(), reply.jsonLength(), took / 1e6);
                    if (sent.shed()) {
                        // the link works and the gateway is busy: not a link failure; the edge's answer stands
                        breaker.onSuccess(took, TimeUnit.NANOSECONDS);
                        throw new TierFailure(TierFailure.Kind.FAILED, "the gateway is overloaded (503, Retry-After "
                                + sent.retryAfter() + "): " + text(reply.body()));
                    }
                    if (reply.status() >= 500) {
                        breaker.onError(took, TimeUnit.NANOSECONDS, new IllegalStateException("gateway " + reply.status()));
                        uplink.failed("the gateway answered " + reply.status());
                        throw new TierFailure(reply.status() == 504 ? TierFailure.Kind.TIMEOUT : TierFailure.Kind.FAILED,
                                "the gateway answered " + reply.status() + ": " + text(reply.body()));
                    }
                    breaker.onSuccess(took, TimeUnit.NANOSECONDS);
                    if (reply.status() == 409 || reply.status() == 429 || reply.status() == 403 || reply.status() == 401) {
                        // the link works; the gateway declined this escalation (budget, rights): the edge's answer stands
                        throw new TierFailure(TierFailure.Kind.FAILED, "the gateway declined the escalation ("
                                + reply.status() + "): " + text(reply.body()));
                    }
                    return answered;
                });
    }

    @Override
    public boolean configured() {
        return uplink.configured();
    }

    /** The route's metadata at the gateway (its outputs are the route's); not while the link is down. */
    @Override
    public CompletableFuture<byte[]> metadata(RoutePolicy route, RoutePolicy.Stage stage, long deadlineNanos) {
        if (uplink.open()) {
            return CompletableFuture.failedFuture(new TierFailure(TierFailure.Kind.CIRCUIT_OPEN, "the uplink is down"));
        }
        return uplink.http().get().uri("/v2/models/" + route.name())
                .responseSingle((response, content) -> content.asByteArray().defaultIfEmpty(new byte[0])
                        .flatMap(bytes -> response.status().code() == 200 ? Mono.just(bytes)
                                : Mono.error(new TierFailure(TierFailure.Kind.FAILED, "the gateway answered "
                                + response.status().code() + " for the metadata of route " + route.name()))))
                .timeout(Duration.ofNanos(Math.max(1, deadlineNanos - System.nanoTime())))
                .toFuture();
    }

    @Override
    public CompletableFuture<byte[]> metadata(RoutePolicy.Stage stage, long deadlineNanos) {
        return CompletableFuture.failedFuture(new IllegalStateException("the gateway serves routes, not stages"));
    }

    /**
     * The escalation's body: the stage's request with the routing facts added to its parameters,
     * as binary tensor data.
     */
    OipCodec.Encoded escalation(byte[] body, int jsonLength, TierCall call, long remainingNanos) {
        InferRequest request = codec.decodeRequest(body, jsonLength);
        Map<String, Object> parameters = new LinkedHashMap<>(request.parameters());
        parameters.put(ESCALATION, true);
        if (!device.isEmpty()) {
            parameters.put(DEVICE, device);
        }
        if (call.reason() != null) {
            parameters.put(REASON, call.reason().code());
        }
        if (call.edge() != null) {
            if (!call.edge().label().isEmpty()) {
                parameters.put(EDGE_LABEL, call.edge().label());
            }
            parameters.put(EDGE_CONFIDENCE, call.edge().confidence());
        }
        parameters.put(IDEMPOTENCY_KEY, idempotencyKey(call));
        parameters.put(DEADLINE_MS, Math.max(1, TimeUnit.NANOSECONDS.toMillis(remainingNanos)));
        return codec.encodeRequest(new InferRequest(request.id(), parameters, request.inputs(), request.outputs()), true);
    }

    /**
     * The device and the request's key (the client's id, or one the agent made when it gave none):
     * the same for the live attempt and any later replay of one request.
     */
    String idempotencyKey(TierCall call) {
        return (device.isEmpty() ? "device" : device) + "/" + call.key();
    }

    /** The gateway's reply, and whether it shed the escalation (503 with {@code Retry-After}, how long). */
    private record Sent(TierReply reply, String retryAfter) {
        boolean shed() {
            return reply.status() == 503 && retryAfter != null;
        }
    }

    private Mono<Sent> post(String route, OipCodec.Encoded escalation, Map<String, String> headers) {
        return uplink.http().post().uri("/v2/models/" + route + "/infer")
                .send((request, outbound) -> {
                    headers.forEach(request::header);
                    request.header(HttpHeaderNames.CONTENT_TYPE, "application/octet-stream");
                    request.header(OipCodec.HEADER_LENGTH, Integer.toString(escalation.jsonLength()));
                    request.header(dev.hybridge.oip.RoutingParameters.ESCALATION_HEADER, "true");
                    return outbound.send(Mono.fromSupplier(() -> Unpooled.wrappedBuffer(escalation.body())));
                })
                .responseSingle((response, content) -> {
                    String header = response.responseHeaders().get(OipCodec.HEADER_LENGTH);
                    int answerJsonLength = header == null ? -1 : Integer.parseInt(header.trim());
                    int status = response.status().code();
                    String retryAfter = response.responseHeaders().get(HttpHeaderNames.RETRY_AFTER);
                    return content.asByteArray().defaultIfEmpty(new byte[0])
                            .map(bytes -> new Sent(new TierReply(status, bytes, answerJsonLength, 0), retryAfter));
                });
    }

    private DistributionSummary summary(String route) {
        return sentBytes.computeIfAbsent(route, r -> DistributionSummary.builder("hybridge.edge.uplink.sent")
                .description("Bytes sent to the gateway per escalation (for split routes: the intermediate tensor)")
                .baseUnit("bytes").tag("route", r).register(meters));
    }

    private static String text(byte[] body) {
        String s = new String(body, 0, Math.min(body.length, 300), java.nio.charset.StandardCharsets.UTF_8);
        return s.isBlank() ? "(no body)" : s;
    }
}
