package dev.hybridge.bench;

import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.OipCodec;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;

/**
 * {@link OipCodec#decodeRequest} of one second of 8 kHz audio (FP32 [1, 8000]) sent as JSON
 * against the same request with the binary tensor extension.
 *
 * <p>Run through JMH: {@code java -jar benchmarks/target/benchmarks.jar CodecBenchmark} (any JMH
 * options apply), or through {@link #main}, which runs the same benchmarks with the settings
 * below and writes {@code benchmarks/results/CodecBenchmark.md}: {@code java -cp
 * benchmarks/target/benchmarks.jar dev.hybridge.bench.CodecBenchmark} ({@code -Dbench.long=true}: 3
 * forks, longer iterations).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms512m", "-Xmx512m"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class CodecBenchmark {

    private final OipCodec codec = new OipCodec();
    private byte[] jsonBody;
    private byte[] binaryBody;
    private int binaryJsonLength;

    @Setup
    public void encode() {
        InferRequest request = Bench.audioRequest(1);
        jsonBody = codec.encodeRequest(request, false).body();
        OipCodec.Encoded binary = codec.encodeRequest(request, true);
        binaryBody = binary.body();
        binaryJsonLength = binary.jsonLength();
    }

    @Benchmark
    public InferRequest decodeJson() {
        return codec.decodeRequest(jsonBody, -1);
    }

    @Benchmark
    public InferRequest decodeBinary() {
        return codec.decodeRequest(binaryBody, binaryJsonLength);
    }

    private static String jmhVersion() {
        try (var in = Runner.class.getResourceAsStream("/META-INF/maven/org.openjdk.jmh/jmh-core/pom.properties")) {
            java.util.Properties properties = new java.util.Properties();
            if (in != null) {
                properties.load(in);
            }
            return properties.getProperty("version", "(unknown version)");
        } catch (java.io.IOException e) {
            return "(unknown version)";
        }
    }

    /** Runs both benchmarks and writes the markdown result. */
    public static void main(String[] args) throws Exception {
        Bench bench = new Bench("CodecBenchmark", CodecBenchmark.class, args);
        CodecBenchmark sizes = new CodecBenchmark();
        sizes.encode();
        boolean longer = Bench.longRun();
        Collection<RunResult> results = Bench.jmh(CodecBenchmark.class, false);
        bench.text("JMH " + jmhVersion()
                + ", average time per `decodeRequest` call, " + (longer ? 3 : 1) + " fork(s) with -Xms512m -Xmx512m, "
                + (longer ? 5 : 3) + " x 2 s warm-up, " + (longer ? 10 : 5) + " x 2 s measurement. Request: FP32 [1, 8000]"
                + " (one second of 8 kHz audio), JSON body " + sizes.jsonBody.length + " bytes, binary body "
                + sizes.binaryBody.length + " bytes (JSON part " + sizes.binaryJsonLength + ").");
        List<List<String>> rows = new ArrayList<>();
        double json = Double.NaN;
        double binary = Double.NaN;
        for (RunResult result : results) {
            String name = result.getParams().getBenchmark();
            name = name.substring(name.lastIndexOf('.') + 1);
            double score = result.getPrimaryResult().getScore();
            double error = result.getPrimaryResult().getScoreError();
            if (name.equals("decodeJson")) {
                json = score;
            } else if (name.equals("decodeBinary")) {
                binary = score;
            }
            rows.add(List.of(name, Bench.fixed(score, 2), Double.isNaN(error) ? "n/a" : Bench.fixed(error, 2),
                    result.getPrimaryResult().getScoreUnit()));
        }
        bench.table(List.of("benchmark", "score", "error (99.9%)", "unit"), rows);
        bench.text("JSON / binary: **" + Bench.fixed(json / binary, 1) + "x**.");
        bench.write();
    }
}
