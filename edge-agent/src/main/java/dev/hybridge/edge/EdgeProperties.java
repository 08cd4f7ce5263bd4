package dev.hybridge.edge;

import jakarta.validation.Valid;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.NotNull;
import java.time.Duration;
import java.util.List;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * {@code hybridge.edge.*}: the agent as a decision point. With neither a policy folder nor an
 * uplink it serves models only, as before. An invalid value stops the program at start with the
 * property's name; an unreachable or refusing uplink never does (it is a log line, a health
 * detail and a metric).
 *
 * @param deviceId     this device, sent with every escalation (default: the host name)
 * @param deviceGroup  the group whose policy set the gateway sends this device (empty: the fleet's)
 * @param stateDir     the one folder the agent keeps on disk (the last good policy set)
 * @param policyFolder a local policy folder (sites without a gateway); when set, policies are not
 *                     fetched from the gateway
 * @param tenant       the tenant the agent's own budget checks run as (the gateway charges escalations
 *                     to the uplink's API key)
 * @param uplink       the link to the gateway
 * @param outbox       where escalations that cannot be sent wait for the link
 * @param admission    the admission gates of the agent's own routes (at the door, before the local model and the
 *                     uplink); replays keep their own limit ({@code outbox.live-reserve}, {@code outbox.replay-concurrent})
 */
@Validated
@ConfigurationProperties("hybridge.edge")
public record EdgeProperties(
        @DefaultValue("") String deviceId,
        @DefaultValue("") String deviceGroup,
        @DefaultValue("edge-state") @NotBlank String stateDir,
        @DefaultValue("") String policyFolder,
        @DefaultValue("device") @NotBlank String tenant,
        @DefaultValue @Valid @NotNull Uplink uplink,
        @DefaultValue @Valid @NotNull Outbox outbox,
        @DefaultValue @NotNull dev.hybridge.oip.web.AdmissionProperties admission) {

    /**
     * The outbox ({@code <state-dir>/outbox.db}, SQLite): escalations of routes that defer, kept
     * while the link is down and sent when it returns.
     *
     * @param enabled          keep escalations that cannot be sent (a route's {@code defer} decides which)
     * @param maxEntries       waiting entries at most; then the route's overflow rule applies
     * @param maxBytes         bytes of waiting requests at most
     * @param retention        how long an answered, expired or dropped entry can still be asked about
     * @param synchronousFull  commit to the disk itself (survives a power cut), not only to the OS (survives a crash)
     * @param replayRate       entries sent per second at most while draining
     * @param replayConcurrent entries in flight at once while draining
     * @param liveReserve      places of {@code uplink.max-concurrent} a backlog never takes: live escalations get them
     * @param firstBackoff     the pause after an entry's first failed attempt (doubling)
     * @param maxBackoff       the longest pause between attempts
     * @param callbackHosts    hosts ({@code host} or {@code host:port}) a request's {@code hybridge.callback_url} may
     *                         name; none by default
     * @param replayInterval   how often the outbox is looked at for what to send (and callbacks, five times as long)
     */
    public record Outbox(
            @DefaultValue("true") boolean enabled,
            @DefaultValue("10000") @Min(1) int maxEntries,
            @DefaultValue("256MB") @NotNull org.springframework.util.unit.DataSize maxBytes,
            @DefaultValue("7d") @NotNull Duration retention,
            @DefaultValue("true") boolean synchronousFull,
            @DefaultValue("20") @Min(1) int replayRate,
            @DefaultValue("2") @Min(1) int replayConcurrent,
            @DefaultValue("8") @Min(0) int liveReserve,
            @DefaultValue("1s") @NotNull Duration firstBackoff,
            @DefaultValue("60s") @NotNull Duration maxBackoff,
            @DefaultValue List<String> callbackHosts,
            @DefaultValue("100ms") @NotNull Duration replayInterval) {
    }

    /**
     * The gateway this agent escalates to and takes its policies from.
     *
     * @param url               the gateway's base URL; empty: no uplink (routes with a cloud stage answer
     *                          from the edge, degraded)
     * @param apiKey            sent as {@code Authorization: Bearer <key>} (the gateway's tenant for escalations)
     * @param connectTimeout    a connection not made within this fails at once
     * @param timeout           the longest an escalation may take (a request's own deadline may cut it shorter)
     * @param maxConcurrent     escalations in flight at once; more are answered at the edge at once
     * @param policyRefresh     how often the policy set is asked for (a conditional GET: an unchanged set costs one
     *                          small round trip)
     * @param breaker           the uplink's circuit breaker
     * @param probe             how a down link is watched
     */
    public record Uplink(
            @DefaultValue("") String url,
            @DefaultValue("") String apiKey,
            @DefaultValue("1s") @NotNull Duration connectTimeout,
            @DefaultValue("5s") @NotNull Duration timeout,
            @DefaultValue("32") @Min(1) int maxConcurrent,
            @DefaultValue("10s") @NotNull Duration policyRefresh,
            @DefaultValue @Valid @NotNull Breaker breaker,
            @DefaultValue @Valid @NotNull Probe probe) {

        public boolean configured() {
            return !url.isBlank();
        }
    }

    /**
     * The uplink's Resilience4j circuit breaker: once open, no request waits for the link.
     *
     * @param slidingWindowSize       escalations looked at
     * @param minimumNumberOfCalls    before any rate is judged
     * @param failureRateThreshold    percent failed (no connection, 5xx, timeout) that opens it
     * @param slowCallDuration        an escalation slower than this counts as slow
     * @param slowCallRateThreshold   percent slow that opens it (a link that hangs, not refuses)
     * @param waitInOpenState         before the probe may try the link again
     */
    public record Breaker(
            @DefaultValue("10") @Min(1) int slidingWindowSize,
            @DefaultValue("4") @Min(1) int minimumNumberOfCalls,
            @DefaultValue("50") @Min(1) float failureRateThreshold,
            @DefaultValue("2s") @NotNull Duration slowCallDuration,
            @DefaultValue("80") @Min(1) float slowCallRateThreshold,
            @DefaultValue("2s") @NotNull Duration waitInOpenState) {
    }

    /**
     * The probe: a light {@code GET /v2/health/live} on the gateway while the breaker is open,
     * backing off between tries; a probe that succeeds lets escalations through again.
     *
     * @param timeout      a probe not answered within this failed
     * @param firstBackoff the pause after the first failed probe
     * @param maxBackoff   the longest pause between probes
     */
    public record Probe(
            @DefaultValue("1s") @NotNull Duration timeout,
            @DefaultValue("1s") @NotNull Duration firstBackoff,
            @DefaultValue("30s") @NotNull Duration maxBackoff) {
    }
}
