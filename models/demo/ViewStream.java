import ai.onnxruntime.*;
import java.nio.*;
import java.nio.file.*;
import java.util.*;

/**
 * The speed views as an edge agent would run them, through the graphs' own inputs (models/demo/README.md, "Tried and
 * measured after"). Prepare a copy of the folds, then run it (about 70 s on 2 cores; N: the edge model's speeds run on
 * one clip in N, 1 by default):
 * <pre>
 * cp -r models/demo/loso /tmp/views
 * for v in george jackson lucas nicolas yweweler; do
 *   python3 models/demo/train.py --speed-input /tmp/views/$v/edge/digits-edge/model.onnx
 *   python3 models/demo/train.py --speed-input /tmp/views/$v/cloud/digits-cloud/model.onnx
 *   python3 models/demo/train.py --view-inputs /tmp/views/$v/cloud/digits-cloud/model.onnx
 * done
 * java -Xss4m -cp CLASSPATH models/demo/ViewStream.java /tmp/views ../shared/datasets/fsdd/recordings [N]
 * </pre>
 * CLASSPATH holds ONNX Runtime (as for SpeedViews.java). Each voice's clips are one device's stream (shuffled with seed
 * 7); a clip (one in N) goes through the edge model at every speed (its speed input, one call of 8 rows), adding to a
 * running mean confidence and clip profile per speed; every clip is answered by the cloud model (view_speeds,
 * view_profiles) at the three speeds surest so far, with their running profiles.
 */
public class ViewStream {
    static final float[] SPEEDS = {0.88f, 0.91f, 0.94f, 0.97f, 1.0f, 1.03f, 1.06f, 1.09f};

    public static void main(String[] args) throws Exception {
        Path folds = Path.of(args[0]), recordings = Path.of(args[1]);
        int every = args.length > 2 ? Integer.parseInt(args[2]) : 1;  // the edge model's speeds run on one clip in this many
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        double sum = 0;
        StringBuilder line = new StringBuilder();
        for (String voice : new String[] {"george", "jackson", "lucas", "nicolas", "yweweler"}) {
            List<Path> clips = new ArrayList<>();
            try (var s = Files.list(recordings)) {
                s.filter(p -> p.getFileName().toString().contains("_" + voice + "_")).sorted().forEach(clips::add);
            }
            List<Integer> order = new ArrayList<>();
            for (int i = 0; i < clips.size(); i++) order.add(i);
            Collections.shuffle(order, new Random(7));
            int K = SPEEDS.length;
            double[] conf = new double[K];
            double[][] prof = new double[K][40];
            int right = 0, seen = 0, count = 0;
            try (OrtSession edge = env.createSession(folds.resolve(voice + "/edge/digits-edge/model.onnx").toString(), new OrtSession.SessionOptions());
                 OrtSession cloud = env.createSession(folds.resolve(voice + "/cloud/digits-cloud/model.onnx").toString(), new OrtSession.SessionOptions())) {
                for (int i : order) {
                    float[] audio = read(clips.get(i));
                    int truth = clips.get(i).getFileName().toString().charAt(0) - '0';
                    if (count++ % every == 0) {
                        seen++;
                        float[] batch = new float[K * 8000];
                        for (int v = 0; v < K; v++) System.arraycopy(audio, 0, batch, v * 8000, 8000);
                        try (OnnxTensor a = OnnxTensor.createTensor(env, FloatBuffer.wrap(batch), new long[] {K, 8000});
                             OnnxTensor s = OnnxTensor.createTensor(env, FloatBuffer.wrap(SPEEDS.clone()), new long[] {K, 1});
                             OrtSession.Result r = edge.run(Map.of("audio", a, "speed", s), Set.of("probs", "clip_profile"))) {
                            float[][] probs = (float[][]) r.get("probs").get().getValue();
                            float[][] profiles = (float[][]) r.get("clip_profile").get().getValue();
                            for (int v = 0; v < K; v++) {
                                conf[v] += probs[v][argmax(probs[v])];
                                for (int k = 0; k < 40; k++) prof[v][k] += profiles[v][k];
                            }
                        }
                    }
                    Integer[] ranked = new Integer[K];
                    for (int v = 0; v < K; v++) ranked[v] = v;
                    Arrays.sort(ranked, (x, y) -> Double.compare(conf[y], conf[x]));
                    float[] speeds = new float[3], profiles = new float[3 * 40];
                    for (int t = 0; t < 3; t++) {
                        speeds[t] = SPEEDS[ranked[t]];
                        for (int k = 0; k < 40; k++) profiles[t * 40 + k] = (float) (prof[ranked[t]][k] / seen);
                    }
                    try (OnnxTensor a = OnnxTensor.createTensor(env, FloatBuffer.wrap(audio), new long[] {1, 8000});
                         OnnxTensor s = OnnxTensor.createTensor(env, FloatBuffer.wrap(speeds), new long[] {1, 3});
                         OnnxTensor p = OnnxTensor.createTensor(env, FloatBuffer.wrap(profiles), new long[] {1, 3, 40});
                         OrtSession.Result r = cloud.run(Map.of("audio", a, "view_speeds", s, "view_profiles", p))) {
                        if (argmax(((float[][]) r.get("probs").get().getValue())[0]) == truth) right++;
                    }
                }
            }
            double acc = right / (double) clips.size();
            sum += acc / 5;
            line.append(String.format("%s %.1f ", voice, acc * 100));
        }
        System.out.printf("%s| mean %.2f%n", line, sum * 100);
    }

    static int argmax(float[] p) {
        int b = 0;
        for (int d = 1; d < p.length; d++) if (p[d] > p[b]) b = d;
        return b;
    }

    static float[] read(Path wav) throws Exception {
        byte[] b = Files.readAllBytes(wav);
        ByteBuffer buf = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        int pos = 12;
        while (pos + 8 <= b.length) {
            String id = new String(b, pos, 4);
            int size = buf.getInt(pos + 4);
            if (id.equals("data")) {
                float[] out = new float[8000];
                int n = Math.min(size / 2, 8000);
                for (int i = 0; i < n; i++) out[i] = buf.getShort(pos + 8 + 2 * i) / 32768f;
                return out;
            }
            pos += 8 + size + (size & 1);
        }
        throw new IllegalArgumentException(wav.toString());
    }
}
