package dev.hybridge.policy.runtime;

/** What the runtime does next for a request. */
sealed interface Step {

    /** Call the edge stage with this request body. */
    record CallEdge(byte[] body, int jsonLength) implements Step {
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
