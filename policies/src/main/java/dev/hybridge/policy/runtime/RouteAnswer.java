package dev.hybridge.policy.runtime;

/**
 * What the client gets for one request: the outcome, and the body as it goes on the wire.
 *
 * @param jsonLength the binary extension's JSON length, or -1 when the body is all JSON
 */
public record RouteAnswer(RouteOutcome outcome, byte[] body, int jsonLength) {
}
