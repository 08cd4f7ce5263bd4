package dev.hybridge.policy.runtime;

import dev.hybridge.policy.EdgeOutcome;
import dev.hybridge.policy.Reason;
import java.util.List;

/**
 * What a tier call is for, beside the request itself: a worker pool needs none of it, but an edge
 * agent's uplink tells the gateway all of it with an escalation, so that the gateway applies its
 * fleet-wide limits to the route and the reason the agent decided on.
 *
 * @param route     the route the request runs on
 * @param requestId the client's request id, or null when it gave none
 * @param key       the request's key: the client's id, or one this process made when it gave none; the
 *                  same for every call one request makes (an escalation and its later replay share it)
 * @param tenant    the caller's tenant
 * @param device    the device the request came from, or {@code ""}
 * @param reason    why this tier is called (for the cloud: low confidence, hard by rule, ...)
 * @param edge      what the edge stage concluded, when it has answered; else null
 * @param trace     the request's trace context as a W3C {@code traceparent} value, the parent of
 *                  the call's own span; null when it has none
 * @param outputs   the outputs the route needs from this call when its body names none (an edge in
 *                  this process, given the request as it came, answers only these); empty: every
 *                  output, or those the body names
 */
public record TierCall(String route, String requestId, String key, String tenant, String device, Reason reason,
                       EdgeOutcome edge, String trace, List<String> outputs) {

    public TierCall {
        outputs = List.copyOf(outputs);
    }

    public TierCall(String route, String requestId, String key, String tenant, String device, Reason reason,
                    EdgeOutcome edge, String trace) {
        this(route, requestId, key, tenant, device, reason, edge, trace, List.of());
    }

    public TierCall(String route, String requestId, String key, String tenant, String device, Reason reason,
                    EdgeOutcome edge) {
        this(route, requestId, key, tenant, device, reason, edge, null);
    }
}
