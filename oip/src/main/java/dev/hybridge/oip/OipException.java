package dev.hybridge.oip;

/**
 * A failure that maps to an HTTP status and an OIP error body {@code {"error": "..."}}.
 * The message is shown to the caller, so it says what was wrong and what was expected.
 */
public class OipException extends RuntimeException {

    private final int status;

    public OipException(int status, String message) {
        super(message, null, false, false);
        this.status = status;
    }

    public OipException(int status, String message, Throwable cause) {
        super(message, cause, false, false);
        this.status = status;
    }

    public int status() {
        return status;
    }

    public static OipException badRequest(String message) {
        return new OipException(400, message);
    }

    public static OipException notFound(String message) {
        return new OipException(404, message);
    }

    public static OipException payloadTooLarge(String message) {
        return new OipException(413, message);
    }

    /** 413 for a request body over the size limit, naming the setting that sets it. */
    public static OipException bodyTooLarge(long limit, String limitName) {
        return payloadTooLarge("request body is larger than the limit of " + limit + " bytes (" + limitName + ")");
    }

    public static OipException unsupportedMediaType(String message) {
        return new OipException(415, message);
    }

    /** The server cannot take the request now (not ready, shutting down): 503, safe to retry later. */
    public static OipException unavailable(String message) {
        return new OipException(503, message);
    }

    /**
     * The server sheds load (a queue is full): 503 with {@code Retry-After}, so that a client, or
     * a gateway in front, can tell a busy server from a sick one.
     */
    public static OipException overloaded(String message) {
        return new Overloaded(message, 1);
    }

    /** What a refusal tells the client to wait, in seconds ({@code Retry-After}); 0 for none. */
    public long retryAfterSeconds() {
        return 0;
    }

    /** A 503 for load shed, with the seconds to wait. */
    private static final class Overloaded extends OipException {
        private final long retryAfterSeconds;

        Overloaded(String message, long retryAfterSeconds) {
            super(503, message);
            this.retryAfterSeconds = retryAfterSeconds;
        }

        @Override
        public long retryAfterSeconds() {
            return retryAfterSeconds;
        }
    }
}
