package dev.hybridge.policy.runtime;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The profiles a device learns, one per route with a {@code device-profile} setting: the running
 * mean of the profile rows its edge model gives. An edge agent keeps them; the gateway answers
 * many devices and keeps none ({@link #NONE}).
 */
public interface DeviceProfiles {

    /** Keeps nothing: routes' escalations carry no profile, and the cloud model uses its default. */
    DeviceProfiles NONE = new DeviceProfiles() {
        @Override
        public float[] heard(String route, float[] rows, int width, int window) {
            return null;
        }

        @Override
        public float[] current(String route) {
            return null;
        }
    };

    /**
     * Adds an answer's profile rows ({@code rows.length / width} of them, row-major) to the route's
     * mean; returns the mean with them, or null when nothing is kept. Rows holding a value that is
     * not finite are left out; rows of another width than the route's mean start it again.
     */
    float[] heard(String route, float[] rows, int width, int window);

    /** The route's mean so far, or null when it has none. */
    float[] current(String route);

    /** Profiles kept in memory. */
    static Running inMemory() {
        return new Running();
    }

    /** Running means in memory, each over up to its window of rows (then each new row weighs 1/window). */
    final class Running implements DeviceProfiles {

        /** One route's mean and how many rows it holds (capped at the window). */
        public record Mean(float[] values, long rows) {
        }

        private final Map<String, Mean> means = new ConcurrentHashMap<>();

        @Override
        public float[] heard(String route, float[] rows, int width, int window) {
            if (width < 1 || rows.length < width || rows.length % width != 0) {
                return current(route);
            }
            Mean updated = means.compute(route, (r, mean) -> {
                double[] values = new double[width];
                long count = 0;
                if (mean != null && mean.values().length == width) {
                    for (int b = 0; b < width; b++) {
                        values[b] = mean.values()[b];
                    }
                    count = mean.rows();
                }
                for (int row = 0; row < rows.length / width; row++) {
                    if (!finite(rows, row * width, width)) {
                        continue;
                    }
                    count = Math.min(count + 1, window);
                    for (int b = 0; b < width; b++) {
                        values[b] += (rows[row * width + b] - values[b]) / count;
                    }
                }
                if (count == 0) {
                    return mean;
                }
                float[] out = new float[width];
                for (int b = 0; b < width; b++) {
                    out[b] = (float) values[b];
                }
                return new Mean(out, count);
            });
            return updated == null ? null : updated.values().clone();
        }

        @Override
        public float[] current(String route) {
            Mean mean = means.get(route);
            return mean == null ? null : mean.values().clone();
        }

        /** Every route's mean, to keep elsewhere. */
        public Map<String, Mean> snapshot() {
            return Map.copyOf(means);
        }

        /** Takes back means kept before (a restart's). */
        public void restore(Map<String, Mean> kept) {
            means.putAll(kept);
        }

        private static boolean finite(float[] rows, int from, int width) {
            for (int i = from; i < from + width; i++) {
                if (!Float.isFinite(rows[i])) {
                    return false;
                }
            }
            return true;
        }
    }
}
