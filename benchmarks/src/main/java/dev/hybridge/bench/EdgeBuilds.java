package dev.hybridge.bench;

import dev.hybridge.e2e.EdgeLaunch;
import dev.hybridge.e2e.ProgramProcess;
import dev.hybridge.e2e.RawHttp;
import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.OipCodec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Two or more builds of edge-agent side by side: the server's share of an infer call, each build
 * in its own process, rounds interleaved, so that a change to the serving path can be judged on
 * this shared machine (where absolute figures move by 30% from one run to the next).
 *
 * <p>Each jar is started with {@link EdgeLaunch#OPTIONS} (the launch scripts' JVM options; from
 * the fat jar, without their class-data archive) on {@code classifier} with batching off, and
 * called by one sequential caller over a bare keep-alive socket ({@link RawHttp}) with one second
 * of 8 kHz audio, as binary tensor data and as JSON. The first jar is the reference for the ratios.
 *
 * <pre>
 * git worktree add /tmp/before &lt;commit&gt;; (cd /tmp/before &amp;&amp; ./mvnw -q -pl edge-agent -am package -DskipTests)
 * java -Dbench.jars=/tmp/before/edge-agent/target/edge-agent.jar,edge-agent/target/edge-agent.jar \
 *      -cp benchmarks/target/benchmarks.jar dev.hybridge.bench.EdgeBuilds
 * </pre>
 *
 * <p>Settings ({@code -D}): {@code bench.jars} (comma-separated; default: edge-agent/target/edge-agent.jar
 * alone), {@code bench.rounds} (5; long: 9), {@code bench.calls} per build, encoding and round (2000; long:
 * 5000), {@code bench.warmupSeconds} per build and encoding (8; long: 20), {@code bench.defaultJvm=true}
 * (start the jars on the JVM's default options instead).
 */
public final class EdgeBuilds {

    private static final String MODEL = "classifier";

    private EdgeBuilds() {
    }

    private record Build(String name, ProgramProcess process, RawHttp connection, byte[] binaryPost, byte[] jsonPost) {
        byte[] post(boolean binary) {
            return binary ? binaryPost : jsonPost;
        }
    }

    public static void main(String[] args) throws Exception {
        Bench bench = new Bench("EdgeBuilds", EdgeBuilds.class, args);
        int rounds = Bench.intSetting("rounds", 5, 9);
        int calls = Bench.intSetting("calls", 2000, 5000);
        int warmupSeconds = Bench.intSetting("warmupSeconds", 8, 20);
        List<String> jvmOptions = Boolean.getBoolean("bench.defaultJvm") ? List.of() : EdgeLaunch.OPTIONS;
        List<Path> jars = Arrays.stream(System.getProperty("bench.jars",
                        ProgramProcess.jar("edge-agent").toString()).split(","))
                .map(String::trim).filter(s -> !s.isEmpty()).map(Path::of).toList();
        for (Path jar : jars) {
            if (!Files.isRegularFile(jar)) {
                throw new IllegalArgumentException("bench.jars: no such file " + jar);
            }
        }
        Path repository = Bench.unbatchedClassifier();
        InferRequest request = Bench.audioRequest(1);
        OipCodec codec = new OipCodec();

        bench.text("edge-agent builds side by side, each in its own process started with "
                + (jvmOptions.isEmpty() ? "the JVM's default options" : "`" + String.join(" ", jvmOptions) + "`")
                + " on `" + Bench.root().relativize(repository) + "` (classifier, batching off). One sequential"
                + " caller per build on a bare keep-alive socket, one second of 8 kHz audio (FP32 [1, 8000]) as binary"
                + " tensor data and as JSON, each request encoded once. " + warmupSeconds + " s of calls per build and"
                + " encoding first, then " + rounds + " rounds; in each round every build makes " + calls + " calls"
                + " per encoding, the builds' order rotating from round to round. Figures: the median of the round"
                + " p50s; ratio: against the first build.");

        List<ProgramProcess> processes = new ArrayList<>();
        List<Build> builds = new ArrayList<>();
        try {
            for (Path jar : jars) {
                processes.add(ProgramProcess.start("edge-agent", jar, Bench.logDir(), jvmOptions,
                        List.of("--hybridge.serving.model-repository=" + repository)));
            }
            String path = "/v2/models/" + MODEL + "/infer";
            for (int i = 0; i < jars.size(); i++) {
                ProgramProcess process = processes.get(i);
                Duration ready = process.awaitReady(Duration.ofSeconds(120));
                System.out.println(jars.get(i) + " ready in " + ready.toMillis() + " ms");
                builds.add(new Build(jars.get(i).toString(), process, new RawHttp(process.baseUri()),
                        RawHttp.post(process.baseUri(), path, codec.encodeRequest(request, true)),
                        RawHttp.post(process.baseUri(), path, codec.encodeRequest(request, false))));
            }
            for (Build build : builds) {
                for (boolean binary : new boolean[] {true, false}) {
                    long end = System.nanoTime() + warmupSeconds * 1_000_000_000L;
                    while (System.nanoTime() < end) {
                        send(build, binary);
                    }
                }
            }
            // [encoding][build][round]
            long[][][] p50s = new long[2][builds.size()][rounds];
            String[][][] others = new String[2][builds.size()][rounds];
            for (int round = 0; round < rounds; round++) {
                for (int e = 0; e < 2; e++) {
                    boolean binary = e == 0;
                    for (int k = 0; k < builds.size(); k++) {
                        int b = (k + round) % builds.size();
                        Bench.OtherCpu other = Bench.OtherCpu.start();
                        long[] latencies = new long[calls];
                        for (int i = 0; i < calls; i++) {
                            long start = System.nanoTime();
                            send(builds.get(b), binary);
                            latencies[i] = System.nanoTime() - start;
                        }
                        p50s[e][b][round] = Bench.Stats.of(latencies).p50();
                        others[e][b][round] = other.text();
                        System.out.printf("round %d %-6s %s p50 %s ms (other processes' CPU %s)%n", round + 1,
                                binary ? "binary" : "JSON", builds.get(b).name(), Bench.ms(p50s[e][b][round]),
                                others[e][b][round]);
                    }
                }
            }

            List<List<String>> rows = new ArrayList<>();
            for (int e = 0; e < 2; e++) {
                double reference = medianOf(p50s[e][0]);
                for (int b = 0; b < builds.size(); b++) {
                    double median = medianOf(p50s[e][b]);
                    List<String> perRound = Arrays.stream(p50s[e][b]).mapToObj(Bench::ms).toList();
                    rows.add(List.of(e == 0 ? "binary" : "JSON", "`" + builds.get(b).name() + "`", built(builds.get(b)),
                            Bench.ms(median), Bench.fixed(median / reference, 2) + "x", String.join(", ", perRound),
                            String.join(", ", others[e][b])));
                }
            }
            bench.table(List.of("encoding", "jar", "built", "p50 ms (median of rounds)", "ratio to the first",
                    "p50 per round ms", "others' CPU per round"), rows);
            List<String> rss = new ArrayList<>();
            for (Build build : builds) {
                rss.add("`" + build.name() + "` " + Bench.mb(build.process().residentBytes()) + " MB");
            }
            bench.text("Resident memory at the end (fat jar, no class-data archive, so not the launch scripts'"
                    + " figure; see EdgeFootprint): " + String.join("; ", rss) + ".");
        } finally {
            builds.forEach(build -> build.connection().close());
            processes.forEach(ProgramProcess::close);
        }
        bench.write();
    }

    private static void send(Build build, boolean binary) {
        int status = build.connection().send(build.post(binary));
        if (status != 200) {
            throw new IllegalStateException(build.name() + " answered " + status + ": " + build.connection().bodyText());
        }
    }

    private static double medianOf(long[] values) {
        return Bench.median(Arrays.stream(values).asDoubleStream().toArray());
    }

    private static String built(Build build) {
        try {
            return Files.getLastModifiedTime(Path.of(build.name())).toInstant()
                    .truncatedTo(java.time.temporal.ChronoUnit.SECONDS).toString();
        } catch (java.io.IOException e) {
            return "?";
        }
    }
}
