package dev.hybridge.policy.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import dev.hybridge.oip.OipCodec;
import dev.hybridge.policy.RoutePolicy;
import org.junit.jupiter.api.Test;

/** The speeds an escalation carries: those the device's edge model has been surest at, with their profiles. */
class DeviceViewsTest {

    private final RoutePolicy.Views views = new RoutePolicy.Views("speed", "probs", new double[] {0.9, 1.0, 1.1, 1.2},
            2, 1, "view_speeds");
    private final DeviceProfiles.Running profiles = DeviceProfiles.inMemory();
    private final DeviceViews device = new DeviceViews(FakeTier.edge(), new OipCodec(), profiles,
            (route, result) -> { });

    private void heard(double speed, float confidence, float... profile) {
        profiles.heard(DeviceViews.confidenceKey("r", speed), new float[] {confidence}, 1, 10);
        profiles.heard(DeviceViews.profileKey("r", speed), profile, profile.length, 10);
    }

    @Test
    void theSurestSpeedsArePickedEachWithItsOwnProfileOnceEverySpeedHasBeenHeard() {
        heard(0.9, 0.5f, 1, 1);
        heard(1.0, 0.8f, 2, 2);
        heard(1.1, 0.9f, 3, 3);
        assertThat(device.picked("r", views)).as("1.2 not heard yet").isNull();
        heard(1.2, 0.7f, 4, 4);
        DeviceViews.Picked picked = device.picked("r", views);
        assertThat(picked.speeds()).containsExactly(1.1f, 1.0f);
        assertThat(picked.profiles()).containsExactly(3, 3, 2, 2);
        assertThat(picked.width()).isEqualTo(2);
        // the means move with what is heard: 1.2 climbs past 1.0
        heard(1.2, 1.0f, 4, 4);
        assertThat(device.picked("r", views).speeds()).containsExactly(1.1f, 1.2f);
        // another route has learned nothing
        assertThat(device.picked("other", views)).isNull();
    }

    @Test
    void aColdDeviceSendsSpeedOneWithItsPlainProfileForEachView() {
        DeviceViews.Picked plain = DeviceViews.Picked.plain(3, new float[] {5, 6});
        assertThat(plain.speeds()).containsExactly(1f, 1f, 1f);
        assertThat(plain.profiles()).containsExactly(5, 6, 5, 6, 5, 6);
    }

    @Test
    void profilesOfAnotherWidthAtOneSpeedPickNothing() {
        heard(0.9, 0.5f, 1, 1);
        heard(1.0, 0.8f, 2, 2);
        heard(1.1, 0.9f, 3, 3, 3);
        heard(1.2, 0.7f, 4, 4);
        assertThat(device.picked("r", views)).isNull();
    }
}
