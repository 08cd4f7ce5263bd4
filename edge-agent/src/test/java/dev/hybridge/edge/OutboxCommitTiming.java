package dev.hybridge.edge;

import dev.hybridge.policy.RoutePolicy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;

/**
 * Times {@link Outbox#put} as a request's path waits for it: 2000 entries of a cascade's 32 KB
 * body, committed with {@code synchronous=FULL} in a folder on the disk, one at a time with a
 * pause between them (the time between two kept escalations). Not a test: a benchmark run by hand,
 * its results in {@code benchmarks/results/OutboxCommits.md}.
 *
 * <pre>
 * ./mvnw -q -o test-compile -pl edge-agent
 * ./mvnw -q -o dependency:build-classpath -pl edge-agent -Dmdep.outputFile=/tmp/edge-cp
 * java -cp edge-agent/target/classes:edge-agent/target/test-classes:$(cat /tmp/edge-cp) \
 *   dev.hybridge.edge.OutboxCommitTiming [pause ms, 15] [folder, the working directory]
 * </pre>
 */
public final class OutboxCommitTiming {

    private OutboxCommitTiming() {
    }

    public static void main(String[] args) throws Exception {
        int pauseMillis = args.length > 0 ? Integer.parseInt(args[0]) : 15;
        Path dir = Files.createTempDirectory(Path.of(args.length > 1 ? args[1] : "."), "outbox-timing");
        var defer = new RoutePolicy.Defer(true, 0, Duration.ofHours(24), RoutePolicy.Overflow.DROP_OLDEST);
        byte[] body = new byte[32_395];
        new Random(1).nextBytes(body);
        byte[] answer = new byte[300];
        int calls = 2000;
        int warmup = 200;
        long[] nanos = new long[calls];
        try (Outbox outbox = new Outbox(dir.resolve("outbox.db"), 100_000, 1L << 32, Duration.ofHours(1), true,
                Clock.systemUTC())) {
            for (int i = 0; i < calls; i++) {
                long start = System.nanoTime();
                outbox.put("k" + i, "digits", "r" + i, "low_confidence", "3", 0.5, body, 200, answer, defer, null).get();
                nanos[i] = System.nanoTime() - start;
                Thread.sleep(pauseMillis);
            }
        }
        long[] measured = Arrays.copyOfRange(nanos, warmup, calls);
        Arrays.sort(measured);
        System.out.printf("pause %d ms, %d puts: p50 %.3f, p90 %.3f, p99 %.3f, max %.3f ms%n", pauseMillis,
                measured.length, ms(measured, 0.5), ms(measured, 0.9), ms(measured, 0.99),
                measured[measured.length - 1] / 1e6);
        try (var files = Files.list(dir)) {
            for (Path f : files.toList()) {
                Files.delete(f);
            }
        }
        Files.delete(dir);
    }

    private static double ms(long[] sorted, double quantile) {
        return sorted[(int) (quantile * (sorted.length - 1))] / 1e6;
    }
}
