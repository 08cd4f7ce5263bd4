package dev.hybridge.edge;

import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.OipException;
import dev.hybridge.oip.web.OipFront;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import org.springframework.http.MediaType;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.RouterFunctions;
import org.springframework.web.reactive.function.server.ServerRequest;
import org.springframework.web.reactive.function.server.ServerResponse;
import reactor.core.publisher.Mono;

/**
 * {@code GET /v2/escalations/{id}}: what became of an escalation the agent kept (the id a degraded
 * answer gave in {@code hybridge.escalation_id}). {@code state} is {@code pending},
 * {@code answered} (with the cloud's {@code answer}, its {@code label}, and whether it
 * {@code agreed} with the edge answer the caller got), {@code expired} or {@code dropped} (with
 * the {@code problem}). Kept for {@code hybridge.edge.outbox.retention} after it ended; an id
 * not known is a 404.
 */
final class EscalationEndpoint {

    private final Outbox outbox;
    private final OipCodec codec;

    EscalationEndpoint(Outbox outbox, OipCodec codec) {
        this.outbox = outbox;
        this.codec = codec;
    }

    RouterFunction<ServerResponse> routes() {
        return RouterFunctions.route().GET("/v2/escalations/{id}", this::get).GET("/v2/outbox", this::status).build();
    }

    private Mono<ServerResponse> get(ServerRequest request) {
        String id = request.pathVariable("id");
        return Mono.fromFuture(outbox.get(id)).flatMap(found -> {
            if (found.isEmpty()) {
                return error(OipException.notFound("no escalation '" + id + "' is kept here (unknown, or older than the"
                        + " outbox's retention)"));
            }
            return ServerResponse.ok().contentType(MediaType.APPLICATION_JSON).bodyValue(json(found.get()));
        });
    }

    /** An entry as this endpoint (and a callback) shows it. */
    byte[] json(Outbox.View view) {
        Outbox.Entry e = view.entry();
        StringBuilder json = new StringBuilder("{");
        field(json, "id", e.id()).append(',');
        field(json, "route", e.route()).append(',');
        field(json, "state", view.state().wire()).append(',');
        field(json, "created", Instant.ofEpochMilli(e.createdMillis()).toString()).append(',');
        field(json, "expires", Instant.ofEpochMilli(e.expiresMillis()).toString()).append(',');
        json.append("\"attempts\":").append(e.attempts());
        if (e.requestId() != null) {
            field(json.append(','), "request_id", e.requestId());
        }
        if (e.edgeLabel() != null) {
            field(json.append(','), "edge_label", e.edgeLabel());
        }
        if (view.finishedMillis() > 0) {
            field(json.append(','), "finished", Instant.ofEpochMilli(view.finishedMillis()).toString());
        }
        if (view.answerLabel() != null) {
            field(json.append(','), "label", view.answerLabel());
        }
        if (view.agreed() != null) {
            json.append(",\"agreed\":").append(view.agreed());
        }
        if (view.answer() != null && view.answerJsonLength() < 0) {
            // the cloud's answer as the gateway gave it (JSON); a binary answer is described by its JSON part
            json.append(",\"answer\":").append(new String(view.answer(), StandardCharsets.UTF_8));
        } else if (view.answer() != null) {
            json.append(",\"answer\":").append(new String(view.answer(), 0, view.answerJsonLength(), StandardCharsets.UTF_8));
        }
        if (view.problem() != null && view.state() != Outbox.State.ANSWERED) {
            field(json.append(','), "problem", view.problem());
        }
        if (view.callbackState() != null) {
            field(json.append(','), "callback", view.callbackState());
        }
        return json.append('}').toString().getBytes(StandardCharsets.UTF_8);
    }

    /** {@code GET /v2/outbox}: the outbox's size and what became of the entries so far. */
    private Mono<ServerResponse> status(ServerRequest request) {
        return Mono.fromFuture(outbox.stats()).flatMap(stats -> {
            long oldest = stats.entries() == 0 ? 0 : (System.currentTimeMillis() - stats.oldestCreatedMillis()) / 1000;
            String json = "{\"entries\":" + stats.entries() + ",\"bytes\":" + stats.bytes()
                    + ",\"oldest_age_seconds\":" + oldest + ",\"replayed\":" + outbox.replayed.get()
                    + ",\"expired\":" + outbox.expired.get() + ",\"dropped\":" + outbox.dropped.get()
                    + ",\"refused\":" + outbox.refused.get() + ",\"rejected\":" + outbox.rejected.get() + "}";
            return ServerResponse.ok().contentType(MediaType.APPLICATION_JSON).bodyValue(json.getBytes(StandardCharsets.UTF_8));
        });
    }

    private static StringBuilder field(StringBuilder json, String name, String value) {
        return json.append(OipFront.quote(name)).append(':').append(OipFront.quote(value));
    }

    private Mono<ServerResponse> error(OipException e) {
        return ServerResponse.status(e.status()).contentType(MediaType.APPLICATION_JSON).bodyValue(codec.encodeError(e.getMessage()));
    }
}
