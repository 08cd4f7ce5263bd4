package dev.hybridge.gateway.pool;

import dev.hybridge.oip.web.OipErrors;

/**
 * A call to a worker that did not produce a usable answer: no connection, a dropped connection,
 * or a 5xx. Counted by the worker's circuit breaker; retried on another worker when
 * {@link #retryable()}.
 */
public final class WorkerFailure extends RuntimeException implements OipErrors.Unavailable {

    private final int status;
    private final boolean retryable;
    private final boolean shed;

    public WorkerFailure(String message, int status, boolean retryable, Throwable cause) {
        this(message, status, retryable, false, cause);
    }

    /** @param shed the worker shed the request (503 with {@code Retry-After}: its queue is full) */
    public WorkerFailure(String message, int status, boolean retryable, boolean shed, Throwable cause) {
        super(message, cause, false, false);
        this.status = status;
        this.retryable = retryable;
        this.shed = shed;
    }

    /**
     * The worker shed the request: it answered 503 with {@code Retry-After} (its queue is full).
     * A healthy worker under load, not a failing one: its breaker does not count it, and the tier
     * is overloaded rather than unavailable.
     */
    public boolean shed() {
        return shed;
    }

    /** The worker's HTTP status, or 0 when there was no response. */
    public int status() {
        return status;
    }

    /**
     * Safe to try on another worker: the worker could not take the request (no connection, 503
     * not ready or queue full). Inference has no side effects, but a timed-out call is not retried:
     * its deadline is spent.
     */
    public boolean retryable() {
        return retryable;
    }
}
