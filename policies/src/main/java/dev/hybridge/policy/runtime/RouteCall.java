package dev.hybridge.policy.runtime;

import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.policy.RequestFacts;
import dev.hybridge.policy.RouteEngine;
import dev.hybridge.policy.RoutePolicy;

/**
 * One request on one route, as it came: immutable. What changes as the request goes through
 * the route is in {@link CallState}.
 *
 * @param engine        the route's decisions (thresholds, latency estimate, budgets)
 * @param tenant        the caller's tenant
 * @param request       the request without its data (the body is forwarded as it came)
 * @param body          the request body
 * @param jsonLength    the binary extension's JSON length, or -1
 * @param facts         what the route's conditions read
 * @param signature     the route as one model, or null when its stages could not be asked
 * @param startNanos    when the request arrived
 * @param deadlineNanos when its run ends at the latest: when its answer is due, or for an escalation others may
 *                      share, possibly later ({@link RouteRuntime}'s {@code sharedRunAtLeast})
 * @param key           the request's key ({@link TierCall#key()})
 * @param trace         the request's trace context ({@link TierCall#trace()}), or null
 */
record RouteCall(RouteEngine engine, String tenant, OipCodec.RequestHeader request, byte[] body, int jsonLength,
                 RequestFacts facts, RouteSignatures.Signature signature, long startNanos, long deadlineNanos,
                 String key, String trace) {

    RoutePolicy policy() {
        return engine.policy();
    }

    String route() {
        return engine.policy().name();
    }

    long deadlineMillis() {
        return engine.deadlineMillis(facts);
    }

    /** The request to encode answers for: its id and output choices. */
    InferRequest answerFor() {
        return request.withoutInputs();
    }

    boolean asksFor(String output) {
        return request.outputs().stream().anyMatch(o -> o.name().equals(output));
    }
}
