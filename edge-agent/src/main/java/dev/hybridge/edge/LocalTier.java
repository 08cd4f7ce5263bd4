package dev.hybridge.edge;

import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.OipException;
import dev.hybridge.policy.RoutePolicy;
import dev.hybridge.policy.runtime.TierClient;
import dev.hybridge.policy.runtime.TierFailure;
import dev.hybridge.policy.runtime.TierReply;
import dev.hybridge.serving.model.ModelHost;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * The edge tier of the agent's routes: its own models, in this process (no HTTP hop). A request
 * the model refuses (4xx) is the reply, as a worker's would be; a model that cannot take it
 * (still loading, failed, queue full: 503) is a {@link TierFailure}.
 */
final class LocalTier implements TierClient {

    private final ModelHost host;
    private final OipCodec codec;

    LocalTier(ModelHost host, OipCodec codec) {
        this.host = host;
        this.codec = codec;
    }

    @Override
    public CompletableFuture<TierReply> infer(RoutePolicy.Stage stage, byte[] body, int jsonLength, long deadlineNanos) {
        long start = System.nanoTime();
        try {
            InferRequest request = codec.decodeRequest(body, jsonLength);
            return host.infer(stage.model(), stage.version(), request).handle((answer, failure) -> {
                if (failure != null) {
                    return refusal(unwrap(failure), start);
                }
                OipCodec.Encoded encoded = codec.encodeResponse(answer, request);
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
    public CompletableFuture<byte[]> metadata(RoutePolicy.Stage stage, long deadlineNanos) {
        try {
            return CompletableFuture.completedFuture(codec.encodeModelMetadata(
                    host.require(stage.model(), stage.version()).model().metadata(), Map.of()));
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
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
