package dev.hybridge.policy;

/**
 * Why a request was answered where it was. The code is what responses carry in
 * {@code hybridge.reason} and what metrics and logs are tagged with (a fixed, small set).
 */
public enum Reason {
    /** The edge was confident enough (cascade, split with early exit). */
    CONFIDENT("confident"),
    /** The edge's confidence was under the threshold, or the escalation condition held. */
    LOW_CONFIDENCE("low_confidence"),
    /** A rule marked the request hard before the edge ran. */
    HARD_BY_RULE("hard_by_rule"),
    /** A split route: the cloud finishes what the edge began. */
    SPLIT("split"),
    EDGE_ONLY("edge_only"),
    CLOUD_ONLY("cloud_only"),
    /** Answered at the edge; a sample was sent on to the cloud for comparison. */
    SHADOW("shadow"),
    /** The client asked for a tier with {@code hybridge.route}. */
    CLIENT_ASKED("client_asked"),
    /** The cloud's latency estimate does not fit the time left before the deadline. */
    DEADLINE_TOO_TIGHT("deadline_too_tight"),
    /** The tenant's budget for the current window is spent. */
    BUDGET_EXHAUSTED("budget_exhausted"),
    /** The client asked for a tier its tenant may not use. */
    NOT_ALLOWED("not_allowed"),
    /** The cloud failed, timed out or its circuit is open: the edge answer stands, degraded. */
    CLOUD_UNAVAILABLE("cloud_unavailable"),
    /** The edge tier failed: the cloud answered instead. */
    EDGE_UNAVAILABLE("edge_unavailable"),
    /**
     * A tier the request needed sheds load (its admission gate refused, or its workers did), or the
     * program's own door did: refused at once with 503 and {@code Retry-After}; or, after the edge
     * answered, the edge's answer stands, degraded.
     */
    OVERLOADED("overloaded");

    private final String code;

    Reason(String code) {
        this.code = code;
    }

    public String code() {
        return code;
    }
}
