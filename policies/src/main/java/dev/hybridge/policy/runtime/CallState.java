package dev.hybridge.policy.runtime;

import dev.hybridge.oip.InferResponse;
import dev.hybridge.policy.Decision;
import dev.hybridge.policy.EdgeOutcome;
import dev.hybridge.policy.Reason;

/**
 * Where one request stands: immutable, a new one at every step.
 *
 * @param phase        which call is in flight
 * @param before       the first decision (the edge is run on it), or null
 * @param reason       why the call in flight was made (the answer's reason if it answers)
 * @param edgeAnswer   the edge's answer, kept while the cloud is asked, to fall back on; or null
 * @param edgeFailure  why the edge tier failed, or null
 * @param cloudFailure why the cloud tier failed, or null
 * @param costUsd      what the request has cost so far
 * @param sentBytes    the size of the body in flight to the cloud (what it is charged on)
 * @param callStarted  when the call in flight started
 */
record CallState(Phase phase, Decision before, Reason reason, EdgeAnswer edgeAnswer, TierFailure edgeFailure,
                 TierFailure cloudFailure, double costUsd, long sentBytes, long callStarted) {

    /** Which tier call is in flight, and so what its reply means. */
    enum Phase {
        /** The edge stage, as the route's first step. */
        EDGE,
        /** The cloud after the edge answered: the edge's answer is the fallback. */
        CLOUD_AFTER_EDGE,
        /** The cloud before the edge (a hard request, the client's wish, a cloud-only route). */
        CLOUD_FIRST,
        /** The cloud because the edge failed. */
        CLOUD_INSTEAD,
        /** The edge because the cloud, asked first, failed: its answer is degraded. */
        EDGE_INSTEAD,
        /** The cloud for an edge agent's escalation. */
        ESCALATION
    }

    /** The edge stage's answer and what routing reads of it. */
    record EdgeAnswer(InferResponse response, EdgeOutcome outcome) {
    }

    static CallState start() {
        return new CallState(null, null, null, null, null, null, 0, 0, 0);
    }

    CallState calling(Phase next, Reason why, long sent, long now) {
        return new CallState(next, before, why, edgeAnswer, edgeFailure, cloudFailure, costUsd, sent, now);
    }

    CallState deciding(Decision first) {
        return new CallState(phase, first, reason, edgeAnswer, edgeFailure, cloudFailure, costUsd, sentBytes, callStarted);
    }

    CallState withEdgeAnswer(EdgeAnswer answer) {
        return new CallState(phase, before, reason, answer, edgeFailure, cloudFailure, costUsd, sentBytes, callStarted);
    }

    CallState withEdgeFailure(TierFailure failure) {
        return new CallState(phase, before, reason, edgeAnswer, failure, cloudFailure, costUsd, sentBytes, callStarted);
    }

    CallState withCloudFailure(TierFailure failure) {
        return new CallState(phase, before, reason, edgeAnswer, edgeFailure, failure, costUsd, sentBytes, callStarted);
    }

    CallState charged(double usd) {
        return new CallState(phase, before, reason, edgeAnswer, edgeFailure, cloudFailure, costUsd + usd, sentBytes,
                callStarted);
    }
}
