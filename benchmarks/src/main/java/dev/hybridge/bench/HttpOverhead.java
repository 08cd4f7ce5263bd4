package dev.hybridge.bench;

import dev.hybridge.e2e.EdgeLaunch;
import dev.hybridge.e2e.OipClient;
import dev.hybridge.e2e.ProgramProcess;
import dev.hybridge.e2e.RawHttp;
import dev.hybridge.oip.ClassifierParameters;
import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.InferResponse;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.serving.model.HostSettings;
import dev.hybridge.serving.model.ModelHost;
import dev.hybridge.serving.model.OnnxModel;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * What HTTP adds: edge-agent's {@code infer} over HTTP (JSON and the binary tensor extension)
 * against the same model called in-process, in the same run, rounds interleaved.
 *
 * <p>Model {@code classifier}, one second of 8 kHz audio (FP32 [1, 8000]), sequential calls,
 * one caller. In-process calls use a {@link ModelHost} built with edge-agent's settings
 * (intra-op 1, inter-op 1, batching default off, run-queue 2 threads), so both sides run the
 * same queue and session code; a raw {@link OnnxModel#infer} (no queue, no validation) is shown
 * as well. HTTP calls use {@link OipClient#infer}, which encodes the request on every call (that
 * client-side encoding is part of the HTTP figures; the response is received, not decoded). Two
 * more HTTP modes send the binary and the JSON request, each encoded once, over a bare keep-alive
 * socket ({@link RawHttp}): what the server side of HTTP costs without the client's encoding and
 * java.net.http's own overhead.
 *
 * <p>Three scenarios, each with its own edge-agent process started with {@code
 * --hybridge.serving.model-repository=...}:
 * <ol>
 *   <li>{@code unbatched}: a copy of {@code classifier} whose {@code config.yaml} has batching off:
 *       what HTTP itself costs, edge-agent on the JVM's default options.</li>
 *   <li>{@code unbatched, edge-agent JVM as launched}: the same, edge-agent started with
 *       {@link EdgeLaunch#OPTIONS}, the small-footprint options bin/hybridge-local and the Helm
 *       chart use (C1 only: less peak speed).</li>
 *   <li>{@code as shipped}: {@code models/testdata/repository} as it is. Its {@code classifier/config.yaml}
 *       turns batching on with {@code max-queue-delay: 5ms}, overriding edge-agent's default, so a lone
 *       request waits the whole delay for company on both sides.</li>
 * </ol>
 *
 * <p>Settings ({@code -D}): {@code bench.rounds} (5), {@code bench.calls} sequential calls per mode per
 * round in the unbatched scenario (3000; long: 10000), {@code bench.batchedCalls} in the as-shipped one
 * (300; long: 2000), {@code bench.warmupSeconds} of traffic per HTTP mode before measuring (6; long: 20;
 * in-process modes 2 s), {@code bench.long=true}.
 */
public final class HttpOverhead {

    private static final String MODEL = "classifier";
    /** The mode the target is read on: binary tensor data, the server's share (see the summary). */
    private static final String TARGET_MODE = "HTTP binary, bare socket client";

    private HttpOverhead() {
    }

    /** One way of calling the model, timed call by call. */
    private record Mode(String name, Runnable call) {
    }

    private record Result(String mode, List<long[]> rounds, List<String> othersCpu) {
        long[] all() {
            return Bench.concat(rounds);
        }

        double medianOfRoundP50s() {
            double[] p50s = new double[rounds.size()];
            for (int i = 0; i < p50s.length; i++) {
                p50s[i] = Bench.Stats.of(rounds.get(i)).p50();
            }
            return Bench.median(p50s);
        }
    }

    public static void main(String[] args) throws Exception {
        Bench bench = new Bench("HttpOverhead", HttpOverhead.class, args);
        int rounds = Bench.intSetting("rounds", 5, 5);
        int calls = Bench.intSetting("calls", 3000, 10000);
        int batchedCalls = Bench.intSetting("batchedCalls", 300, 2000);
        int warmupSeconds = Bench.intSetting("warmupSeconds", 6, 20);
        InferRequest request = Bench.audioRequest(1);

        bench.text("Model `" + MODEL + "`, input FP32 [1, 8000] (one second of 8 kHz audio), one caller, sequential"
                + " calls. " + rounds + " rounds per scenario; in each round every mode makes its calls in turn (the"
                + " order rotates from round to round), after a warm-up of " + warmupSeconds + " s of calls per HTTP mode"
                + " (2 s per in-process mode). Latency is measured by the caller around each call. `others' CPU`:"
                + " CPU used by other processes on this shared machine during each round (% of one CPU)."
                + " In-process = a `ModelHost` in this JVM with edge-agent's settings (intra-op 1, inter-op 1,"
                + " batching off by default, run-queue 2 threads) on the same model folder; HTTP = edge-agent"
                + " started by `ProgramProcess` (JVM options per scenario, below) called through `OipClient.infer`"
                + " (encodes the request each call; the response is received but not decoded), and, as a third HTTP"
                + " mode, the binary request encoded once and sent on a bare keep-alive socket (`RawHttp`): the"
                + " server's share of the cost without java.net.http's.");

        Path unbatchedRepository = Bench.unbatchedClassifier();
        Map<String, Result> unbatched = scenario(bench, "unbatched, default JVM", unbatchedRepository, List.of(), request, rounds,
                calls, warmupSeconds, true);
        Map<String, Result> launched = scenario(bench, "unbatched, edge-agent JVM as launched", unbatchedRepository,
                EdgeLaunch.OPTIONS, request, rounds, calls, warmupSeconds, false);
        Map<String, Result> shipped = scenario(bench, "as shipped", Bench.testRepository(), List.of(), request, rounds,
                batchedCalls, warmupSeconds, false);

        bench.heading("Summary: what HTTP adds at p50 (target: under 0.5 ms)");
        bench.text("The target is read on the rows marked **target**, one per unbatched scenario (edge-agent's"
                + " default; the as-shipped rows show what the test repository's batching config adds): the audio sent"
                + " as binary tensor data, which is how"
                + " OIP clients send a tensor unless told otherwise (tritonclient's and KServe's"
                + " `InferInput.set_data_from_numpy(..., binary_data=True)`), and the server's share of HTTP: a minimal"
                + " client on a kept-alive connection, so that the difference is what the serving program and the"
                + " loopback add. The other rows are for reading it: JSON (the same numbers as text, 2.8 times the"
                + " bytes) and the same calls through java.net.http with the request encoded on every call, whose"
                + " own cost is the client's.");
        List<List<String>> rows = new ArrayList<>();
        List<String> verdicts = new ArrayList<>();
        // Both unbatched scenarios run the same in-process host; the verdict takes the faster of their two
        // in-process p50s, so a scenario whose in-process calls happened to run slow cannot flatter its HTTP figure.
        long fastestInProcess = Math.min(inProcessP50(unbatched), inProcessP50(launched));
        verdicts.add(summaryRows(rows, "unbatched, default JVM", unbatched, fastestInProcess));
        verdicts.add(summaryRows(rows, "unbatched, JVM as launched", launched, fastestInProcess));
        // a lone request to a batched model waits for company: for reading, not for the target
        summaryRows(rows, "as shipped (5 ms batching)", shipped, -1);
        bench.table(List.of("scenario", "HTTP mode", "in-process p50 / p99 ms", "HTTP p50 / p99 ms",
                "p50 difference ms", "p50 ratio", "under 0.5 ms"), rows);
        bench.text("Target (one second of 8 kHz audio, unbatched, HTTP adds under 0.5 ms at p50), each target row's"
                + " HTTP p50 against the faster in-process p50 of the two unbatched scenarios ("
                + Bench.ms(fastestInProcess) + " ms): " + String.join("; ", verdicts) + ".");

        List<String> drift = EdgeLaunch.drift();
        bench.text("\"JVM as launched\": the options bin/hybridge-local and the Helm chart start edge-agent with"
                + " (`EdgeLaunch.OPTIONS`: small serial heap, C1 only, one event loop)"
                + (drift.isEmpty() ? ", checked against both files in this run." : "; **but they have drifted**: "
                + String.join("; ", drift) + "."));

        clientCodecCosts(bench, request);
        bench.write();
    }

    private static long inProcessP50(Map<String, Result> results) {
        return Bench.Stats.of(results.get("in-process ModelHost.infer").all()).p50();
    }

    /**
     * Adds the scenario's rows, each against the scenario's own in-process p50; returns the verdict of its
     * target row against {@code verdictBaseline} (ns), or null when the scenario has none (baseline -1).
     */
    private static String summaryRows(List<List<String>> rows, String scenario, Map<String, Result> results,
                                      long verdictBaseline) {
        boolean targetScenario = verdictBaseline >= 0;
        Bench.Stats local = Bench.Stats.of(results.get("in-process ModelHost.infer").all());
        long inProcess = local.p50();
        String verdict = null;
        for (String http : List.of(TARGET_MODE, "HTTP JSON, bare socket client", "HTTP binary", "HTTP JSON")) {
            Bench.Stats remote = Bench.Stats.of(results.get(http).all());
            long p50 = remote.p50();
            long diff = p50 - inProcess;
            boolean met = diff < 500_000;
            boolean target = targetScenario && http.equals(TARGET_MODE);
            rows.add(List.of(scenario, target ? "**target**: " + http : http,
                    Bench.ms(inProcess) + " / " + Bench.ms(local.p99()),
                    Bench.ms(p50) + " / " + Bench.ms(remote.p99()), Bench.ms(diff),
                    Bench.fixed((double) p50 / inProcess, 2) + "x", met ? "yes" : "no"));
            if (target) {
                long added = p50 - verdictBaseline;
                verdict = scenario + " **" + (added < 500_000 ? "met" : "not met") + "** (" + Bench.ms(added) + " ms)";
            }
        }
        return verdict;
    }

    private static Map<String, Result> scenario(Bench bench, String scenario, Path repository, List<String> jvmOptions,
                                                InferRequest request, int rounds, int calls, int warmupSeconds,
                                                boolean withRaw)
            throws Exception {
        System.out.println("scenario " + scenario + ": starting edge-agent and an in-process host on " + repository);
        HostSettings settings = new HostSettings(repository, HostSettings.ExecutionProvider.CPU, 0, 1, 1,
                new HostSettings.BatchSettings(false, 16, Duration.ofMillis(2), 256), 2, 256);
        try (ModelHost host = new ModelHost(settings, new SimpleMeterRegistry());
             ProgramProcess edge = ProgramProcess.start("edge-agent", Bench.logDir(), jvmOptions,
                     List.of("--hybridge.serving.model-repository=" + repository))) {
            host.loadAll();
            if (!host.failures().isEmpty()) {
                throw new IllegalStateException("in-process host failed to load: " + host.failures());
            }
            Duration ready = edge.awaitReady(Duration.ofSeconds(120));
            System.out.println("edge-agent ready in " + ready.toMillis() + " ms (pid " + edge.pid() + ")");
            OipClient client = new OipClient(edge.baseUri());
            ModelHost.ServedModel served = host.require(MODEL, null);
            boolean batched = served.batched();
            checkSameAnswer(client, host, request);

            List<Mode> modes = new ArrayList<>();
            modes.add(new Mode("in-process ModelHost.infer", () -> host.infer(MODEL, null, request).join()));
            if (withRaw) {
                modes.add(new Mode("in-process OnnxModel.infer (raw)", () -> served.model().infer(request)));
            }
            modes.add(new Mode("HTTP JSON", () -> ok(client.infer(MODEL, request, false))));
            modes.add(new Mode("HTTP binary", () -> ok(client.infer(MODEL, request, true))));
            // The same binary request, encoded once, on a bare keep-alive socket: the server's share alone.
            // One connection per calling thread (the warm-up calls from several threads).
            List<RawHttp> connections = java.util.Collections.synchronizedList(new ArrayList<>());
            ThreadLocal<RawHttp> rawConnection = ThreadLocal.withInitial(() -> {
                RawHttp connection = new RawHttp(edge.baseUri());
                connections.add(connection);
                return connection;
            });
            byte[] rawPost = RawHttp.post(edge.baseUri(), "/v2/models/" + MODEL + "/infer",
                    new OipCodec().encodeRequest(request, true));
            modes.add(new Mode("HTTP binary, bare socket client", () -> send(rawConnection.get(), rawPost)));
            // The JSON request, encoded once, the same way: the server's share of a JSON call.
            byte[] rawJsonPost = RawHttp.post(edge.baseUri(), "/v2/models/" + MODEL + "/infer",
                    new OipCodec().encodeRequest(request, false));
            modes.add(new Mode("HTTP JSON, bare socket client", () -> send(rawConnection.get(), rawJsonPost)));

            // Warm-up by time: the server needs many seconds of traffic before its JIT settles. Concurrent
            // when the model batches (a lone call waits out the delay), then a few sequential calls.
            for (Mode mode : modes) {
                int seconds = mode.name().startsWith("HTTP") ? warmupSeconds : 2;
                warm(mode, seconds, batched ? 8 : 1);
                time(mode, Math.min(200, calls));
            }
            Map<String, Result> results = new LinkedHashMap<>();
            for (Mode mode : modes) {
                results.put(mode.name(), new Result(mode.name(), new ArrayList<>(), new ArrayList<>()));
            }
            for (int round = 0; round < rounds; round++) {
                for (int i = 0; i < modes.size(); i++) {
                    Mode mode = modes.get((i + round) % modes.size());
                    Bench.OtherCpu others = Bench.OtherCpu.start();
                    long[] latencies = time(mode, calls);
                    results.get(mode.name()).rounds().add(latencies);
                    results.get(mode.name()).othersCpu().add(others.text());
                    System.out.printf("  round %d %-34s p50 %s ms  (other processes' CPU %s)%n", round + 1, mode.name(),
                            Bench.ms(Bench.Stats.of(latencies).p50()), others.text());
                }
            }

            bench.heading("Scenario: " + scenario);
            bench.text("Repository `" + Bench.root().relativize(repository) + "`; classifier "
                    + (batched ? "**batched** (its config.yaml: batching on, max-queue-delay 5ms, max-batch-size 8)"
                    : "unbatched (run on the shared run-queue executor)") + ". edge-agent JVM options: "
                    + (jvmOptions.isEmpty() ? "none (the JVM's defaults)" : "`" + String.join(" ", jvmOptions) + "`")
                    + "; ready in " + ready.toMillis() + " ms. " + rounds + " rounds x " + calls + " calls per mode.");
            List<List<String>> rows = new ArrayList<>();
            long inProcessP50 = Bench.Stats.of(results.get("in-process ModelHost.infer").all()).p50();
            for (Result result : results.values()) {
                Bench.Stats s = Bench.Stats.of(result.all());
                rows.add(List.of(result.mode(), Integer.toString(s.count()), Bench.ms(s.p50()), Bench.ms(s.p99()),
                        Bench.ms(s.mean()), Bench.ms(result.medianOfRoundP50s()),
                        Bench.ms(s.p50() - inProcessP50), Bench.fixed((double) s.p50() / inProcessP50, 2) + "x",
                        String.join(", ", result.othersCpu())));
            }
            bench.table(List.of("mode", "calls", "p50 ms", "p99 ms", "mean ms", "median of round p50s ms",
                    "p50 - in-process p50 ms", "p50 / in-process p50", "others' CPU per round"), rows);
            connections.forEach(RawHttp::close);
            return results;
        }
    }

    private static void ok(OipClient.Answer answer) {
        if (answer.status() != 200) {
            throw new IllegalStateException("infer answered " + answer.status() + ": " + answer.text());
        }
    }

    /** The HTTP answer must be the in-process one: same label, same probabilities. */
    private static void checkSameAnswer(OipClient client, ModelHost host, InferRequest request) {
        InferResponse local = host.infer(MODEL, null, request).join();
        for (boolean binary : new boolean[] {false, true}) {
            InferResponse remote = client.inferOk(MODEL, request, binary);
            float[] a = (float[]) local.output("probs").data();
            float[] b = (float[]) remote.output("probs").data();
            for (int i = 0; i < a.length; i++) {
                if (Math.abs(a[i] - b[i]) > 1e-6f) {
                    throw new IllegalStateException("HTTP and in-process answers differ at probs[" + i + "]: "
                            + b[i] + " vs " + a[i]);
                }
            }
            if (!String.valueOf(local.parameters().get(ClassifierParameters.LABEL))
                    .equals(String.valueOf(remote.parameters().get(ClassifierParameters.LABEL)))) {
                throw new IllegalStateException("labels differ: " + remote.parameters() + " vs " + local.parameters());
            }
        }
    }

    private static void send(RawHttp connection, byte[] post) {
        int status = connection.send(post);
        if (status != 200) {
            throw new IllegalStateException("infer answered " + status + ": " + connection.bodyText());
        }
    }

    private static long[] time(Mode mode, int calls) {
        long[] latencies = new long[calls];
        for (int i = 0; i < calls; i++) {
            long start = System.nanoTime();
            mode.call().run();
            latencies[i] = System.nanoTime() - start;
        }
        return latencies;
    }

    private static void warm(Mode mode, int seconds, int threads) throws Exception {
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                futures.add(pool.submit(() -> {
                    while (System.nanoTime() < end) {
                        mode.call().run();
                    }
                }));
            }
            for (Future<?> f : futures) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /** What the caller's side of the codec costs per call (included in the HTTP figures above). */
    private static void clientCodecCosts(Bench bench, InferRequest request) {
        OipCodec codec = new OipCodec();
        InferResponse response = new InferResponse(MODEL, "3", null, Map.of(), List.of(request.inputs().get(0)));
        byte[] responseJson = codec.encodeResponse(response, null).body();
        List<List<String>> rows = new ArrayList<>();
        rows.add(codecRow("encodeRequest, JSON (" + codec.encodeRequest(request, false).body().length + " bytes)",
                () -> codec.encodeRequest(request, false)));
        rows.add(codecRow("encodeRequest, binary (" + codec.encodeRequest(request, true).body().length + " bytes)",
                () -> codec.encodeRequest(request, true)));
        OipCodec.Encoded json = codec.encodeRequest(request, false);
        OipCodec.Encoded binary = codec.encodeRequest(request, true);
        rows.add(codecRow("decodeRequest, JSON (server side)", () -> codec.decodeRequest(json.body(), json.jsonLength())));
        rows.add(codecRow("decodeRequest, binary (server side)",
                () -> codec.decodeRequest(binary.body(), binary.jsonLength())));
        rows.add(codecRow("decodeResponse, JSON 8000 floats (for scale; not in the figures)",
                () -> codec.decodeResponse(responseJson, -1)));
        bench.heading("Codec costs in this JVM (single-shot p50, for reading the figures above)");
        bench.text("The HTTP figures include one `encodeRequest` on the caller and one `decodeRequest` plus one"
                + " `encodeResponse` (three small outputs) on the server. See `CodecBenchmark` (JMH) for"
                + " careful figures.");
        bench.table(List.of("operation", "p50 us", "p99 us"), rows);
    }

    private static List<String> codecRow(String name, Runnable op) {
        for (int i = 0; i < 3000; i++) {
            op.run();
        }
        long[] t = new long[3000];
        for (int i = 0; i < t.length; i++) {
            long start = System.nanoTime();
            op.run();
            t[i] = System.nanoTime() - start;
        }
        Bench.Stats s = Bench.Stats.of(t);
        return List.of(name, Bench.fixed(s.p50() / 1e3, 1), Bench.fixed(s.p99() / 1e3, 1));
    }
}
