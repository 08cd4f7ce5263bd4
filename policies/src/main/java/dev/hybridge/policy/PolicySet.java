package dev.hybridge.policy;

import java.util.Map;
import java.util.TreeMap;

/** Every route of a policy folder and its tenants file, as loaded together. */
public record PolicySet(Map<String, RoutePolicy> routes, TenantPolicies tenants) {

    public PolicySet {
        routes = java.util.Collections.unmodifiableMap(new TreeMap<>(routes));
    }

    public RoutePolicy route(String name) {
        return routes.get(name);
    }
}
