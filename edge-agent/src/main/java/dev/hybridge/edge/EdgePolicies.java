package dev.hybridge.edge;

import dev.hybridge.policy.PolicyBundle;
import dev.hybridge.policy.PolicyEngine;
import dev.hybridge.policy.PolicyException;
import dev.hybridge.policy.PolicyLoader;
import dev.hybridge.policy.PolicySet;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;

/**
 * Where the agent's routes come from, and keeping them:
 * <ul>
 *   <li>a local policy folder ({@code hybridge.edge.policy-folder}), for sites without a gateway:
 *       loaded at start (a folder with problems stops the start, as on the gateway) and again
 *       when its files change;</li>
 *   <li>else the gateway ({@code GET /hybridge/policies}, for this device's group), asked every
 *       {@code uplink.policy-refresh} with {@code If-None-Match}. A set that does not validate
 *       with the same loader is refused whole and the last good one stays. A good set is written
 *       to the state folder before it is put in force, so that an agent that starts while the
 *       gateway is unreachable starts from it.</li>
 * </ul>
 *
 * <p>On disk: {@code <state-dir>/policies/<etag>/} holds a set's files, and
 * {@code <state-dir>/policies/current} names the set in force. The name is replaced by an atomic
 * rename after the files are written, so a crash leaves either the old set or the new one.
 */
final class EdgePolicies {

    private static final Logger log = LoggerFactory.getLogger(EdgePolicies.class);

    /** Where the routes in force came from. */
    enum Source {
        NONE, FOLDER, GATEWAY, DISK;

        String wire() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    private final PolicyEngine engine;
    private final PolicyLoader loader = new PolicyLoader();
    private final EdgeProperties properties;
    private final Uplink uplink;
    private final Path store;
    private volatile Source source = Source.NONE;
    private volatile String etag = "";
    private volatile String lastProblem = "";
    private volatile Instant lastFetched;
    private volatile String folderSeen = "";

    EdgePolicies(PolicyEngine engine, EdgeProperties properties, Uplink uplink) {
        this.engine = engine;
        this.properties = properties;
        this.uplink = uplink;
        this.store = Path.of(properties.stateDir()).resolve("policies");
    }

    /** What the agent runs at start: the local folder, or the last good set on disk. */
    void loadAtStart() {
        if (!properties.policyFolder().isBlank()) {
            Path folder = Path.of(properties.policyFolder());
            PolicyEngine.Reload reload = engine.reload(folder);
            if (!reload.applied()) {
                throw new IllegalStateException("the policy folder " + folder.toAbsolutePath()
                        + " (hybridge.edge.policy-folder) has problems:\n  " + String.join("\n  ", reload.problems()));
            }
            folderSeen = fingerprint(folder);
            source = Source.FOLDER;
            log.info("Routes from the policy folder {}: {}", folder, engine.current().routes().keySet());
            return;
        }
        if (!uplink.configured()) {
            log.info("No policy folder and no uplink: serving models only");
            return;
        }
        try {
            Path current = store.resolve("current");
            if (!Files.exists(current)) {
                log.info("No stored policy set yet; routes come once the gateway at {} answers", uplink.baseUrl());
                return;
            }
            String name = Files.readString(current).trim();
            PolicySet set = loader.load(PolicyBundle.read(store.resolve(name)));
            engine.apply(set);
            etag = name;
            source = Source.DISK;
            log.info("Routes from the stored policy set {}: {}", name, set.routes().keySet());
        } catch (IOException | PolicyException | RuntimeException e) {
            lastProblem = "the stored policy set cannot be used: " + e.getMessage();
            log.warn("{}; routes come once the gateway at {} answers", lastProblem, uplink.baseUrl());
        }
    }

    /** One refresh: the folder checked for changes, or the gateway asked. Never throws. */
    void refresh() {
        try {
            if (source == Source.FOLDER) {
                refreshFolder();
            } else if (uplink.configured()) {
                fetch();
            }
        } catch (RuntimeException e) {
            lastProblem = e.toString();
            log.warn("Policy refresh failed: {}", e.toString());
        }
    }

    private void refreshFolder() {
        Path folder = Path.of(properties.policyFolder());
        String now = fingerprint(folder);
        if (now.equals(folderSeen)) {
            return;
        }
        folderSeen = now;
        PolicyEngine.Reload reload = engine.reload(folder);
        if (reload.applied()) {
            lastProblem = "";
            log.info("Routes reloaded from {}: {}", folder, engine.current().routes().keySet());
        } else {
            lastProblem = String.join("; ", reload.problems());
            log.warn("Policy folder {} has problems; keeping the routes in force {}:\n  {}", folder,
                    engine.current().routes().keySet(), String.join("\n  ", reload.problems()));
        }
    }

    /** Asks the gateway for this device's set; puts a new, valid one in force after storing it. */
    private void fetch() {
        String group = properties.deviceGroup();
        String path = "/hybridge/policies" + (group.isBlank() ? "" : "?group=" + URLEncoder.encode(group, StandardCharsets.UTF_8));
        String known = etag;
        Duration timeout = uplink.config().probe().timeout().plus(uplink.config().connectTimeout());
        Answer answer = uplink.http()
                .headers(h -> {
                    if (!known.isEmpty()) {
                        h.set("If-None-Match", "\"" + known + "\"");
                    }
                })
                .get().uri(path)
                .responseSingle((response, body) -> body.asByteArray().defaultIfEmpty(new byte[0])
                        .map(bytes -> new Answer(response.status().code(), bytes)))
                .timeout(timeout)
                .onErrorResume(e -> Mono.just(new Answer(0, e.toString().getBytes(StandardCharsets.UTF_8))))
                .block();
        if (answer == null || answer.status() == 0) {
            lastProblem = "the gateway could not be asked for policies: " + (answer == null ? "no answer" : answer.text());
            log.debug(lastProblem);
            return;
        }
        lastFetched = Instant.now();
        if (answer.status() == 304) {
            return;
        }
        if (answer.status() != 200) {
            lastProblem = "the gateway answered " + answer.status() + " for " + path + ": " + answer.text();
            log.warn(lastProblem);
            return;
        }
        PolicyBundle bundle;
        PolicySet set;
        try {
            bundle = PolicyBundle.fromJson(answer.body());
            set = loader.load(bundle);
        } catch (PolicyException e) {
            lastProblem = "the gateway's policy set was refused whole: " + e.getMessage();
            log.warn("{}; keeping the routes in force {}", lastProblem, engine.current().routes().keySet());
            return;
        }
        String tag = bundle.etag();
        try {
            store(bundle, tag);
        } catch (IOException e) {
            // in force all the same: only a start without the gateway needs the stored copy
            log.warn("Cannot store the policy set in {}: {}", store, e.toString());
        }
        engine.apply(set);
        etag = tag;
        source = Source.GATEWAY;
        lastProblem = "";
        log.info("Routes from the gateway (set {}): {}", tag, set.routes().keySet());
    }

    private void store(PolicyBundle bundle, String tag) throws IOException {
        Path folder = store.resolve(tag);
        Path partial = store.resolve(tag + ".partial");
        deleteTree(partial);
        bundle.writeTo(partial);
        deleteTree(folder);
        Files.move(partial, folder, StandardCopyOption.ATOMIC_MOVE);
        Path pointer = store.resolve("current.partial");
        Files.writeString(pointer, tag);
        Files.move(pointer, store.resolve("current"), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        try (Stream<Path> sets = Files.list(store)) {
            for (Path old : sets.filter(Files::isDirectory).filter(p -> !p.getFileName().toString().equals(tag)).toList()) {
                deleteTree(old);
            }
        }
    }

    /** For health: where the routes came from, which set, and the last problem. */
    Map<String, Object> details() {
        Map<String, Object> details = new LinkedHashMap<>();
        details.put("source", source.wire());
        if (!etag.isEmpty()) {
            details.put("set", etag);
        }
        if (lastFetched != null) {
            details.put("lastFetched", lastFetched.toString());
        }
        details.put("routes", List.copyOf(engine.current().routes().keySet()));
        if (!lastProblem.isEmpty()) {
            details.put("problem", lastProblem);
        }
        return details;
    }

    Source source() {
        return source;
    }

    private static String fingerprint(Path folder) {
        try {
            return PolicyBundle.read(folder).etag();
        } catch (PolicyException e) {
            return "unreadable:" + e.getMessage();
        }
    }

    private static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    private record Answer(int status, byte[] body) {
        String text() {
            String s = new String(body, 0, Math.min(body.length, 300), StandardCharsets.UTF_8);
            return s.isBlank() ? "(no body)" : s;
        }
    }
}
