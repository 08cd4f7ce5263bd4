package dev.hybridge.gateway.pool;

import dev.hybridge.oip.web.OipErrors;
import dev.hybridge.policy.Tier;

/** Every worker of a pool was tried (or there is none). */
public final class NoWorkerException extends RuntimeException implements OipErrors.Unavailable {

    public NoWorkerException(Tier tier, boolean empty) {
        super(empty ? "no " + tier.wire() + " workers are configured or discovered"
                : "every " + tier.wire() + " worker was tried", null, false, false);
    }
}
