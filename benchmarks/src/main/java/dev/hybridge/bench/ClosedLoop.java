package dev.hybridge.bench;

import dev.hybridge.e2e.RawHttp;
import java.net.URI;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Closed-loop load: {@code clients} threads, each on its own keep-alive {@link RawHttp}
 * connection, sending the same prepared request again as soon as the previous one answers, for a
 * fixed time. Latency is measured per call around the socket write and read.
 */
final class ClosedLoop {

    /** What one run gave: answered calls (200, or the status measured), the others, the elapsed time, their latencies. */
    record Result(long ok, long errors, double seconds, long[] latencies) {
        double rps() {
            return ok / seconds;
        }
    }

    private ClosedLoop() {
    }

    static Result run(URI base, byte[] post, int clients, double seconds) throws InterruptedException {
        return run(base, post, clients, seconds, 200);
    }

    /**
     * {@link #run(URI, byte[], int, double)} counting and timing the answers of status
     * {@code measured} (a refusal's 503, say); every other answer counts as an error.
     */
    static Result run(URI base, byte[] post, int clients, double seconds, int measured) throws InterruptedException {
        long[][] latencies = new long[clients][];
        int[] counts = new int[clients];
        AtomicLong errors = new AtomicLong();
        CountDownLatch done = new CountDownLatch(clients);
        List<RawHttp> connections = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
            connections.add(new RawHttp(base));
        }
        long start = System.nanoTime();
        long end = start + (long) (seconds * 1e9);
        for (int c = 0; c < clients; c++) {
            int index = c;
            RawHttp connection = connections.get(c);
            Thread thread = new Thread(() -> {
                long[] mine = new long[4096];
                int n = 0;
                try {
                    while (true) {
                        long t0 = System.nanoTime();
                        if (t0 >= end) {
                            break;
                        }
                        int status = connection.send(post);
                        long t1 = System.nanoTime();
                        if (status != measured) {
                            if (errors.incrementAndGet() == 1 && status != 200) {
                                System.err.println("infer answered " + status + ": " + connection.bodyText());
                            }
                            continue;
                        }
                        if (n == mine.length) {
                            mine = Arrays.copyOf(mine, n * 2);
                        }
                        mine[n++] = t1 - t0;
                    }
                } catch (RuntimeException e) {
                    errors.incrementAndGet();
                    System.err.println("client failed: " + e);
                } finally {
                    latencies[index] = mine;
                    counts[index] = n;
                    done.countDown();
                }
            }, "client-" + c);
            thread.setDaemon(true);
            thread.start();
        }
        done.await();
        double elapsed = (System.nanoTime() - start) / 1e9;
        connections.forEach(RawHttp::close);
        List<long[]> parts = new ArrayList<>();
        long total = 0;
        for (int c = 0; c < clients; c++) {
            parts.add(Arrays.copyOf(latencies[c], counts[c]));
            total += counts[c];
        }
        return new Result(total, errors.get(), elapsed, Bench.concat(parts));
    }

    /**
     * One caller's {@code calls} requests in a row on one kept-alive connection: each one's
     * latency in nanoseconds. Any answer but 200 stops the run, naming {@code what}.
     */
    static long[] sequential(URI base, byte[] post, int calls, String what) {
        long[] samples = new long[calls];
        try (RawHttp connection = new RawHttp(base)) {
            for (int i = 0; i < calls; i++) {
                long t0 = System.nanoTime();
                int status = connection.send(post);
                samples[i] = System.nanoTime() - t0;
                if (status != 200) {
                    throw new IllegalStateException(what + " answered " + status + ": " + connection.bodyText());
                }
            }
        }
        return samples;
    }
}
