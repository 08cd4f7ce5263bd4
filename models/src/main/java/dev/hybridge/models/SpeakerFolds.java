package dev.hybridge.models;

import dev.hybridge.policy.Decision;
import dev.hybridge.policy.EdgeOutcome;
import dev.hybridge.policy.PolicyEngine;
import dev.hybridge.policy.PolicyLoader;
import dev.hybridge.policy.RequestFacts;
import dev.hybridge.policy.RequestedRoute;
import dev.hybridge.policy.RouteEngine;
import dev.hybridge.policy.RoutePolicy;
import dev.hybridge.policy.SpendLedger;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Leave-one-speaker-out: the recipe trained on four speakers ({@code train.py --loso} writes one
 * repository per held-out speaker under {@code models/demo/loso/<speaker>/}), measured on every
 * recording of the fifth, a voice the models never heard. What a deployment meets: new people.
 *
 * <p>Besides each model's accuracy it measures how well a signal ranks the edge model's errors
 * (escalating a given share of the clips it is least sure of), and what the shipped routes do
 * when the real policy engine decides each clip of the held-out speaker's stream.
 */
public final class SpeakerFolds {

    public static final List<String> SPEAKERS = List.of("george", "jackson", "lucas", "nicolas", "yweweler");

    /** How sure the edge is of a clip: higher is surer. */
    public interface Signal {
        String name();

        double score(DemoEvaluation.Answers a, int clip);
    }

    public static final Signal CONFIDENCE = signal("confidence (max probability)", (a, i) -> a.edgeConfidence()[i]);
    public static final Signal MARGIN = signal("margin (top two probabilities' difference)", (a, i) -> a.edgeMargin()[i]);
    public static final Signal ENTROPY = signal("entropy (negated)", (a, i) -> -a.edgeEntropy()[i]);

    /** One held-out speaker and what the models trained without them answered. */
    public record Fold(String speaker, DemoEvaluation.Answers answers) {
    }

    /**
     * A share escalated and the accuracies it gives; {@code cloudOnly}: the accuracy of the cloud
     * answers the escalated clips got, over every clip (the cloud-only figure to compare with).
     */
    public record Routed(double escalated, double cascade, double split, double cloudOnly) {
    }

    private SpeakerFolds() {
    }

    private static Signal signal(String name, java.util.function.ToDoubleBiFunction<DemoEvaluation.Answers, Integer> f) {
        return new Signal() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public double score(DemoEvaluation.Answers a, int clip) {
                return f.applyAsDouble(a, clip);
            }
        };
    }

    /** {@code models/demo/loso}: one repository per held-out speaker. */
    public static Path folder(Path root) {
        return root.resolve("models/demo/loso");
    }

    /** Runs each fold's models (those present) on every recording of its held-out speaker. */
    public static List<Fold> evaluate(Path loso, List<Fsdd.Clip> all) {
        return evaluate(loso, all, DemoEvaluation.DIGITS_PROFILE);
    }

    /** {@link #evaluate(Path, List)} for a device that runs this profile setting (its views, if any). */
    public static List<Fold> evaluate(Path loso, List<Fsdd.Clip> all, RoutePolicy.DeviceProfile setting) {
        List<Fold> folds = new ArrayList<>();
        for (String speaker : SPEAKERS) {
            Path repository = loso.resolve(speaker);
            if (Files.isDirectory(repository.resolve("edge")) && Files.isDirectory(repository.resolve("cloud"))) {
                List<Fsdd.Clip> theirs = all.stream().filter(c -> c.speaker().equals(speaker)).toList();
                folds.add(new Fold(speaker, DemoEvaluation.answer(repository, theirs, setting)));
            }
        }
        return folds;
    }

    /**
     * Escalates the {@code share} of clips the signal is least sure of (the best any threshold on
     * it can do at that share): the cascade's accuracy (the cloud model answers those) and the
     * split's with early exit (the cloud head answers them).
     */
    public static Routed atShare(DemoEvaluation.Answers a, Signal signal, double share) {
        Integer[] order = new Integer[a.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, Comparator.comparingDouble(i -> signal.score(a, i)));
        int escalate = (int) Math.floor(share * a.size() + 1e-9);
        boolean[] up = new boolean[a.size()];
        for (int k = 0; k < escalate; k++) {
            up[order[k]] = true;
        }
        return routed(a, up);
    }

    /** The edge model's accuracy on the clips it keeps when the {@code share} it is least sure of (by the signal) go up. */
    public static double edgeAccuracyKeeping(DemoEvaluation.Answers a, Signal signal, double share) {
        Integer[] order = new Integer[a.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, Comparator.comparingDouble(i -> -signal.score(a, i)));
        int keep = a.size() - (int) Math.floor(share * a.size() + 1e-9);
        int right = 0;
        for (int k = 0; k < keep; k++) {
            right += a.edge()[order[k]] == a.truth()[order[k]] ? 1 : 0;
        }
        return (double) right / keep;
    }

    private static Routed routed(DemoEvaluation.Answers a, boolean[] escalated) {
        return routed(a, escalated, a.cloud());
    }

    /** @param cloud the cloud model's answers the escalated clips get */
    private static Routed routed(DemoEvaluation.Answers a, boolean[] escalated, int[] cloud) {
        int up = 0;
        int cascade = 0;
        int split = 0;
        for (int i = 0; i < a.size(); i++) {
            up += escalated[i] ? 1 : 0;
            cascade += (escalated[i] ? cloud[i] : a.edge()[i]) == a.truth()[i] ? 1 : 0;
            split += (escalated[i] ? a.head()[i] : a.edge()[i]) == a.truth()[i] ? 1 : 0;
        }
        return new Routed((double) up / a.size(), (double) cascade / a.size(), (double) split / a.size(),
                DemoEvaluation.accuracy(cloud, a.truth()));
    }

    /**
     * The held-out speaker's clips as a stream (a fixed shuffle), each decided by the route as
     * the policy engine runs it: a fresh engine per fold, as on a new device, so that a
     * calibrated threshold starts from its configured value and follows the new voice.
     *
     * @param routeFile the route's YAML file (the shipped {@code config/policies/digits.yaml}, say)
     */
    public static Routed byPolicyEngine(DemoEvaluation.Answers a, Path routeFile, long seed) {
        Path folder;
        try {
            folder = Files.createTempDirectory("hybridge-speaker-folds");
            Files.copy(routeFile, folder.resolve(routeFile.getFileName()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try {
            PolicyEngine engine = new PolicyEngine(Clock.systemUTC(), new PolicyLoader(),
                    SpendLedger.inMemory(Clock.systemUTC()));
            PolicyEngine.Reload reload = engine.reload(folder);
            if (!reload.problems().isEmpty()) {
                throw new IllegalStateException(routeFile + ": " + reload.problems());
            }
            String name = routeFile.getFileName().toString().replace(".yaml", "");
            RouteEngine route = engine.route(name);
            RequestFacts facts = new RequestFacts("evaluation", "device", Map.of(),
                    Map.of("audio", new long[] {1, Fsdd.SAMPLES}), Fsdd.SAMPLES * 4L, RequestedRoute.AUTO, 0);
            Decision before = route.beforeEdge(facts);
            List<Integer> stream = new ArrayList<>();
            for (int i = 0; i < a.size(); i++) {
                stream.add(i);
            }
            java.util.Collections.shuffle(stream, new Random(seed));
            boolean[] escalated = new boolean[a.size()];
            for (int i : stream) {
                EdgeOutcome outcome = new EdgeOutcome(a.edgeConfidence()[i], a.edgeMargin()[i], a.edgeEntropy()[i],
                        Integer.toString(a.edge()[i]));
                escalated[i] = route.afterEdge(facts, before, outcome, 0).action() == Decision.Action.ESCALATE;
            }
            // a route whose device learns a profile (and speeds) escalates with them: the cloud model's answers
            // given what the device had learned at each clip (the stream's order is the same: seed STREAM_SEED)
            return routed(a, escalated, seed == DemoEvaluation.STREAM_SEED
                    ? a.cloudAsSent(route.policy().deviceProfile()) : a.cloud());
        } finally {
            try (var files = Files.list(folder)) {
                for (Path f : files.toList()) {
                    Files.delete(f);
                }
                Files.delete(folder);
            } catch (IOException ignored) {
                // a temporary folder left behind
            }
        }
    }

    /** The mean of a per-fold figure. */
    public static double mean(List<Fold> folds, java.util.function.ToDoubleFunction<Fold> figure) {
        return folds.stream().mapToDouble(figure).average().orElse(Double.NaN);
    }

    /**
     * A logistic model of "the edge model is right" over its confidence, margin and entropy,
     * fitted on other folds' held-out clips (so never on the speaker it is then used for).
     * Returns the weights {@code [bias, confidence, margin, entropy]}; its linear score ranks as
     * its probability does.
     */
    public static double[] fitReliability(List<DemoEvaluation.Answers> folds) {
        List<double[]> x = new ArrayList<>();
        List<Integer> y = new ArrayList<>();
        for (DemoEvaluation.Answers a : folds) {
            for (int i = 0; i < a.size(); i++) {
                x.add(new double[] {1, a.edgeConfidence()[i], a.edgeMargin()[i], a.edgeEntropy()[i]});
                y.add(a.edge()[i] == a.truth()[i] ? 1 : 0);
            }
        }
        double[] w = new double[4];
        // Newton's method on the log-likelihood with a small ridge: four weights, a few thousand rows
        for (int iteration = 0; iteration < 50; iteration++) {
            double[] gradient = new double[4];
            double[][] hessian = new double[4][4];
            for (int r = 0; r < x.size(); r++) {
                double[] row = x.get(r);
                double p = 1 / (1 + Math.exp(-dot(w, row)));
                for (int j = 0; j < 4; j++) {
                    gradient[j] += (y.get(r) - p) * row[j];
                    for (int k = 0; k < 4; k++) {
                        hessian[j][k] += p * (1 - p) * row[j] * row[k];
                    }
                }
            }
            for (int j = 0; j < 4; j++) {
                gradient[j] -= 1e-3 * w[j];
                hessian[j][j] += 1e-3;
            }
            double[] step = solve(hessian, gradient);
            for (int j = 0; j < 4; j++) {
                w[j] += step[j];
            }
        }
        return w;
    }

    /** The linear score of {@link #fitReliability}'s weights. */
    public static Signal reliability(double[] w) {
        return signal(String.format(java.util.Locale.ROOT, "learned: %.3f + %.3f confidence + %.3f margin + %.3f entropy",
                w[0], w[1], w[2], w[3]),
                (a, i) -> w[0] + w[1] * a.edgeConfidence()[i] + w[2] * a.edgeMargin()[i] + w[3] * a.edgeEntropy()[i]);
    }

    private static double dot(double[] a, double[] b) {
        double sum = 0;
        for (int i = 0; i < a.length; i++) {
            sum += a[i] * b[i];
        }
        return sum;
    }

    /** Gaussian elimination with partial pivoting on a small system. */
    private static double[] solve(double[][] m, double[] v) {
        int n = v.length;
        double[][] a = new double[n][];
        double[] b = v.clone();
        for (int i = 0; i < n; i++) {
            a[i] = m[i].clone();
        }
        for (int c = 0; c < n; c++) {
            int pivot = c;
            for (int r = c + 1; r < n; r++) {
                if (Math.abs(a[r][c]) > Math.abs(a[pivot][c])) {
                    pivot = r;
                }
            }
            double[] t = a[c];
            a[c] = a[pivot];
            a[pivot] = t;
            double tb = b[c];
            b[c] = b[pivot];
            b[pivot] = tb;
            for (int r = c + 1; r < n; r++) {
                double f = a[r][c] / a[c][c];
                for (int k = c; k < n; k++) {
                    a[r][k] -= f * a[c][k];
                }
                b[r] -= f * b[c];
            }
        }
        double[] x = new double[n];
        for (int r = n - 1; r >= 0; r--) {
            double sum = b[r];
            for (int k = r + 1; k < n; k++) {
                sum -= a[r][k] * x[k];
            }
            x[r] = sum / a[r][r];
        }
        return x;
    }

    /** Prints the folds' figures: {@code exec:java -Dexec.mainClass=dev.hybridge.models.SpeakerFolds -Dexec.args="$PWD [loso folder]"}. */
    public static void main(String[] args) {
        Path root = args.length > 0 ? Path.of(args[0]) : Path.of("").toAbsolutePath();
        Path loso = args.length > 1 ? Path.of(args[1]) : folder(root);
        // a route file to decide by instead of the shipped digits.yaml (another threshold, views run every N clips...)
        Path routeFile = args.length > 2 ? Path.of(args[2]) : root.resolve("config/policies/digits.yaml");
        RoutePolicy route;
        try {
            List<String> problems = new ArrayList<>();
            route = new PolicyLoader().parseRoute(routeFile, Files.readString(routeFile), problems);
            if (route == null) {
                throw new IllegalArgumentException(routeFile + ": " + problems);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<Fold> folds = evaluate(loso, Fsdd.load(Fsdd.recordings(root)), route.deviceProfile());
        double share = 0.15;
        System.out.printf("%-9s %6s %6s %6s | at %.0f%% escalated, cascade/cloud: %s%n", "held out", "cloud", "edge", "head",
                share * 100, "confidence, margin, entropy, learned (split)");
        for (Fold f : folds) {
            DemoEvaluation.Answers a = f.answers();
            double cloud = DemoEvaluation.accuracy(a.cloud(), a.truth());
            List<DemoEvaluation.Answers> others = folds.stream().filter(o -> o != f).map(Fold::answers).toList();
            Signal learned = reliability(fitReliability(others));
            StringBuilder line = new StringBuilder();
            for (Signal s : List.of(CONFIDENCE, MARGIN, ENTROPY, learned)) {
                Routed r = atShare(a, s, share);
                line.append(String.format(java.util.Locale.ROOT, " %.4f (%.4f)", r.cascade() / cloud, r.split() / cloud));
            }
            for (Signal s : List.of(CONFIDENCE, MARGIN, learned)) {
                double[] scores = new double[a.size()];
                for (int i = 0; i < scores.length; i++) {
                    scores[i] = s.score(a, i);
                }
                Arrays.sort(scores);
                System.out.printf(java.util.Locale.ROOT, "  %s quantiles 10/12/15%%: %.4f %.4f %.4f%n", s.name(),
                        scores[a.size() / 10], scores[a.size() * 12 / 100], scores[a.size() * 15 / 100]);
            }
            Routed shipped = byPolicyEngine(a, routeFile, DemoEvaluation.STREAM_SEED);
            System.out.printf(java.util.Locale.ROOT, "%-9s %6.4f %6.4f %6.4f |%s | shipped route: %.1f%% escalated, %.4f (%.4f of its cloud)%n",
                    f.speaker(), cloud, DemoEvaluation.accuracy(a.edge(), a.truth()),
                    DemoEvaluation.accuracy(a.head(), a.truth()), line, shipped.escalated() * 100,
                    shipped.cascade(), shipped.cascade() / shipped.cloudOnly());
        }
        System.out.printf(java.util.Locale.ROOT, "mean      %6.4f %6.4f %6.4f%n",
                mean(folds, f -> DemoEvaluation.accuracy(f.answers().cloud(), f.answers().truth())),
                mean(folds, f -> DemoEvaluation.accuracy(f.answers().edge(), f.answers().truth())),
                mean(folds, f -> DemoEvaluation.accuracy(f.answers().head(), f.answers().truth())));
        printCloud("cloud with the device's voice profile:", folds, DemoEvaluation.Answers::cloudWithProfile);
        printCloud("cloud with the device's speed views:", folds, DemoEvaluation.Answers::cloudWithViews);
    }

    /** Each fold's accuracy of these cloud answers and their mean, when every fold has them. */
    private static void printCloud(String label, List<Fold> folds,
                                   java.util.function.Function<DemoEvaluation.Answers, int[]> answers) {
        if (folds.stream().anyMatch(f -> answers.apply(f.answers()) == null)) {
            return;
        }
        StringBuilder line = new StringBuilder(label);
        for (Fold f : folds) {
            line.append(String.format(java.util.Locale.ROOT, " %s %.4f", f.speaker(),
                    DemoEvaluation.accuracy(answers.apply(f.answers()), f.answers().truth())));
        }
        System.out.printf(java.util.Locale.ROOT, "%s | mean %.4f%n", line,
                mean(folds, f -> DemoEvaluation.accuracy(answers.apply(f.answers()), f.answers().truth())));
    }
}
