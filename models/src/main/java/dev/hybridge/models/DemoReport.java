package dev.hybridge.models;

import java.io.IOException;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
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
        Properties properties = new Properties();
        properties.putAll(measured);
        try (Writer out = Files.newBufferedWriter(demo.resolve("measured.properties"))) {
            properties.store(out, "Measured through ONNX Runtime on the FSDD official test split by DemoReport;"
                    + " DemoModelsTest holds the models to these figures");
        }
        Files.writeString(demo.resolve("MODEL_CARDS.md"), cards(root, answers, measured));
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
                .append("recordings with index 5-49 (2250 clips); every figure below is on the official test split, ")
                .append("index 0-4 (").append(a.size()).append(" clips, the same five speakers), measured through ")
                .append("ONNX Runtime by the project's own model host (`DemoReport`). Each model takes FP32 audio ")
                .append("`[batch, 8000]` (one second at 8 kHz, PCM16 / 32768, zero-padded at the end or cropped) ")
                .append("and computes its log-mel features inside the graph: 256-sample Hann-windowed DFT every ")
                .append("100 samples, 40 mel bands (20 Hz - 4 kHz), log, per-clip normalisation.\n\n")
                .append("This file is written by `DemoReport`; `DemoModelsTest` checks the models against ")
                .append("`measured.properties`.\n\n");
        card(md, "cloud/digits-cloud", "The cloud model (teacher)",
                "CNN over the log-mel image: 7 conv 3x3 + batch-norm + ReLU layers (16, 16, 32, 32, 64, 64, 96 "
                        + "channels) with 3 max-pools, global average pool, dropout 0.3, linear 96 -> 10, softmax.",
                "outputs `probs [batch, 10]` (digits 0-9)",
                training.path("parameters").path("cloud").asLong(), repository, measured.get("accuracy.cloud"),
                "Cross-entropy with label smoothing 0.05, AdamW, one-cycle learning rate, augmentation (time shift, "
                        + "gain 0.3-1.5, light noise).");
        card(md, "edge/digits-edge", "The edge model (distilled student)",
                "Conv 3x3 (12) + max-pool, conv 3x3 (24) + max-pool, average-pool 2 -> the embedding (24 x 5 x 9); "
                        + "head: conv 3x3 (32), global average pool, linear 32 -> 10, softmax.",
                "outputs `probs [batch, 10]` and `embedding [batch, 1080]` (the 24 x 5 x 9 feature map, flattened: "
                        + "1080 floats cross the network instead of 8000 samples)",
                training.path("parameters").path("edge").asLong(), repository, measured.get("accuracy.edge"),
                "Distilled from the cloud model's soft labels on the same augmented audio (KL at temperature 3, "
                        + "weight 0.8, plus 0.2 cross-entropy). Accuracy on its most confident 80%: "
                        + pct(measured.get("accuracy.edge.most_confident_80")) + ".");
        card(md, "cloud/digits-head", "The cloud head (split processing)",
                "Takes the edge model's embedding: conv 3x3 (64), conv 3x3 (64), max-pool, conv 3x3 (96), global "
                        + "average pool, dropout 0.3, linear 96 -> 10, softmax.",
                "input `embedding [batch, 1080]`, outputs `probs [batch, 10]`",
                training.path("parameters").path("head").asLong(), repository, measured.get("accuracy.head"),
                "Trained on the frozen edge model's embeddings against the cloud model's soft labels.");
        md.append("## Cascade trade-off\n\n")
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
            md.append("**Threshold ").append(fmt(best.threshold())).append("** keeps at least 99% of cloud-only accuracy (")
                    .append(pct(best.cascadeAccuracy())).append(" against ").append(pct(cloudAccuracy))
                    .append(") with the fewest escalations: ").append(pct(best.escalated())).append(" of requests go to ")
                    .append("the cloud.\n");
        }
        md.append("\nThe test split holds ").append(a.size()).append(" clips, so one clip is ")
                .append(pct(1.0 / a.size())).append(".\n");
        return md.toString();
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
