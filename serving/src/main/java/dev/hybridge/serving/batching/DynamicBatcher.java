package dev.hybridge.serving.batching;

import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.InferResponse;
import dev.hybridge.oip.OipException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiPredicate;
import java.util.function.Function;
import java.util.function.LongSupplier;
import java.util.function.ToIntFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Merges queued requests into one model run. A batch starts with the oldest waiting request
 * and takes others (that can be stacked with it) until it holds {@code maxBatchSize} rows or
 * the oldest has waited {@code maxQueueDelay}. Responses are split back per request; when a
 * run fails, every request in it fails with that error. The queue is bounded: a request that
 * finds it full is refused at once with 503.
 */
public final class DynamicBatcher implements RunQueue {

    private static final Logger log = LoggerFactory.getLogger(DynamicBatcher.class);

    /** What the batcher reports; called on its worker thread. */
    public interface Listener {
        void batchRan(int requests, int rows, long oldestWaitNanos);

        void rejected();

        Listener NONE = new Listener() {
            @Override
            public void batchRan(int requests, int rows, long oldestWaitNanos) {
            }

            @Override
            public void rejected() {
            }
        };
    }

    private record Pending(InferRequest request, CompletableFuture<InferResponse> future, long enqueuedNanos,
                           int rows) {
    }

    private final String name;
    private final int maxBatchSize;
    private final long maxQueueDelayNanos;
    private final int maxQueueSize;
    private final BlockingQueue<Pending> queue;
    private final Function<List<InferRequest>, List<InferResponse>> runner;
    private final BiPredicate<InferRequest, InferRequest> stackable;
    private final ToIntFunction<InferRequest> rowsOf;
    private final LongSupplier nanoClock;
    private final Listener listener;
    private final AtomicInteger pending = new AtomicInteger();
    private final Thread worker;
    private volatile boolean running = true;
    private Pending carried; // taken from the queue but not stackable with the last batch; only the worker touches it

    /**
     * @param runner    runs a list of stackable requests and returns their responses in order
     * @param stackable whether two requests can share a run
     * @param rowsOf    the rows a request contributes
     * @param nanoClock the clock the delay budget is measured on ({@code System::nanoTime} outside tests)
     */
    public DynamicBatcher(String name, int maxBatchSize, Duration maxQueueDelay, int maxQueueSize,
                          Function<List<InferRequest>, List<InferResponse>> runner,
                          BiPredicate<InferRequest, InferRequest> stackable, ToIntFunction<InferRequest> rowsOf,
                          LongSupplier nanoClock, Listener listener) {
        if (maxBatchSize < 1) {
            throw new IllegalArgumentException("maxBatchSize must be at least 1 but was " + maxBatchSize);
        }
        if (maxQueueSize < 1) {
            throw new IllegalArgumentException("maxQueueSize must be at least 1 but was " + maxQueueSize);
        }
        if (maxQueueDelay.isNegative()) {
            throw new IllegalArgumentException("maxQueueDelay must not be negative but was " + maxQueueDelay);
        }
        this.name = name;
        this.maxBatchSize = maxBatchSize;
        this.maxQueueDelayNanos = maxQueueDelay.toNanos();
        this.maxQueueSize = maxQueueSize;
        this.queue = new ArrayBlockingQueue<>(maxQueueSize);
        this.runner = runner;
        this.stackable = stackable;
        this.rowsOf = rowsOf;
        this.nanoClock = nanoClock;
        this.listener = listener;
        this.worker = new Thread(this::work, "batcher-" + name);
        this.worker.setDaemon(true);
        this.worker.start();
    }

    @Override
    public CompletableFuture<InferResponse> submit(InferRequest request) {
        CompletableFuture<InferResponse> future = new CompletableFuture<>();
        if (!running) {
            future.completeExceptionally(OipException.unavailable("model '" + name + "' is shutting down"));
            return future;
        }
        Pending p = new Pending(request, future, nanoClock.getAsLong(), rowsOf.applyAsInt(request));
        if (!queue.offer(p)) {
            listener.rejected();
            future.completeExceptionally(OipException.overloaded("model '" + name + "': batch queue is full ("
                    + maxQueueSize + " requests waiting); retry later"));
            return future;
        }
        pending.incrementAndGet();
        return future;
    }

    @Override
    public int pending() {
        return pending.get();
    }

    private void work() {
        while (running) {
            try {
                List<Pending> batch = nextBatch();
                if (!batch.isEmpty()) {
                    run(batch);
                }
            } catch (InterruptedException e) {
                if (!running) {
                    break;
                }
            } catch (RuntimeException | Error e) {
                log.error("Batcher for model {} hit an unexpected error; it keeps running", name, e);
            }
        }
        failAll(OipException.unavailable("model '" + name + "' is shutting down"));
    }

    private List<Pending> nextBatch() throws InterruptedException {
        Pending first = carried != null ? carried : queue.take();
        carried = null;
        List<Pending> batch = new ArrayList<>();
        batch.add(first);
        int rows = first.rows();
        long deadline = first.enqueuedNanos() + maxQueueDelayNanos;
        while (rows < maxBatchSize) {
            Pending next = queue.poll();
            if (next == null) {
                long wait = deadline - nanoClock.getAsLong();
                if (wait <= 0) {
                    break;
                }
                next = queue.poll(wait, TimeUnit.NANOSECONDS);
                if (next == null) {
                    break;
                }
            }
            if (rows + next.rows() > maxBatchSize || !stackable.test(first.request(), next.request())) {
                carried = next; // starts the next batch
                break;
            }
            batch.add(next);
            rows += next.rows();
        }
        return batch;
    }

    private void run(List<Pending> batch) {
        List<InferRequest> requests = new ArrayList<>(batch.size());
        int rows = 0;
        for (Pending p : batch) {
            requests.add(p.request());
            rows += p.rows();
        }
        listener.batchRan(batch.size(), rows, nanoClock.getAsLong() - batch.get(0).enqueuedNanos());
        List<InferResponse> responses;
        try {
            responses = runner.apply(requests);
            if (responses.size() != batch.size()) {
                throw new IllegalStateException("runner returned " + responses.size() + " responses for "
                        + batch.size() + " requests");
            }
        } catch (RuntimeException | Error e) {
            pending.addAndGet(-batch.size());
            for (Pending p : batch) {
                p.future().completeExceptionally(e);
            }
            return;
        }
        // no longer pending before anyone learns the answer: whoever waited on it then sees the count without it
        pending.addAndGet(-batch.size());
        for (int i = 0; i < batch.size(); i++) {
            batch.get(i).future().complete(responses.get(i));
        }
    }

    private void failAll(RuntimeException error) {
        List<Pending> left = new ArrayList<>();
        if (carried != null) {
            left.add(carried);
            carried = null;
        }
        queue.drainTo(left);
        for (Pending p : left) {
            p.future().completeExceptionally(error);
            pending.decrementAndGet();
        }
    }

    /** Stops taking requests; those still queued fail with 503. */
    @Override
    public void close() {
        running = false;
        worker.interrupt();
        try {
            worker.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
