package dev.hybridge.serving.web;

import static org.assertj.core.api.Assertions.assertThat;

import dev.hybridge.serving.TestModels;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.web.reactive.server.WebTestClient;

/** With models that fail to load, the program stays live, serves the good ones, and is not ready. */
@SpringBootTest(classes = TestServingApplication.class, webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class FaultyRepositoryEndpointsTest {

    @DynamicPropertySource
    static void repository(DynamicPropertyRegistry registry) {
        registry.add("hybridge.serving.model-repository", () -> TestModels.faulty().toString());
    }

    @LocalServerPort
    int port;

    @Test
    void liveButNotReadyAndTheGoodModelServes() {
        WebTestClient client = WebTestClient.bindToServer().baseUrl("http://127.0.0.1:" + port).build();
        client.get().uri("/v2/health/live").exchange().expectStatus().isOk();
        client.get().uri("/v2/health/ready").exchange().expectStatus().isEqualTo(503)
                .expectBody().jsonPath("$.error").value(m -> assertThat((String) m)
                        .contains("not_onnx").contains("uint32_input").contains("misspelt_config"));
        client.get().uri("/v2/models/uint32_input").exchange().expectStatus().isEqualTo(503)
                .expectBody().jsonPath("$.error").value(m -> assertThat((String) m).contains("UINT32"));
        client.get().uri("/v2/models/uint32_input/ready").exchange().expectStatus().isEqualTo(503);
        client.get().uri("/v2/models/identity_fp32/ready").exchange().expectStatus().isOk();
        client.post().uri("/v2/models/identity_fp32/infer")
                .bodyValue("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1,2],\"data\":[1.5,2.5]}]}")
                .exchange().expectStatus().isOk().expectBody().jsonPath("$.outputs[0].data[1]").isEqualTo(2.5);
    }
}
