package dev.hybridge.policy.runtime;

import dev.hybridge.oip.Datatype;
import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.InferResponse;
import dev.hybridge.oip.ModelMetadata;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.Tensor;
import dev.hybridge.oip.TensorSpec;
import dev.hybridge.policy.RoutePolicy;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A tier in the test's hands: it answers as a classifier would (its confidence and label set by
 * the test), refuses, fails, or keeps the call open until the test ends it. It records what it
 * was sent. No sockets.
 */
final class FakeTier implements TierClient {

    private final OipCodec codec = new OipCodec();
    private final List<InferRequest> requests = new CopyOnWriteArrayList<>();
    /** Per call, the outputs the runtime named beside the request ({@link TierCall#outputs}). */
    private final List<List<String>> namedBeside = new CopyOnWriteArrayList<>();
    private final List<CompletableFuture<TierReply>> open = new CopyOnWriteArrayList<>();
    private final List<TensorSpec> outputs;
    private volatile double confidence = 0.9;
    private volatile String label = "7";
    private volatile TierFailure failure;
    private volatile int refuseStatus;
    private volatile String refuseMessage;
    private volatile boolean hanging;
    private volatile boolean metadataFails;
    private volatile boolean unconfigured;
    private volatile boolean inProcess;
    private final java.util.concurrent.atomic.AtomicInteger metadataCalls = new java.util.concurrent.atomic.AtomicInteger();
    private volatile double millis = 20;
    /** One row of data per output name, for outputs other than probs ([1, 2, 3] otherwise). */
    private final Map<String, float[]> rows = new java.util.concurrent.ConcurrentHashMap<>();

    /** @param outputs what its model gives: {@code probs}, and on an edge model that hands on, {@code embedding} */
    FakeTier(List<TensorSpec> outputs) {
        this.outputs = outputs;
    }

    static FakeTier edge() {
        return new FakeTier(List.of(new TensorSpec("probs", Datatype.FP32, new long[] {-1, 2}),
                new TensorSpec("embedding", Datatype.FP32, new long[] {-1, 3})));
    }

    static FakeTier cloud() {
        return new FakeTier(List.of(new TensorSpec("probs", Datatype.FP32, new long[] {-1, 2})));
    }

    FakeTier answering(double confidence, String label) {
        this.confidence = confidence;
        this.label = label;
        this.failure = null;
        this.refuseStatus = 0;
        this.hanging = false;
        return this;
    }

    FakeTier failing(TierFailure.Kind kind) {
        this.failure = new TierFailure(kind, "fake " + kind);
        return this;
    }

    FakeTier refusing(int status, String message) {
        this.refuseStatus = status;
        this.refuseMessage = message;
        return this;
    }

    /** Its calls stay open until {@link #release} (or forever). */
    FakeTier hanging() {
        this.hanging = true;
        return this;
    }

    FakeTier taking(double millis) {
        this.millis = millis;
        return this;
    }

    FakeTier metadataFailing() {
        this.metadataFails = true;
        return this;
    }

    FakeTier metadataAnswering() {
        this.metadataFails = false;
        return this;
    }

    /** No workers at all: the tier has nowhere to send calls. */
    FakeTier unconfigured() {
        this.unconfigured = true;
        return this;
    }

    /** As an edge agent's own models: in this process. */
    /** Its next answers give this row for the output (one row a request). */
    FakeTier giving(String output, float... row) {
        rows.put(output, row);
        return this;
    }

    FakeTier local() {
        this.inProcess = true;
        return this;
    }

    @Override
    public boolean inProcess() {
        return inProcess;
    }

    int metadataCalls() {
        return metadataCalls.get();
    }

    @Override
    public boolean configured() {
        return !unconfigured;
    }

    List<InferRequest> requests() {
        return requests;
    }

    int calls() {
        return requests.size();
    }

    List<List<String>> namedBeside() {
        return namedBeside;
    }

    /** Answers every call still open, as it would have. */
    void release() {
        for (CompletableFuture<TierReply> call : open) {
            OipCodec.Encoded answer = answer(requests.get(0), List.of());
            call.complete(new TierReply(200, answer.body(), answer.jsonLength(), millis));
        }
    }

    @Override
    public CompletableFuture<TierReply> infer(RoutePolicy.Stage stage, byte[] body, int jsonLength, long deadlineNanos) {
        return infer(stage, body, jsonLength, deadlineNanos, List.of());
    }

    @Override
    public CompletableFuture<TierReply> infer(RoutePolicy.Stage stage, byte[] body, int jsonLength, long deadlineNanos,
                                              TierCall call) {
        namedBeside.add(call.outputs());
        return infer(stage, body, jsonLength, deadlineNanos, call.outputs());
    }

    private CompletableFuture<TierReply> infer(RoutePolicy.Stage stage, byte[] body, int jsonLength, long deadlineNanos,
                                               List<String> beside) {
        InferRequest request = codec.decodeRequest(body, jsonLength);
        requests.add(request);
        if (hanging) {
            CompletableFuture<TierReply> call = new CompletableFuture<>();
            open.add(call);
            return call;
        }
        if (failure != null) {
            return CompletableFuture.failedFuture(failure);
        }
        if (refuseStatus != 0) {
            return CompletableFuture.completedFuture(new TierReply(refuseStatus,
                    codec.encodeError(refuseMessage.replace("%model", stage.model())), -1, millis));
        }
        OipCodec.Encoded answer = answer(request, inProcess ? beside : List.of());
        return CompletableFuture.completedFuture(new TierReply(200, answer.body(), answer.jsonLength(), millis));
    }

    /** @param beside the outputs to answer when the request names none (an edge in this process); empty: all */
    private OipCodec.Encoded answer(InferRequest request, List<String> beside) {
        Map<String, Object> parameters = new LinkedHashMap<>();
        parameters.put("hybridge.label", label);
        parameters.put("hybridge.confidence", confidence);
        parameters.put("hybridge.margin", confidence / 2);
        parameters.put("hybridge.entropy", 1 - confidence);
        List<Tensor> answer = new ArrayList<>();
        for (TensorSpec spec : outputs) {
            if (!request.outputs().isEmpty() && request.outputs().stream().noneMatch(o -> o.name().equals(spec.name()))) {
                continue; // as a real worker: only the outputs asked for
            }
            if (request.outputs().isEmpty() && !beside.isEmpty() && !beside.contains(spec.name())) {
                continue;
            }
            float[] data = spec.name().equals("probs") ? new float[] {(float) confidence, (float) (1 - confidence)}
                    : rows.getOrDefault(spec.name(), new float[] {1, 2, 3});
            answer.add(new Tensor(spec.name(), Datatype.FP32, new long[] {1, data.length}, data));
        }
        return codec.encodeResponse(new InferResponse("m", "1", request.id(), parameters, answer), request);
    }

    @Override
    public CompletableFuture<byte[]> metadata(RoutePolicy.Stage stage, long deadlineNanos) {
        metadataCalls.incrementAndGet();
        if (metadataFails) {
            return CompletableFuture.failedFuture(new TierFailure(TierFailure.Kind.UNREACHABLE, "no metadata"));
        }
        return CompletableFuture.completedFuture(codec.encodeModelMetadata(new ModelMetadata(stage.model(), List.of("1"),
                "onnxruntime_onnx", List.of(new TensorSpec("audio", Datatype.FP32, new long[] {-1, 4})), outputs),
                Map.of()));
    }
}
