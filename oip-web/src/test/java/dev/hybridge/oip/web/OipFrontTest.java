package dev.hybridge.oip.web;

import static org.assertj.core.api.Assertions.assertThat;

import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.OipException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;
import org.springframework.http.MediaType;
import org.springframework.test.web.reactive.server.WebTestClient;
import reactor.core.publisher.Mono;

/**
 * The OIP front over a backend that serves one model, {@code m} (version 1 only), and fails in a
 * chosen way for the model names {@code slow}, {@code gone} and {@code broken}: every endpoint,
 * every refusal, and the status each kind of failure answers with.
 */
class OipFrontTest {

    private static final class Gone extends RuntimeException implements OipErrors.Unavailable {
        Gone() {
            super("the only worker left");
        }
    }

    private static final class OneModel implements OipBackend {
        volatile String notReady;

        @Override
        public byte[] serverMetadata() {
            return "{\"name\":\"test\",\"version\":\"1\",\"extensions\":[]}".getBytes(StandardCharsets.UTF_8);
        }

        @Override
        public String notReadyReason() {
            return notReady;
        }

        @Override
        public Mono<byte[]> modelMetadata(String model, String version) {
            return answer(model, version, "{\"name\":\"m\"}");
        }

        @Override
        public Mono<String> modelReady(String model, String version) {
            return answer(model, version, "m").map(b -> new String(b, StandardCharsets.UTF_8));
        }

        @Override
        public Mono<byte[]> modelConfiguration(String model, String version) {
            return answer(model, version, "{\"name\":\"m\",\"max_batch_size\":0}");
        }

        private static Mono<byte[]> answer(String model, String version, String body) {
            return switch (model) {
                case "m" -> version == null || version.equals("1") ? Mono.just(body.getBytes(StandardCharsets.UTF_8))
                        : Mono.error(OipException.notFound("model 'm' has no version " + version));
                case "slow" -> Mono.error(new CompletionException(new TimeoutException("waited 20 ms")));
                case "gone" -> Mono.error(new Gone());
                case "broken" -> Mono.fromSupplier(() -> {
                    throw new IllegalStateException("a bug");
                });
                default -> Mono.error(OipException.notFound("no model named '" + model + "'"));
            };
        }
    }

    private final OneModel backend = new OneModel();
    private final OipFront front = new OipFront(backend, new OipCodec());
    private final WebTestClient client = WebTestClient.bindToRouterFunction(front.routes().and(front.fallback())).build();

    @Test
    void servesHealthServerAndModelEndpoints() {
        client.get().uri("/v2/health/live").exchange().expectStatus().isOk().expectBody().json("{\"live\":true}");
        client.get().uri("/v2/health/ready").exchange().expectStatus().isOk().expectBody().json("{\"ready\":true}");
        client.get().uri("/v2").exchange().expectStatus().isOk().expectBody().jsonPath("$.name").isEqualTo("test");
        client.get().uri("/v2/models/m").exchange().expectStatus().isOk()
                .expectHeader().contentType(MediaType.APPLICATION_JSON).expectBody().json("{\"name\":\"m\"}");
        client.get().uri("/v2/models/m/versions/1").exchange().expectStatus().isOk();
        client.get().uri("/v2/models/m/ready").exchange().expectStatus().isOk()
                .expectBody().json("{\"name\":\"m\",\"ready\":true}");
        client.get().uri("/v2/models/m/versions/1/config").exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.max_batch_size").isEqualTo(0);
    }

    @Test
    void notReadySaysWhy() {
        backend.notReady = "models are still loading";
        client.get().uri("/v2/health/ready").exchange().expectStatus().isEqualTo(503)
                .expectBody().jsonPath("$.error").isEqualTo("not ready: models are still loading");
    }

    @Test
    void unknownModelsAndVersionsAre404WithAnOipBody() {
        for (String path : new String[] {"/v2/models/x", "/v2/models/x/ready", "/v2/models/x/config",
                "/v2/models/m/versions/2", "/v2/models/m/versions/2/ready"}) {
            client.get().uri(path).exchange().expectStatus().isNotFound()
                    .expectHeader().contentType(MediaType.APPLICATION_JSON)
                    .expectBody().jsonPath("$.error").isNotEmpty();
        }
    }

    @Test
    void unknownPathsAre404AndKnownPathsWithTheWrongMethod405WithAllow() {
        client.get().uri("/v2/nothing/here").exchange().expectStatus().isNotFound()
                .expectBody().jsonPath("$.error").exists();
        client.post().uri("/v2/models/m/ready").exchange().expectStatus().isEqualTo(405)
                .expectHeader().valueEquals("Allow", "GET").expectBody().jsonPath("$.error").exists();
        client.get().uri("/v2/models/m/infer").exchange().expectStatus().isEqualTo(405)
                .expectHeader().valueEquals("Allow", "POST");
        // infer is each program's own: here, where no program took it, it is an unknown endpoint
        client.post().uri("/v2/models/m/infer").bodyValue("{}").exchange().expectStatus().isNotFound();
    }

    @Test
    void failuresMapToOneStatusEach() {
        client.get().uri("/v2/models/slow").exchange().expectStatus().isEqualTo(504)
                .expectBody().jsonPath("$.error").isEqualTo("no answer in time: waited 20 ms");
        client.get().uri("/v2/models/gone/config").exchange().expectStatus().isEqualTo(503)
                .expectBody().jsonPath("$.error").isEqualTo("no worker can answer: the only worker left");
        client.get().uri("/v2/models/broken/ready").exchange().expectStatus().isEqualTo(500)
                .expectBody().jsonPath("$.error").isEqualTo("internal error: IllegalStateException: a bug");
    }

    @Test
    void errorsUnwrapCompletionWrappers() {
        OipException error = OipErrors.of(new CompletionException(new java.util.concurrent.ExecutionException(
                OipException.badRequest("bad"))));
        assertThat(error.status()).isEqualTo(400);
        assertThat(error.getMessage()).isEqualTo("bad");
    }
}
