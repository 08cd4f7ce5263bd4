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
 * What store-and-forward costs and how fast it drains, side by side in one run:
 * <ol>
 *   <li>The commit on the request's path: with the link cut (the gateway frozen, the agents'
 *       breakers open), the cascade {@code digits} on three agents in turn: outbox on with
 *       {@code synchronous=FULL} (the default: on disk before the answer), outbox on with
 *       {@code NORMAL} (handed to the OS), and outbox off (the peer: the degraded answer alone).
 *       Latencies of the requests that were kept (or would have been).</li>
 *   <li>Draining, in {@code bench.cycles} cycles on the FULL agent: the live cascade online for
 *       {@code bench.onlineSeconds}, {@code bench.backlog} entries kept while cut, the link
 *       restored and the live cascade measured while they drain at the shipped replay settings,
 *       then online again; and how fast a backlog drains at {@code bench.fastRate}.</li>
 * </ol>
 *
 * <p>{@code java -cp benchmarks/target/benchmarks.jar dev.hybridge.bench.StoreAndForward} writes
 * {@code benchmarks/results/StoreAndForward.md}. Settings ({@code -D}): {@code bench.rounds} (3; 5),
 * {@code bench.calls} per phase (300; 1000), {@code bench.backlog} (1000), {@code bench.fastRate} (500),
 * {@code bench.cycles} (3; 5), {@code bench.onlineSeconds} (25; 40).
 */
public final class StoreAndForward {

    private static final Path DEMO = Bench.root().resolve("models/demo/repository");

    private StoreAndForward() {
    }

    public static void main(String[] args) throws Exception {
        Bench bench = new Bench("StoreAndForward", StoreAndForward.class, args);
        int rounds = Bench.intSetting("rounds", 3, 5);
        int calls = Bench.intSetting("calls", 300, 1000);
        int backlog = Bench.intSetting("backlog", 1000, 1000);
        int fastRate = Bench.intSetting("fastRate", 500, 500);
        int cycles = Bench.intSetting("cycles", 3, 5);
        int onlineSeconds = Bench.intSetting("onlineSeconds", 25, 40);

        Path policies = Files.createTempDirectory("hybridge-bench-saf-policies");
        try (var shipped = Files.list(Bench.root().resolve("config/policies"))) {
            for (Path f : shipped.toList()) {
                Files.copy(f, policies.resolve(f.getFileName()));
            }
        }
        Files.writeString(policies.resolve("tenants.yaml"), "version: 1\ndefault: {allow: [auto, edge, cloud]}\n");
        List<Fsdd.Clip> clips = Fsdd.testSplit(Fsdd.recordings(Bench.root()));
        OipCodec codec = new OipCodec();

        try (ProgramProcess worker = ProgramProcess.start("cloud-worker", Bench.logDir(), List.of(),
                List.of("--hybridge.serving.model-repository=" + DEMO.resolve("cloud")));
             ProgramProcess gateway = startGateway(policies, worker)) {
            Map<String, ProgramProcess> agents = new LinkedHashMap<>();
            try {
                agents.put("outbox, synchronous FULL (default)", startAgent(gateway, "full", List.of()));
                agents.put("outbox, synchronous NORMAL", startAgent(gateway, "normal",
                        List.of("--hybridge.edge.outbox.synchronous-full=false")));
                agents.put("outbox off (peer)", startAgent(gateway, "off", List.of("--hybridge.edge.outbox.enabled=false")));
                for (ProgramProcess agent : agents.values()) {
                    EdgeRoutesAwait.routes(agent.baseUri());
                }
                // one request id per call, so that every kept escalation is its own entry (encoded before each call's clock starts)
                java.util.function.IntFunction<OipCodec.Encoded> bodies = i -> codec.encodeRequest(new InferRequest("b" + i,
                        Map.of(), List.of(new Tensor("audio", Datatype.FP32, new long[] {1, Fsdd.SAMPLES},
                                clips.get(i % clips.size()).audio())), List.of()), true);
                bench.text("Three edge agents as launched (`EdgeLaunch`), each with its uplink to one gateway (shipped"
                        + " policies) and a cloud worker; the cascade `digits` on the " + clips.size() + " test-split"
                        + " recordings as binary tensor data, each request with its own id; one sequential caller on a"
                        + " kept-alive connection. All five processes share the machine's 2 CPUs.");

                ProgramProcess first = agents.values().iterator().next();
                int offset = 0;
                liveLatencies(first.baseUri(), bodies, offset, 3000); // warm-up
                offset += 3000;

                // 1. the commit on the request's path, link cut
                gateway.freeze();
                Map<String, List<long[]>> kept = new LinkedHashMap<>();
                try {
                    for (ProgramProcess agent : agents.values()) {
                        openBreaker(agent.baseUri(), bodies, offset);
                        offset += 50;
                    }
                    for (int round = 0; round < rounds; round++) {
                        for (Map.Entry<String, ProgramProcess> a : agents.entrySet()) {
                            kept.computeIfAbsent(a.getKey(), k -> new ArrayList<>())
                                    .add(degradedLatencies(a.getValue().baseUri(), bodies, offset, calls));
                            offset += calls;
                        }
                    }
                } finally {
                    gateway.thaw();
                }
                bench.heading("The outbox's commit on the request's path (link cut)");
                List<List<String>> rows = new ArrayList<>();
                Map<String, Bench.Stats> stats = new LinkedHashMap<>();
                for (Map.Entry<String, List<long[]>> e : kept.entrySet()) {
                    Bench.Stats s = Bench.Stats.of(Bench.concat(e.getValue()));
                    stats.put(e.getKey(), s);
                    rows.add(List.of(e.getKey(), Integer.toString(s.count()), Bench.ms(s.p50()), Bench.ms(s.p95()),
                            Bench.ms(s.p99())));
                }
                bench.table(List.of("agent", "degraded answers", "p50 ms", "p95 ms", "p99 ms"), rows);
                Bench.Stats peer = stats.get("outbox off (peer)");
                List<List<String>> ratios = new ArrayList<>();
                for (Map.Entry<String, Bench.Stats> e : stats.entrySet()) {
                    if (e.getValue() != peer) {
                        ratios.add(List.of(e.getKey() + " / outbox off",
                                Bench.fixed((double) e.getValue().p50() / peer.p50(), 2) + "x",
                                Bench.fixed((double) e.getValue().p99() / peer.p99(), 2) + "x",
                                Bench.ms(e.getValue().p50() - peer.p50())));
                    }
                }
                bench.table(List.of("comparison", "p50 ratio", "p99 ratio", "p50 added ms"), ratios);

                // 2. draining, with live traffic on the same agent, bracketed by the same agent online
                ProgramProcess full = agents.values().iterator().next();
                bench.heading("Draining a backlog");
                List<List<String>> cycleRows = new ArrayList<>();
                List<Double> ratios99 = new ArrayList<>();
                for (int cycle = 1; cycle <= cycles; cycle++) {
                    long[] before = liveFor(full.baseUri(), bodies, offset, onlineSeconds);
                    offset += before.length;
                    offset = keepBacklog(gateway, full.baseUri(), bodies, offset, backlog);
                    // the link back: the agent's probe finds it, then the drain starts
                    while (fetch(full.baseUri(), "/v2/health/ready").contains("offline")) {
                        Thread.sleep(20);
                    }
                    long waiting = entries(full.baseUri());
                    long started = System.nanoTime();
                    List<long[]> whileDraining = new ArrayList<>();
                    while (entries(full.baseUri()) > 0 && System.nanoTime() - started < Duration.ofMinutes(5).toNanos()) {
                        whileDraining.add(liveLatencies(full.baseUri(), bodies, offset, 50));
                        offset += 50;
                    }
                    double drainSeconds = (System.nanoTime() - started) / 1e9;
                    long[] after = liveFor(full.baseUri(), bodies, offset, onlineSeconds);
                    offset += after.length;
                    Bench.Stats draining = Bench.Stats.of(Bench.concat(whileDraining));
                    Bench.Stats online = Bench.Stats.of(Bench.concat(List.of(before, after)));
                    double ratio = (double) draining.p99() / online.p99();
                    ratios99.add(ratio);
                    cycleRows.add(List.of(Integer.toString(cycle), Long.toString(waiting),
                            Bench.fixed(drainSeconds, 1) + " s (" + Bench.fixed(waiting / drainSeconds, 1) + "/s)",
                            Bench.ms(draining.p50()) + " / " + Bench.ms(draining.p99()) + " (" + draining.count() + ")",
                            Bench.ms(online.p50()) + " / " + Bench.ms(online.p99()) + " (" + online.count() + ")",
                            Bench.fixed((double) draining.p50() / online.p50(), 2) + "x",
                            Bench.fixed(ratio, 2) + "x"));
                }
                bench.table(List.of("cycle", "entries waiting", "drained in", "live while draining: p50 / p99 ms (calls)",
                        "live online, before and after: p50 / p99 ms (calls)", "p50 ratio", "p99 ratio"), cycleRows);
                List<Double> sorted = ratios99.stream().sorted().toList();
                bench.text("Median p99 ratio (live while draining / online) over " + cycles + " cycles: "
                        + Bench.fixed(sorted.get(sorted.size() / 2), 2) + "x. Target: at most 1.5x. Each cycle: the live"
                        + " cascade online for " + onlineSeconds + " s, the link cut and " + backlog + " escalations kept,"
                        + " the link back and the live cascade measured until the outbox is empty (shipped replay"
                        + " settings: 20/s, 2 at once), then online again for " + onlineSeconds + " s; the online"
                        + " figures are both stretches together, so that drift in the machine falls on both sides."
                        + " Replay rate " + fastRate + "/s (`hybridge.edge.outbox.replay-rate`) is measured in the"
                        + " next table.");

                // 3. how fast a backlog can drain when allowed
                ProgramProcess normal = new ArrayList<>(agents.values()).get(1);
                normal.close();
                ProgramProcess fast = startAgent(gateway, "normal", List.of("--hybridge.edge.outbox.synchronous-full=false",
                        "--hybridge.edge.outbox.replay-rate=" + fastRate, "--hybridge.edge.outbox.replay-concurrent=4"));
                agents.put("outbox, synchronous NORMAL", fast);
                offset = keepBacklog(gateway, fast.baseUri(), bodies, offset, backlog);
                long fastWaiting = entries(fast.baseUri());
                long t0 = System.nanoTime();
                while (entries(fast.baseUri()) > 0 && System.nanoTime() - t0 < Duration.ofMinutes(5).toNanos()) {
                    Thread.sleep(100);
                }
                double fastSeconds = (System.nanoTime() - t0) / 1e9;
                bench.table(List.of("replay settings", "entries", "drained in", "entries/s"), List.of(List.of(
                        "replay-rate " + fastRate + ", 4 at once, no live traffic", Long.toString(fastWaiting),
                        Bench.fixed(fastSeconds, 1) + " s", Bench.fixed(fastWaiting / fastSeconds, 1))));
            } finally {
                for (ProgramProcess agent : agents.values()) {
                    agent.close();
                }
            }
        }
        bench.write();
    }

    private static ProgramProcess startGateway(Path policies, ProgramProcess worker) {
        ProgramProcess gateway = ProgramProcess.start("gateway", Bench.logDir(), List.of(),
                List.of("--hybridge.gateway.policy-folder=" + policies,
                        "--hybridge.gateway.cloud.addresses=" + worker.baseUri(),
                        "--hybridge.gateway.anonymous-tenant=bench"));
        worker.awaitReady(Duration.ofSeconds(120));
        gateway.awaitReady(Duration.ofSeconds(120));
        return gateway;
    }

    private static ProgramProcess startAgent(ProgramProcess gateway, String name, List<String> extra) throws Exception {
        Path state = Files.createTempDirectory("hybridge-bench-saf-" + name);
        List<String> args = new ArrayList<>(List.of("--hybridge.serving.model-repository=" + DEMO.resolve("edge"),
                "--hybridge.edge.uplink.url=" + gateway.baseUri(),
                "--hybridge.edge.device-id=bench-" + name,
                "--hybridge.edge.state-dir=" + state,
                "--hybridge.edge.uplink.policy-refresh=1s",
                "--hybridge.edge.uplink.breaker.wait-in-open-state=500ms",
                "--hybridge.edge.uplink.probe.first-backoff=200ms",
                "--hybridge.edge.uplink.probe.max-backoff=1s"));
        args.addAll(extra);
        ProgramProcess agent = ProgramProcess.start("edge-agent", Bench.logDir(), EdgeLaunch.OPTIONS, args);
        agent.awaitReady(Duration.ofSeconds(120));
        EdgeRoutesAwait.routes(agent.baseUri());
        return agent;
    }

    /**
     * Cuts the link (the gateway frozen), opens the agent's breaker and sends cascade calls until
     * {@code backlog} escalations wait in its outbox, then restores the link; returns the next body offset.
     */
    private static int keepBacklog(ProgramProcess gateway, URI agent, java.util.function.IntFunction<OipCodec.Encoded> bodies,
                                   int offset, int backlog) {
        gateway.freeze();
        try {
            openBreaker(agent, bodies, offset);
            offset += 50;
            while (entries(agent) < backlog) {
                degradedLatencies(agent, bodies, offset, 100);
                offset += 100;
            }
            return offset;
        } finally {
            gateway.thaw();
        }
    }

    /** Cascade calls until the agent reports its link offline. */
    private static void openBreaker(URI agent, java.util.function.IntFunction<OipCodec.Encoded> bodies, int offset) {
        for (int i = 0; i < 200 && !fetch(agent, "/v2/health/ready").contains("offline"); i++) {
            call(agent, bodies.apply(offset + i));
        }
    }

    /** Latencies of the answers that were degraded (kept, or would have been) among {@code calls} cascade calls. */
    private static long[] degradedLatencies(URI agent, java.util.function.IntFunction<OipCodec.Encoded> bodies, int offset, int calls) {
        return latencies(agent, bodies, offset, calls, true);
    }

    /** Latencies of cascade calls made for {@code seconds}. */
    private static long[] liveFor(URI agent, java.util.function.IntFunction<OipCodec.Encoded> bodies, int offset, int seconds) {
        List<long[]> blocks = new ArrayList<>();
        long until = System.nanoTime() + Duration.ofSeconds(seconds).toNanos();
        while (System.nanoTime() < until) {
            blocks.add(liveLatencies(agent, bodies, offset, 50));
            offset += 50;
        }
        return Bench.concat(blocks);
    }

    /** Latencies of {@code calls} cascade calls. */
    private static long[] liveLatencies(URI agent, java.util.function.IntFunction<OipCodec.Encoded> bodies, int offset, int calls) {
        return latencies(agent, bodies, offset, calls, false);
    }

    private static long[] latencies(URI agent, java.util.function.IntFunction<OipCodec.Encoded> bodies, int offset, int calls,
                                    boolean degradedOnly) {
        long[] out = new long[calls];
        int kept = 0;
        try (RawHttp connection = new RawHttp(agent)) {
            for (int i = 0; i < calls; i++) {
                byte[] post = RawHttp.post(agent, "/v2/models/digits/infer", bodies.apply(offset + i));
                long t0 = System.nanoTime();
                RawHttp.Response r = connection.exchange(post);
                long took = System.nanoTime() - t0;
                if (r.status() != 200) {
                    throw new IllegalStateException("answered " + r.status() + ": " + r.text());
                }
                if (!degradedOnly || "true".equals(r.header("Hybridge-Degraded"))) {
                    out[kept++] = took;
                }
            }
        }
        return java.util.Arrays.copyOf(out, kept);
    }

    private static void call(URI agent, OipCodec.Encoded body) {
        try (RawHttp connection = new RawHttp(agent)) {
            connection.exchange(RawHttp.post(agent, "/v2/models/digits/infer", body));
        }
    }

    private static long entries(URI agent) {
        Matcher m = Pattern.compile("\"entries\":([0-9]+)").matcher(fetch(agent, "/v2/outbox"));
        return m.find() ? Long.parseLong(m.group(1)) : 0;
    }

    private static String fetch(URI base, String path) {
        try (RawHttp connection = new RawHttp(base)) {
            return connection.exchange(RawHttp.get(base, path)).text();
        }
    }

    /** Waits for an agent to have the gateway's routes. */
    static final class EdgeRoutesAwait {
        static void routes(URI agent) throws InterruptedException {
            for (int i = 0; i < 600; i++) {
                if (fetch(agent, "/v2").contains("\"digits\"")) {
                    return;
                }
                Thread.sleep(100);
            }
            throw new IllegalStateException("the agent did not get its routes from the gateway");
        }
    }
}
