package dev.hybridge.bench;

import dev.hybridge.e2e.ProgramProcess;
import dev.hybridge.e2e.RawHttp;
import dev.hybridge.oip.OipCodec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/**
 * What metrics and traces cost on the request path: the same requests through three gateway and
 * cloud-worker pairs: everything on as shipped (Spring's default sampling, 0.1 of new traces
 * recorded), the same with every trace recorded
 * ({@code management.tracing.sampling.probability=1.0}, the worst case), and tracing off
 * ({@link #TRACING_OFF}: no tracer at all) with Hybridge's, the HTTP server's and Resilience4j's
 * meters denied ({@code management.metrics.enable.<prefix>=false}). Throughput
 * phases alternate between the pairs in one run; a sequential caller gives the p50. Target: with
 * both on, at least 0.97x the throughput with both off, judged on the median over rounds of each
 * round's ratio (the phases of one round run back to back, so the shared machine's slow stretches
 * weigh on both sides).
 *
 * <p>Each pair: a cloud worker (batching off) serving {@code dense_audio} (or {@code bench.model}) from
 * {@code models/testdata/repository}, a gateway with one cloud-only route {@code pass} to it.
 * Requests: one second of audio with the binary tensor extension on keep-alive connections
 * ({@link RawHttp}); on the pair that records every trace, each with a client {@code traceparent}
 * header, as an instrumented client sends.
 *
 * <p>{@code java -cp benchmarks/target/benchmarks.jar dev.hybridge.bench.Observability} writes
 * {@code benchmarks/results/Observability.md}. Settings ({@code -D}): {@code bench.rounds} (8; long 12),
 * {@code bench.clients} (16), {@code bench.phaseSeconds} (6; 10), {@code bench.warmupSeconds} (40; 60: the least warm-up per pair;
 * it goes on in 5 s slices until the pair's JIT compilers settle, at most {@code bench.warmupMaxSeconds},
 * 240; 300),
 * {@code bench.calls} (1000; 3000), {@code bench.tracingSettings} (program settings added to the two
 * traced pairs, to try what lowers the cost; the results then go to {@code Observability-tried.md}),
 * {@code bench.jvm} (JVM options for every program, a profiler's agent say; results to the same),
 * {@code bench.model} and {@code bench.repository} (another model, e.g. {@code digits-cloud} from
 * {@code models/demo/repository/cloud}, whose requests cost more than the near-empty
 * {@code dense_audio}'s; results then go to {@code Observability-<model>.md}).
 */
public final class Observability {

    private static final String MODEL = System.getProperty("bench.model", "dense_audio");
    private static final Path REPOSITORY = System.getProperty("bench.repository") == null
            ? Bench.testRepository() : Bench.root().resolve(System.getProperty("bench.repository"));
    /**
     * Tracing off: Spring Boot's OpenTelemetry tracing left out, so that the programs get its no-op
     * tracer. {@code management.tracing.export.enabled=false} alone is not off: Spring Boot 4 then
     * still makes every span (with no propagation and no exporter).
     */
    private static final List<String> TRACING_OFF = List.of("--management.tracing.export.enabled=false",
            "--spring.autoconfigure.exclude=org.springframework.boot.micrometer.tracing.opentelemetry.autoconfigure"
                    + ".OpenTelemetryTracingAutoConfiguration");
    private static final List<String> OFF = List.of(TRACING_OFF.get(0), TRACING_OFF.get(1),
            "--management.metrics.enable.hybridge=false", "--management.metrics.enable.http=false",
            "--management.metrics.enable.resilience4j=false");
    private static final List<String> EVERY_TRACE = List.of("--management.tracing.sampling.probability=1.0");
    /** Settings to try on the two traced pairs ({@code -Dbench.tracingSettings="--a=b --c=d"}). */
    private static final List<String> TRACING_SETTINGS = System.getProperty("bench.tracingSettings", "").isBlank()
            ? List.of() : List.of(System.getProperty("bench.tracingSettings").trim().split("\\s+"));
    /** JVM options for every program ({@code -Dbench.jvm="..."}, a profiler's agent, say). */
    private static final List<String> JVM = System.getProperty("bench.jvm", "").isBlank()
            ? List.of() : List.of(System.getProperty("bench.jvm").trim().split("\\s+"));
    private static final String SHIPPED_NAME = "as shipped (metrics, 1 trace in 10 recorded)";
    private static final String EVERY_NAME = "metrics, every trace recorded";
    private static final String METRICS_NAME = "metrics, tracing off";
    private static final String OFF_NAME = "metrics and traces off";

    private Observability() {
    }

    private record Pair(String name, ProgramProcess worker, ProgramProcess gateway, byte[] post) {
    }

    /** CPU us per request in one phase: the gateway's, the worker's, and the two's JIT compilers'. */
    private record Cpu(double gateway, double worker, double jit) {
        double both() {
            return gateway + worker;
        }
    }

    public static void main(String[] args) throws Exception {
        String results = MODEL.equals("dense_audio") ? "Observability" : "Observability-" + MODEL;
        Bench bench = new Bench(TRACING_SETTINGS.isEmpty() && JVM.isEmpty() ? results : results + "-tried",
                Observability.class, args);
        int rounds = Bench.intSetting("rounds", 8, 12);
        int clients = Bench.intSetting("clients", 16, 16);
        int phaseSeconds = Bench.intSetting("phaseSeconds", 6, 10);
        int warmupSeconds = Bench.intSetting("warmupSeconds", 40, 60);
        int warmupMaxSeconds = Bench.intSetting("warmupMaxSeconds", 240, 300);
        int calls = Bench.intSetting("calls", 1000, 3000);

        Path policies = Files.createTempDirectory("hybridge-bench-policies");
        Files.writeString(policies.resolve("pass.yaml"), """
                version: 1
                kind: cloud-only
                cloud: {model: %s}
                deadline: 5s
                """.formatted(MODEL));
        OipCodec.Encoded body = new OipCodec().encodeRequest(Bench.audioRequest(3), true);
        List<Pair> pairs = new ArrayList<>();
        try {
            for (String name : List.of(SHIPPED_NAME, EVERY_NAME, METRICS_NAME, OFF_NAME)) {
                List<String> settings = new ArrayList<>(name.equals(OFF_NAME) ? OFF : name.equals(EVERY_NAME) ? EVERY_TRACE
                        : name.equals(METRICS_NAME) ? TRACING_OFF : List.of());
                if (name.equals(SHIPPED_NAME) || name.equals(EVERY_NAME)) {
                    settings.addAll(TRACING_SETTINGS);
                }
                List<String> workerArgs = new ArrayList<>(List.of("--hybridge.serving.model-repository="
                        + REPOSITORY, "--hybridge.serving.batching.enabled=false"));
                workerArgs.addAll(settings);
                ProgramProcess worker = ProgramProcess.start("cloud-worker", Bench.logDir(), JVM, workerArgs);
                worker.awaitReady(Duration.ofSeconds(120));
                List<String> gatewayArgs = new ArrayList<>(List.of("--hybridge.gateway.policy-folder=" + policies,
                        "--hybridge.gateway.cloud.addresses=" + worker.baseUri(),
                        "--hybridge.gateway.cloud.max-concurrent=256", "--hybridge.gateway.anonymous-tenant=bench"));
                gatewayArgs.addAll(settings);
                ProgramProcess gateway = ProgramProcess.start("gateway", Bench.logDir(), JVM, gatewayArgs);
                System.out.println(name + ": gateway pid " + gateway.pid() + ", worker pid " + worker.pid());
                gateway.awaitReady(Duration.ofSeconds(120));
                byte[] post = RawHttp.post(gateway.baseUri(), "/v2/models/pass/infer", body,
                        !name.equals(EVERY_NAME) ? Map.of()
                                : Map.of("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
                pairs.add(new Pair(name, worker, gateway, post));
            }
            bench.text("Four pairs of a cloud worker (batching off) serving `" + MODEL + "` and a gateway with one"
                    + " cloud-only route to it, on the same 2 CPUs; one pair at a time is loaded. **As shipped**:"
                    + " Prometheus meters, Micrometer Tracing over OpenTelemetry, no OTLP endpoint, Spring's default"
                    + " sampling (0.1 of new traces). **Every trace recorded**: the same with"
                    + " `management.tracing.sampling.probability=1.0` and a client `traceparent` (sampled) on every"
                    + " request, as an instrumented client sends. Every request is traced (ids, propagation, log"
                    + " correlation) on both; only the recording differs. **Metrics, tracing off**: `"
                    + String.join(" ", TRACING_OFF) + "` (no tracer at all; the first alone still makes every span)"
                    + ", to tell the two costs apart. **Off**: `" + String.join(" ", OFF)
                    + "`. " + (TRACING_SETTINGS.isEmpty() ? "" : "Tried on both traced pairs: `"
                    + String.join(" ", TRACING_SETTINGS) + "`. ") + (JVM.isEmpty() ? ""
                    : "JVM options on every program: `" + String.join(" ", JVM) + "`. ") + clients + " closed-loop clients; warm-up at least "
                    + warmupSeconds + " s per pair (below); " + rounds + " rounds of one " + phaseSeconds
                    + " s phase per pair, alternating.");
            List<String> warmed = new ArrayList<>();
            for (Pair pair : pairs) {
                Bench.Settled settled = Bench.warmUntilCompiled(
                        seconds -> ClosedLoop.run(pair.gateway().baseUri(), pair.post(), clients, seconds),
                        List.of(pair.gateway().pid(), pair.worker().pid()), warmupSeconds, warmupMaxSeconds);
                System.out.printf("warm-up %s: %s%n", pair.name(), settled);
                warmed.add(pair.name() + ": " + settled);
            }
            // one phase per pair, in the first round's order, not counted: without it the first round
            // measures pairs that have idled through 0 to 3 others' warm-ups, and a pair that has
            // idled runs slower for its next few seconds
            for (Pair pair : pairs) {
                ClosedLoop.run(pair.gateway().baseUri(), pair.post(), clients, phaseSeconds);
            }
            bench.text("Warm-up until the compilers settled (at least " + warmupSeconds + " s of load, then until"
                    + " the JIT compiler threads of the gateway and the worker together used under a tenth of one CPU"
                    + " over 5 s, at most " + warmupMaxSeconds + " s), then one uncounted phase per pair in the first"
                    + " round's order: " + String.join("; ", warmed) + ".");
            Map<String, List<ClosedLoop.Result>> load = new LinkedHashMap<>();
            Map<String, List<Long>> p50s = new LinkedHashMap<>();
            Map<String, List<Cpu>> cpuPerRequest = new LinkedHashMap<>();
            for (Pair pair : pairs) {
                cpuPerRequest.put(pair.name(), new ArrayList<>());
                load.put(pair.name(), new ArrayList<>());
                p50s.put(pair.name(), new ArrayList<>());
            }
            for (int round = 0; round < rounds; round++) {
                for (int i = 0; i < pairs.size(); i++) {
                    Pair pair = pairs.get((i + round) % pairs.size());
                    long gatewayBefore = Bench.cpuMillis(pair.gateway().pid());
                    long workerBefore = Bench.cpuMillis(pair.worker().pid());
                    long jitBefore = Bench.jitMillis(List.of(pair.gateway().pid(), pair.worker().pid()));
                    ClosedLoop.Result result = ClosedLoop.run(pair.gateway().baseUri(), pair.post(), clients, phaseSeconds);
                    double perRequest = result.ok() == 0 ? Double.NaN : 1000.0 / result.ok();
                    cpuPerRequest.get(pair.name()).add(new Cpu(
                            (Bench.cpuMillis(pair.gateway().pid()) - gatewayBefore) * perRequest,
                            (Bench.cpuMillis(pair.worker().pid()) - workerBefore) * perRequest,
                            (Bench.jitMillis(List.of(pair.gateway().pid(), pair.worker().pid())) - jitBefore)
                                    * perRequest));
                    load.get(pair.name()).add(result);
                    long p50 = Bench.Stats.of(ClosedLoop.sequential(pair.gateway().baseUri(), pair.post(), calls, pair.name())).p50();
                    p50s.get(pair.name()).add(p50);
                    System.out.printf("  round %d %-45s %.0f req/s, %d errors, sequential p50 %s ms%n", round + 1,
                            pair.name(), result.rps(), result.errors(), Bench.ms(p50));
                }
            }
            List<List<String>> rows = new ArrayList<>();
            double off = median(load.get(OFF_NAME));
            Map<String, Double> ratios = new LinkedHashMap<>();
            for (Pair pair : pairs) {
                ratios.put(pair.name(), medianRatio(load.get(pair.name()), load.get(OFF_NAME)));
            }
            for (Pair pair : pairs) {
                List<String> perPhase = new ArrayList<>();
                long errors = 0;
                for (ClosedLoop.Result r : load.get(pair.name())) {
                    perPhase.add(Bench.fixed(r.rps(), 0));
                    errors += r.errors();
                }
                List<Long> p = new ArrayList<>(p50s.get(pair.name()));
                p.sort(null);
                double rps = median(load.get(pair.name()));
                rows.add(List.of(pair.name(), Bench.fixed(rps, 0), String.join(", ", perPhase),
                        Bench.fixed(rps / off, 3) + "x", Bench.fixed(ratios.get(pair.name()), 3) + "x",
                        Bench.ms(p.get(p.size() / 2)), Long.toString(errors)));
            }
            bench.heading("Throughput through the gateway, " + clients + " clients");
            bench.table(List.of("pair", "median req/s", "req/s per phase", "medians' ratio vs off",
                    "median of the rounds' ratios vs off", "sequential p50 ms (median of rounds)", "errors"), rows);
            bench.text("The target is judged on the median of the rounds' ratios: each round's phase against the"
                    + " same round's phase with everything off, so that a slow stretch of the shared machine counts"
                    + " against both sides of a ratio.");
            double shipped = ratios.get(SHIPPED_NAME);
            double every = ratios.get(EVERY_NAME);
            bench.heading("CPU per request");
            bench.text("Each program's CPU time (user and system, from /proc) over each phase, divided by the"
                    + " requests it answered: what the instrumentation costs in work, which the shared machine's"
                    + " slow stretches move far less than they move throughput. Median over rounds; each ratio is"
                    + " each round's figure over the same round's with everything off (the median of those).");
            List<List<String>> cpuRows = new ArrayList<>();
            for (Pair pair : pairs) {
                List<Cpu> mine = cpuPerRequest.get(pair.name());
                List<Cpu> offs = cpuPerRequest.get(OFF_NAME);
                List<String> row = new ArrayList<>(List.of(pair.name()));
                for (ToDoubleFunction<Cpu> program : List.<ToDoubleFunction<Cpu>>of(
                        Cpu::gateway, Cpu::worker, Cpu::both)) {
                    List<Double> perRound = new ArrayList<>();
                    for (int r = 0; r < mine.size(); r++) {
                        perRound.add(program.applyAsDouble(mine.get(r)) / program.applyAsDouble(offs.get(r)));
                    }
                    row.add(Bench.fixed(medianOf(mine.stream().map(program::applyAsDouble).toList()), 1));
                    row.add(Bench.fixed(medianOf(perRound), 3) + "x");
                }
                row.add(Bench.fixed(medianOf(mine.stream().map(Cpu::jit).toList()), 1));
                cpuRows.add(row);
            }
            bench.table(List.of("pair", "gateway us per request", "vs off", "worker us per request", "vs off",
                    "both us per request", "vs off", "of which JIT compiling, us per request"), cpuRows);
            bench.heading("Target");
            bench.table(List.of("target", "measured", "met"), List.of(
                    List.of("as shipped >= 0.97x off", Bench.fixed(shipped, 3) + "x", shipped >= 0.97 ? "yes" : "no"),
                    List.of("every trace recorded >= 0.97x off", Bench.fixed(every, 3) + "x", every >= 0.97 ? "yes" : "no")));
        } finally {
            for (Pair pair : pairs) {
                pair.gateway().close();
                pair.worker().close();
            }
        }
        bench.write();
    }

    /** The median over rounds of a pair's throughput divided by the same round's throughput with everything off. */
    private static double medianRatio(List<ClosedLoop.Result> pair, List<ClosedLoop.Result> off) {
        List<Double> ratios = new ArrayList<>();
        for (int round = 0; round < pair.size(); round++) {
            ratios.add(pair.get(round).rps() / off.get(round).rps());
        }
        return medianOf(ratios);
    }

    private static double medianOf(List<Double> values) {
        List<Double> sorted = new ArrayList<>(values);
        sorted.sort(null);
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }

    private static double median(List<ClosedLoop.Result> results) {
        List<Double> rps = new ArrayList<>();
        results.forEach(r -> rps.add(r.rps()));
        rps.sort(null);
        int n = rps.size();
        return n % 2 == 1 ? rps.get(n / 2) : (rps.get(n / 2 - 1) + rps.get(n / 2)) / 2;
    }
}
