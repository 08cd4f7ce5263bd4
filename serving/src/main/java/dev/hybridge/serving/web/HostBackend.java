package dev.hybridge.serving.web;

import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.OipPaths;
import dev.hybridge.oip.ServerMetadata;
import dev.hybridge.oip.web.OipBackend;
import dev.hybridge.oip.web.OipFront;
import dev.hybridge.serving.model.ModelHost;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.function.Supplier;
import reactor.core.publisher.Mono;

/**
 * A {@link ModelHost}'s models as the OIP front serves them, and the program's routes beside them
 * when it has any ({@link ServedRoutes}: a name that is a route is the route's). {@code POST
 * .../infer} is {@link InferRoute}'s, ahead of WebFlux.
 */
final class HostBackend implements OipBackend {

    private final ModelHost host;
    private final ServedRoutes routes;
    private final OipCodec codec;
    private final boolean strictReadiness;
    private final byte[] serverMetadata;

    HostBackend(ModelHost host, ServedRoutes routes, OipCodec codec, ServingProperties properties, String version) {
        this.host = host;
        this.routes = routes;
        this.codec = codec;
        this.strictReadiness = properties.strictReadiness();
        this.serverMetadata = codec.encodeServerMetadata(new ServerMetadata(properties.serverName(), version,
                OipPaths.EXTENSIONS));
    }

    /** The standard document; with routes, their names as {@code "routes"} beside the standard fields. */
    @Override
    public byte[] serverMetadata() {
        if (routes == null) {
            return serverMetadata;
        }
        String standard = new String(serverMetadata, StandardCharsets.UTF_8);
        StringBuilder body = new StringBuilder(standard.substring(0, standard.lastIndexOf('}'))).append(",\"routes\":[");
        String separator = "";
        for (String name : routes.names().stream().sorted().toList()) {
            body.append(separator).append(OipFront.quote(name));
            separator = ",";
        }
        return body.append("]}").toString().getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public String notReadyReason() {
        if (!host.isLoaded()) {
            return "models are still loading";
        }
        if (strictReadiness && !host.failures().isEmpty()) {
            return "models failed to load: " + host.failures();
        }
        return null;
    }

    @Override
    public Map<String, String> readyDetails() {
        return routes == null ? Map.of() : routes.readyDetails();
    }

    @Override
    public Mono<byte[]> modelMetadata(String model, String version) {
        return routed(model, version) ? routes.backend().modelMetadata(model, version)
                : model(() -> codec.encodeModelMetadata(host.require(model, version).model().metadata(), Map.of()));
    }

    @Override
    public Mono<String> modelReady(String model, String version) {
        return routed(model, version) ? routes.backend().modelReady(model, version)
                : model(() -> host.require(model, version).model().name());
    }

    /** Triton's model configuration extension: batching, inputs and outputs as Triton's tools read them. */
    @Override
    public Mono<byte[]> modelConfiguration(String model, String version) {
        return routed(model, version) ? routes.backend().modelConfiguration(model, version)
                : model(() -> host.require(model, version).configuration().encode());
    }

    /** Whether the name is a route's (a version is only ever a model's, and a model of the same name wins then). */
    private boolean routed(String model, String version) {
        return routes != null && version == null && routes.names().contains(model);
    }

    private static <T> Mono<T> model(Supplier<T> answer) {
        return Mono.fromSupplier(answer);
    }
}
