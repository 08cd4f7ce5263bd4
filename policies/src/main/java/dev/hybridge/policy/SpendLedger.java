package dev.hybridge.policy;

import java.time.Clock;
import java.time.Duration;

/**
 * Where tenants' spending is kept, per budget window. Decisions read it on every request, so
 * {@link #spentUsd} must answer from memory and never block; a shared implementation (several
 * gateway replicas) keeps a local view that it brings up to date in the background.
 */
public interface SpendLedger {

    /** What the tenant has spent in the current window, in USD. */
    double spentUsd(String tenant, Duration window);

    /** Adds what an answer cost to the tenant's spending in the current window. */
    void charge(String tenant, Duration window, double usd);

    /**
     * {@link #charge}, once per {@code once}: a second charge under the same key is not counted
     * (an escalation sent again after a gateway died between charging it and recording its
     * answer). A store that outlives the process keeps the keys; this default, for one that does
     * not, charges every time (its spending is lost with the process anyway).
     *
     * @param once a key, or null for an ordinary charge
     */
    default void charge(String tenant, Duration window, double usd, String once) {
        charge(tenant, window, usd);
    }

    /** Spending kept in this process's memory: each replica of a program enforces budgets on its own. */
    static SpendLedger inMemory(Clock clock) {
        return new dev.hybridge.policy.internal.BudgetLedger(clock);
    }

    /** Whether spending {@code costUsd} more stays within {@code budgetUsd}. */
    default boolean fits(String tenant, Duration window, double budgetUsd, double costUsd) {
        return Double.isInfinite(budgetUsd) || spentUsd(tenant, window) + costUsd <= budgetUsd + 1e-12;
    }
}
