package dev.hybridge.policy.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class RecentShareTest {

    @Test
    void theShareIsOverTheLastEventsOnly() {
        RecentShare share = new RecentShare(4);
        assertThat(share.share()).isNaN();
        share.record(true);
        assertThat(share.share()).isEqualTo(1.0);
        share.record(false);
        share.record(false);
        share.record(false);
        assertThat(share.share()).isEqualTo(0.25);
        share.record(false);
        assertThat(share.share()).as("the first event left the window").isZero();
        for (int i = 0; i < 4; i++) {
            share.record(true);
        }
        assertThat(share.share()).isEqualTo(1.0);
    }

    @Test
    void aWindowHoldsAtLeastOneEvent() {
        assertThatThrownBy(() -> new RecentShare(0)).isInstanceOf(IllegalArgumentException.class);
    }
}
