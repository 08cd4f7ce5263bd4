package dev.hybridge.serving.model;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.DatabindException;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.PropertyNamingStrategies;
import tools.jackson.dataformat.yaml.YAMLMapper;

/**
 * The optional {@code config.yaml} beside a {@code model.onnx}. Every field may be left out:
 * a model with no config file serves from what ONNX Runtime reports about it.
 *
 * @param version  the model version shown in metadata and responses ("1" when not given)
 * @param labels   class labels in output order, for classifiers
 * @param scores   which output carries class scores, and what kind of scores they are
 * @param batching dynamic batching; fields left out take the program's defaults
 * @param threads  ONNX Runtime thread counts; fields left out take the program's defaults
 * @param inputs   per input, by name: what the host feeds when a request leaves that input out
 */
public record ModelConfig(String version, List<String> labels, Scores scores, Batching batching, Threads threads,
                          Map<String, Input> inputs) {

    public static final String FILE_NAME = "config.yaml";
    public static final ModelConfig EMPTY = new ModelConfig(null, null, null, null, null, null);

    private static final YAMLMapper YAML = YAMLMapper.builder()
            .propertyNamingStrategy(PropertyNamingStrategies.KEBAB_CASE)
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .build();

    public ModelConfig {
        labels = labels == null ? List.of() : List.copyOf(labels);
        inputs = inputs == null ? Map.of() : Map.copyOf(inputs);
    }

    public String versionOrDefault() {
        return version == null ? "1" : version;
    }

    /** How to read confidence from a classifier's output. */
    public record Scores(String output, ScoreKind kind) {
    }

    public enum ScoreKind {
        /** already sums to one over the classes (a softmax output) */
        PROBABILITIES,
        /** raw scores; a softmax is applied before confidence is measured */
        LOGITS;

        @com.fasterxml.jackson.annotation.JsonCreator
        static ScoreKind parse(String text) {
            try {
                return valueOf(text.trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("expected 'probabilities' or 'logits' but was '" + text + "'");
            }
        }
    }

    /**
     * @param enabled        whether to batch this model (only possible when every input and output has a
     *                       dynamic first dimension)
     * @param maxBatchSize   the most rows merged into one run
     * @param maxQueueDelay  the longest a request waits for others to join its batch, e.g. {@code 2ms}
     * @param maxQueueSize   requests waiting beyond this are refused at once with 503
     */
    public record Batching(Boolean enabled, Integer maxBatchSize, String maxQueueDelay, Integer maxQueueSize) {
    }

    /**
     * An input a request may leave out.
     *
     * @param defaultValue what the host feeds in its place (YAML {@code default}): one row's elements,
     *                     row-major, repeated for every row of the request's batch. The input must be
     *                     FP32 with every dimension after the first fixed, and as many elements a row.
     */
    public record Input(@JsonProperty("default") List<Float> defaultValue) {
    }

    /** @param intraOp threads inside one operator; @param interOp threads across operators */
    public record Threads(Integer intraOp, Integer interOp) {
    }

    /** Reads {@code folder/config.yaml}, or {@link #EMPTY} when there is none. Errors name the file and field. */
    public static ModelConfig load(Path folder) {
        Path file = folder.resolve(FILE_NAME);
        if (!Files.isRegularFile(file)) {
            return EMPTY;
        }
        ModelConfig config;
        try {
            config = YAML.readValue(file.toFile(), ModelConfig.class);
        } catch (DatabindException e) {
            throw new ModelLoadException(file + ": field '" + e.getPathReference().replaceAll("^.*ModelConfig", "")
                    + "' is invalid: " + e.getOriginalMessage());
        } catch (JacksonException e) {
            throw new ModelLoadException(file + ": not valid YAML: " + e.getOriginalMessage());
        }
        if (config == null) {
            return EMPTY;
        }
        config.validate(file);
        return config;
    }

    private void validate(Path file) {
        if (scores != null) {
            if (scores.output() == null || scores.output().isBlank()) {
                throw new ModelLoadException(file + ": scores.output must name an output of the model");
            }
            if (scores.kind() == null) {
                throw new ModelLoadException(file + ": scores.kind must be 'probabilities' or 'logits'");
            }
        }
        if (batching != null) {
            if (batching.maxBatchSize() != null && batching.maxBatchSize() < 1) {
                throw new ModelLoadException(file + ": batching.max-batch-size must be at least 1 but was "
                        + batching.maxBatchSize());
            }
            if (batching.maxQueueSize() != null && batching.maxQueueSize() < 1) {
                throw new ModelLoadException(file + ": batching.max-queue-size must be at least 1 but was "
                        + batching.maxQueueSize());
            }
            if (batching.maxQueueDelay() != null) {
                try {
                    parseDuration(batching.maxQueueDelay());
                } catch (IllegalArgumentException e) {
                    throw new ModelLoadException(file + ": batching.max-queue-delay " + e.getMessage());
                }
            }
        }
        inputs.forEach((name, input) -> {
            if (input == null || input.defaultValue() == null || input.defaultValue().isEmpty()) {
                throw new ModelLoadException(file + ": inputs." + name + ".default must list the input's elements for one row");
            }
            if (input.defaultValue().contains(null)) {
                throw new ModelLoadException(file + ": inputs." + name + ".default must hold numbers only");
            }
        });
        if (threads != null) {
            if (threads.intraOp() != null && threads.intraOp() < 1) {
                throw new ModelLoadException(file + ": threads.intra-op must be at least 1 but was " + threads.intraOp());
            }
            if (threads.interOp() != null && threads.interOp() < 1) {
                throw new ModelLoadException(file + ": threads.inter-op must be at least 1 but was " + threads.interOp());
            }
        }
    }

    /** Parses {@code 500us}, {@code 2ms}, {@code 1s}; zero is allowed (no waiting for company). */
    static Duration parseDuration(String text) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        String unit = t.endsWith("us") ? "us" : t.endsWith("ms") ? "ms" : t.endsWith("s") ? "s" : "";
        long amount = -1;
        if (!unit.isEmpty()) {
            try {
                amount = Long.parseLong(t.substring(0, t.length() - unit.length()).trim());
            } catch (NumberFormatException e) {
                amount = -1;
            }
        }
        if (amount < 0 || amount > 3_600_000_000L) {
            throw new IllegalArgumentException("must be a whole number of at least zero with a unit (us, ms or s),"
                    + " such as 2ms, but was '" + text + "'");
        }
        return switch (unit) {
            case "us" -> Duration.ofNanos(amount * 1000L);
            case "ms" -> Duration.ofMillis(amount);
            default -> Duration.ofSeconds(amount);
        };
    }
}
