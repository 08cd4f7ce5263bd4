package dev.hybridge.oip.web;

import dev.hybridge.oip.OipException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place a failure becomes an OIP error status and message, for every program and every
 * endpoint: an {@link OipException} answers as it says; a {@link TimeoutException} is 504; a
 * failure that says its service is {@link Unavailable} is 503; anything else is a fault of this
 * program, 500, logged with its stack.
 */
public final class OipErrors {

    private static final Logger log = LoggerFactory.getLogger(OipErrors.class);

    /**
     * A failure of something this program depends on (a worker, a tier, a link) rather than of the
     * request or of this program: the client may try again later (503).
     */
    public interface Unavailable {
    }

    private OipErrors() {
    }

    /** The OIP error a failure answers with. */
    public static OipException of(Throwable failure) {
        Throwable e = unwrap(failure);
        if (e instanceof OipException known) {
            if (known.status() >= 500 && known.status() != 503 && known.status() != 504) {
                log.warn("Answering {}: {}", known.status(), known.getMessage());
            }
            return known;
        }
        if (e instanceof TimeoutException) {
            return new OipException(504, "no answer in time" + (e.getMessage() == null ? "" : ": " + e.getMessage()));
        }
        if (e instanceof Unavailable) {
            return OipException.unavailable("no worker can answer: " + e.getMessage());
        }
        log.error("Unexpected failure serving a request", e);
        return new OipException(500, "internal error: " + e.getClass().getSimpleName()
                + (e.getMessage() == null ? "" : ": " + e.getMessage()));
    }

    private static Throwable unwrap(Throwable failure) {
        Throwable e = failure;
        while ((e instanceof CompletionException || e instanceof ExecutionException) && e.getCause() != null) {
            e = e.getCause();
        }
        return e;
    }
}
