package dev.hybridge.policy.runtime;

import dev.hybridge.oip.OipCodec;
import java.util.List;

/** What the runtime does next for a request. */
sealed interface Step {

    /**
     * Call the edge stage with this request body; {@code outputs}: those the route needs when the
     * body names none and the edge runs in this process ({@link TierCall#outputs}), else empty.
     */
    record CallEdge(byte[] body, int jsonLength, List<String> outputs) implements Step {

        CallEdge(OipCodec.Encoded request) {
            this(request.body(), request.jsonLength(), List.of());
        }
    }

    /** Call the cloud stage with this request body (the request itself, or on split routes the edge's tensor). */
    record CallCloud(byte[] body, int jsonLength) implements Step {
    }

    /**
     * Answer the client. With {@code shadowOf}, the edge's outcome behind the answer: also send
     * the request to the cloud in the background and count whether its label agrees, without
     * waiting for it. With {@code deferral}, an escalation that could not be sent: keep it (where
     * the runtime has a {@link Deferrer}) before answering, and name it in the answer.
     */
    record Finish(RouteAnswer answer, dev.hybridge.policy.EdgeOutcome shadowOf, Deferral deferral) implements Step {

        Finish(RouteAnswer answer, dev.hybridge.policy.EdgeOutcome shadowOf) {
            this(answer, shadowOf, null);
        }
    }
}
