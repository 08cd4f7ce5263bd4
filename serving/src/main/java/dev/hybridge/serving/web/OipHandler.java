package dev.hybridge.serving.web;

import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.OipException;
import dev.hybridge.oip.OipPaths;
import dev.hybridge.oip.ServerMetadata;
import dev.hybridge.serving.model.ModelHost;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.RouterFunctions;
import org.springframework.web.reactive.function.server.ServerRequest;
import org.springframework.web.reactive.function.server.ServerResponse;
import reactor.core.publisher.Mono;

import static org.springframework.web.reactive.function.server.RequestPredicates.path;

/**
 * The Open Inference Protocol (v2 REST) over a {@link ModelHost}, except {@code POST .../infer},
 * which {@link InferRoute} serves ahead of WebFlux. Every error answers with an
 * OIP body {@code {"error": "..."}}: 400 bad input, 404 unknown model or path, 405 wrong method,
 * 413 body too large, 503 not ready or queue full, 500 only for a fault of this program.
 */
public final class OipHandler {

    private static final Logger log = LoggerFactory.getLogger(OipHandler.class);
    private final ModelHost host;
    private final OipCodec codec;
    private final boolean strictReadiness;
    private final byte[] serverMetadata;

    OipHandler(ModelHost host, OipCodec codec, ServingProperties properties, String version) {
        this.host = host;
        this.codec = codec;
        this.strictReadiness = properties.strictReadiness();
        this.serverMetadata = codec.encodeServerMetadata(new ServerMetadata(properties.serverName(), version, OipPaths.EXTENSIONS));
    }

    RouterFunction<ServerResponse> routes() {
        return RouterFunctions.route()
                .GET("/v2", request -> json(HttpStatus.OK, serverMetadata))
                .GET("/v2/health/live", request -> json(HttpStatus.OK, "{\"live\":true}"))
                .GET("/v2/health/ready", this::serverReady)
                .GET("/v2/models/{model}", this::metadata)
                .GET("/v2/models/{model}/versions/{version}", this::metadata)
                .GET("/v2/models/{model}/ready", this::modelReady)
                .GET("/v2/models/{model}/versions/{version}/ready", this::modelReady)
                .GET("/v2/models/{model}/config", this::configuration)
                .GET("/v2/models/{model}/versions/{version}/config", this::configuration)
                .route(path("/v2").or(path("/v2/**")), this::noSuchEndpoint)
                .build();
    }

    /** Why the program is not ready, or null when it is. */
    String notReadyReason() {
        if (!host.isLoaded()) {
            return "models are still loading";
        }
        if (strictReadiness && !host.failures().isEmpty()) {
            return "models failed to load: " + host.failures();
        }
        return null;
    }

    private Mono<ServerResponse> serverReady(ServerRequest request) {
        String reason = notReadyReason();
        if (reason != null) {
            return error(OipException.unavailable("not ready: " + reason));
        }
        return json(HttpStatus.OK, "{\"ready\":true}");
    }

    private Mono<ServerResponse> metadata(ServerRequest request) {
        return Mono.defer(() -> {
            var served = host.require(request.pathVariable("model"), version(request));
            return json(HttpStatus.OK, codec.encodeModelMetadata(served.model().metadata(), Map.of()));
        }).onErrorResume(this::error);
    }

    /** Triton's model configuration extension: batching, inputs and outputs as Triton's tools read them. */
    private Mono<ServerResponse> configuration(ServerRequest request) {
        return Mono.defer(() -> {
            var served = host.require(request.pathVariable("model"), version(request));
            return json(HttpStatus.OK, served.configuration().encode());
        }).onErrorResume(this::error);
    }

    private Mono<ServerResponse> modelReady(ServerRequest request) {
        return Mono.defer(() -> {
            var served = host.require(request.pathVariable("model"), version(request));
            return json(HttpStatus.OK, "{\"name\":" + quote(served.model().name()) + ",\"ready\":true}");
        }).onErrorResume(this::error);
    }

    private Mono<ServerResponse> noSuchEndpoint(ServerRequest request) {
        OipException refused = OipPaths.noSuchEndpoint(request.method().name(), request.path());
        ServerResponse.BodyBuilder response = ServerResponse.status(refused.status()).contentType(MediaType.APPLICATION_JSON);
        String allowed = OipPaths.methodFor(request.path());
        if (allowed != null) {
            response.header("Allow", allowed);
        }
        return response.bodyValue(codec.encodeError(refused.getMessage()));
    }

    private static String version(ServerRequest request) {
        return request.pathVariables().get("version");
    }

    /** The OIP error a failure answers with; a fault of this program (500) is logged with its stack. */
    static OipException asOipException(Throwable failure) {
        Throwable e = failure instanceof java.util.concurrent.CompletionException && failure.getCause() != null
                ? failure.getCause() : failure;
        OipException oip;
        if (e instanceof OipException known) {
            oip = known;
        } else {
            log.error("Unexpected failure serving a request", e);
            oip = new OipException(500, "internal error: " + e.getClass().getSimpleName()
                    + (e.getMessage() == null ? "" : ": " + e.getMessage()));
        }
        if (oip.status() >= 500 && oip.status() != 503) {
            log.warn("Answering {}: {}", oip.status(), oip.getMessage());
        }
        return oip;
    }

    private Mono<ServerResponse> error(Throwable failure) {
        OipException oip = asOipException(failure);
        return ServerResponse.status(oip.status()).contentType(MediaType.APPLICATION_JSON)
                .bodyValue(codec.encodeError(oip.getMessage()));
    }

    private static Mono<ServerResponse> json(HttpStatus status, byte[] body) {
        return ServerResponse.status(status).contentType(MediaType.APPLICATION_JSON).bodyValue(body);
    }

    private static Mono<ServerResponse> json(HttpStatus status, String body) {
        return json(status, body.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    private static String quote(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }
}
