package dev.hybridge.models;

import dev.hybridge.oip.Datatype;
import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.InferResponse;
import dev.hybridge.oip.Tensor;
import dev.hybridge.policy.runtime.DeviceProfiles;
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
    /** 0 never escalates, above 1 always does; between them a grid fine enough to find the knee. */
    public static final double[] THRESHOLDS = {0.0, 0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9,
        0.925, 0.95, 0.975, 0.99, 0.995, 0.999, 1.01};

    /**
     * Per test clip: the truth, each model's answer, and how sure the edge model was (its
     * confidence, the margin between its two most probable digits, the entropy of its probabilities).
     * {@code cloudWithProfile}: the cloud model's answer given its speaker's device's voice profile
     * as it stood after that clip ({@link #deviceProfiles}); null when the models have no such
     * input and output.
     */
    public record Answers(int[] truth, int[] edge, double[] edgeConfidence, double[] edgeMargin, double[] edgeEntropy,
                          int[] cloud, int[] head, int[] cloudWithProfile) {
        public int size() {
            return truth.length;
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
            if (edgeHost.require(EDGE, null).model().metadata().output(CLIP_PROFILE) != null
                    && cloudHost.require(CLOUD, null).model().metadata().input(VOICE_PROFILE) != null) {
                Tensor clipProfiles = edge.output(CLIP_PROFILE);
                Tensor profiles = new Tensor(VOICE_PROFILE, Datatype.FP32, clipProfiles.shape(),
                        deviceProfiles(clips, (float[]) clipProfiles.data(), (int) clipProfiles.shape()[1]));
                OnnxModel model = cloudHost.require(CLOUD, null).model();
                cloudWithProfile = argmax((float[]) model.infer(new InferRequest(List.of(input, profiles)))
                        .output("probs").data());
            }
            return new Answers(truth, edgeTop, edgeConfidence, edgeMargin, edgeEntropy,
                    argmax((float[]) cloud.output("probs").data()), argmax((float[]) head.output("probs").data()),
                    cloudWithProfile);
        }
    }

    /**
     * What each clip's device would send as its voice profile: each speaker's clips are one device's
     * stream, in a fixed shuffled order ({@link #STREAM_SEED}), and a clip's profile is the mean of
     * the edge model's clip profiles over that stream up to and including the clip (the device sees
     * every clip, escalated or not). Rows in the clips' order.
     */
    static float[] deviceProfiles(List<Fsdd.Clip> clips, float[] clipProfiles, int bands) {
        float[] out = new float[clips.size() * bands];
        Map<String, List<Integer>> bySpeaker = new java.util.TreeMap<>();
        for (int i = 0; i < clips.size(); i++) {
            bySpeaker.computeIfAbsent(clips.get(i).speaker(), k -> new java.util.ArrayList<>()).add(i);
        }
        for (Map.Entry<String, List<Integer>> speaker : bySpeaker.entrySet()) {
            List<Integer> stream = speaker.getValue();
            java.util.Collections.shuffle(stream, new java.util.Random(STREAM_SEED));
            // the running mean as an edge agent keeps it (the shipped digits route's window holds all 500 clips)
            DeviceProfiles.Running device = DeviceProfiles.inMemory();
            for (int clip : stream) {
                float[] row = java.util.Arrays.copyOfRange(clipProfiles, clip * bands, (clip + 1) * bands);
                System.arraycopy(device.heard(speaker.getKey(), row, bands, PROFILE_WINDOW), 0, out, clip * bands, bands);
            }
        }
        return out;
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
