package dev.hybridge.edge;

import dev.hybridge.oip.InferResponse;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.policy.EdgeOutcome;
import dev.hybridge.policy.Reason;
import dev.hybridge.policy.runtime.TierCall;
import dev.hybridge.policy.runtime.TierFailure;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Drains the outbox while the link is up: entries by priority then age, at most
 * {@code replay-rate} a second and {@code replay-concurrent} at once, and never in the places of
 * {@code uplink.max-concurrent} kept for live escalations ({@code live-reserve}). Each goes to the
 * gateway as the escalation it would have been, with the same idempotency key, so that one the
 * gateway already answered is answered again from its record, not by the cloud a second time.
 *
 * <p>While the breaker is half-open (the link on trial) one entry at a time goes, so that live
 * escalations keep the other trial calls. An entry leaves the outbox only once the gateway has answered it. A failed attempt (link,
 * 5xx, a busy or declining gateway) waits, doubling from {@code first-backoff} to
 * {@code max-backoff}; a request the gateway refuses as such (400, 404, 413) is dropped, counted.
 * Whether the cloud's label agrees with the one the caller got is counted per route.
 */
final class Replayer {

    private static final Logger log = LoggerFactory.getLogger(Replayer.class);

    private final Outbox outbox;
    private final UplinkTier tier;
    private final Uplink uplink;
    private final OipCodec codec;
    private final EdgeProperties.Outbox config;
    private final String tenant;
    private final String device;
    private final MeterRegistry meters;
    /** Entries sent and not yet settled: a later pass leaves them alone. */
    private final java.util.Set<String> sending = ConcurrentHashMap.newKeySet();
    private final Map<String, Counter> agreement = new ConcurrentHashMap<>();
    private long windowStart = System.nanoTime();
    private int sentInWindow;

    Replayer(Outbox outbox, UplinkTier tier, Uplink uplink, OipCodec codec, EdgeProperties.Outbox config, String tenant,
             String device, MeterRegistry meters) {
        this.outbox = outbox;
        this.tier = tier;
        this.uplink = uplink;
        this.codec = codec;
        this.config = config;
        this.tenant = tenant;
        this.device = device;
        this.meters = meters;
    }

    /**
     * Passes one after another while each finds something to send and the rate allows: a backlog
     * drains at the configured rate, not one pass per scheduling interval. Called on a schedule.
     */
    void drainAll() {
        while (drain().join() > 0) {
            // the next pass at once
        }
    }

    /**
     * One pass: sends what is due and allowed now. Never throws. Completes, when the sends of this
     * pass have ended, with how many it sent.
     */
    synchronized CompletableFuture<Integer> drain() {
        try {
            if (!uplink.configured() || uplink.open()) {
                return CompletableFuture.completedFuture(0);
            }
            long now = System.nanoTime();
            if (now - windowStart >= 1_000_000_000L) {
                windowStart = now;
                sentInWindow = 0;
            }
            int room = Math.min(config.replayConcurrent() - sending.size(), config.replayRate() - sentInWindow);
            if (uplink.breaker().getState() == io.github.resilience4j.circuitbreaker.CircuitBreaker.State.HALF_OPEN) {
                // the link on trial: one entry at a time, the other trial calls left to live escalations
                room = Math.min(room, 1 - sending.size());
            }
            if (room <= 0) {
                return CompletableFuture.completedFuture(0);
            }
            List<CompletableFuture<Void>> sends = new java.util.ArrayList<>();
            for (Outbox.Entry entry : outbox.due(room + sending.size()).join()) {
                if (sends.size() == room || !sending.add(entry.id())) {
                    continue; // still on its way from an earlier pass
                }
                sentInWindow++;
                sends.add(send(entry).whenComplete((done, e) -> sending.remove(entry.id())));
            }
            int sent = sends.size();
            return CompletableFuture.allOf(sends.toArray(CompletableFuture[]::new)).thenApply(done -> sent);
        } catch (RuntimeException e) {
            log.warn("Outbox replay pass failed: {}", e.toString());
            return CompletableFuture.completedFuture(0);
        }
    }

    private CompletableFuture<Void> send(Outbox.Entry entry) {
        Reason reason = reason(entry.reason());
        EdgeOutcome edge = entry.edgeLabel() == null || Double.isNaN(entry.edgeConfidence()) ? null
                : new EdgeOutcome(entry.edgeConfidence(), 0, 0, entry.edgeLabel());
        TierCall call = new TierCall(entry.route(), entry.requestId(), entry.key(), tenant, device, reason, edge,
                entry.trace());
        return tier.replay(entry.body(), entry.jsonLength(), call, config.liveReserve()).handle((reply, failure) -> {
            if (failure != null) {
                Throwable e = failure.getCause() != null && failure instanceof java.util.concurrent.CompletionException
                        ? failure.getCause() : failure;
                if (e instanceof TierFailure tf && tf.kind() == TierFailure.Kind.BUSY) {
                    // no room now (live escalations first): due again at once, no attempt counted
                    return CompletableFuture.<Void>completedFuture(null);
                }
                return outbox.retryLater(entry.id(), backoff(entry.attempts()), e.getMessage());
            }
            if (reply.ok()) {
                InferResponse answer = codec.decodeResponse(reply.body(), reply.jsonLength());
                Object label = answer.parameters().get("hybridge.label");
                Boolean agreed = label == null || entry.edgeLabel() == null ? null : label.toString().equals(entry.edgeLabel());
                if (agreed != null) {
                    agreement.computeIfAbsent(entry.route() + '|' + agreed, k -> Counter.builder("hybridge.outbox.agreement")
                            .description("Deferred escalations answered by the cloud, by whether its label agreed with"
                                    + " the edge answer the caller got")
                            .tag("route", entry.route()).tag("agreed", agreed.toString()).register(meters)).increment();
                }
                return outbox.answered(entry.id(), reply.body(), reply.jsonLength(), label == null ? null : label.toString(),
                        agreed);
            }
            return outbox.drop(entry.id(), "the gateway refused it (" + reply.status() + "): "
                    + new String(reply.body(), 0, Math.min(reply.body().length, 300), java.nio.charset.StandardCharsets.UTF_8));
        }).thenCompose(f -> f).exceptionally(e -> {
            log.warn("Outbox entry {}: {}", entry.id(), e.toString());
            return null;
        });
    }

    private Duration backoff(int attempts) {
        long millis = config.firstBackoff().toMillis() << Math.min(20, attempts);
        return Duration.ofMillis(Math.min(config.maxBackoff().toMillis(), millis));
    }

    private static Reason reason(String code) {
        if (code != null) {
            for (Reason r : Reason.values()) {
                if (r.code().equals(code)) {
                    return r;
                }
            }
        }
        return Reason.LOW_CONFIDENCE;
    }
}
