package dev.hybridge.policy.runtime;

import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * Gives an escalation sent more than once (an edge agent's replay after a lost answer or a crash)
 * one effect: the first sending runs, later ones get its answer without a cloud call and without
 * being charged again. Keys are an escalation's {@code hybridge.idempotency_key}, scoped by the
 * caller's tenant and the route.
 */
public interface Deduplicator {

    /**
     * The answer recorded under {@code key}, or the one {@code work} gives, recorded when it is a
     * success. Sendings of one key at the same time share one run.
     */
    CompletableFuture<RouteAnswer> once(String key, Supplier<CompletableFuture<RouteAnswer>> work);
}
