package dev.hybridge.edge;

import dev.hybridge.policy.runtime.Deferral;
import dev.hybridge.policy.runtime.Deferrer;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's route runtime keeps what it cannot send in the outbox: the caller's answer waits
 * for the commit, then names the entry. An outbox that cannot be written leaves the plain
 * degraded answer (and a log line): the caller is never failed for it.
 */
final class OutboxDeferrer implements Deferrer {

    private static final Logger log = LoggerFactory.getLogger(OutboxDeferrer.class);

    private final Outbox outbox;
    private final Callbacks callbacks;

    OutboxDeferrer(Outbox outbox, Callbacks callbacks) {
        this.outbox = outbox;
        this.callbacks = callbacks;
    }

    @Override
    public CompletableFuture<String> defer(Deferral deferral) {
        var call = deferral.call();
        return outbox.put(call.key(), deferral.route().name(), call.requestId(),
                        call.reason() == null ? null : call.reason().code(),
                        call.edge() == null ? null : call.edge().label(),
                        call.edge() == null ? Double.NaN : call.edge().confidence(),
                        deferral.body(), deferral.jsonLength(), deferral.answer().body(), deferral.route().defer(),
                        callbacks.accepted(deferral.parameters().get(dev.hybridge.oip.RoutingParameters.CALLBACK_URL)),
                        call.trace())
                .exceptionally(e -> {
                    log.warn("Could not keep an escalation of route {} in the outbox: {}", deferral.route().name(),
                            e.getMessage());
                    return null;
                });
    }
}
