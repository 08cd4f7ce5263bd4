package dev.hybridge.policy.runtime;

import com.netflix.concurrency.limits.Limit;
import com.netflix.concurrency.limits.Limiter;
import com.netflix.concurrency.limits.limit.AIMDLimit;
import com.netflix.concurrency.limits.limit.AbstractLimit;
import com.netflix.concurrency.limits.limit.Gradient2Limit;
import com.netflix.concurrency.limits.limit.WindowedLimit;
import com.netflix.concurrency.limits.limiter.AbstractLimiter;
import com.netflix.concurrency.limits.limiter.AbstractPartitionedLimiter;
import dev.hybridge.policy.Tier;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

/**
 * Admission control for one program's routes: a gate at the door, which every request passes
 * before any tier is asked, and a gate in front of each tier's calls. A request or call the gate
 * does not let through is refused at once, before any work is done for it: it is never accepted
 * only to expire inside.
 *
 * <p>Each gate is an adaptive concurrency limit (Netflix's concurrency-limits library: Gradient2
 * over windows of round trips). While the average round trip of a window stays near the
 * long-term one, the limit grows (only while at least half of it is in use); when round trips
 * grow, queues are forming, and the limit shrinks towards what the tier answers without queueing.
 * The limit is kept between a floor and a ceiling ({@link Settings}). It also backs off whenever
 * work it let through is refused or times out further on (AIMD), so a gate in front of another
 * (the door in front of a route's first tier) settles at what the one after it admits: the
 * requests it cannot take are refused at the door (on the gateway, before their bodies are read).
 *
 * <p>Gates have lanes: client requests, and edge agents' escalations (live or replayed from an
 * outbox). Each lane has a guaranteed share of the limit; below the limit either lane may use all
 * of it, above it each may use only its share, so a flood of one cannot starve the other.
 *
 * <p>Time is injected (a nanosecond clock), so the rules are tested without waiting.
 */
public final class Admission {

    /** Who a request or call is for. */
    public enum Lane {
        /** A client's request (and the tier calls it makes). */
        CLIENT,
        /** An edge agent's escalation, live or replayed (and the cloud call it makes). */
        ESCALATION;

        public String wire() {
            return name().toLowerCase(Locale.ROOT);
        }

        /**
         * The lane of a request, by its headers ({@code header} reads one, null when absent): edge
         * agents mark their escalations with {@code Hybridge-Escalation: true}, so the door can tell
         * before the body is read.
         */
        public static Lane of(java.util.function.Function<String, String> header) {
            return "true".equalsIgnoreCase(header.apply(dev.hybridge.oip.RoutingParameters.ESCALATION_HEADER))
                    ? ESCALATION : CLIENT;
        }
    }

    /**
     * The settings of every gate of a program.
     *
     * @param enabled         false: every request and call is let through (no limits)
     * @param initialLimit    the limit before any round trip is known
     * @param minLimit        the limit never falls below this
     * @param maxLimit        nor rises above this
     * @param rttTolerance    how much longer than the long-term round trip a window's may be before the limit
     *                        shrinks (1.5: half as long again)
     * @param escalationShare the share of a limit kept for escalations when it is full (the rest for clients)
     * @param window          how long round trips are gathered before the limit is worked out again (at least 10 of them)
     * @param retryAfter      what a refusal tells the client to wait ({@code Retry-After}, whole seconds)
     */
    public record Settings(boolean enabled, int initialLimit, int minLimit, int maxLimit, double rttTolerance,
                           double escalationShare, Duration window, Duration retryAfter) {

        public Settings {
            if (minLimit < 1 || initialLimit < minLimit || maxLimit < initialLimit) {
                throw new IllegalArgumentException("admission limits must satisfy 1 <= min-limit <= initial-limit"
                        + " <= max-limit but were " + minLimit + ", " + initialLimit + ", " + maxLimit);
            }
            if (!(rttTolerance >= 1.0)) {
                throw new IllegalArgumentException("admission rtt-tolerance must be at least 1.0 but was " + rttTolerance);
            }
            if (!(escalationShare >= 0 && escalationShare <= 1)) {
                throw new IllegalArgumentException("admission escalation-share must be from 0 to 1 but was "
                        + escalationShare);
            }
            if (window.isNegative() || window.isZero()) {
                throw new IllegalArgumentException("admission window must be positive but was " + window);
            }
            if (retryAfter.toSeconds() < 1) {
                throw new IllegalArgumentException("admission retry-after must be at least 1s but was " + retryAfter);
            }
        }

        /** The shipped settings. */
        public static Settings defaults() {
            return new Settings(true, 32, 32, 256, 1.5, 0.25, Duration.ofMillis(100), Duration.ofSeconds(1));
        }

        /** No limits. */
        public static Settings off() {
            return new Settings(false, 32, 32, 256, 1.5, 0.25, Duration.ofMillis(100), Duration.ofSeconds(1));
        }
    }

    /** A place behind a gate: say how the work went, once, when it ends. */
    public interface Permit {
        /** The work was done (whatever the answer): its round trip is a sample of the limit. */
        void done();

        /** The work ended before its round trip meant anything (a fault, a refusal further on): no sample. */
        void ignore();

        /** The work timed out or was shed further on: a sign of overload. */
        void dropped();
    }

    private static final Permit OPEN = new Permit() {
        @Override
        public void done() {
        }

        @Override
        public void ignore() {
        }

        @Override
        public void dropped() {
        }
    };

    /**
     * The permit, given back at most once whoever says so first: for callers that may end the
     * work on more than one path (an error, a cancellation, the answer).
     */
    public static Permit once(Permit permit) {
        java.util.concurrent.atomic.AtomicBoolean ended = new java.util.concurrent.atomic.AtomicBoolean();
        return new Permit() {
            @Override
            public void done() {
                if (ended.compareAndSet(false, true)) {
                    permit.done();
                }
            }

            @Override
            public void ignore() {
                if (ended.compareAndSet(false, true)) {
                    permit.ignore();
                }
            }

            @Override
            public void dropped() {
                if (ended.compareAndSet(false, true)) {
                    permit.dropped();
                }
            }
        };
    }

    /** One gate: a limit, the work in flight behind it, and the refusals it made by lane. */
    public static final class Gate {
        private final String name;
        private final Limiter<Lane> limiter;
        private final AbstractLimiter<Lane> counts;
        private final Map<Lane, LongAdder> refused = new EnumMap<>(Lane.class);

        Gate(String name, Settings settings, LongSupplier nanoClock) {
            this.name = name;
            for (Lane lane : Lane.values()) {
                refused.put(lane, new LongAdder());
            }
            if (!settings.enabled()) {
                this.limiter = null;
                this.counts = null;
                return;
            }
            Limit limit = WindowedLimit.newBuilder()
                    .minWindowTime(settings.window().toNanos(), TimeUnit.NANOSECONDS)
                    .maxWindowTime(settings.window().toNanos() * 4, TimeUnit.NANOSECONDS)
                    .windowSize(10)
                    .minRttThreshold(1, TimeUnit.MICROSECONDS)
                    .build(new LatencyAndDrops(settings));
            PartitionedBuilder builder = new PartitionedBuilder()
                    .named(name)
                    .limit(limit)
                    .nanoClock(nanoClock)
                    .partitionResolver(Lane::wire)
                    .partition(Lane.CLIENT.wire(), 1 - settings.escalationShare())
                    .partition(Lane.ESCALATION.wire(), settings.escalationShare());
            this.counts = (AbstractLimiter<Lane>) builder.build();
            this.limiter = counts;
        }

        /** A place for work of {@code lane}, or null: refused (counted). */
        public Permit enter(Lane lane) {
            if (limiter == null) {
                return OPEN;
            }
            Optional<Limiter.Listener> listener = limiter.acquire(lane);
            if (listener.isEmpty()) {
                refused.get(lane).increment();
                return null;
            }
            Limiter.Listener l = listener.get();
            return new Permit() {
                @Override
                public void done() {
                    l.onSuccess();
                }

                @Override
                public void ignore() {
                    l.onIgnore();
                }

                @Override
                public void dropped() {
                    l.onDropped();
                }
            };
        }

        public String name() {
            return name;
        }

        /** Whether this gate limits anything. */
        public boolean enabled() {
            return limiter != null;
        }

        /** The limit now (0 when the gate is open). */
        public int limit() {
            return counts == null ? 0 : counts.getLimit();
        }

        /** Work in flight behind the gate now. */
        public int inFlight() {
            return counts == null ? 0 : counts.getInflight();
        }

        /** How many requests or calls of {@code lane} the gate refused. */
        public long refused(Lane lane) {
            return refused.get(lane).sum();
        }

        @Override
        public String toString() {
            return name + " (limit " + limit() + ", " + inFlight() + " in flight)";
        }
    }

    /**
     * A gate's limit: the lower of two of the library's limits fed the same windows of round
     * trips. Gradient2 follows latency; it takes no notice of work that was let through and then
     * refused or timed out further on, and such work, ended early, even shortens a window's round
     * trips. Without more, a door in front of a tier gate grows past it, and the requests in
     * between are read and decoded only to be refused after. AIMD backs off by a tenth in every
     * window with such a drop and grows by one in a window without while at least half the limit
     * is in use, so the gate settles just under what is admitted after it.
     */
    private static final class LatencyAndDrops extends AbstractLimit {
        private final Gradient2Limit latency;
        private final AIMDLimit drops;

        LatencyAndDrops(Settings settings) {
            super(settings.initialLimit());
            this.latency = Gradient2Limit.newBuilder()
                    .initialLimit(settings.initialLimit())
                    .minLimit(settings.minLimit())
                    .maxConcurrency(settings.maxLimit())
                    .rttTolerance(settings.rttTolerance())
                    .build();
            this.drops = AIMDLimit.newBuilder()
                    .initialLimit(settings.initialLimit())
                    .minLimit(settings.minLimit())
                    .maxLimit(settings.maxLimit())
                    .backoffRatio(0.9)
                    .timeout(1, TimeUnit.DAYS) // round trips are the latency limit's business
                    .build();
        }

        @Override
        protected int _update(long startTime, long rtt, int inflight, boolean didDrop) {
            latency.onSample(startTime, rtt, inflight, didDrop);
            drops.onSample(startTime, rtt, inflight, didDrop);
            return Math.min(latency.getLimit(), drops.getLimit());
        }
    }

    /** The library's partitioned limiter, with the builder it leaves to its users. */
    private static final class PartitionedBuilder extends AbstractPartitionedLimiter.Builder<PartitionedBuilder, Lane> {
        @Override
        protected PartitionedBuilder self() {
            return this;
        }
    }

    private final Settings settings;
    private final Gate door;
    private final Map<Tier, Gate> tiers = new EnumMap<>(Tier.class);

    public Admission(Settings settings, LongSupplier nanoClock) {
        this.settings = settings;
        this.door = new Gate("door", settings, nanoClock);
        for (Tier tier : Tier.values()) {
            tiers.put(tier, new Gate(tier.wire(), settings, nanoClock));
        }
    }

    /** No limits anywhere. */
    public static Admission none() {
        return new Admission(Settings.off(), System::nanoTime);
    }

    public Settings settings() {
        return settings;
    }

    /** The gate every request passes first. */
    public Gate door() {
        return door;
    }

    /** The gate in front of a tier's calls. */
    public Gate tier(Tier tier) {
        return tiers.get(tier);
    }

    /** Every gate: the door, then the tiers. */
    public java.util.List<Gate> gates() {
        java.util.List<Gate> all = new java.util.ArrayList<>();
        all.add(door);
        all.addAll(tiers.values());
        return all;
    }
}
