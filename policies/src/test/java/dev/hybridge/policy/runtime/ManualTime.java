package dev.hybridge.policy.runtime;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.LongSupplier;

/** Time the test moves by hand: the wall clock, the nano clock and the timers on it, together. */
final class ManualTime extends Clock implements LongSupplier, RouteRuntime.Timer {

    private record Pending(long at, CompletableFuture<Void> fires) {
    }

    private final List<Pending> pending = new CopyOnWriteArrayList<>();
    private volatile long nanos = 1_000_000_000L;
    private final Instant epoch = Instant.parse("2026-11-28T10:00:00Z");

    void advance(Duration d) {
        nanos += d.toNanos();
        for (Pending p : pending) {
            if (p.at() <= nanos) {
                pending.remove(p);
                p.fires().complete(null);
            }
        }
    }

    /** Timers not yet fired nor cancelled. */
    long pendingTimers() {
        return pending.stream().filter(p -> !p.fires().isDone()).count();
    }

    @Override
    public CompletableFuture<Void> at(long when) {
        CompletableFuture<Void> fires = new CompletableFuture<>();
        if (when <= nanos) {
            fires.complete(null);
        } else {
            pending.add(new Pending(when, fires));
        }
        return fires;
    }

    @Override
    public long getAsLong() {
        return nanos;
    }

    @Override
    public ZoneId getZone() {
        return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
        return this;
    }

    @Override
    public Instant instant() {
        return epoch.plusNanos(nanos);
    }
}
