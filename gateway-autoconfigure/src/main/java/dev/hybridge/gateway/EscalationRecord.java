package dev.hybridge.gateway;

import dev.hybridge.policy.runtime.Deduplicator;
import dev.hybridge.policy.runtime.RouteAnswer;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * The escalations this gateway has answered, by idempotency key, kept for {@code ttl} (at least
 * the longest time an edge agent keeps an escalation waiting, so that any replay finds its
 * answer): a replay of an answered key gets that answer back without a cloud call and without a
 * second charge, and two sendings of one key at the same time share one run. Only successes are
 * recorded; a failed run leaves the key free for the next try.
 *
 * <p>In this gateway's memory, bounded by {@code maxKeys}: when full, the oldest records go first
 * (counted in {@code hybridge.gateway.escalations{result="evicted"}}), and a replay of an evicted
 * key would run again. Gateway replicas each keep their own.
 */
final class EscalationRecord implements Deduplicator {

    private record Entry(CompletableFuture<RouteAnswer> answer, long recordedMillis) {
    }

    private final Map<String, Entry> entries = new ConcurrentHashMap<>();
    private final Clock clock;
    private final Duration ttl;
    private final int maxKeys;
    private final Counter answered;
    private final Counter duplicate;
    private final Counter evicted;

    EscalationRecord(Clock clock, Duration ttl, int maxKeys, MeterRegistry registry) {
        this.clock = clock;
        this.ttl = ttl;
        this.maxKeys = maxKeys;
        this.answered = counter(registry, "answered", "Escalations run for the first time");
        this.duplicate = counter(registry, "duplicate", "Escalations answered from the record of an earlier sending");
        this.evicted = counter(registry, "evicted", "Records dropped to stay within max-keys before their time");
        Gauge.builder("hybridge.gateway.escalations.recorded", entries, Map::size)
                .description("Escalation answers on record").register(registry);
    }

    private static Counter counter(MeterRegistry registry, String result, String description) {
        return Counter.builder("hybridge.gateway.escalations").tag("result", result).description(description)
                .register(registry);
    }

    @Override
    public CompletableFuture<RouteAnswer> once(String key, Supplier<CompletableFuture<RouteAnswer>> work) {
        long now = clock.millis();
        CompletableFuture<RouteAnswer> mine = new CompletableFuture<>();
        Entry fresh = new Entry(mine, now);
        Entry existing = entries.compute(key, (k, old) -> old == null || now - old.recordedMillis() > ttl.toMillis()
                ? fresh : old);
        if (existing != fresh) {
            duplicate.increment();
            return existing.answer();
        }
        answered.increment();
        if (entries.size() > maxKeys) {
            evictOldest();
        }
        work.get().whenComplete((answer, failure) -> {
            if (failure != null || answer.outcome().status() != 200) {
                entries.remove(key, fresh); // not an effect to keep: the next sending runs again
            }
            if (failure != null) {
                mine.completeExceptionally(failure);
            } else {
                mine.complete(answer);
            }
        });
        return mine;
    }

    /** Forgets records older than the time to live. */
    void expire() {
        long now = clock.millis();
        entries.values().removeIf(e -> now - e.recordedMillis() > ttl.toMillis() && e.answer().isDone());
    }

    private void evictOldest() {
        String oldest = null;
        long at = Long.MAX_VALUE;
        for (Iterator<Map.Entry<String, Entry>> it = entries.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<String, Entry> e = it.next();
            if (e.getValue().recordedMillis() < at && e.getValue().answer().isDone()) {
                at = e.getValue().recordedMillis();
                oldest = e.getKey();
            }
        }
        if (oldest != null && entries.remove(oldest) != null) {
            evicted.increment();
        }
    }
}
