package dev.hybridge.bench;

import dev.hybridge.e2e.EdgeLaunch;
import dev.hybridge.e2e.ProgramProcess;
import dev.hybridge.e2e.PrometheusText;
import dev.hybridge.e2e.RawHttp;
import dev.hybridge.models.Fsdd;
import dev.hybridge.oip.Datatype;
import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.Tensor;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What deciding on the device costs a caller, against the edge model alone on the same agent (what
 * a device would run without Hybridge), side by side in one run: the shipped cascade {@code digits}
 * (and the same without its {@code device-profile}: what learning the user's profile and speed views
 * costs) and split {@code digits-split} called on an edge agent whose uplink goes to a gateway with a
 * cloud worker, with the link up and with the gateway frozen (SIGSTOP: the link hangs) once the
 * agent's breaker has opened. Also the bytes each escalation sends over the link, cascade against
 * split.
 *
 * <p>One sequential caller on a kept-alive connection ({@code RawHttp}), the test split's real
 * recordings in turn as binary tensor data, phases of {@code bench.calls} calls interleaved per
 * round: edge model alone, cascade, split (link up); then the gateway frozen, the cascade called
 * until the agent reports its link offline, and edge model alone, cascade (link frozen); then the
 * gateway thawed and the link back. The agent runs with its launch options ({@code EdgeLaunch}).
 * Each path's row counts the agent's garbage collections during its phases (a p99 here is where
 * about one call in a hundred meets a young collection), and the frozen cascade's degraded answers
 * (kept in the outbox on the way) are reported apart from the rest.
 *
 * <p>{@code java -cp benchmarks/target/benchmarks.jar dev.hybridge.bench.EdgeRoutes} writes
 * {@code benchmarks/results/EdgeRoutes.md}. Settings ({@code -D}): {@code bench.rounds} (5; 9),
 * {@code bench.calls} per phase (1000; 2000), {@code bench.warmupCalls} per path (1500; 3000),
 * {@code bench.agentOptions} (JVM options added to the agent's, space-separated: a GC log or a
 * profiler agent).
 */
public final class EdgeRoutes {

    private static final Path DEMO = Bench.root().resolve("models/demo/repository");

    private EdgeRoutes() {
    }

    /**
     * One phase's latencies, how many of its answers came from the cloud, the degraded answers'
     * latencies and the others', and the agent's collections during it (-1: not known).
     */
    private record Phase(long[] nanos, int cloud, int degraded, long[] degradedNanos, long[] otherNanos, long gcs) {

        Phase withGcs(long count) {
            return new Phase(nanos, cloud, degraded, degradedNanos, otherNanos, count);
        }
    }

    public static void main(String[] args) throws Exception {
        Bench bench = new Bench("EdgeRoutes", EdgeRoutes.class, args);
        // 5000 calls a path: a p99 from 900 rests on 9 calls, which is where the agent's young
        // collections (about one call in a hundred meets one) make it swing by 2x from run to run
        int rounds = Bench.intSetting("rounds", 5, 9);
        int calls = Bench.intSetting("calls", 1000, 2000);
        int warmupCalls = Bench.intSetting("warmupCalls", 1500, 3000);

        Path policies = Files.createTempDirectory("hybridge-bench-edge-policies");
        try (var shipped = Files.list(Bench.root().resolve("config/policies"))) {
            for (Path f : shipped.toList()) {
                Files.copy(f, policies.resolve(f.getFileName()));
            }
        }
        Files.writeString(policies.resolve("tenants.yaml"), "version: 1\ndefault: {allow: [auto, edge, cloud]}\n");
        // the same cascade without what the device learns of its user (its profile and speed views): what they cost
        Files.writeString(policies.resolve("digits-unlearned.yaml"), Files.readString(policies.resolve("digits.yaml"))
                .replaceAll("(?m)^device-profile:\\n(^[ #].*\\n)*", ""));
        Path state = Files.createTempDirectory("hybridge-bench-edge-state");
        List<Fsdd.Clip> clips = Fsdd.testSplit(Fsdd.recordings(Bench.root()));
        OipCodec codec = new OipCodec();

        try (ProgramProcess worker = ProgramProcess.start("cloud-worker", Bench.logDir(), List.of(),
                List.of("--hybridge.serving.model-repository=" + DEMO.resolve("cloud"),
                        "--hybridge.serving.batching.enabled=false"))) {
            worker.awaitReady(Duration.ofSeconds(120));
            try (ProgramProcess gateway = ProgramProcess.start("gateway", Bench.logDir(), List.of(),
                    List.of("--hybridge.gateway.policy-folder=" + policies,
                            "--hybridge.gateway.cloud.addresses=" + worker.baseUri(),
                            "--hybridge.gateway.anonymous-tenant=bench"))) {
                gateway.awaitReady(Duration.ofSeconds(120));
                try (ProgramProcess agent = ProgramProcess.start("edge-agent", Bench.logDir(), agentOptions(),
                        List.of("--hybridge.serving.model-repository=" + DEMO.resolve("edge"),
                                "--hybridge.edge.uplink.url=" + gateway.baseUri(),
                                "--hybridge.edge.device-id=bench-device",
                                "--hybridge.edge.state-dir=" + state,
                                "--hybridge.edge.uplink.policy-refresh=1s",
                                "--hybridge.edge.uplink.breaker.wait-in-open-state=500ms",
                                "--hybridge.edge.uplink.probe.first-backoff=200ms",
                                "--hybridge.edge.uplink.probe.max-backoff=1s"))) {
                    agent.awaitReady(Duration.ofSeconds(120));
                    awaitRoutes(agent.baseUri());
                    Map<String, List<byte[]>> bodies = new LinkedHashMap<>();
                    for (String model : List.of("digits-edge", "digits", "digits-unlearned", "digits-split")) {
                        List<byte[]> posts = new ArrayList<>();
                        // the edge model alone is asked for what the routes answer, its probabilities (a
                        // device without Hybridge has no use for the embedding, 9 KB to write per answer)
                        List<InferRequest.RequestedOutput> outputs = model.equals("digits-edge")
                                ? List.of(new InferRequest.RequestedOutput("probs", Map.of())) : List.of();
                        for (Fsdd.Clip c : clips) {
                            InferRequest request = new InferRequest(c.file(), Map.of(), List.of(new Tensor("audio",
                                    Datatype.FP32, new long[] {1, Fsdd.SAMPLES}, c.audio())), outputs);
                            posts.add(RawHttp.post(agent.baseUri(), "/v2/models/" + model + "/infer",
                                    codec.encodeRequest(request, true)));
                        }
                        bodies.put(model, posts);
                    }
                    bench.text("An edge agent (launch options of `EdgeLaunch`) serving `digits-edge` with its uplink to a"
                            + " gateway (shipped policies, a tenant whose budget the run cannot spend) and one cloud"
                            + " worker (batching off) serving `digits-cloud` and `digits-head`. One sequential caller on"
                            + " a kept-alive connection, the " + clips.size() + " test-split recordings in turn as binary"
                            + " tensor data, " + calls + " calls per phase, " + rounds + " rounds; warm-up "
                            + warmupCalls + " calls per path. All four processes share the machine's 2 CPUs.");
                    for (String model : bodies.keySet()) {
                        run(agent.baseUri(), bodies.get(model), warmupCalls, 0);
                    }
                    Map<String, List<Phase>> phases = new LinkedHashMap<>();
                    List<String> others = new ArrayList<>();
                    int offset = 0;
                    for (int round = 0; round < rounds; round++) {
                        Bench.OtherCpu other = Bench.OtherCpu.start();
                        add(phases, "edge model alone (link up)", measured(agent.baseUri(), bodies.get("digits-edge"), calls, offset));
                        add(phases, "cascade `digits` (link up)", measured(agent.baseUri(), bodies.get("digits"), calls, offset));
                        add(phases, UNLEARNED, measured(agent.baseUri(), bodies.get("digits-unlearned"), calls, offset));
                        add(phases, "split `digits-split` (link up)", measured(agent.baseUri(), bodies.get("digits-split"), calls, offset));
                        gateway.freeze();
                        try {
                            int toOpen = 0;
                            while (!fetch(agent.baseUri(), "/v2/health/ready")
                                    .contains("offline")) {
                                run(agent.baseUri(), bodies.get("digits"), 1, offset + toOpen++);
                                if (toOpen > 200) {
                                    throw new IllegalStateException("the agent's breaker did not open");
                                }
                            }
                            System.out.println("  breaker open after " + toOpen + " calls");
                            add(phases, "edge model alone (link frozen)", measured(agent.baseUri(), bodies.get("digits-edge"), calls, offset));
                            add(phases, "cascade `digits` (link frozen, breaker open)", measured(agent.baseUri(), bodies.get("digits"), calls, offset));
                        } finally {
                            gateway.thaw();
                        }
                        awaitLinkBack(agent.baseUri(), bodies.get("digits"));
                        others.add(other.text());
                        offset += calls;
                        System.out.println("round " + (round + 1) + " done");
                    }
                    report(bench, phases, others);
                    String metrics = fetch(agent.baseUri(), "/actuator/prometheus");
                    bench.heading("Bytes over the link per escalation");
                    List<List<String>> rows = new ArrayList<>();
                    for (String route : List.of("digits", "digits-split")) {
                        double count = metric(metrics, "hybridge_edge_uplink_sent_bytes_count", route);
                        double sum = metric(metrics, "hybridge_edge_uplink_sent_bytes_sum", route);
                        rows.add(List.of("`" + route + "`", Bench.fixed(count, 0), Bench.fixed(sum / Math.max(1, count), 0)));
                    }
                    bench.table(List.of("route", "escalations", "bytes per escalation"), rows);
                    bench.text("From the agent's `hybridge_edge_uplink_sent_bytes` (request bodies as sent: binary tensor data"
                            + " and the JSON header with the routing facts). The cascade sends the second of audio; the split"
                            + " sends the edge model's embedding.");
                }
            }
        }
        bench.write();
    }

    /** The shipped cascade with its device-profile setting taken out. */
    private static final String UNLEARNED = "cascade `digits` without device-profile (link up)";

    /** The agent's launch options, and {@code bench.agentOptions} (space-separated) when given, e.g. a GC log. */
    private static List<String> agentOptions() {
        List<String> options = new ArrayList<>(EdgeLaunch.OPTIONS);
        String extra = System.getProperty("bench.agentOptions", "").trim();
        if (!extra.isEmpty()) {
            options.addAll(List.of(extra.split("\\s+")));
        }
        return options;
    }

    private static void add(Map<String, List<Phase>> phases, String name, Phase phase) {
        phases.computeIfAbsent(name, k -> new ArrayList<>()).add(phase);
    }

    private static void report(Bench bench, Map<String, List<Phase>> phases, List<String> others) {
        bench.heading("Latency, one sequential caller");
        List<List<String>> rows = new ArrayList<>();
        Map<String, Bench.Stats> stats = new LinkedHashMap<>();
        for (Map.Entry<String, List<Phase>> e : phases.entrySet()) {
            List<long[]> parts = new ArrayList<>();
            int cloud = 0;
            int degraded = 0;
            int count = 0;
            long gcs = 0;
            List<String> perRound = new ArrayList<>();
            for (Phase p : e.getValue()) {
                parts.add(p.nanos());
                cloud += p.cloud();
                degraded += p.degraded();
                count += p.nanos().length;
                gcs = gcs < 0 || p.gcs() < 0 ? -1 : gcs + p.gcs();
                perRound.add(Bench.ms(Bench.Stats.of(p.nanos()).p50()));
            }
            Bench.Stats s = Bench.Stats.of(Bench.concat(parts));
            stats.put(e.getKey(), s);
            rows.add(List.of(e.getKey(), Integer.toString(count), Bench.ms(s.p50()), Bench.ms(s.p95()), Bench.ms(s.p99()),
                    Bench.fixed(100.0 * cloud / count, 1) + "%", Bench.fixed(100.0 * degraded / count, 1) + "%",
                    gcs < 0 ? "n/a" : Long.toString(gcs), String.join(", ", perRound)));
        }
        bench.table(List.of("path", "calls", "p50 ms", "p95 ms", "p99 ms", "answered by the cloud", "degraded",
                "agent's GC pauses", "p50 per round"), rows);
        bench.text("Others' CPU per round: " + String.join(", ", others) + ".");
        Bench.Stats edgeUp = stats.get("edge model alone (link up)");
        Bench.Stats cascadeUp = stats.get("cascade `digits` (link up)");
        Bench.Stats unlearned = stats.get(UNLEARNED);
        Bench.Stats edgeFrozen = stats.get("edge model alone (link frozen)");
        Bench.Stats cascadeFrozen = stats.get("cascade `digits` (link frozen, breaker open)");
        bench.heading("Against the edge model alone, same run");
        bench.table(List.of("comparison", "p50 ratio", "p99 ratio"), List.of(
                List.of("cascade, link up / edge model alone", Bench.fixed((double) cascadeUp.p50() / edgeUp.p50(), 2) + "x",
                        Bench.fixed((double) cascadeUp.p99() / edgeUp.p99(), 2) + "x"),
                List.of("cascade, link up / the same without device-profile (its speed views and profile)",
                        Bench.fixed((double) cascadeUp.p50() / unlearned.p50(), 2) + "x",
                        Bench.fixed((double) cascadeUp.p99() / unlearned.p99(), 2) + "x"),
                List.of("cascade, link frozen (breaker open) / edge model alone", Bench.fixed(
                        (double) cascadeFrozen.p50() / edgeFrozen.p50(), 2) + "x",
                        Bench.fixed((double) cascadeFrozen.p99() / edgeFrozen.p99(), 2) + "x")));
        List<long[]> deferred = new ArrayList<>();
        List<long[]> rest = new ArrayList<>();
        for (Phase p : phases.get("cascade `digits` (link frozen, breaker open)")) {
            deferred.add(p.degradedNanos());
            rest.add(p.otherNanos());
        }
        Bench.Stats r = Bench.Stats.of(Bench.concat(rest));
        long[] d = Bench.concat(deferred);
        if (d.length > 0) {
            Bench.Stats s = Bench.Stats.of(d);
            bench.text("The frozen cascade's degraded answers alone (kept in the outbox on the way): " + d.length
                    + " calls, p50 " + Bench.ms(s.p50()) + " ms, p95 " + Bench.ms(s.p95()) + " ms, slowest "
                    + Bench.ms(s.max()) + " ms; the others (answered at the edge without escalating): "
                    + r.count() + " calls, p50 " + Bench.ms(r.p50()) + " ms, p99 " + Bench.ms(r.p99()) + " ms.");
        }
    }

    /** {@link #run}, with the agent's garbage collections during it (from its {@code jvm_gc_pause_seconds_count}). */
    private static Phase measured(URI agent, List<byte[]> bodies, int calls, int offset) {
        long before = gcCount(agent);
        Phase phase = run(agent, bodies, calls, offset);
        long after = gcCount(agent);
        return phase.withGcs(before < 0 || after < 0 ? -1 : after - before);
    }

    private static long gcCount(URI agent) {
        java.util.OptionalDouble total = PrometheusText.parse(fetch(agent, "/actuator/prometheus"))
                .sum("jvm_gc_pause_seconds_count");
        return total.isPresent() ? Math.round(total.getAsDouble()) : -1;
    }

    /** Sequential calls, the bodies in turn from {@code offset}. */
    private static Phase run(URI agent, List<byte[]> bodies, int calls, int offset) {
        long[] nanos = new long[calls];
        int cloud = 0;
        int degraded = 0;
        long[] degradedNanos = new long[calls];
        long[] otherNanos = new long[calls];
        int others = 0;
        try (RawHttp connection = new RawHttp(agent)) {
            for (int i = 0; i < calls; i++) {
                long t0 = System.nanoTime();
                RawHttp.Response response = connection.exchange(bodies.get((offset + i) % bodies.size()));
                nanos[i] = System.nanoTime() - t0;
                if (response.status() != 200) {
                    throw new IllegalStateException("answered " + response.status() + ": " + response.text());
                }
                cloud += "cloud".equals(response.header("Hybridge-Tier")) ? 1 : 0;
                if ("true".equals(response.header("Hybridge-Degraded"))) {
                    degradedNanos[degraded++] = nanos[i];
                } else {
                    otherNanos[others++] = nanos[i];
                }
            }
        }
        return new Phase(nanos, cloud, degraded, java.util.Arrays.copyOf(degradedNanos, degraded),
                java.util.Arrays.copyOf(otherNanos, others), -1);
    }

    private static void awaitRoutes(URI agent) throws InterruptedException {
        for (int i = 0; i < 600; i++) {
            if (fetch(agent, "/v2").contains("\"digits-split\"")) {
                return;
            }
            Thread.sleep(100);
        }
        throw new IllegalStateException("the agent did not get its routes from the gateway");
    }

    /** Calls the cascade until an answer comes from the cloud again (the probe found the gateway). */
    private static void awaitLinkBack(URI agent, List<byte[]> cascade) throws InterruptedException {
        long until = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        int i = 0;
        while (System.nanoTime() < until) {
            if (run(agent, cascade, 20, i).cloud() > 0) {
                return;
            }
            i += 20;
            Thread.sleep(100);
        }
        throw new IllegalStateException("the link did not come back within 60 s");
    }

    /** A GET's answer body, as text. */
    private static String fetch(URI base, String path) {
        try (RawHttp connection = new RawHttp(base)) {
            return connection.exchange(RawHttp.get(base, path)).text();
        }
    }

    private static double metric(String text, String name, String route) {
        return PrometheusText.parse(text).sum(name, "route", route).orElse(0);
    }
}
