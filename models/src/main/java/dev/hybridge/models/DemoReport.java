package dev.hybridge.models;

import dev.hybridge.policy.RoutePolicy;
import java.io.IOException;
import java.io.Writer;
import java.math.BigDecimal;
import java.math.MathContext;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Writes the demo models' cards and trade-off table ({@code models/demo/MODEL_CARDS.md}) and the
 * figures the tests hold them to ({@code models/demo/measured.properties}), all measured through
 * ONNX Runtime on the official test split.
 *
 * <pre>./mvnw -q -pl models -am install -DskipTests
 * ./mvnw -q -pl models exec:java -Dexec.mainClass=dev.hybridge.models.DemoReport -Dexec.args="$PWD"</pre>
 */
public final class DemoReport {

    private DemoReport() {
    }

    public static void main(String[] args) throws IOException {
        Path root = args.length > 0 ? Path.of(args[0]) : Path.of("").toAbsolutePath();
        Path demo = root.resolve("models/demo");
        List<Fsdd.Clip> test = Fsdd.testSplit(Fsdd.recordings(root));
        DemoEvaluation.Answers answers = DemoEvaluation.answer(DemoEvaluation.repository(root), test);
        Map<String, String> measured = measure(answers);
        List<SpeakerFolds.Fold> folds = SpeakerFolds.evaluate(SpeakerFolds.folder(root), Fsdd.load(Fsdd.recordings(root)));
        boolean allFolds = folds.size() == SpeakerFolds.SPEAKERS.size();
        Properties properties = new Properties();
        properties.putAll(measured);
        if (allFolds) {
            properties.putAll(measureFolds(root, folds));
        }
        try (Writer out = Files.newBufferedWriter(demo.resolve("measured.properties"))) {
            properties.store(out, "Measured through ONNX Runtime on the FSDD official test split by DemoReport;"
                    + " DemoModelsTest holds the models to these figures");
        }
        String cards = cards(root, answers, measured);
        if (allFolds) {
            cards += speakerFolds(root, folds);
        } else {
            System.err.println("models/demo/loso/ holds " + folds.size() + " of " + SpeakerFolds.SPEAKERS.size()
                    + " folds (train.py --loso makes them): the leave-one-speaker-out section is left out");
        }
        Files.writeString(demo.resolve("MODEL_CARDS.md"), cards);
        System.out.println(Files.readString(demo.resolve("MODEL_CARDS.md")));
    }

    /** The figures a test can hold the models to. */
    public static Map<String, String> measure(DemoEvaluation.Answers a) {
        Map<String, String> m = new TreeMap<>();
        m.put("test.clips", Integer.toString(a.size()));
        m.put("accuracy.cloud", fmt(DemoEvaluation.accuracy(a.cloud(), a.truth())));
        m.put("accuracy.edge", fmt(DemoEvaluation.accuracy(a.edge(), a.truth())));
        m.put("accuracy.head", fmt(DemoEvaluation.accuracy(a.head(), a.truth())));
        m.put("accuracy.edge.most_confident_80", fmt(DemoEvaluation.edgeAccuracyOnMostConfident(a, 0.8)));
        return m;
    }

    private static String cards(Path root, DemoEvaluation.Answers a, Map<String, String> measured) throws IOException {
        Path repository = DemoEvaluation.repository(root);
        JsonNode training = JsonMapper.builder().build().readTree(repository.resolve("training.json").toFile());
        double cloudAccuracy = Double.parseDouble(measured.get("accuracy.cloud"));
        List<DemoEvaluation.TradeOff> sweep = DemoEvaluation.sweep(a);
        DemoEvaluation.TradeOff best = DemoEvaluation.cheapestKeeping(sweep, cloudAccuracy, 0.99);
        StringBuilder md = new StringBuilder();
        md.append("# Demo models: spoken digits\n\n")
                .append("Trained on the Free Spoken Digit Dataset (Z. Jackson et al., CC BY-SA 4.0), five speakers ")
                .append("(george, jackson, lucas, nicolas, yweweler), by `models/demo/train.py`. Training split: ")
                .append("recordings with index 5-49 (2250 clips)")
                .append(synthetic(training).map(clips -> ", and " + clips
                        + ", made with Debian's espeak-ng and flite, each digit at a drawn speaking rate and pitch").orElse(""))
                .append("; every figure below is on the official test split, ")
                .append("index 0-4 (").append(a.size()).append(" clips, the same five speakers), measured through ")
                .append("ONNX Runtime by the project's own model host (`DemoReport`). Each model takes FP32 audio ")
                .append("`[batch, 8000]` (one second at 8 kHz, PCM16 / 32768, zero-padded at the end or cropped) ")
                .append("and computes its log-mel features inside the graph: 256-sample Hann-windowed DFT every ")
                .append("100 samples, 40 mel bands (20 Hz - 4 kHz), log, a floor 50 dB below the clip's loudest point ")
                .append("(so that every recording's silence looks alike), ").append(bandNormalisation(training))
                .append(", per-clip normalisation.\n\n")
                .append("This file is written by `DemoReport`; `DemoModelsTest` checks the models against ")
                .append("`measured.properties`.\n\n");
        card(md, "cloud/digits-cloud", "The cloud model (teacher)",
                cloudArchitecture(training),
                (speedViews(training) ? "inputs `view_speeds [batch, views]` and `view_profiles [batch, views, 40]`, optional (each clip is heard at each of these speeds with the voice profile to remove given for it, as rows of one run, and the probabilities averaged: a request sends as many views as it likes; without them, one view at speed 1 with the training voices' average, from its config.yaml; a device sends the 3 speeds its edge model is surest at for its user, each with the mean of the edge model's `clip_profile` at that speed), "
                        : deviceProfile(training) ? "input `voice_profile [batch, 40]`, optional (the voice profile to remove; "
                        + "a request without it gets the training voices' average, from its config.yaml; a device sends its "
                        + "user's, the mean of the edge model's `clip_profile`), " : "")
                        + "outputs `probs [batch, 10]` (digits 0-9)",
                training.path("parameters").path("cloud").asLong(), repository, measured.get("accuracy.cloud"),
                cloudTraining(training));
        card(md, "edge/digits-edge", "The edge model (distilled student)",
                "Conv 3x3 (16), conv 3x3 (16), max-pool, conv 3x3 (32), max-pool, conv 3x3 (24) -> the embedding "
                        + "(24 x 10 x 19); average-pool 2, then its own head: conv 3x3 (48), conv 3x3 (48), global "
                        + "average pool, linear 48 -> 10, softmax. Every conv with batch-norm and ReLU.",
                (speedViews(training) ? "input `speed [batch, 1]`, optional (how many times as fast the clip is "
                        + "played before the model hears it, by linear interpolation; default 1: as it is), " : "")
                        + "outputs `probs [batch, 10]` and `embedding` FP16 `[batch, 4560]` (the 24 x 10 x 19 feature map "
                        + "before the last pool, flattened, in half precision: 9 KB cross the network instead of "
                        + "8000 samples, 32 KB)" + (deviceProfile(training) ? " and `clip_profile [batch, 40]` (the clip's "
                        + "band profile: each band's mean over the clip of the floored log-mel image, less their mean)" : ""),
                training.path("parameters").path("edge").asLong(), repository, measured.get("accuracy.edge"),
                studentTraining(training) + " Accuracy on its most confident 80%: "
                        + pct(measured.get("accuracy.edge.most_confident_80")) + ".");
        card(md, "cloud/digits-head", "The cloud head (split processing)",
                "Takes the edge model's embedding (cast back to FP32): conv 3x3 (64), conv 3x3 (64), max-pool, conv 3x3 (96), global "
                        + "average pool, dropout 0.3, linear 96 -> 10, softmax.",
                "input `embedding` FP16 `[batch, 4560]`, outputs `probs [batch, 10]`",
                training.path("parameters").path("head").asLong(), repository, measured.get("accuracy.head"),
                "Trained on the frozen edge model's embeddings against the cloud model's soft labels.");
        md.append("## Cascade trade-off\n\n")
                .append("On the official test split (voices the models were trained with). ")
                .append("Escalate when the edge model's confidence (max softmax probability) is below the threshold. ")
                .append("*Cascade*: the cloud model answers the escalated clips; *split with early exit*: the cloud ")
                .append("head answers them from the edge embedding (the audio never leaves the device). Cloud-only ")
                .append("accuracy: ").append(pct(cloudAccuracy)).append(".\n\n")
                .append("| threshold | escalated | cascade accuracy | split + early exit accuracy |\n")
                .append("|---:|---:|---:|---:|\n");
        for (DemoEvaluation.TradeOff row : sweep) {
            String threshold = row.threshold() > 1 ? "always" : row.threshold() == 0 ? "never" : fmt(row.threshold());
            md.append("| ").append(threshold).append(" | ").append(pct(row.escalated())).append(" | ")
                    .append(pct(row.cascadeAccuracy())).append(" | ").append(pct(row.splitAccuracy())).append(" |\n");
        }
        md.append("\n");
        if (best != null) {
            md.append(best.threshold() == 0 ? "**Never escalating**" : "**Threshold " + fmt(best.threshold()) + "**")
                    .append(" keeps at least 99% of cloud-only accuracy (")
                    .append(pct(best.cascadeAccuracy())).append(" against ").append(pct(cloudAccuracy))
                    .append(") with the fewest escalations: ").append(pct(best.escalated())).append(" of requests go to ")
                    .append("the cloud.\n");
        }
        md.append("\nThe test split holds ").append(a.size()).append(" clips, so one clip is ")
                .append(pct(1.0 / a.size())).append(".\n");
        return md.toString();
    }

    /**
     * The leave-one-speaker-out figures a test can hold the fold models to: each fold's accuracies,
     * and the shipped routes as the policy engine decides them (escalated share, accuracy).
     */
    public static Map<String, String> measureFolds(Path root, List<SpeakerFolds.Fold> folds) {
        Map<String, String> m = new TreeMap<>();
        for (SpeakerFolds.Fold f : folds) {
            DemoEvaluation.Answers a = f.answers();
            String key = "loso." + f.speaker() + ".";
            m.put(key + "accuracy.cloud", fmt(DemoEvaluation.accuracy(a.cloud(), a.truth())));
            m.put(key + "accuracy.edge", fmt(DemoEvaluation.accuracy(a.edge(), a.truth())));
            m.put(key + "accuracy.head", fmt(DemoEvaluation.accuracy(a.head(), a.truth())));
            if (a.cloudWithProfile() != null) {
                m.put(key + "accuracy.cloud.device_profile", fmt(DemoEvaluation.accuracy(a.cloudWithProfile(), a.truth())));
            }
            if (a.cloudWithViews() != null) {
                m.put(key + "accuracy.cloud.device_views", fmt(DemoEvaluation.accuracy(a.cloudWithViews(), a.truth())));
            }
            SpeakerFolds.Routed cascade = SpeakerFolds.byPolicyEngine(a, root.resolve("config/policies/digits.yaml"), DemoEvaluation.STREAM_SEED);
            SpeakerFolds.Routed split = SpeakerFolds.byPolicyEngine(a, root.resolve("config/policies/digits-split.yaml"), DemoEvaluation.STREAM_SEED);
            m.put(key + "digits.escalated", fmt(cascade.escalated()));
            m.put(key + "digits.accuracy", fmt(cascade.cascade()));
            m.put(key + "digits-split.escalated", fmt(split.escalated()));
            m.put(key + "digits-split.accuracy", fmt(split.split()));
        }
        return m;
    }

    /** The cloud model's network as a training record's recipe built it ({@code train.py --cloud}, {@code --teachers}). */
    static String cloudArchitecture(JsonNode training) {
        JsonNode recipe = training.path("recipe");
        boolean wide = "wide".equals(recipe.path("cloud").asText());
        int[] w = wide ? new int[] {24, 48, 96, 128} : new int[] {16, 32, 64, 96};
        String convs = "CNN over the log-mel image: 7 conv 3x3 + batch-norm + ReLU layers (%d, %d, %d, %d, %d, %d, %d channels) "
                .formatted(w[0], w[0], w[1], w[1], w[2], w[2], w[3]) + "with 3 max-pools";
        String end = switch (recipe.path("cloud").asText("standard")) {
            case "bands" -> ", the last map (%d x 5 mel-band rows x 9 frames) averaged over time only, so that the ".formatted(w[3])
                    + "classifier sees which bands its features lie in, dropout 0.3, linear %d -> 10".formatted(w[3] * 5);
            case "order" -> ", the last map averaged over its bands, a GRU (64) over its frames, dropout 0.3, linear 64 -> 10";
            default -> ", global average pool, dropout 0.3, linear %d -> 10".formatted(w[3]);
        };
        int teachers = recipe.path("teachers").asInt(1);
        int extra = recipe.path("extra_teachers").asInt(0);
        return convs + end + ", softmax" + (teachers + extra > 1
                ? ". The graph holds %d such networks, each trained from its own seed, and averages their probabilities"
                        .formatted(teachers + extra)
                        + (extra > 0 ? " (the edge model and the head learn from the first %d; the other %d were trained after them)"
                                .formatted(teachers, extra) : "") + "."
                : ".");
    }

    /** Each fold's accuracy of these answers, then their mean: {@code  george 93.8%, ...; **mean 97.0%**}. */
    private static void perFold(StringBuilder md, List<SpeakerFolds.Fold> folds,
                                java.util.function.Function<DemoEvaluation.Answers, int[]> answers) {
        for (SpeakerFolds.Fold fold : folds) {
            md.append(" ").append(fold.speaker()).append(" ")
                    .append(pct(DemoEvaluation.accuracy(answers.apply(fold.answers()), fold.answers().truth())))
                    .append(fold == folds.get(folds.size() - 1) ? "" : ",");
        }
        md.append("; **mean ").append(pct(SpeakerFolds.mean(folds, f -> DemoEvaluation.accuracy(
                answers.apply(f.answers()), f.answers().truth())))).append("**");
    }

    /** Whether the exported graphs take speed views ({@code train.py --speed-views}). */
    static boolean speedViews(JsonNode training) {
        return training.path("recipe").path("speed_views").asBoolean(false);
    }

    /** Whether the exported graphs carry the device's voice profile ({@code train.py --device-profile}). */
    static boolean deviceProfile(JsonNode training) {
        return training.path("recipe").path("device_profile").asBoolean(false);
    }

    /** How the cloud model was trained, as a training record's recipe says: its augmentations named from their settings. */
    static String cloudTraining(JsonNode training) {
        JsonNode recipe = training.path("recipe");
        List<String> voices = new ArrayList<>();
        if (recipe.path("speed-perturbation").asBoolean(true)) {
            voices.add("speed perturbation +-%s%%, which moves pitch and formants together"
                    .formatted(percent(recipe.path("speed_range").asDouble(0.08))));
        }
        double stretch = recipe.path("stretch").asDouble(0);
        if (stretch > 0) {
            voices.add("tempo perturbation, the log-mel image's time axis stretched or squeezed by up to %sx (log-uniform), "
                    .formatted(plain(1 + stretch)) + "pitch and formants untouched");
        }
        double warp = recipe.path("warp").asDouble(0);
        if (warp > 0) {
            voices.add("frequency warping of the image by 1 +- " + plain(warp));
        }
        if (recipe.path("spec-augment").asBoolean(true)) {
            voices.add("SpecAugment-style masking of one band of up to 6 mel bands and two stretches of up to 8 frames");
        }
        List<String> recordings = new ArrayList<>(List.of("time shift", "gain 0.3-1.5", "light noise"));
        if (recipe.path("eq").asDouble(0) > 0) {
            recordings.add("a share %s heard through a random microphone response".formatted(plain(recipe.path("eq").asDouble())));
        }
        if (recipe.path("reverb").asDouble(0) > 0) {
            recordings.add("a share %s heard in a synthetic room".formatted(plain(recipe.path("reverb").asDouble())));
        }
        double mixup = recipe.path("mixup").asDouble(0);
        return "Cross-entropy with label smoothing 0.05, AdamW, one-cycle learning rate, augmentation "
                + (voices.isEmpty() ? "" : "for other voices (" + String.join("; ", voices) + ") and ")
                + "for other recordings (" + String.join(", ", recordings) + ")"
                + (mixup > 0 ? ", mixup (Beta(%s, %s))".formatted(plain(mixup), plain(mixup)) : "") + ".";
    }

    /** How the edge model was distilled, as a training record's recipe says. */
    static String studentTraining(JsonNode training) {
        double stretch = training.path("recipe").path("student_stretch").asDouble(0);
        return "Distilled from the cloud model's soft labels (KL at temperature 3, weight 0.8, plus 0.2 "
                + "cross-entropy) on audio shifted, scaled and with light noise"
                + (stretch > 0 ? ", its log-mel image stretched or squeezed in time by up to %sx (the cloud model labels "
                        .formatted(plain(1 + stretch)) + "its own image of the same audio, stretched alike)" : "")
                + "; not speed-perturbed or masked: those cost the small student accuracy on unseen speakers.";
    }

    private static String percent(double fraction) {
        return plain(fraction * 100);
    }

    /** A setting as written: 1.6, 8, 0.5. */
    private static String plain(double value) {
        return BigDecimal.valueOf(value).round(new MathContext(6)).stripTrailingZeros().toPlainString();
    }

    /** How a training record's recipe took the voice's average spectral envelope out of the log-mel image. */
    static String bandNormalisation(JsonNode training) {
        String clip = "each band's mean over the clip removed (the voice's and the microphone's average spectral envelope)";
        JsonNode recipe = training.path("recipe");
        if (!recipe.path("voice-normalisation").asBoolean(false)) {
            return clip;
        }
        String voice = "each band less a fixed profile, the training voices' average band means (the voice's and the "
                + "microphone's average spectral envelope; in training each voice's own was removed, so that the "
                + "%s learn%s the words without the voices' envelopes, and the clip keeps its word's own spectrum)";
        if ("clip".equals(recipe.path("student_profile").asText())) {
            return "in the cloud model, " + voice.formatted("teacher", "s") + "; in the edge model (whose features the "
                    + "head reads), " + clip;
        }
        return voice.formatted("models", "");
    }

    /** The synthetic clips a training record's recipe added to the recordings, as {@code train.py} words them. */
    private static java.util.Optional<String> synthetic(JsonNode training) {
        JsonNode clips = training.path("recipe").path("synthetic");
        return clips.isTextual() ? java.util.Optional.of(clips.asText()) : java.util.Optional.empty();
    }

    /** Share of requests the routes are held to escalate at most. */
    static final double SHARE = 0.15;

    /** The leave-one-speaker-out section: each fold, its mean, the signals compared, the shipped routes as decided. */
    static String speakerFolds(Path root, List<SpeakerFolds.Fold> folds) throws IOException {
        JsonNode recipe = JsonMapper.builder().build().readTree(
                SpeakerFolds.folder(root).resolve(folds.get(0).speaker()).resolve("training.json").toFile());
        // every signal's cascade accuracy at the share, the learned one fitted on the other folds each time
        Map<String, double[]> cascade = new java.util.LinkedHashMap<>();
        Map<String, double[]> split = new java.util.LinkedHashMap<>();
        String learnedName = null;
        for (int f = 0; f < folds.size(); f++) {
            SpeakerFolds.Fold fold = folds.get(f);
            List<DemoEvaluation.Answers> others = folds.stream().filter(o -> o != fold).map(SpeakerFolds.Fold::answers).toList();
            SpeakerFolds.Signal learned = SpeakerFolds.reliability(SpeakerFolds.fitReliability(others));
            for (SpeakerFolds.Signal signal : List.of(SpeakerFolds.CONFIDENCE, SpeakerFolds.MARGIN, SpeakerFolds.ENTROPY,
                    learned)) {
                String name = signal == learned ? "learned reliability (logistic, fitted on the other folds)" : signal.name();
                SpeakerFolds.Routed r = SpeakerFolds.atShare(fold.answers(), signal, SHARE);
                cascade.computeIfAbsent(name, k -> new double[folds.size()])[f] = r.cascade();
                split.computeIfAbsent(name, k -> new double[folds.size()])[f] = r.split();
            }
        }
        double[] cloud = folds.stream().mapToDouble(f -> DemoEvaluation.accuracy(f.answers().cloud(), f.answers().truth()))
                .toArray();
        StringBuilder md = new StringBuilder("\n## Leave-one-speaker-out: people the models never heard\n\n")
                .append("The same recipe trained five times, each time on four speakers' 2,000 recordings")
                .append(synthetic(recipe).map(clips -> " and " + clips + ", none of them a test voice").orElse(""))
                .append(", and measured ")
                .append("through ONNX Runtime on all 500 recordings of the fifth (`train.py --loso` writes the folds to ")
                .append("`models/demo/loso/`, then `DemoReport`). Recipe: ").append(recipe.path("recipe").toString())
                .append(", ").append(recipe.path("epochs").asInt()).append(" epochs.\n\n")
                .append("| held out | cloud | edge | split head | cascade at ").append(pct(SHARE)).append(" escalated (max probability)")
                .append(" | cascade at ").append(pct(SHARE)).append(" (best signal) | `digits.yaml` as decided: escalated, accuracy")
                .append(" | `digits-split.yaml` as decided: escalated, accuracy |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
        String best = cascade.entrySet().stream().max(java.util.Comparator.comparingDouble(e ->
                java.util.Arrays.stream(e.getValue()).average().orElse(0))).orElseThrow().getKey();
        double[] shippedShare = new double[folds.size()];
        double[] shippedAccuracy = new double[folds.size()];
        double[] shippedCloud = new double[folds.size()];
        double[] splitShare = new double[folds.size()];
        double[] splitAccuracy = new double[folds.size()];
        for (int f = 0; f < folds.size(); f++) {
            SpeakerFolds.Fold fold = folds.get(f);
            SpeakerFolds.Routed shipped = SpeakerFolds.byPolicyEngine(fold.answers(),
                    root.resolve("config/policies/digits.yaml"), 7);
            SpeakerFolds.Routed splitRoute = SpeakerFolds.byPolicyEngine(fold.answers(),
                    root.resolve("config/policies/digits-split.yaml"), 7);
            shippedShare[f] = shipped.escalated();
            shippedAccuracy[f] = shipped.cascade();
            shippedCloud[f] = shipped.cloudOnly();
            splitShare[f] = splitRoute.escalated();
            splitAccuracy[f] = splitRoute.split();
            md.append("| ").append(fold.speaker()).append(" | ").append(pct(cloud[f])).append(" | ")
                    .append(pct(DemoEvaluation.accuracy(fold.answers().edge(), fold.answers().truth()))).append(" | ")
                    .append(pct(DemoEvaluation.accuracy(fold.answers().head(), fold.answers().truth()))).append(" | ")
                    .append(ofCloud(cascade.get(SpeakerFolds.CONFIDENCE.name())[f], cloud[f])).append(" | ")
                    .append(ofCloud(cascade.get(best)[f], cloud[f])).append(" | ")
                    .append(pct(shipped.escalated())).append(", ").append(ofCloud(shipped.cascade(), shipped.cloudOnly())).append(" | ")
                    .append(pct(splitRoute.escalated())).append(", ").append(pct(splitRoute.split())).append(" |\n");
        }
        double meanCloud = java.util.Arrays.stream(cloud).average().orElse(0);
        md.append("| **mean** | **").append(pct(meanCloud)).append("** | **")
                .append(pct(SpeakerFolds.mean(folds, f -> DemoEvaluation.accuracy(f.answers().edge(), f.answers().truth()))))
                .append("** | **").append(pct(SpeakerFolds.mean(folds, f -> DemoEvaluation.accuracy(f.answers().head(),
                        f.answers().truth())))).append("** | **")
                .append(ofCloud(mean(cascade.get(SpeakerFolds.CONFIDENCE.name())), meanCloud)).append("** | **")
                .append(ofCloud(mean(cascade.get(best)), meanCloud)).append("** | **").append(pct(mean(shippedShare)))
                .append(", ").append(ofCloud(mean(shippedAccuracy), mean(shippedCloud))).append("** | **").append(pct(mean(splitShare)))
                .append(", ").append(pct(mean(splitAccuracy))).append("** |\n\n");
        if (folds.stream().allMatch(f -> f.answers().cloudWithProfile() != null)) {
            md.append("**The cloud model with the device's voice profile.** Its graph removes a voice profile from the ")
                    .append("log-mel image: by default the training voices' average, or the one given as its `voice_profile` ")
                    .append("input. A device can learn its user's: the mean of the edge model's `clip_profile` output over ")
                    .append("the clips it has heard (no labels needed). Each speaker's 500 clips as one device's stream in a ")
                    .append("fixed shuffled order, each clip sent with the mean up to and including it:");
            perFold(md, folds, DemoEvaluation.Answers::cloudWithProfile);
            md.append(" against ").append(pct(meanCloud)).append(" with the default.\n\n");
        }
        if (folds.stream().allMatch(f -> f.answers().cloudWithViews() != null)) {
            RoutePolicy.Views views = DemoEvaluation.DIGITS_PROFILE.views();
            md.append("**The cloud model with the device's speed views** (what the shipped `digits` route sends). After ")
                    .append("each answer the device hears the clip again at ").append(views.speeds().length)
                    .append(" speeds (").append(java.util.Arrays.toString(views.speeds()).replaceAll("[\\[\\]]", ""))
                    .append(" times as fast) in one call of the edge model, and keeps per speed the mean of the edge ")
                    .append("model's confidence and of its `clip_profile`; an escalated clip is heard by the cloud model at the ")
                    .append(views.pick()).append(" speeds the edge model has been surest at so far, each with its profile, ")
                    .append("and their probabilities averaged (a clip's own views teach the clips after it; the first clip ")
                    .append("of a stream gets speed 1 with the plain profile). ")
                    .append("The same streams as above:");
            perFold(md, folds, DemoEvaluation.Answers::cloudWithViews);
            md.append(".\n\n");
        }
        md.append("Each accuracy in a cascade column is followed by its share of the fold's cloud-only accuracy. ")
                .append("Signals compared at ").append(pct(SHARE)).append(" escalated (the clips each signal is least ")
                .append("sure of go to the cloud; mean over the folds, cascade and split with early exit):\n\n")
                .append("| signal | cascade | of cloud-only | split + early exit |\n|---|---:|---:|---:|\n");
        for (String name : cascade.keySet()) {
            md.append("| ").append(name.equals(best) ? "**" + name + "**" : name).append(" | ")
                    .append(pct(mean(cascade.get(name)))).append(" | ").append(pct(mean(cascade.get(name)) / meanCloud))
                    .append(" | ").append(pct(mean(split.get(name)))).append(" |\n");
        }
        md.append("\nThe routes as decided: each fold's 500 clips as one stream in a fixed shuffled order, every clip ")
                .append("decided by the real policy engine on the shipped route file (a fresh engine per fold, as on a new ")
                .append("device: a calibrated threshold starts from its `value` and follows the new voice).\n");
        return md.toString();
    }

    private static double mean(double[] values) {
        return java.util.Arrays.stream(values).average().orElse(Double.NaN);
    }

    private static String ofCloud(double accuracy, double cloud) {
        return pct(accuracy) + " (" + pct(accuracy / cloud) + ")";
    }

    private static void card(StringBuilder md, String folder, String title, String architecture, String io,
                             long parameters, Path repository, String accuracy, String training) throws IOException {
        Path model = repository.resolve(folder).resolve("model.onnx");
        md.append("## ").append(title).append(": `").append(folder).append("`\n\n")
                .append("- Architecture: ").append(architecture).append('\n')
                .append("- Interface: ").append(io).append('\n')
                .append("- Parameters: ").append(String.format(Locale.ROOT, "%,d", parameters)).append('\n')
                .append("- File size: ").append(String.format(Locale.ROOT, "%,d", Files.size(model))).append(" bytes\n")
                .append("- Training: ").append(training).append('\n')
                .append("- Test accuracy (ONNX Runtime): **").append(pct(accuracy)).append("**\n\n");
    }

    private static String fmt(double value) {
        return String.format(Locale.ROOT, "%.4f", value);
    }

    private static String pct(String fraction) {
        return pct(Double.parseDouble(fraction));
    }

    private static String pct(double fraction) {
        return String.format(Locale.ROOT, "%.1f%%", fraction * 100);
    }
}
