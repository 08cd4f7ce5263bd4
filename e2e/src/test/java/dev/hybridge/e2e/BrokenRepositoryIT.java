package dev.hybridge.e2e;

import static dev.hybridge.e2e.E2e.errorOf;
import static org.assertj.core.api.Assertions.assertThat;

import dev.hybridge.oip.Datatype;
import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.InferResponse;
import dev.hybridge.oip.Tensor;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Programs on a repository where models fail to load (strict and lenient readiness), and on a
 * repository folder that does not exist. The three start side by side.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BrokenRepositoryIT {

    /** The models of models/testdata/faulty that must not load. */
    private static final List<String> FAULTY_MODELS =
            List.of("misspelt_config", "not_onnx", "uint32_input", "wrong_scores_output", "default_for_no_input",
                    "default_wrong_length");
    private static final Pattern LOADED = Pattern.compile("Model repository .*: \\d+ models served, \\d+ failed");

    private ProgramProcess strict;
    private ProgramProcess lenient;
    private ProgramProcess missing;
    private OipClient strictClient;
    private OipClient lenientClient;

    @BeforeAll
    void start() {
        strict = E2e.start(E2e.EDGE, E2e.testdata("faulty"));
        lenient = E2e.start(E2e.EDGE, E2e.testdata("faulty"), "--hybridge.serving.strict-readiness=false");
        missing = E2e.start(E2e.EDGE, E2e.testdata("no_such_repository"));
        strict.awaitLive(E2e.START_TIMEOUT);
        // live comes before the models are loaded; the host says when it is done
        strict.awaitLogLine(LOADED, E2e.START_TIMEOUT);
        lenient.awaitReady(E2e.START_TIMEOUT);
        strictClient = new OipClient(strict.baseUri());
        lenientClient = new OipClient(lenient.baseUri());
    }

    @AfterAll
    void stop() {
        E2e.closeQuietly(strict);
        E2e.closeQuietly(lenient);
        E2e.closeQuietly(missing);
    }

    @Test
    void strictReadinessKeepsTheProgramLiveButNotReady() {
        assertThat(strict.isAlive()).isTrue();
        assertThat(strictClient.get("/v2/health/live").status()).isEqualTo(200);
        OipClient.Answer ready = strictClient.get("/v2/health/ready");
        assertThat(ready.status()).as(ready.text()).isEqualTo(503);
        String message = errorOf(strictClient, ready);
        for (String model : FAULTY_MODELS) {
            assertThat(message).as("readiness names the failed models").contains(model);
        }
        assertThat(message).doesNotContain("identity_fp32");
        // the Spring probes agree
        assertThat(strictClient.get("/actuator/health/liveness").status()).isEqualTo(200);
        assertThat(strictClient.get("/actuator/health/readiness").status()).isEqualTo(503);
        assertThat(strict.logText()).contains("1 models served, " + FAULTY_MODELS.size() + " failed");
    }

    @Test
    void theGoodModelStillServes() {
        for (OipClient client : List.of(strictClient, lenientClient)) {
            assertThat(client.get("/v2/models/identity_fp32").status()).isEqualTo(200);
            assertThat(client.get("/v2/models/identity_fp32/ready").status()).isEqualTo(200);
            float[] values = {1.5f, -2.25f, 0, Float.MAX_VALUE};
            InferResponse response = client.inferOk("identity_fp32", new InferRequest("good", Map.of(),
                    List.of(new Tensor("x", Datatype.FP32, new long[] {2, 2}, values)), List.of()), false);
            assertThat(response.id()).isEqualTo("good");
            assertThat((float[]) response.output("y").data()).containsExactly(values);
        }
    }

    @Test
    void aModelThatFailedToLoadAnswers503WithWhy() {
        for (OipClient client : List.of(strictClient, lenientClient)) {
            OipClient.Answer metadata = client.get("/v2/models/uint32_input");
            assertThat(metadata.status()).as(metadata.text()).isEqualTo(503);
            assertThat(errorOf(client, metadata)).contains("uint32_input").contains("UINT32");
            OipClient.Answer infer = client.post("/v2/models/uint32_input/infer",
                    "{\"inputs\":[{\"name\":\"x\",\"datatype\":\"UINT32\",\"shape\":[1,1],\"data\":[1]}]}".getBytes(), -1);
            assertThat(infer.status()).as(infer.text()).isEqualTo(503);
            assertThat(errorOf(client, infer)).contains("UINT32");
            OipClient.Answer config = client.get("/v2/models/misspelt_config");
            assertThat(config.status()).isEqualTo(503);
            assertThat(errorOf(client, config)).contains("max-batch");
            // a model that was never there is still 404
            assertThat(client.get("/v2/models/never_there").status()).isEqualTo(404);
        }
    }

    @Test
    void lenientReadinessMakesItReady() {
        OipClient.Answer ready = lenientClient.get("/v2/health/ready");
        assertThat(ready.status()).as(ready.text()).isEqualTo(200);
        assertThat(lenientClient.get("/actuator/health/readiness").status()).isEqualTo(200);
    }

    @Test
    void aMissingRepositoryFolderStopsTheProgram() {
        int exit = missing.awaitExit(Duration.ofSeconds(90));
        assertThat(exit).as("exit code").isNotZero();
        assertThat(missing.logText()).containsPattern("no_such_repository.* is not a folder");
    }
}
