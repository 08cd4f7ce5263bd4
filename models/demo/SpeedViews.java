import ai.onnxruntime.*;
import java.nio.*;
import java.nio.file.*;
import java.util.*;

/**
 * Speed views a device could pick for its user, measured on the leave-one-speaker-out folds (no training):
 * {@code java -cp CLASSPATH models/demo/SpeedViews.java models/demo/loso ../shared/datasets/fsdd/recordings},
 * CLASSPATH holding ONNX Runtime (e.g. the models module's: {@code ./mvnw -q dependency:build-classpath -pl models
 * -Dmdep.outputFile=cp}, then {@code $(cat cp)}). About 1.5 minutes on 2 cores.
 *
 * <p>Each held-out voice's 500 clips are played at several speeds as train.py's speed_view does (linear
 * interpolation to int(8000 / f) samples, cropped or zero-padded), and every view goes through the fold's cloud
 * model with that view's own voice profile (the mean of the edge model's clip_profile over the view). Printed per
 * voice: each view's accuracy and mean confidence (cloud, edge); the plain view; the view picked without labels by
 * the highest mean confidence (cloud's, edge's); the 3, 5 and all views averaged, ranked by the cloud's mean
 * confidence; and as a device would do it, a stream (shuffled with seed 7) where each clip is answered on the
 * view(s) with the highest running mean edge confidence so far, each with its running profile: the first one
 * ("streamed") and the top 3 averaged.
 *
 * <p>With {@code --through-graphs}, the same as an edge agent would run it, through the graphs' own inputs
 * (the edge model's {@code speed}, the cloud model's {@code view_speeds} and {@code view_profiles}: the shipped
 * folds have them, {@code train.py --speed-views FOLDER} gives them to others) (about 45 s; N: the edge model's
 * speeds run on one clip in N, 1 by default):
 * <pre>
 * java -Xss4m -cp CLASSPATH models/demo/SpeedViews.java --through-graphs models/demo/loso ../shared/datasets/fsdd/recordings [N]
 * </pre>
 * Each voice's clips are one device's stream (shuffled with seed 7); a clip (one in N) goes through the edge model at
 * every speed (its speed input, one call of 8 rows), adding to a running mean confidence and clip profile per speed;
 * every clip is answered by the cloud model (view_speeds, view_profiles) at the three speeds surest so far, with
 * their running profiles.
 */
public class SpeedViews {
    static final double[] VIEWS = {0.88, 0.91, 0.94, 0.97, 1.0, 1.03, 1.06, 1.09};

    static final float[] GRAPH_SPEEDS = {0.88f, 0.91f, 0.94f, 0.97f, 1.0f, 1.03f, 1.06f, 1.09f};

    public static void main(String[] args) throws Exception {
        if (args[0].equals("--through-graphs")) {
            throughGraphs(Path.of(args[1]), Path.of(args[2]), args.length > 3 ? Integer.parseInt(args[3]) : 1);
            return;
        }
        Path folds = Path.of(args[0]), recordings = Path.of(args[1]);
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        double sPlain = 0, sCloud = 0, sEdge = 0, sStream = 0, sStreamTop = 0;
        Map<Integer, Double> avg = new TreeMap<>();
        for (String voice : new String[] {"george", "jackson", "lucas", "nicolas", "yweweler"}) {
            List<Path> clips = new ArrayList<>();
            try (var s = Files.list(recordings)) {
                s.filter(p -> p.getFileName().toString().contains("_" + voice + "_")).sorted().forEach(clips::add);
            }
            int n = clips.size();
            float[][] audio = new float[n][];
            int[] truth = new int[n];
            for (int i = 0; i < n; i++) {
                audio[i] = read(clips.get(i));
                truth[i] = clips.get(i).getFileName().toString().charAt(0) - '0';
            }
            var opts = new OrtSession.SessionOptions();
            opts.setIntraOpNumThreads(2);
            try (OrtSession cloud = env.createSession(folds.resolve(voice + "/cloud/digits-cloud/model.onnx").toString(), opts);
                 OrtSession edge = env.createSession(folds.resolve(voice + "/edge/digits-edge/model.onnx").toString(), opts)) {
                StringBuilder line = new StringBuilder(voice);
                float[][][] viewed = new float[VIEWS.length][][];
                float[][][] clipProfiles = new float[VIEWS.length][][];
                double[][] edgeConf = new double[VIEWS.length][n];
                float[][][] cloudAll = new float[VIEWS.length][][];
                double[] cloudConfs = new double[VIEWS.length];
                double plain = 0, bestCloudConf = -1, bestEdgeConf = -1, accByCloud = 0, accByEdge = 0;
                for (int v = 0; v < VIEWS.length; v++) {
                    double f = VIEWS[v];
                    viewed[v] = new float[n][];
                    for (int i = 0; i < n; i++) viewed[v][i] = f == 1.0 ? audio[i] : view(audio[i], f);
                    float[] flat = new float[n * 8000];
                    for (int i = 0; i < n; i++) System.arraycopy(f == 1.0 ? audio[i] : view(audio[i], f), 0, flat, i * 8000, 8000);
                    float[][] edgeProbs, profiles;
                    try (OnnxTensor a = OnnxTensor.createTensor(env, FloatBuffer.wrap(flat), new long[] {n, 8000});
                         OrtSession.Result r = edge.run(Map.of("audio", a), Set.of("probs", "clip_profile"))) {
                        edgeProbs = (float[][]) r.get("probs").get().getValue();
                        profiles = (float[][]) r.get("clip_profile").get().getValue();
                    }
                    clipProfiles[v] = profiles;
                    for (int i = 0; i < n; i++) edgeConf[v][i] = edgeProbs[i][argmax(edgeProbs[i])];
                    float[] mean = new float[40];
                    for (float[] p : profiles) for (int k = 0; k < 40; k++) mean[k] += p[k] / n;
                    float[] prof = new float[n * 40];
                    for (int i = 0; i < n; i++) System.arraycopy(mean, 0, prof, i * 40, 40);
                    float[][] cloudProbs;
                    try (OnnxTensor a = OnnxTensor.createTensor(env, FloatBuffer.wrap(flat), new long[] {n, 8000});
                         OnnxTensor p = OnnxTensor.createTensor(env, FloatBuffer.wrap(prof), new long[] {n, 40});
                         OrtSession.Result r = cloud.run(Map.of("audio", a, "voice_profile", p))) {
                        cloudProbs = (float[][]) r.get("probs").get().getValue();
                    }
                    cloudAll[v] = cloudProbs;
                    double right = 0, cconf = 0, econf = 0;
                    for (int i = 0; i < n; i++) {
                        int best = argmax(cloudProbs[i]);
                        if (best == truth[i]) right++;
                        cconf += cloudProbs[i][best] / n;
                        econf += edgeProbs[i][argmax(edgeProbs[i])] / n;
                    }
                    double acc = right / n;
                    if (f == 1.0) plain = acc;
                    cloudConfs[v] = cconf;
                    if (cconf > bestCloudConf) { bestCloudConf = cconf; accByCloud = acc; }
                    if (econf > bestEdgeConf) { bestEdgeConf = econf; accByEdge = acc; }
                    line.append(String.format(" %.2f:%.1f/%.3f/%.3f", f, acc * 100, cconf, econf));
                }
                line.append(String.format(" | plain %.1f, by cloud confidence %.1f, by edge confidence %.1f", plain * 100, accByCloud * 100, accByEdge * 100));
                // the views' probabilities averaged: all of them, and the 3 and 5 the cloud model is most confident on
                Integer[] byConf = new Integer[VIEWS.length];
                for (int v = 0; v < VIEWS.length; v++) byConf[v] = v;
                Arrays.sort(byConf, (x, y) -> Double.compare(cloudConfs[y], cloudConfs[x]));
                for (int top : new int[] {3, 5, VIEWS.length}) {
                    int ok = 0;
                    for (int i = 0; i < n; i++) {
                        float[] sum = new float[10];
                        for (int t = 0; t < top; t++) for (int d = 0; d < 10; d++) sum[d] += cloudAll[byConf[t]][i][d];
                        if (argmax(sum) == truth[i]) ok++;
                    }
                    line.append(String.format(", top %d averaged %.1f", top, ok * 100.0 / n));
                    avg.merge(top, ok / (double) n / 5, Double::sum);
                }
                // a device's stream: shuffled (seed 7), each clip answered by the average of the TOP views whose running
                // mean edge confidence is highest so far (this clip included), each with its view's running mean profile
                int TOP = 3;
                Integer[] order = new Integer[n];
                for (int i = 0; i < n; i++) order[i] = i;
                Collections.shuffle(Arrays.asList(order), new Random(7));
                double[] confSum = new double[VIEWS.length];
                double[][] profSum = new double[VIEWS.length][40];
                int right = 0, rightTop = 0, seen = 0;
                for (int i : order) {
                    seen++;
                    for (int v = 0; v < VIEWS.length; v++) {
                        confSum[v] += edgeConf[v][i];
                        for (int k = 0; k < 40; k++) profSum[v][k] += clipProfiles[v][i][k];
                    }
                    Integer[] ranked = new Integer[VIEWS.length];
                    for (int v = 0; v < VIEWS.length; v++) ranked[v] = v;
                    Arrays.sort(ranked, (x, y) -> Double.compare(confSum[y], confSum[x]));
                    float[] sum = new float[10];
                    for (int t = 0; t < TOP; t++) {
                        int chosen = ranked[t];
                        float[] prof = new float[40];
                        for (int k = 0; k < 40; k++) prof[k] = (float) (profSum[chosen][k] / seen);
                        try (OnnxTensor a = OnnxTensor.createTensor(env, FloatBuffer.wrap(viewed[chosen][i]), new long[] {1, 8000});
                             OnnxTensor p = OnnxTensor.createTensor(env, FloatBuffer.wrap(prof), new long[] {1, 40});
                             OrtSession.Result r = cloud.run(Map.of("audio", a, "voice_profile", p))) {
                            float[] probs = ((float[][]) r.get("probs").get().getValue())[0];
                            if (t == 0 && argmax(probs) == truth[i]) right++;
                            for (int d = 0; d < 10; d++) sum[d] += probs[d];
                        }
                    }
                    if (argmax(sum) == truth[i]) rightTop++;
                }
                line.append(String.format(", streamed top 3 by edge %.1f", rightTop * 100.0 / n));
                sStreamTop += rightTop / (double) n / 5;
                line.append(String.format(", streamed %.1f (final view %.2f)", right * 100.0 / n, VIEWS[argmaxD(confSum)]));
                sStream += right / (double) n / 5;
                System.out.println(line);
                sPlain += plain / 5; sCloud += accByCloud / 5; sEdge += accByEdge / 5;
            }
        }
        System.out.printf("mean plain %.2f, by cloud confidence %.2f, by edge confidence %.2f, streamed by edge %.2f%n", sPlain * 100, sCloud * 100, sEdge * 100, sStream * 100);
        System.out.printf("mean streamed top 3 by edge %.2f%n", sStreamTop * 100);
        avg.forEach((top, a) -> System.out.printf("mean top %d averaged %.2f%n", top, a * 100));
    }

    /** The speed views as an edge agent would run them, through the graphs' own inputs (the class comment's second command). */
    static void throughGraphs(Path folds, Path recordings, int every) throws Exception {
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
            int K = GRAPH_SPEEDS.length;
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
                             OnnxTensor s = OnnxTensor.createTensor(env, FloatBuffer.wrap(GRAPH_SPEEDS.clone()), new long[] {K, 1});
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
                        speeds[t] = GRAPH_SPEEDS[ranked[t]];
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

    static int argmaxD(double[] p) {
        int b = 0;
        for (int d = 1; d < p.length; d++) if (p[d] > p[b]) b = d;
        return b;
    }

    static int argmax(float[] p) {
        int b = 0;
        for (int d = 1; d < p.length; d++) if (p[d] > p[b]) b = d;
        return b;
    }

    /** As train.py's speed_view: linear interpolation (align_corners false) to int(8000 / f) samples, cropped or padded to 8000. */
    static float[] view(float[] x, double f) {
        int length = (int) (8000 / f);
        double scale = 8000.0 / length;
        float[] out = new float[8000];
        for (int i = 0; i < Math.min(length, 8000); i++) {
            double src = Math.max(0, (i + 0.5) * scale - 0.5);
            int i0 = (int) Math.floor(src);
            int i1 = Math.min(i0 + 1, 7999);
            double w = src - i0;
            out[i] = (float) (x[Math.min(i0, 7999)] * (1 - w) + x[i1] * w);
        }
        return out;
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
