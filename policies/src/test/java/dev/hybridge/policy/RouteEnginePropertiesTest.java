package dev.hybridge.policy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.hybridge.policy.Decision.Action;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Invariants that hold for any request, outcome, latency history and budget: random cases from
 * fixed seeds, thousands each.
 */
class RouteEnginePropertiesTest {

    @TempDir
    Path folder;

    @Test
    void decisionsKeepTheirPromises() throws Exception {
        Random random = new Random(20261122);
        for (int policyCase = 0; policyCase < 40; policyCase++) {
            TestClock clock = new TestClock();
            PolicyEngine engine = new PolicyEngine(clock);
            String kind = random.nextBoolean() ? "cascade" : "split-early-exit";
            double threshold = Math.round(random.nextDouble() * 100) / 100.0;
            long deadline = 50 + random.nextInt(500);
            double cloudPrice = 0.001 * (1 + random.nextInt(5));
            double budget = 0.01 * random.nextInt(4);
            boolean reject = random.nextBoolean();
            Files.writeString(folder.resolve("r.yaml"), """
                    version: 1
                    kind: %s
                    edge: {model: small%s}
                    cloud: {model: big%s}
                    threshold: {value: %s}
                    deadline: %dms
                    cloud-latency: {initial: 20ms, window: 10}
                    cost: {cloud: {per-request-usd: %s}}
                    """.formatted(kind, kind.equals("cascade") ? "" : ", output: e", kind.equals("cascade") ? "" : ", input: e",
                    threshold, deadline, cloudPrice));
            Files.writeString(folder.resolve("tenants.yaml"), """
                    version: 1
                    default: {budget-usd: %s, when-spent: %s, allow: [auto, edge]}
                    """.formatted(budget, reject ? "reject" : "edge-only"));
            assertThat(engine.reload(folder).problems()).isEmpty();
            RouteEngine route = engine.route("r");

            for (int i = 0; i < 500; i++) {
                if (random.nextInt(10) == 0) {
                    route.recordCloudLatency(random.nextDouble() * 2 * deadline);
                }
                if (random.nextInt(20) == 0) {
                    route.charge("t", Tier.CLOUD, 0);
                }
                RequestedRoute asked = RequestedRoute.values()[random.nextInt(3)];
                long requestDeadline = random.nextInt(3) == 0 ? 1 + random.nextInt(600) : 0;
                RequestFacts facts = new RequestFacts("t", "", Map.of(), Map.of(), 0, asked, requestDeadline);
                EdgeOutcome outcome = new EdgeOutcome(random.nextDouble(), random.nextDouble(), 1, "x");
                long elapsed = random.nextInt((int) deadline + 50);
                double estimate = route.cloudLatencyEstimateMillis();
                double thresholdNow = route.threshold();
                boolean budgetFits = route.spentUsd("t") + cloudPrice <= budget + 1e-12;
                long effectiveDeadline = route.deadlineMillis(facts);

                Decision before = route.beforeEdge(facts);
                if (asked == RequestedRoute.CLOUD) {
                    assertThat(before).as("cloud is not among the tenant's rights")
                            .isEqualTo(Decision.of(Action.REJECT, Reason.NOT_ALLOWED));
                    continue;
                }
                assertThat(before.action()).isEqualTo(Action.RUN_EDGE);
                Decision after = route.afterEdge(facts, before, outcome, elapsed);
                switch (after.action()) {
                    case ESCALATE -> {
                        assertThat(asked).isEqualTo(RequestedRoute.AUTO);
                        assertThat(outcome.confidence()).isLessThan(thresholdNow);
                        assertThat(estimate).as("escalated only when the cloud fits the time left")
                                .isLessThan(effectiveDeadline - elapsed);
                        assertThat(budgetFits).as("escalated only within the budget").isTrue();
                    }
                    case ANSWER_AT_EDGE -> {
                        switch (after.reason()) {
                            case CONFIDENT -> assertThat(outcome.confidence()).isGreaterThanOrEqualTo(thresholdNow);
                            case CLIENT_ASKED -> assertThat(asked).isEqualTo(RequestedRoute.EDGE);
                            case DEADLINE_TOO_TIGHT -> assertThat(estimate).isGreaterThanOrEqualTo(effectiveDeadline - elapsed);
                            case BUDGET_EXHAUSTED -> {
                                assertThat(budgetFits).isFalse();
                                assertThat(reject).isFalse();
                            }
                            default -> throw new AssertionError("unexpected " + after);
                        }
                    }
                    case REJECT -> {
                        assertThat(after.reason()).isEqualTo(Reason.BUDGET_EXHAUSTED);
                        assertThat(reject).isTrue();
                        assertThat(budgetFits).isFalse();
                    }
                    default -> throw new AssertionError("unexpected " + after);
                }
            }
        }
    }
}
