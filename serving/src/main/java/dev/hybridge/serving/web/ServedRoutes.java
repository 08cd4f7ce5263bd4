package dev.hybridge.serving.web;

import dev.hybridge.oip.web.OipBackend;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.function.UnaryOperator;

/**
 * Routes a serving program answers beside its models (an edge agent runs routes next to the data):
 * a name that is a route is served by the route, under the same OIP paths as a model. A program
 * that has routes provides one bean of this type; {@link InferRoute} and the OIP front consult it
 * before the model host.
 */
public interface ServedRoutes {

    /** The routes' names now (they change when the policies do). */
    Set<String> names();

    /** Runs a request on a route; completes exceptionally with an {@link dev.hybridge.oip.OipException} for one it refuses. */
    CompletableFuture<Answer> infer(String route, byte[] body, int jsonLength);

    /**
     * {@link #infer(String, byte[], int)} within a trace: {@code trace} (a W3C {@code traceparent}
     * value, the request's span) is the parent of the calls the route makes.
     */
    default CompletableFuture<Answer> infer(String route, byte[] body, int jsonLength, String trace) {
        return infer(route, body, jsonLength);
    }

    /**
     * The routes' door, passed before the request's body is read, so that a refusal costs little
     * more than its answer: the request is either refused (the answer to send; its body is read
     * away unused) or given a place, handed to {@link #infer(String, byte[], int, String, Place)}
     * and given back if the request never gets there. {@code header} reads the request's headers.
     * Routes without a door of their own let every request in without a place.
     */
    default Entry enter(String route, UnaryOperator<String> header) {
        return Entry.IN;
    }

    /**
     * {@link #infer(String, byte[], int, String)} for a request let in at the door with
     * {@code place} (null: no door passed), which the route gives back when it has answered.
     */
    default CompletableFuture<Answer> infer(String route, byte[] body, int jsonLength, String trace, Place place) {
        return infer(route, body, jsonLength, trace);
    }

    /** A request's place at the routes' door. */
    interface Place {
        /** Gives the place back unused (the request failed before the route had it); nothing once the route has it. */
        void giveBack();
    }

    /** What the door said: {@code refused} (the answer to send) or a {@code place} (null when there is no door). */
    record Entry(Answer refused, Place place) {
        static final Entry IN = new Entry(null, null);
    }

    /** The routes' metadata, readiness and configuration, for the OIP front (server metadata and readiness stay the program's). */
    OipBackend backend();

    /** What {@code GET /v2/health/ready} tells beside {@code "ready"} (the link to the cloud, say). */
    default Map<String, String> readyDetails() {
        return Map.of();
    }

    /**
     * An answer: its status, extra headers, body, the binary extension's JSON length (or -1 for a
     * JSON body), and what the request's span should say of it (where and why it was answered).
     */
    record Answer(int status, Map<String, String> headers, byte[] body, int jsonLength, Map<String, String> attributes) {

        public Answer(int status, Map<String, String> headers, byte[] body, int jsonLength) {
            this(status, headers, body, jsonLength, Map.of());
        }
    }
}
