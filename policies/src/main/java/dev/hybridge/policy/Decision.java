package dev.hybridge.policy;

/**
 * What to do with a request next, and why. Decisions are shared constants: deciding allocates
 * nothing.
 */
public final class Decision {

    /** The next step for the caller. */
    public enum Action {
        /** Run the edge stage, then ask {@link RouteEngine#afterEdge}. */
        RUN_EDGE,
        /** Answer with the edge stage's result. */
        ANSWER_AT_EDGE,
        /** Send the request (or, on split routes, the edge's output tensor) to the cloud stage. */
        ESCALATE,
        /** Skip the edge: the cloud stage answers from the request itself. */
        GO_CLOUD,
        /** Refuse the request: 429 when a budget is spent, 403 when the tenant may not use the tier. */
        REJECT
    }

    private static final Decision[][][] ALL = new Decision[Action.values().length][Reason.values().length][2];

    static {
        for (Action action : Action.values()) {
            for (Reason reason : Reason.values()) {
                ALL[action.ordinal()][reason.ordinal()][0] = new Decision(action, reason, false);
                ALL[action.ordinal()][reason.ordinal()][1] = new Decision(action, reason, true);
            }
        }
    }

    private final Action action;
    private final Reason reason;
    private final boolean shadow;

    private Decision(Action action, Reason reason, boolean shadow) {
        this.action = action;
        this.reason = reason;
        this.shadow = shadow;
    }

    public static Decision of(Action action, Reason reason) {
        return ALL[action.ordinal()][reason.ordinal()][0];
    }

    /** An edge answer whose request is also sent to the cloud, in the background, for comparison. */
    public static Decision withShadowSample(Reason reason) {
        return ALL[Action.ANSWER_AT_EDGE.ordinal()][reason.ordinal()][1];
    }

    public Action action() {
        return action;
    }

    public Reason reason() {
        return reason;
    }

    /** Also send the request to the cloud, without waiting for it or changing the answer. */
    public boolean shadow() {
        return shadow;
    }

    @Override
    public String toString() {
        return action + "(" + reason.code() + (shadow ? ", shadow sample" : "") + ")";
    }
}
