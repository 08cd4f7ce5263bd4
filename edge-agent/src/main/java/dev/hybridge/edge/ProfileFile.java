package dev.hybridge.edge;

import dev.hybridge.policy.runtime.DeviceProfiles;
import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * The device's profiles on disk ({@code <state-dir>/device-profiles.json}), so that a restart
 * keeps what the device has learned of its user. Written whole to a temporary file and moved over
 * the old one, so a crash leaves the old file or the new one; saved every few seconds while they
 * change and at shutdown (a crash loses at most those seconds of a running mean). A file that
 * cannot be read is set aside ({@code .unreadable}) and the device starts learning again.
 */
public final class ProfileFile implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(ProfileFile.class);
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private final Path file;
    private final DeviceProfiles.Running profiles;
    private Map<String, DeviceProfiles.Running.Mean> saved = Map.of();

    public ProfileFile(Path file) {
        this.file = file;
        this.profiles = DeviceProfiles.inMemory();
        Map<String, DeviceProfiles.Running.Mean> kept = read(file);
        profiles.restore(kept);
        saved = Map.copyOf(kept);
    }

    /** The profiles, as the route runtime keeps them. */
    public DeviceProfiles.Running profiles() {
        return profiles;
    }

    /** Writes the profiles when they changed since the last write; a failure is logged, the profiles stay in memory. */
    public synchronized void save() {
        Map<String, DeviceProfiles.Running.Mean> now = profiles.snapshot();
        if (same(now, saved)) {
            return;
        }
        ObjectNode root = JSON.createObjectNode();
        now.forEach((route, mean) -> {
            ObjectNode entry = root.putObject(route);
            entry.put("rows", mean.rows());
            ArrayNode values = entry.putArray("values");
            for (float v : mean.values()) {
                values.add(v);
            }
        });
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            Path temporary = file.resolveSibling(file.getFileName() + ".tmp");
            Files.write(temporary, JSON.writeValueAsBytes(root));
            try {
                Files.move(temporary, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(temporary, file, StandardCopyOption.REPLACE_EXISTING);
            }
            saved = now;
        } catch (IOException | JacksonException e) {
            log.warn("Device profiles not saved to {}: {}", file, e.getMessage());
        }
    }

    @Override
    public void close() {
        save();
    }

    private static boolean same(Map<String, DeviceProfiles.Running.Mean> a, Map<String, DeviceProfiles.Running.Mean> b) {
        if (!a.keySet().equals(b.keySet())) {
            return false;
        }
        for (Map.Entry<String, DeviceProfiles.Running.Mean> e : a.entrySet()) {
            DeviceProfiles.Running.Mean other = b.get(e.getKey());
            if (other.rows() != e.getValue().rows() || !java.util.Arrays.equals(other.values(), e.getValue().values())) {
                return false;
            }
        }
        return true;
    }

    private static Map<String, DeviceProfiles.Running.Mean> read(Path file) {
        if (!Files.isRegularFile(file)) {
            return Map.of();
        }
        try {
            JsonNode root = JSON.readTree(Files.readAllBytes(file));
            Map<String, DeviceProfiles.Running.Mean> kept = new LinkedHashMap<>();
            for (Map.Entry<String, JsonNode> entry : root.properties()) {
                JsonNode values = entry.getValue().path("values");
                long rows = entry.getValue().path("rows").asLong(0);
                if (!values.isArray() || values.isEmpty() || rows < 1) {
                    throw new IllegalArgumentException("route '" + entry.getKey() + "' has no values or rows");
                }
                float[] mean = new float[values.size()];
                for (int i = 0; i < mean.length; i++) {
                    if (!values.get(i).isNumber() || !Float.isFinite(values.get(i).floatValue())) {
                        throw new IllegalArgumentException("route '" + entry.getKey() + "' has a value that is not a number");
                    }
                    mean[i] = values.get(i).floatValue();
                }
                kept.put(entry.getKey(), new DeviceProfiles.Running.Mean(mean, rows));
            }
            log.info("Device profiles of {} route(s) read from {}", kept.size(), file);
            return kept;
        } catch (IOException | JacksonException | IllegalArgumentException e) {
            Path aside = file.resolveSibling(file.getFileName() + ".unreadable");
            log.warn("Device profiles in {} cannot be read ({}); moved to {}, learning again", file, e.getMessage(), aside);
            try {
                Files.move(file, aside, StandardCopyOption.REPLACE_EXISTING);
            } catch (IOException moved) {
                log.warn("Could not move {} aside: {}", file, moved.getMessage());
            }
            return Map.of();
        }
    }
}
