package dev.hybridge.policy.internal;

import dev.hybridge.policy.RoutePolicy.LatencySpec;
import java.time.Clock;
import java.util.Arrays;

/**
 * A high percentile of the most recent cloud round trips, in milliseconds, exact at every read.
 *
 * <p>The last {@code window} round trips are kept twice: in arrival order (a ring, with their
 * times) and sorted. Recording one moves at most {@code window} values (tens of nanoseconds for
 * a few hundred); reading the percentile is an index into the sorted copy. Round trips older than
 * {@code maxAge} are dropped when the estimate is read; with none left the initial estimate
 * applies.
 */
public final class LatencyEstimate {

    private final LatencySpec spec;
    private final Clock clock;
    private final double[] ring;
    private final long[] at;
    private final double[] sorted;
    private int oldest;
    private int size;

    public LatencyEstimate(LatencySpec spec, Clock clock) {
        this.spec = spec;
        this.clock = clock;
        this.ring = new double[spec.window()];
        this.at = new long[spec.window()];
        this.sorted = new double[spec.window()];
    }

    public LatencySpec spec() {
        return spec;
    }

    public synchronized void record(double roundTripMillis) {
        if (size == ring.length) {
            removeOldest();
        }
        int slot = (oldest + size) % ring.length;
        ring[slot] = roundTripMillis;
        at[slot] = clock.millis();
        int i = Arrays.binarySearch(sorted, 0, size, roundTripMillis);
        int insert = i >= 0 ? i : -i - 1;
        System.arraycopy(sorted, insert, sorted, insert + 1, size - insert);
        sorted[insert] = roundTripMillis;
        size++;
    }

    /** The estimated cloud round trip, in milliseconds. */
    public synchronized double millis() {
        long expired = clock.millis() - spec.maxAge().toMillis();
        while (size > 0 && at[oldest] < expired) {
            removeOldest();
        }
        if (size == 0) {
            return spec.initial().toNanos() / 1e6;
        }
        int index = (int) Math.ceil(spec.percentile() / 100 * size) - 1;
        return sorted[Math.max(0, Math.min(size - 1, index))];
    }

    private void removeOldest() {
        double value = ring[oldest];
        int i = Arrays.binarySearch(sorted, 0, size, value);
        System.arraycopy(sorted, i + 1, sorted, i, size - i - 1);
        oldest = (oldest + 1) % ring.length;
        size--;
    }
}
