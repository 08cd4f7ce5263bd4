package dev.hybridge.models;

import dev.hybridge.oip.Datatype;
import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.InferResponse;
import dev.hybridge.oip.Tensor;
import dev.hybridge.policy.RoutePolicy;
import dev.hybridge.policy.runtime.DeviceProfiles;
import dev.hybridge.policy.runtime.DeviceViews;
import dev.hybridge.serving.model.Confidence;
import dev.hybridge.serving.model.HostSettings;
import dev.hybridge.serving.model.ModelHost;
import dev.hybridge.serving.model.OnnxModel;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Runs the demo models on the official test split through the project's own model host (ONNX
 * Runtime) and works out what a deployment would get: each model's accuracy, how well the edge
 * model's confidence ranks its errors, and the cascade trade-off for a sweep of thresholds.
 */
public final class DemoEvaluation {

    public static final String EDGE = "digits-edge";
    public static final String CLOUD = "digits-cloud";
    public static final String HEAD = "digits-head";
    /** The edge model's output: each clip's band profile. */
    public static final String CLIP_PROFILE = "clip_profile";
    /** The cloud model's input: the device's voice profile, the mean of its clips' profiles. */
    public static final String VOICE_PROFILE = "voice_profile";
    /**
     * The order in which a speaker's clips reach their device, for its voice profile: the same
     * shuffle as the routes as decided ({@code SpeakerFolds.byPolicyEngine}, seed 7) give a fold.
     */
    public static final long STREAM_SEED = 7L;
    /** The device profile's window, as {@code config/policies/digits.yaml} sets it. */
    static final int PROFILE_WINDOW = 1000;
    /** The edge model's input: how many times as fast it hears the clip. */
    public static final String SPEED = "speed";
    /** The cloud model's inputs for the device's views: the speeds, and the profile at each. */
    public static final String VIEW_SPEEDS = "view_speeds";
    public static final String VIEW_PROFILES = "view_profiles";
    /** The device profile as {@code config/policies/digits.yaml} sets it (a test holds them equal). */
    public static final RoutePolicy.DeviceProfile DIGITS_PROFILE = new RoutePolicy.DeviceProfile(CLIP_PROFILE,
            VIEW_PROFILES, PROFILE_WINDOW, new RoutePolicy.Views(SPEED, "probs",
            new double[] {0.88, 0.91, 0.94, 0.97, 1.0, 1.03, 1.06, 1.09}, 3, 1, VIEW_SPEEDS));
    /** 0 never escalates, above 1 always does; between them a grid fine enough to find the knee. */
    public static final double[] THRESHOLDS = {0.0, 0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9,
        0.925, 0.95, 0.975, 0.99, 0.995, 0.999, 1.01};

    /**
     * Per test clip: the truth, each model's answer, and how sure the edge model was (its
     * confidence, the margin between its two most probable digits, the entropy of its probabilities).
     * {@code cloudWithProfile}: the cloud model's answer given its speaker's device's voice profile
     * as it stood after that clip ({@link #deviceProfiles}); null when the models have no such
     * input and output. {@code cloudWithViews}: its answer given the speeds and profiles the device
     * sends with speed views ({@link #deviceViews}); null when the models have no speed and view inputs.
     */
    public record Answers(int[] truth, int[] edge, double[] edgeConfidence, double[] edgeMargin, double[] edgeEntropy,
                          int[] cloud, int[] head, int[] cloudWithProfile, int[] cloudWithViews) {

        public Answers(int[] truth, int[] edge, double[] edgeConfidence, double[] edgeMargin, double[] edgeEntropy,
                       int[] cloud, int[] head, int[] cloudWithProfile) {
            this(truth, edge, edgeConfidence, edgeMargin, edgeEntropy, cloud, head, cloudWithProfile, null);
        }

        public int size() {
            return truth.length;
        }

        /** The cloud model's answers as a device with this profile setting gets them (views, profile, or neither). */
        public int[] cloudAsSent(RoutePolicy.DeviceProfile setting) {
            if (setting != null && setting.views() != null && cloudWithViews != null) {
                return cloudWithViews;
            }
            return setting != null && cloudWithProfile != null ? cloudWithProfile : cloud;
        }
    }

    /** One threshold of the sweep: escalate when the edge confidence is below it. */
    public record TradeOff(double threshold, double escalated, double cascadeAccuracy, double splitAccuracy) {
    }

    private DemoEvaluation() {
    }

    /** The demo repository: {@code models/demo/repository} with {@code edge/} and {@code cloud/} model folders. */
    public static Path repository(Path root) {
        return root.resolve("models/demo/repository");
    }

    public static Answers answer(Path demoRepository, List<Fsdd.Clip> clips) {
        return answer(demoRepository, clips, DIGITS_PROFILE);
    }

    /** @param setting the device profile a device runs ({@code cloudWithViews} follows its views, when it has any) */
    public static Answers answer(Path demoRepository, List<Fsdd.Clip> clips, RoutePolicy.DeviceProfile setting) {
        float[] audio = new float[clips.size() * Fsdd.SAMPLES];
        int[] truth = new int[clips.size()];
        for (int i = 0; i < clips.size(); i++) {
            System.arraycopy(clips.get(i).audio(), 0, audio, i * Fsdd.SAMPLES, Fsdd.SAMPLES);
            truth[i] = clips.get(i).digit();
        }
        Tensor input = new Tensor("audio", Datatype.FP32, new long[] {clips.size(), Fsdd.SAMPLES}, audio);
        try (ModelHost edgeHost = host(demoRepository.resolve("edge"));
             ModelHost cloudHost = host(demoRepository.resolve("cloud"))) {
            InferResponse edge = run(edgeHost, EDGE, input);
            InferResponse cloud = run(cloudHost, CLOUD, input);
            Tensor embedding = edge.output("embedding").withName("embedding");
            InferResponse head = run(cloudHost, HEAD, embedding);
            float[] edgeProbs = (float[]) edge.output("probs").data();
            int[] edgeTop = new int[clips.size()];
            double[] edgeConfidence = new double[clips.size()];
            double[] edgeMargin = new double[clips.size()];
            double[] edgeEntropy = new double[clips.size()];
            for (int i = 0; i < clips.size(); i++) {
                Confidence c = Confidence.of(edgeProbs, i * 10, 10, false);
                edgeTop[i] = c.topIndex();
                edgeConfidence[i] = c.probability();
                edgeMargin[i] = c.margin();
                edgeEntropy[i] = c.entropy();
            }
            int[] cloudWithProfile = null;
            int[] cloudWithViews = null;
            OnnxModel edgeModel = edgeHost.require(EDGE, null).model();
            OnnxModel model = cloudHost.require(CLOUD, null).model();
            boolean viewInputs = model.metadata().input(VIEW_SPEEDS) != null && model.metadata().input(VIEW_PROFILES) != null
                    && edgeModel.metadata().input(SPEED) != null;
            if (edgeModel.metadata().output(CLIP_PROFILE) != null
                    && (model.metadata().input(VOICE_PROFILE) != null || viewInputs)) {
                Tensor clipProfiles = edge.output(CLIP_PROFILE);
                int bands = (int) clipProfiles.shape()[1];
                float[] plain = deviceProfiles(clips, (float[]) clipProfiles.data(), bands);
                if (!viewInputs) {
                    Tensor profiles = new Tensor(VOICE_PROFILE, Datatype.FP32, clipProfiles.shape(), plain);
                    cloudWithProfile = argmax((float[]) model.infer(new InferRequest(List.of(input, profiles)))
                            .output("probs").data());
                } else {
                    // the plain profile: one view, at speed 1
                    float[] ones = new float[clips.size()];
                    java.util.Arrays.fill(ones, 1f);
                    cloudWithProfile = cloudWithViews(model, input, ones, plain, 1, bands);
                    if (setting != null && setting.views() != null) {
                        float[][] sent = deviceViews(clips, edgeModel, input, plain, bands, setting);
                        cloudWithViews = cloudWithViews(model, input, sent[0], sent[1], setting.views().pick(), bands);
                    }
                }
            }
            return new Answers(truth, edgeTop, edgeConfidence, edgeMargin, edgeEntropy,
                    argmax((float[]) cloud.output("probs").data()), argmax((float[]) head.output("probs").data()),
                    cloudWithProfile, cloudWithViews);
        }
    }

    private static int[] cloudWithViews(OnnxModel cloud, Tensor audio, float[] speeds, float[] profiles, int pick,
                                        int bands) {
        long rows = audio.shape()[0];
        return argmax((float[]) cloud.infer(new InferRequest(List.of(audio,
                new Tensor(VIEW_SPEEDS, Datatype.FP32, new long[] {rows, pick}, speeds),
                new Tensor(VIEW_PROFILES, Datatype.FP32, new long[] {rows, pick, bands}, profiles)))).output("probs").data());
    }

    /**
     * What each clip's device sends with speed views, as an edge agent does it ({@link DeviceViews}):
     * each speaker's clips are one device's stream ({@link #STREAM_SEED}); one clip in the setting's
     * {@code every} (the first, then every {@code every}-th) is heard again at every speed after its
     * answer (one clip at a time leaves no run skipped), so a clip's escalation carries the speeds
     * picked from the clips before it, or, until every speed has been heard, speed 1 with the plain profile ({@code plain}: the device profiles as
     * {@link #deviceProfiles} gives them). Returns the speeds ({@code [clips, pick]}) and profiles
     * ({@code [clips, pick, bands]}), rows in the clips' order.
     */
    static float[][] deviceViews(List<Fsdd.Clip> clips, OnnxModel edge, Tensor audio, float[] plain, int bands,
                                 RoutePolicy.DeviceProfile setting) {
        RoutePolicy.Views views = setting.views();
        double[] speeds = views.speeds();
        int n = clips.size();
        float[][] scores = new float[speeds.length][];
        float[][] rows = new float[speeds.length][];
        for (int v = 0; v < speeds.length; v++) {
            float[] speed = new float[n];
            java.util.Arrays.fill(speed, (float) speeds[v]);
            InferResponse heard = edge.infer(new InferRequest(List.of(audio,
                    new Tensor(views.input(), Datatype.FP32, new long[] {n, 1}, speed))));
            scores[v] = (float[]) heard.output(views.scores()).data();
            rows[v] = (float[]) heard.output(setting.from()).data();
        }
        int classes = scores[0].length / n;
        float[] sentSpeeds = new float[n * views.pick()];
        float[] sentProfiles = new float[n * views.pick() * bands];
        for (Map.Entry<String, List<Integer>> speaker : streams(clips).entrySet()) {
            List<Integer> stream = speaker.getValue();
            DeviceProfiles.Running device = DeviceProfiles.inMemory();
            long heard = 0;
            for (int clip : stream) {
                DeviceViews.Picked picked = DeviceViews.picked(device, speaker.getKey(), views);
                if (picked == null) {
                    picked = DeviceViews.Picked.plain(views.pick(),
                            java.util.Arrays.copyOfRange(plain, clip * bands, (clip + 1) * bands));
                }
                System.arraycopy(picked.speeds(), 0, sentSpeeds, clip * views.pick(), views.pick());
                System.arraycopy(picked.profiles(), 0, sentProfiles, clip * views.pick() * bands, views.pick() * bands);
                if (heard++ % views.every() != 0) {
                    continue;
                }
                float[] clipScores = new float[speeds.length * classes];
                float[] clipRows = new float[speeds.length * bands];
                for (int v = 0; v < speeds.length; v++) {
                    System.arraycopy(scores[v], clip * classes, clipScores, v * classes, classes);
                    System.arraycopy(rows[v], clip * bands, clipRows, v * bands, bands);
                }
                DeviceViews.learn(device, speaker.getKey(), setting, clipScores, clipRows);
            }
        }
        return new float[][] {sentSpeeds, sentProfiles};
    }

    /**
     * What each clip's device would send as its voice profile: each speaker's clips are one device's
     * stream, in a fixed shuffled order ({@link #STREAM_SEED}), and a clip's profile is the mean of
     * the edge model's clip profiles over that stream up to and including the clip (the device sees
     * every clip, escalated or not). Rows in the clips' order.
     */
    static float[] deviceProfiles(List<Fsdd.Clip> clips, float[] clipProfiles, int bands) {
        float[] out = new float[clips.size() * bands];
        for (Map.Entry<String, List<Integer>> speaker : streams(clips).entrySet()) {
            List<Integer> stream = speaker.getValue();
            // the running mean as an edge agent keeps it (the shipped digits route's window holds all 500 clips)
            DeviceProfiles.Running device = DeviceProfiles.inMemory();
            for (int clip : stream) {
                float[] row = java.util.Arrays.copyOfRange(clipProfiles, clip * bands, (clip + 1) * bands);
                System.arraycopy(device.heard(speaker.getKey(), row, bands, PROFILE_WINDOW), 0, out, clip * bands, bands);
            }
        }
        return out;
    }

    /** Each speaker's clips (their indexes) as one device's stream, in the fixed shuffled order of {@link #STREAM_SEED}. */
    private static Map<String, List<Integer>> streams(List<Fsdd.Clip> clips) {
        Map<String, List<Integer>> bySpeaker = new java.util.TreeMap<>();
        for (int i = 0; i < clips.size(); i++) {
            bySpeaker.computeIfAbsent(clips.get(i).speaker(), k -> new ArrayList<>()).add(i);
        }
        bySpeaker.values().forEach(stream -> java.util.Collections.shuffle(stream, new java.util.Random(STREAM_SEED)));
        return bySpeaker;
    }

    private static ModelHost host(Path folder) {
        ModelHost host = new ModelHost(HostSettings.defaults(folder), new SimpleMeterRegistry());
        host.loadAll();
        if (!host.failures().isEmpty()) {
            host.close();
            throw new IllegalStateException("demo models failed to load: " + host.failures());
        }
        return host;
    }

    private static InferResponse run(ModelHost host, String model, Tensor input) {
        OnnxModel onnx = host.require(model, null).model();
        return onnx.infer(onnx.withDefaults(new InferRequest(List.of(input))));
    }

    private static int[] argmax(float[] probs) {
        int[] top = new int[probs.length / 10];
        for (int row = 0; row < top.length; row++) {
            int best = 0;
            for (int k = 1; k < 10; k++) {
                if (probs[row * 10 + k] > probs[row * 10 + best]) {
                    best = k;
                }
            }
            top[row] = best;
        }
        return top;
    }

    public static double accuracy(int[] answers, int[] truth) {
        int right = 0;
        for (int i = 0; i < truth.length; i++) {
            right += answers[i] == truth[i] ? 1 : 0;
        }
        return (double) right / truth.length;
    }

    /** The edge model's accuracy on the {@code share} of clips it is most confident about. */
    public static double edgeAccuracyOnMostConfident(Answers a, double share) {
        return SpeakerFolds.edgeAccuracyKeeping(a, SpeakerFolds.CONFIDENCE, 1 - share);
    }

    /** Cascade (cloud answers what the edge is unsure of) and split with early exit (the head answers it). */
    public static List<TradeOff> sweep(Answers a) {
        List<TradeOff> rows = new ArrayList<>();
        for (double threshold : THRESHOLDS) {
            int escalated = 0;
            int cascadeRight = 0;
            int splitRight = 0;
            for (int i = 0; i < a.size(); i++) {
                boolean escalate = a.edgeConfidence()[i] < threshold;
                escalated += escalate ? 1 : 0;
                cascadeRight += (escalate ? a.cloud()[i] : a.edge()[i]) == a.truth()[i] ? 1 : 0;
                splitRight += (escalate ? a.head()[i] : a.edge()[i]) == a.truth()[i] ? 1 : 0;
            }
            rows.add(new TradeOff(threshold, (double) escalated / a.size(), (double) cascadeRight / a.size(),
                    (double) splitRight / a.size()));
        }
        return rows;
    }

    /** The threshold with the fewest escalations whose cascade keeps {@code share} of cloud-only accuracy. */
    public static TradeOff cheapestKeeping(List<TradeOff> sweep, double cloudAccuracy, double share) {
        TradeOff best = null;
        for (TradeOff row : sweep) {
            if (row.cascadeAccuracy() >= share * cloudAccuracy && (best == null || row.escalated() < best.escalated())) {
                best = row;
            }
        }
        return best;
    }
}
