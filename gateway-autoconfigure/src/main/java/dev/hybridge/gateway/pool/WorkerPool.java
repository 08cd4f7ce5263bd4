package dev.hybridge.gateway.pool;

import dev.hybridge.gateway.GatewayProperties;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.policy.Tier;
import io.github.resilience4j.bulkhead.Bulkhead;
import io.github.resilience4j.bulkhead.BulkheadConfig;
import io.github.resilience4j.circuitbreaker.CallNotPermittedException;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;
import io.github.resilience4j.reactor.bulkhead.operator.BulkheadOperator;
import io.github.resilience4j.reactor.circuitbreaker.operator.CircuitBreakerOperator;
import io.github.resilience4j.reactor.timelimiter.TimeLimiterOperator;
import io.github.resilience4j.retry.Retry;
import io.github.resilience4j.retry.RetryConfig;
import io.github.resilience4j.timelimiter.TimeLimiter;
import io.github.resilience4j.timelimiter.TimeLimiterConfig;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelOption;
import io.netty.handler.codec.http.HttpHeaderNames;
import java.net.InetAddress;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;
import reactor.netty.http.client.HttpClient;
import reactor.netty.resources.ConnectionProvider;

/**
 * The workers of one tier and every protection of a call to them, each a Resilience4j instance
 * with explicit settings ({@code hybridge.gateway.<tier>.*}):
 * <ul>
 *   <li>a circuit breaker per worker (never shared: one sick worker must not close off the
 *       others), so the balancer steps around a worker whose breaker is open;</li>
 *   <li>a time limiter per pool (the most a call may take), further bounded per call by the
 *       request's remaining deadline;</li>
 *   <li>a bulkhead per pool: calls in flight at once; one more fails at once;</li>
 *   <li>a retry per pool, on another worker, only for failures where the worker could not take
 *       the request (no connection, 503, open breaker).</li>
 * </ul>
 * Workers are chosen by power of two choices: two random callable workers, the one with the
 * lower (calls in flight + 1) x average latency wins.
 */
public final class WorkerPool implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(WorkerPool.class);

    private final Tier tier;
    private final GatewayProperties.Pool config;
    private final int maxResponseBytes;
    private final CircuitBreakerRegistry breakers;
    private final Bulkhead bulkhead;
    private final Retry retry;
    private final TimeLimiter timeLimiter;
    private final ConnectionProvider connections;
    private final HttpClient http;
    private volatile List<Worker> workers = List.of();

    public WorkerPool(Tier tier, GatewayProperties.Pool config, int maxResponseBytes) {
        this.tier = tier;
        this.config = config;
        this.maxResponseBytes = maxResponseBytes;
        GatewayProperties.Breaker b = config.breaker();
        this.breakers = CircuitBreakerRegistry.of(CircuitBreakerConfig.custom()
                .slidingWindowType(CircuitBreakerConfig.SlidingWindowType.COUNT_BASED)
                .slidingWindowSize(b.slidingWindowSize())
                .minimumNumberOfCalls(b.minimumNumberOfCalls())
                .failureRateThreshold(b.failureRateThreshold())
                .slowCallDurationThreshold(b.slowCallDuration())
                .slowCallRateThreshold(b.slowCallRateThreshold())
                .waitDurationInOpenState(b.waitInOpenState())
                .permittedNumberOfCallsInHalfOpenState(b.permittedCallsInHalfOpenState())
                .automaticTransitionFromOpenToHalfOpenEnabled(false)
                // a worker that sheds load is busy, not sick: its breaker neither counts it as a failure nor a success
                .ignoreException(e -> e instanceof WorkerFailure failure && failure.shed())
                .build());
        this.bulkhead = Bulkhead.of(tier.wire(), BulkheadConfig.custom()
                .maxConcurrentCalls(config.maxConcurrent())
                .maxWaitDuration(Duration.ZERO)
                .build());
        this.retry = Retry.of(tier.wire(), RetryConfig.custom()
                .maxAttempts(config.retry().maxAttempts())
                .waitDuration(config.retry().backoff())
                .retryOnException(WorkerPool::safeToRetry)
                .failAfterMaxAttempts(false)
                .build());
        this.timeLimiter = TimeLimiter.of(tier.wire(), TimeLimiterConfig.custom()
                .timeoutDuration(config.timeout())
                .cancelRunningFuture(true)
                .build());
        this.connections = ConnectionProvider.builder("hybridge-" + tier.wire())
                .maxConnections(config.maxConcurrent())
                .pendingAcquireMaxCount(config.maxConcurrent())
                .pendingAcquireTimeout(config.timeout())
                .maxIdleTime(Duration.ofSeconds(30))
                .build();
        this.http = HttpClient.create(connections)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) config.connectTimeout().toMillis())
                .keepAlive(true);
        setAddresses(config.addresses());
    }

    public Tier tier() {
        return tier;
    }

    public List<Worker> workers() {
        return workers;
    }

    public CircuitBreakerRegistry breakers() {
        return breakers;
    }

    public Bulkhead bulkhead() {
        return bulkhead;
    }

    /** Whether any worker's breaker lets calls through. */
    public boolean anyCallable() {
        return workers.stream().anyMatch(Worker::callable);
    }

    /** Replaces the workers; those whose address stays keep their breaker and statistics. */
    public synchronized void setAddresses(List<URI> addresses) {
        Map<URI, Worker> current = new LinkedHashMap<>();
        for (Worker w : workers) {
            current.put(w.base(), w);
        }
        List<Worker> next = new ArrayList<>();
        for (URI address : addresses) {
            URI base = normalize(address);
            Worker existing = current.remove(base);
            if (existing != null) {
                next.add(existing);
            } else {
                String id = tier.wire() + "/" + base.getAuthority();
                next.add(new Worker(id, base, breakers.circuitBreaker(id)));
            }
        }
        for (Worker gone : current.values()) {
            breakers.remove(gone.id());
        }
        if (!next.equals(workers)) {
            log.info("{} pool: {}", tier.wire(), next.isEmpty() ? "no workers" : next);
        }
        workers = List.copyOf(next);
    }

    /** Resolves the pool's DNS name (blocking: call off the event loop). */
    public void refreshFromDns() {
        if (config.dnsName().isBlank()) {
            return;
        }
        try {
            List<URI> addresses = new ArrayList<>();
            for (InetAddress a : InetAddress.getAllByName(config.dnsName())) {
                String host = a.getHostAddress().contains(":") ? "[" + a.getHostAddress() + "]" : a.getHostAddress();
                addresses.add(URI.create("http://" + host + ":" + config.port()));
            }
            addresses.sort(null);
            setAddresses(addresses);
        } catch (java.net.UnknownHostException e) {
            log.warn("{} pool: cannot resolve {} ({}); keeping {} workers", tier.wire(), config.dnsName(),
                    e.getMessage(), workers.size());
        }
    }

    /**
     * POSTs an OIP infer request to a worker of this pool, protected as described above.
     *
     * @param deadlineNanos the request's deadline on {@link System#nanoTime()}'s scale
     * @return the worker's answer (2xx or 4xx: a 4xx is the request's fault and passes through);
     *         errors: {@link WorkerFailure}, {@link TimeoutException}, {@link CallNotPermittedException}
     *         (every breaker open), {@code BulkheadFullException}, or {@link NoWorkerException}
     */
    public Mono<Attempt> infer(String model, String version, byte[] body, int jsonLength, long deadlineNanos) {
        return infer(model, version, body, jsonLength, deadlineNanos, Map.of());
    }

    /** {@link #infer(String, String, byte[], int, long)} with extra request headers (the trace context). */
    public Mono<Attempt> infer(String model, String version, byte[] body, int jsonLength, long deadlineNanos,
                               Map<String, String> headers) {
        String path = "/v2/models/" + model + (version == null ? "" : "/versions/" + version) + "/infer";
        Set<Worker> tried = new HashSet<>(4);
        Retry.AsyncContext<Attempt> retries = retry.asyncContext();
        return attempt(path, body, jsonLength, headers, deadlineNanos, tried, retries, null)
                .transformDeferred(BulkheadOperator.of(bulkhead));
    }

    /**
     * One attempt on a worker not tried yet; on a failure the pool's Resilience4j retry says
     * whether (and after what pause) to try another. Driven through the retry's async context
     * rather than its Reactor operator, which costs a sink and a resubscription per call.
     */
    private Mono<Attempt> attempt(String path, byte[] body, int jsonLength, Map<String, String> headers,
                                  long deadlineNanos, Set<Worker> tried, Retry.AsyncContext<Attempt> retries,
                                  Throwable lastFailure) {
        Worker worker = choose(tried);
        if (worker == null) {
            // every worker was tried: the last one's failure says more than "none left"
            return Mono.error(lastFailure != null ? lastFailure : new NoWorkerException(tier, workers.isEmpty()));
        }
        tried.add(worker);
        long remainingNanos = deadlineNanos - System.nanoTime();
        if (remainingNanos <= 0) {
            return Mono.error(new TimeoutException("the deadline passed before the " + tier.wire() + " call"));
        }
        long started = System.nanoTime();
        Mono<WorkerResponse> call = post(worker, path, body, jsonLength, headers);
        // one timer per call: the pool's time limiter, or the request's remaining deadline when that is sooner
        call = remainingNanos < config.timeout().toNanos() ? within(call, remainingNanos)
                : call.transformDeferred(TimeLimiterOperator.of(timeLimiter));
        return call
                .transformDeferred(CircuitBreakerOperator.of(worker.breaker()))
                .doOnSubscribe(s -> worker.started())
                .doFinally(signal -> worker.finished())
                .map(response -> {
                    double millis = (System.nanoTime() - started) / 1e6;
                    worker.recordLatency(millis);
                    retries.onComplete();
                    return new Attempt(worker, response, millis);
                })
                .onErrorResume(failure -> {
                    if (!safeToRetry(failure)) {
                        return Mono.error(failure);
                    }
                    long pauseMillis = retries.onError(failure);
                    if (pauseMillis < 0) {
                        return Mono.error(failure); // attempts used up
                    }
                    Mono<Attempt> next = Mono.defer(() -> attempt(path, body, jsonLength, headers, deadlineNanos, tried,
                            retries, failure));
                    return pauseMillis == 0 ? next : Mono.delay(Duration.ofMillis(pauseMillis)).then(next);
                });
    }

    /**
     * The call, or a {@link TimeoutException} when it has not answered within the time left.
     * Not {@code Mono.timeout}: that names the whole operator chain (with a stream and a regular
     * expression) on every subscription, 1.4% of the gateway's event-loop time under load.
     */
    private Mono<WorkerResponse> within(Mono<WorkerResponse> call, long nanos) {
        return call.take(Duration.ofNanos(nanos))
                .switchIfEmpty(Mono.error(() -> new TimeoutException("no answer from the " + tier.wire()
                        + " worker within the time left (" + nanos / 1_000_000 + " ms)")));
    }

    /**
     * A model's metadata from one worker of this pool (for the route's own metadata), bounded by
     * the deadline; not counted by the breakers.
     */
    public Mono<byte[]> metadata(String model, String version, long deadlineNanos) {
        return get("/v2/models/" + model + (version == null ? "" : "/versions/" + version), deadlineNanos);
    }

    /**
     * A model's configuration ({@code GET .../config}, Triton's model configuration extension)
     * from one worker of this pool, bounded by the deadline; not counted by the breakers.
     */
    public Mono<byte[]> configuration(String model, String version, long deadlineNanos) {
        return get("/v2/models/" + model + (version == null ? "" : "/versions/" + version) + "/config", deadlineNanos);
    }

    private Mono<byte[]> get(String path, long deadlineNanos) {
        Worker worker = choose(Set.of());
        if (worker == null) {
            return Mono.error(new NoWorkerException(tier, true));
        }
        return http.get().uri(worker.base().toString() + path)
                .responseSingle((response, content) -> content.asByteArray().defaultIfEmpty(new byte[0])
                        .flatMap(bytes -> response.status().code() == 200 ? Mono.just(bytes)
                                : Mono.error(new dev.hybridge.oip.OipException(response.status().code() == 404 ? 502 : 503,
                                        worker + " answered " + response.status().code() + " for " + path + ": "
                                                + text(bytes)))))
                .timeout(Duration.ofNanos(Math.max(1, deadlineNanos - System.nanoTime())))
                .onErrorMap(e -> !(e instanceof dev.hybridge.oip.OipException),
                        e -> new WorkerFailure(worker + " could not be reached: " + e, 0, true, e));
    }

    /** A worker's answer, who gave it and how long it took. */
    public record Attempt(Worker worker, WorkerResponse response, double millis) {
    }

    /** Power of two choices among callable workers not yet tried; any untried one when none is callable. */
    Worker choose(Set<Worker> tried) {
        List<Worker> all = workers;
        List<Worker> candidates = new ArrayList<>(all.size());
        for (Worker w : all) {
            if (!tried.contains(w) && w.callable()) {
                candidates.add(w);
            }
        }
        if (candidates.isEmpty()) {
            for (Worker w : all) {
                if (!tried.contains(w)) {
                    return w; // its breaker refuses the call, which says so
                }
            }
            return null;
        }
        if (candidates.size() == 1) {
            return candidates.get(0);
        }
        ThreadLocalRandom random = ThreadLocalRandom.current();
        int i = random.nextInt(candidates.size());
        int j = random.nextInt(candidates.size() - 1);
        if (j >= i) {
            j++;
        }
        Worker a = candidates.get(i);
        Worker b = candidates.get(j);
        return a.score() <= b.score() ? a : b;
    }

    private Mono<WorkerResponse> post(Worker worker, String path, byte[] body, int jsonLength,
                                      Map<String, String> headers) {
        return http
                .post()
                .uri(worker.base().toString() + path)
                .send((request, outbound) -> {
                    headers.forEach(request::header);
                    request.header(HttpHeaderNames.CONTENT_TYPE,
                            jsonLength >= 0 ? "application/octet-stream" : "application/json");
                    if (jsonLength >= 0) {
                        request.header(OipCodec.HEADER_LENGTH, Integer.toString(jsonLength));
                    }
                    return outbound.send(Mono.fromSupplier(() -> Unpooled.wrappedBuffer(body)));
                })
                .responseSingle((response, content) -> {
                    int status = response.status().code();
                    String length = response.responseHeaders().get(HttpHeaderNames.CONTENT_LENGTH);
                    if (length != null && Long.parseLong(length) > maxResponseBytes) {
                        return Mono.error(new WorkerFailure(worker + " answered " + length + " bytes, over the limit of "
                                + maxResponseBytes + " (hybridge.gateway.max-response-size)", status, false, null));
                    }
                    String header = response.responseHeaders().get(OipCodec.HEADER_LENGTH);
                    int responseJsonLength = header == null ? -1 : Integer.parseInt(header.trim());
                    return content.asByteArray().defaultIfEmpty(new byte[0]).flatMap(bytes -> {
                        if (status == 503) {
                            boolean shed = response.responseHeaders().contains(HttpHeaderNames.RETRY_AFTER);
                            return Mono.error(new WorkerFailure(worker + (shed ? " is overloaded (503): "
                                    : " is unavailable (503): ") + text(bytes), 503, true, shed, null));
                        }
                        if (status >= 500) {
                            return Mono.error(new WorkerFailure(worker + " failed (" + status + "): " + text(bytes), status,
                                    false, null));
                        }
                        return Mono.just(new WorkerResponse(status, responseJsonLength, bytes));
                    });
                })
                .onErrorMap(e -> !(e instanceof WorkerFailure) && !(e instanceof TimeoutException),
                        e -> new WorkerFailure(worker + " could not be reached: " + e.getClass().getSimpleName()
                                + (e.getMessage() == null ? "" : ": " + e.getMessage()), 0, true, e));
    }

    private static boolean safeToRetry(Throwable e) {
        return (e instanceof WorkerFailure failure && failure.retryable()) || e instanceof CallNotPermittedException;
    }

    private static String text(byte[] bytes) {
        String s = new String(bytes, 0, Math.min(bytes.length, 300), java.nio.charset.StandardCharsets.UTF_8);
        return s.isBlank() ? "(no body)" : s;
    }

    private static URI normalize(URI address) {
        String s = address.toString();
        return URI.create(s.endsWith("/") ? s.substring(0, s.length() - 1) : s);
    }

    @Override
    public void close() {
        connections.dispose();
    }
}
