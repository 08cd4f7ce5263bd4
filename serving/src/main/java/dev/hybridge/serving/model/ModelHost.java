package dev.hybridge.serving.model;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtLoggingLevel;
import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.InferResponse;
import dev.hybridge.oip.ModelConfiguration;
import dev.hybridge.oip.OipException;
import dev.hybridge.oip.RequestValidator;
import dev.hybridge.serving.batching.DirectRunQueue;
import dev.hybridge.serving.batching.DynamicBatcher;
import dev.hybridge.serving.batching.RunQueue;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.TimeGauge;
import io.micrometer.core.instrument.Timer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves the models of a repository folder: one sub-folder per model, each with a
 * {@code model.onnx} and an optional {@code config.yaml}. A model that fails to load is
 * reported (and makes the host not ready) without stopping the others.
 */
public final class ModelHost implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(ModelHost.class);

    /**
     * A model with the queue its requests wait in, and the batch settings in force for it (its
     * config.yaml over the program's; {@code batched} says whether a batcher runs them).
     */
    public record ServedModel(OnnxModel model, RunQueue queue, boolean batched, HostSettings.BatchSettings batching) {

        /** Triton's model configuration for this model ({@code GET .../config}). */
        public ModelConfiguration configuration() {
            ModelConfiguration.DynamicBatching dynamic = batched ? new ModelConfiguration.DynamicBatching(
                    batching.maxQueueDelay().toNanos() / 1000, batching.maxQueueSize()) : null;
            boolean gpu = model.provider() == ai.onnxruntime.OrtProvider.CUDA;
            return ModelConfiguration.of(model.metadata(), "onnxruntime", model.batchable() ? batching.maxBatchSize() : 0,
                    dynamic, gpu ? "KIND_GPU" : "KIND_CPU",
                    Map.of("execution_provider", gpu ? "cuda" : "cpu", "version", model.version()),
                    model.config().inputs().keySet());
        }
    }

    private final HostSettings settings;
    private final MeterRegistry meters;
    private final OrtEnvironment env;
    private final ThreadPoolExecutor directExecutor;
    private volatile Map<String, ServedModel> models = Map.of();
    private volatile Map<String, String> failures = Map.of();
    private volatile boolean loaded;

    public ModelHost(HostSettings settings, MeterRegistry meters) {
        this.settings = settings;
        this.meters = meters;
        this.env = OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING, "hybridge");
        try {
            // ONNX Runtime's telemetry otherwise writes a device id and a cache under the user's home
            env.setTelemetry(false);
        } catch (ai.onnxruntime.OrtException e) {
            log.debug("ONNX Runtime telemetry could not be turned off", e);
        }
        AtomicInteger threadNumber = new AtomicInteger();
        this.directExecutor = new ThreadPoolExecutor(settings.runThreads(), settings.runThreads(), 0, TimeUnit.SECONDS,
                new ArrayBlockingQueue<>(settings.runQueueSize()), r -> {
                    Thread t = new Thread(r, "model-run-" + threadNumber.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                }, new ThreadPoolExecutor.AbortPolicy());
    }

    /** Loads every model in the repository; call once. */
    public void loadAll() {
        Path repository = settings.modelRepository();
        if (!Files.isDirectory(repository)) {
            throw new ModelLoadException("model repository " + repository.toAbsolutePath() + " is not a folder");
        }
        List<Path> folders;
        try (Stream<Path> entries = Files.list(repository)) {
            folders = entries.filter(Files::isDirectory).sorted().toList();
        } catch (IOException e) {
            throw new ModelLoadException("model repository " + repository.toAbsolutePath() + " cannot be read", e);
        }
        Map<String, ServedModel> served = new TreeMap<>();
        Map<String, String> failed = new TreeMap<>();
        for (Path folder : folders) {
            String name = folder.getFileName().toString();
            long start = System.nanoTime();
            try {
                OnnxModel model = OnnxModel.load(env, folder, settings);
                ServedModel serving = serve(model);
                served.put(name, serving);
                Gauge.builder("hybridge.queue.pending", serving.queue(), RunQueue::pending).tag("model", name)
                        .description("Requests accepted for the model and not answered yet").register(meters);
                log.info("Model {} version {} loaded in {} ms on {}: inputs {}, outputs {}{}", name, model.version(),
                        (System.nanoTime() - start) / 1_000_000, model.provider(), model.metadata().inputs(),
                        model.metadata().outputs(), served.get(name).batched() ? ", batched" : "");
            } catch (ModelLoadException e) {
                failed.put(name, e.getMessage());
                log.error("Model {} is not served: {}", name, e.getMessage());
            }
            boolean servedNow = served.containsKey(name);
            long loadNanos = System.nanoTime() - start;
            Gauge.builder("hybridge.model.loaded", () -> servedNow ? 1 : 0).tag("model", name)
                    .description("1 when the model loaded and is served, 0 when it failed to load").register(meters);
            TimeGauge.builder("hybridge.model.load.duration", () -> loadNanos, TimeUnit.NANOSECONDS).tag("model", name)
                    .description("How long loading the model took (or failing to)").register(meters);
        }
        models = Collections.unmodifiableMap(served);
        failures = Collections.unmodifiableMap(failed);
        loaded = true;
        log.info("Model repository {}: {} models served, {} failed", repository.toAbsolutePath(), served.size(),
                failed.size());
    }

    private ServedModel serve(OnnxModel model) {
        HostSettings.BatchSettings batching = settings.batching().overriddenBy(model.config().batching());
        String name = model.name();
        Counter rejected = Counter.builder("hybridge.queue.rejected").tag("model", name)
                .description("Requests refused because the model's queue was full").register(meters);
        if (batching.enabled() && !model.batchable()) {
            log.warn("Model {}: batching is on but not every input and output has a dynamic first dimension;"
                    + " running requests one by one", name);
        }
        if (batching.enabled() && model.batchable()) {
            DistributionSummary batchRows = DistributionSummary.builder("hybridge.batch.rows").tag("model", name)
                    .description("Rows per model run").register(meters);
            DistributionSummary batchRequests = DistributionSummary.builder("hybridge.batch.requests")
                    .tag("model", name).description("Requests merged into one model run").register(meters);
            Timer queueWait = Timer.builder("hybridge.batch.queue.wait").tag("model", name)
                    .description("How long the oldest request of a batch waited").register(meters);
            DynamicBatcher.Listener listener = new DynamicBatcher.Listener() {
                @Override
                public void batchRan(int requests, int rows, long oldestWaitNanos) {
                    batchRows.record(rows);
                    batchRequests.record(requests);
                    queueWait.record(oldestWaitNanos, TimeUnit.NANOSECONDS);
                }

                @Override
                public void rejected() {
                    rejected.increment();
                }
            };
            Timer run = runTimer(name);
            DynamicBatcher batcher = new DynamicBatcher(name, batching.maxBatchSize(), batching.maxQueueDelay(),
                    batching.maxQueueSize(), requests -> run.record(() -> model.inferBatch(requests)),
                    OnnxModel::stackable, OnnxModel::rows, System::nanoTime, listener);
            return new ServedModel(model, batcher, true, batching);
        }
        Timer run = runTimer(name);
        return new ServedModel(model,
                new DirectRunQueue(name, directExecutor, request -> run.record(() -> model.infer(request)),
                        rejected::increment), false, batching);
    }

    private Timer runTimer(String model) {
        return Timer.builder("hybridge.model.run").tag("model", model)
                .description("Time inside ONNX Runtime per run (a batch counts once)").register(meters);
    }

    /** Loading has finished; every model is served, or failures are tolerated. */
    public boolean isLoaded() {
        return loaded;
    }

    /** Models that failed to load, with why. */
    public Map<String, String> failures() {
        return failures;
    }

    public Map<String, ServedModel> models() {
        return models;
    }

    /**
     * The model a request names: 404 when there is none (or not that version), 503 while loading or
     * when it failed to load.
     */
    public ServedModel require(String name, String version) {
        ServedModel served = models.get(name);
        if (served == null) {
            if (!loaded) {
                throw OipException.unavailable("models are still loading");
            }
            String failure = failures.get(name);
            if (failure != null) {
                throw OipException.unavailable("model '" + name + "' failed to load: " + failure);
            }
            throw OipException.notFound("model '" + name + "' is not served here; models: " + models.keySet());
        }
        if (version != null && !version.equals(served.model().version())) {
            throw OipException.notFound("model '" + name + "' has no version '" + version + "'; it serves version '"
                    + served.model().version() + "'");
        }
        return served;
    }

    /** Fills the inputs the request leaves out that have defaults, validates it and queues it for its model. */
    public CompletableFuture<InferResponse> infer(String name, String version, InferRequest request) {
        ServedModel served = require(name, version);
        InferRequest complete = served.model().withDefaults(request);
        RequestValidator.validate(complete, served.model().metadata());
        return served.queue().submit(complete);
    }

    public List<String> modelNames() {
        return new ArrayList<>(models.keySet());
    }

    @Override
    public void close() {
        for (ServedModel served : models.values()) {
            served.queue().close();
        }
        directExecutor.shutdown();
        try {
            if (!directExecutor.awaitTermination(10, TimeUnit.SECONDS)) {
                log.warn("Unbatched runs still going after 10 s at shutdown");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (ServedModel served : models.values()) {
            served.model().close();
        }
    }
}
