package dev.hybridge.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.hybridge.policy.PolicyBundle;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.web.reactive.server.WebTestClient;

/**
 * {@code GET /hybridge/policies}: the route files edge agents fetch, per device group, with an
 * ETag so that an unchanged set is a 304; tenants stay on the gateway; a group whose files do not
 * validate keeps its last good set; a caller needs an API key.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "hybridge.gateway.policy-reload-interval=1h", "hybridge.gateway.api-keys.device-key=fleet"})
class PolicyDistributionTest {

    static final Path POLICIES = TestFiles.policyFolder("distribution", Map.of("cascade.yaml", TestFiles.CASCADE,
            "tenants.yaml", "version: 1\ndefault: {allow: [auto, edge, cloud]}\n"));

    @LocalServerPort
    int port;

    @Autowired
    PolicyReloader reloader;

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        registry.add("hybridge.gateway.policy-folder", POLICIES::toString);
    }

    @AfterAll
    static void removeFolder() throws IOException {
        TestFiles.deleteTree(POLICIES);
    }

    private WebTestClient client() {
        return WebTestClient.bindToServer().baseUrl("http://127.0.0.1:" + port).defaultHeader("X-Api-Key", "device-key")
                .build();
    }

    private PolicyBundle fetch(String query) {
        byte[] body = client().get().uri("/hybridge/policies" + query).exchange().expectStatus().isOk()
                .expectHeader().exists("ETag").expectBody().returnResult().getResponseBody();
        try {
            return PolicyBundle.fromJson(body);
        } catch (dev.hybridge.policy.PolicyException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void servesTheRouteFilesWithATagAndA304WhenUnchanged() {
        PolicyBundle fleet = fetch("");
        assertThat(fleet.files()).containsOnlyKeys("cascade.yaml"); // tenants stay on the gateway
        assertThat(fleet.files().get("cascade.yaml")).isEqualTo(TestFiles.CASCADE);
        client().get().uri("/hybridge/policies").header("If-None-Match", "\"" + fleet.etag() + "\"").exchange()
                .expectStatus().isNotModified().expectHeader().valueEquals("ETag", "\"" + fleet.etag() + "\"")
                .expectBody().isEmpty();
        client().get().uri("/hybridge/policies").header("If-None-Match", "\"something-else\"").exchange()
                .expectStatus().isOk();
    }

    @Test
    void aGroupGetsTheFleetsFilesWithItsOwnOnTopAndABadGroupKeepsItsLastGoodSet() throws IOException {
        Path lab = Files.createDirectories(POLICIES.resolve("groups/lab"));
        Files.writeString(lab.resolve("local.yaml"), TestFiles.EDGE_ONLY);
        Files.writeString(lab.resolve("cascade.yaml"), TestFiles.CASCADE.replace("value: 0.5", "value: 0.7"));
        reloader.checkForChanges();

        PolicyBundle group = fetch("?group=lab");
        assertThat(group.files()).containsOnlyKeys("cascade.yaml", "local.yaml");
        assertThat(group.files().get("cascade.yaml")).contains("value: 0.7");
        assertThat(fetch("?group=nobody-special").files()).containsOnlyKeys("cascade.yaml"); // the fleet's
        assertThat(fetch("").files().get("cascade.yaml")).contains("value: 0.5");

        Files.writeString(lab.resolve("local.yaml"), "version: 1\nkind: sideways\n");
        reloader.checkForChanges();
        assertThat(fetch("?group=lab")).isEqualTo(group);

        Files.writeString(lab.resolve("local.yaml"), TestFiles.EDGE_ONLY.replace("small", "smaller"));
        reloader.checkForChanges();
        assertThat(fetch("?group=lab").files().get("local.yaml")).contains("smaller");
    }

    @Test
    void aCallerWithoutAKeyIsRefused() {
        WebTestClient.bindToServer().baseUrl("http://127.0.0.1:" + port).build()
                .get().uri("/hybridge/policies").exchange().expectStatus().isUnauthorized()
                .expectBody().jsonPath("$.error").isNotEmpty();
        WebTestClient.bindToServer().baseUrl("http://127.0.0.1:" + port).defaultHeader("X-Api-Key", "wrong").build()
                .get().uri("/hybridge/policies").exchange().expectStatus().isUnauthorized();
    }
}
