package dev.hybridge.policy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.hybridge.policy.Decision.Action;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Where each request is answered, and why, for every route kind and rule. */
class RouteEngineTest {

    private static final EdgeOutcome SURE = new EdgeOutcome(0.9, 0.8, 0.3, "7");
    private static final EdgeOutcome UNSURE = new EdgeOutcome(0.4, 0.05, 1.9, "3");

    @TempDir
    Path folder;

    private final TestClock clock = new TestClock();
    private final PolicyEngine engine = new PolicyEngine(clock);

    private static final String CASCADE = """
            version: 1
            kind: cascade
            edge: {model: small}
            cloud: {model: big}
            hard-when: 'inputs["audio"][1] > 16000 || ("hybridge.hard" in parameters && parameters["hybridge.hard"] == true)'
            threshold: {value: 0.55}
            deadline: 500ms
            cloud-latency: {initial: 100ms, window: 20}
            cost:
              edge: {per-request-usd: 0.0001}
              cloud: {per-request-usd: 0.01, per-megabyte-usd: 1.0}
            """;

    private RouteEngine load(String name, String yaml, String tenants) throws IOException {
        Files.writeString(folder.resolve(name + ".yaml"), yaml);
        if (tenants != null) {
            Files.writeString(folder.resolve("tenants.yaml"), tenants);
        }
        PolicyEngine.Reload reload = engine.reload(folder);
        assertThat(reload.problems()).isEmpty();
        return engine.route(name);
    }

    private static RequestFacts facts(String tenant, RequestedRoute asked, long deadlineMillis) {
        return new RequestFacts(tenant, "dev-1", Map.of(), Map.of("audio", new long[] {1, 8000}), 32_000, asked,
                deadlineMillis);
    }

    private static RequestFacts auto() {
        return facts("acme", RequestedRoute.AUTO, 0);
    }

    private static Decision decide(RouteEngine route, RequestFacts facts, EdgeOutcome outcome, long elapsed) {
        Decision before = route.beforeEdge(facts);
        return before.action() == Action.RUN_EDGE ? route.afterEdge(facts, before, outcome, elapsed) : before;
    }

    // --------------------------------------------------------------------------------- cascade

    @Test
    void cascadeAnswersConfidentRequestsAtTheEdgeAndEscalatesTheRest() throws Exception {
        RouteEngine route = load("digits", CASCADE, null);
        assertThat(route.beforeEdge(auto())).isEqualTo(Decision.of(Action.RUN_EDGE, Reason.CONFIDENT));
        assertThat(decide(route, auto(), SURE, 5)).isEqualTo(Decision.of(Action.ANSWER_AT_EDGE, Reason.CONFIDENT));
        assertThat(decide(route, auto(), UNSURE, 5)).isEqualTo(Decision.of(Action.ESCALATE, Reason.LOW_CONFIDENCE));
        assertThat(decide(route, auto(), new EdgeOutcome(0.55, 0.1, 1, "1"), 5).action())
                .as("at the threshold exactly: confident").isEqualTo(Action.ANSWER_AT_EDGE);
    }

    @Test
    void rulesMarkRequestsHardBeforeTheEdgeRuns() throws Exception {
        RouteEngine route = load("digits", CASCADE, null);
        RequestFacts longAudio = new RequestFacts("acme", "", Map.of(), Map.of("audio", new long[] {1, 24000}), 96_000,
                RequestedRoute.AUTO, 0);
        assertThat(route.beforeEdge(longAudio)).isEqualTo(Decision.of(Action.GO_CLOUD, Reason.HARD_BY_RULE));
        RequestFacts hinted = new RequestFacts("acme", "", Map.of("hybridge.hard", true),
                Map.of("audio", new long[] {1, 8000}), 32_000, RequestedRoute.AUTO, 0);
        assertThat(route.beforeEdge(hinted)).isEqualTo(Decision.of(Action.GO_CLOUD, Reason.HARD_BY_RULE));
        RequestFacts noSuchInput = new RequestFacts("acme", "", Map.of(), Map.of("other", new long[] {1}), 4,
                RequestedRoute.AUTO, 0);
        assertThat(route.beforeEdge(noSuchInput).action()).as("a condition that cannot be decided is false")
                .isEqualTo(Action.RUN_EDGE);
        assertThat(route.policy().hardWhen().errors()).isEqualTo(1);
    }

    @Test
    void aCustomEscalationConditionDecides() throws Exception {
        RouteEngine route = load("digits", CASCADE + "escalate-when: 'margin < 0.1 || label == \"7\"'\n", null);
        assertThat(decide(route, auto(), SURE, 5).reason()).as("label 7").isEqualTo(Reason.LOW_CONFIDENCE);
        assertThat(decide(route, auto(), new EdgeOutcome(0.3, 0.2, 1, "2"), 5).reason()).isEqualTo(Reason.CONFIDENT);
    }

    @Test
    void aRoutesScoreIsWhatTheThresholdAppliesTo() throws Exception {
        // a learned reliability: log-odds that the edge is right, any range
        RouteEngine route = load("digits", CASCADE.replace("threshold: {value: 0.55}\n", "")
                + "score: '-4.0 + 3.0 * confidence + 6.0 * margin - 0.5 * entropy'\nthreshold: {value: 0.0}\n", null);
        // confidence 0.55 but margin 0.5: sure enough (score 0.65)
        assertThat(decide(route, auto(), new EdgeOutcome(0.55, 0.5, 0.9, "3"), 5).reason()).isEqualTo(Reason.CONFIDENT);
        // confidence 0.9 but margin 0.05 (two digits close): not (score -1.7)
        assertThat(decide(route, auto(), new EdgeOutcome(0.9, 0.05, 0.4, "3"), 5).reason())
                .isEqualTo(Reason.LOW_CONFIDENCE);
        RouteEngine custom = load("digits", CASCADE + "score: margin\nescalate-when: 'score < 0.2 || label == \"7\"'\n", null);
        assertThat(decide(custom, auto(), new EdgeOutcome(0.9, 0.1, 0.4, "3"), 5).reason()).isEqualTo(Reason.LOW_CONFIDENCE);
        assertThat(decide(custom, auto(), new EdgeOutcome(0.5, 0.3, 0.4, "3"), 5).reason()).isEqualTo(Reason.CONFIDENT);
    }

    @Test
    void aScoreThatCannotBeWorkedOutEscalatesAndIsCounted() throws Exception {
        RouteEngine route = load("digits", CASCADE + "score: 'parameters[\"missing\"] == 1 ? 1.0 : 0.0'\n", null);
        assertThat(decide(route, auto(), SURE, 5).reason()).isEqualTo(Reason.LOW_CONFIDENCE);
        assertThat(route.policy().score().errors()).isEqualTo(1);
    }

    @Test
    void aCalibratedThresholdFollowsTheRoutesScoreInItsRange() throws Exception {
        RouteEngine route = load("early", """
                version: 1
                kind: cascade
                edge: {model: small}
                cloud: {model: big}
                score: '10.0 * margin - 5.0'
                threshold:
                  value: 0.0
                  calibrate: {target-escalation-rate: 0.2, window: 500, min-samples: 100, min: -5, max: 5}
                """, null);
        java.util.Random random = new java.util.Random(3);
        int escalated = 0;
        for (int i = 0; i < 1000; i++) {
            double margin = random.nextDouble(); // scores uniform over [-5, 5]
            Decision d = decide(route, auto(), new EdgeOutcome(Math.max(margin, 0.1), margin, 1, "x"), 1);
            escalated += i >= 500 && d.action() == Action.ESCALATE ? 1 : 0;
        }
        assertThat(escalated / 500.0).isCloseTo(0.2, org.assertj.core.data.Offset.offset(0.05));
        assertThat(route.threshold()).isCloseTo(-3.0, org.assertj.core.data.Offset.offset(0.5));
    }

    // ------------------------------------------------------------------------------- deadlines

    @Test
    void noEscalationWhenTheCloudEstimateDoesNotFitTheTimeLeft() throws Exception {
        RouteEngine route = load("digits", CASCADE, null);
        assertThat(route.cloudLatencyEstimateMillis()).isEqualTo(100.0);
        assertThat(decide(route, auto(), UNSURE, 390).action()).as("100 ms fits in 110 left").isEqualTo(Action.ESCALATE);
        assertThat(decide(route, auto(), UNSURE, 410)).as("100 ms does not fit in 90 left")
                .isEqualTo(Decision.of(Action.ANSWER_AT_EDGE, Reason.DEADLINE_TOO_TIGHT));
        assertThat(decide(route, facts("acme", RequestedRoute.AUTO, 50), UNSURE, 0))
                .as("the request's own deadline").isEqualTo(Decision.of(Action.ANSWER_AT_EDGE, Reason.DEADLINE_TOO_TIGHT));
    }

    @Test
    void theEstimateFollowsRecentCloudLatency() throws Exception {
        RouteEngine route = load("digits", CASCADE, null);
        for (int i = 0; i < 20; i++) {
            route.recordCloudLatency(i < 18 ? 20 : 450);
        }
        assertThat(route.cloudLatencyEstimateMillis()).isEqualTo(450.0); // p95 of 20: the 19th
        assertThat(decide(route, auto(), UNSURE, 100).reason()).isEqualTo(Reason.DEADLINE_TOO_TIGHT);
        for (int i = 0; i < 20; i++) {
            route.recordCloudLatency(30);
        }
        assertThat(route.cloudLatencyEstimateMillis()).isEqualTo(30.0);
        assertThat(decide(route, auto(), UNSURE, 100).reason()).isEqualTo(Reason.LOW_CONFIDENCE);
    }

    @Test
    void hardRequestsStayAtTheEdgeWhenTheCloudCannotMakeTheDeadline() throws Exception {
        RouteEngine route = load("digits", CASCADE, null);
        RequestFacts hinted = new RequestFacts("acme", "", Map.of("hybridge.hard", true), Map.of(), 0,
                RequestedRoute.AUTO, 80);
        Decision before = route.beforeEdge(hinted);
        assertThat(before).isEqualTo(Decision.of(Action.RUN_EDGE, Reason.DEADLINE_TOO_TIGHT));
        assertThat(route.afterEdge(hinted, before, UNSURE, 10)).isEqualTo(
                Decision.of(Action.ANSWER_AT_EDGE, Reason.DEADLINE_TOO_TIGHT));
    }

    // ---------------------------------------------------------------------- what clients ask for

    @Test
    void clientsMayAskForATierTheirTenantAllows() throws Exception {
        RouteEngine route = load("digits", CASCADE, """
                version: 1
                default: {allow: [auto]}
                tenants:
                  acme: {allow: [auto, edge, cloud]}
                """);
        assertThat(route.beforeEdge(facts("acme", RequestedRoute.CLOUD, 0)))
                .isEqualTo(Decision.of(Action.GO_CLOUD, Reason.CLIENT_ASKED));
        assertThat(decide(route, facts("acme", RequestedRoute.EDGE, 0), UNSURE, 5))
                .isEqualTo(Decision.of(Action.ANSWER_AT_EDGE, Reason.CLIENT_ASKED));
        assertThat(route.beforeEdge(facts("other", RequestedRoute.CLOUD, 0)))
                .isEqualTo(Decision.of(Action.REJECT, Reason.NOT_ALLOWED));
        assertThat(route.beforeEdge(facts("other", RequestedRoute.AUTO, 0)).action()).isEqualTo(Action.RUN_EDGE);
    }

    // ------------------------------------------------------------------------------- budgets

    @Test
    void aSpentBudgetKeepsRequestsAtTheEdge() throws Exception {
        RouteEngine route = load("digits", CASCADE, """
                version: 1
                budget-window: 1h
                default: {budget-usd: 0.05, when-spent: edge-only}
                """);
        // a cloud answer for 32 KB costs 0.01 + 0.032 = 0.042
        assertThat(route.cost(Tier.CLOUD, 32_000)).isCloseTo(0.042, org.assertj.core.data.Offset.offset(1e-12));
        assertThat(decide(route, auto(), UNSURE, 5).action()).isEqualTo(Action.ESCALATE);
        assertThat(route.charge("acme", Tier.CLOUD, 32_000)).isCloseTo(0.042, org.assertj.core.data.Offset.offset(1e-12));
        assertThat(decide(route, auto(), UNSURE, 5)).isEqualTo(Decision.of(Action.ANSWER_AT_EDGE, Reason.BUDGET_EXHAUSTED));
        assertThat(decide(route, facts("someone-else", RequestedRoute.AUTO, 0), UNSURE, 5).action())
                .as("budgets are per tenant").isEqualTo(Action.ESCALATE);

        clock.advance(Duration.ofHours(1));
        assertThat(route.spentUsd("acme")).isZero();
        assertThat(decide(route, auto(), UNSURE, 5).action()).as("a new window").isEqualTo(Action.ESCALATE);
    }

    @Test
    void aSpentBudgetCanRejectInstead() throws Exception {
        RouteEngine route = load("digits", CASCADE, """
                version: 1
                default: {budget-usd: 0.05, when-spent: reject}
                """);
        route.charge("acme", Tier.CLOUD, 32_000);
        assertThat(decide(route, auto(), UNSURE, 5)).isEqualTo(Decision.of(Action.REJECT, Reason.BUDGET_EXHAUSTED));
        assertThat(decide(route, auto(), SURE, 5).action()).as("edge answers cost no cloud money")
                .isEqualTo(Action.ANSWER_AT_EDGE);
    }

    @Test
    void budgetsAreSharedAcrossRoutes() throws Exception {
        Files.writeString(folder.resolve("cloud.yaml"), """
                version: 1
                kind: cloud-only
                cloud: {model: big}
                cost: {cloud: {per-request-usd: 0.03}}
                """);
        RouteEngine route = load("digits", CASCADE, "version: 1\ndefault: {budget-usd: 0.05}\n");
        RouteEngine cloudOnly = engine.route("cloud");
        assertThat(cloudOnly.beforeEdge(auto())).isEqualTo(Decision.of(Action.GO_CLOUD, Reason.CLOUD_ONLY));
        cloudOnly.charge("acme", Tier.CLOUD, 32_000);
        assertThat(decide(route, auto(), UNSURE, 5).reason()).isEqualTo(Reason.BUDGET_EXHAUSTED);
        assertThat(cloudOnly.beforeEdge(auto())).as("cloud-only has no edge to fall back on")
                .isEqualTo(Decision.of(Action.REJECT, Reason.BUDGET_EXHAUSTED));
    }

    // ---------------------------------------------------------------------------- other kinds

    @Test
    void splitRoutesAlwaysFinishInTheCloudUnlessTheyExitEarly() throws Exception {
        RouteEngine split = load("split", """
                version: 1
                kind: split
                edge: {model: small, output: embedding}
                cloud: {model: head, input: embedding}
                """, null);
        assertThat(decide(split, auto(), SURE, 5)).isEqualTo(Decision.of(Action.ESCALATE, Reason.SPLIT));
        RouteEngine early = load("early", """
                version: 1
                kind: split-early-exit
                edge: {model: small, output: embedding}
                cloud: {model: head, input: embedding}
                threshold: {value: 0.6}
                """, null);
        assertThat(decide(early, auto(), SURE, 5)).isEqualTo(Decision.of(Action.ANSWER_AT_EDGE, Reason.CONFIDENT));
        assertThat(decide(early, auto(), UNSURE, 5)).isEqualTo(Decision.of(Action.ESCALATE, Reason.LOW_CONFIDENCE));
        assertThat(early.beforeEdge(facts("acme", RequestedRoute.CLOUD, 0)))
                .as("the cloud stage needs the edge's tensor: the edge runs first")
                .isEqualTo(Decision.of(Action.RUN_EDGE, Reason.CLIENT_ASKED));
        assertThat(early.edgeFailed(auto(), 5)).isEqualTo(Decision.of(Action.REJECT, Reason.EDGE_UNAVAILABLE));
    }

    @Test
    void edgeOnlyAndCloudOnly() throws Exception {
        RouteEngine edge = load("edge", "version: 1\nkind: edge-only\nedge: {model: small}\n", null);
        assertThat(decide(edge, auto(), UNSURE, 5)).isEqualTo(Decision.of(Action.ANSWER_AT_EDGE, Reason.EDGE_ONLY));
        assertThat(edge.beforeEdge(facts("acme", RequestedRoute.CLOUD, 0)).action()).isEqualTo(Action.REJECT);
        assertThat(edge.edgeFailed(auto(), 5).action()).isEqualTo(Action.REJECT);
        RouteEngine cloud = load("cloud", "version: 1\nkind: cloud-only\ncloud: {model: big}\n", null);
        assertThat(cloud.beforeEdge(auto())).isEqualTo(Decision.of(Action.GO_CLOUD, Reason.CLOUD_ONLY));
        assertThat(cloud.beforeEdge(facts("acme", RequestedRoute.EDGE, 0)).action()).isEqualTo(Action.REJECT);
    }

    @Test
    void theCloudAnswersWhenTheEdgeTierFails() throws Exception {
        RouteEngine route = load("digits", CASCADE, null);
        assertThat(route.edgeFailed(auto(), 20)).isEqualTo(Decision.of(Action.GO_CLOUD, Reason.EDGE_UNAVAILABLE));
        assertThat(route.edgeFailed(auto(), 450)).isEqualTo(Decision.of(Action.REJECT, Reason.DEADLINE_TOO_TIGHT));
    }

    @Test
    void shadowSamplesExactlyTheConfiguredShare() throws Exception {
        RouteEngine route = load("shadow", """
                version: 1
                kind: shadow
                edge: {model: small}
                cloud: {model: big}
                shadow: {sample-rate: 0.1}
                """, null);
        int sampled = 0;
        for (int i = 0; i < 1000; i++) {
            Decision d = decide(route, auto(), i % 2 == 0 ? SURE : UNSURE, 5);
            assertThat(d.action()).isEqualTo(Action.ANSWER_AT_EDGE);
            assertThat(d.reason()).isEqualTo(Reason.SHADOW);
            sampled += d.shadow() ? 1 : 0;
        }
        assertThat(sampled).isEqualTo(100);
    }

    // --------------------------------------------------------------------------- calibration

    @Test
    void aCalibratedThresholdEscalatesTheTargetShare() throws Exception {
        RouteEngine route = load("early", """
                version: 1
                kind: cascade
                edge: {model: small}
                cloud: {model: big}
                threshold:
                  value: 0.5
                  calibrate: {target-escalation-rate: 0.25, window: 400, min-samples: 100, min: 0.1, max: 0.95}
                deadline: 10s
                """, null);
        java.util.Random random = new java.util.Random(42);
        assertThat(route.threshold()).isEqualTo(0.5);
        int escalated = 0;
        int counted = 0;
        for (int i = 0; i < 4000; i++) {
            // confidences skewed high: most requests are easy
            double confidence = 1 - Math.pow(random.nextDouble(), 0.5) * 0.9;
            Decision d = decide(route, auto(), new EdgeOutcome(confidence, 0.1, 1, "x"), 1);
            if (i >= 1000) {
                counted++;
                escalated += d.action() == Action.ESCALATE ? 1 : 0;
            }
        }
        assertThat((double) escalated / counted).isCloseTo(0.25, org.assertj.core.data.Offset.offset(0.03));
        // the 25% quantile of 1 - 0.9 * sqrt(u): 1 - 0.9 * sqrt(0.75) = 0.2206
        assertThat(route.threshold()).isCloseTo(0.2206, org.assertj.core.data.Offset.offset(0.03));
    }

    @Test
    void aCalibratedThresholdStaysWithinItsBounds() throws Exception {
        RouteEngine route = load("early", """
                version: 1
                kind: cascade
                edge: {model: small}
                cloud: {model: big}
                threshold:
                  value: 0.5
                  calibrate: {target-escalation-rate: 0.5, window: 100, min-samples: 50, min: 0.4, max: 0.6}
                """, null);
        for (int i = 0; i < 200; i++) {
            decide(route, auto(), new EdgeOutcome(0.99, 0.9, 0.1, "x"), 1);
        }
        assertThat(route.threshold()).isEqualTo(0.6);
        for (int i = 0; i < 200; i++) {
            decide(route, auto(), new EdgeOutcome(0.01, 0.0, 2, "x"), 1);
        }
        assertThat(route.threshold()).isEqualTo(0.4);
    }

    // ------------------------------------------------------------------------------- reloads

    @Test
    void aBadReloadKeepsTheLastGoodSetAndGoodOnesKeepMeasurements() throws Exception {
        RouteEngine first = load("digits", CASCADE, null);
        for (int i = 0; i < 20; i++) {
            first.recordCloudLatency(300);
        }
        Files.writeString(folder.resolve("digits.yaml"), CASCADE.replace("value: 0.55", "value: 7"));
        PolicyEngine.Reload bad = engine.reload(folder);
        assertThat(bad.applied()).isFalse();
        assertThat(bad.problems()).containsExactly("digits.yaml: threshold.value: must be between 0 and 1 but was 7");
        assertThat(engine.route("digits")).isSameAs(first);

        Files.writeString(folder.resolve("digits.yaml"), CASCADE.replace("value: 0.55", "value: 0.6"));
        assertThat(engine.reload(folder).applied()).isTrue();
        RouteEngine second = engine.route("digits");
        assertThat(second).isNotSameAs(first);
        assertThat(second.threshold()).isEqualTo(0.6);
        assertThat(second.cloudLatencyEstimateMillis()).as("the cloud did not change with the policy").isEqualTo(300.0);

        Files.delete(folder.resolve("digits.yaml"));
        assertThat(engine.reload(folder).applied()).isTrue();
        assertThat(engine.route("digits")).isNull();
    }
}
