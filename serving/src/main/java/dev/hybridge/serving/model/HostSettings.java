package dev.hybridge.serving.model;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * Program-wide model host settings; a model's {@code config.yaml} overrides the batching and
 * thread defaults for that model.
 *
 * @param modelRepository   the folder with one sub-folder per model
 * @param executionProvider CPU, or CUDA where the ONNX Runtime build and a GPU allow it
 * @param cudaDeviceId      the GPU to use with CUDA
 * @param intraOpThreads    default ONNX Runtime threads inside one operator
 * @param interOpThreads    default ONNX Runtime threads across operators
 * @param batching          default batching for models that can be batched
 * @param runThreads        threads running unbatched models (all models share them)
 * @param runQueueSize      unbatched requests waiting beyond this are refused with 503
 */
public record HostSettings(Path modelRepository, ExecutionProvider executionProvider, int cudaDeviceId,
                           int intraOpThreads, int interOpThreads, BatchSettings batching,
                           int runThreads, int runQueueSize) {

    public enum ExecutionProvider { CPU, CUDA }

    public HostSettings {
        Objects.requireNonNull(modelRepository, "modelRepository");
        Objects.requireNonNull(executionProvider, "executionProvider");
        Objects.requireNonNull(batching, "batching");
        requireAtLeast("cudaDeviceId", cudaDeviceId, 0);
        requireAtLeast("intraOpThreads", intraOpThreads, 1);
        requireAtLeast("interOpThreads", interOpThreads, 1);
        requireAtLeast("runThreads", runThreads, 1);
        requireAtLeast("runQueueSize", runQueueSize, 1);
    }

    /** Defaults for tests and tools: CPU, one thread each, no batching. */
    public static HostSettings defaults(Path modelRepository) {
        return new HostSettings(modelRepository, ExecutionProvider.CPU, 0, 1, 1,
                new BatchSettings(false, 8, Duration.ofMillis(2), 256), 2, 256);
    }

    public HostSettings withBatching(BatchSettings newBatching) {
        return new HostSettings(modelRepository, executionProvider, cudaDeviceId, intraOpThreads, interOpThreads,
                newBatching, runThreads, runQueueSize);
    }

    public HostSettings withExecutionProvider(ExecutionProvider provider) {
        return new HostSettings(modelRepository, provider, cudaDeviceId, intraOpThreads, interOpThreads,
                batching, runThreads, runQueueSize);
    }

    static void requireAtLeast(String name, long value, long min) {
        if (value < min) {
            throw new IllegalArgumentException(name + " must be at least " + min + " but was " + value);
        }
    }

    /**
     * @param enabled       batch the models that can be batched
     * @param maxBatchSize  the most rows in one run
     * @param maxQueueDelay the longest the first request of a batch waits for others
     * @param maxQueueSize  waiting requests beyond this are refused at once with 503
     */
    public record BatchSettings(boolean enabled, int maxBatchSize, Duration maxQueueDelay, int maxQueueSize) {
        public BatchSettings {
            Objects.requireNonNull(maxQueueDelay, "maxQueueDelay");
            requireAtLeast("maxBatchSize", maxBatchSize, 1);
            requireAtLeast("maxQueueSize", maxQueueSize, 1);
            if (maxQueueDelay.isNegative()) {
                throw new IllegalArgumentException("maxQueueDelay must not be negative but was " + maxQueueDelay);
            }
        }

        /** These settings with a model's own overrides applied. */
        BatchSettings overriddenBy(ModelConfig.Batching own) {
            if (own == null) {
                return this;
            }
            return new BatchSettings(
                    own.enabled() != null ? own.enabled() : enabled,
                    own.maxBatchSize() != null ? own.maxBatchSize() : maxBatchSize,
                    own.maxQueueDelay() != null ? ModelConfig.parseDuration(own.maxQueueDelay()) : maxQueueDelay,
                    own.maxQueueSize() != null ? own.maxQueueSize() : maxQueueSize);
        }
    }
}
