package dev.hybridge.gateway.pool;

/**
 * A worker's answer: its status, the binary extension's JSON length ({@code -1} when the body is
 * all JSON) and the body.
 */
public record WorkerResponse(int status, int jsonLength, byte[] body) {

    public boolean ok() {
        return status >= 200 && status < 300;
    }
}
