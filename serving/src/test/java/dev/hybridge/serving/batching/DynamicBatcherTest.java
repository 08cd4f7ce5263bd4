package dev.hybridge.serving.batching;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.hybridge.oip.Datatype;
import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.InferResponse;
import dev.hybridge.oip.OipException;
import dev.hybridge.oip.Tensor;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The batcher's forming rules. The runner here records which requests ran together; holding
 * the first run open lets the test line requests up in the queue without relying on timing.
 */
class DynamicBatcherTest {

    private static final Duration LONG = Duration.ofHours(1);

    private final List<List<String>> runs = Collections.synchronizedList(new ArrayList<>());
    private final CountDownLatch firstRunStarted = new CountDownLatch(1);
    private final CountDownLatch releaseFirstRun = new CountDownLatch(1);
    private DynamicBatcher batcher;

    @AfterEach
    void close() {
        releaseFirstRun.countDown();
        if (batcher != null) {
            batcher.close();
        }
    }

    /** Echoes each request's id; the first run waits until the test releases it. */
    private final Function<List<InferRequest>, List<InferResponse>> recordingRunner = requests -> {
        runs.add(requests.stream().map(InferRequest::id).toList());
        if (firstRunStarted.getCount() > 0) {
            firstRunStarted.countDown();
            await(releaseFirstRun);
        }
        return requests.stream().map(r -> new InferResponse("m", "1", r.id(), Map.of(), List.of())).toList();
    };

    private DynamicBatcher batcher(int maxBatch, Duration delay, int queue,
                                   Function<List<InferRequest>, List<InferResponse>> runner) {
        batcher = new DynamicBatcher("m", maxBatch, delay, queue, runner,
                (a, b) -> a.inputs().get(0).shape()[1] == b.inputs().get(0).shape()[1],
                r -> (int) r.inputs().get(0).shape()[0], System::nanoTime, DynamicBatcher.Listener.NONE);
        return batcher;
    }

    private static InferRequest request(String id, int rows, int width) {
        return new InferRequest(id, Map.of(), List.of(new Tensor("x", Datatype.FP32, new long[] {rows, width},
                new float[rows * width])), List.of());
    }

    @Test
    void requestsWaitingTogetherRunAsOneBatch() throws Exception {
        batcher(4, Duration.ZERO, 16, recordingRunner);
        CompletableFuture<InferResponse> first = batcher.submit(request("r1", 1, 2));
        await(firstRunStarted);
        List<CompletableFuture<InferResponse>> queued = List.of(batcher.submit(request("r2", 1, 2)),
                batcher.submit(request("r3", 1, 2)), batcher.submit(request("r4", 1, 2)));
        releaseFirstRun.countDown();
        assertThat(first.get(10, TimeUnit.SECONDS).id()).isEqualTo("r1");
        for (int i = 0; i < queued.size(); i++) {
            assertThat(queued.get(i).get(10, TimeUnit.SECONDS).id()).isEqualTo("r" + (i + 2));
        }
        assertThat(runs).containsExactly(List.of("r1"), List.of("r2", "r3", "r4"));
        assertThat(batcher.pending()).isZero();
    }

    @Test
    void aFullBatchRunsWithoutWaitingOutTheDelay() throws Exception {
        batcher(3, LONG, 16, recordingRunner);
        List<CompletableFuture<InferResponse>> sent = List.of(batcher.submit(request("r1", 1, 2)),
                batcher.submit(request("r2", 1, 2)), batcher.submit(request("r3", 1, 2)));
        // with an hour's delay the run would not start if the batcher waited for the delay once full
        await(firstRunStarted);
        releaseFirstRun.countDown();
        CompletableFuture.allOf(sent.toArray(CompletableFuture[]::new)).get(10, TimeUnit.SECONDS);
        assertThat(runs).containsExactly(List.of("r1", "r2", "r3"));
    }

    @Test
    void batchesHoldNoMoreRowsThanTheLimit() throws Exception {
        batcher(4, Duration.ZERO, 16, recordingRunner);
        batcher.submit(request("r1", 1, 2));
        await(firstRunStarted);
        var a = batcher.submit(request("a", 3, 2));
        var b = batcher.submit(request("b", 2, 2)); // 3 + 2 > 4: starts the next batch
        var c = batcher.submit(request("c", 2, 2));
        releaseFirstRun.countDown();
        CompletableFuture.allOf(a, b, c).get(10, TimeUnit.SECONDS);
        assertThat(runs).containsExactly(List.of("r1"), List.of("a"), List.of("b", "c"));
    }

    @Test
    void requestsThatCannotBeStackedRunInSeparateBatchesInOrder() throws Exception {
        batcher(8, Duration.ZERO, 16, recordingRunner);
        batcher.submit(request("r1", 1, 2));
        await(firstRunStarted);
        var narrow = batcher.submit(request("narrow", 1, 2));
        var wide = batcher.submit(request("wide", 1, 5));
        var wide2 = batcher.submit(request("wide2", 1, 5));
        releaseFirstRun.countDown();
        CompletableFuture.allOf(narrow, wide, wide2).get(10, TimeUnit.SECONDS);
        assertThat(runs).containsExactly(List.of("r1"), List.of("narrow"), List.of("wide", "wide2"));
    }

    @Test
    void aFullQueueRefusesAtOnceWith503AndKeepsWhatItAccepted() throws Exception {
        batcher(1, Duration.ZERO, 2, recordingRunner);
        var first = batcher.submit(request("r1", 1, 2));
        await(firstRunStarted);
        var second = batcher.submit(request("r2", 1, 2));
        var third = batcher.submit(request("r3", 1, 2));
        var refused = batcher.submit(request("r4", 1, 2));
        assertThat(refused).isCompletedExceptionally();
        assertThatThrownBy(refused::join).hasCauseInstanceOf(OipException.class)
                .cause().hasMessageContaining("queue is full").extracting(e -> ((OipException) e).status()).isEqualTo(503);
        releaseFirstRun.countDown();
        assertThat(first.get(10, TimeUnit.SECONDS).id()).isEqualTo("r1");
        assertThat(second.get(10, TimeUnit.SECONDS).id()).isEqualTo("r2");
        assertThat(third.get(10, TimeUnit.SECONDS).id()).isEqualTo("r3");
    }

    @Test
    void aFailedRunFailsEveryRequestInItAndTheBatcherCarriesOn() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        batcher(4, Duration.ZERO, 16, requests -> {
            if (started.getCount() > 0) {
                started.countDown();
                await(release);
                return requests.stream().map(r -> new InferResponse("m", "1", r.id(), Map.of(), List.of())).toList();
            }
            if (requests.stream().anyMatch(r -> r.id().startsWith("bad"))) {
                throw new OipException(400, "model failed on this batch");
            }
            return requests.stream().map(r -> new InferResponse("m", "1", r.id(), Map.of(), List.of())).toList();
        });
        batcher.submit(request("r1", 1, 2));
        await(started);
        var bad = batcher.submit(request("bad", 1, 2));
        var sameBatch = batcher.submit(request("ok-but-unlucky", 1, 2));
        release.countDown();
        assertThatThrownBy(() -> bad.get(10, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                .hasMessageContaining("model failed on this batch");
        assertThatThrownBy(() -> sameBatch.get(10, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                .hasMessageContaining("model failed on this batch");
        assertThat(batcher.submit(request("later", 1, 2)).get(10, TimeUnit.SECONDS).id()).isEqualTo("later");
    }

    @Test
    void theDelayIsMeasuredFromTheOldestRequestsArrival() throws Exception {
        // A clock that has already run past the delay when the worker looks at it: the batch closes
        // with what is in the queue instead of waiting for more.
        AtomicLong now = new AtomicLong(0);
        batcher = new DynamicBatcher("m", 8, Duration.ofMillis(5), 16, recordingRunner, (a, b) -> true,
                r -> 1, () -> now.getAndAdd(Duration.ofMillis(10).toNanos()), DynamicBatcher.Listener.NONE);
        batcher.submit(request("r1", 1, 2));
        await(firstRunStarted);
        var r2 = batcher.submit(request("r2", 1, 2));
        releaseFirstRun.countDown();
        assertThat(r2.get(10, TimeUnit.SECONDS).id()).isEqualTo("r2");
        assertThat(runs).containsExactly(List.of("r1"), List.of("r2"));
    }

    @Test
    void closingFailsWhatIsStillQueuedWith503() throws Exception {
        batcher(1, Duration.ZERO, 16, recordingRunner);
        batcher.submit(request("r1", 1, 2));
        await(firstRunStarted);
        var queued = batcher.submit(request("r2", 1, 2));
        batcher.close(); // the run in progress is interrupted; nothing new starts
        assertThatThrownBy(() -> queued.get(10, TimeUnit.SECONDS)).hasCauseInstanceOf(OipException.class)
                .hasMessageContaining("shutting down");
        assertThat(batcher.submit(request("after", 1, 2))).isCompletedExceptionally();
        assertThat(batcher.pending()).isZero();
    }

    @Test
    void settingsAreChecked() {
        assertThatThrownBy(() -> batcher(0, Duration.ZERO, 1, recordingRunner))
                .hasMessage("maxBatchSize must be at least 1 but was 0");
        assertThatThrownBy(() -> batcher(1, Duration.ofMillis(-1), 1, recordingRunner))
                .hasMessageContaining("maxQueueDelay must not be negative");
    }

    private static void await(CountDownLatch latch) {
        try {
            if (!latch.await(10, TimeUnit.SECONDS)) {
                throw new AssertionError("latch not released within 10 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
