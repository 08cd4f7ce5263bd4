package dev.hybridge.gateway;

import static org.assertj.core.api.Assertions.assertThat;

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
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.http.MediaType;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.web.reactive.server.EntityExchangeResult;
import org.springframework.test.web.reactive.server.WebTestClient;

/**
 * Hybridge routes are Spring Cloud Gateway routes: the actuator lists them, the operator's
 * default filters apply to them, and a route the operator declares in standard configuration,
 * with stock predicates and filters and the {@code Hybridge} filter, takes over a policy route.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "hybridge.gateway.anonymous-tenant=anon", "hybridge.gateway.policy-reload-interval=1h",
        "management.endpoints.web.exposure.include=health,gateway",
        // every route: a response header of the operator's
        "spring.cloud.gateway.server.webflux.default-filters[0]=AddResponseHeader=X-Served-By, hybridge",
        // the operator's own route for the cascade: partners only, secure headers, small bodies
        "spring.cloud.gateway.server.webflux.routes[0].id=partners",
        "spring.cloud.gateway.server.webflux.routes[0].uri=hybridge:cascade",
        "spring.cloud.gateway.server.webflux.routes[0].predicates[0]=Path=/v2/models/cascade/infer",
        "spring.cloud.gateway.server.webflux.routes[0].predicates[1]=Header=X-Partner, .+",
        "spring.cloud.gateway.server.webflux.routes[0].filters[0]=SecureHeaders",
        "spring.cloud.gateway.server.webflux.routes[0].filters[1].name=RequestSize",
        "spring.cloud.gateway.server.webflux.routes[0].filters[1].args.maxSize=1KB",
        "spring.cloud.gateway.server.webflux.routes[0].filters[2]=Hybridge=cascade"})
class SpringCloudGatewayRoutesTest {

    static final FakeWorker EDGE = new FakeWorker("edge");
    static final FakeWorker CLOUD = new FakeWorker("cloud");
    static final Path POLICIES = policies();
    static final OipCodec CODEC = new OipCodec();

    @LocalServerPort
    int port;

    WebTestClient client;

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        registry.add("hybridge.gateway.policy-folder", POLICIES::toString);
        registry.add("hybridge.gateway.edge.addresses", EDGE::address);
        registry.add("hybridge.gateway.cloud.addresses", CLOUD::address);
    }

    static Path policies() {
        return TestFiles.policyFolder("gateway-scg-routes", Map.of("cascade.yaml", TestFiles.CASCADE,
                "local.yaml", TestFiles.EDGE_ONLY));
    }

    @AfterAll
    static void stopWorkers() throws IOException {
        EDGE.close();
        CLOUD.close();
        TestFiles.deleteTree(POLICIES);
    }

    @BeforeEach
    void reset() {
        EDGE.reset().answering(0.9, "1");
        CLOUD.reset();
        client = WebTestClient.bindToServer().baseUrl("http://127.0.0.1:" + port).responseTimeout(Duration.ofSeconds(10))
                .build();
    }

    static byte[] request() {
        return CODEC.encodeRequest(new InferRequest("r", Map.of(),
                List.of(new Tensor("audio", Datatype.FP32, new long[] {1, 4}, new float[] {1, 2, 3, 4})), List.of()),
                false).body();
    }

    EntityExchangeResult<byte[]> infer(String route, byte[] body, Map<String, String> headers) {
        WebTestClient.RequestBodySpec spec = client.post().uri("/v2/models/" + route + "/infer")
                .contentType(MediaType.APPLICATION_JSON);
        headers.forEach(spec::header);
        return spec.bodyValue(body).exchange().expectBody(byte[].class).returnResult();
    }

    @Test
    void theActuatorListsTheHybridgeRoutes() {
        String routes = new String(client.get().uri("/actuator/gateway/routes").exchange().expectStatus().isOk()
                .expectBody(byte[].class).returnResult().getResponseBody());
        // the generated route for the edge-only policy, and the operator's for the cascade (which replaces its own)
        assertThat(routes).contains("\"route_id\":\"hybridge-local\"").contains("[Hybridge route = 'local']")
                .contains("\"route_id\":\"partners\"").contains("[Hybridge route = 'cascade']")
                .doesNotContain("hybridge-cascade");
    }

    @Test
    void theOperatorsDefaultFiltersApplyToGeneratedRoutes() {
        EntityExchangeResult<byte[]> answer = infer("local", request(), Map.of());
        assertThat(answer.getStatus().value()).isEqualTo(200);
        assertThat(answer.getResponseHeaders().getFirst("X-Served-By")).isEqualTo("hybridge");
        assertThat(answer.getResponseHeaders().getFirst("Hybridge-Tier")).isEqualTo("edge");
    }

    @Test
    void theOperatorsPredicatesDecideWhoReachesTheRoute() {
        EntityExchangeResult<byte[]> refused = infer("cascade", request(), Map.of());
        assertThat(refused.getStatus().value()).isEqualTo(404);
        assertThat(CODEC.decodeError(refused.getResponseBody()))
                .startsWith("no gateway route accepts this request for route 'cascade'");
        assertThat(EDGE.calls()).isZero();
        EntityExchangeResult<byte[]> partner = infer("cascade", request(), Map.of("X-Partner", "acme"));
        assertThat(partner.getStatus().value()).isEqualTo(200);
        assertThat(partner.getResponseHeaders().getFirst("Hybridge-Reason")).isEqualTo("confident");
    }

    @Test
    void theOperatorsStockFiltersChangeWhatTheClientSees() {
        EntityExchangeResult<byte[]> partner = infer("cascade", request(), Map.of("X-Partner", "acme"));
        // SecureHeaders on the Hybridge answer
        assertThat(partner.getResponseHeaders().getFirst("X-Frame-Options")).isEqualTo("DENY");
        assertThat(partner.getResponseHeaders().getFirst("X-Content-Type-Options")).isEqualTo("nosniff");
        // RequestSize refuses before the route runs
        byte[] big = new byte[4096];
        java.util.Arrays.fill(big, (byte) ' ');
        EntityExchangeResult<byte[]> tooBig = infer("cascade", big, Map.of("X-Partner", "acme"));
        assertThat(tooBig.getStatus().value()).isEqualTo(413);
        assertThat(tooBig.getResponseHeaders().getFirst("errorMessage")).contains("Request size is larger than permissible limit");
        assertThat(EDGE.calls()).isEqualTo(1);
    }
}
