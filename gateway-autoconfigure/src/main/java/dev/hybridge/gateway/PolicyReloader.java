package dev.hybridge.gateway;

import dev.hybridge.policy.PolicyEngine;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads the policy folder at start and again whenever a file in it changes (checked every
 * {@code hybridge.gateway.policy-reload-interval}; on Kubernetes a ConfigMap update swaps the
 * folder's files). A folder with any problem is refused whole and the last good set stays.
 */
final class PolicyReloader {

    private static final Logger log = LoggerFactory.getLogger(PolicyReloader.class);

    private final PolicyEngine engine;
    private final Path folder;
    private volatile String lastSeen = "";
    private volatile List<String> lastProblems = List.of();
    private volatile boolean loadedOnce;
    private final Runnable onReload;

    /** @param onReload run after a new set is put in force */
    PolicyReloader(PolicyEngine engine, Path folder, Runnable onReload) {
        this.engine = engine;
        this.folder = folder;
        this.onReload = onReload;
    }

    /** The first load; the program refuses to start on a bad folder. */
    void loadOrFail() {
        PolicyEngine.Reload reload = engine.reload(folder);
        if (!reload.applied()) {
            throw new IllegalStateException("the policy folder " + folder.toAbsolutePath() + " (hybridge.gateway.policy-folder)"
                    + " has problems:\n  " + String.join("\n  ", reload.problems()));
        }
        lastSeen = fingerprint();
        loadedOnce = true;
        log.info("Policies loaded from {}: routes {}", folder, engine.current().routes().keySet());
    }

    /** Reloads when a file changed; returns whether a new set was put in force. */
    boolean checkForChanges() {
        String now = fingerprint();
        if (now.equals(lastSeen)) {
            return false;
        }
        lastSeen = now;
        PolicyEngine.Reload reload = engine.reload(folder);
        if (reload.applied()) {
            lastProblems = List.of();
            log.info("Policies reloaded from {}: routes {}", folder, engine.current().routes().keySet());
            onReload.run();
            return true;
        }
        lastProblems = reload.problems();
        log.warn("Policy folder {} has problems; keeping the routes in force {}:\n  {}", folder,
                engine.current().routes().keySet(), String.join("\n  ", reload.problems()));
        return false;
    }

    boolean loaded() {
        return loadedOnce;
    }

    /** The problems of the last refused reload (empty when the folder is as loaded). */
    List<String> lastProblems() {
        return lastProblems;
    }

    /**
     * Names and content checksums of the folder's files and of its device groups' files
     * ({@code groups/<name>/}), following symbolic links (files are small).
     */
    private String fingerprint() {
        StringBuilder out = new StringBuilder();
        fingerprint(folder, "", out);
        Path groups = folder.resolve("groups");
        if (Files.isDirectory(groups)) {
            try (Stream<Path> list = Files.list(groups)) {
                for (Path group : list.filter(Files::isDirectory).sorted().toList()) {
                    fingerprint(group, "groups/" + group.getFileName() + "/", out);
                }
            } catch (IOException e) {
                out.append("unreadable:").append(e.getMessage());
            }
        }
        return out.toString();
    }

    private static void fingerprint(Path dir, String prefix, StringBuilder out) {
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.sorted().toList()) {
                if (Files.isRegularFile(f)) {
                    java.util.zip.CRC32 crc = new java.util.zip.CRC32();
                    crc.update(Files.readAllBytes(f));
                    out.append(prefix).append(f.getFileName()).append(':').append(crc.getValue()).append(';');
                }
            }
        } catch (IOException e) {
            out.append("unreadable:").append(e.getMessage());
        }
    }
}
