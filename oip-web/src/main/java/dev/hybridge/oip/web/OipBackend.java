package dev.hybridge.oip.web;

import reactor.core.publisher.Mono;

/**
 * What a program serves under {@code /v2}: its models (a serving program) or its routes (the
 * gateway), each seen by clients as an OIP model. {@link OipFront} turns it into the protocol's
 * endpoints. A model that does not exist, or a version the program does not serve, is an
 * {@link dev.hybridge.oip.OipException} (404) from the method asked; any failure is answered
 * through {@link OipErrors}.
 */
public interface OipBackend {

    /** {@code GET /v2}: the server metadata document. */
    byte[] serverMetadata();

    /** Why the program is not ready ({@code GET /v2/health/ready} answers 503 with it), or null when it is. */
    String notReadyReason();

    /**
     * Facts {@code GET /v2/health/ready} adds beside {@code "ready"} (an edge agent's link state,
     * for one): names and text values; none by default.
     */
    default java.util.Map<String, String> readyDetails() {
        return java.util.Map.of();
    }

    /** {@code GET /v2/models/{model}[/versions/{version}]}: the model's metadata; {@code version} may be null. */
    Mono<byte[]> modelMetadata(String model, String version);

    /**
     * {@code GET /v2/models/{model}[/versions/{version}]/ready}: completes with the model's name
     * when it is ready; an {@link dev.hybridge.oip.OipException} (404 unknown, 503 not ready) otherwise.
     */
    Mono<String> modelReady(String model, String version);

    /** {@code GET /v2/models/{model}[/versions/{version}]/config}: Triton's model configuration. */
    Mono<byte[]> modelConfiguration(String model, String version);
}
