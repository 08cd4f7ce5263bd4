package dev.hybridge.gateway;

import static org.springframework.web.reactive.function.server.RequestPredicates.path;

import dev.hybridge.gateway.pool.WorkerPool;
import dev.hybridge.oip.ModelConfiguration;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.OipException;
import dev.hybridge.oip.OipPaths;
import dev.hybridge.oip.RoutingParameters;
import dev.hybridge.oip.ServerMetadata;
import dev.hybridge.policy.PolicyEngine;
import dev.hybridge.policy.RoutePolicy;
import dev.hybridge.policy.Tier;
import dev.hybridge.policy.runtime.RouteRuntime;
import dev.hybridge.policy.runtime.RouteSignatures;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.RouterFunctions;
import org.springframework.web.reactive.function.server.ServerRequest;
import org.springframework.web.reactive.function.server.ServerResponse;
import reactor.core.publisher.Mono;

/**
 * The gateway's OIP front: the same paths as the workers, where a model name is a route.
 * {@code GET /v2} lists the routes ({@code "routes"}, beside the standard fields); a route's
 * metadata is its first stage's model metadata under the route's name, with the route's kind
 * and stages in {@code parameters}. Errors are OIP bodies: 400, 401, 403, 404, 405, 413, 429,
 * 503, 504.
 */
final class GatewayHandler {

    private final RouteRuntime runtime;
    private final PolicyEngine policies;
    private final PolicyReloader reloader;
    private final WorkerPool edge;
    private final WorkerPool cloud;
    private final OipCodec codec;
    private final String version;
    private final GatewayMetrics metrics;

    GatewayHandler(RouteRuntime runtime, PolicyEngine policies, PolicyReloader reloader, WorkerPool edge,
                   WorkerPool cloud, OipCodec codec, String version, GatewayMetrics metrics) {
        this.metrics = metrics;
        this.runtime = runtime;
        this.policies = policies;
        this.reloader = reloader;
        this.edge = edge;
        this.cloud = cloud;
        this.codec = codec;
        this.version = version;
    }

    RouterFunction<ServerResponse> routes() {
        return RouterFunctions.route()
                .GET("/v2", this::serverMetadata)
                .GET("/v2/health/live", request -> json(HttpStatus.OK, "{\"live\":true}"))
                .GET("/v2/health/ready", this::serverReady)
                .GET("/v2/models/{model}", this::metadata)
                .GET("/v2/models/{model}/versions/{version}", this::metadata)
                .GET("/v2/models/{model}/ready", this::routeReady)
                .GET("/v2/models/{model}/versions/{version}/ready", this::routeReady)
                .GET("/v2/models/{model}/config", this::configuration)
                .GET("/v2/models/{model}/versions/{version}/config", this::configuration)
                .build();
    }

    /** What no Spring Cloud Gateway route took: inference on no route, and any other path or method (404, 405). */
    RouterFunction<ServerResponse> fallback() {
        return RouterFunctions.route()
                .POST("/v2/models/{model}/infer", this::infer)
                .POST("/v2/models/{model}/versions/{version}/infer", this::infer)
                .route(path("/v2").or(path("/v2/**")), this::noSuchEndpoint)
                .build();
    }

    private Mono<ServerResponse> serverMetadata(ServerRequest request) {
        byte[] standard = codec.encodeServerMetadata(new ServerMetadata("hybridge-gateway", version,
                OipPaths.EXTENSIONS));
        String body = new String(standard, java.nio.charset.StandardCharsets.UTF_8);
        StringBuilder routes = new StringBuilder(",\"routes\":[");
        boolean first = true;
        for (String name : policies.current().routes().keySet()) {
            routes.append(first ? "" : ",").append(quote(name));
            first = false;
        }
        routes.append("]}");
        return json(HttpStatus.OK, body.substring(0, body.lastIndexOf('}')) + routes);
    }

    private Mono<ServerResponse> serverReady(ServerRequest request) {
        if (!reloader.loaded() || policies.current().routes().isEmpty()) {
            return error(OipException.unavailable("not ready: no routes are loaded from the policy folder"));
        }
        return json(HttpStatus.OK, "{\"ready\":true}");
    }

    /** A route is ready when every tier it starts with has a worker whose breaker lets calls through. */
    private Mono<ServerResponse> routeReady(ServerRequest request) {
        return Mono.defer(() -> {
            RoutePolicy route = route(request);
            WorkerPool first = route.kind().usesEdge() ? edge : cloud;
            if (!first.anyCallable()) {
                throw OipException.unavailable("route " + route.name() + " is not ready: no " + first.tier().wire()
                        + " worker is available");
            }
            return json(HttpStatus.OK, "{\"name\":" + quote(route.name()) + ",\"ready\":true}");
        }).onErrorResume(this::error);
    }

    /** The route as one model: its first stage's inputs, the outputs every answering stage gives ({@link RouteSignatures}). */
    private Mono<ServerResponse> metadata(ServerRequest request) {
        return Mono.defer(() -> {
            RoutePolicy route = route(request);
            return Mono.fromFuture(runtime.signatures().of(route))
                    .map(signature -> {
                        Map<String, Object> parameters = new LinkedHashMap<>();
                        parameters.put(RoutingParameters.KIND, route.kind().wire());
                        if (route.edge() != null) {
                            parameters.put(RoutingParameters.EDGE_MODEL, route.edge().model());
                        }
                        if (route.cloud() != null) {
                            parameters.put(RoutingParameters.CLOUD_MODEL, route.cloud().model());
                        }
                        return codec.encodeModelMetadata(signature.metadata(), parameters);
                    })
                    .flatMap(body -> json(HttpStatus.OK, body));
        }).onErrorResume(this::error);
    }

    /**
     * Triton's model configuration of the route: its first stage's, under the route's name and
     * with the route's outputs. A batch of rows is routed as a whole, so the first stage's batch
     * settings are the route's.
     */
    private Mono<ServerResponse> configuration(ServerRequest request) {
        return Mono.defer(() -> {
            RoutePolicy route = route(request);
            Tier tier = route.kind().usesEdge() ? Tier.EDGE : Tier.CLOUD;
            RoutePolicy.Stage stage = route.stage(tier);
            WorkerPool pool = tier == Tier.EDGE ? edge : cloud;
            Mono<ModelConfiguration> first = pool.configuration(stage.model(), stage.version(),
                    System.nanoTime() + RouteSignatures.METADATA_TIMEOUT.toNanos()).map(ModelConfiguration::decode);
            return Mono.zip(first, Mono.fromFuture(runtime.signatures().of(route)),
                            (configuration, signature) -> configuration.renamed(route.name(),
                            signature.outputs().isEmpty() ? outputNames(configuration) : signature.outputs()))
                    .flatMap(configuration -> json(HttpStatus.OK, configuration.encode()));
        }).onErrorResume(this::error);
    }

    private static java.util.Set<String> outputNames(ModelConfiguration configuration) {
        java.util.Set<String> names = new java.util.HashSet<>();
        configuration.outputs().forEach(o -> names.add(o.name()));
        return names;
    }

    /**
     * {@code POST .../infer} that no Spring Cloud Gateway route took: an unknown route, a version,
     * or a request the predicates of the operator's route for it did not accept. Routes run in the
     * {@code Hybridge} filter ({@link HybridgeGatewayFilterFactory}), never here.
     */
    private Mono<ServerResponse> infer(ServerRequest request) {
        long start = System.nanoTime();
        String name = request.pathVariable("model");
        return Mono.<ServerResponse>defer(() -> {
            RoutePolicy route = route(request);
            throw OipException.notFound("no gateway route accepts this request for route '" + route.name()
                    + "' (the predicates of its route in spring.cloud.gateway.server.webflux.routes did not match)");
        }).onErrorResume(e -> error(e).doOnNext(response ->
                metrics.refused(name, response.statusCode().value(), System.nanoTime() - start)));
    }

    private RoutePolicy route(ServerRequest request) {
        String name = request.pathVariable("model");
        refuseVersion(request);
        RoutePolicy route = policies.current().route(name);
        if (route == null) {
            throw OipException.notFound("no route named '" + name + "'; routes: "
                    + String.join(", ", policies.current().routes().keySet()));
        }
        return route;
    }

    /** Routes have no versions (their stages name model versions in the policy): say so, never ignore one. */
    private static void refuseVersion(ServerRequest request) {
        String version = request.pathVariables().get("version");
        if (version != null) {
            throw OipException.notFound("routes have no versions (version " + version + " was asked for); call /v2/models/"
                    + request.pathVariable("model") + " without /versions/...");
        }
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

    private Mono<ServerResponse> error(Throwable e) {
        OipException oip = OipErrors.of(e);
        return ServerResponse.status(oip.status()).contentType(MediaType.APPLICATION_JSON)
                .bodyValue(codec.encodeError(oip.getMessage()));
    }

    private static Mono<ServerResponse> json(HttpStatus status, String body) {
        return json(status, body.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    private static Mono<ServerResponse> json(HttpStatus status, byte[] body) {
        return ServerResponse.status(status).contentType(MediaType.APPLICATION_JSON).bodyValue(body);
    }

    private static String quote(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }
}
