package dev.hybridge.policy.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** The running means a device keeps: over all rows up to the window, then following the latest. */
class DeviceProfilesTest {

    @Test
    void theMeanIsOverEveryRowUpToTheWindowThenEachNewRowWeighsOneWindowth() {
        DeviceProfiles.Running profiles = DeviceProfiles.inMemory();
        assertThat(profiles.current("r")).isNull();
        assertThat(profiles.heard("r", new float[] {2, 4}, 2, 2)).containsExactly(2, 4);
        assertThat(profiles.heard("r", new float[] {4, 8}, 2, 2)).containsExactly(3, 6);
        // the window holds two: the third row weighs a half
        assertThat(profiles.heard("r", new float[] {7, 10}, 2, 2)).containsExactly(5, 8);
        // two rows in one answer count as two
        float[] both = profiles.heard("s", new float[] {1, 1, 3, 3}, 2, 100);
        assertThat(both[0]).isCloseTo(2f, within(1e-6f));
        assertThat(profiles.snapshot()).containsOnlyKeys("r", "s");
    }

    @Test
    void rowsThatAreNotProfilesChangeNothing() {
        DeviceProfiles.Running profiles = DeviceProfiles.inMemory();
        profiles.heard("r", new float[] {1, 2}, 2, 10);
        assertThat(profiles.heard("r", new float[] {Float.NaN, 2}, 2, 10)).containsExactly(1, 2);
        assertThat(profiles.heard("r", new float[] {1, 2, 3}, 2, 10)).containsExactly(1, 2); // not whole rows
        // another width starts the mean again
        assertThat(profiles.heard("r", new float[] {5, 5, 5}, 3, 10)).containsExactly(5, 5, 5);
        assertThat(DeviceProfiles.NONE.heard("r", new float[] {1}, 1, 1)).isNull();
    }

    @Test
    void meansKeptBeforeAreTakenBack() {
        DeviceProfiles.Running profiles = DeviceProfiles.inMemory();
        profiles.restore(Map.of("r", new DeviceProfiles.Running.Mean(new float[] {1, 1}, 3)));
        assertThat(profiles.heard("r", new float[] {5, 5}, 2, 10)).containsExactly(2, 2);
    }
}
