package dev.hybridge.bench;

import ai.onnxruntime.OrtEnvironment;
import dev.hybridge.e2e.OipClient;
import dev.hybridge.e2e.ProgramProcess;
import dev.hybridge.e2e.PrometheusText;
import dev.hybridge.e2e.RawHttp;
import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.serving.model.HostSettings;
import dev.hybridge.serving.model.OnnxModel;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;

/**
 * cloud-worker throughput with dynamic batching against without, at 16 concurrent clients,
 * in the same run: one cloud-worker process per configuration, all started before measuring,
 * phases interleaved round-robin (the order rotates from round to round), each phase a fixed
 * duration after a warm-up of every process. The programs take a while to reach steady speed:
 * on 2 busy cores an unbatched worker stays on a plateau for about 25 s of full load, then
 * doubles its throughput within the next 10 s (JIT compilation of the per-request path), so a
 * "stable for two slices" rule stops too early. Each process therefore gets a fixed warm-up of
 * {@code bench.warmupSeconds} of full load, in 5 s slices that are printed and reported.
 *
 * <p>Model {@code dense_audio} (its config.yaml sets only scores, so the program's batching
 * settings apply), one second of 8 kHz audio (FP32 [1, 8000]) per request, binary tensor
 * extension. Clients are 16 threads in this JVM, each sending its next request as soon as the
 * previous one answers (closed loop) on its own keep-alive connection through {@link RawHttp}
 * (the request is encoded once up front; java.net.http cost the shared CPUs over 1 ms per call
 * here). Clients and server share the machine's CPUs: the client's CPU use is reported too.
 *
 * <p>The default run compares unbatched with batched at max-queue-delay 1, 2 (the program's
 * default) and 5 ms, all at the program's default threads (intra-op 2, run-queue 2) and
 * max-batch-size 8. {@code -Dbench.explore=true} adds thread and batch-size variants (see
 * {@link #EXPLORE}) and writes {@code results/BatchingThroughput-explore.md}; {@code
 * -Dbench.configs=a,b} picks configurations by name and writes {@code
 * results/BatchingThroughput-selected.md}.
 *
 * <p>Settings ({@code -D}): {@code bench.rounds} (2; long: 5), {@code bench.phaseSeconds} (5; long: 15),
 * {@code bench.warmupSeconds} (per process: 40; long: 60), {@code bench.warmupClients} (16),
 * {@code bench.clients} (16), {@code bench.explore},
 * {@code bench.configs}, {@code bench.workerJvmOptions} (space-separated JVM options for every worker;
 * default none), {@code bench.long=true}.
 */
public final class BatchingThroughput {

    /** {@code -Dbench.model} and {@code -Dbench.repository} measure another audio model, e.g. the demo's digits-cloud. */
    private static final String DEFAULT_MODEL = "dense_audio";
    private static final String MODEL = System.getProperty("bench.model", DEFAULT_MODEL);
    private static final Path REPOSITORY = System.getProperty("bench.repository") == null ? Bench.testRepository()
            : Bench.root().resolve(System.getProperty("bench.repository"));

    /** A cloud-worker configuration: a name and its program arguments (beyond the model repository). */
    record Config(String name, List<String> arguments) {
    }

    static final List<Config> DEFAULT = List.of(
            new Config("unbatched", List.of("--hybridge.serving.batching.enabled=false")),
            new Config("batched-1ms", List.of("--hybridge.serving.batching.enabled=true",
                    "--hybridge.serving.batching.max-queue-delay=1ms")),
            new Config("batched-2ms", List.of("--hybridge.serving.batching.enabled=true",
                    "--hybridge.serving.batching.max-queue-delay=2ms")),
            new Config("batched-5ms", List.of("--hybridge.serving.batching.enabled=true",
                    "--hybridge.serving.batching.max-queue-delay=5ms")));

    /**
     * Thread and batch-size variants for finding what limits batching on a small machine: ONNX
     * Runtime threads per run (2 run-queue threads x intra-op 2 is four compute threads on two
     * cores), no queue delay at all, and a max-batch-size below the client count so that one
     * batch can form while the previous one runs.
     */
    static final List<Config> EXPLORE = List.of(
            new Config("unbatched-intra1", List.of("--hybridge.serving.batching.enabled=false",
                    "--hybridge.serving.threads.intra-op=1")),
            new Config("unbatched-intra1-run1", List.of("--hybridge.serving.batching.enabled=false",
                    "--hybridge.serving.threads.intra-op=1", "--hybridge.serving.run-queue.threads=1")),
            new Config("batched-2ms-intra1", List.of("--hybridge.serving.batching.enabled=true",
                    "--hybridge.serving.threads.intra-op=1")),
            new Config("batched-0ms", List.of("--hybridge.serving.batching.enabled=true",
                    "--hybridge.serving.batching.max-queue-delay=0ms")),
            new Config("batched-2ms-max8", List.of("--hybridge.serving.batching.enabled=true",
                    "--hybridge.serving.batching.max-batch-size=8")),
            new Config("batched-5ms-max8", List.of("--hybridge.serving.batching.enabled=true",
                    "--hybridge.serving.batching.max-queue-delay=5ms", "--hybridge.serving.batching.max-batch-size=8")));

    private BatchingThroughput() {
    }

    /** One measured phase of one configuration. */
    record Phase(long requests, long errors, double seconds, long[] latencies, long serverCpuMs, long clientCpuMs,
                 double batchRequests, double batches, double runSeconds, double runs, double othersCpu) {
        double rps() {
            return requests / seconds;
        }
    }

    private record Worker(Config config, ProgramProcess process, OipClient client) {
    }

    public static void main(String[] args) throws Exception {
        String name = System.getProperty("bench.configs") != null ? "BatchingThroughput-selected"
                : Boolean.getBoolean("bench.explore") ? "BatchingThroughput-explore" : "BatchingThroughput";
        if (!MODEL.equals(DEFAULT_MODEL)) {
            name += "-" + MODEL; // results for another model do not replace the default model's
        }
        Bench bench = new Bench(name, BatchingThroughput.class, args);
        int rounds = Bench.intSetting("rounds", 2, 5);
        int phaseSeconds = Bench.intSetting("phaseSeconds", 5, 15);
        int warmupSeconds = Bench.intSetting("warmupSeconds", 40, 60);
        int clients = Bench.intSetting("clients", 16, 16);
        int warmupClients = Bench.intSetting("warmupClients", 16, 16);
        List<Config> configs = chooseConfigs();
        String jvm = System.getProperty("bench.workerJvmOptions", "").trim();
        List<String> workerJvmOptions = jvm.isEmpty() ? List.of() : List.of(jvm.split("\\s+"));

        checkModelConfig();
        InferRequest request = Bench.audioRequest(7);
        OipCodec.Encoded body = new OipCodec().encodeRequest(request, true);

        bench.text("Model `" + MODEL + "` from `" + Bench.root().relativize(REPOSITORY) + "`"
                + (MODEL.equals("dense_audio") ? " (8000 x 128 dense layer over raw audio, then 128 x 10)" : "")
                + ", one FP32 [1, 8000]"
                + " request per call, binary tensor extension (" + body.body().length + " bytes). " + clients
                + " closed-loop clients in this JVM, each on its own keep-alive connection (a minimal HTTP/1.1"
                + " client, `RawHttp`, request encoded once). One cloud-worker process per configuration (JVM options: "
                + (workerJvmOptions.isEmpty() ? "the default" : "`" + String.join(" ", workerJvmOptions) + "`") + ", `--hybridge.serving.model-repository=" + Bench.root().relativize(REPOSITORY) + "`, program defaults"
                + " unless the configuration says otherwise: threads intra-op 2 / inter-op 1, run-queue 2 threads,"
                + " max-batch-size 8). Each process warmed with " + warmupSeconds + " s of full load (in 5 s slices, see"
                + " the warm-up column: an unbatched worker stays on a plateau for about 25 s before its JIT settles),"
                + " then " + rounds
                + " rounds of one " + phaseSeconds + " s phase per configuration, interleaved (order rotating).");

        modelCost(bench, request);

        List<Worker> workers = new ArrayList<>();
        try {
            for (Config config : configs) {
                List<String> arguments = new ArrayList<>();
                arguments.add("--hybridge.serving.model-repository=" + REPOSITORY);
                arguments.addAll(config.arguments());
                ProgramProcess process = ProgramProcess.start("cloud-worker", Bench.logDir(), workerJvmOptions, arguments);
                workers.add(new Worker(config, process, new OipClient(process.baseUri())));
                Duration ready = process.awaitReady(Duration.ofSeconds(180));
                System.out.println(config.name() + ": ready in " + ready.toMillis() + " ms (pid " + process.pid()
                        + ", log " + process.log() + ")");
                checkBatching(process, config);
            }
            Map<String, String> warmups = warmAll(workers, body, warmupClients, warmupSeconds);
            Map<String, List<Phase>> phases = new LinkedHashMap<>();
            for (Worker worker : workers) {
                phases.put(worker.config().name(), new ArrayList<>());
            }
            for (int round = 0; round < rounds; round++) {
                for (int i = 0; i < workers.size(); i++) {
                    Worker worker = workers.get((i + round) % workers.size());
                    Phase phase = phase(worker, body, clients, phaseSeconds);
                    phases.get(worker.config().name()).add(phase);
                    Bench.Stats s = Bench.Stats.of(phase.latencies());
                    System.out.printf("round %d %-22s %7.1f req/s  p50 %s ms  p95 %s ms  mean batch %.1f"
                                    + "  run %.3f ms  server CPU %.3f ms/req  errors %d  (other processes' CPU %.0f%%)%n",
                            round + 1,
                            worker.config().name(), phase.rps(), Bench.ms(s.p50()), Bench.ms(s.p95()),
                            phase.batches() > 0 ? phase.batchRequests() / phase.batches() : 1.0,
                            phase.runs() > 0 ? phase.runSeconds() / phase.runs() * 1000 : 0.0,
                            phase.serverCpuMs() / (double) Math.max(1, phase.requests()), phase.errors(),
                            phase.othersCpu());
                }
            }
            report(bench, configs, phases, clients, warmups);
        } finally {
            for (Worker worker : workers) {
                worker.process().close();
            }
        }
        bench.write();
    }

    private static List<Config> chooseConfigs() {
        List<Config> known = new ArrayList<>(DEFAULT);
        known.addAll(EXPLORE);
        return Bench.chosen("configs", Boolean.getBoolean("bench.explore") ? known : DEFAULT, known, Config::name);
    }

    /** dense_audio's config.yaml must leave batching and threads to the program. */
    private static void checkModelConfig() throws Exception {
        String config = Files.readString(REPOSITORY.resolve(MODEL).resolve("config.yaml"));
        for (String line : config.split("\n")) {
            String t = line.trim();
            if (t.startsWith("batching") || t.startsWith("threads")) {
                throw new IllegalStateException(MODEL + "/config.yaml overrides " + t
                        + "; this benchmark needs the program's settings to apply");
            }
        }
    }

    /** The model is batched exactly when the configuration asks for it (from the program's log). */
    private static void checkBatching(ProgramProcess process, Config config) throws Exception {
        boolean wanted = config.arguments().contains("--hybridge.serving.batching.enabled=true");
        for (String line : Files.readAllLines(process.log())) {
            if (line.contains("Model " + MODEL + " version")) {
                if (line.endsWith(", batched") != wanted) {
                    throw new IllegalStateException(config.name() + ": expected " + MODEL + (wanted ? "" : " not")
                            + " to be batched: " + line);
                }
                return;
            }
        }
        throw new IllegalStateException(config.name() + ": no load line for " + MODEL + " in " + process.log());
    }

    /**
     * Warms the workers one after the other, each with full load for {@code seconds} in 5 s
     * slices; returns each worker's req/s per slice. (Warming them all at once is far slower:
     * four JVMs sharing two cores get little done.)
     */
    private static Map<String, String> warmAll(List<Worker> workers, OipCodec.Encoded body, int clients, int seconds)
            throws Exception {
        Map<String, String> text = new LinkedHashMap<>();
        for (Worker worker : workers) {
            List<String> slices = new ArrayList<>();
            for (int elapsed = 0; elapsed < seconds; elapsed += 5) {
                slices.add(Bench.fixed(phase(worker, body, clients, Math.min(5, seconds - elapsed)).rps(), 0));
            }
            System.out.printf("warm-up %-22s %s req/s%n", worker.config().name(), slices);
            text.put(worker.config().name(), String.join(", ", slices));
        }
        return text;
    }

    private static Phase phase(Worker worker, OipCodec.Encoded body, int clients, int seconds) throws Exception {
        Map<String, Double> before = metrics(worker.client());
        Bench.OtherCpu others = Bench.OtherCpu.start();
        long serverCpuBefore = Bench.cpuMillis(worker.process().pid());
        long clientCpuBefore = clientCpuMillis();
        byte[] post = RawHttp.post(worker.process().baseUri(), "/v2/models/" + MODEL + "/infer", body);
        ClosedLoop.Result load = ClosedLoop.run(worker.process().baseUri(), post, clients, seconds);
        double othersCpu = others.percent();
        long serverCpu = Bench.cpuMillis(worker.process().pid()) - serverCpuBefore;
        long clientCpu = clientCpuMillis() - clientCpuBefore;
        Map<String, Double> after = metrics(worker.client());
        return new Phase(load.ok(), load.errors(), load.seconds(), load.latencies(), serverCpu, clientCpu,
                delta(before, after, "hybridge_batch_requests_sum"), delta(before, after, "hybridge_batch_requests_count"),
                delta(before, after, "hybridge_model_run_seconds_sum"), delta(before, after, "hybridge_model_run_seconds_count"),
                othersCpu);
    }

    private static long clientCpuMillis() {
        var os = ManagementFactory.getOperatingSystemMXBean();
        if (os instanceof com.sun.management.OperatingSystemMXBean sun) {
            return sun.getProcessCpuTime() / 1_000_000;
        }
        return 0;
    }

    /** The batching and run metrics of dense_audio from /actuator/prometheus. */
    private static Map<String, Double> metrics(OipClient client) {
        Map<String, Double> values = new LinkedHashMap<>();
        OipClient.Answer answer = client.get("/actuator/prometheus");
        if (answer.status() != 200) {
            return values;
        }
        PrometheusText samples = PrometheusText.parse(answer.text());
        for (String name : List.of("hybridge_batch_requests_sum", "hybridge_batch_requests_count",
                "hybridge_model_run_seconds_sum", "hybridge_model_run_seconds_count")) {
            samples.sum(name, "model", MODEL).ifPresent(v -> values.put(name, v));
        }
        return values;
    }

    private static double delta(Map<String, Double> before, Map<String, Double> after, String key) {
        return after.getOrDefault(key, 0.0) - before.getOrDefault(key, 0.0);
    }

    /**
     * What the model itself costs per request at each batch size, in this JVM before any worker
     * starts (no HTTP): how much batching could save at best.
     */
    private static void modelCost(Bench bench, InferRequest request) {
        List<List<String>> rows = new ArrayList<>();
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        for (int intraOp : new int[] {1, 2}) {
            HostSettings settings = new HostSettings(REPOSITORY, HostSettings.ExecutionProvider.CPU, 0,
                    intraOp, 1, new HostSettings.BatchSettings(false, 16, Duration.ofMillis(2), 256), 2, 256);
            try (OnnxModel model = OnnxModel.load(env, REPOSITORY.resolve(MODEL), settings)) {
                double single = 0;
                for (int batch : new int[] {1, 2, 4, 8, 16}) {
                    List<InferRequest> requests = java.util.Collections.nCopies(batch, request);
                    int runs = Math.max(400, 6400 / batch);
                    for (int i = 0; i < runs; i++) {
                        model.inferBatch(requests);
                    }
                    long[] t = new long[runs];
                    for (int i = 0; i < runs; i++) {
                        long t0 = System.nanoTime();
                        model.inferBatch(requests);
                        t[i] = System.nanoTime() - t0;
                    }
                    long p50 = Bench.Stats.of(t).p50();
                    double perRequest = p50 / (double) batch;
                    if (batch == 1) {
                        single = perRequest;
                    }
                    rows.add(List.of(Integer.toString(intraOp), Integer.toString(batch), Bench.ms(p50),
                            Bench.ms(perRequest), Bench.fixed(single / perRequest, 2) + "x"));
                }
            }
        }
        bench.heading("Model cost in-process (no HTTP, one caller, before the workers start)");
        bench.text("`OnnxModel.inferBatch` on `" + MODEL + "` with the given intra-op threads: the most batching can"
                + " save is the model's share of a request's cost.");
        bench.table(List.of("intra-op", "batch size", "p50 ms per run", "ms per request", "speed-up per request vs batch 1"),
                rows);
    }

    private static void report(Bench bench, List<Config> configs, Map<String, List<Phase>> phases, int clients,
                               Map<String, String> warmups) {
        bench.heading("Results per configuration (all phases pooled)");
        List<List<String>> rows = new ArrayList<>();
        Map<String, Double> rps = new LinkedHashMap<>();
        Map<String, Long> p95s = new LinkedHashMap<>();
        Map<String, Long> p50s = new LinkedHashMap<>();
        for (Config config : configs) {
            List<Phase> list = phases.get(config.name());
            long requests = 0;
            long errors = 0;
            double seconds = 0;
            long serverCpu = 0;
            long clientCpu = 0;
            double batchRequests = 0;
            double batches = 0;
            double runSeconds = 0;
            double runs = 0;
            List<long[]> lat = new ArrayList<>();
            double[] phaseRps = new double[list.size()];
            StringBuilder othersPerPhase = new StringBuilder();
            for (int i = 0; i < list.size(); i++) {
                Phase p = list.get(i);
                requests += p.requests();
                errors += p.errors();
                seconds += p.seconds();
                serverCpu += p.serverCpuMs();
                clientCpu += p.clientCpuMs();
                batchRequests += p.batchRequests();
                batches += p.batches();
                runSeconds += p.runSeconds();
                runs += p.runs();
                lat.add(p.latencies());
                phaseRps[i] = p.rps();
                othersPerPhase.append(i == 0 ? "" : ", ").append(Bench.fixed(p.othersCpu(), 0)).append('%');
            }
            Bench.Stats s = Bench.Stats.of(Bench.concat(lat));
            double throughput = requests / seconds;
            rps.put(config.name(), throughput);
            p95s.put(config.name(), s.p95());
            p50s.put(config.name(), s.p50());
            StringBuilder perPhase = new StringBuilder();
            for (double r : phaseRps) {
                perPhase.append(perPhase.length() == 0 ? "" : ", ").append(Bench.fixed(r, 0));
            }
            rows.add(List.of(config.name(), Bench.fixed(throughput, 1), perPhase.toString(), othersPerPhase.toString(),
                    warmups.get(config.name()),
                    Bench.ms(s.p50()),
                    Bench.ms(s.p95()), Bench.ms(s.p99()),
                    batches > 0 ? Bench.fixed(batchRequests / batches, 2) : "1 (unbatched)",
                    runs > 0 ? Bench.fixed(runSeconds / runs * 1000, 3) : "n/a",
                    Bench.fixed(serverCpu / (double) requests, 3), Bench.fixed(clientCpu / (double) requests, 3),
                    Bench.fixed((serverCpu + clientCpu) / seconds / 10, 0) + "%", Long.toString(errors)));
        }
        bench.table(List.of("configuration", "req/s", "req/s per phase", "others' CPU per phase",
                "warm-up slices req/s", "p50 ms", "p95 ms", "p99 ms",
                "requests per run", "ms per model run", "server CPU ms/req", "client CPU ms/req",
                "CPU used (of " + Runtime.getRuntime().availableProcessors() * 100 + "%)", "errors"), rows);
        bench.text("`requests per run` and `ms per model run` come from the worker's own metrics"
                + " (`hybridge.batch.requests`, `hybridge.model.run`) over the measured phases. `others' CPU`: CPU"
                + " used by other processes on this shared machine during the phase (% of one CPU). CPU from /proc"
                + " (server process) and the JMX bean (this JVM, i.e. the " + clients + " clients).");

        String base = "unbatched";
        if (!rps.containsKey(base)) {
            return;
        }
        bench.heading("Batched vs unbatched (target: at least 1.5x throughput without a worse p95)");
        List<List<String>> cmp = new ArrayList<>();
        String best = null;
        for (String name : rps.keySet()) {
            if (name.equals(base) || !name.startsWith("batched")) {
                continue;
            }
            double ratio = rps.get(name) / rps.get(base);
            boolean p95ok = p95s.get(name) <= p95s.get(base);
            cmp.add(List.of(name, Bench.fixed(ratio, 2) + "x", Bench.ms(p50s.get(name)) + " vs " + Bench.ms(p50s.get(base)),
                    Bench.ms(p95s.get(name)) + " vs " + Bench.ms(p95s.get(base)),
                    ratio >= 1.5 && p95ok ? "yes" : "no" + (ratio < 1.5 ? " (throughput)" : "") + (p95ok ? "" : " (p95)")));
            if (best == null || rps.get(name) > rps.get(best)) {
                best = name;
            }
        }
        bench.table(List.of("configuration", "throughput vs unbatched", "p50 ms vs unbatched", "p95 ms vs unbatched",
                "target met"), cmp);
        if (best != null) {
            bench.text("Highest throughput among the batched configurations: **" + best + "** ("
                    + Bench.fixed(rps.get(best), 1) + " req/s, " + Bench.fixed(rps.get(best) / rps.get(base), 2)
                    + "x unbatched, p95 " + Bench.ms(p95s.get(best)) + " ms vs " + Bench.ms(p95s.get(base)) + " ms).");
        }
        String bestUnbatched = null;
        for (String name : rps.keySet()) {
            if (name.startsWith("unbatched") && (bestUnbatched == null || rps.get(name) > rps.get(bestUnbatched))) {
                bestUnbatched = name;
            }
        }
        if (best != null && !bestUnbatched.equals(base)) {
            bench.text("Best against best: **" + best + "** " + Bench.fixed(rps.get(best), 1) + " req/s vs **"
                    + bestUnbatched + "** " + Bench.fixed(rps.get(bestUnbatched), 1) + " req/s: "
                    + Bench.fixed(rps.get(best) / rps.get(bestUnbatched), 2) + "x; p95 " + Bench.ms(p95s.get(best))
                    + " vs " + Bench.ms(p95s.get(bestUnbatched)) + " ms.");
        }
    }
}
