package dev.hybridge.policy;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * The tenants' budgets and rights, from {@code tenants.yaml} in the policy folder. A tenant
 * that is not listed gets {@code defaults}.
 *
 * @param source   the file, or {@code null} when the folder has none (no budgets, every tier allowed)
 * @param window   budgets are per window of this length, aligned to the epoch (e.g. each clock hour)
 * @param defaults the rules for tenants not listed
 * @param tenants  the listed tenants
 */
public record TenantPolicies(Path source, Duration window, TenantPolicy defaults, Map<String, TenantPolicy> tenants) {

    public static final TenantPolicies UNLIMITED = new TenantPolicies(null, Duration.ofHours(1),
            TenantPolicy.unlimited("*"), Map.of());

    public TenantPolicies {
        tenants = Map.copyOf(tenants);
    }

    public TenantPolicy of(String tenant) {
        TenantPolicy policy = tenants.get(tenant);
        return policy != null ? policy : defaults;
    }
}
