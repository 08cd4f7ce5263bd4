package dev.hybridge.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The launch script and the Helm chart start edge-agent with the options the tests and benchmarks use. */
class EdgeLaunchTest {

    @Test
    void scriptAndChartUseTheMeasuredOptions() {
        assertThat(EdgeLaunch.drift()).isEmpty();
    }
}
