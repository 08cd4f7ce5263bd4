package dev.hybridge.policy.runtime;

import dev.hybridge.policy.RoutePolicy;
import java.util.function.Function;

/**
 * An escalation the route could not send now (the cloud unreachable or failing, or too little
 * time left to wait for it), on a route that defers: what an edge agent keeps in its outbox to
 * send when the link returns. The caller gets the edge's answer at once.
 *
 * @param route      the route, whose {@code defer} settings (priority, time to live, overflow) apply
 * @param call       what the escalation is for: its key (shared with any live attempt), reason and the edge's outcome
 * @param body       the cloud stage's request: the request itself, or on split routes the edge's tensor
 * @param jsonLength the binary extension's JSON length of {@code body}, or -1
 * @param answer     the answer the caller gets when the escalation is not kept
 * @param withId     the same answer naming the kept escalation ({@code hybridge.escalation_id})
 * @param parameters the caller's request parameters (a callback address, for one)
 */
public record Deferral(RoutePolicy route, TierCall call, byte[] body, int jsonLength, RouteAnswer answer,
                       Function<String, RouteAnswer> withId, java.util.Map<String, Object> parameters) {
}
