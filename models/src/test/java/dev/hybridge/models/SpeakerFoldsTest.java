package dev.hybridge.models;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.hybridge.policy.PolicyLoader;
import dev.hybridge.policy.RoutePolicy;
import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The committed leave-one-speaker-out folds ({@code models/demo/loso/}), each run through the
 * project's own model host on every recording of the speaker it never heard, and the shipped
 * routes decided by the real policy engine, against the model cards.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SpeakerFoldsTest {

    private Path root;
    private List<SpeakerFolds.Fold> folds;
    private Map<String, String> measured;
    private Properties card;

    @BeforeAll
    void measure() throws IOException {
        root = DemoModelsTest.root();
        folds = SpeakerFolds.evaluate(SpeakerFolds.folder(root), Fsdd.load(Fsdd.recordings(root)));
        assertThat(folds).extracting(SpeakerFolds.Fold::speaker).containsExactlyElementsOf(SpeakerFolds.SPEAKERS);
        assertThat(folds).allSatisfy(f -> assertThat(f.answers().size()).isEqualTo(500));
        measured = DemoReport.measureFolds(root, folds);
        card = new Properties();
        try (Reader in = Files.newBufferedReader(root.resolve("models/demo/measured.properties"))) {
            card.load(in);
        }
    }

    @Test
    void everyFoldMatchesTheModelCards() {
        assertThat(measured).isNotEmpty();
        for (Map.Entry<String, String> e : measured.entrySet()) {
            assertThat(card.getProperty(e.getKey())).as(e.getKey() + " in measured.properties").isNotNull();
            assertThat(Double.parseDouble(e.getValue())).as(e.getKey())
                    .isCloseTo(Double.parseDouble(card.getProperty(e.getKey())), within(1.0 / 500 + 1e-9));
        }
    }

    @Test
    void aLearnedReliabilityIsFittedWithoutTheSpeakerItIsUsedFor() {
        // fitted on four folds' held-out clips, the weights say what a deployment would ship
        double[] w = SpeakerFolds.fitReliability(folds.subList(1, 5).stream().map(SpeakerFolds.Fold::answers).toList());
        assertThat(w).hasSize(4);
        assertThat(w[2]).as("a wider margin means surer").isPositive();
    }

    @Test
    void theShippedCascadeKeepsTheCloudsAccuracyOnNewVoicesEscalatingAtMost15Percent() {
        for (SpeakerFolds.Fold f : folds) {
            assertThat(figure(f, "digits.escalated")).as(f.speaker()).isLessThanOrEqualTo(0.15);
        }
        // against the best cloud-only figure: the cloud model given the device's speed views, its profile, or its default
        double cloud = Math.max(mean("accuracy.cloud"), Math.max(mean("accuracy.cloud.device_profile"),
                mean("accuracy.cloud.device_views")));
        assertThat(mean("digits.accuracy")).isGreaterThanOrEqualTo(0.99 * cloud);
    }

    @Test
    void theSplitWithEarlyExitIsWithinAPointOfTheCascadeOnNewVoicesAtTheSameShare() {
        // digits-split escalates by the same score and calibration as digits: the same clips go to the cloud
        for (SpeakerFolds.Fold f : folds) {
            assertThat(figure(f, "digits-split.escalated")).as(f.speaker()).isEqualTo(figure(f, "digits.escalated"));
        }
        assertThat(mean("digits-split.accuracy")).isGreaterThanOrEqualTo(mean("digits.accuracy") - 0.01);
    }

    @Test
    void onNewVoicesTheCloudModelIsAheadOfTheEdgeModel() {
        assertThat(mean("accuracy.cloud")).isGreaterThan(mean("accuracy.edge"));
    }

    @Test
    void theCalibratedThresholdHoldsItsTargetForEveryNewVoice() {
        // digits.yaml: 12% of requests, the first hundred decided on the starting value
        for (SpeakerFolds.Fold f : folds) {
            assertThat(figure(f, "digits.escalated")).as(f.speaker()).isBetween(0.09, 0.15);
            assertThat(figure(f, "digits-split.escalated")).as(f.speaker()).isBetween(0.09, 0.15);
        }
        assertThat(mean("digits.escalated")).isCloseTo(0.12, within(0.01));
    }

    @Test
    void theMarginRanksTheEdgesErrorsOnNewVoices() {
        double overall = 0;
        double surest = 0;
        for (SpeakerFolds.Fold f : folds) {
            DemoEvaluation.Answers a = f.answers();
            overall += DemoEvaluation.accuracy(a.edge(), a.truth()) / folds.size();
            // the edge's accuracy on what it answers when the least sure 15% go to the cloud
            surest += SpeakerFolds.edgeAccuracyKeeping(a, SpeakerFolds.MARGIN, 0.15) / folds.size();
        }
        // the 15% it sends away hold its errors at least three times as densely as its answers overall
        // (1x: a signal that ranks nothing); a better edge leaves fewer errors to find, so no absolute gain
        double overallErrors = 1 - overall;
        double escalatedErrors = (overallErrors - 0.85 * (1 - surest)) / 0.15;
        assertThat(escalatedErrors / overallErrors).isGreaterThanOrEqualTo(3.0);
        assertThat(surest).isGreaterThan(overall);
    }

    private double figure(SpeakerFolds.Fold f, String figure) {
        return Double.parseDouble(measured.get("loso." + f.speaker() + "." + figure));
    }

    private double mean(String figure) {
        return folds.stream().mapToDouble(f -> figure(f, figure)).average().orElseThrow();
    }

    @Test
    void theDevicesVoiceProfileMakesTheCloudModelBetterOnNewVoices() {
        // the mean of the edge model's clip profiles over a device's stream, given to the cloud model,
        // against the training voices' average profile it removes by default
        assertThat(folds).allSatisfy(f -> assertThat(f.answers().cloudWithProfile()).isNotNull());
        double withProfile = SpeakerFolds.mean(folds, f -> DemoEvaluation.accuracy(f.answers().cloudWithProfile(),
                f.answers().truth()));
        double fixed = SpeakerFolds.mean(folds, f -> DemoEvaluation.accuracy(f.answers().cloud(), f.answers().truth()));
        assertThat(withProfile).isGreaterThan(fixed + 0.005);
    }

    @Test
    void theSpeedsADeviceLearnsForItsUserMakeTheCloudModelBetterStill() throws IOException {
        // as the shipped route sends them: the evaluation runs the setting digits.yaml has
        RoutePolicy digits = new PolicyLoader().parseRoute(root.resolve("config/policies/digits.yaml"),
                Files.readString(root.resolve("config/policies/digits.yaml")), new java.util.ArrayList<>());
        assertThat(digits.deviceProfile()).isEqualTo(DemoEvaluation.DIGITS_PROFILE);
        assertThat(folds).allSatisfy(f -> assertThat(f.answers().cloudWithViews()).isNotNull());
        double withViews = SpeakerFolds.mean(folds, f -> DemoEvaluation.accuracy(f.answers().cloudWithViews(),
                f.answers().truth()));
        double withProfile = SpeakerFolds.mean(folds, f -> DemoEvaluation.accuracy(f.answers().cloudWithProfile(),
                f.answers().truth()));
        assertThat(withViews).isGreaterThan(withProfile);
    }
}
