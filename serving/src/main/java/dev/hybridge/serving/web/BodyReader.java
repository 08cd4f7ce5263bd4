package dev.hybridge.serving.web;

import dev.hybridge.oip.OipException;
import io.netty.buffer.ByteBuf;
import java.time.Duration;
import java.util.Arrays;
import org.reactivestreams.Subscription;
import reactor.core.publisher.BaseSubscriber;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/**
 * Reads a request body to its end, always: the body itself up to the size limit, and past the
 * limit (or when the answer needs no body at all) the rest is read and dropped, so that the
 * answer can be written at once and a client that writes its whole body before reading still
 * gets to read it. A connection left with unread bytes is reset by the kernel when it closes,
 * and such a client sees the reset, never the 413.
 *
 * <p>Dropping is bounded by time ({@code hybridge.serving.unread-body-linger}), as nginx's
 * lingering close is: after that the connection is closed whatever is still coming. The answer
 * does not say {@code Connection: close}: Reactor Netty would close the connection as soon as the
 * answer is written, with the body still coming, and the client would see the reset. A body
 * read to its end within the linger time leaves the connection open for the next request.
 */
final class BodyReader extends BaseSubscriber<ByteBuf> {

    private final int limit;
    private final String limitName;
    private final Sinks.One<byte[]> body = Sinks.one();
    private final Sinks.Empty<Void> end = Sinks.empty();
    private byte[] bytes;
    private int length;
    private volatile boolean discarding;
    private volatile boolean ended;

    private BodyReader(int expected, int limit, String limitName, boolean discarding) {
        this.limit = limit;
        this.limitName = limitName;
        this.bytes = discarding ? new byte[0] : new byte[expected];
        this.discarding = discarding;
    }

    /** Starts reading a body announced as {@code declared} bytes (-1: not announced). */
    static BodyReader read(Flux<ByteBuf> chunks, long declared, int limit, String limitName) {
        BodyReader reader = new BodyReader(declared >= 0 ? (int) Math.min(declared, limit) : 16 * 1024, limit,
                limitName, false);
        chunks.subscribe(reader);
        return reader;
    }

    /** Starts reading a body only to drop it. */
    static BodyReader discard(Flux<ByteBuf> chunks) {
        BodyReader reader = new BodyReader(0, 0, "", true);
        chunks.subscribe(reader);
        return reader;
    }

    /** The whole body; 413 as soon as it passes the limit, 400 when empty. */
    Mono<byte[]> body() {
        return body.asMono();
    }

    /** Whether the client has sent the whole body. */
    boolean ended() {
        return ended;
    }

    /**
     * True once the client has sent the whole body; false when {@code linger} passes first, and
     * reading stops (the caller then closes the connection).
     */
    Mono<Boolean> end(Duration linger) {
        return end.asMono().thenReturn(true)
                .timeout(linger, Mono.fromSupplier(() -> {
                    dispose();
                    return false;
                }))
                .onErrorReturn(false);
    }

    @Override
    protected void hookOnSubscribe(Subscription subscription) {
        subscription.request(Long.MAX_VALUE);
    }

    @Override
    protected void hookOnNext(ByteBuf chunk) {
        if (discarding) {
            return; // Reactor Netty releases the buffer after this returns
        }
        int n = chunk.readableBytes();
        if ((long) length + n > limit) {
            discarding = true;
            bytes = null;
            body.tryEmitError(OipException.bodyTooLarge(limit, limitName));
            return;
        }
        if (length + n > bytes.length) {
            bytes = Arrays.copyOf(bytes, (int) Math.min(limit, Math.max((long) bytes.length * 2, length + n)));
        }
        chunk.readBytes(bytes, length, n);
        length += n;
    }

    @Override
    protected void hookOnComplete() {
        ended = true;
        if (!discarding) {
            if (length == 0) {
                body.tryEmitError(OipException.badRequest("the request body is empty; send an OIP inference request"));
            } else {
                body.tryEmitValue(length == bytes.length ? bytes : Arrays.copyOf(bytes, length));
            }
        }
        end.tryEmitEmpty();
    }

    @Override
    protected void hookOnError(Throwable error) {
        ended = true;
        body.tryEmitError(error);
        end.tryEmitEmpty();
    }
}
