package dev.hybridge.gateway;

import dev.hybridge.oip.OipException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The one place the gateway turns a failure into an OIP error status and message. */
final class OipErrors {

    private static final Logger log = LoggerFactory.getLogger(OipErrors.class);

    private OipErrors() {
    }

    /** The OIP error a failure answers with; a fault of this program (500) is logged with its stack. */
    static OipException of(Throwable failure) {
        Throwable e = failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
        if (e instanceof OipException known) {
            return known;
        }
        if (e instanceof TimeoutException) {
            return new OipException(504, "no answer in time");
        }
        if (PoolTier.isTierFailure(e)) {
            return OipException.unavailable("no worker can answer: " + e.getMessage());
        }
        log.error("Unexpected failure serving a request", e);
        return new OipException(500, "internal error: " + e.getClass().getSimpleName()
                + (e.getMessage() == null ? "" : ": " + e.getMessage()));
    }
}
