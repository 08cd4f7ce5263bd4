package dev.hybridge.bench;

import dev.hybridge.e2e.ProgramProcess;
import dev.hybridge.e2e.RawHttp;
import dev.hybridge.oip.OipCodec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What a refusal at the gateway's door costs: this build's gateway against another build's
 * (the peer: the gateway before a change to the door), side by side in one run, both with a
 * door of two places ({@code hybridge.gateway.admission.*-limit=2}) in front of one cloud worker,
 * flooded by clients that never back off, each sending one second of audio as JSON (90 KB).
 * Nearly every request is refused, so the gateway's CPU per refusal is the door's cost.
 * Phases alternate between the two gateways after a warm-up of each.
 *
 * <p>{@code java -cp benchmarks/target/benchmarks.jar dev.hybridge.bench.DoorCost <other gateway.jar>}
 * writes {@code benchmarks/results/DoorCost.md}. Settings ({@code -D}): {@code bench.connections}
 * (64), {@code bench.rounds} (4; 8), {@code bench.phaseSeconds} (10; 20).
 */
public final class DoorCost {

    /** A phase: refusals (503), the other answers (2xx here), its time, the gateway's CPU, the refusals' latencies. */
    private record Phase(long refused, long ok, double seconds, long cpuMillis, long[] refusalNanos) {
        double refusedPerSecond() {
            return refused / seconds;
        }

        double cpuPerRefusal() {
            return (double) cpuMillis / Math.max(1, refused);
        }
    }

    private DoorCost() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            throw new IllegalArgumentException("usage: DoorCost <the other build's gateway.jar>");
        }
        Path other = Path.of(args[0]);
        Bench bench = new Bench("DoorCost", DoorCost.class, args);
        int connections = Bench.intSetting("connections", 64, 64);
        int rounds = Bench.intSetting("rounds", 4, 8);
        int seconds = Bench.intSetting("phaseSeconds", 10, 20);
        Path policies = Files.createDirectories(Bench.workDir().resolve("door-cost-policies"));
        Files.writeString(policies.resolve("pass.yaml"),
                "version: 1\nkind: cloud-only\ncloud: {model: dense_audio}\ndeadline: 5s\n");
        try (ProgramProcess worker = ProgramProcess.start("cloud-worker", Bench.logDir(), List.of(),
                List.of("--hybridge.serving.model-repository=" + Bench.testRepository(),
                        "--hybridge.serving.batching.enabled=false"))) {
            worker.awaitReady(Duration.ofSeconds(120));
            List<String> settings = List.of("--hybridge.gateway.policy-folder=" + policies,
                    "--hybridge.gateway.cloud.addresses=" + worker.baseUri(), "--hybridge.gateway.anonymous-tenant=bench",
                    "--hybridge.gateway.admission.initial-limit=2", "--hybridge.gateway.admission.min-limit=2",
                    "--hybridge.gateway.admission.max-limit=2");
            try (ProgramProcess peer = ProgramProcess.start("gateway", other, Bench.logDir(), List.of("-Xmx256m"), settings);
                 ProgramProcess ours = ProgramProcess.start("gateway", Bench.logDir(), List.of("-Xmx256m"), settings)) {
                peer.awaitReady(Duration.ofSeconds(120));
                ours.awaitReady(Duration.ofSeconds(120));
                List<ProgramProcess> gateways = List.of(peer, ours);
                List<String> names = List.of("other build (" + other.getFileName() + ")", "this build");
                OipCodec codec = new OipCodec();
                List<byte[]> posts = new ArrayList<>();
                for (ProgramProcess g : gateways) {
                    posts.add(RawHttp.post(g.baseUri(), "/v2/models/pass/infer", codec.encodeRequest(Bench.audioRequest(3), false),
                            Map.of()));
                    phase(g, posts.get(posts.size() - 1), connections, 15); // warm-up
                }
                List<List<Phase>> phases = List.of(new ArrayList<>(), new ArrayList<>());
                for (int r = 0; r < rounds; r++) {
                    for (int g = 0; g < 2; g++) {
                        Phase p = phase(gateways.get(g), posts.get(g), connections, seconds);
                        phases.get(g).add(p);
                        System.out.printf(Locale.ROOT, "round %d, %s: %.0f refusals/s, %.3f ms CPU per refusal%n", r + 1,
                                names.get(g), p.refusedPerSecond(), p.cpuPerRefusal());
                    }
                }
                bench.text("Both gateways: a door of 2 places in front of one cloud worker (`dense_audio`, no batching),"
                        + " `-Xmx256m`; " + connections + " kept-alive connections that never back off, each sending "
                        + posts.get(0).length + " bytes (one second of audio as JSON). " + rounds + " rounds of "
                        + seconds + " s per gateway, alternating, after 15 s of warm-up each. CPU is the gateway"
                        + " process's (user + system, /proc) over the phase, divided by the refusals answered.");
                List<List<String>> rows = new ArrayList<>();
                for (int g = 0; g < 2; g++) {
                    List<Phase> mine = phases.get(g);
                    Bench.Stats refusals = Bench.Stats.of(mine.stream().flatMapToLong(p -> Arrays.stream(p.refusalNanos())).toArray());
                    rows.add(List.of(names.get(g),
                            String.format(Locale.ROOT, "%.0f", Bench.median(mine.stream().mapToDouble(Phase::refusedPerSecond).toArray())),
                            String.format(Locale.ROOT, "%.3f", Bench.median(mine.stream().mapToDouble(Phase::cpuPerRefusal).toArray())),
                            String.format(Locale.ROOT, "%.0f", Bench.median(mine.stream().mapToDouble(p -> p.ok() / p.seconds()).toArray())),
                            String.format(Locale.ROOT, "%.2f", refusals.p50() / 1e6),
                            String.format(Locale.ROOT, "%.2f", refusals.p99() / 1e6)));
                }
                bench.table(List.of("gateway", "refusals/s (median of rounds)", "ms CPU per refusal (median)",
                        "other answers (2xx)/s (median)", "refusal p50 ms", "refusal p99 ms"), rows);
                double[] cpuRatios = new double[rounds];
                double[] rateRatios = new double[rounds];
                for (int r = 0; r < rounds; r++) {
                    cpuRatios[r] = phases.get(1).get(r).cpuPerRefusal() / phases.get(0).get(r).cpuPerRefusal();
                    rateRatios[r] = phases.get(1).get(r).refusedPerSecond() / phases.get(0).get(r).refusedPerSecond();
                }
                bench.text(String.format(Locale.ROOT, "This build against the other, median of the per-round ratios:"
                        + " **%.2fx** the CPU per refusal, **%.2fx** the refusals per second.", Bench.median(cpuRatios),
                        Bench.median(rateRatios)));
            }
        }
        bench.write();
    }

    private static Phase phase(ProgramProcess gateway, byte[] post, int connections, double seconds) throws Exception {
        long cpuBefore = Bench.cpuMillis(gateway.pid());
        ClosedLoop.Result refusals = ClosedLoop.run(gateway.baseUri(), post, connections, seconds, 503);
        return new Phase(refusals.ok(), refusals.errors(), refusals.seconds(), Bench.cpuMillis(gateway.pid()) - cpuBefore,
                refusals.latencies());
    }
}
