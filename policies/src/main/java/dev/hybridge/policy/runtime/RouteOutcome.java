package dev.hybridge.policy.runtime;

import static dev.hybridge.oip.ClassifierParameters.CONFIDENCE;
import static dev.hybridge.oip.RoutingParameters.CONFIDENCE_HEADER;
import static dev.hybridge.oip.RoutingParameters.COST_HEADER;
import static dev.hybridge.oip.RoutingParameters.COST_USD;
import static dev.hybridge.oip.RoutingParameters.DEGRADED;
import static dev.hybridge.oip.RoutingParameters.DEGRADED_HEADER;
import static dev.hybridge.oip.RoutingParameters.ESCALATION_ID;
import static dev.hybridge.oip.RoutingParameters.ESCALATION_ID_HEADER;
import static dev.hybridge.oip.RoutingParameters.REASON;
import static dev.hybridge.oip.RoutingParameters.REASON_HEADER;
import static dev.hybridge.oip.RoutingParameters.ROUTE;
import static dev.hybridge.oip.RoutingParameters.TIER;
import static dev.hybridge.oip.RoutingParameters.TIER_HEADER;

import dev.hybridge.policy.Reason;
import dev.hybridge.policy.Tier;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Where and why one request was answered: what the answer's parameters and headers say, and
 * what metrics are tagged with. This is the one place that turns an outcome into
 * {@code hybridge.*} parameters and {@code Hybridge-*} headers.
 *
 * @param route      the route's name
 * @param tier       the tier whose answer the client gets, or null when none answered
 * @param reason     why, or null for a tier's own refusal of the request passed on
 * @param confidence the answering model's confidence, or null when it reports none
 * @param costUsd    what the request cost, in USD, to the nano-dollar
 * @param degraded   whether a tier that should have answered could not, and another's answer stands
 * @param status       the HTTP status of the answer
 * @param escalationId on an edge agent's degraded answer, the id of the escalation it kept to send later; else null
 * @param retryAfterSeconds on a refusal for overload, how long the client should wait before it asks again
 *                          ({@code Retry-After}); else 0
 */
public record RouteOutcome(String route, Tier tier, Reason reason, Double confidence, double costUsd,
                           boolean degraded, int status, String escalationId, long retryAfterSeconds) {

    public RouteOutcome {
        costUsd = Math.round(costUsd * 1e9) / 1e9; // sums of per-request and per-megabyte prices carry binary noise
    }

    public RouteOutcome(String route, Tier tier, Reason reason, Double confidence, double costUsd, boolean degraded,
                        int status) {
        this(route, tier, reason, confidence, costUsd, degraded, status, null, 0);
    }

    public RouteOutcome(String route, Tier tier, Reason reason, Double confidence, double costUsd, boolean degraded,
                        int status, String escalationId) {
        this(route, tier, reason, confidence, costUsd, degraded, status, escalationId, 0);
    }

    public RouteOutcome withEscalationId(String id) {
        return new RouteOutcome(route, tier, reason, confidence, costUsd, degraded, status, id, retryAfterSeconds);
    }

    /** The answer's routing parameters, added to the answering model's own. */
    void writeParameters(Map<String, Object> parameters) {
        if (tier != null) {
            parameters.put(TIER, tier.wire());
        }
        if (reason != null) {
            parameters.put(REASON, reason.code());
        }
        if (confidence != null) {
            parameters.put(CONFIDENCE, confidence);
        }
        parameters.put(COST_USD, costUsd);
        parameters.put(DEGRADED, degraded);
        if (escalationId != null) {
            parameters.put(ESCALATION_ID, escalationId);
        }
    }

    /** Where and why, as a request span's attributes: the route and the answer's routing parameters, as text. */
    public Map<String, String> attributes() {
        Map<String, Object> parameters = new LinkedHashMap<>();
        parameters.put(ROUTE, route);
        writeParameters(parameters);
        Map<String, String> attributes = new LinkedHashMap<>();
        parameters.forEach((name, value) -> attributes.put(name, String.valueOf(value)));
        return attributes;
    }

    /** The routing headers, on every answer: what is known of it. */
    public Map<String, String> headers() {
        Map<String, String> headers = new LinkedHashMap<>();
        if (tier != null) {
            headers.put(TIER_HEADER, tier.wire());
        }
        if (reason != null) {
            headers.put(REASON_HEADER, reason.code());
        }
        if (confidence != null) {
            headers.put(CONFIDENCE_HEADER, Double.toString(confidence));
        }
        headers.put(COST_HEADER, Double.toString(costUsd));
        if (status == 200) {
            headers.put(DEGRADED_HEADER, Boolean.toString(degraded));
        }
        if (escalationId != null) {
            headers.put(ESCALATION_ID_HEADER, escalationId);
        }
        if (retryAfterSeconds > 0) {
            headers.put("Retry-After", Long.toString(retryAfterSeconds));
        }
        return headers;
    }
}
