package dev.hybridge.gateway;

import dev.hybridge.policy.runtime.RouteOutcome;
import dev.hybridge.policy.runtime.RouteRuntime;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The gateway's own meters. Tags are few and bounded: route (routes come from policy files;
 * requests for unknown routes are counted under {@code unknown}), tier, reason, status class.
 * Meters are made once per tag combination and then looked up, never built per request.
 *
 * <ul>
 *   <li>{@code hybridge.gateway.requests} (timer): route, tier (edge, cloud, none), reason (a
 *       decision's reason code, or {@code refused} for requests turned away before any tier was
 *       asked: API key, malformed request, unknown route, too large), status (2xx, 4xx, 5xx),
 *       degraded;</li>
 *   <li>{@code hybridge.gateway.shadow} (counter): route, result (agreed, disagreed, failed).</li>
 * </ul>
 * Resilience4j's own meters (breaker state and calls per worker, bulkhead, retries) are bound
 * by {@link GatewayConfiguration}.
 */
final class GatewayMetrics implements RouteRuntime.Listener {

    private final MeterRegistry registry;
    private final Map<String, Timer> timers = new ConcurrentHashMap<>();
    private final Map<String, Counter> shadows = new ConcurrentHashMap<>();
    private final java.util.function.Predicate<String> knownRoute;

    GatewayMetrics(MeterRegistry registry, java.util.function.Predicate<String> knownRoute) {
        this.registry = registry;
        this.knownRoute = knownRoute;
    }

    /** A request the route runtime answered, from its outcome. */
    void record(RouteOutcome outcome, long nanos) {
        String routeTag = knownRoute.test(outcome.route()) ? outcome.route() : "unknown";
        String tier = outcome.tier() == null ? "none" : outcome.tier().wire();
        String reason = outcome.reason() == null ? "none" : outcome.reason().code();
        String status = outcome.status() / 100 + "xx";
        String degraded = Boolean.toString(outcome.degraded());
        String key = routeTag + '|' + tier + '|' + reason + '|' + status + '|' + degraded;
        timers.computeIfAbsent(key, k -> Timer.builder("hybridge.gateway.requests")
                .description("Requests answered by the gateway, by where and why")
                .tag("route", routeTag).tag("tier", tier).tag("reason", reason).tag("status", status)
                .tag("degraded", degraded)
                .register(registry)).record(nanos, TimeUnit.NANOSECONDS);
    }

    /** A request refused before any tier was asked (bad key, bad request, unknown route, too large). */
    void refused(String route, int status, long nanos) {
        String routeTag = knownRoute.test(route) ? route : "unknown";
        String key = routeTag + "|none|refused|" + status / 100 + "xx|false";
        timers.computeIfAbsent(key, k -> Timer.builder("hybridge.gateway.requests")
                .description("Requests answered by the gateway, by where and why")
                .tag("route", routeTag).tag("tier", "none").tag("reason", "refused").tag("status", status / 100 + "xx")
                .tag("degraded", "false")
                .register(registry)).record(nanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public void answered(RouteOutcome outcome, long nanos) {
        record(outcome, nanos);
    }

    @Override
    public void shadow(String route, RouteRuntime.ShadowResult result) {
        shadows.computeIfAbsent(route + '|' + result.wire(), k -> Counter.builder("hybridge.gateway.shadow")
                .description("Shadow samples sent to the cloud, by whether its label agreed with the edge's")
                .tag("route", route).tag("result", result.wire())
                .register(registry)).increment();
    }
}
