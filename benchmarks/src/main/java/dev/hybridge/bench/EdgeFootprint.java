package dev.hybridge.bench;

import dev.hybridge.e2e.EdgeLaunch;
import dev.hybridge.e2e.OipClient;
import dev.hybridge.e2e.ProgramProcess;
import dev.hybridge.e2e.RawHttp;
import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.OipCodec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * edge-agent's footprint: time to ready (process start to {@code GET /v2/health/ready} answering
 * 200, several starts, median) and resident memory (VmRSS) after 10,000 infer requests on
 * {@code classifier}, for the program's default JVM and for the JVM option sets in
 * {@link #VARIANTS}, side by side. Targets: under 3 s to ready, under 160 MB RSS.
 *
 * <p>Starts are interleaved: start 1 of every variant, then start 2 of every variant, and so
 * on; the last start of each variant then serves the requests ({@value #CONCURRENCY} concurrent
 * keep-alive connections, JSON bodies, each a full [1, 8000] input). Every process is started by
 * {@link ProgramProcess} with {@code --hybridge.serving.model-repository=<repository>}: by default
 * a copy of {@code models/testdata/repository} holding only {@code classifier} (what an edge
 * serving that model loads; the test repository also holds the cloud benchmark model
 * {@code dense_audio}, about 8 MB more RSS), or the whole test repository with {@code -Dbench.fullRepository=true}
 * (results then go to {@code results/EdgeFootprint-full-repository.md}).
 *
 * <p>Variants marked CDS run the extracted jar layout ({@code java -Djarmode=tools -jar
 * edge-agent.jar extract}), because class data sharing cannot archive classes loaded from the
 * nested jars of the fat jar, with one dynamic archive from a training run ({@link #TRAINING}
 * options plus {@code -XX:ArchiveClassesAtExit}: start, serve requests, stop with SIGTERM).
 * Launch such a variant as {@code java <options> -XX:SharedArchiveFile=edge-agent.jsa -jar
 * <extracted>/edge-agent.jar ...}; {@code ProgramProcess} only launches the fat jar, so here the
 * extracted jar is given as the last JVM options {@code -jar <extracted>/edge-agent.jar}, and the
 * fat-jar arguments that {@code ProgramProcess} adds after it reach the program as non-option
 * arguments, which it ignores.
 *
 * <p>The environment is inherited: run with {@code ORT_DISABLE_TELEMETRY=1} to measure with ONNX
 * Runtime's telemetry off (the report says which; results then go to a file ending in
 * {@code -telemetry-off.md}).
 *
 * <p>Settings ({@code -D}): {@code bench.starts} (3; long: 7), {@code bench.requests} (10000),
 * {@code bench.variants=a,b} to pick variants by name, {@code bench.fullRepository}, {@code bench.long=true}.
 */
public final class EdgeFootprint {

    private static final String MODEL = "classifier";
    private static final int CONCURRENCY = 8;
    private static final long READY_TARGET_MS = 3000;
    private static final long RSS_TARGET_BYTES = 160L * 1024 * 1024;

    // ------------------------------------------------------------------- JVM options, for launch scripts

    /** A small heap with the serial collector: the edge serves a few small models with little garbage. */
    public static final List<String> SMALL_HEAP = List.of(
            "-XX:+UseSerialGC", "-Xms16m", "-Xmx48m", "-XX:MaxMetaspaceSize=96m",
            "-XX:ReservedCodeCacheSize=32m", "-Xss512k", "-XX:MaxDirectMemorySize=32m");

    /** C1 only: faster start, less compiler memory and code; lower peak speed (see the latency columns). */
    public static final List<String> C1_ONLY = List.of("-XX:TieredStopAtLevel=1");

    /**
     * One Netty event loop, unpooled buffers (no pooled arenas to grow), and the JVM giving freed
     * native memory back to the OS every second ({@code TrimNativeHeapInterval}: JDK 17.0.9 and later).
     */
    public static final List<String> LEAN = List.of("-Dreactor.netty.ioWorkerCount=1",
            "-Dio.netty.allocator.type=unpooled", "-XX:TrimNativeHeapInterval=1000");

    /** Spring beans created when first used rather than at start. */
    public static final List<String> LAZY = List.of("-Dspring.main.lazy-initialization=true");

    /** {@link EdgeLaunch#OPTIONS} (what edge-agent is launched with) with both compilers: faster code, more memory. */
    static final List<String> WITH_C2 = EdgeLaunch.OPTIONS.stream().filter(o -> !C1_ONLY.contains(o)).toList();

    /**
     * A JVM option set to compare; {@code cds}: run the extracted layout with the dynamic CDS
     * archive (add {@code -XX:SharedArchiveFile=edge-agent.jsa -jar <extracted>/edge-agent.jar}).
     */
    record Variant(String name, List<String> options, boolean cds) {
    }

    static final List<Variant> VARIANTS = List.of(
            new Variant("default", List.of(), false),
            new Variant("small-heap", SMALL_HEAP, false),
            new Variant("small-heap+C1", concat(SMALL_HEAP, C1_ONLY), false),
            new Variant("small-heap+C1+CDS", concat(SMALL_HEAP, C1_ONLY), true),
            new Variant("small-heap+C1+CDS+lean+lazy", concat(SMALL_HEAP, C1_ONLY, LEAN, LAZY), true),
            new Variant("as-launched", EdgeLaunch.OPTIONS, true),
            // what C1 only buys: the same with the C2 compiler, tiered and alone
            new Variant("as-launched-with-C2", WITH_C2, true),
            new Variant("as-launched-C2-only", concat(WITH_C2, List.of("-XX:-TieredCompilation")), true));

    /** The options the CDS archive is trained with (one archive serves every CDS variant: same class path). */
    static final List<String> TRAINING = concat(SMALL_HEAP, C1_ONLY);

    @SafeVarargs
    static List<String> concat(List<String>... parts) {
        List<String> all = new ArrayList<>();
        for (List<String> part : parts) {
            all.addAll(part);
        }
        return List.copyOf(all);
    }

    private EdgeFootprint() {
    }

    /** What one variant measured. */
    private static final class Measured {
        final List<Long> readyMs = new ArrayList<>();
        final List<Long> rssAtReady = new ArrayList<>();
        final List<String> othersCpu = new ArrayList<>();
        long rssAfter;
        long rssAfterAnon;
        double requestsPerSecond;
        Bench.Stats latency;
    }

    public static void main(String[] args) throws Exception {
        boolean fullRepository = Boolean.getBoolean("bench.fullRepository");
        boolean telemetryOff = "1".equals(System.getenv("ORT_DISABLE_TELEMETRY"));
        Bench bench = new Bench("EdgeFootprint" + (fullRepository ? "-full-repository" : "")
                + (telemetryOff ? "-telemetry-off" : ""), EdgeFootprint.class, args);
        int starts = Bench.intSetting("starts", 3, 7);
        int requests = Bench.intSetting("requests", 10_000, 10_000);
        List<Variant> variants = Bench.chosen("variants", VARIANTS, VARIANTS, Variant::name);
        Path repository = fullRepository ? Bench.testRepository() : classifierOnly();
        List<String> arguments = List.of("--hybridge.serving.model-repository=" + repository);
        InferRequest request = Bench.audioRequest(3);
        OipCodec.Encoded body = new OipCodec().encodeRequest(request, false);

        Path extracted = null;
        Path archive = null;
        if (variants.stream().anyMatch(Variant::cds)) {
            extracted = extract();
            archive = train(extracted, arguments, body);
        }

        Map<String, Measured> measured = new LinkedHashMap<>();
        for (Variant variant : variants) {
            measured.put(variant.name(), new Measured());
        }
        for (int start = 1; start <= starts; start++) {
            for (Variant variant : variants) {
                Measured m = measured.get(variant.name());
                List<String> options = launchOptions(variant, extracted, archive);
                Bench.OtherCpu others = Bench.OtherCpu.start();
                try (ProgramProcess edge = ProgramProcess.start("edge-agent", Bench.logDir(), options, arguments)) {
                    Duration ready = edge.awaitReady(Duration.ofSeconds(180));
                    m.othersCpu.add(others.text());
                    m.readyMs.add(ready.toMillis());
                    m.rssAtReady.add(edge.residentBytes());
                    String line = String.format("start %d %-38s ready %5d ms  RSS %s MB  (other processes' CPU %s)",
                            start, variant.name(), ready.toMillis(), Bench.mb(edge.residentBytes()), others.text());
                    if (start == starts) {
                        load(edge, body, requests, m);
                        m.rssAfter = edge.residentBytes();
                        m.rssAfterAnon = anonymousBytes(edge.pid());
                        line += String.format("  after %d requests: RSS %s MB, %.0f req/s, p50 %s ms", requests,
                                Bench.mb(m.rssAfter), m.requestsPerSecond, Bench.ms(m.latency.p50()));
                    }
                    System.out.println(line);
                }
            }
        }
        report(bench, variants, measured, archive, extracted, repository, starts, requests);
        bench.write();
    }

    /** A repository with only {@code classifier} (copied as it is): what an edge serving that model loads. */
    private static Path classifierOnly() throws IOException {
        Path source = Bench.testRepository().resolve(MODEL);
        Path target = Bench.workDir().resolve("repository-classifier-only").resolve(MODEL);
        Files.createDirectories(target);
        try (var files = Files.list(source)) {
            for (Path file : files.toList()) {
                Files.copy(file, target.resolve(file.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
        }
        return target.getParent();
    }

    private static List<String> launchOptions(Variant variant, Path extracted, Path archive) {
        List<String> options = new ArrayList<>(variant.options());
        if (variant.cds()) {
            options.add("-XX:SharedArchiveFile=" + archive);
            options.add("-Xlog:cds=off");
            options.add("-Xlog:cds+dynamic=off");
            options.add("-jar");
            options.add(extracted.resolve("edge-agent.jar").toString());
        }
        return options;
    }

    /** Extracts the fat jar (again when it is newer than the last extraction). */
    private static Path extract() throws IOException, InterruptedException {
        Path jar = ProgramProcess.jar("edge-agent");
        Path dir = Bench.workDir().resolve("edge-agent-extracted");
        Path marker = dir.resolve("edge-agent.jar");
        if (Files.exists(marker) && Files.getLastModifiedTime(marker).compareTo(Files.getLastModifiedTime(jar)) >= 0) {
            return dir;
        }
        Files.createDirectories(dir);
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Djarmode=tools", "-jar", jar.toString(), "extract", "--destination", dir.toString(), "--force")
                .inheritIO().start();
        if (p.waitFor() != 0) {
            throw new IllegalStateException("extracting " + jar + " failed");
        }
        return dir;
    }

    /**
     * The training run: start with {@link #TRAINING} options plus {@code -XX:ArchiveClassesAtExit},
     * serve requests, stop with SIGTERM: the JVM writes the archive as it exits.
     */
    private static Path train(Path extracted, List<String> arguments, OipCodec.Encoded body) throws Exception {
        Path archive = Bench.workDir().resolve("cds").resolve("edge-agent.jsa");
        Files.createDirectories(archive.getParent());
        Files.deleteIfExists(archive);
        List<String> options = new ArrayList<>(TRAINING);
        options.add("-XX:ArchiveClassesAtExit=" + archive);
        options.add("-Xlog:cds=off");
        options.add("-Xlog:cds+dynamic=off");
        options.add("-jar");
        options.add(extracted.resolve("edge-agent.jar").toString());
        long start = System.nanoTime();
        try (ProgramProcess edge = ProgramProcess.start("edge-agent", Bench.logDir(), options, arguments)) {
            edge.awaitReady(Duration.ofSeconds(180));
            OipClient client = new OipClient(edge.baseUri());
            for (int i = 0; i < 300; i++) {
                check(client.post("/v2/models/" + MODEL + "/infer", body.body(), body.jsonLength()));
            }
            client.get("/v2/models/" + MODEL);
            client.get("/actuator/health/readiness");
        }
        if (!Files.isRegularFile(archive)) {
            throw new IllegalStateException("the training run left no archive " + archive);
        }
        System.out.printf("CDS archive %s (%s MB, training run %d ms)%n", archive, Bench.mb(Files.size(archive)),
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
        return archive;
    }

    private static void check(OipClient.Answer answer) {
        if (answer.status() != 200) {
            throw new IllegalStateException("infer answered " + answer.status() + ": " + answer.text());
        }
    }

    /** Sends the requests from {@value #CONCURRENCY} threads and records throughput and latency. */
    private static void load(ProgramProcess edge, OipCodec.Encoded body, int requests, Measured m) throws Exception {
        byte[] post = RawHttp.post(edge.baseUri(), "/v2/models/" + MODEL + "/infer", body);
        AtomicInteger next = new AtomicInteger();
        long[] latencies = new long[requests];
        Thread[] threads = new Thread[CONCURRENCY];
        RuntimeException[] failure = new RuntimeException[1];
        long start = System.nanoTime();
        for (int t = 0; t < threads.length; t++) {
            threads[t] = new Thread(() -> {
                try (RawHttp connection = new RawHttp(edge.baseUri())) {
                    int i;
                    while ((i = next.getAndIncrement()) < requests) {
                        long t0 = System.nanoTime();
                        int status = connection.send(post);
                        if (status != 200) {
                            throw new IllegalStateException("infer answered " + status + ": " + connection.bodyText());
                        }
                        latencies[i] = System.nanoTime() - t0;
                    }
                } catch (RuntimeException e) {
                    failure[0] = e;
                }
            });
            threads[t].start();
        }
        for (Thread thread : threads) {
            thread.join();
        }
        if (failure[0] != null) {
            throw failure[0];
        }
        m.requestsPerSecond = requests / ((System.nanoTime() - start) / 1e9);
        m.latency = Bench.Stats.of(latencies);
    }

    private static long anonymousBytes(long pid) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
            if (line.startsWith("RssAnon:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        return 0;
    }

    private static void report(Bench bench, List<Variant> variants, Map<String, Measured> measured, Path archive,
                               Path extracted, Path repository, int starts, int requests) throws IOException {
        bench.text("edge-agent with `--hybridge.serving.model-repository=" + Bench.root().relativize(repository) + "`"
                + (repository.equals(Bench.testRepository()) ? " (every test model, including the 2 MB cloud benchmark"
                + " model dense_audio)" : " (only `classifier`, copied as it is from models/testdata/repository;"
                + " `-Dbench.fullRepository=true` loads the whole test repository instead)")
                + "; `classifier` is batched by its own config.yaml (max-queue-delay 5 ms, max-batch-size 8)."
                + " Time to ready: from `ProgramProcess.start` (process spawn) until `GET /v2/health/ready` answers"
                + " 200, polled every 20 ms; " + starts + " starts per variant, interleaved across variants; median."
                + " RSS: VmRSS (`ProgramProcess.residentBytes`) at ready (median over the starts) and right after "
                + requests + " infer requests on `" + MODEL + "` (JSON, FP32 [1, 8000], " + CONCURRENCY
                + " concurrent keep-alive connections of the minimal `RawHttp` client) on the last start."
                + " Targets: ready < " + READY_TARGET_MS + " ms, RSS after the requests < 160 MB. `others' CPU`: CPU"
                + " used by other processes on this shared machine while the variant started (% of one CPU, of "
                + Runtime.getRuntime().availableProcessors() * 100 + "%). ONNX Runtime"
                + " telemetry: " + ("1".equals(System.getenv("ORT_DISABLE_TELEMETRY"))
                ? "off (`ORT_DISABLE_TELEMETRY=1` in the environment)." : "on (ONNX Runtime's default; the environment"
                + " has no `ORT_DISABLE_TELEMETRY=1`)."));
        List<List<String>> rows = new ArrayList<>();
        List<String> meeting = new ArrayList<>();
        for (Variant variant : variants) {
            Measured m = measured.get(variant.name());
            double[] ready = m.readyMs.stream().mapToDouble(Long::doubleValue).toArray();
            double[] rss = m.rssAtReady.stream().mapToDouble(Long::doubleValue).toArray();
            double medianReady = Bench.median(ready);
            boolean readyOk = medianReady < READY_TARGET_MS;
            boolean rssOk = m.rssAfter < RSS_TARGET_BYTES;
            if (readyOk && rssOk) {
                meeting.add(variant.name());
            }
            rows.add(List.of(variant.name(), Bench.fixed(medianReady, 0), m.readyMs.toString(),
                    String.join(", ", m.othersCpu),
                    Bench.mb((long) Bench.median(rss)), Bench.mb(m.rssAfter), Bench.mb(m.rssAfterAnon),
                    Bench.fixed(m.requestsPerSecond, 0), Bench.ms(m.latency.p50()), Bench.ms(m.latency.p99()),
                    (readyOk ? "yes" : "no") + " / " + (rssOk ? "yes" : "no")));
        }
        bench.table(List.of("variant", "ready median ms", "ready per start ms", "others' CPU per start",
                "RSS at ready MB",
                "RSS after requests MB", "of which anonymous MB", "req/s during load", "p50 ms", "p99 ms",
                "targets met (ready / RSS)"), rows);
        bench.text("Variants meeting both targets in this run: " + (meeting.isEmpty() ? "**none**" : "**"
                + String.join(", ", meeting) + "**") + ".");
        List<String> drift = EdgeLaunch.drift();
        bench.text("`as-launched` is what bin/hybridge-local and the Helm chart start edge-agent with"
                + (drift.isEmpty() ? " (checked against both files in this run)." : "; **but they have drifted**: "
                + String.join("; ", drift) + "."));

        bench.heading("JVM options per variant (for the launch scripts)");
        List<List<String>> optionRows = new ArrayList<>();
        for (Variant variant : variants) {
            String options = String.join(" ", variant.options());
            if (variant.cds()) {
                options += " -XX:SharedArchiveFile=edge-agent.jsa -jar <extracted>/edge-agent.jar";
            }
            optionRows.add(List.of(variant.name(), options.isEmpty() ? "(none)" : "`" + options.trim() + "`"));
        }
        bench.table(List.of("variant", "JVM options"), optionRows);
        if (archive != null) {
            bench.text("CDS: the fat jar's nested jars are loaded by Spring Boot's own class loader, which class data"
                    + " sharing cannot archive, so CDS variants run the extracted layout `"
                    + Bench.root().relativize(extracted) + "` (`java -Djarmode=tools -jar edge-agent/target/edge-agent.jar"
                    + " extract --destination <dir>`) with one dynamic archive (" + Bench.mb(Files.size(archive))
                    + " MB) from a training run: `" + String.join(" ", TRAINING) + " -XX:ArchiveClassesAtExit=edge-agent.jsa"
                    + " -jar <extracted>/edge-agent.jar`, ready, 300 infer requests, SIGTERM. The archive must be made"
                    + " again whenever the jar changes (with a stale one the JVM warns, or with -Xlog:cds=off says nothing, and starts without it).");
        }
    }
}
