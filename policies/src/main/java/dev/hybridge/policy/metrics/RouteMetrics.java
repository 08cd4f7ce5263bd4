package dev.hybridge.policy.metrics;

import dev.hybridge.policy.PolicyEngine;
import dev.hybridge.policy.PolicySet;
import dev.hybridge.policy.RouteEngine;
import dev.hybridge.policy.RoutePolicy;
import dev.hybridge.policy.TenantPolicy;
import dev.hybridge.policy.Tier;
import dev.hybridge.policy.runtime.RouteOutcome;
import dev.hybridge.policy.runtime.RouteRuntime;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.TimeGauge;
import io.micrometer.core.instrument.Timer;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The route meters a program that runs routes exports (the gateway and the edge agent alike),
 * from what its route runtime answered and what its routes judged. Tags are few and bounded:
 * routes and tenants come from policy files (requests for unknown routes are counted under
 * {@code unknown}), the others from fixed sets. Meters are made once per tag combination and
 * then looked up, never built per request. The reference table is {@code docs/metrics.md}.
 *
 * <ul>
 *   <li>{@code <requests>} (timer, named by the program): route, tier (edge, cloud, none),
 *       reason (a decision's reason code, or {@code refused} for requests turned away before any
 *       tier was asked), status (2xx, 4xx, 5xx), degraded;</li>
 *   <li>{@code <shadow>} (counter, named by the program): route, result;</li>
 *   <li>{@code hybridge.route.views} (counter): route, result (learned, skipped, failed): the runs
 *       of a device's speed views ({@code device-profile.views}, edge agents only);</li>
 *   <li>{@code hybridge.route.confidence} (histogram, percent): the edge's confidence in the
 *       answers a route judged, in buckets 5 points wide (Micrometer's fixed histogram buckets
 *       count whole numbers, so the confidence is recorded in percent);</li>
 *   <li>{@code hybridge.route.judged} (counter): route, decision (escalated, kept);</li>
 *   <li>{@code hybridge.route.escalation.ratio} (gauge): the share of the route's last
 *       {@value #RECENT} judged answers it sent to the cloud;</li>
 *   <li>{@code hybridge.route.threshold} (gauge): the threshold in force, calibrated or fixed;</li>
 *   <li>{@code hybridge.route.cloud.latency.estimate} (gauge, seconds): the estimate the
 *       deadline is weighed against;</li>
 *   <li>{@code hybridge.route.expression.errors} (counter): evaluation errors of the route's
 *       CEL expressions;</li>
 *   <li>{@code hybridge.route.cost} (counter, USD): route, tier;</li>
 *   <li>{@code hybridge.tenant.spent}, {@code hybridge.tenant.budget},
 *       {@code hybridge.tenant.budget.left} (gauges, USD): per listed tenant, in the current
 *       budget window (budgets only for tenants that have one).</li>
 * </ul>
 */
public final class RouteMetrics implements RouteRuntime.Listener, RouteEngine.Observer {

    /** How many judged answers the escalation ratio is taken over. */
    public static final int RECENT = 1000;

    /** The confidence histogram's upper bounds, in percent: 5 wide, so a heatmap shows the distribution's shape. */
    static final double[] CONFIDENCE_BUCKETS = buckets();

    private final MeterRegistry registry;
    private final PolicyEngine policies;
    private final String requestsName;
    private final String requestsDescription;
    private final String shadowName;
    private final Map<String, Timer> timers = new ConcurrentHashMap<>();
    private final Map<String, Counter> shadows = new ConcurrentHashMap<>();
    private final Map<String, Counter> views = new ConcurrentHashMap<>();
    /** By route, then by the tier that answered. */
    private final Map<String, Map<Tier, Counter>> costs = new ConcurrentHashMap<>();
    private final Map<String, Judgements> judgements = new ConcurrentHashMap<>();

    /** A route's meters of its judgements of edge answers, made once: nothing is looked up by a built key per request. */
    private record Judgements(DistributionSummary confidence, Counter kept, Counter escalated, RecentShare recent) {
    }

    /**
     * Registers the route and tenant meters of the set in force (and of every set put in force
     * later) and starts observing the routes' judgements.
     *
     * @param requestsName the program's request timer ({@code hybridge.gateway.requests}, {@code hybridge.edge.requests})
     * @param shadowName   the program's shadow-sample counter
     */
    public RouteMetrics(MeterRegistry registry, PolicyEngine policies, String requestsName, String requestsDescription,
                        String shadowName) {
        this.registry = registry;
        this.policies = policies;
        this.requestsName = requestsName;
        this.requestsDescription = requestsDescription;
        this.shadowName = shadowName;
        policies.observe(this);
    }

    // ------------------------------------------------------------------------- the runtime

    @Override
    public void answered(RouteOutcome outcome, long nanos) {
        String route = routeTag(outcome.route());
        String tier = outcome.tier() == null ? "none" : outcome.tier().wire();
        String reason = outcome.reason() == null ? "none" : outcome.reason().code();
        request(route, tier, reason, outcome.status(), outcome.degraded(), nanos);
        if (outcome.tier() != null && outcome.costUsd() > 0) {
            costs.computeIfAbsent(route, r -> new ConcurrentHashMap<>())
                    .computeIfAbsent(outcome.tier(), t -> Counter.builder("hybridge.route.cost")
                            .description("What the route's answers cost, by the tier that answered")
                            .baseUnit("usd").tag("route", route).tag("tier", tier).register(registry))
                    .increment(outcome.costUsd());
        }
    }

    /** A request refused before any tier was asked (bad key, bad request, unknown route, too large). */
    public void refused(String route, int status, long nanos) {
        request(routeTag(route), "none", "refused", status, false, nanos);
    }

    @Override
    public void shadow(String route, RouteRuntime.ShadowResult result) {
        shadows.computeIfAbsent(route + '|' + result.wire(), k -> Counter.builder(shadowName)
                .description("Shadow samples sent to the cloud, by whether its label agreed with the edge's")
                .tag("route", route).tag("result", result.wire()).register(registry)).increment();
    }

    @Override
    public void views(String route, RouteRuntime.ViewsResult result) {
        views.computeIfAbsent(route + '|' + result.wire(), k -> Counter.builder("hybridge.route.views")
                .description("Runs of the device's speed views: learned, skipped (one was under way), failed")
                .tag("route", route).tag("result", result.wire()).register(registry)).increment();
    }

    private void request(String route, String tier, String reason, int status, boolean degraded, long nanos) {
        String statusClass = status / 100 + "xx";
        String key = route + '|' + tier + '|' + reason + '|' + statusClass + '|' + degraded;
        timers.computeIfAbsent(key, k -> Timer.builder(requestsName).description(requestsDescription)
                .tag("route", route).tag("tier", tier).tag("reason", reason).tag("status", statusClass)
                .tag("degraded", Boolean.toString(degraded)).register(registry))
                .record(nanos, TimeUnit.NANOSECONDS);
    }

    private String routeTag(String route) {
        return route != null && policies.route(route) != null ? route : "unknown";
    }

    // -------------------------------------------------------------------------- the routes

    @Override
    public void judged(String route, double confidence, double score, boolean escalate) {
        Judgements meters = judgements(route);
        meters.confidence().record(confidence * 100);
        (escalate ? meters.escalated() : meters.kept()).increment();
        meters.recent().record(escalate);
    }

    @Override
    public void applied(PolicySet set) {
        for (RoutePolicy route : set.routes().values()) {
            register(route);
        }
        for (TenantPolicy tenant : set.tenants().tenants().values()) {
            register(tenant);
        }
    }

    private Judgements judgements(String route) {
        return judgements.computeIfAbsent(route, r -> new Judgements(
                DistributionSummary.builder("hybridge.route.confidence")
                        .description("The edge's confidence in the answers the route judged")
                        .baseUnit("percent").tag("route", r).serviceLevelObjectives(CONFIDENCE_BUCKETS).register(registry),
                judged(r, "kept"), judged(r, "escalated"), new RecentShare(RECENT)));
    }

    private Counter judged(String route, String decision) {
        return Counter.builder("hybridge.route.judged")
                .description("Edge answers the route judged, by whether it sent them to the cloud")
                .tag("route", route).tag("decision", decision).register(registry);
    }

    /** A route's gauges read its engine in force at each scrape; NaN once the route is gone. */
    private void register(RoutePolicy route) {
        String name = route.name();
        FunctionCounter.builder("hybridge.route.expression.errors", policies, p -> {
                    RouteEngine engine = p.route(name);
                    return engine == null ? 0 : engine.expressionErrors();
                }).description("Evaluation errors of the route's CEL expressions (hard-when, escalate-when, score)")
                .tag("route", name).register(registry);
        if (route.kind().gatedByConfidence()) {
            RecentShare recent = judgements(name).recent();
            Gauge.builder("hybridge.route.escalation.ratio", recent, RecentShare::share).strongReference(true)
                    .description("Share of the route's last " + RECENT + " judged edge answers sent to the cloud")
                    .tag("route", name).register(registry);
            Gauge.builder("hybridge.route.threshold", policies, p -> {
                        RouteEngine engine = p.route(name);
                        return engine == null ? Double.NaN : engine.threshold();
                    }).strongReference(true).description("The route's threshold in force, calibrated or fixed")
                    .tag("route", name).register(registry);
        }
        if (route.kind().usesCloud()) {
            TimeGauge.builder("hybridge.route.cloud.latency.estimate", policies, TimeUnit.MILLISECONDS, p -> {
                        RouteEngine engine = p.route(name);
                        return engine == null ? Double.NaN : engine.cloudLatencyEstimateMillis();
                    }).strongReference(true)
                    .description("The cloud round trip the route weighs the time left against")
                    .tag("route", name).register(registry);
        }
    }

    private void register(TenantPolicy tenant) {
        String name = tenant.name();
        Gauge.builder("hybridge.tenant.spent", policies, p -> p.spentUsd(name)).strongReference(true).baseUnit("usd")
                .description("What the tenant spent in the current budget window").tag("tenant", name)
                .register(registry);
        if (Double.isFinite(tenant.budgetUsd())) {
            Gauge.builder("hybridge.tenant.budget", policies, p -> p.tenants().of(name).budgetUsd())
                    .strongReference(true).baseUnit("usd").description("The tenant's budget per window")
                    .tag("tenant", name).register(registry);
            Gauge.builder("hybridge.tenant.budget.left", policies,
                            p -> Math.max(0, p.tenants().of(name).budgetUsd() - p.spentUsd(name)))
                    .strongReference(true).baseUnit("usd")
                    .description("What the tenant has left to spend in the current budget window")
                    .tag("tenant", name).register(registry);
        }
    }

    private static double[] buckets() {
        double[] bounds = new double[20];
        for (int i = 0; i < bounds.length; i++) {
            bounds[i] = (i + 1) * 5;
        }
        return bounds;
    }
}
