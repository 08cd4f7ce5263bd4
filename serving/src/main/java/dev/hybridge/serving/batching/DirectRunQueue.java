package dev.hybridge.serving.batching;

import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.InferResponse;
import dev.hybridge.oip.OipException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/** Runs each request on its own, on a bounded executor that unbatched models share. */
public final class DirectRunQueue implements RunQueue {

    private final String name;
    private final ExecutorService executor;
    private final Function<InferRequest, InferResponse> runner;
    private final Runnable onRejected;
    private final AtomicInteger pending = new AtomicInteger();

    /**
     * @param executor a bounded executor that throws {@link RejectedExecutionException} when full;
     *                 shared, so closing this queue does not shut it down
     */
    public DirectRunQueue(String name, ExecutorService executor, Function<InferRequest, InferResponse> runner,
                          Runnable onRejected) {
        this.name = name;
        this.executor = executor;
        this.runner = runner;
        this.onRejected = onRejected;
    }

    @Override
    public CompletableFuture<InferResponse> submit(InferRequest request) {
        CompletableFuture<InferResponse> future = new CompletableFuture<>();
        try {
            pending.incrementAndGet();
            executor.execute(() -> {
                InferResponse response;
                try {
                    response = runner.apply(request);
                } catch (RuntimeException | Error e) {
                    pending.decrementAndGet();
                    future.completeExceptionally(e);
                    return;
                }
                // no longer pending before anyone learns the answer, as in DynamicBatcher
                pending.decrementAndGet();
                future.complete(response);
            });
        } catch (RejectedExecutionException e) {
            pending.decrementAndGet();
            onRejected.run();
            future.completeExceptionally(OipException.overloaded("model '" + name
                    + "': run queue is full; retry later"));
        }
        return future;
    }

    @Override
    public int pending() {
        return pending.get();
    }

    @Override
    public void close() {
        // the executor is shared and closed by its owner
    }
}
