package dev.hybridge.serving;

import java.nio.file.Files;
import java.nio.file.Path;

/** Where the generated test models live (models/testdata, see generate.py there). */
public final class TestModels {

    private TestModels() {
    }

    public static Path root() {
        String configured = System.getProperty("hybridge.root");
        Path dir = configured != null ? Path.of(configured) : Path.of("").toAbsolutePath();
        while (dir != null && !Files.isDirectory(dir.resolve("models/testdata"))) {
            dir = dir.getParent();
        }
        if (dir == null) {
            throw new IllegalStateException("models/testdata not found above " + Path.of("").toAbsolutePath());
        }
        return dir;
    }

    /** Models that all load. */
    public static Path repository() {
        return root().resolve("models/testdata/repository");
    }

    /** Models that each fail to load for their own reason, plus one good one. */
    public static Path faulty() {
        return root().resolve("models/testdata/faulty");
    }

    /** A deterministic second of "audio": a few sines, within [-1, 1]. */
    public static float[] audio(int seed) {
        float[] samples = new float[8000];
        for (int i = 0; i < samples.length; i++) {
            double t = i / 8000.0;
            samples[i] = (float) (0.5 * Math.sin(2 * Math.PI * (200 + 50 * seed) * t)
                    + 0.3 * Math.sin(2 * Math.PI * (1200 + 10 * seed) * t) * (i % (100 + seed) < 50 ? 1 : 0.2));
        }
        return samples;
    }
}
