package dev.hybridge.bench;

import dev.hybridge.e2e.EdgeLaunch;
import dev.hybridge.e2e.ProgramProcess;
import dev.hybridge.e2e.RawHttp;
import dev.hybridge.oip.OipCodec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What an edge model costs the device: the edge agent as launched ({@link EdgeLaunch#OPTIONS})
 * serving each of the given edge model repositories, side by side in one run (the starts take
 * turns): RSS when ready and after serving requests, and the latency of one sequential caller.
 *
 * <p>{@code java -Dbench.repositories=first=/tmp/old-edge,shipped=models/demo/repository/edge
 * -cp benchmarks/target/benchmarks.jar dev.hybridge.bench.EdgeModelFootprint} writes
 * {@code benchmarks/results/EdgeModelFootprint.md}. Settings: {@code bench.repositories}
 * (name=folder, comma-separated; each holds {@code bench.model}, default {@code digits-edge},
 * taking FP32 audio [1, 8000]), {@code bench.starts} (3; 5), {@code bench.requests} per start (2000).
 */
public final class EdgeModelFootprint {

    private EdgeModelFootprint() {
    }

    public static void main(String[] args) throws Exception {
        Bench bench = new Bench("EdgeModelFootprint", EdgeModelFootprint.class, args);
        String model = System.getProperty("bench.model", "digits-edge");
        int starts = Bench.intSetting("starts", 3, 5);
        int requests = Bench.intSetting("requests", 2000, 2000);
        Map<String, Path> repositories = new LinkedHashMap<>();
        for (String pair : System.getProperty("bench.repositories",
                "shipped=" + Bench.root().resolve("models/demo/repository/edge")).split(",")) {
            String[] nameAndFolder = pair.split("=", 2);
            Path folder = Bench.root().resolve(nameAndFolder[1]);
            if (!Files.isRegularFile(folder.resolve(model).resolve("model.onnx"))) {
                throw new IllegalArgumentException(folder + " holds no " + model + "/model.onnx");
            }
            repositories.put(nameAndFolder[0], folder);
        }
        OipCodec.Encoded body = new OipCodec().encodeRequest(Bench.audioRequest(3), true);
        Map<String, List<Long>> rssReady = new LinkedHashMap<>();
        Map<String, List<Long>> rssAfter = new LinkedHashMap<>();
        Map<String, List<long[]>> latencies = new LinkedHashMap<>();
        for (int start = 1; start <= starts; start++) {
            for (Map.Entry<String, Path> r : repositories.entrySet()) {
                try (ProgramProcess edge = ProgramProcess.start("edge-agent", Bench.logDir(), EdgeLaunch.OPTIONS,
                        List.of("--hybridge.serving.model-repository=" + r.getValue()))) {
                    edge.awaitReady(Duration.ofSeconds(120));
                    rssReady.computeIfAbsent(r.getKey(), k -> new ArrayList<>()).add(edge.residentBytes());
                    long[] took = new long[requests];
                    try (RawHttp connection = new RawHttp(edge.baseUri())) {
                        byte[] post = RawHttp.post(edge.baseUri(), "/v2/models/" + model + "/infer", body);
                        for (int i = 0; i < requests; i++) {
                            long t0 = System.nanoTime();
                            RawHttp.Response answer = connection.exchange(post);
                            took[i] = System.nanoTime() - t0;
                            if (answer.status() != 200) {
                                throw new IllegalStateException(r.getKey() + " answered " + answer.status() + ": "
                                        + answer.text());
                            }
                        }
                    }
                    rssAfter.computeIfAbsent(r.getKey(), k -> new ArrayList<>()).add(edge.residentBytes());
                    // the first half warms the JIT; the second is measured
                    latencies.computeIfAbsent(r.getKey(), k -> new ArrayList<>())
                            .add(java.util.Arrays.copyOfRange(took, requests / 2, requests));
                    System.out.printf("start %d %-16s RSS ready %s MB, after %d requests %s MB%n", start, r.getKey(),
                            Bench.mb(rssReady.get(r.getKey()).get(start - 1)), requests,
                            Bench.mb(rssAfter.get(r.getKey()).get(start - 1)));
                }
            }
        }
        bench.text("The edge agent as launched (`EdgeLaunch.OPTIONS`) serving only `" + model + "` from each"
                + " repository, " + starts + " starts each, taking turns; " + requests + " binary requests per start"
                + " from one caller on a kept-alive connection (latency: the second half of each start).");
        List<List<String>> rows = new ArrayList<>();
        for (Map.Entry<String, Path> r : repositories.entrySet()) {
            Bench.Stats stats = Bench.Stats.of(Bench.concat(latencies.get(r.getKey())));
            rows.add(List.of(r.getKey(), String.format(java.util.Locale.ROOT, "%,d",
                            Files.size(r.getValue().resolve(model).resolve("model.onnx"))),
                    Bench.mb(median(rssReady.get(r.getKey()))), Bench.mb(median(rssAfter.get(r.getKey()))),
                    Bench.ms(stats.p50()), Bench.ms(stats.p99())));
        }
        bench.table(List.of("edge model", "model.onnx bytes", "RSS at ready MB (median)", "RSS after requests MB (median)",
                "p50 ms", "p99 ms"), rows);
        bench.write();
    }

    private static long median(List<Long> values) {
        List<Long> sorted = values.stream().sorted().toList();
        return sorted.get(sorted.size() / 2);
    }
}
