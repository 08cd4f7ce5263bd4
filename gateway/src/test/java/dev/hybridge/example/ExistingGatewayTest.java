package dev.hybridge.example;

import static org.assertj.core.api.Assertions.assertThat;

import dev.hybridge.gateway.FakeWorker;
import dev.hybridge.gateway.TestFiles;
import dev.hybridge.oip.Datatype;
import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.http.MediaType;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.web.reactive.server.WebTestClient;

/**
 * A Spring Cloud Gateway application of someone else's, with a route of its own, that gets
 * Hybridge routes from the gateway-autoconfigure dependency and three properties (the policy
 * folder, the edge and cloud workers); nothing of Hybridge is in its code.
 */
@SpringBootTest(classes = ExistingGatewayTest.PartnerGateway.class,
        webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "hybridge.gateway.anonymous-tenant=anon",
        "management.endpoints.web.exposure.include=gateway", "management.endpoint.gateway.access=read-only"})
class ExistingGatewayTest {

    /** The partner's own application: Spring Boot and Spring Cloud Gateway, nothing more. */
    @SpringBootApplication
    static class PartnerGateway {
    }

    static final FakeWorker EDGE = new FakeWorker("edge");
    static final FakeWorker CLOUD = new FakeWorker("cloud");
    static final Path POLICIES = policies();

    @LocalServerPort
    int port;

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        registry.add("hybridge.gateway.policy-folder", POLICIES::toString);
        registry.add("hybridge.gateway.edge.addresses", EDGE::address);
        registry.add("hybridge.gateway.cloud.addresses", CLOUD::address);
        // the application's own route proxies to a model server of its own (here: the cloud fake);
        // one property source for the whole list, as Spring Boot binds an indexed list from one
        registry.add("spring.cloud.gateway.server.webflux.routes[0].id", () -> "partner-models");
        registry.add("spring.cloud.gateway.server.webflux.routes[0].uri", CLOUD::address);
        registry.add("spring.cloud.gateway.server.webflux.routes[0].predicates[0]", () -> "Path=/partner/**");
        registry.add("spring.cloud.gateway.server.webflux.routes[0].filters[0]", () -> "StripPrefix=1");
    }

    static Path policies() {
        return TestFiles.policyFolder("existing-gateway", Map.of("digits.yaml", TestFiles.CASCADE));
    }

    @AfterAll
    static void stop() throws IOException {
        EDGE.close();
        CLOUD.close();
        TestFiles.deleteTree(POLICIES);
    }

    @Test
    void theApplicationServesItsOwnRoutesAndHybridgeRoutesSideBySide() {
        WebTestClient client = WebTestClient.bindToServer().baseUrl("http://127.0.0.1:" + port)
                .responseTimeout(Duration.ofSeconds(10)).build();
        byte[] body = new OipCodec().encodeRequest(new InferRequest("r", Map.of(),
                List.of(new Tensor("audio", Datatype.FP32, new long[] {1, 4}, new float[] {1, 2, 3, 4})), List.of()),
                false).body();
        EDGE.answering(0.9, "3");
        client.post().uri("/v2/models/digits/infer").contentType(MediaType.APPLICATION_JSON).bodyValue(body)
                .exchange().expectStatus().isOk()
                .expectHeader().valueEquals("Hybridge-Tier", "edge")
                .expectBody().jsonPath("$.parameters['hybridge.reason']").isEqualTo("confident");
        // its own proxy route, untouched
        client.get().uri("/partner/v2/models/big").exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.name").isEqualTo("big");
        // the OIP front, and the actuator listing both kinds of route
        client.get().uri("/v2/models/digits").exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.name").isEqualTo("digits");
        String routes = new String(client.get().uri("/actuator/gateway/routes").exchange().expectStatus().isOk()
                .expectBody(byte[].class).returnResult().getResponseBody());
        assertThat(routes).contains("\"route_id\":\"partner-models\"").contains("\"route_id\":\"hybridge-digits\"");
    }
}
