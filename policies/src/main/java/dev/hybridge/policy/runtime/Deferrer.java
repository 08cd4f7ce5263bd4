package dev.hybridge.policy.runtime;

import java.util.concurrent.CompletableFuture;

/**
 * Where a route runtime keeps the escalations it could not send ({@link Deferral}): an edge
 * agent's outbox. The gateway has none: its answers never defer.
 */
public interface Deferrer {

    /**
     * Keeps the escalation. Completes once it is durable with the id the caller's answer names,
     * or with null when it was not kept (the outbox full and the route refusing new entries).
     */
    CompletableFuture<String> defer(Deferral deferral);
}
