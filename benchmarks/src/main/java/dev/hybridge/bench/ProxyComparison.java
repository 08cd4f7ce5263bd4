package dev.hybridge.bench;

import dev.hybridge.e2e.ProgramProcess;
import dev.hybridge.oip.OipCodec;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
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
 * What a Hybridge route costs against what users would put in front of a model server instead:
 * a bare Spring Cloud Gateway route to the same worker in the same gateway process, and nginx as
 * a reverse proxy. wrk (Debian's package) drives every path with the same request, 16 kept-alive
 * connections, rounds interleaved; the run reports throughput, p50 and p99, and each proxy's CPU
 * per request, read from /proc. Targets: a Hybridge route costs no more gateway CPU per request
 * than the bare route for binary bodies and at most 1.2x for JSON, at 0.95x its throughput or more.
 *
 * <p>One cloud-worker (batching off, so each request costs its own run) serving
 * {@code digits-cloud} from {@code models/demo/repository/cloud}; the gateway with one route,
 * {@code pass} ({@code kind: cloud-only}), for a tenant whose budget the run cannot spend, and the
 * bare route {@code /plain/**} (StripPrefix=1); nginx with one worker process and a kept-alive
 * upstream. Bodies: one second of audio as binary tensor data (the OIP clients' default) and as
 * JSON.
 *
 * <p>{@code java -cp benchmarks/target/benchmarks.jar dev.hybridge.bench.ProxyComparison} writes
 * {@code benchmarks/results/ProxyComparison.md}. Needs {@code wrk} and {@code nginx} on the PATH
 * ({@code apt-get install wrk nginx-light}). Settings ({@code -D}): {@code bench.rounds} (3; long 5),
 * {@code bench.phaseSeconds} (8; 15), {@code bench.connections} (16), {@code bench.warmupSeconds} per
 * path and body (10; 20), {@code bench.settleSeconds}, the most time spent after the warm-up
 * waiting for the gateway's JIT to settle (180; 300), {@code bench.bodies} (binary,json).
 */
public final class ProxyComparison {

    private static final String MODEL = "digits-cloud";
    private static final String ROUTE = "pass";

    private ProxyComparison() {
    }

    /** One way to the worker, and the process that proxies it (none for the worker itself). */
    private record Target(String name, URI base, String path, List<Long> proxyPids) {
    }

    /** One body as wrk sends it. */
    private record Body(String name, Path file, String contentType, int jsonLength) {
    }

    /** One wrk phase. */
    private record Phase(double rps, double p50Ms, double p99Ms, long requests, long errors) {
    }

    public static void main(String[] args) throws Exception {
        Bench bench = new Bench("ProxyComparison", ProxyComparison.class, args);
        int rounds = Bench.intSetting("rounds", 3, 5);
        int phaseSeconds = Bench.intSetting("phaseSeconds", 8, 15);
        int connections = Bench.intSetting("connections", 16, 16);
        int warmupSeconds = Bench.intSetting("warmupSeconds", 10, 20);
        int settleSeconds = Bench.intSetting("settleSeconds", 180, 300);
        require("wrk", "wrk --version");
        require("nginx", "nginx -v");

        Path work = Files.createTempDirectory("hybridge-proxies");
        Path policies = Files.createDirectories(work.resolve("policies"));
        Files.writeString(policies.resolve(ROUTE + ".yaml"), """
                version: 1
                kind: cloud-only
                cloud: {model: %s}
                deadline: 5s
                cost:
                  cloud: {per-request-usd: 0.000001}
                """.formatted(MODEL));
        Files.writeString(policies.resolve("tenants.yaml"), """
                version: 1
                default: {allow: [auto, edge, cloud]}
                tenants:
                  bench: {budget-usd: 1000000, allow: [auto, edge, cloud]}
                """);
        List<Body> bodies = bodies(work);
        Path script = work.resolve("post.lua");
        Files.writeString(script, """
                local f = io.open(os.getenv("BODY_FILE"), "rb")
                wrk.body = f:read("*all")
                f:close()
                wrk.method = "POST"
                wrk.headers["Content-Type"] = os.getenv("CONTENT_TYPE")
                local jl = os.getenv("JSON_LENGTH")
                if jl ~= nil and jl ~= "" and jl ~= "-1" then
                  wrk.headers["Inference-Header-Content-Length"] = jl
                end
                """);

        Path repository = Bench.root().resolve("models/demo/repository/cloud");
        try (ProgramProcess worker = ProgramProcess.start("cloud-worker", Bench.logDir(), List.of(),
                List.of("--hybridge.serving.model-repository=" + repository, "--hybridge.serving.batching.enabled=false"))) {
            worker.awaitReady(Duration.ofSeconds(120));
            try (ProgramProcess gateway = ProgramProcess.start("gateway", Bench.logDir(), List.of(),
                    List.of("--hybridge.gateway.policy-folder=" + policies,
                            "--hybridge.gateway.cloud.addresses=" + worker.baseUri(),
                            "--spring.cloud.gateway.server.webflux.routes[0].id=plain",
                            "--spring.cloud.gateway.server.webflux.routes[0].uri=" + worker.baseUri(),
                            "--spring.cloud.gateway.server.webflux.routes[0].predicates[0]=Path=/plain/**",
                            "--spring.cloud.gateway.server.webflux.routes[0].filters[0]=StripPrefix=1",
                            "--hybridge.gateway.cloud.max-concurrent=256",
                            "--hybridge.gateway.anonymous-tenant=bench"));
                 Nginx nginx = Nginx.proxy(work, worker.baseUri())) {
                gateway.awaitReady(Duration.ofSeconds(120));
                List<Target> targets = List.of(
                        new Target("cloud-worker directly", worker.baseUri(), "/v2/models/" + MODEL + "/infer", List.of()),
                        new Target("Hybridge cloud-only route", gateway.baseUri(), "/v2/models/" + ROUTE + "/infer",
                                List.of(gateway.pid())),
                        new Target("bare Spring Cloud Gateway route", gateway.baseUri(),
                                "/plain/v2/models/" + MODEL + "/infer", List.of(gateway.pid())),
                        new Target("nginx reverse proxy", nginx.base(), "/v2/models/" + MODEL + "/infer", nginx.pids()));
                bench.text("cloud-worker (batching off) serving `" + MODEL + "`; the gateway with the cloud-only route `"
                        + ROUTE + "` (a tenant whose budget the run cannot spend) and a bare Spring Cloud Gateway route"
                        + " (`/plain/**`, StripPrefix=1) to the same worker; nginx " + nginx.version() + " (one worker"
                        + " process, kept-alive upstream, access log off). wrk, " + connections + " connections, one thread, "
                        + phaseSeconds + " s per phase, " + rounds + " rounds with the paths in turn; warm-up "
                        + warmupSeconds + " s per path and body. Everything shares the machine's 2 CPUs. CPU per request:"
                        + " the proxy processes' user + system time over the phase (/proc), divided by its requests.");
                for (Body body : bodies) {
                    for (Target target : targets) {
                        System.out.println("warm-up " + target.name() + " " + body.name());
                        wrk(script, target, body, connections, warmupSeconds);
                    }
                }
                bench.text(settle(script, targets.subList(1, 3), bodies, connections, gateway.pid(), settleSeconds));
                for (Body body : bodies) {
                    Map<String, List<Phase>> phases = new LinkedHashMap<>();
                    Map<String, long[]> cpu = new LinkedHashMap<>(); // proxy ms, worker ms, proxy JIT ms
                    Map<String, List<String>> others = new LinkedHashMap<>();
                    for (Target t : targets) {
                        phases.put(t.name(), new ArrayList<>());
                        cpu.put(t.name(), new long[3]);
                        others.put(t.name(), new ArrayList<>());
                    }
                    for (int round = 0; round < rounds; round++) {
                        for (int i = 0; i < targets.size(); i++) {
                            Target target = targets.get((i + round) % targets.size());
                            Bench.OtherCpu other = Bench.OtherCpu.start();
                            long proxyBefore = cpu(target.proxyPids());
                            long workerBefore = Bench.cpuMillis(worker.pid());
                            long jitBefore = Bench.jitMillis(target.proxyPids());
                            Phase phase = wrk(script, target, body, connections, phaseSeconds);
                            long[] c = cpu.get(target.name());
                            c[0] += cpu(target.proxyPids()) - proxyBefore;
                            c[1] += Bench.cpuMillis(worker.pid()) - workerBefore;
                            c[2] += Bench.jitMillis(target.proxyPids()) - jitBefore;
                            phases.get(target.name()).add(phase);
                            others.get(target.name()).add(other.text());
                            System.out.printf("  %s round %d %-32s %.0f req/s p50 %.3f ms%n", body.name(), round + 1,
                                    target.name(), phase.rps(), phase.p50Ms());
                        }
                    }
                    report(bench, body, targets, phases, cpu, others);
                }
            }
        }
        bench.write();
    }

    private static void report(Bench bench, Body body, List<Target> targets, Map<String, List<Phase>> phases,
                               Map<String, long[]> cpu, Map<String, List<String>> others) {
        long bytes;
        try {
            bytes = Files.size(body.file());
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        bench.heading(body.name() + " body (" + bytes + " bytes)");
        List<List<String>> rows = new ArrayList<>();
        Map<String, Double> rps = new LinkedHashMap<>();
        Map<String, Double> cpuPerRequest = new LinkedHashMap<>();
        for (Target t : targets) {
            List<Phase> ps = phases.get(t.name());
            long requests = ps.stream().mapToLong(Phase::requests).sum();
            long errors = ps.stream().mapToLong(Phase::errors).sum();
            double r = Bench.median(ps.stream().mapToDouble(Phase::rps).toArray());
            double p50 = Bench.median(ps.stream().mapToDouble(Phase::p50Ms).toArray());
            double p99 = Bench.median(ps.stream().mapToDouble(Phase::p99Ms).toArray());
            long[] c = cpu.get(t.name());
            double proxyCpu = t.proxyPids().isEmpty() ? Double.NaN : (double) c[0] / requests;
            rps.put(t.name(), r);
            cpuPerRequest.put(t.name(), proxyCpu);
            rows.add(List.of(t.name(), Bench.fixed(r, 0),
                    String.join(", ", ps.stream().map(p -> Bench.fixed(p.rps(), 0)).toList()),
                    Bench.fixed(p50, 3), Bench.fixed(p99, 3),
                    t.proxyPids().isEmpty() ? "-" : Bench.fixed(proxyCpu, 3),
                    t.proxyPids().isEmpty() ? "-" : Bench.fixed((double) c[2] / requests, 3),
                    Bench.fixed((double) c[1] / requests, 3), Long.toString(errors),
                    String.join(", ", others.get(t.name()))));
        }
        bench.table(List.of("path", "req/s (median)", "req/s per phase", "p50 ms", "p99 ms", "proxy CPU ms/req",
                "of which JIT compiling", "worker CPU ms/req", "errors", "others' CPU per phase"), rows);
        String hybridge = targets.get(1).name();
        String bare = targets.get(2).name();
        String nginx = targets.get(3).name();
        double cpuRatio = cpuPerRequest.get(hybridge) / cpuPerRequest.get(bare);
        double rpsRatio = rps.get(hybridge) / rps.get(bare);
        double cpuTarget = body.name().equals("binary") ? 1.0 : 1.2;
        bench.table(List.of("target (" + body.name() + ")", "measured", "met"), List.of(
                List.of("Hybridge CPU/req <= " + Bench.fixed(cpuTarget, 1) + "x the bare route's",
                        Bench.fixed(cpuRatio, 2) + "x", cpuRatio <= cpuTarget ? "yes" : "no"),
                List.of("Hybridge throughput >= 0.95x the bare route's", Bench.fixed(rpsRatio, 2) + "x",
                        rpsRatio >= 0.95 ? "yes" : "no"),
                List.of("for reading: nginx CPU/req against Hybridge's",
                        Bench.fixed(cpuPerRequest.get(nginx) / cpuPerRequest.get(hybridge), 3) + "x", "-")));
    }

    private static List<Body> bodies(Path work) throws IOException {
        OipCodec codec = new OipCodec();
        List<Body> all = new ArrayList<>();
        for (String name : System.getProperty("bench.bodies", "binary,json").split(",")) {
            boolean binary = name.trim().equals("binary");
            OipCodec.Encoded encoded = codec.encodeRequest(Bench.audioRequest(3), binary);
            Path file = work.resolve(name.trim() + ".body");
            Files.write(file, encoded.body());
            all.add(new Body(name.trim(), file, binary ? "application/octet-stream" : "application/json",
                    encoded.jsonLength()));
        }
        return all;
    }

    private static final Pattern RPS = Pattern.compile("Requests/sec:\\s+([0-9.]+)");
    private static final Pattern TOTAL = Pattern.compile("([0-9]+) requests in");
    private static final Pattern NON_2XX = Pattern.compile("Non-2xx or 3xx responses:\\s+([0-9]+)");
    private static final Pattern ERRORS = Pattern.compile("Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+)");

    /** One wrk run against a target with a body. */
    private static Phase wrk(Path script, Target target, Body body, int connections, int seconds) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("wrk", "-t1", "-c" + connections, "-d" + seconds + "s", "--latency",
                "-s", script.toString(), target.base().toString() + target.path());
        pb.environment().put("BODY_FILE", body.file().toString());
        pb.environment().put("CONTENT_TYPE", body.contentType());
        pb.environment().put("JSON_LENGTH", Integer.toString(body.jsonLength()));
        pb.redirectErrorStream(true);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IllegalStateException("wrk failed: " + out);
        }
        double rps = Double.parseDouble(find(RPS, out, 1));
        long total = Long.parseLong(find(TOTAL, out, 1));
        long errors = 0;
        Matcher m = NON_2XX.matcher(out);
        if (m.find()) {
            errors += Long.parseLong(m.group(1));
        }
        m = ERRORS.matcher(out);
        if (m.find()) {
            for (int g = 1; g <= 4; g++) {
                errors += Long.parseLong(m.group(g));
            }
        }
        return new Phase(rps, percentile(out, "50%"), percentile(out, "99%"), total - errors, errors);
    }

    /** A latency percentile from wrk's --latency table, in milliseconds. */
    private static double percentile(String out, String label) {
        Matcher m = Pattern.compile("\\s" + Pattern.quote(label) + "\\s+([0-9.]+)(us|ms|s)").matcher(out);
        if (!m.find()) {
            throw new IllegalStateException("no " + label + " in wrk's output: " + out);
        }
        double value = Double.parseDouble(m.group(1));
        return switch (m.group(2)) {
            case "us" -> value / 1000;
            case "s" -> value * 1000;
            default -> value;
        };
    }

    private static String find(Pattern pattern, String out, int group) {
        Matcher m = pattern.matcher(out);
        if (!m.find()) {
            throw new IllegalStateException("unexpected wrk output: " + out);
        }
        return m.group(group);
    }

    /**
     * Drives the gateway's two routes with every body until its JIT compiler threads take under
     * 2% of its CPU over a whole pass (or the time is up), so that the phases measure the steady
     * state: on two cores the gateway keeps compiling for minutes, and a route measured while the
     * compiler still works pays for code both routes share.
     */
    private static String settle(Path script, List<Target> routes, List<Body> bodies, int connections, long gatewayPid,
                                 int seconds) throws Exception {
        long until = System.nanoTime() + seconds * 1_000_000_000L;
        int passes = 0;
        double share;
        do {
            long cpuBefore = Bench.cpuMillis(gatewayPid);
            long jitBefore = Bench.jitMillis(gatewayPid);
            for (Body body : bodies) {
                for (Target route : routes) {
                    wrk(script, route, body, connections, 4);
                }
            }
            passes++;
            share = (double) (Bench.jitMillis(gatewayPid) - jitBefore) / Math.max(1, Bench.cpuMillis(gatewayPid) - cpuBefore);
            System.out.printf("settling: pass %d, JIT compiling %.1f%% of the gateway's CPU%n", passes, share * 100);
        } while (share >= 0.02 && System.nanoTime() < until);
        return "After the warm-up, the gateway's two routes were driven in passes of 4 s per route and body until its"
                + " JIT compiler threads took under 2% of its CPU over a pass: " + passes + " pass(es), the last at "
                + Bench.fixed(share * 100, 1) + "%" + (share >= 0.02 ? " (the time allowed, " + seconds
                + " s, ran out first)" : "") + ". The column \"of which JIT compiling\" is the proxy's compiler"
                + " threads' CPU during the phases.";
    }

    private static long cpu(List<Long> pids) {
        long total = 0;
        for (long pid : pids) {
            total += Bench.cpuMillis(pid);
        }
        return total;
    }

    private static void require(String program, String check) {
        try {
            Process p = new ProcessBuilder(check.split(" ")).redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            p.waitFor();
        } catch (IOException | InterruptedException e) {
            throw new IllegalStateException(program + " is needed: apt-get install wrk nginx-light");
        }
    }
}
