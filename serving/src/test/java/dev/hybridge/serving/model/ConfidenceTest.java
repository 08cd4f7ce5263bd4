package dev.hybridge.serving.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class ConfidenceTest {

    @Test
    void probabilitiesGiveTopClassMarginAndEntropy() {
        Confidence c = Confidence.of(new float[] {0.1f, 0.7f, 0.2f}, 0, 3, false);
        assertThat(c.topIndex()).isEqualTo(1);
        assertThat(c.probability()).isCloseTo(0.7, within(1e-6));
        assertThat(c.margin()).isCloseTo(0.5, within(1e-6));
        double entropy = -(0.1 * Math.log(0.1) + 0.7 * Math.log(0.7) + 0.2 * Math.log(0.2));
        assertThat(c.entropy()).isCloseTo(entropy, within(1e-6));
    }

    @Test
    void logitsGoThroughASoftmaxThatDoesNotOverflow() {
        Confidence c = Confidence.of(new float[] {9, 1000, 1000, 5}, 1, 2, true);
        assertThat(c.probability()).isCloseTo(0.5, within(1e-9));
        assertThat(c.margin()).isCloseTo(0.0, within(1e-9));
        assertThat(c.entropy()).isCloseTo(Math.log(2), within(1e-9));
    }

    @Test
    void aCertainAnswerHasFullConfidenceAndNoEntropy() {
        Confidence c = Confidence.of(new float[] {0, 0, 1}, 0, 3, false);
        assertThat(c.topIndex()).isEqualTo(2);
        assertThat(c.probability()).isEqualTo(1.0);
        assertThat(c.margin()).isEqualTo(1.0);
        assertThat(c.entropy()).isEqualTo(0.0);
    }

    @Test
    void uniformScoresAreTheLeastConfident() {
        Confidence c = Confidence.of(new float[] {0.25f, 0.25f, 0.25f, 0.25f}, 0, 4, false);
        assertThat(c.probability()).isCloseTo(0.25, within(1e-6));
        assertThat(c.margin()).isCloseTo(0.0, within(1e-6));
        assertThat(c.entropy()).isCloseTo(Math.log(4), within(1e-6));
    }
}
