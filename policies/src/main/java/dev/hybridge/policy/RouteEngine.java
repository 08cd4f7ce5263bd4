package dev.hybridge.policy;

import dev.hybridge.policy.Decision.Action;
import dev.hybridge.policy.internal.CalibratedThreshold;
import dev.hybridge.policy.internal.LatencyEstimate;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Decides, request by request, where one route's requests are answered. Thread-safe; one per
 * route, made by {@link PolicyEngine}.
 *
 * <p>A request is decided in up to two steps: {@link #beforeEdge} (the client's wishes, rules
 * that mark a request hard, cloud-only routes, budgets), then, when the edge ran,
 * {@link #afterEdge} (its confidence against the threshold, the time left against the cloud's
 * latency estimate, the budget). Every decision names its reason.
 */
public final class RouteEngine {

    /**
     * Sees every judgement of an edge answer (cascade and split-with-early-exit routes): what a
     * program measures the routes by (confidence distribution, escalation share). Called on the
     * deciding thread: it must be quick and must not throw.
     */
    public interface Observer {
        Observer NONE = new Observer() {
        };

        /**
         * @param confidence the edge's confidence in its answer
         * @param score      the route's score of it (its {@code score:}, by default the confidence; NaN when unknown)
         * @param escalate   whether the route asked for the cloud (before the deadline and the budget had their say)
         */
        default void judged(String route, double confidence, double score, boolean escalate) {
        }

        /** A new policy set is in force. */
        default void applied(PolicySet set) {
        }
    }

    private final RoutePolicy policy;
    private final TenantPolicies tenants;
    private final SpendLedger ledger;
    private final CalibratedThreshold calibrated;
    private final LatencyEstimate latency;
    private final AtomicLong shadowCount = new AtomicLong();
    private final Observer observer;

    RouteEngine(RoutePolicy policy, TenantPolicies tenants, SpendLedger ledger, CalibratedThreshold calibrated,
                LatencyEstimate latency, Observer observer) {
        this.observer = observer;
        this.policy = policy;
        this.tenants = tenants;
        this.ledger = ledger;
        this.calibrated = calibrated;
        this.latency = latency;
    }

    public RoutePolicy policy() {
        return policy;
    }

    CalibratedThreshold calibration() {
        return calibrated;
    }

    LatencyEstimate latency() {
        return latency;
    }

    /** The confidence threshold now: fixed, or calibrated from recent confidences. */
    public double threshold() {
        return calibrated != null ? calibrated.current() : policy.threshold().value();
    }

    /** Evaluation errors of the route's expressions so far (hard-when, escalate-when, score). */
    public long expressionErrors() {
        long errors = 0;
        if (policy.hardWhen() != null) {
            errors += policy.hardWhen().errors();
        }
        if (policy.escalateWhen() != null) {
            errors += policy.escalateWhen().errors();
        }
        if (policy.score() != null) {
            errors += policy.score().errors();
        }
        return errors;
    }

    /** The cloud's estimated round trip, in milliseconds. */
    public double cloudLatencyEstimateMillis() {
        return latency.millis();
    }

    /** The request's deadline: its own {@code hybridge.deadline_ms}, else the route's. */
    public long deadlineMillis(RequestFacts facts) {
        return facts.deadlineMillis() > 0 ? facts.deadlineMillis() : policy.deadline().toMillis();
    }

    /** The first step, before any stage runs. */
    public Decision beforeEdge(RequestFacts facts) {
        TenantPolicy tenant = tenants.of(facts.tenant());
        RequestedRoute asked = facts.requested();
        if (!tenant.allowed().contains(asked)) {
            return Decision.of(Action.REJECT, Reason.NOT_ALLOWED);
        }
        RouteKind kind = policy.kind();
        if (kind == RouteKind.EDGE_ONLY) {
            return asked == RequestedRoute.CLOUD ? Decision.of(Action.REJECT, Reason.NOT_ALLOWED)
                    : Decision.of(Action.RUN_EDGE, Reason.EDGE_ONLY);
        }
        if (kind == RouteKind.CLOUD_ONLY) {
            if (asked == RequestedRoute.EDGE) {
                return Decision.of(Action.REJECT, Reason.NOT_ALLOWED);
            }
            if (!cloudFits(tenant, facts)) {
                return Decision.of(Action.REJECT, Reason.BUDGET_EXHAUSTED);
            }
            return Decision.of(Action.GO_CLOUD, Reason.CLOUD_ONLY);
        }
        if (asked == RequestedRoute.EDGE) {
            return Decision.of(Action.RUN_EDGE, Reason.CLIENT_ASKED);
        }
        if (asked == RequestedRoute.CLOUD) {
            return toCloudFirst(tenant, facts, Reason.CLIENT_ASKED);
        }
        if (policy.hardWhen() != null && policy.hardWhen().test(facts, null, threshold())) {
            return toCloudFirst(tenant, facts, Reason.HARD_BY_RULE);
        }
        return Decision.of(Action.RUN_EDGE, kindReason());
    }

    /**
     * The second step, once the edge stage answered.
     *
     * @param before         what {@link #beforeEdge} said (a RUN_EDGE decision)
     * @param elapsedMillis  time spent on the request so far
     */
    public Decision afterEdge(RequestFacts facts, Decision before, EdgeOutcome outcome, long elapsedMillis) {
        TenantPolicy tenant = tenants.of(facts.tenant());
        switch (before.reason()) {
            case EDGE_ONLY, BUDGET_EXHAUSTED, DEADLINE_TOO_TIGHT -> {
                return Decision.of(Action.ANSWER_AT_EDGE, before.reason());
            }
            case CLIENT_ASKED -> {
                return facts.requested() == RequestedRoute.EDGE ? Decision.of(Action.ANSWER_AT_EDGE, Reason.CLIENT_ASKED)
                        : escalateIfFits(tenant, facts, elapsedMillis, Reason.CLIENT_ASKED);
            }
            case HARD_BY_RULE -> {
                return escalateIfFits(tenant, facts, elapsedMillis, Reason.HARD_BY_RULE);
            }
            default -> {
                // decided by the route's kind below
            }
        }
        switch (policy.kind()) {
            case SHADOW -> {
                if (sampleShadow() && cloudFits(tenant, facts)) {
                    return Decision.withShadowSample(Reason.SHADOW);
                }
                return Decision.of(Action.ANSWER_AT_EDGE, Reason.SHADOW);
            }
            case SPLIT -> {
                return escalateIfFits(tenant, facts, elapsedMillis, Reason.SPLIT);
            }
            case CASCADE, SPLIT_EARLY_EXIT -> {
                double threshold = threshold();
                double score = policy.score() == null ? outcome.confidence() : policy.score().of(facts, outcome);
                if (calibrated != null && !Double.isNaN(score)) {
                    calibrated.record(score);
                }
                // a score that could not be worked out escalates: the edge's answer is not known to be good
                boolean escalate = policy.escalateWhen() == null ? !(score >= threshold)
                        : policy.escalateWhen().test(facts, outcome, threshold, score);
                observer.judged(policy.name(), outcome.confidence(), score, escalate);
                return escalate ? escalateIfFits(tenant, facts, elapsedMillis, Reason.LOW_CONFIDENCE)
                        : Decision.of(Action.ANSWER_AT_EDGE, Reason.CONFIDENT);
            }
            default -> {
                return Decision.of(Action.ANSWER_AT_EDGE, Reason.EDGE_ONLY);
            }
        }
    }

    /**
     * The edge stage failed: the cloud answers from the request itself when the route allows it
     * (not on split routes, whose cloud stage needs the edge's tensor), the budget and the time left.
     *
     * @return GO_CLOUD with reason EDGE_UNAVAILABLE, or REJECT (the caller answers 503, or 429
     *         with reason BUDGET_EXHAUSTED)
     */
    public Decision edgeFailed(RequestFacts facts, long elapsedMillis) {
        if (!policy.kind().usesCloud() || policy.kind().split()) {
            return Decision.of(Action.REJECT, Reason.EDGE_UNAVAILABLE);
        }
        TenantPolicy tenant = tenants.of(facts.tenant());
        if (!cloudFits(tenant, facts)) {
            return Decision.of(Action.REJECT, Reason.BUDGET_EXHAUSTED);
        }
        if (latency.millis() >= deadlineMillis(facts) - elapsedMillis) {
            return Decision.of(Action.REJECT, Reason.DEADLINE_TOO_TIGHT);
        }
        return Decision.of(Action.GO_CLOUD, Reason.EDGE_UNAVAILABLE);
    }

    /**
     * An edge agent ran the edge stage itself and asks for the cloud: only the fleet-wide limits
     * apply (the tenant's rights, the time left, the budget), not the edge's confidence.
     *
     * @param reason why the agent escalated (its own decision's reason)
     * @return ESCALATE, ANSWER_AT_EDGE (the agent keeps its own answer: no cloud stage, deadline
     *         too tight or budget spent) or REJECT
     */
    public Decision escalationFromEdge(RequestFacts facts, Reason reason, long elapsedMillis) {
        TenantPolicy tenant = tenants.of(facts.tenant());
        if (!tenant.allowed().contains(facts.requested())) {
            return Decision.of(Action.REJECT, Reason.NOT_ALLOWED);
        }
        if (!policy.kind().usesCloud()) {
            return Decision.of(Action.ANSWER_AT_EDGE, Reason.EDGE_ONLY);
        }
        return escalateIfFits(tenant, facts, elapsedMillis, reason);
    }

    /** Records a cloud round trip (successful or not) for the latency estimate. */
    public void recordCloudLatency(double millis) {
        latency.record(millis);
    }

    /** What an answer from {@code tier} costs for this much input, in USD. */
    public double cost(Tier tier, long inputBytes) {
        return policy.cost(tier).of(inputBytes);
    }

    /** Charges the tenant for an answer from {@code tier}; returns the cost in USD. */
    public double charge(String tenant, Tier tier, long inputBytes) {
        return charge(tenant, tier, inputBytes, null);
    }

    /** {@link #charge}, counted once per {@code once} where the ledger keeps such keys ({@link SpendLedger#charge(String, Duration, double, String)}). */
    public double charge(String tenant, Tier tier, long inputBytes, String once) {
        double cost = cost(tier, inputBytes);
        ledger.charge(tenant, tenants.window(), cost, once);
        return cost;
    }

    /** What the tenant has spent in the current budget window, across routes. */
    public double spentUsd(String tenant) {
        return ledger.spentUsd(tenant, tenants.window());
    }

    private Reason kindReason() {
        return switch (policy.kind()) {
            case SPLIT -> Reason.SPLIT;
            case SHADOW -> Reason.SHADOW;
            default -> Reason.CONFIDENT; // decided after the edge ran
        };
    }

    /** The cloud first (skipping the edge), or on split routes the edge first and then surely the cloud. */
    private Decision toCloudFirst(TenantPolicy tenant, RequestFacts facts, Reason reason) {
        if (!cloudFits(tenant, facts)) {
            return tenant.whenSpent() == TenantPolicy.WhenSpent.REJECT ? Decision.of(Action.REJECT, Reason.BUDGET_EXHAUSTED)
                    : Decision.of(Action.RUN_EDGE, Reason.BUDGET_EXHAUSTED);
        }
        if (latency.millis() >= deadlineMillis(facts)) {
            return Decision.of(Action.RUN_EDGE, Reason.DEADLINE_TOO_TIGHT);
        }
        return policy.kind().split() ? Decision.of(Action.RUN_EDGE, reason) : Decision.of(Action.GO_CLOUD, reason);
    }

    private Decision escalateIfFits(TenantPolicy tenant, RequestFacts facts, long elapsedMillis, Reason reason) {
        if (latency.millis() >= deadlineMillis(facts) - elapsedMillis) {
            return Decision.of(Action.ANSWER_AT_EDGE, Reason.DEADLINE_TOO_TIGHT);
        }
        if (!cloudFits(tenant, facts)) {
            return tenant.whenSpent() == TenantPolicy.WhenSpent.REJECT ? Decision.of(Action.REJECT, Reason.BUDGET_EXHAUSTED)
                    : Decision.of(Action.ANSWER_AT_EDGE, Reason.BUDGET_EXHAUSTED);
        }
        return Decision.of(Action.ESCALATE, reason);
    }

    private boolean cloudFits(TenantPolicy tenant, RequestFacts facts) {
        return ledger.fits(facts.tenant(), tenants.window(), tenant.budgetUsd(), policy.cloudCost().of(facts.inputBytes()));
    }

    /** Exactly {@code shadowRate} of requests, spread evenly: the n-th is sampled when floor(n * rate) steps up. */
    private boolean sampleShadow() {
        double rate = policy.shadowRate();
        if (rate <= 0) {
            return false;
        }
        long n = shadowCount.incrementAndGet();
        return Math.floor(n * rate) > Math.floor((n - 1) * rate);
    }
}
