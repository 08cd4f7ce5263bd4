package dev.hybridge.oip;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class OipPathsTest {

    @Test
    void everyPathOfTheProtocolHasItsMethod() {
        assertThat(OipPaths.methodFor("/v2")).isEqualTo("GET");
        assertThat(OipPaths.methodFor("/v2/health/live")).isEqualTo("GET");
        assertThat(OipPaths.methodFor("/v2/health/ready")).isEqualTo("GET");
        assertThat(OipPaths.methodFor("/v2/models/digits")).isEqualTo("GET");
        assertThat(OipPaths.methodFor("/v2/models/digits/versions/2/ready")).isEqualTo("GET");
        assertThat(OipPaths.methodFor("/v2/models/digits/config")).isEqualTo("GET");
        assertThat(OipPaths.methodFor("/v2/models/digits/infer")).isEqualTo("POST");
        assertThat(OipPaths.methodFor("/v2/models/digits/versions/2/infer")).isEqualTo("POST");
        assertThat(OipPaths.methodFor("/v2/models")).isNull();
        assertThat(OipPaths.methodFor("/v2/models/digits/stats")).isNull();
        assertThat(OipPaths.methodFor("/v1/models/digits")).isNull();
    }

    @Test
    void aWrongMethodIs405SayingWhichAndAnUnknownPath404() {
        OipException wrongMethod = OipPaths.noSuchEndpoint("GET", "/v2/models/digits/infer");
        assertThat(wrongMethod.status()).isEqualTo(405);
        assertThat(wrongMethod.getMessage()).isEqualTo("GET is not allowed on /v2/models/digits/infer; use POST");
        OipException unknown = OipPaths.noSuchEndpoint("GET", "/v2/models/digits/stats");
        assertThat(unknown.status()).isEqualTo(404);
        assertThat(unknown.getMessage()).isEqualTo("no such endpoint: GET /v2/models/digits/stats");
    }
}
