package dev.hybridge.policy.runtime;

import dev.hybridge.policy.RoutePolicy;
import java.util.concurrent.CompletableFuture;

/**
 * How the route runtime reaches one tier (the edge or the cloud): asynchronous calls, each
 * bounded by a deadline. The gateway's implementation calls its worker pools; an edge agent's
 * calls its own models for the edge and the gateway for the cloud.
 */
public interface TierClient {

    /**
     * Sends an OIP inference request to the stage's model.
     *
     * @param jsonLength the binary extension's JSON length, or -1 when the body is all JSON
     * @return the tier's reply, whatever its status (a 4xx is the request's own fault); completes
     *         exceptionally with a {@link TierFailure} when the tier could not answer
     */
    CompletableFuture<TierReply> infer(RoutePolicy.Stage stage, byte[] body, int jsonLength, long deadlineNanos);

    /**
     * {@link #infer(RoutePolicy.Stage, byte[], int, long)}, told what the call is for: the route
     * runtime calls this one. A tier that needs only the request (a worker pool) keeps the default.
     */
    default CompletableFuture<TierReply> infer(RoutePolicy.Stage stage, byte[] body, int jsonLength, long deadlineNanos,
                                               TierCall call) {
        return infer(stage, body, jsonLength, deadlineNanos);
    }

    /**
     * Whether the tier runs its models in this process (an edge agent's own), answering as binary
     * data of its own accord: the route runtime then passes it requests as they came, with the
     * outputs the route needs in {@link TierCall#outputs} when the request names none, instead of
     * writing the request again to name them.
     */
    default boolean inProcess() {
        return false;
    }

    /**
     * For a tier whose models run in this process ({@link #inProcess}): runs a request already
     * decoded and answers it decoded, with none of the bytes between (an edge agent's background
     * runs of its own model). Completes exceptionally when the model cannot take it; a tier
     * elsewhere, with an {@link UnsupportedOperationException}.
     */
    default CompletableFuture<dev.hybridge.oip.InferResponse> inferDecoded(RoutePolicy.Stage stage,
                                                                          dev.hybridge.oip.InferRequest request) {
        return CompletableFuture.failedFuture(new UnsupportedOperationException("the tier's models are not in this process"));
    }

    /**
     * Whether this tier has anywhere to send calls. A gateway whose devices run the edge stage
     * themselves has no edge workers: its routes are described by the stages it can reach.
     */
    default boolean configured() {
        return true;
    }

    /**
     * The stage model's OIP metadata ({@code GET /v2/models/{m}}), as the tier sends it;
     * completes exceptionally when it cannot be had.
     */
    CompletableFuture<byte[]> metadata(RoutePolicy.Stage stage, long deadlineNanos);

    /**
     * {@link #metadata(RoutePolicy.Stage, long)} for a stage of {@code route}: the route
     * runtime calls this one. A tier reached through another gateway answers with the route's own
     * metadata there, whose outputs are the ones every answering stage gives.
     */
    default CompletableFuture<byte[]> metadata(RoutePolicy route, RoutePolicy.Stage stage, long deadlineNanos) {
        return metadata(stage, deadlineNanos);
    }
}
