package dev.hybridge.gateway;

import dev.hybridge.oip.OipCodec;
import dev.hybridge.policy.Reason;
import dev.hybridge.policy.Tier;
import dev.hybridge.policy.runtime.Deduplicator;
import dev.hybridge.policy.runtime.RouteAnswer;
import dev.hybridge.policy.runtime.RouteOutcome;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.Base64;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;
import org.springframework.data.redis.core.ReactiveStringRedisTemplate;

/**
 * The record of answered escalations in Redis, shared by every gateway replica and kept across a
 * gateway's restart ({@code hybridge.gateway.budget-store=redis}, where budgets are shared too):
 * {@code hybridge:escalation:<tenant>|<route>|<key>}.
 *
 * <p>The first sending claims the key (SET NX, with a short time to live while it runs), runs,
 * and on a success replaces the claim with the answer for {@code ttl}; a failure gives the key
 * up. A sending that finds an answer gets it back; one that finds a claim (the first still
 * running, on this replica or another) gets a 409, which an edge agent takes as "try again
 * later". A replica killed while it ran leaves its claim until the claim's time to live passes.
 * When Redis cannot be reached the escalation runs (counted in {@code result="unrecorded"}):
 * an answer is worth more than the guarantee.
 */
final class RedisEscalationRecord implements Deduplicator {

    private static final String PREFIX = "hybridge:escalation:";
    private static final String CLAIM = "running";

    private final ReactiveStringRedisTemplate redis;
    private final Duration ttl;
    private final Duration claimTtl;
    private final OipCodec codec;
    private final Counter answered;
    private final Counter duplicate;
    private final Counter busy;
    private final Counter unrecorded;

    RedisEscalationRecord(ReactiveStringRedisTemplate redis, Duration ttl, Duration claimTtl, OipCodec codec,
                          MeterRegistry registry) {
        this.redis = redis;
        this.ttl = ttl;
        this.claimTtl = claimTtl;
        this.codec = codec;
        this.answered = counter(registry, "answered");
        this.duplicate = counter(registry, "duplicate");
        this.busy = counter(registry, "in_progress");
        this.unrecorded = counter(registry, "unrecorded");
    }

    private static Counter counter(MeterRegistry registry, String result) {
        return Counter.builder("hybridge.gateway.escalations").tag("result", result)
                .description("Escalations by what the record of answers made of them").register(registry);
    }

    @Override
    public CompletableFuture<RouteAnswer> once(String key, Supplier<CompletableFuture<RouteAnswer>> work) {
        String redisKey = PREFIX + key;
        return redis.opsForValue().setIfAbsent(redisKey, CLAIM, claimTtl)
                .timeout(Duration.ofSeconds(1))
                .toFuture()
                .handle((claimed, redisDown) -> {
                    if (redisDown != null) {
                        unrecorded.increment();
                        return work.get();
                    }
                    if (Boolean.TRUE.equals(claimed)) {
                        answered.increment();
                        return work.get().thenCompose(answer -> (answer.outcome().status() == 200
                                ? redis.opsForValue().set(redisKey, encode(answer), ttl)
                                : redis.delete(redisKey).map(n -> true))
                                .timeout(Duration.ofSeconds(1)).onErrorReturn(false).toFuture().thenApply(done -> answer));
                    }
                    return redis.opsForValue().get(redisKey).timeout(Duration.ofSeconds(1)).defaultIfEmpty(CLAIM)
                            .toFuture().thenCompose(value -> {
                                if (CLAIM.equals(value)) {
                                    busy.increment();
                                    return CompletableFuture.completedFuture(inProgress(key));
                                }
                                duplicate.increment();
                                return CompletableFuture.completedFuture(decode(value));
                            });
                })
                .thenCompose(f -> f);
    }

    private RouteAnswer inProgress(String key) {
        String route = key.split("\\|", 3).length > 1 ? key.split("\\|", 3)[1] : "";
        return new RouteAnswer(new RouteOutcome(route, null, null, null, 0, false, 409),
                codec.encodeError("this escalation is being answered (a sending of the same idempotency key is still"
                        + " running); send it again later"), -1);
    }

    static String encode(RouteAnswer answer) {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream(answer.body().length + 64);
            DataOutputStream out = new DataOutputStream(bytes);
            RouteOutcome o = answer.outcome();
            out.writeUTF(o.route());
            out.writeUTF(o.tier() == null ? "" : o.tier().name());
            out.writeUTF(o.reason() == null ? "" : o.reason().name());
            out.writeDouble(o.confidence() == null ? Double.NaN : o.confidence());
            out.writeDouble(o.costUsd());
            out.writeBoolean(o.degraded());
            out.writeInt(o.status());
            out.writeInt(answer.jsonLength());
            out.writeInt(answer.body().length);
            out.write(answer.body());
            return Base64.getEncoder().encodeToString(bytes.toByteArray());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static RouteAnswer decode(String text) {
        try {
            DataInputStream in = new DataInputStream(new ByteArrayInputStream(Base64.getDecoder().decode(text)));
            String route = in.readUTF();
            String tier = in.readUTF();
            String reason = in.readUTF();
            double confidence = in.readDouble();
            double cost = in.readDouble();
            boolean degraded = in.readBoolean();
            int status = in.readInt();
            int jsonLength = in.readInt();
            byte[] body = in.readNBytes(in.readInt());
            return new RouteAnswer(new RouteOutcome(route, tier.isEmpty() ? null : Tier.valueOf(tier),
                    reason.isEmpty() ? null : Reason.valueOf(reason), Double.isNaN(confidence) ? null : confidence, cost,
                    degraded, status), body, jsonLength);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
