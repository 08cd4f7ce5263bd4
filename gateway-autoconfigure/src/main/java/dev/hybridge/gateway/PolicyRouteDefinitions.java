package dev.hybridge.gateway;

import dev.hybridge.policy.PolicyEngine;
import java.net.URI;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.springframework.cloud.gateway.filter.FilterDefinition;
import org.springframework.cloud.gateway.handler.predicate.PredicateDefinition;
import org.springframework.cloud.gateway.route.RouteDefinition;
import org.springframework.cloud.gateway.route.RouteDefinitionLocator;
import org.springframework.core.Ordered;
import reactor.core.publisher.Flux;

/**
 * Every route of the policy folder as a Spring Cloud Gateway route: {@code POST
 * /v2/models/<route>/infer}, run by the {@code Hybridge} filter. They are listed by
 * {@code /actuator/gateway/routes} (id {@code hybridge-<route>}, metadata {@code hybridge.kind}),
 * take the operator's {@code default-filters}, and are built again when the policy folder
 * changes. A route the operator declares in {@code spring.cloud.gateway.server.webflux.routes}
 * with a {@code Hybridge=<route>} filter replaces the generated one for that policy route.
 */
final class PolicyRouteDefinitions implements RouteDefinitionLocator {

    /** The id of the Spring Cloud Gateway route generated for a policy route. */
    static String routeId(String route) {
        return "hybridge-" + route;
    }

    private final PolicyEngine policies;
    private final org.springframework.cloud.gateway.config.GatewayProperties gateway;

    PolicyRouteDefinitions(PolicyEngine policies, org.springframework.cloud.gateway.config.GatewayProperties gateway) {
        this.policies = policies;
        this.gateway = gateway;
    }

    @Override
    public Flux<RouteDefinition> getRouteDefinitions() {
        Set<String> declared = declaredByOperator();
        return Flux.fromIterable(policies.current().routes().values())
                .filter(policy -> !declared.contains(policy.name()))
                .map(policy -> {
                    RouteDefinition definition = new RouteDefinition();
                    definition.setId(routeId(policy.name()));
                    definition.setUri(URI.create("hybridge:" + policy.name()));
                    definition.setPredicates(List.of(new PredicateDefinition("Path=/v2/models/" + policy.name() + "/infer"),
                            new PredicateDefinition("Method=POST")));
                    definition.setFilters(List.of(new FilterDefinition("Hybridge=" + policy.name())));
                    definition.setMetadata(Map.of("hybridge.kind", policy.kind().wire()));
                    // after the operator's own routes, which may take the same requests
                    definition.setOrder(Ordered.LOWEST_PRECEDENCE - 1000);
                    return definition;
                });
    }

    /** Policy routes the operator runs on routes of their own ({@code Hybridge=<route>} in their filters). */
    private Set<String> declaredByOperator() {
        Set<String> names = new HashSet<>();
        for (RouteDefinition route : gateway.getRoutes()) {
            for (FilterDefinition filter : route.getFilters()) {
                if (filter.getName().equals("Hybridge")) {
                    filter.getArgs().values().stream().findFirst().ifPresent(names::add);
                }
            }
        }
        return names;
    }
}
