package dev.hybridge.serving.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.hybridge.oip.OipException;
import dev.hybridge.serving.TestModels;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Models that cannot be served are reported with the file and the reason; the rest still serve. */
class FaultyRepositoryTest {

    @Test
    void eachFailureNamesItsFileAndReasonAndTheGoodModelServes() {
        try (ModelHost host = new ModelHost(HostSettings.defaults(TestModels.faulty()), new SimpleMeterRegistry())) {
            host.loadAll();
            assertThat(host.modelNames()).containsExactly("identity_fp32");
            assertThat(host.failures()).containsOnlyKeys("misspelt_config", "not_onnx", "uint32_input",
                    "wrong_scores_output", "default_for_no_input", "default_wrong_length");
            assertThat(host.failures().get("default_for_no_input")).contains("config.yaml")
                    .contains("inputs.z is not an input of the model").contains("x:FP32");
            assertThat(host.failures().get("default_wrong_length")).contains("config.yaml")
                    .contains("inputs.b.default lists 3 elements but a row of").contains("holds 4");
            assertThat(host.failures().get("uint32_input")).contains("model.onnx").contains("'x'").contains("UINT32");
            assertThat(host.failures().get("misspelt_config")).contains("config.yaml").contains("max-batch");
            assertThat(host.failures().get("not_onnx")).contains("not_onnx").contains("ONNX Runtime cannot load it");
            assertThat(host.failures().get("wrong_scores_output")).contains("scores.output 'probabilities'")
                    .contains("y:FP32");
            assertThatThrownBy(() -> host.require("uint32_input", null)).isInstanceOf(OipException.class)
                    .extracting(e -> ((OipException) e).status()).isEqualTo(503);
        }
    }

    @Test
    void aMissingRepositoryIsRefusedWithItsPath() {
        Path missing = TestModels.root().resolve("models/no-such-folder");
        try (ModelHost host = new ModelHost(HostSettings.defaults(missing), new SimpleMeterRegistry())) {
            assertThatThrownBy(host::loadAll).isInstanceOf(ModelLoadException.class).hasMessageContaining("no-such-folder");
        }
    }
}
