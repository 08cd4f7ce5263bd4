package dev.hybridge.gateway;

import dev.hybridge.oip.OipException;
import java.time.Duration;
import java.util.Arrays;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.core.io.buffer.DataBufferUtils;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/**
 * One request body, kept up to the size limit. Past the limit the rest is still read (and
 * dropped) until the client has sent it all, for the linger time at most, and only then is the
 * 413 answered: a client that writes its whole body before reading gets to read it, where a
 * connection closed with bytes still unread would be reset under it. A body still coming after
 * the linger time gets its 413 on a connection that then closes.
 */
final class BoundedBody {

    private final int limit;
    private final BodyBudget budget;
    private final int first;
    private byte[] bytes;
    private int length;
    private boolean over;
    private volatile boolean started;
    private volatile boolean ended;
    private final java.util.concurrent.atomic.AtomicLong reserved = new java.util.concurrent.atomic.AtomicLong();

    /**
     * @param limit         the most bytes kept
     * @param contentLength the body's declared length, or -1: when known, the body is gathered
     *                      in one array of that size, never grown or copied
     * @param budget        the gateway's budget of bytes held at once, reserved before they are
     */
    BoundedBody(int limit, long contentLength, BodyBudget budget) {
        this.limit = limit;
        this.budget = budget;
        this.first = contentLength > 0 ? (int) Math.min(contentLength, limit) : 16 * 1024;
    }

    /** Reserves the body's first array in the budget; false when it does not fit (nothing read, nothing held). */
    boolean reserve() {
        if (!budget.tryReserve(first)) {
            return false;
        }
        reserved.addAndGet(first);
        bytes = new byte[first];
        return true;
    }

    /** Gives back what the body reserved (once the request is answered); more calls do nothing. */
    void release() {
        budget.release(reserved.getAndSet(0));
    }

    /** The whole body; 413 when it is over the limit (once it has ended, or the linger time has passed), 400 when empty. */
    Mono<byte[]> read(Flux<DataBuffer> chunks, Duration linger) {
        Sinks.Empty<Void> overLimit = Sinks.empty();
        return chunks
                .doOnSubscribe(s -> started = true)
                .doOnComplete(() -> ended = true)
                // once over the limit, read on (dropping) for the linger time only
                .takeUntilOther(overLimit.asMono().then(Mono.delay(linger)))
                .doOnNext(chunk -> {
                    try {
                        if (append(chunk)) {
                            overLimit.tryEmitEmpty();
                        }
                    } finally {
                        DataBufferUtils.release(chunk);
                    }
                })
                .then(Mono.fromCallable(this::result));
    }

    /** Whether reading started; {@link #ended} says nothing until it has. */
    boolean started() {
        return started;
    }

    /** Whether the client has sent the whole body. */
    boolean ended() {
        return ended;
    }

    /** Keeps a chunk; true when it is the one that takes the body over the limit. */
    private boolean append(DataBuffer chunk) {
        if (over) {
            return false;
        }
        int n = chunk.readableByteCount();
        if ((long) length + n > limit) {
            over = true;
            bytes = null;
            return true;
        }
        if (length + n > bytes.length) {
            int grown = (int) Math.min(limit, Math.max((long) bytes.length * 2, length + n));
            if (!budget.tryReserve(grown)) { // the old array is held until the copy is made
                throw new BodyBudget.Exceeded(budget.refusal());
            }
            reserved.addAndGet(grown);
            byte[] old = bytes;
            bytes = Arrays.copyOf(bytes, grown);
            budget.release(old.length);
            reserved.addAndGet(-old.length);
        }
        chunk.read(bytes, length, n);
        length += n;
        return false;
    }

    private byte[] result() {
        if (over) {
            throw OipException.bodyTooLarge(limit, HybridgeGatewayFilterFactory.LIMIT_NAME);
        }
        if (length == 0) {
            throw OipException.badRequest("the request body is empty; send an OIP inference request");
        }
        return length == bytes.length ? bytes : Arrays.copyOf(bytes, length);
    }
}
