package dev.hybridge.policy;

import java.util.Set;

/**
 * What one tenant may spend and use.
 *
 * @param name      the tenant
 * @param budgetUsd what it may spend per budget window, across routes; infinite for no limit
 * @param whenSpent what happens to requests once the budget is spent
 * @param allowed   the tiers it may ask for with {@code hybridge.route}
 */
public record TenantPolicy(String name, double budgetUsd, WhenSpent whenSpent, Set<RequestedRoute> allowed) {

    /** What a route does for a tenant whose budget is spent. */
    public enum WhenSpent {
        /** Answer at the edge only (cloud-only routes then refuse with 429). */
        EDGE_ONLY("edge-only"),
        /** Refuse requests that would cost cloud money, with 429. */
        REJECT("reject");

        private final String wire;

        WhenSpent(String wire) {
            this.wire = wire;
        }

        public String wire() {
            return wire;
        }
    }

    public static TenantPolicy unlimited(String name) {
        return new TenantPolicy(name, Double.POSITIVE_INFINITY, WhenSpent.EDGE_ONLY, Set.of(RequestedRoute.values()));
    }
}
