package dev.hybridge.policy;

import java.util.Map;

/**
 * What is known about a request before any stage runs: who sent it, what it asked for and what
 * it carries. Conditions read these as {@code tenant}, {@code device}, {@code parameters},
 * {@code inputs} (input name to shape) and {@code input_bytes}.
 *
 * @param tenant         the tenant the API key belongs to
 * @param device         the sending device, or {@code ""} (from {@code hybridge.device})
 * @param parameters     the request's OIP parameters
 * @param inputShapes    each input's shape, by input name
 * @param inputBytes     the size of the input data, what per-megabyte costs are charged on
 * @param requested      the tier the client asked for ({@code hybridge.route})
 * @param deadlineMillis the request's own deadline ({@code hybridge.deadline_ms}), or 0 for the route's
 */
public record RequestFacts(String tenant, String device, Map<String, Object> parameters,
                           Map<String, long[]> inputShapes, long inputBytes, RequestedRoute requested,
                           long deadlineMillis) {

    public RequestFacts {
        tenant = tenant == null ? "" : tenant;
        device = device == null ? "" : device;
        parameters = parameters == null ? Map.of() : parameters;
        inputShapes = inputShapes == null ? Map.of() : inputShapes;
        requested = requested == null ? RequestedRoute.AUTO : requested;
        if (inputBytes < 0) {
            throw new IllegalArgumentException("inputBytes must be zero or more but was " + inputBytes);
        }
        if (deadlineMillis < 0) {
            throw new IllegalArgumentException("deadlineMillis must be zero or more but was " + deadlineMillis);
        }
    }
}
