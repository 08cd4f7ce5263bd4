package dev.hybridge.edge;

import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.InferResponse;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.OipException;
import dev.hybridge.oip.TensorSpec;
import dev.hybridge.policy.RoutePolicy;
import dev.hybridge.policy.runtime.TierCall;
import dev.hybridge.policy.runtime.TierClient;
import dev.hybridge.policy.runtime.TierFailure;
import dev.hybridge.policy.runtime.TierReply;
import dev.hybridge.serving.model.ModelHost;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * The edge tier of the agent's routes: its own models, in this process (no HTTP hop). A request
 * the model refuses (4xx) is the reply, as a worker's would be; a model that cannot take it
 * (still loading, failed, queue full: 503) is a {@link TierFailure}.
 */
final class LocalTier implements TierClient {

    private static final Map<String, Object> BINARY = Map.of(OipCodec.BINARY_DATA, true);

    private final ModelHost host;
    private final OipCodec codec;

    LocalTier(ModelHost host, OipCodec codec) {
        this.host = host;
        this.codec = codec;
    }

    @Override
    public CompletableFuture<TierReply> infer(RoutePolicy.Stage stage, byte[] body, int jsonLength, long deadlineNanos) {
        return infer(stage, body, jsonLength, deadlineNanos, List.of());
    }

    /** Answers only the outputs the route needs ({@link TierCall#outputs}) when the request names none. */
    @Override
    public CompletableFuture<TierReply> infer(RoutePolicy.Stage stage, byte[] body, int jsonLength, long deadlineNanos,
                                              TierCall call) {
        return infer(stage, body, jsonLength, deadlineNanos, call.outputs());
    }

    private CompletableFuture<TierReply> infer(RoutePolicy.Stage stage, byte[] body, int jsonLength, long deadlineNanos,
                                               List<String> needed) {
        long start = System.nanoTime();
        try {
            InferRequest request = codec.decodeRequest(body, jsonLength);
            if (request.outputs().isEmpty() && !needed.isEmpty()) {
                List<InferRequest.RequestedOutput> outputs = new ArrayList<>(needed.size());
                for (String output : needed) {
                    outputs.add(new InferRequest.RequestedOutput(output, Map.of()));
                }
                request = new InferRequest(request.id(), request.parameters(), request.inputs(), outputs);
            }
            InferRequest binaryAnswer = binaryOutputs(request, stage);
            return host.infer(stage.model(), stage.version(), request).handle((answer, failure) -> {
                if (failure != null) {
                    return refusal(unwrap(failure), start);
                }
                OipCodec.Encoded encoded = codec.encodeResponse(answer, binaryAnswer);
                return new TierReply(200, encoded.body(), encoded.jsonLength(), millisSince(start));
            });
        } catch (RuntimeException e) {
            try {
                return CompletableFuture.completedFuture(refusal(e, start));
            } catch (TierFailure failure) {
                return CompletableFuture.failedFuture(failure);
            }
        }
    }

    @Override
    public boolean inProcess() {
        return true;
    }

    @Override
    public CompletableFuture<InferResponse> inferDecoded(RoutePolicy.Stage stage, InferRequest request) {
        try {
            return host.infer(stage.model(), stage.version(), request);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    @Override
    public CompletableFuture<byte[]> metadata(RoutePolicy.Stage stage, long deadlineNanos) {
        try {
            return CompletableFuture.completedFuture(codec.encodeModelMetadata(
                    host.require(stage.model(), stage.version()).model().metadata(), Map.of()));
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /**
     * The request as its answer is encoded for the route runtime: every output it asked for (all
     * the model's when none) as binary tensor data. The runtime reads the answer back at once;
     * as JSON, the demo edge model's embedding alone (1080 floats then) took about 0.9 ms to write and
     * read again per request on the agent (C1), against next to nothing as binary.
     */
    private InferRequest binaryOutputs(InferRequest request, RoutePolicy.Stage stage) {
        List<InferRequest.RequestedOutput> outputs = new ArrayList<>();
        if (request.outputs().isEmpty()) {
            for (TensorSpec output : host.require(stage.model(), stage.version()).model().metadata().outputs()) {
                outputs.add(new InferRequest.RequestedOutput(output.name(), BINARY));
            }
        } else {
            for (InferRequest.RequestedOutput output : request.outputs()) {
                Map<String, Object> parameters = new LinkedHashMap<>(output.parameters());
                parameters.put(OipCodec.BINARY_DATA, true);
                outputs.add(new InferRequest.RequestedOutput(output.name(), parameters));
            }
        }
        return new InferRequest(request.id(), request.parameters(), List.of(), outputs);
    }

    /** A request's own fault (4xx) is the reply; anything else means the tier could not answer. */
    private TierReply refusal(Throwable failure, long start) {
        if (failure instanceof OipException oip && oip.status() >= 400 && oip.status() < 500) {
            return new TierReply(oip.status(), codec.encodeError(oip.getMessage()), -1, millisSince(start));
        }
        TierFailure.Kind kind = failure instanceof OipException oip && oip.status() == 503 ? TierFailure.Kind.BUSY
                : TierFailure.Kind.FAILED;
        throw new TierFailure(kind, "the edge model could not answer: " + failure.getMessage(), failure);
    }

    private static Throwable unwrap(Throwable e) {
        return e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
    }

    private static double millisSince(long start) {
        return (System.nanoTime() - start) / 1e6;
    }
}
