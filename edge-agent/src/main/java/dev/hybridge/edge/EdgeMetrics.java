package dev.hybridge.edge;

import dev.hybridge.policy.runtime.RouteOutcome;
import dev.hybridge.policy.runtime.RouteRuntime;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The agent's route meters, made once per tag combination (routes come from policy files, the
 * other tags from fixed sets):
 * <ul>
 *   <li>{@code hybridge.edge.requests} (timer): route, tier (edge, cloud, none), reason, status
 *       class, degraded;</li>
 *   <li>{@code hybridge.edge.shadow} (counter): route, result;</li>
 *   <li>{@code hybridge.edge.uplink.state} (gauge): 2 online, 1 degraded, 0 offline;</li>
 *   <li>{@code hybridge.edge.uplink.sent} (summary, bytes per escalation, by route): see
 *       {@link UplinkTier}.</li>
 * </ul>
 */
final class EdgeMetrics implements RouteRuntime.Listener {

    private final MeterRegistry registry;
    private final Map<String, Timer> timers = new ConcurrentHashMap<>();
    private final Map<String, Counter> shadows = new ConcurrentHashMap<>();

    EdgeMetrics(MeterRegistry registry, Uplink uplink) {
        this.registry = registry;
        io.micrometer.core.instrument.Gauge.builder("hybridge.edge.uplink.state", uplink, u -> u.state().level())
                .description("The link to the gateway: 2 online, 1 degraded, 0 offline").register(registry);
    }

    @Override
    public void answered(RouteOutcome outcome, long nanos) {
        String tier = outcome.tier() == null ? "none" : outcome.tier().wire();
        String reason = outcome.reason() == null ? "none" : outcome.reason().code();
        String status = outcome.status() / 100 + "xx";
        String degraded = Boolean.toString(outcome.degraded());
        timers.computeIfAbsent(outcome.route() + '|' + tier + '|' + reason + '|' + status + '|' + degraded,
                key -> Timer.builder("hybridge.edge.requests")
                        .description("Route requests answered by the edge agent, by where and why")
                        .tag("route", outcome.route()).tag("tier", tier).tag("reason", reason).tag("status", status)
                        .tag("degraded", degraded).register(registry))
                .record(nanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public void shadow(String route, RouteRuntime.ShadowResult result) {
        shadows.computeIfAbsent(route + '|' + result.wire(), k -> Counter.builder("hybridge.edge.shadow")
                .description("Shadow samples sent to the gateway, by whether its label agreed with the edge's")
                .tag("route", route).tag("result", result.wire()).register(registry)).increment();
    }
}
