package dev.hybridge.policy.internal;

import dev.hybridge.policy.RoutePolicy.LatencySpec;
import java.time.Clock;
import java.util.Arrays;

/**
 * A high percentile of the most recent cloud round trips, in milliseconds. Recording is O(1);
 * the percentile is recomputed (a sort of at most {@code window} values) every 16 records or
 * when read after a second without one, so reading it is usually a field read. Round trips
 * older than {@code maxAge} stop counting; with none left the initial estimate applies.
 */
public final class LatencyEstimate {

    private static final int RECOMPUTE_EVERY = 16;
    private static final long RECOMPUTE_AFTER_MILLIS = 1_000;

    private final LatencySpec spec;
    private final Clock clock;
    private final double[] millis;
    private final long[] at;
    private int next;
    private int size;
    private int sinceRecompute;
    private long computedAt;
    private volatile double estimate;

    public LatencyEstimate(LatencySpec spec, Clock clock) {
        this.spec = spec;
        this.clock = clock;
        this.millis = new double[spec.window()];
        this.at = new long[spec.window()];
        this.estimate = spec.initial().toNanos() / 1e6;
        this.computedAt = clock.millis();
    }

    public LatencySpec spec() {
        return spec;
    }

    public void record(double roundTripMillis) {
        long now = clock.millis();
        synchronized (this) {
            millis[next] = roundTripMillis;
            at[next] = now;
            next = next + 1 == millis.length ? 0 : next + 1;
            size = Math.min(size + 1, millis.length);
            if (++sinceRecompute >= RECOMPUTE_EVERY) {
                recompute(now);
            }
        }
    }

    /** The estimated cloud round trip, in milliseconds. */
    public double millis() {
        long now = clock.millis();
        if (now - computedAt > RECOMPUTE_AFTER_MILLIS) {
            synchronized (this) {
                if (now - computedAt > RECOMPUTE_AFTER_MILLIS) {
                    recompute(now);
                }
            }
        }
        return estimate;
    }

    private void recompute(long now) {
        sinceRecompute = 0;
        computedAt = now;
        long oldest = now - spec.maxAge().toMillis();
        double[] recent = new double[size];
        int n = 0;
        for (int i = 0; i < size; i++) {
            if (at[i] >= oldest) {
                recent[n++] = millis[i];
            }
        }
        if (n == 0) {
            estimate = spec.initial().toNanos() / 1e6;
            return;
        }
        Arrays.sort(recent, 0, n);
        int index = (int) Math.ceil(spec.percentile() / 100 * n) - 1;
        estimate = recent[Math.max(0, Math.min(n - 1, index))];
    }
}
