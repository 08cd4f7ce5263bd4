package dev.hybridge.policy.metrics;

/**
 * The share of the last {@code size} yes/no events that were yes: a ring of flags and a running
 * count, so recording is O(1) and reading is a division.
 */
final class RecentShare {

    private final boolean[] ring;
    private int next;
    private int filled;
    private int yes;

    RecentShare(int size) {
        if (size < 1) {
            throw new IllegalArgumentException("size must be at least 1: " + size);
        }
        this.ring = new boolean[size];
    }

    synchronized void record(boolean event) {
        if (filled == ring.length) {
            if (ring[next]) {
                yes--;
            }
        } else {
            filled++;
        }
        ring[next] = event;
        if (event) {
            yes++;
        }
        next = next + 1 == ring.length ? 0 : next + 1;
    }

    /** The share of yes among the events kept, or NaN before the first. */
    synchronized double share() {
        return filled == 0 ? Double.NaN : (double) yes / filled;
    }
}
