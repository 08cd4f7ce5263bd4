package dev.hybridge.bench;

import dev.hybridge.policy.Decision;
import dev.hybridge.policy.EdgeOutcome;
import dev.hybridge.policy.PolicyEngine;
import dev.hybridge.policy.RequestFacts;
import dev.hybridge.policy.RequestedRoute;
import dev.hybridge.policy.RouteEngine;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;

/**
 * What one routing decision costs: {@link RouteEngine#beforeEdge} and {@link RouteEngine#afterEdge}
 * on the shipped policies ({@code config/policies}), with the time and the bytes allocated per
 * decision (JMH's GC profiler). Target: at most 2 µs and little allocation.
 *
 * <p>{@code java -cp benchmarks/target/benchmarks.jar dev.hybridge.bench.DecisionBenchmark}
 * writes {@code benchmarks/results/DecisionBenchmark.md}; {@code java -jar
 * benchmarks/target/benchmarks.jar DecisionBenchmark -prof gc} runs it through JMH's own command line.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms256m", "-Xmx256m"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class DecisionBenchmark {

    private RouteEngine cascade;
    private RouteEngine calibratedSplit;
    private RouteEngine customCondition;
    private RouteEngine learnedScore;
    private Decision runEdgeLearned;
    private RequestFacts facts;
    private Decision runEdge;
    private Decision runEdgeSplit;
    private Decision runEdgeCustom;
    private final EdgeOutcome[] outcomes = new EdgeOutcome[64];
    private int next;

    @Setup
    public void load() throws Exception {
        Path root = Bench.root();
        Path folder = Files.createTempDirectory("hybridge-decision-bench");
        try (var files = Files.list(root.resolve("config/policies"))) {
            for (Path f : files.toList()) {
                Files.copy(f, folder.resolve(f.getFileName()));
            }
        }
        // the cascade with a custom condition that reads a parameter and an input shape
        Files.writeString(folder.resolve("digits-custom.yaml"), Files.readString(folder.resolve("digits.yaml"))
                .replace("escalate-when: 'score < threshold'",
                        "escalate-when: 'score < threshold || (confidence < 0.3 && inputs[\"audio\"][1] > 4000)'"));
        // the cascade escalating on a learned score (a linear log-odds over the edge's outcome), calibrated
        Files.writeString(folder.resolve("digits-learned.yaml"), """
                version: 1
                kind: cascade
                edge: {model: digits-edge}
                cloud: {model: digits-cloud}
                score: '-4.1 + 3.2 * confidence + 6.0 * margin - 0.4 * entropy'
                threshold:
                  value: 0.0
                  calibrate: {target-escalation-rate: 0.15, min: -5, max: 5}
                """);
        PolicyEngine engine = new PolicyEngine(Clock.systemUTC());
        PolicyEngine.Reload reload = engine.reload(folder);
        if (!reload.applied()) {
            throw new IllegalStateException(String.join("\n", reload.problems()));
        }
        cascade = engine.route("digits");
        calibratedSplit = engine.route("digits-split");
        customCondition = engine.route("digits-custom");
        learnedScore = engine.route("digits-learned");
        facts = new RequestFacts("demo", "device-1", Map.of("hybridge.deadline_ms", 400L),
                Map.of("audio", new long[] {1, 8000}), 32_000, RequestedRoute.AUTO, 0);
        java.util.Random random = new java.util.Random(1);
        for (int i = 0; i < outcomes.length; i++) {
            double confidence = 0.2 + 0.8 * random.nextDouble();
            outcomes[i] = new EdgeOutcome(confidence, confidence / 2, 1.0, Integer.toString(i % 10));
        }
        runEdge = cascade.beforeEdge(facts);
        runEdgeSplit = calibratedSplit.beforeEdge(facts);
        runEdgeCustom = customCondition.beforeEdge(facts);
        runEdgeLearned = learnedScore.beforeEdge(facts);
        for (int i = 0; i < 50; i++) {
            cascade.recordCloudLatency(40 + i);
            calibratedSplit.recordCloudLatency(40 + i);
            customCondition.recordCloudLatency(40 + i);
            learnedScore.recordCloudLatency(40 + i);
        }
    }

    private EdgeOutcome outcome() {
        next = (next + 1) & (outcomes.length - 1);
        return outcomes[next];
    }

    /** Before the edge: tenant rights, then the route's hard-when CEL rule (input shape and a parameter). */
    @Benchmark
    public Decision cascadeBeforeEdge() {
        return cascade.beforeEdge(facts);
    }

    /** After the edge: the shipped score (the margin) under its calibrated threshold, deadline and budget checks. */
    @Benchmark
    public Decision cascadeAfterEdge() {
        return cascade.afterEdge(facts, runEdge, outcome(), 5);
    }

    /** Both steps of a cascade decision. */
    @Benchmark
    public Decision cascadeWholeDecision() {
        Decision before = cascade.beforeEdge(facts);
        return cascade.afterEdge(facts, before, outcome(), 5);
    }

    /** After the edge, with the threshold calibrated from recent confidences (recording one each time). */
    @Benchmark
    public Decision calibratedSplitAfterEdge() {
        return calibratedSplit.afterEdge(facts, runEdgeSplit, outcome(), 5);
    }

    /** After the edge, with a custom CEL escalation condition. */
    @Benchmark
    public Decision customConditionAfterEdge() {
        return customCondition.afterEdge(facts, runEdgeCustom, outcome(), 5);
    }

    /** After the edge, with a learned score (a CEL expression) and a threshold calibrated on it. */
    @Benchmark
    public Decision learnedScoreAfterEdge() {
        return learnedScore.afterEdge(facts, runEdgeLearned, outcome(), 5);
    }

    /** Runs the benchmarks with the GC profiler and writes the markdown result. */
    public static void main(String[] args) throws Exception {
        Bench bench = new Bench("DecisionBenchmark", DecisionBenchmark.class, args);
        boolean longer = Bench.longRun();
        Collection<RunResult> results = Bench.jmh(DecisionBenchmark.class, true);
        bench.text("JMH, average time per call, " + (longer ? 3 : 1) + " fork(s) with -Xms256m -Xmx256m, "
                + (longer ? 5 : 3) + " x 2 s warm-up, " + (longer ? 10 : 5) + " x 2 s measurement, one thread;"
                + " allocation from JMH's GC profiler (`gc.alloc.rate.norm`). Policies: the shipped"
                + " `config/policies` (digits: cascade with a CEL hard-when rule, the margin as its score and a calibrated"
                + " threshold; digits-split: split with early exit, the same score and calibration), plus the digits cascade with a custom CEL escalation condition and"
                + " with a learned score (a linear CEL expression over confidence, margin and entropy) under a"
                + " calibrated threshold."
                + " Target: a decision costs at most 2 µs and allocates little.");
        List<List<String>> rows = new ArrayList<>();
        for (RunResult result : results) {
            String name = result.getParams().getBenchmark();
            name = name.substring(name.lastIndexOf('.') + 1);
            Result<?> primary = result.getPrimaryResult();
            Result<?> alloc = result.getSecondaryResults().get("gc.alloc.rate.norm");
            double ns = primary.getScore();
            rows.add(List.of(name, Bench.fixed(ns, 1), Bench.fixed(primary.getScoreError(), 1),
                    alloc == null ? "n/a" : Bench.fixed(alloc.getScore(), 1),
                    ns <= 2000 ? "yes" : "no"));
        }
        bench.table(List.of("benchmark", "ns/op", "error (99.9%)", "bytes allocated/op", "under 2 µs"), rows);
        bench.write();
    }
}
