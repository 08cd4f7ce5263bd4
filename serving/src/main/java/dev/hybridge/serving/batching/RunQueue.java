package dev.hybridge.serving.batching;

import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.InferResponse;
import java.util.concurrent.CompletableFuture;

/**
 * Where validated requests wait for a model run. Implementations are bounded: when full they
 * fail the returned future at once with a 503, never block the caller and never drop work
 * they have accepted.
 */
public interface RunQueue extends AutoCloseable {

    CompletableFuture<InferResponse> submit(InferRequest request);

    /** Requests accepted and not yet finished. */
    int pending();

    @Override
    void close();
}
