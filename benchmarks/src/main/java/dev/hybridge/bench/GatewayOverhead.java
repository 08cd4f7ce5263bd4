package dev.hybridge.bench;

import dev.hybridge.e2e.ProgramProcess;
import dev.hybridge.e2e.RawHttp;
import dev.hybridge.oip.OipCodec;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The gateway's pass-through cost: the same requests to a cloud worker directly and through the
 * gateway (a cloud-only route to that worker), in one run, interleaved. Target: the gateway adds
 * under 1 ms at p50, and gives at least 0.8x the direct throughput.
 *
 * <p>One cloud-worker process (batching off, so that a request's latency is its own) serving
 * {@code dense_audio} from {@code models/testdata/repository}; one gateway process whose policy
 * folder holds one route, {@code pass}: {@code kind: cloud-only} to that model. Requests are one
 * second of audio with the binary tensor extension, sent on keep-alive connections by
 * {@link RawHttp} (prepared once). Through the gateway every answer is decoded, given the routing
 * parameters, and encoded again: the pass-through a client gets.
 *
 * <ol>
 *   <li>Latency: one caller, {@code bench.calls} sequential calls per path per round,
 *       {@code bench.rounds} rounds, paths alternating.</li>
 *   <li>Throughput: {@code bench.clients} closed-loop clients, one {@code bench.phaseSeconds}
 *       phase per path per round, alternating.</li>
 * </ol>
 *
 * <p>{@code java -cp benchmarks/target/benchmarks.jar dev.hybridge.bench.GatewayOverhead} writes
 * {@code benchmarks/results/GatewayOverhead.md}. Settings ({@code -D}): {@code bench.rounds} (3; long
 * 5), {@code bench.calls} (2000; 5000), {@code bench.clients} (16), {@code bench.phaseSeconds} (5; 15),
 * {@code bench.warmupSeconds} per path (20; 40), {@code bench.gatewayJvmOptions} (e.g. a flight recording),
 * {@code bench.model} and {@code bench.repository} (another model, e.g. {@code digits-cloud} from
 * {@code models/demo/repository/cloud}; results then go to {@code GatewayOverhead-<model>.md}),
 * {@code bench.pin=true} (the worker alone on CPU 1, the gateway and clients on CPU 0, with taskset:
 * results in {@code ...-pinned.md}).
 */
public final class GatewayOverhead {

    private static final String MODEL = System.getProperty("bench.model", "dense_audio");
    private static final Path REPOSITORY = System.getProperty("bench.repository") == null ? Bench.testRepository()
            : Bench.root().resolve(System.getProperty("bench.repository"));
    private static final String ROUTE = "pass";
    /** Pin the worker to CPU 1 and everything else to CPU 0: the gateway no longer takes the worker's CPU. */
    private static final boolean PIN = Boolean.getBoolean("bench.pin");

    private GatewayOverhead() {
    }

    private record Path2(String name, URI base, byte[] post) {
    }

    public static void main(String[] args) throws Exception {
        Bench bench = new Bench((MODEL.equals("dense_audio") ? "GatewayOverhead" : "GatewayOverhead-" + MODEL)
                + (PIN ? "-pinned" : ""), GatewayOverhead.class, args);
        int rounds = Bench.intSetting("rounds", 3, 5);
        int calls = Bench.intSetting("calls", 2000, 5000);
        int clients = Bench.intSetting("clients", 16, 16);
        int phaseSeconds = Bench.intSetting("phaseSeconds", 5, 15);
        int warmupSeconds = Bench.intSetting("warmupSeconds", 20, 40);

        Path policies = Files.createTempDirectory("hybridge-bench-policies");
        Files.writeString(policies.resolve(ROUTE + ".yaml"), """
                version: 1
                kind: cloud-only
                cloud: {model: %s}
                deadline: 5s
                """.formatted(MODEL));
        List<String> lean = List.of();
        try (ProgramProcess worker = ProgramProcess.start("cloud-worker", Bench.logDir(), lean,
                List.of("--hybridge.serving.model-repository=" + REPOSITORY,
                        "--hybridge.serving.batching.enabled=false"))) {
            worker.awaitReady(java.time.Duration.ofSeconds(120));
            String gatewayJvm = System.getProperty("bench.gatewayJvmOptions", "").trim();
            List<String> gatewayOptions = gatewayJvm.isEmpty() ? lean : List.of(gatewayJvm.split("\\s+"));
            try (ProgramProcess gateway = ProgramProcess.start("gateway", Bench.logDir(), gatewayOptions,
                    List.of("--hybridge.gateway.policy-folder=" + policies,
                            "--hybridge.gateway.cloud.addresses=" + worker.baseUri(),
                            // a plain Spring Cloud Gateway route to the same worker: what the framework's
                            // own proxying costs, for reference
                            "--spring.cloud.gateway.server.webflux.routes[0].id=plain",
                            "--spring.cloud.gateway.server.webflux.routes[0].uri=" + worker.baseUri(),
                            "--spring.cloud.gateway.server.webflux.routes[0].predicates[0]=Path=/plain/**",
                            "--spring.cloud.gateway.server.webflux.routes[0].filters[0]=StripPrefix=1",
                            "--hybridge.gateway.cloud.max-concurrent=256",
                            "--hybridge.gateway.anonymous-tenant=bench"))) {
                gateway.awaitReady(java.time.Duration.ofSeconds(120));
                if (PIN) {
                    // the worker alone on CPU 1; the gateway and the clients on CPU 0
                    pin(worker.pid(), "1");
                    pin(gateway.pid(), "0");
                    pin(ProcessHandle.current().pid(), "0");
                }
                OipCodec.Encoded body = new OipCodec().encodeRequest(Bench.audioRequest(3), true);
                List<Path2> paths = List.of(
                        new Path2("direct to cloud-worker", worker.baseUri(),
                                RawHttp.post(worker.baseUri(), "/v2/models/" + MODEL + "/infer", body)),
                        new Path2("through the gateway", gateway.baseUri(),
                                RawHttp.post(gateway.baseUri(), "/v2/models/" + ROUTE + "/infer", body)),
                        new Path2("plain proxy route (reference)", gateway.baseUri(),
                                RawHttp.post(gateway.baseUri(), "/plain/v2/models/" + MODEL + "/infer", body)));

                bench.text("cloud-worker (batching off, program defaults otherwise: intra-op 2, run-queue 2) serving `"
                        + MODEL + "` from `" + Bench.root().relativize(REPOSITORY) + "`; gateway with one cloud-only route `" + ROUTE
                        + "` to it; for reference, the same gateway process also has a plain Spring Cloud Gateway"
                        + " route (`/plain/**`, StripPrefix=1) to the worker: the framework's own proxying, no policy,"
                        + " no codec, no Resilience4j. Request: FP32 [1, 8000] with the binary tensor extension (" + body.body().length
                        + " bytes), prepared once and sent on keep-alive connections (`RawHttp`). Both programs and"
                        + " the clients share the machine's 2 CPUs. Warm-up: " + warmupSeconds + " s of " + clients
                        + "-client load per path." + (PIN ? " **Pinned** (`-Dbench.pin=true`, taskset): the worker alone on"
                        + " CPU 1; the gateway and the clients on CPU 0, as when the gateway runs on machines of its own."
                        : ""));
                for (Path2 path : paths) {
                    System.out.println("warm-up " + path.name());
                    ClosedLoop.run(path.base(), path.post(), clients, warmupSeconds);
                }

                // 1. sequential latency
                Map<String, List<long[]>> latency = new LinkedHashMap<>();
                Map<String, List<String>> latencyOthers = new LinkedHashMap<>();
                for (Path2 path : paths) {
                    latency.put(path.name(), new ArrayList<>());
                    latencyOthers.put(path.name(), new ArrayList<>());
                }
                for (int round = 0; round < rounds; round++) {
                    for (int i = 0; i < paths.size(); i++) {
                        Path2 path = paths.get((i + round) % paths.size());
                        Bench.OtherCpu others = Bench.OtherCpu.start();
                        long[] samples = ClosedLoop.sequential(path.base(), path.post(), calls, path.name());
                        latency.get(path.name()).add(samples);
                        latencyOthers.get(path.name()).add(others.text());
                        System.out.printf("  round %d %-24s p50 %s ms%n", round + 1, path.name(),
                                Bench.ms(Bench.Stats.of(samples).p50()));
                    }
                }
                bench.heading("Latency, one sequential caller");
                List<List<String>> rows = new ArrayList<>();
                long directP50 = Bench.Stats.of(Bench.concat(latency.get(paths.get(0).name()))).p50();
                for (Path2 path : paths) {
                    Bench.Stats s = Bench.Stats.of(Bench.concat(latency.get(path.name())));
                    rows.add(List.of(path.name(), Integer.toString(s.count()), Bench.ms(s.p50()), Bench.ms(s.p95()),
                            Bench.ms(s.p99()), Bench.ms(s.p50() - directP50),
                            String.join(", ", latencyOthers.get(path.name()))));
                }
                bench.table(List.of("path", "calls", "p50 ms", "p95 ms", "p99 ms", "p50 added ms", "others' CPU per round"),
                        rows);

                // 2. throughput
                Map<String, List<ClosedLoop.Result>> load = new LinkedHashMap<>();
                Map<String, List<String>> loadOthers = new LinkedHashMap<>();
                Map<String, long[]> cpu = new LinkedHashMap<>(); // worker ms, gateway ms, requests
                for (Path2 path : paths) {
                    load.put(path.name(), new ArrayList<>());
                    loadOthers.put(path.name(), new ArrayList<>());
                    cpu.put(path.name(), new long[3]);
                }
                for (int round = 0; round < rounds; round++) {
                    for (int i = 0; i < paths.size(); i++) {
                        Path2 path = paths.get((i + round) % paths.size());
                        Bench.OtherCpu others = Bench.OtherCpu.start();
                        long workerCpu = Bench.cpuMillis(worker.pid());
                        long gatewayCpu = Bench.cpuMillis(gateway.pid());
                        ClosedLoop.Result result = ClosedLoop.run(path.base(), path.post(), clients, phaseSeconds);
                        long[] c = cpu.get(path.name());
                        c[0] += Bench.cpuMillis(worker.pid()) - workerCpu;
                        c[1] += Bench.cpuMillis(gateway.pid()) - gatewayCpu;
                        c[2] += result.ok();
                        load.get(path.name()).add(result);
                        loadOthers.get(path.name()).add(others.text());
                        System.out.printf("  round %d %-24s %.0f req/s, %d errors%n", round + 1, path.name(),
                                result.rps(), result.errors());
                    }
                }
                bench.heading("Throughput, " + clients + " closed-loop clients");
                rows = new ArrayList<>();
                double directRps = rps(load.get(paths.get(0).name()));
                for (Path2 path : paths) {
                    List<ClosedLoop.Result> results = load.get(path.name());
                    List<long[]> all = new ArrayList<>();
                    long errors = 0;
                    List<String> perPhase = new ArrayList<>();
                    for (ClosedLoop.Result r : results) {
                        all.add(r.latencies());
                        errors += r.errors();
                        perPhase.add(Bench.fixed(r.rps(), 0));
                    }
                    Bench.Stats s = Bench.Stats.of(Bench.concat(all));
                    double rps = rps(results);
                    long[] c = cpu.get(path.name());
                    rows.add(List.of(path.name(), Bench.fixed(rps, 0), String.join(", ", perPhase),
                            Bench.fixed(rps / directRps, 2) + "x", Bench.ms(s.p50()), Bench.ms(s.p95()),
                            Bench.fixed((double) c[0] / c[2], 3), Bench.fixed((double) c[1] / c[2], 3),
                            Long.toString(errors), String.join(", ", loadOthers.get(path.name()))));
                }
                bench.table(List.of("path", "req/s", "req/s per phase", "vs direct", "p50 ms", "p95 ms",
                        "worker CPU ms/req", "gateway CPU ms/req", "errors", "others' CPU per phase"), rows);
                long[] viaCpu = cpu.get(paths.get(1).name());
                long[] directCpu = cpu.get(paths.get(0).name());
                bench.text("The gateway, the worker and the " + clients + " clients share 2 CPUs, so through the gateway"
                        + " the worker gets only what the gateway leaves: the throughput ratio is about worker CPU /"
                        + " (worker + gateway CPU) per request. Here the gateway spends "
                        + Bench.fixed((double) viaCpu[1] / viaCpu[2], 3) + " ms of CPU per request against the worker's "
                        + Bench.fixed((double) directCpu[0] / directCpu[2], 3) + " ms (direct).");

                Bench.Stats via = Bench.Stats.of(Bench.concat(latency.get(paths.get(1).name())));
                double added = (via.p50() - directP50) / 1e6;
                double ratio = rps(load.get(paths.get(1).name())) / directRps;
                bench.heading("Targets");
                bench.table(List.of("target", "measured", "met"), List.of(
                        List.of("p50 added by the gateway < 1 ms", Bench.fixed(added, 3) + " ms", added < 1 ? "yes" : "no"),
                        List.of("throughput >= 0.8x direct", Bench.fixed(ratio, 2) + "x", ratio >= 0.8 ? "yes" : "no")));
            }
        }
        bench.write();
    }

    private static void pin(long pid, String cpus) throws Exception {
        Process taskset = new ProcessBuilder("taskset", "-a", "-cp", cpus, Long.toString(pid))
                .redirectErrorStream(true).start();
        String out = new String(taskset.getInputStream().readAllBytes());
        if (taskset.waitFor() != 0) {
            throw new IllegalStateException("taskset failed for " + pid + ": " + out);
        }
    }

    private static double rps(List<ClosedLoop.Result> results) {
        long ok = 0;
        double seconds = 0;
        for (ClosedLoop.Result r : results) {
            ok += r.ok();
            seconds += r.seconds();
        }
        return ok / seconds;
    }
}
