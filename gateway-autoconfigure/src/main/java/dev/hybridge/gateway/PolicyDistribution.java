package dev.hybridge.gateway;

import dev.hybridge.oip.OipException;
import dev.hybridge.oip.web.OipFront;
import dev.hybridge.policy.PolicyBundle;
import dev.hybridge.policy.PolicyException;
import dev.hybridge.policy.PolicyLoader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.RouterFunctions;
import org.springframework.web.reactive.function.server.ServerRequest;
import org.springframework.web.reactive.function.server.ServerResponse;
import reactor.core.publisher.Mono;

/**
 * The policy sets the gateway gives edge agents ({@code GET /hybridge/policies}): the route files
 * of its policy folder, and per device group ({@code ?group=<name>}) those overlaid with the
 * files of {@code groups/<name>/} in that folder (a file of the same name replaces the fleet's).
 * Tenants stay on the gateway: it applies budgets and rights to escalations itself.
 *
 * <p>A set is served only once it validates (the same loader the agents run), and a set that
 * stops validating keeps the last good one, as the gateway's own routes do. The answer carries an
 * {@code ETag}; with {@code If-None-Match} an unchanged set is a 304 with no body. The caller
 * needs an API key like any other (401 without one when there is no anonymous tenant).
 */
final class PolicyDistribution {

    static final String PATH = "/hybridge/policies";
    private static final Logger log = LoggerFactory.getLogger(PolicyDistribution.class);

    private final Path folder;
    private final PolicyLoader loader = new PolicyLoader();
    private final ApiKeys apiKeys;
    private volatile PolicyBundle fleet = new PolicyBundle(Map.of());
    private final Map<String, PolicyBundle> groups = new ConcurrentHashMap<>();

    PolicyDistribution(Path folder, ApiKeys apiKeys) {
        this.folder = folder;
        this.apiKeys = apiKeys;
    }

    /** Reads the folder again: every set that validates replaces its last good one. */
    synchronized void refresh() {
        PolicyBundle base;
        try {
            base = PolicyBundle.read(folder).without(PolicyLoader.TENANTS_FILE);
            loader.load(base);
            fleet = base;
        } catch (PolicyException e) {
            log.warn("Policy set for edge agents not updated; keeping the last good one: {}", e.getMessage());
            base = fleet;
        }
        Map<String, PolicyBundle> next = new TreeMap<>();
        Path groupsFolder = folder.resolve("groups");
        if (Files.isDirectory(groupsFolder)) {
            try (Stream<Path> list = Files.list(groupsFolder)) {
                for (Path group : list.filter(Files::isDirectory).toList()) {
                    String name = group.getFileName().toString();
                    try {
                        PolicyBundle overlaid = base.overlaid(PolicyBundle.read(group).without(PolicyLoader.TENANTS_FILE));
                        loader.load(overlaid);
                        next.put(name, overlaid);
                    } catch (PolicyException e) {
                        PolicyBundle last = groups.get(name);
                        log.warn("Policy set for device group {} not updated ({}); {}", name, e.getMessage(),
                                last == null ? "its devices get the fleet's" : "keeping its last good one");
                        if (last != null) {
                            next.put(name, last);
                        }
                    }
                }
            } catch (IOException e) {
                log.warn("Cannot list {}: {}", groupsFolder, e.getMessage());
                next.putAll(groups);
            }
        }
        groups.keySet().retainAll(next.keySet());
        groups.putAll(next);
    }

    /** The set a device of {@code group} gets (the fleet's for no group, or one with no files of its own). */
    PolicyBundle forGroup(String group) {
        return group == null || group.isBlank() ? fleet : groups.getOrDefault(group, fleet);
    }

    RouterFunction<ServerResponse> routes(OipFront front) {
        return RouterFunctions.route().GET(PATH, request -> serve(request, front)).build();
    }

    private Mono<ServerResponse> serve(ServerRequest request, OipFront front) {
        try {
            apiKeys.tenantOf(request.headers().asHttpHeaders());
        } catch (OipException e) {
            return front.error(e);
        }
        PolicyBundle bundle = forGroup(request.queryParam("group").orElse(""));
        String etag = "\"" + bundle.etag() + "\"";
        String asked = request.headers().firstHeader(HttpHeaders.IF_NONE_MATCH);
        if (etag.equals(asked)) {
            return ServerResponse.status(HttpStatus.NOT_MODIFIED).header(HttpHeaders.ETAG, etag).build();
        }
        return ServerResponse.ok().contentType(MediaType.APPLICATION_JSON).header(HttpHeaders.ETAG, etag)
                .bodyValue(bundle.toJson());
    }
}
