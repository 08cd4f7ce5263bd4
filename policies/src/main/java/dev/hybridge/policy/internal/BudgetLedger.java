package dev.hybridge.policy.internal;

import dev.hybridge.policy.SpendLedger;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What each tenant has spent in the current budget window, in nano-dollars, in this process's
 * memory. Windows are aligned to the epoch (an hourly window is each clock hour, the same on
 * every replica). With several gateway replicas each holds its own share, so a budget is enforced
 * per replica; the gateway's Redis ledger shares it instead.
 *
 * <p>Spend is checked before a request goes to the cloud and charged once it is answered, so
 * requests in flight at the moment a budget runs out can overshoot it by their own cost.
 */
public final class BudgetLedger implements SpendLedger {

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

    @Override
    public double spentUsd(String tenant, Duration window) {
        Spend s = spend.get(tenant);
        return s == null ? 0 : s.current(windowIndex(window)) / NANOS_PER_USD;
    }

    @Override
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
