package dev.hybridge.oip;

/**
 * The routing facts a request and its answer carry, as OIP {@code parameters} and as HTTP
 * headers: every name, once. Clients and edge agents write the request ones; the route runtime
 * writes the answer ones, and whatever reads them (metrics, tests, clients) uses these names.
 */
public final class RoutingParameters {

    // ------------------------------------------------------------------------ request parameters

    /** {@code auto}, {@code edge} or {@code cloud}: the tier the client asks for. */
    public static final String ROUTE = "hybridge.route";
    /** The request's own deadline, in whole milliseconds. */
    public static final String DEADLINE_MS = "hybridge.deadline_ms";
    /** The sending device. */
    public static final String DEVICE = "hybridge.device";
    /** True on a request an edge agent already answered and sends on for the cloud. */
    public static final String ESCALATION = "hybridge.escalation";
    /**
     * On a request to an edge agent: where to POST the cloud's late answer to an escalation the
     * agent had to keep (its host must be one the agent allows).
     */
    public static final String CALLBACK_URL = "hybridge.callback_url";
    /** On an escalation: the label the edge stage gave. */
    public static final String EDGE_LABEL = "hybridge.edge_label";
    /** On an escalation: how sure the edge stage was (its top probability). */
    public static final String EDGE_CONFIDENCE = "hybridge.edge_confidence";
    /**
     * On an escalation: the same for every sending of one request (the device id and the client's
     * request id, or an id the agent made), so that a request sent twice is answered once.
     */
    public static final String IDEMPOTENCY_KEY = "hybridge.idempotency_key";

    // ------------------------------------------------------------------------ answer parameters

    /** {@code edge} or {@code cloud}: the tier that answered. */
    public static final String TIER = "hybridge.tier";
    /** Why the answer came from where it did (a reason code). */
    public static final String REASON = "hybridge.reason";
    /** What the answer cost, in USD. */
    public static final String COST_USD = "hybridge.cost_usd";
    /** True when a tier that should have answered could not, and another's answer stands. */
    public static final String DEGRADED = "hybridge.degraded";
    /**
     * On an edge agent's degraded answer: the id under which it kept the escalation it could not
     * send, to be sent when the link returns ({@code GET /v2/escalations/{id}} on the agent).
     */
    public static final String ESCALATION_ID = "hybridge.escalation_id";

    // -------------------------------------------------------------------- route metadata

    /** A route's kind, in its metadata's parameters. */
    public static final String KIND = "hybridge.kind";
    /** The model a route's edge stage runs, in its metadata's parameters. */
    public static final String EDGE_MODEL = "hybridge.edge_model";
    /** The model a route's cloud stage runs, in its metadata's parameters. */
    public static final String CLOUD_MODEL = "hybridge.cloud_model";

    // ------------------------------------------------------------------------------- headers

    public static final String TIER_HEADER = "Hybridge-Tier";
    public static final String REASON_HEADER = "Hybridge-Reason";
    public static final String CONFIDENCE_HEADER = "Hybridge-Confidence";
    public static final String COST_HEADER = "Hybridge-Cost-Usd";
    public static final String DEGRADED_HEADER = "Hybridge-Degraded";
    public static final String ESCALATION_ID_HEADER = "Hybridge-Escalation-Id";
    /**
     * On an edge agent's escalation ({@code true}), beside {@link #ESCALATION} in its parameters:
     * what lets the gateway's door put it in the escalations' lane before it reads the body.
     */
    public static final String ESCALATION_HEADER = "Hybridge-Escalation";

    private RoutingParameters() {
    }
}
