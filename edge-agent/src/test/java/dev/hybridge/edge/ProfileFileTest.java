package dev.hybridge.edge;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The device's profiles on disk: what a restart keeps, and what a damaged file costs. */
class ProfileFileTest {

    @TempDir
    Path dir;

    @Test
    void aRestartKeepsWhatTheDeviceLearned() throws Exception {
        Path file = dir.resolve("device-profiles.json");
        try (ProfileFile profiles = new ProfileFile(file)) {
            profiles.profiles().heard("digits", new float[] {1, 2}, 2, 1000);
            profiles.profiles().heard("digits", new float[] {3, 4}, 2, 1000);
            profiles.save();
            assertThat(file).exists();
            long written = Files.getLastModifiedTime(file).toMillis();
            Files.setLastModifiedTime(file, java.nio.file.attribute.FileTime.fromMillis(written - 60_000));
            profiles.save(); // nothing changed: not written again
            assertThat(Files.getLastModifiedTime(file).toMillis()).isEqualTo(written - 60_000);
        }
        ProfileFile again = new ProfileFile(file);
        assertThat(again.profiles().current("digits")).containsExactly(2, 3);
        // it goes on from the two rows it had, not from one
        assertThat(again.profiles().heard("digits", new float[] {5, 6}, 2, 1000)).containsExactly(3, 4);
        assertThat(dir.resolve("device-profiles.json.tmp")).doesNotExist();
    }

    @Test
    void aFileThatCannotBeReadIsSetAsideAndTheDeviceLearnsAgain() throws Exception {
        Path file = dir.resolve("device-profiles.json");
        Files.writeString(file, "{\"digits\": {\"rows\": 3, \"values\": [1, \"x\"]}}");
        ProfileFile profiles = new ProfileFile(file);
        assertThat(profiles.profiles().current("digits")).isNull();
        assertThat(dir.resolve("device-profiles.json.unreadable")).exists();
        assertThat(file).doesNotExist();
        Files.writeString(file, "not json");
        assertThat(new ProfileFile(file).profiles().snapshot()).isEmpty();
    }
}
