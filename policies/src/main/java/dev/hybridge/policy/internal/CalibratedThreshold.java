package dev.hybridge.policy.internal;

import dev.hybridge.policy.RoutePolicy.ThresholdSpec;

/**
 * A confidence threshold that follows the edge's recent confidences so that about the target
 * share of requests falls under it (and escalates), kept within bounds.
 *
 * <p>The last {@code window} scores sit in a ring and in a 1000-bin histogram over the
 * threshold's range [min, max] (scores outside it count in the end bins);
 * recording one is O(1). The threshold is the histogram's target-rate quantile, recomputed every
 * 32 records (a scan of the bins), so reading it is a field read. Until {@code minSamples}
 * confidences are known, the starting value applies.
 */
public final class CalibratedThreshold {

    private static final int BINS = 1000;
    private static final int RECOMPUTE_EVERY = 32;

    private final ThresholdSpec spec;
    private final short[] ring;
    /** BINS over [min, max), plus one for the scores below min (first) and one for those at max or above (last). */
    private final int[] histogram = new int[BINS + 2];
    private int next;
    private int size;
    private int sinceRecompute;
    private volatile double current;

    public CalibratedThreshold(ThresholdSpec spec) {
        if (!spec.calibrated()) {
            throw new IllegalArgumentException("not a calibrated threshold: " + spec);
        }
        this.spec = spec;
        this.ring = new short[spec.window()];
        this.current = spec.value();
    }

    public ThresholdSpec spec() {
        return spec;
    }

    public double current() {
        return current;
    }

    public void record(double score) {
        double span = spec.max() - spec.min();
        int bin = score < spec.min() ? 0 : score >= spec.max() || span <= 0 ? BINS + 1
                : 1 + (int) Math.min(BINS - 1, (score - spec.min()) / span * BINS);
        synchronized (this) {
            if (size == ring.length) {
                histogram[ring[next]]--;
            } else {
                size++;
            }
            ring[next] = (short) bin;
            histogram[bin]++;
            next = next + 1 == ring.length ? 0 : next + 1;
            if (++sinceRecompute >= RECOMPUTE_EVERY && size >= spec.minSamples()) {
                sinceRecompute = 0;
                current = quantile();
            }
        }
    }

    /** The score under which {@code targetRate} of the window lies, clamped to the bounds. */
    private double quantile() {
        long wanted = Math.round(spec.targetRate() * size);
        long below = 0;
        int bin = 0;
        while (bin < BINS + 1 && below + histogram[bin] <= wanted) {
            below += histogram[bin];
            bin++;
        }
        // escalation is "score < threshold": the lower edge of the first bin not wholly escalated
        double threshold = bin == 0 ? spec.min() : spec.min() + (spec.max() - spec.min()) * (bin - 1) / BINS;
        return Math.max(spec.min(), Math.min(spec.max(), threshold));
    }
}
