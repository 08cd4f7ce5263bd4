package dev.hybridge.policy.runtime;

/**
 * A tier could not answer: a failure of the tier, not of the request, which the route falls
 * back from (the cloud failed: the edge's answer stands; the edge failed: the cloud may answer).
 */
public final class TierFailure extends RuntimeException {

    /** How the tier failed. */
    public enum Kind {
        /** No worker could be reached, or none is known. */
        UNREACHABLE,
        /** A worker answered with a server error. */
        FAILED,
        /** No answer within the time left. */
        TIMEOUT,
        /** Every worker's circuit breaker is open. */
        CIRCUIT_OPEN,
        /**
         * The tier sheds load: its admission gate or bulkhead refused the call, or its workers
         * answered 503 with {@code Retry-After} (a queue full). Not a sign of a sick tier.
         */
        BUSY
    }

    private final Kind kind;

    public TierFailure(Kind kind, String message, Throwable cause) {
        super(message, cause, false, false);
        this.kind = kind;
    }

    public TierFailure(Kind kind, String message) {
        this(kind, message, null);
    }

    public Kind kind() {
        return kind;
    }

    /** What a client is told of it. */
    public String describe() {
        return switch (kind) {
            case TIMEOUT -> "no answer in time";
            case CIRCUIT_OPEN -> "circuit breaker open";
            case BUSY -> "overloaded: " + getMessage();
            default -> getMessage();
        };
    }
}
