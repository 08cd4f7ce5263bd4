package dev.hybridge.policy.internal;

import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What each tenant has spent in the current budget window, in nano-dollars. Windows are aligned
 * to the epoch (an hourly window is each clock hour, the same on every replica). In memory, one
 * per process: with several gateway replicas each holds its own share, so a budget is enforced
 * per replica (see the gateway's notes on sharing it).
 *
 * <p>Spend is checked before a request goes to the cloud and charged once it is answered, so
 * requests in flight at the moment a budget runs out can overshoot it by their own cost.
 */
public final class BudgetLedger {

    private static final double NANOS_PER_USD = 1e9;

    private final Clock clock;
    private final ConcurrentHashMap<String, Spend> spend = new ConcurrentHashMap<>();

    public BudgetLedger(Clock clock) {
        this.clock = clock;
    }

    private static final class Spend {
        volatile long window = Long.MIN_VALUE;
        final AtomicLong nanoUsd = new AtomicLong();

        long current(long windowIndex) {
            if (window != windowIndex) {
                synchronized (this) {
                    if (window != windowIndex) {
                        nanoUsd.set(0);
                        window = windowIndex;
                    }
                }
            }
            return nanoUsd.get();
        }
    }

    private long windowIndex(Duration window) {
        return Math.floorDiv(clock.millis(), window.toMillis());
    }

    /** What the tenant has spent in the current window, in USD. */
    public double spentUsd(String tenant, Duration window) {
        Spend s = spend.get(tenant);
        return s == null ? 0 : s.current(windowIndex(window)) / NANOS_PER_USD;
    }

    /** Whether spending {@code costUsd} more stays within {@code budgetUsd}. */
    public boolean fits(String tenant, Duration window, double budgetUsd, double costUsd) {
        if (Double.isInfinite(budgetUsd)) {
            return true;
        }
        return spentUsd(tenant, window) + costUsd <= budgetUsd + 1e-12;
    }

    public void charge(String tenant, Duration window, double costUsd) {
        if (costUsd <= 0) {
            return;
        }
        Spend s = spend.computeIfAbsent(tenant, t -> new Spend());
        long index = windowIndex(window);
        s.current(index);
        s.nanoUsd.addAndGet(Math.round(costUsd * NANOS_PER_USD));
    }
}
