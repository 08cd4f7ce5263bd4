package dev.hybridge.edge;

import static org.assertj.core.api.Assertions.assertThat;

import dev.hybridge.serving.TestModels;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.web.reactive.server.WebTestClient;

/** The edge agent as configured by its own application.yaml: OIP on its port, no batching. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class EdgeAgentApplicationTest {

    @DynamicPropertySource
    static void repository(DynamicPropertyRegistry registry) {
        registry.add("hybridge.serving.model-repository", () -> TestModels.repository().toString());
        // its state (the outbox) in the build folder, not the working tree
        registry.add("hybridge.edge.state-dir", () -> java.nio.file.Path.of("target", "edge-state-app-test")
                .toAbsolutePath().toString());
    }

    @LocalServerPort
    int port;

    @Test
    void servesOipWithoutBatching() {
        WebTestClient client = WebTestClient.bindToServer().baseUrl("http://127.0.0.1:" + port).build();
        client.get().uri("/v2").exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.name").isEqualTo("hybridge-edge-agent");
        client.get().uri("/v2/health/ready").exchange().expectStatus().isOk();
        client.post().uri("/v2/models/add/infer")
                .bodyValue("{\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[1,4],\"data\":[1,2,3,4]},"
                        + "{\"name\":\"b\",\"datatype\":\"FP32\",\"shape\":[1,4],\"data\":[4,3,2,1]}]}")
                .exchange().expectStatus().isOk().expectBody().jsonPath("$.outputs[0].data[0]").isEqualTo(5.0);
        client.get().uri("/actuator/health/readiness").exchange().expectStatus().isOk();
        // the classifier's config.yaml turns batching on, but the edge agent's defaults keep other models unbatched;
        // unbatched models have no batch meters
        client.get().uri("/actuator/prometheus").exchange().expectStatus().isOk().expectBody(String.class)
                .value(text -> assertThat(text).doesNotContain("hybridge_batch_rows_count{model=\"add\"")
                        .contains("hybridge_batch_rows_count{model=\"classifier\""));
    }
}
