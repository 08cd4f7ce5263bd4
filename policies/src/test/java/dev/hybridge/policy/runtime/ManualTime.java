package dev.hybridge.policy.runtime;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.LongSupplier;

/** Time the test moves by hand: the wall clock, the nano clock and the timers on it, together. */
final class ManualTime extends Clock implements LongSupplier, RouteRuntime.Timer {

    private record Pending(long at, Runnable action) {
    }

    private final List<Pending> pending = new CopyOnWriteArrayList<>();
    private volatile long nanos = 1_000_000_000L;
    private final Instant epoch = Instant.parse("2026-11-28T10:00:00Z");

    void advance(Duration d) {
        nanos += d.toNanos();
        for (Pending p : pending) {
            if (p.at() <= nanos && pending.remove(p)) {
                p.action().run();
            }
        }
    }

    /** Timers not yet fired nor cancelled. */
    long pendingTimers() {
        return pending.size();
    }

    @Override
    public RouteRuntime.Cancellable at(long when, Runnable action) {
        if (when <= nanos) {
            action.run();
            return () -> { };
        }
        Pending p = new Pending(when, action);
        pending.add(p);
        return () -> pending.remove(p);
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
