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

    /** The server cannot take the request now (not ready, queue full): 503, safe to retry later. */
    public static OipException unavailable(String message) {
        return new OipException(503, message);
    }
}
