package dev.hybridge.policy.runtime;

/**
 * A tier's reply to an inference request.
 *
 * @param status     the HTTP status: 200, or a 4xx for the request's own fault
 * @param body       the OIP answer or error body
 * @param jsonLength the binary extension's JSON length, or -1 when the body is all JSON
 * @param millis     how long the call took, for the cloud's latency estimate
 */
public record TierReply(int status, byte[] body, int jsonLength, double millis) {

    public boolean ok() {
        return status == 200;
    }
}
