package dev.hybridge.policy;

import dev.hybridge.policy.internal.CalibratedThreshold;
import dev.hybridge.policy.internal.LatencyEstimate;
import java.nio.file.Path;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The routes in force and their decision state. {@link #reload} swaps in a new policy folder
 * only when every file in it is valid; otherwise the last good set stays and the problems are
 * returned. State that measures the world, not the policy (the cloud latency estimate, the
 * calibration window, what tenants have spent), carries over a reload when its settings did not
 * change.
 */
public final class PolicyEngine {

    private final Clock clock;
    private final PolicyLoader loader;
    private final SpendLedger ledger;
    private volatile Snapshot snapshot;
    private volatile RouteEngine.Observer observer = RouteEngine.Observer.NONE;

    private record Snapshot(PolicySet set, Map<String, RouteEngine> routes) {
    }

    public PolicyEngine(Clock clock) {
        this(clock, new PolicyLoader());
    }

    public PolicyEngine(Clock clock, PolicyLoader loader) {
        this(clock, loader, SpendLedger.inMemory(clock));
    }

    /** @param ledger where spending is kept: in memory by default, or shared between replicas */
    public PolicyEngine(Clock clock, PolicyLoader loader, SpendLedger ledger) {
        this.clock = Objects.requireNonNull(clock, "clock");
        this.loader = loader;
        this.ledger = Objects.requireNonNull(ledger, "ledger");
        this.snapshot = new Snapshot(new PolicySet(Map.of(), TenantPolicies.UNLIMITED), Map.of());
    }

    /**
     * Who sees the routes' judgements of edge answers and every set put in force (a program's
     * metrics); told of the set in force at once. Routes made from then on report to it.
     */
    public synchronized void observe(RouteEngine.Observer observer) {
        this.observer = Objects.requireNonNull(observer, "observer");
        apply(snapshot.set());
    }

    /** The outcome of a reload: the problems found (none when the new set is in force). */
    public record Reload(boolean applied, List<String> problems) {
    }

    /** Loads {@code folder}; on any problem keeps the current set and returns the problems. */
    public Reload reload(Path folder) {
        try {
            apply(loader.load(folder));
            return new Reload(true, List.of());
        } catch (PolicyException e) {
            return new Reload(false, e.problems());
        }
    }

    /** Puts {@code set} in force. */
    public synchronized void apply(PolicySet set) {
        Map<String, RouteEngine> old = snapshot.routes();
        Map<String, RouteEngine> routes = new LinkedHashMap<>();
        for (RoutePolicy policy : set.routes().values()) {
            RouteEngine previous = old.get(policy.name());
            CalibratedThreshold calibration = null;
            if (policy.threshold().calibrated()) {
                calibration = previous != null && previous.calibration() != null
                        && previous.calibration().spec().equals(policy.threshold())
                        ? previous.calibration() : new CalibratedThreshold(policy.threshold());
            }
            LatencyEstimate latency = previous != null && previous.latency().spec().equals(policy.cloudLatency())
                    ? previous.latency() : new LatencyEstimate(policy.cloudLatency(), clock);
            routes.put(policy.name(), new RouteEngine(policy, set.tenants(), ledger, calibration, latency, observer));
        }
        snapshot = new Snapshot(set, Map.copyOf(routes));
        observer.applied(set);
    }

    public PolicySet current() {
        return snapshot.set();
    }

    /** The route's engine, or {@code null} when no policy names it. */
    public RouteEngine route(String name) {
        return snapshot.routes().get(name);
    }

    public TenantPolicies tenants() {
        return snapshot.set().tenants();
    }

    /** What the tenant has spent in the current budget window, across routes. */
    public double spentUsd(String tenant) {
        return ledger.spentUsd(tenant, tenants().window());
    }
}
