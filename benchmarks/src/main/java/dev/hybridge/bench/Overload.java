package dev.hybridge.bench;

import dev.hybridge.e2e.EdgeLaunch;
import dev.hybridge.e2e.ProgramProcess;
import dev.hybridge.e2e.PrometheusText;
import dev.hybridge.e2e.RawHttp;
import dev.hybridge.models.Fsdd;
import dev.hybridge.oip.Datatype;
import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.RoutingParameters;
import dev.hybridge.oip.Tensor;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The local system flooded: how many requests per second still get a 2xx when 16 times as
 * many connections ask as it can serve, and what the rest are told. The system is the one a
 * newcomer runs: a gateway ({@code -Xmx256m}) with the shipped policies, one edge agent (its
 * launch options, {@code EdgeLaunch}) as the gateway's edge tier and two cloud workers
 * ({@code -Xmx512m}) serving the demo models, all on this machine's CPUs with the load generator
 * (or on CPUs apart from it, {@code bench.systemCpus}).
 *
 * <p>Each row is a route and a tenant: {@code digits-cloud} (cloud only) and the {@code digits}
 * cascade with a budget the run cannot spend, the cascade with a spent budget
 * ({@code when-spent: edge-only}), and the cascade as the shipped {@code demo} tenant. Each row
 * runs {@code bench.phaseSeconds} with 16 closed-loop connections, then with 256 of clients that
 * send again at once whatever the answer (no back-off: the worst case), then with 256 that wait as
 * a refusal's {@code Retry-After} says; clients are kept-alive {@link RawHttp} connections sending
 * the test-split recordings in turn, one second of audio each, as JSON (as curl or a plain client
 * sends). The rows run {@code bench.rounds} times in turn; a row's rates and ratios are the
 * medians of its rounds'. Reported per row: 2xx per second, every status with its
 * {@code Hybridge-Reason}, whether refusals carried {@code Retry-After}, the p50 and p99 of
 * refusals and of 2xx answers, the gateway's refusals by gate, and its peak resident memory.
 *
 * <p>The peer, where nginx is on the PATH: the same flood sent to an nginx beside the system that
 * refuses every request as the door does, while 16 connections use the gateway, with the same
 * load generator: what any door that answers at once can keep on this machine, and how fast
 * refusals can be answered here.
 *
 * <p>{@code java -cp benchmarks/target/benchmarks.jar dev.hybridge.bench.Overload} writes
 * {@code benchmarks/results/Overload.md}. Settings ({@code -D}): {@code bench.phaseSeconds} (10;
 * 20), {@code bench.warmupSeconds} (20; 40: the least warm-up per route;
 * it goes on in 5 s slices until the programs' JIT compilers settle, at most {@code bench.warmupMaxSeconds},
 * 240; 300), {@code bench.connections} (256), {@code bench.rounds} (3; 5: each row's phases
 * are run that many times, the rounds going through the rows in turn, and its ratios are the
 * medians), {@code bench.rows} (some of {@code digits-cloud/ample,digits/ample,digits/spent,digits/demo})
 * and {@code bench.configs} ({@code as-shipped}, {@code admission-off}) for a shorter run whose
 * results go to {@code Overload-tried.md}, {@code bench.systemCpus} and {@code bench.generatorCpus}
 * ({@code taskset} CPU lists, both or neither: the system's programs and nginx on the first, the
 * load generator on the second, so it no longer takes the CPUs the system needs; results to
 * {@code Overload-tried.md}), {@code bench.gatewaySettings}
 * (program settings added to the gateway's, to try limits; the results then go to
 * {@code Overload-tried.md}), {@code bench.gatewayJvm} (the gateway's JVM options instead of
 * {@code -Xmx256m}, for example the chart's with {@code -XX:MaxRAM} as the pod's memory limit; the
 * results then go to {@code Overload-tried.md} too).
 */
public final class Overload {

    private static final Path DEMO = Bench.root().resolve("models/demo/repository");
    /** The gateway's JVM options: {@code -Xmx256m}, or {@code bench.gatewayJvm} (the chart's, say). */
    private static final List<String> GATEWAY_JVM = System.getProperty("bench.gatewayJvm", "").isBlank()
            ? List.of("-Xmx256m") : List.of(System.getProperty("bench.gatewayJvm").trim().split("\\s+"));
    private static final List<String> GATEWAY_SETTINGS = System.getProperty("bench.gatewaySettings", "").isBlank()
            ? List.of() : List.of(System.getProperty("bench.gatewaySettings").trim().split("\\s+"));
    /** Where the system's programs (and nginx) run, and where the load generator does: CPU lists, or null. */
    private static final String SYSTEM_CPUS = System.getProperty("bench.systemCpus");
    private static final String GENERATOR_CPUS = System.getProperty("bench.generatorCpus");

    /** A route, and the API key of the tenant the requests run as (null: none, the shipped {@code demo}). */
    private record Row(String id, String name, String route, String apiKey) {
    }

    /** A row's phases over the rounds, and the refusals each gate made in each kind of phase. */
    private static final class Runs {
        final List<Phase> low = new ArrayList<>();
        final List<Phase> high = new ArrayList<>();
        final List<Phase> acting = new ArrayList<>();
        final Map<String, Map<String, Double>> gateDeltas = new TreeMap<>();
        final Map<String, Double> doorLimit = new TreeMap<>();

        void gates(String kind, Map<String, Double> before, Map<String, Double> after) {
            Map<String, Double> sum = gateDeltas.computeIfAbsent(kind, k -> new TreeMap<>());
            after.forEach((key, value) -> {
                if (key.startsWith("refused_total ")) {
                    sum.merge(key, value - before.getOrDefault(key, 0.0), Double::sum);
                }
            });
            if (after.containsKey("limit door")) {
                doorLimit.put(kind, after.get("limit door"));
            }
        }

        List<Phase> of(String kind) {
            return kind.equals("low") ? low : kind.equals("high") ? high : acting;
        }

        /** Each round's 2xx rate at 256 against the same round's at 16. */
        double[] ratios(List<Phase> at) {
            double[] r = new double[at.size()];
            for (int i = 0; i < r.length; i++) {
                r[i] = at.get(i).okPerSecond() / low.get(i).okPerSecond();
            }
            return r;
        }

        /** Every round's ratio, as the tables list them. */
        static String each(double[] ratios) {
            return String.join(" / ", Arrays.stream(ratios).mapToObj(r -> Bench.fixed(r, 2)).toList());
        }

        /** The median 2xx rate of the rounds' phases. */
        static double medianRate(List<Phase> phases) {
            return Bench.median(phases.stream().mapToDouble(Phase::okPerSecond).toArray());
        }
    }

    /** What one phase gave. */
    private record Phase(int connections, double seconds, long ok, Map<String, Long> statuses, long withRetryAfter,
                         long[] refusals, long[] answers, long gatewayRssMax, long[] steadyRefusals, long[] connects) {
        double okPerSecond() {
            return ok / seconds;
        }

        /** The rounds' phases as one: counts summed, latencies pooled. */
        static Phase pooled(List<Phase> phases) {
            Map<String, Long> statuses = new TreeMap<>();
            phases.forEach(p -> p.statuses().forEach((k, v) -> statuses.merge(k, v, Long::sum)));
            return new Phase(phases.get(0).connections(), phases.stream().mapToDouble(Phase::seconds).sum(),
                    phases.stream().mapToLong(Phase::ok).sum(), statuses,
                    phases.stream().mapToLong(Phase::withRetryAfter).sum(),
                    sorted(phases.stream().map(Phase::refusals).toList()),
                    sorted(phases.stream().map(Phase::answers).toList()),
                    phases.stream().mapToLong(Phase::gatewayRssMax).max().orElse(0),
                    sorted(phases.stream().map(Phase::steadyRefusals).toList()),
                    sorted(phases.stream().map(Phase::connects).toList()));
        }

        private static long[] sorted(List<long[]> parts) {
            long[] all = Bench.concat(parts);
            Arrays.sort(all);
            return all;
        }

        long refused() {
            return refusals.length;
        }
    }

    private Overload() {
    }

    public static void main(String[] args) throws Exception {
        boolean tried = !GATEWAY_SETTINGS.isEmpty() || !System.getProperty("bench.gatewayJvm", "").isBlank()
                || System.getProperty("bench.rows") != null || System.getProperty("bench.configs") != null
                || SYSTEM_CPUS != null;
        Bench bench = new Bench(tried ? "Overload-tried" : "Overload", Overload.class, args);
        int phaseSeconds = Bench.intSetting("phaseSeconds", 10, 20);
        int warmupSeconds = Bench.intSetting("warmupSeconds", 20, 40);
        int warmupMaxSeconds = Bench.intSetting("warmupMaxSeconds", 240, 300);
        int connections = Bench.intSetting("connections", 256, 256);
        int rounds = Bench.intSetting("rounds", 3, 5);
        int base = 16;
        if ((SYSTEM_CPUS == null) != (GENERATOR_CPUS == null)) {
            throw new IllegalArgumentException("bench.systemCpus and bench.generatorCpus go together");
        }
        if (GENERATOR_CPUS != null) {
            Bench.pin(ProcessHandle.current().pid(), GENERATOR_CPUS);
        }

        Path policies = Files.createTempDirectory("hybridge-bench-overload-policies");
        try (var shipped = Files.list(Bench.root().resolve("config/policies"))) {
            for (Path f : shipped.toList()) {
                Files.copy(f, policies.resolve(f.getFileName()));
            }
        }
        // the shipped tenants, and two more: one whose budget the run cannot spend, one whose budget is spent
        String tenants = Files.readString(policies.resolve("tenants.yaml")).stripTrailing() + """

                  ample:
                    budget-usd: 1000000
                    when-spent: edge-only
                    allow: [auto, edge, cloud]
                  spent:
                    budget-usd: 0.000001
                    when-spent: edge-only
                    allow: [auto, edge, cloud]
                """;
        Files.writeString(policies.resolve("tenants.yaml"), tenants);
        Path state = Files.createTempDirectory("hybridge-bench-overload-state");
        List<Fsdd.Clip> clips = Fsdd.testSplit(Fsdd.recordings(Bench.root()));
        OipCodec codec = new OipCodec();
        List<Row> known = List.of(
                new Row("digits-cloud/ample", "`digits-cloud` (cloud only), budget ample", "digits-cloud", "key-ample"),
                new Row("digits/ample", "`digits` (cascade), budget ample", "digits", "key-ample"),
                new Row("digits/spent", "`digits` (cascade), budget spent (`when-spent: edge-only`)", "digits",
                        "key-spent"),
                new Row("digits/demo", "`digits` (cascade), shipped `demo` tenant", "digits", null));
        List<Row> rows = Bench.chosen("rows", known, known, Row::id);
        List<String> configs = Bench.chosen("configs", List.of("as shipped", "admission off"),
                List.of("as shipped", "admission off"), c -> c.replace(' ', '-'));

        List<ProgramProcess> programs = new ArrayList<>();
        try {
            List<String> cloudArgs = List.of("--hybridge.serving.model-repository=" + DEMO.resolve("cloud"));
            ProgramProcess cloudA = start(programs, "cloud-worker", List.of("-Xmx512m"), cloudArgs);
            ProgramProcess cloudB = start(programs, "cloud-worker", List.of("-Xmx512m"), cloudArgs);
            List<String> gatewayArgs = new ArrayList<>(List.of("--hybridge.gateway.policy-folder=" + policies,
                    "--hybridge.gateway.cloud.addresses=" + cloudA.baseUri() + "," + cloudB.baseUri(),
                    "--hybridge.gateway.anonymous-tenant=demo",
                    "--hybridge.gateway.api-keys.key-ample=ample", "--hybridge.gateway.api-keys.key-spent=spent"));
            // the edge agent's address is known once it runs; it reaches the gateway through its uplink
            ProgramProcess gateway;
            ProgramProcess agent;
            int gatewayPort = freePort();
            agent = start(programs, "edge-agent", EdgeLaunch.OPTIONS, List.of(
                    "--hybridge.serving.model-repository=" + DEMO.resolve("edge"),
                    "--hybridge.edge.uplink.url=http://127.0.0.1:" + gatewayPort,
                    "--hybridge.edge.device-id=bench-device", "--hybridge.edge.state-dir=" + state));
            gatewayArgs.add("--hybridge.gateway.edge.addresses=" + agent.baseUri());
            gatewayArgs.addAll(GATEWAY_SETTINGS);

            bench.text("The local system: a gateway (`" + String.join(" ", GATEWAY_JVM) + "`, the shipped policies, two more tenants: `ample` with"
                    + " a budget the run cannot spend, `spent` with a budget that is spent, both `when-spent:"
                    + " edge-only`), one edge agent (its launch options) as the gateway's edge tier, two cloud workers"
                    + " (`-Xmx512m`, batching as shipped) serving the demo models;"
                    + (SYSTEM_CPUS == null ? " all of it and the load generator on the same "
                    + Runtime.getRuntime().availableProcessors() + " CPUs. " : " the programs (and nginx) bound to CPUs "
                    + SYSTEM_CPUS + ", the load generator to CPUs " + GENERATOR_CPUS + ". ") + (GATEWAY_SETTINGS.isEmpty() ? "" : "Gateway settings tried: `"
                    + String.join(" ", GATEWAY_SETTINGS) + "`. ") + "Clients: closed-loop kept-alive connections,"
                    + " the " + clips.size() + " test-split recordings in turn, one second of audio each as JSON; a"
                    + " client sends again as soon as it has an answer, whatever it was (no back-off: the worst case)."
                    + " Each row: " + phaseSeconds + " s at " + base + " connections, then " + phaseSeconds + " s at "
                    + connections + " of each kind of client, " + rounds + " rounds going through the rows in turn (so"
                    + " a slow minute of this shared machine falls on every row); a row's rates and ratio are the"
                    + " medians of its rounds' (each ratio of two phases of the same round), its latencies and"
                    + " counts those of all its rounds together; warm-up at " + base + " connections on each route first, as the `ample`"
                    + " tenant, at least " + warmupSeconds + " s and then until the four programs' JIT compilers"
                    + " used under a tenth of one CPU over 5 s (at most " + warmupMaxSeconds + " s; the gateway keeps"
                    + " about one CPU compiling for one to three minutes of this load, and phases measured meanwhile"
                    + " compare compiling, not serving). Two gateways in turn, each started afresh: **as shipped**, and"
                    + " with **admission off** (`--hybridge.gateway.admission.enabled=false`: the pools' bulkheads and"
                    + " the workers' queues alone limit load), the peer that shows what the gates change.");
            List<List<String>> table = new ArrayList<>();
            List<List<String>> mix = new ArrayList<>();
            List<List<String>> targets = new ArrayList<>();
            List<String> warmups = new ArrayList<>();
            List<List<String>> peer = new ArrayList<>();
            boolean nginxPeer = Nginx.available();
            for (String config : configs) {
                List<String> settings = new ArrayList<>(gatewayArgs);
                if (config.equals("admission off")) {
                    settings.add("--hybridge.gateway.admission.enabled=false");
                }
                gateway = ProgramProcess.startOn(gatewayPort, "gateway", Bench.logDir(), GATEWAY_JVM, settings);
                ProgramProcess running = gateway;
                pin(gateway.pid());
                gateway.awaitReady(Duration.ofSeconds(120));
                try {
                    List<String> routes = rows.stream().map(Row::route).distinct().sorted().toList();
                    // each route's requests as the ample tenant (for the warm-ups) and as each row's tenant
                    Map<String, List<byte[]>> bodies = new TreeMap<>();
                    java.util.function.BiConsumer<String, String> requests = (route, apiKey) ->
                            bodies.computeIfAbsent(route + "|" + apiKey, k -> {
                                List<byte[]> posts = new ArrayList<>();
                                for (Fsdd.Clip c : clips) {
                                    InferRequest request = new InferRequest(c.file(), Map.of(), List.of(new Tensor(
                                            "audio", Datatype.FP32, new long[] {1, Fsdd.SAMPLES}, c.audio())), List.of());
                                    posts.add(RawHttp.post(running.baseUri(), "/v2/models/" + route + "/infer",
                                            codec.encodeRequest(request, false), apiKey == null ? Map.of()
                                                    : Map.of("X-Api-Key", apiKey)));
                                }
                                return posts;
                            });
                    routes.forEach(route -> requests.accept(route, "key-ample"));
                    rows.forEach(row -> requests.accept(row.route(), row.apiKey()));
                    List<String> warmed = new ArrayList<>();
                    for (String route : routes) {
                        ProgramProcess target = gateway;
                        Bench.Settled settled = Bench.warmUntilCompiled(
                                seconds -> load(target, bodies.get(route + "|key-ample"), base, seconds, false),
                                List.of(gateway.pid(), agent.pid(), cloudA.pid(), cloudB.pid()), warmupSeconds,
                                warmupMaxSeconds);
                        System.out.println(config + ": warm-up " + route + " " + settled);
                        warmed.add("`" + route + "` " + settled);
                    }
                    warmups.add(config + ": " + String.join(", ", warmed));
                    // the rounds go through every row in turn, so a slow minute of this shared machine
                    // falls on every row; each ratio is of two phases of the same round
                    Map<Row, Runs> runs = new java.util.LinkedHashMap<>();
                    for (int round = 1; round <= rounds; round++) {
                        for (Row row : rows) {
                            Runs mine = runs.computeIfAbsent(row, r -> new Runs());
                            List<byte[]> posts = bodies.get(row.route() + "|" + row.apiKey());
                            Map<String, Double> g0 = gates(gateway.baseUri());
                            Phase low = load(gateway, posts, base, phaseSeconds, false);
                            Map<String, Double> g1 = gates(gateway.baseUri());
                            print(config, row, round, low, "");
                            Phase high = load(gateway, posts, connections, phaseSeconds, false);
                            Map<String, Double> g2 = gates(gateway.baseUri());
                            print(config, row, round, high, "no back-off");
                            Phase acting = load(gateway, posts, connections, phaseSeconds, true);
                            Map<String, Double> g3 = gates(gateway.baseUri());
                            print(config, row, round, acting, "clients wait as Retry-After says");
                            mine.low.add(low);
                            mine.high.add(high);
                            mine.acting.add(acting);
                            mine.gates("low", g0, g1);
                            mine.gates("high", g1, g2);
                            mine.gates("acting", g2, g3);
                        }
                    }
                    runs.forEach((row, mine) -> report(config, row, mine, table, mix, targets));
                    if (config.equals("as shipped") && nginxPeer && routes.contains("digits")) {
                        peer.addAll(refusedBeside(gateway, bodies.get("digits|key-ample"), base, connections - base,
                                phaseSeconds, rounds));
                    }
                } finally {
                    running.close();
                }
            }
            bench.text("Warm-ups: " + String.join("; ", warmups) + ".");
            bench.heading("2xx per second at " + base + " and " + connections + " connections");
            bench.text("Two kinds of client at " + connections + " connections: **no back-off** sends again as soon as it"
                    + " has any answer (the worst case: a refusal then costs as much as sending the body); **wait as"
                    + " told** waits as long as a refusal's `Retry-After` says, as a client acting on the answer does.");
            bench.table(List.of("gateway", "route, tenant", "clients at " + connections, "2xx/s at " + base, "2xx/s at " + connections,
                    "ratio", "ratio each round",
                    "2xx p50 ms at " + base, "2xx p50 ms at " + connections, "2xx p99 ms at " + connections,
                    "refusal p50 ms at " + connections, "refusal p99 ms at " + connections, "gateway peak RSS"), table);
            bench.heading("What every answer was");
            bench.text("Status and `Hybridge-Reason` of every answer, per phase; `Retry-After`: how many of the"
                    + " non-2xx answers carried one; which of the gateway's admission gates refused them"
                    + " (`hybridge_admission_refused_total` over the phase) and the door's limit when the phase"
                    + " ended (`hybridge_admission_limit{gate=\"door\"}`).");
            bench.table(List.of("gateway", "route, tenant", "connections", "clients", "2xx", "statuses (reason)", "Retry-After",
                    "refused by gate (door / edge / cloud); door limit at the end"), mix);
            bench.heading("Targets");
            bench.text("At " + connections + " connections: 2xx rate at least 0.85 of the rate at " + base
                    + "; refusals answered in under 20 ms at p99; no 429 that a budget did not cause; no 504 for a"
                    + " request refused at the door (every 504 is listed: each is a request that was accepted and"
                    + " ran out of time, or a defect). A request is timed from its first byte to its answer's end;"
                    + " opening a connection is timed on its own (as wrk does), and listed: every connection opened"
                    + " in the phase, at its start or after the gateway closed one. Refusal p99 is given over the whole"
                    + " phase, and over the refusals of requests sent after its first second, when the opening burst"
                    + " (every connection sending at once) has passed.");
            bench.table(List.of("gateway", "route, tenant", "clients", "2xx ratio", "refusal p99",
                    "refusal p99 after the first second", "connections opened, time to open p99",
                    "429 not caused by a budget", "504"), targets);
            bench.heading("Peer: the same flood refused by nginx beside the system");
            if (nginxPeer) {
                bench.text("What any door that answers at once can do on this machine, with this load generator: the"
                        + " as-shipped gateway's `digits` cascade (budget ample) at " + base + " connections alone, then"
                        + " the same " + base + " while " + (connections - base) + " more clients send the same"
                        + " requests to an nginx beside it (two worker processes) that refuses every one as the door"
                        + " does (503, `Retry-After: 1`, body discarded unread, connection kept alive), so the system"
                        + " does no work for them at all, " + rounds + " rounds. The gateway's ratio is its 2xx rate against"
                        + " alone in the same round, the median of the rounds'; the"
                        + " refusal percentiles are nginx's. Compare with the rows above: the gateway's door refusing "
                        + (connections - base) + " clients itself.");
                bench.table(List.of("clients flooding nginx", "gateway 2xx/s alone", "gateway 2xx/s beside the flood",
                        "ratio", "ratio each round", "nginx refusals/s", "nginx refusal p50 ms", "nginx refusal p99 ms",
                        "nginx refusal p99 after the first second"), peer);
            } else {
                bench.text("Not measured: nginx is not on the PATH (`apt-get install nginx-light`).");
            }
        } finally {
            for (int i = programs.size() - 1; i >= 0; i--) {
                programs.get(i).close();
            }
        }
        bench.write();
    }

    /**
     * The gateway at {@code base} connections alone, then beside {@code flood} clients that an
     * nginx refuses, no back-off and waiting as told, {@code rounds} times: one row per kind of
     * client, its ratio the median of the rounds' (each beside against the same round's alone).
     */
    private static List<List<String>> refusedBeside(ProgramProcess gateway, List<byte[]> posts, int base, int flood,
                                                    int seconds, int rounds) throws Exception {
        Map<Boolean, List<Phase>> nginxSide = new TreeMap<>();
        Runs gateway16 = new Runs(); // alone as the low phases, beside the flood as the others
        Path work = Files.createTempDirectory("hybridge-bench-overload-nginx");
        try (Nginx nginx = Nginx.refusing(work, 2)) {
            nginx.pids().forEach(Overload::pin);
            for (int round = 1; round <= rounds; round++) {
                Phase alone = load(gateway, posts, base, seconds, false);
                gateway16.low.add(alone);
                System.out.printf("  peer round %d: gateway alone at %d conn: %.0f 2xx/s%n", round, base,
                        alone.okPerSecond());
                for (boolean honour : List.of(false, true)) {
                    java.util.concurrent.CompletableFuture<Phase> refused = new java.util.concurrent.CompletableFuture<>();
                    Thread flooding = new Thread(() -> {
                        try {
                            refused.complete(load(nginx.base(), () -> 0, posts, flood, seconds, honour));
                        } catch (Throwable e) {
                            refused.completeExceptionally(e);
                        }
                    }, "nginx-flood");
                    flooding.start();
                    Phase beside = load(gateway, posts, base, seconds, false);
                    Phase at = refused.get();
                    System.out.printf("  peer round %d: gateway at %d conn beside %d on nginx (%s): %.0f 2xx/s; nginx %s%n",
                            round, base, flood, honour ? "wait as told" : "no back-off", beside.okPerSecond(),
                            describe(at.statuses()));
                    nginxSide.computeIfAbsent(honour, k -> new ArrayList<>()).add(at);
                    (honour ? gateway16.acting : gateway16.high).add(beside);
                }
            }
        }
        List<List<String>> rows = new ArrayList<>();
        for (boolean honour : List.of(false, true)) {
            Phase at = Phase.pooled(nginxSide.get(honour));
            List<Phase> beside = honour ? gateway16.acting : gateway16.high;
            double[] r = gateway16.ratios(beside);
            rows.add(List.of(flood + ", " + (honour ? "wait as told" : "no back-off"),
                    Bench.fixed(Runs.medianRate(gateway16.low), 0), Bench.fixed(Runs.medianRate(beside), 0),
                    Bench.fixed(Bench.median(r), 2), Runs.each(r),
                    Bench.fixed(at.refused() / at.seconds(), 0), Bench.ms(percentile(at.refusals(), 50)),
                    Bench.ms(percentile(at.refusals(), 99)),
                    at.steadyRefusals().length == 0 ? "-" : Bench.ms(percentile(at.steadyRefusals(), 99))));
        }
        return rows;
    }

    private static ProgramProcess start(List<ProgramProcess> programs, String program, List<String> jvm,
                                        List<String> arguments) {
        ProgramProcess p = ProgramProcess.start(program, Bench.logDir(), jvm, arguments);
        programs.add(p);
        pin(p.pid());
        p.awaitReady(Duration.ofSeconds(120));
        return p;
    }

    /** Binds a program of the system to {@code bench.systemCpus}, where that is set. */
    private static void pin(long pid) {
        if (SYSTEM_CPUS != null) {
            Bench.pin(pid, SYSTEM_CPUS);
        }
    }

    private static void print(String config, Row row, int round, Phase phase, String clients) {
        System.out.printf("  %-13s %-18s round %d %4d conn %-34s: %6.0f 2xx/s, %s%n", config, row.id(), round,
                phase.connections(), clients, phase.okPerSecond(), describe(phase.statuses()));
    }

    /** A row's lines in the three tables: medians over the rounds for rates, pooled latencies. */
    private static void report(String config, Row row, Runs runs, List<List<String>> table, List<List<String>> mix,
                               List<List<String>> targets) {
        Phase low = Phase.pooled(runs.low);
        for (List<Phase> kind : List.of(runs.high, runs.acting)) {
            Phase at = Phase.pooled(kind);
            String who = kind == runs.high ? "no back-off" : "wait as told";
            double[] ratios = runs.ratios(kind);
            double ratio = Bench.median(ratios);
            table.add(List.of(config, row.name(), who, Bench.fixed(Runs.medianRate(runs.low), 0),
                    Bench.fixed(Runs.medianRate(kind), 0), Bench.fixed(ratio, 2), Runs.each(ratios),
                    Bench.ms(percentile(low.answers(), 50)),
                    Bench.ms(percentile(at.answers(), 50)), Bench.ms(percentile(at.answers(), 99)),
                    at.refused() == 0 ? "-" : Bench.ms(percentile(at.refusals(), 50)),
                    at.refused() == 0 ? "-" : Bench.ms(percentile(at.refusals(), 99)),
                    Bench.mb(Math.max(low.gatewayRssMax(), at.gatewayRssMax()))));
            long wrong429 = at.statuses().entrySet().stream()
                    .filter(e -> e.getKey().startsWith("429") && !e.getKey().contains("budget_exhausted"))
                    .mapToLong(Map.Entry::getValue).sum();
            long all504 = at.statuses().entrySet().stream()
                    .filter(e -> e.getKey().startsWith("504")).mapToLong(Map.Entry::getValue).sum();
            long p99 = at.refused() == 0 ? 0 : percentile(at.refusals(), 99);
            targets.add(List.of(config, row.name(), who, Bench.fixed(ratio, 2) + (ratio >= 0.85 ? " (met)" : " (not met)"),
                    at.refused() == 0 ? "none refused" : Bench.ms(p99) + (p99 < 20_000_000 ? " (met)" : " (not met)"),
                    at.steadyRefusals().length == 0 ? "-" : Bench.ms(percentile(at.steadyRefusals(), 99)),
                    at.connects().length + ", p99 " + Bench.ms(percentile(at.connects(), 99)) + " ms",
                    Long.toString(wrong429), Long.toString(all504)));
        }
        for (String kind : List.of("low", "high", "acting")) {
            Phase phase = Phase.pooled(runs.of(kind));
            mix.add(List.of(config, row.name(), Integer.toString(phase.connections()),
                    kind.equals("acting") ? "wait as told" : kind.equals("high") ? "no back-off" : "-",
                    Long.toString(phase.ok()), describe(phase.statuses()),
                    phase.refused() == 0 ? "-" : phase.withRetryAfter() + " of " + phase.refused(),
                    gateNote(runs.gateDeltas.get(kind), runs.doorLimit.get(kind))));
        }
    }

    private static String describe(Map<String, Long> statuses) {
        List<String> parts = new ArrayList<>();
        statuses.forEach((status, count) -> parts.add(count + " x " + status));
        return parts.isEmpty() ? "-" : String.join(", ", parts);
    }

    /** The gateway's admission figures: refusals by gate (summed over lanes) and each gate's limit. */
    private static Map<String, Double> gates(URI gateway) {
        String text;
        try (RawHttp connection = new RawHttp(gateway)) {
            text = connection.exchange(RawHttp.get(gateway, "/actuator/prometheus")).text();
        }
        Map<String, Double> figures = new TreeMap<>();
        PrometheusText samples = PrometheusText.parse(text);
        for (String family : List.of("refused_total", "limit")) {
            for (PrometheusText.Sample sample : samples.named("hybridge_admission_" + family)) {
                figures.merge(family + " " + sample.labels().get("gate"), sample.value(), Double::sum);
            }
        }
        return figures;
    }

    /** Refusals by gate summed over the rounds, and the door's limit at the end of the last round. */
    private static String gateNote(Map<String, Double> refused, Double doorLimit) {
        if (doorLimit == null) {
            return "-";
        }
        List<String> counts = new ArrayList<>();
        for (String gate : List.of("door", "edge", "cloud")) {
            counts.add(Long.toString(Math.round(refused.getOrDefault("refused_total " + gate, 0.0))));
        }
        return String.join(" / ", counts) + "; " + Math.round(doorLimit);
    }

    /**
     * {@code connections} closed-loop clients for {@code seconds}, each on its own kept-alive
     * connection (opened again when the server closes it), sending the bodies in turn.
     */
    static Phase load(ProgramProcess gateway, List<byte[]> posts, int connections, double seconds, boolean honour)
            throws InterruptedException {
        return load(gateway.baseUri(), gateway::residentBytes, posts, connections, seconds, honour);
    }

    /** {@link #load(ProgramProcess, List, int, double, boolean)} on {@code base}; {@code rss}: the resident bytes to follow. */
    static Phase load(URI base, java.util.function.LongSupplier rss, List<byte[]> posts, int connections, double seconds,
                      boolean honour) throws InterruptedException {
        long[][] answers = new long[connections][];
        long[][] refusals = new long[connections][];
        long[][] steadyRefusals = new long[connections][];
        long[][] connects = new long[connections][];
        int[] connectCounts = new int[connections];
        int[] steadyCounts = new int[connections];
        int[] answerCounts = new int[connections];
        int[] refusalCounts = new int[connections];
        List<Map<String, Long>> statuses = new ArrayList<>();
        AtomicLong withRetryAfter = new AtomicLong();
        CountDownLatch done = new CountDownLatch(connections);
        AtomicBoolean running = new AtomicBoolean(true);
        AtomicLong rssMax = new AtomicLong(rss.getAsLong());
        Thread rssWatch = new Thread(() -> {
            while (running.get()) {
                rssMax.accumulateAndGet(rss.getAsLong(), Math::max);
                try {
                    Thread.sleep(200);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "rss");
        rssWatch.setDaemon(true);
        rssWatch.start();
        long start = System.nanoTime();
        long end = start + (long) (seconds * 1e9);
        for (int c = 0; c < connections; c++) {
            int index = c;
            Map<String, Long> mine = new TreeMap<>();
            statuses.add(mine);
            Thread thread = new Thread(() -> {
                long[] ok = new long[1024];
                long[] no = new long[1024];
                long[] steady = new long[1024];
                long[] connecting = new long[16];
                int nConnects = 0;
                int nSteady = 0;
                int nOk = 0;
                int nNo = 0;
                RawHttp connection = null;
                try {
                    for (int i = index; ; i++) {
                        long t0 = System.nanoTime();
                        if (t0 >= end) {
                            break;
                        }
                        if (connection == null) {
                            // connecting is timed on its own: a request's time starts at its first byte,
                            // as wrk and other load generators time it
                            connection = new RawHttp(base);
                            long connected = System.nanoTime();
                            if (nConnects == connecting.length) {
                                connecting = Arrays.copyOf(connecting, nConnects * 2);
                            }
                            connecting[nConnects++] = connected - t0;
                            t0 = connected;
                        }
                        int status;
                        try {
                            status = connection.send(posts.get(i % posts.size()));
                        } catch (RuntimeException e) {
                            mine.merge("connection failed", 1L, Long::sum);
                            connection.close();
                            connection = null;
                            continue;
                        }
                        long t1 = System.nanoTime();
                        if (status / 100 == 2) {
                            if (nOk == ok.length) {
                                ok = Arrays.copyOf(ok, nOk * 2);
                            }
                            ok[nOk++] = t1 - t0;
                        } else {
                            String reason = connection.header(RoutingParameters.REASON_HEADER);
                            mine.merge(status + (reason == null ? "" : " " + reason), 1L, Long::sum);
                            String retryAfter = connection.header("Retry-After");
                            if (retryAfter != null) {
                                withRetryAfter.incrementAndGet();
                            }
                            if (honour && retryAfter != null) {
                                // as a client that acts on the answer: wait as told (not past the phase's end)
                                long wait = Math.min(Long.parseLong(retryAfter.trim()) * 1_000_000_000L, end - t1);
                                if (wait > 0) {
                                    try {
                                        Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
                                    } catch (InterruptedException e) {
                                        Thread.currentThread().interrupt();
                                        break;
                                    }
                                }
                            }
                            if (nNo == no.length) {
                                no = Arrays.copyOf(no, nNo * 2);
                            }
                            no[nNo++] = t1 - t0;
                            if (t0 - start >= 1_000_000_000L) { // past the phase's first second: not the opening burst
                                if (nSteady == steady.length) {
                                    steady = Arrays.copyOf(steady, nSteady * 2);
                                }
                                steady[nSteady++] = t1 - t0;
                            }
                        }
                        if (connection.closing()) {
                            connection.close();
                            connection = null;
                        }
                    }
                } finally {
                    if (connection != null) {
                        connection.close();
                    }
                    answers[index] = ok;
                    refusals[index] = no;
                    answerCounts[index] = nOk;
                    refusalCounts[index] = nNo;
                    steadyRefusals[index] = steady;
                    steadyCounts[index] = nSteady;
                    connects[index] = connecting;
                    connectCounts[index] = nConnects;
                    done.countDown();
                }
            }, "client-" + c);
            thread.setDaemon(true);
            thread.start();
        }
        done.await();
        double elapsed = (System.nanoTime() - start) / 1e9;
        running.set(false);
        rssWatch.interrupt();
        Map<String, Long> all = new TreeMap<>();
        statuses.forEach(m -> m.forEach((k, v) -> all.merge(k, v, Long::sum)));
        List<long[]> okParts = new ArrayList<>();
        List<long[]> noParts = new ArrayList<>();
        List<long[]> steadyParts = new ArrayList<>();
        List<long[]> connectParts = new ArrayList<>();
        long ok = 0;
        for (int c = 0; c < connections; c++) {
            steadyParts.add(Arrays.copyOf(steadyRefusals[c], steadyCounts[c]));
            connectParts.add(Arrays.copyOf(connects[c], connectCounts[c]));
            okParts.add(Arrays.copyOf(answers[c], answerCounts[c]));
            noParts.add(Arrays.copyOf(refusals[c], refusalCounts[c]));
            ok += answerCounts[c];
        }
        long[] okAll = Bench.concat(okParts);
        long[] noAll = Bench.concat(noParts);
        Arrays.sort(okAll);
        Arrays.sort(noAll);
        long[] steadyAll = Bench.concat(steadyParts);
        Arrays.sort(steadyAll);
        long[] connectAll = Bench.concat(connectParts);
        Arrays.sort(connectAll);
        return new Phase(connections, elapsed, ok, all, withRetryAfter.get(), noAll, okAll, rssMax.get(), steadyAll,
                connectAll);
    }

    private static long percentile(long[] sorted, double p) {
        return sorted.length == 0 ? 0 : Bench.percentile(sorted, p);
    }

    private static int freePort() {
        try (java.net.ServerSocket socket = new java.net.ServerSocket(0)) {
            return socket.getLocalPort();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
