package dev.hybridge.models;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** How the model cards word each model's front end, from the recipe a training record names. */
class DemoReportTest {

    private static JsonNode recipe(String json) {
        return JsonMapper.builder().build().readTree("{\"recipe\": " + json + "}");
    }

    @Test
    void clipBandMeansWithoutVoiceNormalisation() {
        assertThat(DemoReport.bandNormalisation(recipe("{\"voice-normalisation\": false}")))
                .startsWith("each band's mean over the clip removed")
                .doesNotContain("fixed profile");
        assertThat(DemoReport.bandNormalisation(recipe("{}"))).startsWith("each band's mean over the clip removed");
    }

    @Test
    void voiceProfileForEveryModelWhenTheStudentsLearnOnIt() {
        String words = DemoReport.bandNormalisation(
                recipe("{\"voice-normalisation\": true, \"student_profile\": \"voice\"}"));
        assertThat(words).startsWith("each band less a fixed profile").contains("the models learn the words")
                .doesNotContain("edge model");
    }

    @Test
    void eachModelsOwnFrontEndWhenTheStudentsKeepTheClipBandMeans() {
        String words = DemoReport.bandNormalisation(
                recipe("{\"voice-normalisation\": true, \"student_profile\": \"clip\"}"));
        assertThat(words).startsWith("in the cloud model, each band less a fixed profile")
                .contains("the teacher learns the words")
                .endsWith("in the edge model (whose features the head reads), each band's mean over the clip removed "
                        + "(the voice's and the microphone's average spectral envelope)");
    }

    @Test
    void theShippedRecordNamesBothFrontEnds() throws IOException {
        Path training = DemoModelsTest.root().resolve("models/demo/repository/training.json");
        assertThat(DemoReport.bandNormalisation(JsonMapper.builder().build().readTree(training.toFile())))
                .startsWith("in the cloud model, each band less a fixed profile");
    }

    @Test
    void theCloudModelsEndAsTheRecipeBuiltIt() {
        assertThat(DemoReport.cloudArchitecture(recipe("{\"cloud\": \"standard\", \"teachers\": 1}")))
                .contains("(16, 16, 32, 32, 64, 64, 96 channels)").endsWith("global average pool, dropout 0.3, linear 96 -> 10, softmax.");
        assertThat(DemoReport.cloudArchitecture(recipe("{\"cloud\": \"bands\", \"teachers\": 3}")))
                .contains("averaged over time only").contains("linear 480 -> 10, softmax")
                .endsWith("The graph holds 3 such networks, each trained from its own seed, and averages their probabilities.");
        assertThat(DemoReport.cloudArchitecture(recipe("{\"cloud\": \"bands\", \"teachers\": 3, \"extra_teachers\": 2}")))
                .endsWith("The graph holds 5 such networks, each trained from its own seed, and averages their probabilities "
                        + "(the edge model and the head learn from the first 3; the other 2 were trained after them).");
        assertThat(DemoReport.cloudArchitecture(recipe("{\"cloud\": \"wide\", \"teachers\": 1}")))
                .contains("(24, 24, 48, 48, 96, 96, 128 channels)").contains("linear 128 -> 10");
    }

    @Test
    void theTrainingLinesNameTheAugmentationsTheRecipeUsed() throws IOException {
        JsonNode shipped = JsonMapper.builder().build().readTree(
                DemoModelsTest.root().resolve("models/demo/repository/training.json").toFile());
        assertThat(DemoReport.cloudTraining(shipped)).contains("speed perturbation +-8%")
                .contains("stretched or squeezed by up to 1.6x").contains("SpecAugment-style masking");
        assertThat(DemoReport.studentTraining(shipped)).contains("stretched or squeezed in time by up to 1.3x");
        assertThat(DemoReport.cloudTraining(recipe("{\"speed-perturbation\": false, \"stretch\": 0, \"spec-augment\": false, "
                + "\"reverb\": 0.5}"))).isEqualTo("Cross-entropy with label smoothing 0.05, AdamW, one-cycle learning rate, "
                + "augmentation for other recordings (time shift, gain 0.3-1.5, light noise, a share 0.5 heard in a synthetic room).");
        assertThat(DemoReport.studentTraining(recipe("{}"))).doesNotContain("stretched");
    }
}
