package dev.hybridge.gateway;

import dev.hybridge.gateway.pool.WorkerPool;
import dev.hybridge.oip.ModelConfiguration;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.OipException;
import dev.hybridge.oip.OipPaths;
import dev.hybridge.oip.ServerMetadata;
import dev.hybridge.oip.web.OipBackend;
import dev.hybridge.oip.web.OipFront;
import dev.hybridge.policy.PolicyEngine;
import dev.hybridge.policy.RoutePolicy;
import dev.hybridge.policy.Tier;
import dev.hybridge.policy.metrics.RouteMetrics;
import dev.hybridge.policy.runtime.RouteRuntime;
import dev.hybridge.policy.runtime.RouteSignatures;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.Set;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.RouterFunctions;
import org.springframework.web.reactive.function.server.ServerRequest;
import org.springframework.web.reactive.function.server.ServerResponse;
import reactor.core.publisher.Mono;

/**
 * The gateway's routes as the OIP front serves them: a model name is a route. {@code GET /v2}
 * lists the routes ({@code "routes"}, beside the standard fields); a route's metadata is the
 * route as one model ({@link RouteSignatures}), with its kind and stages in {@code parameters}.
 * Routes have no versions: asking for one is a 404 that says so.
 */
final class RouteBackend implements OipBackend {

    private final RouteRuntime runtime;
    private final PolicyEngine policies;
    private final PolicyReloader reloader;
    private final WorkerPool edge;
    private final WorkerPool cloud;
    private final OipCodec codec;
    private final String version;

    RouteBackend(RouteRuntime runtime, PolicyEngine policies, PolicyReloader reloader, WorkerPool edge, WorkerPool cloud,
                 OipCodec codec, String version) {
        this.runtime = runtime;
        this.policies = policies;
        this.reloader = reloader;
        this.edge = edge;
        this.cloud = cloud;
        this.codec = codec;
        this.version = version;
    }

    @Override
    public byte[] serverMetadata() {
        String standard = new String(codec.encodeServerMetadata(new ServerMetadata("hybridge-gateway", version,
                OipPaths.EXTENSIONS)), StandardCharsets.UTF_8);
        StringBuilder body = new StringBuilder(standard.substring(0, standard.lastIndexOf('}'))).append(",\"routes\":[");
        boolean first = true;
        for (String name : policies.current().routes().keySet()) {
            body.append(first ? "" : ",").append(OipFront.quote(name));
            first = false;
        }
        return body.append("]}").toString().getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public String notReadyReason() {
        return !reloader.loaded() || policies.current().routes().isEmpty() ? "no routes are loaded from the policy folder"
                : null;
    }

    /** A route is ready when the tier it starts with has a worker whose breaker lets calls through. */
    @Override
    public Mono<String> modelReady(String model, String version) {
        return Mono.fromSupplier(() -> {
            RoutePolicy route = route(model, version);
            WorkerPool first = route.kind().usesEdge() ? edge : cloud;
            if (!first.anyCallable()) {
                throw OipException.unavailable("route " + route.name() + " is not ready: no " + first.tier().wire()
                        + " worker is available");
            }
            return route.name();
        });
    }

    /** The route as one model: its first stage's inputs, the outputs every answering stage gives. */
    @Override
    public Mono<byte[]> modelMetadata(String model, String version) {
        return Mono.defer(() -> {
            RoutePolicy route = route(model, version);
            return Mono.fromFuture(runtime.signatures().of(route)).map(signature ->
                    codec.encodeModelMetadata(signature.metadata(), RouteSignatures.parameters(route)));
        });
    }

    /**
     * Triton's model configuration of the route: its first stage's, under the route's name and
     * with the route's outputs. A batch of rows is routed as a whole, so the first stage's batch
     * settings are the route's.
     */
    @Override
    public Mono<byte[]> modelConfiguration(String model, String version) {
        return Mono.defer(() -> {
            RoutePolicy route = route(model, version);
            Tier tier = route.kind().usesEdge() ? Tier.EDGE : Tier.CLOUD;
            RoutePolicy.Stage stage = route.stage(tier);
            WorkerPool pool = tier == Tier.EDGE ? edge : cloud;
            Mono<ModelConfiguration> first = pool.configuration(stage.model(), stage.version(),
                    System.nanoTime() + RouteSignatures.METADATA_TIMEOUT.toNanos()).map(ModelConfiguration::decode);
            return Mono.zip(first, Mono.fromFuture(runtime.signatures().of(route)),
                            (configuration, signature) -> configuration.renamed(route.name(),
                                    signature.outputs().isEmpty() ? outputNames(configuration) : signature.outputs()))
                    .map(ModelConfiguration::encode);
        });
    }

    /**
     * {@code POST .../infer} that no Spring Cloud Gateway route took, ahead of the front's 404/405
     * for the rest of {@code /v2}: an unknown route, a version, or a request the predicates of the
     * operator's route for it did not accept. Routes run in the {@code Hybridge} filter
     * ({@link HybridgeGatewayFilterFactory}), never here.
     */
    static RouterFunction<ServerResponse> unroutedInfer(RouteBackend backend, OipFront front, RouteMetrics metrics) {
        return RouterFunctions.route()
                .POST("/v2/models/{model}/infer", request -> backend.unrouted(request, front, metrics))
                .POST("/v2/models/{model}/versions/{version}/infer", request -> backend.unrouted(request, front, metrics))
                .build();
    }

    private Mono<ServerResponse> unrouted(ServerRequest request, OipFront front, RouteMetrics metrics) {
        long start = System.nanoTime();
        String name = request.pathVariable("model");
        return Mono.<ServerResponse>defer(() -> {
            RoutePolicy route = route(name, request.pathVariables().get("version"));
            throw OipException.notFound("no gateway route accepts this request for route '" + route.name()
                    + "' (the predicates of its route in spring.cloud.gateway.server.webflux.routes did not match)");
        }).onErrorResume(e -> front.error(e).doOnNext(response ->
                metrics.refused(name, response.statusCode().value(), System.nanoTime() - start)));
    }

    private RoutePolicy route(String name, String version) {
        if (version != null) {
            throw OipException.notFound("routes have no versions (version " + version + " was asked for); call /v2/models/"
                    + name + " without /versions/...");
        }
        RoutePolicy route = policies.current().route(name);
        if (route == null) {
            throw OipException.notFound("no route named '" + name + "'; routes: "
                    + String.join(", ", policies.current().routes().keySet()));
        }
        return route;
    }

    private static Set<String> outputNames(ModelConfiguration configuration) {
        Set<String> names = new HashSet<>();
        configuration.outputs().forEach(o -> names.add(o.name()));
        return names;
    }
}
