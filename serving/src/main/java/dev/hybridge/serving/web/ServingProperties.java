package dev.hybridge.serving.web;

import dev.hybridge.serving.model.HostSettings;
import jakarta.validation.Valid;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotBlank;
import java.nio.file.Path;
import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.util.unit.DataSize;
import org.springframework.validation.annotation.Validated;

/**
 * {@code hybridge.serving.*}: how a program serves its models. An invalid value stops the
 * program at start with a message naming the property.
 *
 * @param modelRepository   folder with one sub-folder per model (required)
 * @param serverName        the name {@code GET /v2} reports
 * @param executionProvider {@code cpu}, or {@code cuda} (falls back to CPU, with a log line, when unavailable)
 * @param cudaDeviceId      GPU index for CUDA
 * @param maxRequestSize    larger request bodies are refused with 413 (the decoded size, for compressed bodies)
 * @param unreadBodyLinger  how long a body the answer did not need (over the limit, for an unknown model) is still
 *                          read and dropped after the answer, so that a client writing it whole can read the
 *                          answer; then the connection is closed
 * @param maxJsonDepth      deeper JSON nesting is refused with 400
 * @param strictReadiness   when true, one model failing to load keeps the program not ready
 * @param threads           ONNX Runtime thread defaults (a model's config.yaml may override)
 * @param batching          dynamic batching defaults (a model's config.yaml may override)
 * @param runQueue          the executor unbatched models share
 */
@Validated
@ConfigurationProperties("hybridge.serving")
public record ServingProperties(
        @NotBlank String modelRepository,
        @DefaultValue("hybridge") @NotBlank String serverName,
        @DefaultValue("cpu") HostSettings.ExecutionProvider executionProvider,
        @DefaultValue("0") @Min(0) int cudaDeviceId,
        @DefaultValue("8MB") DataSize maxRequestSize,
        @DefaultValue("10s") Duration unreadBodyLinger,
        @DefaultValue("32") @Min(4) @Max(1000) int maxJsonDepth,
        @DefaultValue("true") boolean strictReadiness,
        @Valid @DefaultValue Threads threads,
        @Valid @DefaultValue Batching batching,
        @Valid @DefaultValue RunQueue runQueue) {

    public record Threads(@DefaultValue("1") @Min(1) int intraOp, @DefaultValue("1") @Min(1) int interOp) {
    }

    public record Batching(@DefaultValue("false") boolean enabled,
                           @DefaultValue("16") @Min(1) int maxBatchSize,
                           @DefaultValue("2ms") Duration maxQueueDelay,
                           @DefaultValue("256") @Min(1) int maxQueueSize) {
    }

    public record RunQueue(@DefaultValue("2") @Min(1) int threads, @DefaultValue("256") @Min(1) int maxQueueSize) {
    }

    HostSettings toHostSettings() {
        if (maxRequestSize.toBytes() < 1 || maxRequestSize.toBytes() > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("hybridge.serving.max-request-size must be between 1B and 2GB but was "
                    + maxRequestSize);
        }
        if (unreadBodyLinger.isNegative()) {
            throw new IllegalArgumentException("hybridge.serving.unread-body-linger must not be negative but was "
                    + unreadBodyLinger);
        }
        if (batching.maxQueueDelay().isNegative()) {
            throw new IllegalArgumentException("hybridge.serving.batching.max-queue-delay must not be negative but was "
                    + batching.maxQueueDelay());
        }
        return new HostSettings(Path.of(modelRepository), executionProvider, cudaDeviceId, threads.intraOp(),
                threads.interOp(), new HostSettings.BatchSettings(batching.enabled(), batching.maxBatchSize(),
                batching.maxQueueDelay(), batching.maxQueueSize()), runQueue.threads(), runQueue.maxQueueSize());
    }
}
