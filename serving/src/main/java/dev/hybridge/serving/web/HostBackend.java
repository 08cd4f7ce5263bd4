package dev.hybridge.serving.web;

import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.OipPaths;
import dev.hybridge.oip.ServerMetadata;
import dev.hybridge.oip.web.OipBackend;
import dev.hybridge.serving.model.ModelHost;
import java.util.Map;
import reactor.core.publisher.Mono;

/**
 * A {@link ModelHost}'s models as the OIP front serves them. {@code POST .../infer} is
 * {@link InferRoute}'s, ahead of WebFlux.
 */
final class HostBackend implements OipBackend {

    private final ModelHost host;
    private final OipCodec codec;
    private final boolean strictReadiness;
    private final byte[] serverMetadata;

    HostBackend(ModelHost host, OipCodec codec, ServingProperties properties, String version) {
        this.host = host;
        this.codec = codec;
        this.strictReadiness = properties.strictReadiness();
        this.serverMetadata = codec.encodeServerMetadata(new ServerMetadata(properties.serverName(), version,
                OipPaths.EXTENSIONS));
    }

    @Override
    public byte[] serverMetadata() {
        return serverMetadata;
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
    public Mono<byte[]> modelMetadata(String model, String version) {
        return Mono.fromSupplier(() -> codec.encodeModelMetadata(host.require(model, version).model().metadata(), Map.of()));
    }

    @Override
    public Mono<String> modelReady(String model, String version) {
        return Mono.fromSupplier(() -> host.require(model, version).model().name());
    }

    /** Triton's model configuration extension: batching, inputs and outputs as Triton's tools read them. */
    @Override
    public Mono<byte[]> modelConfiguration(String model, String version) {
        return Mono.fromSupplier(() -> host.require(model, version).configuration().encode());
    }
}
