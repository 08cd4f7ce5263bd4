package dev.hybridge.oip.web;

import static org.springframework.web.reactive.function.server.RequestPredicates.path;

import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.OipException;
import dev.hybridge.oip.OipPaths;
import java.nio.charset.StandardCharsets;
import java.util.function.BiFunction;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.RouterFunctions;
import org.springframework.web.reactive.function.server.ServerRequest;
import org.springframework.web.reactive.function.server.ServerResponse;
import reactor.core.publisher.Mono;

/**
 * The Open Inference Protocol's (v2 REST) endpoints over an {@link OipBackend}, the same in every
 * program: health, server and model metadata, model readiness and configuration, and for every
 * other path under {@code /v2} a 404, or a 405 with {@code Allow} when the path exists for another
 * method. {@code POST .../infer} is each program's own (a serving program answers it ahead of
 * WebFlux, the gateway in a Spring Cloud Gateway filter); what reaches {@link #fallback()} is
 * refused like any unknown endpoint. Every error is an OIP body {@code {"error": "..."}} with the
 * status {@link OipErrors} gives.
 */
public final class OipFront {

    private static final byte[] LIVE = "{\"live\":true}".getBytes(StandardCharsets.UTF_8);
    private static final byte[] READY = "{\"ready\":true}".getBytes(StandardCharsets.UTF_8);

    private final OipBackend backend;
    private final OipCodec codec;

    public OipFront(OipBackend backend, OipCodec codec) {
        this.backend = backend;
        this.codec = codec;
    }

    /** The {@code GET} endpoints. */
    public RouterFunction<ServerResponse> routes() {
        return RouterFunctions.route()
                .GET("/v2", request -> json(backend.serverMetadata()))
                .GET("/v2/health/live", request -> json(LIVE))
                .GET("/v2/health/ready", request -> serverReady())
                .GET("/v2/models/{model}", request -> model(request, backend::modelMetadata))
                .GET("/v2/models/{model}/versions/{version}", request -> model(request, backend::modelMetadata))
                .GET("/v2/models/{model}/ready", request -> model(request, this::modelReady))
                .GET("/v2/models/{model}/versions/{version}/ready", request -> model(request, this::modelReady))
                .GET("/v2/models/{model}/config", request -> model(request, backend::modelConfiguration))
                .GET("/v2/models/{model}/versions/{version}/config", request -> model(request, backend::modelConfiguration))
                .build();
    }

    /** Every other request under {@code /v2}: 404, or 405 with {@code Allow}. Map it after the program's own routes. */
    public RouterFunction<ServerResponse> fallback() {
        return RouterFunctions.route(path("/v2").or(path("/v2/**")), this::noSuchEndpoint);
    }

    /** The OIP error answer to a failure. */
    public Mono<ServerResponse> error(Throwable failure) {
        OipException error = OipErrors.of(failure);
        return ServerResponse.status(error.status()).contentType(MediaType.APPLICATION_JSON)
                .bodyValue(codec.encodeError(error.getMessage()));
    }

    private Mono<ServerResponse> serverReady() {
        String reason = backend.notReadyReason();
        if (reason != null) {
            return error(OipException.unavailable("not ready: " + reason));
        }
        java.util.Map<String, String> details = backend.readyDetails();
        if (details.isEmpty()) {
            return json(READY);
        }
        StringBuilder body = new StringBuilder("{\"ready\":true");
        details.forEach((name, value) -> body.append(',').append(quote(name)).append(':').append(quote(value)));
        return json(body.append('}').toString().getBytes(StandardCharsets.UTF_8));
    }

    private Mono<byte[]> modelReady(String model, String version) {
        return backend.modelReady(model, version).map(name -> ("{\"name\":" + quote(name) + ",\"ready\":true}")
                .getBytes(StandardCharsets.UTF_8));
    }

    private Mono<ServerResponse> model(ServerRequest request, BiFunction<String, String, Mono<byte[]>> answer) {
        return Mono.defer(() -> answer.apply(request.pathVariable("model"), request.pathVariables().get("version")))
                .flatMap(OipFront::json)
                .onErrorResume(this::error);
    }

    private Mono<ServerResponse> noSuchEndpoint(ServerRequest request) {
        OipException refused = OipPaths.noSuchEndpoint(request.method().name(), request.path());
        ServerResponse.BodyBuilder response = ServerResponse.status(refused.status()).contentType(MediaType.APPLICATION_JSON);
        if (refused.status() == 405) {
            response.header(HttpHeaders.ALLOW, OipPaths.methodFor(request.path()));
        }
        return response.bodyValue(codec.encodeError(refused.getMessage()));
    }

    private static Mono<ServerResponse> json(byte[] body) {
        return ServerResponse.ok().contentType(MediaType.APPLICATION_JSON).bodyValue(body);
    }

    /** A JSON string literal. */
    public static String quote(String s) {
        StringBuilder out = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        return out.append('"').toString();
    }
}
