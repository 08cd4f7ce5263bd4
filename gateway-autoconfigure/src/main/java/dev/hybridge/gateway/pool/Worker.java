package dev.hybridge.gateway.pool;

import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import java.net.URI;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One worker of a pool: its address, its own circuit breaker, and what the balancer weighs:
 * calls in flight and a moving average of its latency.
 */
public final class Worker {

    /** Weight of the newest latency in the moving average. */
    private static final double SMOOTHING = 0.2;

    private final String id;
    private final URI base;
    private final CircuitBreaker breaker;
    private final AtomicInteger outstanding = new AtomicInteger();
    private volatile double averageMillis = 5;

    Worker(String id, URI base, CircuitBreaker breaker) {
        this.id = id;
        this.base = base;
        this.breaker = breaker;
    }

    public String id() {
        return id;
    }

    public URI base() {
        return base;
    }

    public CircuitBreaker breaker() {
        return breaker;
    }

    /** Lower is better: the expected wait if one more call joins those in flight. */
    double score() {
        return (outstanding.get() + 1) * averageMillis;
    }

    boolean callable() {
        return breaker.getState() != CircuitBreaker.State.OPEN && breaker.getState() != CircuitBreaker.State.FORCED_OPEN;
    }

    void started() {
        outstanding.incrementAndGet();
    }

    void finished() {
        outstanding.decrementAndGet();
    }

    void recordLatency(double millis) {
        averageMillis = averageMillis + SMOOTHING * (millis - averageMillis);
    }

    @Override
    public String toString() {
        return id;
    }
}
