package dev.hybridge.edge;

import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.netty.channel.ChannelOption;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;
import reactor.netty.http.client.HttpClient;
import reactor.netty.resources.ConnectionProvider;

/**
 * The agent's link to the gateway: one HTTP client, a Resilience4j circuit breaker that every
 * escalation goes through, a bound on escalations in flight, and a probe that watches a link the
 * breaker has opened.
 *
 * <p>Once the breaker is open no request waits for the link: escalations fail at once and the
 * edge's answer stands. The breaker does not let requests test the link again on its own (its
 * wait in the open state is unbounded); the probe does, with a light {@code GET /v2/health/live}
 * after {@code breaker.wait-in-open-state}, then backing off (doubling, up to
 * {@code probe.max-backoff}) while the gateway stays unreachable. A probe that is answered moves
 * the breaker to half-open: the next escalations then close it, or open it again.
 *
 * <p>State, for health and metrics: {@link State#ONLINE} (breaker closed, no failure in its
 * window), {@link State#DEGRADED} (closed with failures or slow calls in its window, or half-open),
 * {@link State#OFFLINE} (open, or no uplink configured).
 */
final class Uplink implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Uplink.class);

    /** The link as the agent's health and metrics report it. */
    enum State {
        ONLINE, DEGRADED, OFFLINE;

        String wire() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }

        /** The gauge's value: 2 online, 1 degraded, 0 offline. */
        int level() {
            return switch (this) {
                case ONLINE -> 2;
                case DEGRADED -> 1;
                case OFFLINE -> 0;
            };
        }
    }

    private final EdgeProperties.Uplink config;
    private final String baseUrl;
    private final CircuitBreaker breaker;
    private final Semaphore inFlight;
    private final ConnectionProvider connections;
    private final HttpClient http;
    private final ScheduledExecutorService probes;
    private final AtomicLong probeBackoffMillis = new AtomicLong();
    private volatile String lastProblem = "";
    private volatile boolean probing;

    Uplink(EdgeProperties.Uplink config) {
        this.config = config;
        this.baseUrl = config.url().endsWith("/") ? config.url().substring(0, config.url().length() - 1) : config.url();
        EdgeProperties.Breaker b = config.breaker();
        this.breaker = CircuitBreaker.of("uplink", CircuitBreakerConfig.custom()
                .slidingWindowType(CircuitBreakerConfig.SlidingWindowType.COUNT_BASED)
                .slidingWindowSize(b.slidingWindowSize())
                .minimumNumberOfCalls(b.minimumNumberOfCalls())
                .failureRateThreshold(b.failureRateThreshold())
                .slowCallDurationThreshold(b.slowCallDuration())
                .slowCallRateThreshold(b.slowCallRateThreshold())
                // the probe, not a request, decides when the link is tried again
                .waitDurationInOpenState(Duration.ofDays(365))
                .automaticTransitionFromOpenToHalfOpenEnabled(false)
                .permittedNumberOfCallsInHalfOpenState(Math.min(3, b.minimumNumberOfCalls()))
                .build());
        this.inFlight = new Semaphore(config.maxConcurrent());
        this.connections = ConnectionProvider.builder("hybridge-uplink")
                .maxConnections(config.maxConcurrent())
                .pendingAcquireMaxCount(config.maxConcurrent())
                .pendingAcquireTimeout(config.timeout())
                .maxIdleTime(Duration.ofSeconds(30))
                .build();
        HttpClient client = HttpClient.create(connections)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.max(1, config.connectTimeout().toMillis()))
                .keepAlive(true);
        if (!config.apiKey().isBlank()) {
            // the gateway reads a bearer token whatever its api-key-header is set to
            client = client.headers(h -> h.set("Authorization", "Bearer " + config.apiKey()));
        }
        this.http = client.baseUrl(baseUrl);
        this.probes = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "hybridge-uplink-probe");
            t.setDaemon(true);
            return t;
        });
        breaker.getEventPublisher().onStateTransition(event -> {
            log.info("Uplink to {}: {}", baseUrl, event.getStateTransition());
            if (event.getStateTransition().getToState() == CircuitBreaker.State.OPEN) {
                probeBackoffMillis.set(config.breaker().waitInOpenState().toMillis());
                scheduleProbe();
            }
        });
    }

    boolean configured() {
        return config.configured();
    }

    String baseUrl() {
        return baseUrl;
    }

    HttpClient http() {
        return http;
    }

    CircuitBreaker breaker() {
        return breaker;
    }

    EdgeProperties.Uplink config() {
        return config;
    }

    /** Takes a place among the escalations in flight; false when all are taken. */
    boolean tryEnter() {
        return inFlight.tryAcquire();
    }

    /**
     * Takes a place for a replay, only while more than {@code reserve} places are free: a backlog
     * never takes the places live escalations need.
     */
    boolean tryEnterLeaving(int reserve) {
        synchronized (inFlight) {
            return inFlight.availablePermits() > reserve && inFlight.tryAcquire();
        }
    }

    void leave() {
        inFlight.release();
    }

    /** Remembers why the link last failed, for the health details. */
    void failed(String problem) {
        lastProblem = problem;
    }

    String lastProblem() {
        return lastProblem;
    }

    State state() {
        if (!configured()) {
            return State.OFFLINE;
        }
        return switch (breaker.getState()) {
            case CLOSED -> breaker.getMetrics().getNumberOfFailedCalls() > 0 || breaker.getMetrics().getNumberOfSlowCalls() > 0
                    ? State.DEGRADED : State.ONLINE;
            case HALF_OPEN -> State.DEGRADED;
            default -> State.OFFLINE;
        };
    }

    /** Whether calls may go out now (the breaker is not open). */
    boolean open() {
        CircuitBreaker.State s = breaker.getState();
        return !configured() || s == CircuitBreaker.State.OPEN || s == CircuitBreaker.State.FORCED_OPEN;
    }

    private void scheduleProbe() {
        if (probing) {
            return;
        }
        probing = true;
        probes.schedule(this::probe, probeBackoffMillis.get(), TimeUnit.MILLISECONDS);
    }

    /** One probe; on success the breaker goes half-open, on failure the next probe waits longer. */
    void probe() {
        boolean answered;
        try {
            Integer status = http.get().uri("/v2/health/live")
                    .responseSingle((response, body) -> body.then(Mono.just(response.status().code())))
                    .timeout(config.probe().timeout())
                    .onErrorResume(e -> {
                        failed("probe: " + e);
                        return Mono.empty();
                    })
                    .block();
            answered = status != null && status == 200;
        } catch (RuntimeException e) {
            failed("probe: " + e);
            answered = false;
        }
        probing = false;
        if (answered) {
            if (breaker.getState() == CircuitBreaker.State.OPEN) {
                breaker.transitionToHalfOpenState();
            }
            return;
        }
        long next = Math.min(config.probe().maxBackoff().toMillis(),
                Math.max(config.probe().firstBackoff().toMillis(), probeBackoffMillis.get() * 2));
        probeBackoffMillis.set(next);
        if (breaker.getState() == CircuitBreaker.State.OPEN) {
            scheduleProbe();
        }
    }

    @Override
    public void close() {
        probes.shutdownNow();
        connections.dispose();
    }
}
