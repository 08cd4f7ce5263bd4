package dev.hybridge.policy.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.hybridge.policy.Decision;
import dev.hybridge.policy.EdgeOutcome;
import dev.hybridge.policy.PolicyEngine;
import dev.hybridge.policy.Reason;
import dev.hybridge.policy.RequestFacts;
import dev.hybridge.policy.RequestedRoute;
import dev.hybridge.policy.RouteEngine;
import dev.hybridge.policy.Tier;
import dev.hybridge.policy.runtime.RouteOutcome;
import dev.hybridge.policy.runtime.RouteRuntime;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.distribution.CountAtBucket;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What the route meters read from real policy files and real decisions. */
class RouteMetricsTest {

    private static final String CASCADE = """
            version: 1
            kind: cascade
            edge: {model: small}
            cloud: {model: big}
            hard-when: 'parameters["hybridge.hard"] == true'
            threshold: {value: 0.55}
            deadline: 500ms
            cloud-latency: {initial: 80ms, window: 20}
            cost:
              edge: {per-request-usd: 0.0001}
              cloud: {per-request-usd: 0.01, per-megabyte-usd: 1.0}
            """;
    private static final String TENANTS = """
            version: 1
            budget-window: 1h
            tenants:
              acme: {budget-usd: 1.0}
              free: {}
            """;

    @TempDir
    Path folder;

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final PolicyEngine engine = new PolicyEngine(Clock.fixed(Instant.parse("2026-11-29T10:15:00Z"), ZoneOffset.UTC));
    private RouteMetrics metrics;

    @BeforeEach
    void load() throws Exception {
        Files.writeString(folder.resolve("digits.yaml"), CASCADE);
        Files.writeString(folder.resolve("tenants.yaml"), TENANTS);
        assertThat(engine.reload(folder).problems()).isEmpty();
        metrics = new RouteMetrics(registry, engine, "test.requests", "Requests", "test.shadow");
    }

    private static RequestFacts facts(Map<String, Object> parameters) {
        return new RequestFacts("acme", "dev-1", parameters, Map.of("audio", new long[] {1, 8000}), 32_000,
                RequestedRoute.AUTO, 0);
    }

    private Decision judge(double confidence) {
        RouteEngine route = engine.route("digits");
        RequestFacts facts = facts(Map.of("hybridge.hard", false));
        return route.afterEdge(facts, route.beforeEdge(facts), new EdgeOutcome(confidence, confidence / 2, 1.0, "3"), 5);
    }

    @Test
    void judgementsMakeTheConfidenceHistogramAndTheEscalationRatio() {
        assertThat(registry.get("hybridge.route.escalation.ratio").gauge().value()).as("nothing judged yet").isNaN();
        for (double confidence : new double[] {0.97, 0.91, 0.4, 0.88}) {
            judge(confidence);
        }
        assertThat(registry.get("hybridge.route.escalation.ratio").tag("route", "digits").gauge().value()).isEqualTo(0.25);
        assertThat(registry.get("hybridge.route.judged").tag("decision", "escalated").counter().count()).isEqualTo(1);
        assertThat(registry.get("hybridge.route.judged").tag("decision", "kept").counter().count()).isEqualTo(3);
        DistributionSummary confidence = registry.get("hybridge.route.confidence").tag("route", "digits").summary();
        assertThat(confidence.count()).isEqualTo(4);
        assertThat(confidence.totalAmount()).as("in percent").isCloseTo(316, within(1e-9));
        CountAtBucket[] buckets = confidence.takeSnapshot().histogramCounts();
        assertThat(buckets).hasSize(20);
        assertThat(bucket(buckets, 40)).as("cumulative, as Prometheus reads it").isEqualTo(1);
        assertThat(bucket(buckets, 90)).isEqualTo(2);
        assertThat(bucket(buckets, 100)).isEqualTo(4);
        assertThat(registry.get("hybridge.route.threshold").gauge().value()).isEqualTo(0.55);
        assertThat(registry.get("hybridge.route.cloud.latency.estimate").timeGauge().value(TimeUnit.MILLISECONDS))
                .isEqualTo(80);
    }

    private static double bucket(CountAtBucket[] buckets, double bound) {
        return Arrays.stream(buckets).filter(b -> Math.abs(b.bucket() - bound) < 1e-9).findFirst().orElseThrow().count();
    }

    @Test
    void spendingAndBudgetsPerListedTenant() {
        engine.route("digits").charge("acme", Tier.CLOUD, 32_000);
        assertThat(registry.get("hybridge.tenant.spent").tag("tenant", "acme").gauge().value()).isCloseTo(0.042, within(1e-9));
        assertThat(registry.get("hybridge.tenant.budget").tag("tenant", "acme").gauge().value()).isEqualTo(1.0);
        assertThat(registry.get("hybridge.tenant.budget.left").tag("tenant", "acme").gauge().value())
                .isCloseTo(0.958, within(1e-9));
        assertThat(registry.get("hybridge.tenant.spent").tag("tenant", "free").gauge().value()).isZero();
        assertThat(registry.find("hybridge.tenant.budget.left").tag("tenant", "free").gauge())
                .as("an unlimited tenant has no budget to report").isNull();
    }

    @Test
    void expressionErrorsAreCounted() {
        RouteEngine route = engine.route("digits");
        route.beforeEdge(facts(Map.of()));
        route.beforeEdge(facts(Map.of()));
        assertThat(registry.get("hybridge.route.expression.errors").tag("route", "digits").functionCounter().count())
                .isEqualTo(2);
    }

    @Test
    void answersAreTimedAndCostedByRouteTierAndReason() {
        metrics.answered(new RouteOutcome("digits", Tier.CLOUD, Reason.LOW_CONFIDENCE, 0.99, 0.042, false, 200), 2_000_000);
        metrics.answered(new RouteOutcome("digits", Tier.EDGE, Reason.CONFIDENT, 0.97, 0.0001, false, 200), 1_000_000);
        metrics.answered(new RouteOutcome("nonsense", null, Reason.CLOUD_UNAVAILABLE, null, 0, false, 503), 1_000_000);
        metrics.refused("digits", 400, 100_000);
        metrics.shadow("digits", RouteRuntime.ShadowResult.AGREED);

        assertThat(registry.get("test.requests").tags("route", "digits", "tier", "cloud", "reason", "low_confidence",
                "status", "2xx", "degraded", "false").timer().totalTime(TimeUnit.MILLISECONDS)).isEqualTo(2);
        assertThat(registry.get("test.requests").tags("route", "unknown", "tier", "none", "status", "5xx").timer().count())
                .as("routes no policy names share one tag").isEqualTo(1);
        assertThat(registry.get("test.requests").tags("reason", "refused", "status", "4xx").timer().count()).isEqualTo(1);
        assertThat(registry.get("hybridge.route.cost").tags("route", "digits", "tier", "cloud").counter().count())
                .isCloseTo(0.042, within(1e-12));
        assertThat(registry.get("test.shadow").tags("route", "digits", "result", "agreed").counter().count()).isEqualTo(1);
    }

    @Test
    void aRouteThatIsGoneReadsNaNAndANewOneIsRegistered() throws Exception {
        Files.delete(folder.resolve("digits.yaml"));
        Files.writeString(folder.resolve("speech.yaml"), CASCADE);
        assertThat(engine.reload(folder).problems()).isEmpty();
        assertThat(registry.get("hybridge.route.threshold").tag("route", "digits").gauge().value()).isNaN();
        assertThat(registry.get("hybridge.route.threshold").tag("route", "speech").gauge().value()).isEqualTo(0.55);
    }
}
