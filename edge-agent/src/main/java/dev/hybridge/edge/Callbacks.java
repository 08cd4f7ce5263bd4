package dev.hybridge.edge;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.handler.codec.http.HttpHeaderNames;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;
import reactor.netty.http.client.HttpClient;

/**
 * Late answers pushed to the caller: a request to the agent may name {@code hybridge.callback_url};
 * when its escalation had to be kept and the cloud has answered it, the agent POSTs what
 * {@code GET /v2/escalations/{id}} shows to that address, again with backoff until it is
 * acknowledged (any 2xx) or the entry's time to live has passed. The state is in the outbox, so
 * a restart resumes where it was. Only hosts in {@code outbox.callback-hosts} are called (an
 * agent is no open relay); a request naming another is kept without its callback, and logged.
 */
final class Callbacks {

    private static final Logger log = LoggerFactory.getLogger(Callbacks.class);

    private final Outbox outbox;
    private final EscalationEndpoint views;
    private final Set<String> allowedHosts;
    private final EdgeProperties.Outbox config;
    private final HttpClient http = HttpClient.create().responseTimeout(Duration.ofSeconds(5));
    private final Counter delivered;
    private final Counter failed;

    Callbacks(Outbox outbox, EscalationEndpoint views, EdgeProperties.Outbox config, MeterRegistry registry) {
        this.outbox = outbox;
        this.views = views;
        this.config = config;
        this.allowedHosts = Set.copyOf(config.callbackHosts());
        this.delivered = Counter.builder("hybridge.outbox.callbacks").tag("result", "delivered")
                .description("Late answers delivered to a caller's callback address").register(registry);
        this.failed = Counter.builder("hybridge.outbox.callbacks").tag("result", "failed")
                .description("Late answers given up on (the callback not acknowledged within the entry's time to live)")
                .register(registry);
    }

    /** The address to keep with an escalation, or null when there is none or its host is not allowed. */
    String accepted(Object url) {
        if (url == null) {
            return null;
        }
        try {
            URI uri = URI.create(url.toString());
            String scheme = uri.getScheme();
            if (("http".equals(scheme) || "https".equals(scheme)) && uri.getHost() != null
                    && (allowedHosts.contains(uri.getHost()) || allowedHosts.contains(uri.getHost() + ":" + uri.getPort()))) {
                return uri.toString();
            }
        } catch (IllegalArgumentException e) {
            // refused below
        }
        log.warn("Callback address {} not allowed (hybridge.edge.outbox.callback-hosts: {}); the escalation is kept"
                + " without it", url, allowedHosts);
        return null;
    }

    /** One pass over the callbacks due. Never throws; completes when its posts have ended. */
    CompletableFuture<Void> deliver() {
        try {
            List<Outbox.View> due = outbox.callbacksDue(8).join();
            CompletableFuture<?>[] posts = due.stream().map(this::post).toArray(CompletableFuture[]::new);
            return CompletableFuture.allOf(posts);
        } catch (RuntimeException e) {
            log.warn("Callback pass failed: {}", e.toString());
            return CompletableFuture.completedFuture(null);
        }
    }

    private CompletableFuture<Void> post(Outbox.View view) {
        byte[] body = views.json(view);
        return http.post().uri(view.entry().callbackUrl())
                .send((request, out) -> {
                    request.header(HttpHeaderNames.CONTENT_TYPE, "application/json");
                    return out.sendByteArray(Mono.just(body));
                })
                .responseSingle((response, content) -> content.then(Mono.just(response.status().code())))
                .timeout(Duration.ofSeconds(10))
                .map(status -> status >= 200 && status < 300 ? "" : "answered " + status)
                .onErrorResume(e -> Mono.just(e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage())))
                .toFuture()
                .thenCompose(problem -> {
                    boolean ok = problem.isEmpty();
                    Duration backoff = Duration.ofMillis(Math.min(config.maxBackoff().toMillis(),
                            config.firstBackoff().toMillis() << Math.min(20, view.callbackAttempts())));
                    return outbox.callbackTried(view.entry().id(), ok, backoff, problem).thenAccept(settled -> {
                        if (ok) {
                            delivered.increment();
                        } else if (settled) {
                            failed.increment();
                            log.warn("Gave up the callback of escalation {} to {}: {}", view.entry().id(),
                                    view.entry().callbackUrl(), problem);
                        }
                    });
                })
                .exceptionally(e -> {
                    log.warn("Callback of escalation {}: {}", view.entry().id(), e.toString());
                    return null;
                });
    }
}
