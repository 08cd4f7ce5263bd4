package dev.hybridge.gateway;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The request bytes the gateway holds at once ({@code hybridge.gateway.max-buffered-request-bytes}):
 * a request's body is reserved before it is read (its declared length, or as it grows when it
 * has none) and given back when the request is answered. With the heap sized for it, no load can
 * make the gateway hold more request bodies than its memory allows.
 */
final class BodyBudget {

    private final long limit;
    private final AtomicLong held = new AtomicLong();

    BodyBudget(long limit) {
        this.limit = limit;
    }

    /** Takes {@code bytes} of the budget; false (nothing taken) when they do not fit. */
    boolean tryReserve(long bytes) {
        long now;
        do {
            now = held.get();
            if (now + bytes > limit) {
                return false;
            }
        } while (!held.compareAndSet(now, now + bytes));
        return true;
    }

    void release(long bytes) {
        held.addAndGet(-bytes);
    }

    long held() {
        return held.get();
    }

    long limit() {
        return limit;
    }

    /** Why a request is refused: its body would take the bytes held at once over the limit. */
    String refusal() {
        return "overloaded: the request bodies held at once would go over " + limit
                + " bytes (hybridge.gateway.max-buffered-request-bytes); try again later";
    }

    /**
     * A body that outgrew the budget while it was read (one sent without a length, growing):
     * refused as any other request over the budget, with the route's {@code Retry-After}.
     */
    static final class Exceeded extends RuntimeException {
        Exceeded(String message) {
            super(message, null, false, false);
        }
    }
}
