package dev.hybridge.edge;

import dev.hybridge.oip.ModelConfiguration;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.OipException;
import dev.hybridge.oip.web.OipBackend;
import dev.hybridge.policy.PolicyEngine;
import dev.hybridge.policy.RoutePolicy;
import dev.hybridge.policy.runtime.Admission;
import dev.hybridge.policy.runtime.RouteAnswer;
import dev.hybridge.policy.runtime.RouteRuntime;
import dev.hybridge.policy.runtime.RouteSignatures;
import dev.hybridge.serving.model.ModelHost;
import dev.hybridge.serving.web.ServedRoutes;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.function.UnaryOperator;
import reactor.core.publisher.Mono;

/**
 * The agent's routes, run by the shared route runtime with the local models as the edge tier and
 * the gateway (through the uplink) as the cloud: a device calls a route on its agent exactly as
 * it would call the gateway.
 */
final class EdgeRoutes implements ServedRoutes {

    private final PolicyEngine policies;
    private final RouteRuntime runtime;
    private final ModelHost host;
    private final LocalTier local;
    private final OipCodec codec;
    private final String tenant;
    private final Uplink uplink;
    private final Backend backend = new Backend();

    EdgeRoutes(PolicyEngine policies, RouteRuntime runtime, ModelHost host, LocalTier local, OipCodec codec, String tenant,
               Uplink uplink) {
        this.uplink = uplink;
        this.policies = policies;
        this.runtime = runtime;
        this.host = host;
        this.local = local;
        this.codec = codec;
        this.tenant = tenant;
    }

    @Override
    public Set<String> names() {
        return policies.current().routes().keySet();
    }

    @Override
    public CompletableFuture<Answer> infer(String route, byte[] body, int jsonLength) {
        return infer(route, body, jsonLength, null);
    }

    @Override
    public CompletableFuture<Answer> infer(String route, byte[] body, int jsonLength, String trace) {
        return runtime.infer(route, tenant, body, jsonLength, trace).thenApply(EdgeRoutes::answer);
    }

    /**
     * The runtime's door, before the body is read: the lane by the {@code Hybridge-Escalation}
     * header, as on the gateway (the {@code hybridge.escalation} parameter is in the body).
     */
    @Override
    public Entry enter(String route, UnaryOperator<String> header) {
        Admission.Lane lane = Admission.Lane.of(header);
        Admission.Permit permit = runtime.admit(lane);
        if (permit == null) {
            return new Entry(answer(runtime.refusedAtDoor(route, lane)), null);
        }
        return new Entry(null, new DoorPlace(Admission.once(permit)));
    }

    @Override
    public CompletableFuture<Answer> infer(String route, byte[] body, int jsonLength, String trace, Place place) {
        Admission.Permit door = place instanceof DoorPlace passed ? passed.permit() : null;
        return runtime.infer(route, tenant, body, jsonLength, trace, door).thenApply(EdgeRoutes::answer);
    }

    private static Answer answer(RouteAnswer answer) {
        return new Answer(answer.outcome().status(), answer.outcome().headers(), answer.body(), answer.jsonLength(),
                answer.outcome().attributes());
    }

    /** A place at the runtime's door; given back once, by the runtime when it answers or here when it never gets the request. */
    private record DoorPlace(Admission.Permit permit) implements Place {
        @Override
        public void giveBack() {
            permit.ignore();
        }
    }

    @Override
    public OipBackend backend() {
        return backend;
    }

    /** The link to the gateway: {@code online}, {@code degraded} or {@code offline}. */
    @Override
    public Map<String, String> readyDetails() {
        return Map.of("uplink", uplink.state().wire());
    }

    /** Metadata, readiness and configuration of the agent's routes. */
    private final class Backend implements OipBackend {

        @Override
        public byte[] serverMetadata() {
            throw new UnsupportedOperationException("the program's own");
        }

        @Override
        public String notReadyReason() {
            throw new UnsupportedOperationException("the program's own");
        }

        /**
         * The route as one model. A route described once keeps that description while the gateway
         * cannot be asked (its answers keep those outputs too); one never described while the
         * gateway could not be asked, and that the edge answers, is described by its edge stage
         * alone (what the device answers with then).
         */
        @Override
        public Mono<byte[]> modelMetadata(String model, String version) {
            return Mono.defer(() -> {
                RoutePolicy route = route(model);
                return Mono.fromFuture(runtime.signatures().of(route))
                        .onErrorResume(e -> route.kind().usesEdge() ? Mono.fromSupplier(() -> edgeOnly(route)) : Mono.error(e))
                        .map(signature -> codec.encodeModelMetadata(signature.metadata(), RouteSignatures.parameters(route)));
            });
        }

        @Override
        public Mono<String> modelReady(String model, String version) {
            return Mono.fromSupplier(() -> {
                RoutePolicy route = route(model);
                if (route.kind().usesEdge()) {
                    host.require(route.edge().model(), route.edge().version()); // 503 while it loads or when it failed
                }
                return route.name();
            });
        }

        /** The first stage's configuration, under the route's name (a route with no edge stage has none here). */
        @Override
        public Mono<byte[]> modelConfiguration(String model, String version) {
            return Mono.fromSupplier(() -> {
                RoutePolicy route = route(model);
                if (!route.kind().usesEdge()) {
                    throw OipException.notFound("route '" + route.name() + "' has no edge stage here; ask the gateway"
                            + " for its configuration");
                }
                ModelConfiguration first = host.require(route.edge().model(), route.edge().version()).configuration();
                Set<String> outputs = new java.util.HashSet<>();
                first.outputs().forEach(o -> outputs.add(o.name()));
                return first.renamed(route.name(), outputs).encode();
            });
        }

        private RouteSignatures.Signature edgeOnly(RoutePolicy route) {
            byte[] metadata = local.metadata(route.edge(), System.nanoTime()).join();
            return RouteSignatures.signature(route, List.of(codec.decodeModelMetadata(metadata)));
        }

        private RoutePolicy route(String name) {
            RoutePolicy route = policies.current().route(name);
            if (route == null) {
                throw OipException.notFound("no route named '" + name + "'");
            }
            return route;
        }
    }
}
