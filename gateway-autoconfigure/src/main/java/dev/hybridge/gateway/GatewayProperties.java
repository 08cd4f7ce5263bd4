package dev.hybridge.gateway;

import jakarta.validation.Valid;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.NotNull;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.util.unit.DataSize;
import org.springframework.validation.annotation.Validated;

/**
 * {@code hybridge.gateway.*}: where the policies are, the two worker pools and how each hop is
 * protected, and who the callers are. An invalid value stops the program at start with the
 * property's name.
 *
 * @param policyFolder         the route policies and tenants.yaml (see policies/README.md)
 * @param policyReloadInterval how often the folder is checked for changes
 * @param maxRequestSize       largest request body accepted (413 beyond; the decoded size, for compressed bodies)
 * @param unreadBodyLinger     how long a body over the limit is still read (and dropped) before the 413, so that a
 *                             client writing it whole reads the answer; then the connection is closed
 * @param maxBufferedRequestBytes the request bodies held at once, in all: a request whose body would go over is
 *                             refused before it is read (503, overloaded, {@code Retry-After}); with the heap sized
 *                             for it, this bounds the memory any load can make the gateway hold
 * @param maxResponseSize      largest answer accepted from a worker
 * @param edge                 the edge-tier pool (edge agents serving the routes' edge models)
 * @param cloud                the cloud worker pool
 * @param apiKeys              API key to tenant name; load from a secret, never from a file in the repository
 * @param apiKeyHeader         the header carrying the key ({@code Authorization: Bearer <key>} is read too)
 * @param anonymousTenant      the tenant of requests without a key; empty: such requests get 401
 * @param budgetStore          where tenants' spending is kept: {@code memory} (each replica its own)
 *                             or {@code redis} (shared by every replica; {@code spring.data.redis.*})
 * @param budgetRefresh        with {@code redis}: how often other replicas' spending is read
 * @param escalations          how escalations sent more than once get one effect
 * @param admission            the admission gates of the routes (at the door, before each tier)
 */
@Validated
@ConfigurationProperties("hybridge.gateway")
public record GatewayProperties(
        @NotNull Path policyFolder,
        @DefaultValue("2s") @NotNull Duration policyReloadInterval,
        @DefaultValue("8MB") @NotNull DataSize maxRequestSize,
        @DefaultValue("10s") @NotNull Duration unreadBodyLinger,
        @DefaultValue("64MB") @NotNull DataSize maxBufferedRequestBytes,
        @DefaultValue("8MB") @NotNull DataSize maxResponseSize,
        @DefaultValue @Valid @NotNull Pool edge,
        @DefaultValue @Valid @NotNull Pool cloud,
        @DefaultValue Map<String, String> apiKeys,
        @DefaultValue("X-Api-Key") @NotBlank String apiKeyHeader,
        @DefaultValue("") String anonymousTenant,
        @DefaultValue("memory") @NotNull BudgetStore budgetStore,
        @DefaultValue("1s") @NotNull Duration budgetRefresh,
        @DefaultValue @Valid @NotNull Escalations escalations,
        @DefaultValue @NotNull dev.hybridge.oip.web.AdmissionProperties admission) {

    /**
     * The record of answered escalations (by {@code hybridge.idempotency_key}).
     *
     * @param recordTtl how long an answer stays on record: at least the longest time an edge agent keeps an
     *                  escalation waiting (a route's {@code defer.ttl}, 24 h by default)
     * @param maxKeys   answers on record at most; beyond, the oldest go first (and a replay of one would run again)
     * @param runAtLeast how long an escalation may run whatever time its sender has left, so that its answer is
     *                  recorded for the replays of a sender that stopped waiting (a live attempt held up on a
     *                  dead link and read when the link returns) instead of the cloud running it again; the
     *                  cloud's {@code timeout} still bounds each call
     */
    public record Escalations(@DefaultValue("48h") @NotNull Duration recordTtl,
                              @DefaultValue("50000") @Min(1) int maxKeys,
                              @DefaultValue("5s") @NotNull Duration runAtLeast) {
    }

    /** Where tenants' spending is kept. */
    public enum BudgetStore {
        MEMORY,
        REDIS
    }

    /**
     * One tier's workers and the protection of every call to them.
     *
     * @param addresses      fixed worker base URLs, e.g. {@code http://127.0.0.1:8082}
     * @param dnsName        or a DNS name whose every address is a worker (a Kubernetes headless
     *                       Service), with {@code port}
     * @param port           the workers' port when found through {@code dnsName} (required then)
     * @param dnsRefresh     how often {@code dnsName} is resolved again
     * @param connectTimeout TCP connect timeout to a worker
     * @param timeout        the most one call may take (the time limiter); a request's remaining
     *                       deadline shortens it
     * @param maxConcurrent  the bulkhead: calls in flight to this pool at once (more fail at once)
     * @param retry          retries on another worker, for failures that are safe to retry
     * @param breaker        the circuit breaker, one per worker
     */
    public record Pool(
            @DefaultValue List<URI> addresses,
            @DefaultValue("") String dnsName,
            @DefaultValue("0") @Min(0) @Max(65535) int port,
            @DefaultValue("10s") @NotNull Duration dnsRefresh,
            @DefaultValue("500ms") @NotNull Duration connectTimeout,
            @DefaultValue("5s") @NotNull Duration timeout,
            @DefaultValue("128") @Min(1) int maxConcurrent,
            @DefaultValue @Valid @NotNull Retry retry,
            @DefaultValue @Valid @NotNull Breaker breaker) {

        public Pool {
            if (!dnsName.isBlank() && port == 0) {
                throw new IllegalArgumentException("a pool found through dns-name (" + dnsName
                        + ") needs the workers' port: set port");
            }
        }

    }

    /**
     * @param maxAttempts attempts in all, each on a different worker when there is one
     * @param backoff     the pause before another attempt
     */
    public record Retry(@DefaultValue("2") @Min(1) @Max(10) int maxAttempts,
                        @DefaultValue("10ms") @NotNull Duration backoff) {
    }

    /**
     * Resilience4j circuit breaker settings, per worker: count-based window.
     *
     * @param failureRateThreshold percentage of failed calls that opens the breaker
     * @param slowCallDuration     calls slower than this count as slow
     * @param slowCallRateThreshold percentage of slow calls that opens the breaker
     * @param slidingWindowSize    how many recent calls are counted
     * @param minimumNumberOfCalls calls needed before the rates count (the library's 100 would
     *                             never open in a small deployment)
     * @param waitInOpenState      how long an open breaker refuses calls before trying again
     * @param permittedCallsInHalfOpenState trial calls when trying again
     */
    public record Breaker(@DefaultValue("50") @Min(1) @Max(100) float failureRateThreshold,
                          @DefaultValue("2s") @NotNull Duration slowCallDuration,
                          @DefaultValue("100") @Min(1) @Max(100) float slowCallRateThreshold,
                          @DefaultValue("20") @Min(1) int slidingWindowSize,
                          @DefaultValue("5") @Min(1) int minimumNumberOfCalls,
                          @DefaultValue("5s") @NotNull Duration waitInOpenState,
                          @DefaultValue("2") @Min(1) int permittedCallsInHalfOpenState) {
    }
}
