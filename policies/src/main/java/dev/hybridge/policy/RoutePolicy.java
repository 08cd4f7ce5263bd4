package dev.hybridge.policy;

import java.nio.file.Path;
import java.time.Duration;

/**
 * One route, as its policy file says: the model name clients call, how its stages share the
 * work, and the rules that decide each request. Built by {@link PolicyLoader}, which checks
 * every field; immutable.
 *
 * @param name         the model name clients call
 * @param source       the file it came from
 * @param kind         how the stages share the work
 * @param edge         the edge stage, or {@code null} on cloud-only routes
 * @param cloud        the cloud stage, or {@code null} on edge-only routes
 * @param hardWhen     marks a request hard before the edge runs (it then goes to the cloud), or {@code null}
 * @param escalateWhen after the edge ran: escalate when it holds; {@code null} means {@code score < threshold}
 * @param score        how sure the edge is of an answer, what the threshold applies to; {@code null} means its confidence
 * @param threshold    the threshold on the score
 * @param deadline     the route's deadline, which a request may shorten or lengthen with {@code hybridge.deadline_ms}
 * @param cloudLatency how the cloud's latency is estimated
 * @param edgeCost     what an edge answer costs
 * @param cloudCost    what a cloud answer costs
 * @param shadowRate   on shadow routes, the share of requests also sent to the cloud (0 to 1)
 * @param defer        on an edge agent: whether an escalation that cannot be sent now is kept and sent later
 * @param cloudOnEdgeOverload whether a request the edge tier sheds (overloaded) goes to the cloud instead;
 *                     off by default: it is refused with 503 and {@code Retry-After}, so that load on the edge
 *                     does not spend cloud budget on requests the edge would have answered
 * @param deviceProfile on an edge agent: a profile the device learns from its edge answers and sends the cloud
 *                     with its escalations; {@code null} when the route has none
 */
public record RoutePolicy(String name, Path source, RouteKind kind, Stage edge, Stage cloud, Condition hardWhen,
                          Condition escalateWhen, Score score, ThresholdSpec threshold, Duration deadline,
                          LatencySpec cloudLatency, TierCost edgeCost, TierCost cloudCost, double shadowRate,
                          Defer defer, boolean cloudOnEdgeOverload, DeviceProfile deviceProfile) {

    public RoutePolicy(String name, Path source, RouteKind kind, Stage edge, Stage cloud, Condition hardWhen,
                       Condition escalateWhen, Score score, ThresholdSpec threshold, Duration deadline,
                       LatencySpec cloudLatency, TierCost edgeCost, TierCost cloudCost, double shadowRate, Defer defer,
                       boolean cloudOnEdgeOverload) {
        this(name, source, kind, edge, cloud, hardWhen, escalateWhen, score, threshold, deadline, cloudLatency, edgeCost,
                cloudCost, shadowRate, defer, cloudOnEdgeOverload, null);
    }

    public RoutePolicy(String name, Path source, RouteKind kind, Stage edge, Stage cloud, Condition hardWhen,
                       Condition escalateWhen, Score score, ThresholdSpec threshold, Duration deadline,
                       LatencySpec cloudLatency, TierCost edgeCost, TierCost cloudCost, double shadowRate, Defer defer) {
        this(name, source, kind, edge, cloud, hardWhen, escalateWhen, score, threshold, deadline, cloudLatency, edgeCost,
                cloudCost, shadowRate, defer, false);
    }

    /**
     * Store-and-forward on an edge agent: an escalation that cannot be sent now (the link down,
     * the gateway failing, too little time to wait) is answered at the edge and kept in the
     * agent's outbox, to be sent when the link returns.
     *
     * @param enabled  whether the route defers (on by default for cascade and split routes)
     * @param priority entries of higher priority are sent first (then the oldest first)
     * @param ttl      an entry not answered within this expires
     * @param overflow what happens when the outbox is full
     */
    public record Defer(boolean enabled, int priority, Duration ttl, Overflow overflow) {

        /** Routes that never defer. */
        public static final Defer OFF = new Defer(false, 0, Duration.ofHours(24), Overflow.DROP_OLDEST);

        /** The default for a kind: on for cascade and split routes, whose escalations carry a hard case. */
        public static Defer defaultFor(RouteKind kind) {
            return kind != null && kind.usesEdge() && kind.usesCloud() && kind != RouteKind.SHADOW
                    ? new Defer(true, 0, Duration.ofHours(24), Overflow.DROP_OLDEST) : OFF;
        }
    }

    /**
     * A profile of the device's user that the cloud model takes as an input (the demo models' voice
     * profile): the edge model gives one per request as an output, the device keeps their running
     * mean, and a cascade's escalation carries that mean as the cloud model's input. Only an edge
     * agent keeps one; elsewhere the setting changes nothing and the cloud model uses its default.
     *
     * @param from   the edge model's output: one row of the profile per request row
     * @param to     the cloud model's input that receives the device's mean profile
     * @param window the mean is over all answers up to this many, then follows the latest (each new
     *               answer weighing 1/window)
     * @param views  the speeds the device hears its user best at, or null: with them, escalations carry
     *               a profile for each picked speed ({@code to} then takes {@code [rows, pick, width]})
     */
    public record DeviceProfile(String from, String to, int window, Views views) {

        public DeviceProfile(String from, String to, int window) {
            this(from, to, window, null);
        }
    }

    /**
     * Speed views a device learns for its user: now and then (one clip in {@code every}, when no other
     * such run is under way) the edge model hears the clip at each of {@code speeds} in one call (its
     * input {@code input} saying how many times as fast, one row per speed), and the device keeps per
     * speed the running mean of the edge model's confidence (the top of its {@code scores} output) and of
     * the profile output. Escalations then carry the {@code pick} speeds the edge model is surest at, as
     * the cloud model's input {@code to} ({@code [rows, pick]}), with the profile heard at each. Until
     * every speed has been heard, they carry speed 1 {@code pick} times with the plain profile.
     */
    public record Views(String input, String scores, double[] speeds, int pick, int every, String to) {

        /** The most speeds a device learns (each is one more row in the edge model's call). */
        public static final int MOST_SPEEDS = 32;

        public Views {
            speeds = speeds.clone();
        }

        @Override
        public double[] speeds() {
            return speeds.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Views v && input.equals(v.input) && scores.equals(v.scores)
                    && java.util.Arrays.equals(speeds, v.speeds) && pick == v.pick && every == v.every && to.equals(v.to);
        }

        @Override
        public int hashCode() {
            return java.util.Objects.hash(input, scores, java.util.Arrays.hashCode(speeds), pick, every, to);
        }

        @Override
        public String toString() {
            return "Views[input=" + input + ", scores=" + scores + ", speeds=" + java.util.Arrays.toString(speeds)
                    + ", pick=" + pick + ", every=" + every + ", to=" + to + "]";
        }
    }

    /** When the outbox is full: make room by dropping its oldest entry, or answer without keeping this one. */
    public enum Overflow {
        DROP_OLDEST, REFUSE_NEW;

        public String wire() {
            return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
        }
    }

    /** The format version this code reads. */
    public static final int FORMAT_VERSION = 1;

    /**
     * A stage: the model it runs and, on split routes, the tensor handed from edge to cloud.
     *
     * @param model   the model name on that tier's workers
     * @param version the model version, or {@code null} for the workers' default
     * @param tensor  split routes: on the edge stage the output handed on, on the cloud stage the
     *                input that receives it; otherwise {@code null}
     */
    public record Stage(String model, String version, String tensor) {
    }

    /**
     * A fixed threshold, or one calibrated so that about {@code targetRate} of requests escalate.
     *
     * @param value       the fixed threshold, or the starting one while a calibrated threshold has
     *                    fewer than {@code minSamples} confidences
     * @param calibrated  whether the threshold follows recent confidences
     * @param targetRate  the share of requests to escalate (calibrated only)
     * @param window      how many recent edge confidences the calibration looks at
     * @param minSamples  confidences needed before the calibration takes over
     * @param min         the lowest the calibrated threshold may go
     * @param max         the highest it may go
     */
    public record ThresholdSpec(double value, boolean calibrated, double targetRate, int window, int minSamples,
                                double min, double max) {

        public static ThresholdSpec fixed(double value) {
            return new ThresholdSpec(value, false, 0, 0, 0, value, value);
        }
    }

    /**
     * The cloud latency estimate: a high percentile of the most recent cloud round trips.
     *
     * @param percentile which percentile (e.g. 95)
     * @param window     how many recent round trips
     * @param maxAge     round trips older than this no longer count
     * @param initial    the estimate before any round trip is known
     */
    public record LatencySpec(double percentile, int window, Duration maxAge, Duration initial) {

        public static final LatencySpec DEFAULT = new LatencySpec(95, 200, Duration.ofMinutes(1), Duration.ofMillis(100));
    }

    /**
     * What one answer from a tier costs: a price per request plus a price per megabyte (10^6
     * bytes) of input data.
     */
    public record TierCost(double perRequestUsd, double perMegabyteUsd) {

        public static final TierCost FREE = new TierCost(0, 0);

        public double of(long inputBytes) {
            return perRequestUsd + perMegabyteUsd * inputBytes / 1e6;
        }
    }

    public TierCost cost(Tier tier) {
        return tier == Tier.EDGE ? edgeCost : cloudCost;
    }

    public Stage stage(Tier tier) {
        return tier == Tier.EDGE ? edge : cloud;
    }
}
