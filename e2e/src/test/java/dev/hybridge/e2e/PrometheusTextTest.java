package dev.hybridge.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** Samples read from text as Micrometer's Prometheus registry writes it. */
class PrometheusTextTest {

    private static final String TEXT = """
            # HELP hybridge_admission_refused_total Requests an admission gate refused
            # TYPE hybridge_admission_refused_total counter
            hybridge_admission_refused_total{gate="door",lane="client"} 120.0
            hybridge_admission_refused_total{gate="door",lane="escalation"} 3.0
            hybridge_admission_refused_total{gate="edge",lane="client"} 7.0
            hybridge_admission_limit{gate="door"} 32.0
            hybridge_model_run_seconds_bucket{model="digits, \\"head\\"",le="+Inf"} 5 1733580000000
            jvm_threads_live_threads 41.0
            process_start_time_seconds +Inf
            """;

    @Test
    void sumsTheSamplesWhoseLabelsMatch() {
        PrometheusText text = PrometheusText.parse(TEXT);
        assertThat(text.sum("hybridge_admission_refused_total", "gate", "door").getAsDouble()).isEqualTo(123.0);
        assertThat(text.sum("hybridge_admission_refused_total", "gate", "door", "lane", "escalation").getAsDouble())
                .isEqualTo(3.0);
        assertThat(text.sum("hybridge_admission_refused_total").getAsDouble()).isEqualTo(130.0);
        assertThat(text.sum("hybridge_admission_refused_total", "gate", "cloud")).isEmpty();
        assertThat(text.sum("hybridge_admission_limit", "gate", "door").getAsDouble()).isEqualTo(32.0);
    }

    @Test
    void readsSamplesWithoutLabelsEscapedValuesTimestampsAndInfinity() {
        PrometheusText text = PrometheusText.parse(TEXT);
        assertThat(text.sum("jvm_threads_live_threads").getAsDouble()).isEqualTo(41.0);
        assertThat(text.named("hybridge_model_run_seconds_bucket")).singleElement().satisfies(s -> {
            assertThat(s.labels()).containsEntry("model", "digits, \"head\"").containsEntry("le", "+Inf");
            assertThat(s.value()).isEqualTo(5.0);
        });
        assertThat(text.sum("process_start_time_seconds").getAsDouble()).isInfinite();
    }

    @Test
    void aLineThatIsNotASampleIsNamed() {
        assertThatThrownBy(() -> PrometheusText.parse("hybridge_x{gate=door} 1\n"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("hybridge_x{gate=door}");
    }
}
