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

    public WorkerFailure(String message, int status, boolean retryable, Throwable cause) {
        super(message, cause, false, false);
        this.status = status;
        this.retryable = retryable;
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
