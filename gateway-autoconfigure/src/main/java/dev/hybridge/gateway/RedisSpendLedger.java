package dev.hybridge.gateway;

import dev.hybridge.policy.SpendLedger;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAccumulator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.data.redis.core.ReactiveStringRedisTemplate;
import reactor.core.publisher.Mono;

/**
 * Tenants' spending shared by every gateway replica through Redis, so that a budget holds for
 * the fleet and not per replica ({@code hybridge.gateway.budget-store=redis}).
 *
 * <p>Each tenant's spending in a window is one Redis counter of nano-dollars,
 * {@code hybridge:spend:<tenant>:<window start in epoch ms>}, raised with INCRBY (atomic across
 * replicas) and expiring two windows later. Decisions never wait for Redis: each replica keeps
 * the last total it saw and what it charged since, answers {@link #spentUsd} from that, and
 * brings the totals up to date in the background (the answer to every INCRBY, and a read of all
 * tenants it knows every {@code hybridge.gateway.budget-refresh}). So another replica's spending
 * shows here within one refresh.
 *
 * <p>When Redis cannot be reached, charges stay counted locally (the budget then holds per
 * replica, as with the in-memory store) and are not sent again later; each failure is counted in
 * {@link #failures()} and logged at most once a minute.
 */
final class RedisSpendLedger implements SpendLedger {

    private static final Logger log = LoggerFactory.getLogger(RedisSpendLedger.class);
    private static final double NANOS_PER_USD = 1e9;
    private static final String PREFIX = "hybridge:spend:";

    private final ReactiveStringRedisTemplate redis;
    private final Clock clock;
    private final Duration onceTtl;
    private final Map<String, Tenant> tenants = new ConcurrentHashMap<>();
    private final AtomicLong failures = new AtomicLong();
    private volatile long lastWarning;

    /** One tenant's spending in one window, as this replica knows it. */
    private static final class Tenant {
        final long windowStart;
        final Duration window;
        /** The highest total Redis reported (every replica's charges). */
        final LongAccumulator shared = new LongAccumulator(Math::max, 0);
        /** Charged here and not yet part of a total Redis reported. */
        final AtomicLong pending = new AtomicLong();

        Tenant(long windowStart, Duration window) {
            this.windowStart = windowStart;
            this.window = window;
        }
    }

    RedisSpendLedger(ReactiveStringRedisTemplate redis, Clock clock) {
        this(redis, clock, Duration.ofHours(48));
    }

    /** @param onceTtl how long a once-only charge's key is kept (at least the escalation record's time to live) */
    RedisSpendLedger(ReactiveStringRedisTemplate redis, Clock clock, Duration onceTtl) {
        this.redis = redis;
        this.clock = clock;
        this.onceTtl = onceTtl;
    }

    /**
     * Answers from this replica's view; asking about a tenant also makes the next refresh read its
     * total, so spending by other replicas shows within one refresh.
     */
    @Override
    public double spentUsd(String tenant, Duration window) {
        Tenant t = current(tenant, window);
        return (t.shared.get() + t.pending.get()) / NANOS_PER_USD;
    }

    @Override
    public void charge(String tenant, Duration window, double usd) {
        chargeInRedis(tenant, window, usd).subscribe(total -> { }, e -> { });
    }

    /**
     * Counts a charge once per key: the key is set (NX, for the record's time to live) and the
     * spending raised in one script, so a charge sent again after a replica died between charging
     * and recording an escalation's answer is not counted twice. Answers the total, or minus one
     * minus the total when the key was already charged.
     */
    private static final org.springframework.data.redis.core.script.RedisScript<Long> CHARGE_ONCE =
            org.springframework.data.redis.core.script.RedisScript.of("""
                    if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[2]) then
                      local total = redis.call('INCRBY', KEYS[1], ARGV[1])
                      if total == tonumber(ARGV[1]) then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
                      return total
                    end
                    return -1 - tonumber(redis.call('GET', KEYS[1]) or '0')
                    """, Long.class);

    @Override
    public void charge(String tenant, Duration window, double usd, String once) {
        chargeInRedis(tenant, window, usd, once).subscribe(total -> { }, e -> { });
    }

    /** {@link #charge}, completing when Redis has counted it (or failed to). */
    Mono<Long> chargeInRedis(String tenant, Duration window, double usd) {
        return chargeInRedis(tenant, window, usd, null);
    }

    /**
     * {@link #charge(String, Duration, double, String)}, completing when Redis has answered with
     * the tenant's total (every replica's charges so far, this one's included when it counted).
     */
    Mono<Long> chargeInRedis(String tenant, Duration window, double usd, String once) {
        long nanos = Math.round(usd * NANOS_PER_USD);
        if (nanos <= 0) {
            return Mono.empty();
        }
        Tenant t = current(tenant, window);
        t.pending.addAndGet(nanos);
        String key = key(tenant, t.windowStart);
        Mono<Long> total = once == null
                ? redis.opsForValue().increment(key, nanos)
                        .flatMap(sum -> sum == nanos ? redis.expire(key, t.window.multipliedBy(2)).thenReturn(sum)
                                : Mono.just(sum))
                : redis.execute(CHARGE_ONCE, List.of(key, "hybridge:charged:" + once),
                                List.of(Long.toString(nanos), Long.toString(onceTtl.toSeconds()),
                                        Long.toString(t.window.multipliedBy(2).toSeconds())))
                        .next().map(answer -> answer >= 0 ? answer : -1 - answer);
        return total
                .doOnNext(sum -> {
                    t.pending.addAndGet(-nanos);
                    t.shared.accumulate(sum);
                })
                .doOnError(this::failed);
    }

    /** Reads the totals of every tenant this replica knows in the current window. */
    Mono<Void> refresh() {
        List<Tenant> known = new ArrayList<>();
        List<String> keys = new ArrayList<>();
        tenants.forEach((name, t) -> {
            known.add(t);
            keys.add(key(name, t.windowStart));
        });
        if (keys.isEmpty()) {
            return Mono.empty();
        }
        return redis.opsForValue().multiGet(keys)
                .doOnNext(values -> {
                    for (int i = 0; i < values.size(); i++) {
                        String value = values.get(i);
                        if (value != null) {
                            known.get(i).shared.accumulate(Long.parseLong(value));
                        }
                    }
                })
                .doOnError(this::failed)
                .onErrorComplete()
                .then();
    }

    long failures() {
        return failures.get();
    }

    /** The tenant's spending in the current window; a new window starts at zero. */
    private Tenant current(String tenant, Duration window) {
        long start = Math.floorDiv(clock.millis(), window.toMillis()) * window.toMillis();
        Tenant t = tenants.get(tenant);
        if (t != null && t.windowStart == start && t.window.equals(window)) {
            return t;
        }
        Tenant fresh = new Tenant(start, window);
        return tenants.merge(tenant, fresh, (old, candidate) -> old.windowStart == start && old.window.equals(window)
                ? old : candidate);
    }

    private static String key(String tenant, long windowStart) {
        return PREFIX + tenant + ":" + windowStart;
    }

    private void failed(Throwable e) {
        failures.incrementAndGet();
        long now = clock.millis();
        if (now - lastWarning > 60_000) {
            lastWarning = now;
            log.warn("Budget store (Redis) unavailable: {}; spending is counted on this replica only until it is back",
                    e.toString());
        }
    }
}
