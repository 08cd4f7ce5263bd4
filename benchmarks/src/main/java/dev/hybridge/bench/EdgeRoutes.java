package dev.hybridge.bench;

import dev.hybridge.e2e.EdgeLaunch;
import dev.hybridge.e2e.ProgramProcess;
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
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What deciding on the device costs a caller, against the edge model alone on the same agent (what
 * a device would run without Hybridge), side by side in one run: the shipped cascade {@code digits}
 * and split {@code digits-split} called on an edge agent whose uplink goes to a gateway with a
 * cloud worker, with the link up and with the gateway frozen (SIGSTOP: the link hangs) once the
 * agent's breaker has opened. Also the bytes each escalation sends over the link, cascade against
 * split.
 *
 * <p>One sequential caller on a kept-alive connection ({@code RawHttp}), the test split's real
 * recordings in turn as binary tensor data, phases of {@code bench.calls} calls interleaved per
 * round: edge model alone, cascade, split (link up); then the gateway frozen, the cascade called
 * until the agent reports its link offline, and edge model alone, cascade (link frozen); then the
 * gateway thawed and the link back. The agent runs with its launch options ({@code EdgeLaunch}).
 *
 * <p>{@code java -cp benchmarks/target/benchmarks.jar dev.hybridge.bench.EdgeRoutes} writes
 * {@code benchmarks/results/EdgeRoutes.md}. Settings ({@code -D}): {@code bench.rounds} (3; 5),
 * {@code bench.calls} per phase (300; 1000), {@code bench.warmupCalls} per path (1500; 3000).
 */
public final class EdgeRoutes {

    private static final Path DEMO = Bench.root().resolve("models/demo/repository");

    private EdgeRoutes() {
    }

    /** One phase's latencies and how many of its answers came from the cloud. */
    private record Phase(long[] nanos, int cloud, int degraded) {
    }

    public static void main(String[] args) throws Exception {
        Bench bench = new Bench("EdgeRoutes", EdgeRoutes.class, args);
        int rounds = Bench.intSetting("rounds", 3, 5);
        int calls = Bench.intSetting("calls", 300, 1000);
        int warmupCalls = Bench.intSetting("warmupCalls", 1500, 3000);

        Path policies = Files.createTempDirectory("hybridge-bench-edge-policies");
        try (var shipped = Files.list(Bench.root().resolve("config/policies"))) {
            for (Path f : shipped.toList()) {
                Files.copy(f, policies.resolve(f.getFileName()));
            }
        }
        Files.writeString(policies.resolve("tenants.yaml"), "version: 1\ndefault: {allow: [auto, edge, cloud]}\n");
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
                try (ProgramProcess agent = ProgramProcess.start("edge-agent", Bench.logDir(), EdgeLaunch.OPTIONS,
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
                    for (String model : List.of("digits-edge", "digits", "digits-split")) {
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
                        add(phases, "edge model alone (link up)", run(agent.baseUri(), bodies.get("digits-edge"), calls, offset));
                        add(phases, "cascade `digits` (link up)", run(agent.baseUri(), bodies.get("digits"), calls, offset));
                        add(phases, "split `digits-split` (link up)", run(agent.baseUri(), bodies.get("digits-split"), calls, offset));
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
                            add(phases, "edge model alone (link frozen)", run(agent.baseUri(), bodies.get("digits-edge"), calls, offset));
                            add(phases, "cascade `digits` (link frozen, breaker open)", run(agent.baseUri(), bodies.get("digits"), calls, offset));
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
            List<String> perRound = new ArrayList<>();
            for (Phase p : e.getValue()) {
                parts.add(p.nanos());
                cloud += p.cloud();
                degraded += p.degraded();
                count += p.nanos().length;
                perRound.add(Bench.ms(Bench.Stats.of(p.nanos()).p50()));
            }
            Bench.Stats s = Bench.Stats.of(Bench.concat(parts));
            stats.put(e.getKey(), s);
            rows.add(List.of(e.getKey(), Integer.toString(count), Bench.ms(s.p50()), Bench.ms(s.p95()), Bench.ms(s.p99()),
                    Bench.fixed(100.0 * cloud / count, 1) + "%", Bench.fixed(100.0 * degraded / count, 1) + "%",
                    String.join(", ", perRound)));
        }
        bench.table(List.of("path", "calls", "p50 ms", "p95 ms", "p99 ms", "answered by the cloud", "degraded",
                "p50 per round"), rows);
        bench.text("Others' CPU per round: " + String.join(", ", others) + ".");
        Bench.Stats edgeUp = stats.get("edge model alone (link up)");
        Bench.Stats cascadeUp = stats.get("cascade `digits` (link up)");
        Bench.Stats edgeFrozen = stats.get("edge model alone (link frozen)");
        Bench.Stats cascadeFrozen = stats.get("cascade `digits` (link frozen, breaker open)");
        bench.heading("Against the edge model alone, same run");
        bench.table(List.of("comparison", "p50 ratio", "p99 ratio"), List.of(
                List.of("cascade, link up / edge model alone", Bench.fixed((double) cascadeUp.p50() / edgeUp.p50(), 2) + "x",
                        Bench.fixed((double) cascadeUp.p99() / edgeUp.p99(), 2) + "x"),
                List.of("cascade, link frozen (breaker open) / edge model alone", Bench.fixed(
                        (double) cascadeFrozen.p50() / edgeFrozen.p50(), 2) + "x",
                        Bench.fixed((double) cascadeFrozen.p99() / edgeFrozen.p99(), 2) + "x")));
    }

    /** Sequential calls, the bodies in turn from {@code offset}. */
    private static Phase run(URI agent, List<byte[]> bodies, int calls, int offset) {
        long[] nanos = new long[calls];
        int cloud = 0;
        int degraded = 0;
        try (RawHttp connection = new RawHttp(agent)) {
            for (int i = 0; i < calls; i++) {
                long t0 = System.nanoTime();
                RawHttp.Response response = connection.exchange(bodies.get((offset + i) % bodies.size()));
                nanos[i] = System.nanoTime() - t0;
                if (response.status() != 200) {
                    throw new IllegalStateException("answered " + response.status() + ": " + response.text());
                }
                cloud += "cloud".equals(response.header("Hybridge-Tier")) ? 1 : 0;
                degraded += "true".equals(response.header("Hybridge-Degraded")) ? 1 : 0;
            }
        }
        return new Phase(nanos, cloud, degraded);
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
        Matcher m = Pattern.compile("(?m)^" + name + "\\{[^}]*route=\"" + Pattern.quote(route) + "\"[^}]*} ([0-9.Ee+-]+)$")
                .matcher(text);
        return m.find() ? Double.parseDouble(m.group(1)) : 0;
    }
}
