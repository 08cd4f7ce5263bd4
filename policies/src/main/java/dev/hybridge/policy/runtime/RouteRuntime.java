package dev.hybridge.policy.runtime;

import static dev.hybridge.oip.ClassifierParameters.LABEL;
import static dev.hybridge.oip.RoutingParameters.DEADLINE_MS;
import static dev.hybridge.oip.RoutingParameters.DEVICE;
import static dev.hybridge.oip.RoutingParameters.ESCALATION;
import static dev.hybridge.oip.RoutingParameters.IDEMPOTENCY_KEY;
import static dev.hybridge.oip.RoutingParameters.ROUTE;

import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.InferResponse;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.OipException;
import dev.hybridge.oip.TensorSpec;
import dev.hybridge.policy.EdgeOutcome;
import dev.hybridge.policy.PolicyEngine;
import dev.hybridge.policy.RequestFacts;
import dev.hybridge.policy.RequestedRoute;
import dev.hybridge.policy.RouteEngine;
import dev.hybridge.policy.Tier;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongSupplier;
import java.util.stream.Collectors;

/**
 * Runs routes: one request at a time, from the OIP body a client sent to the answer it gets.
 * The gateway runs it with its worker pools as tiers; an edge agent can run it with its own
 * models as the edge tier and the gateway as the cloud. It does the calls the
 * {@link RouteFlow} asks for, feeds back what came, and answers 504 when a request outlives its
 * deadline (plus {@link #GRACE_MILLIS}). Time is injected (a clock and a timer), so that every
 * rule and fallback is tested without sockets or sleeping.
 */
public final class RouteRuntime {

    /** This process, in the keys it makes for requests that came without an id. */
    private static final String BOOT = java.util.UUID.randomUUID().toString().substring(0, 13);
    private static final java.util.concurrent.atomic.AtomicLong SEQUENCE = new java.util.concurrent.atomic.AtomicLong();

    /** Time allowed past the deadline for writing the answer. */
    public static final long GRACE_MILLIS = 50;
    /** The longest deadline a request may ask for. */
    public static final long MAX_DEADLINE_MS = 600_000;

    /** What shadow samples found. */
    public enum ShadowResult {
        AGREED, DISAGREED, FAILED;

        public String wire() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** How a run of a device's speed views ended ({@code device-profile.views}). */
    public enum ViewsResult {
        /** Every speed's confidence and profile took the run's rows. */
        LEARNED,
        /** Another run for the route was under way: the clip was not heard again. */
        SKIPPED,
        /** The edge model could not answer, or its answer lacked the outputs the setting names. */
        FAILED;

        public String wire() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** Where the runtime reports what happened (metrics read outcomes directly). */
    public interface Listener {
        Listener NONE = new Listener() {
        };

        /** A request was answered, after {@code nanos}. */
        default void answered(RouteOutcome outcome, long nanos) {
        }

        /** A shadow sample came back. */
        default void shadow(String route, ShadowResult result) {
        }

        /** A run of a device's speed views ended (or was skipped). */
        default void views(String route, ViewsResult result) {
        }
    }

    /**
     * Runs an action at a point of the clock's time: the deadline guard. Cancelling must be
     * cheap: it happens for nearly every request (a {@link CompletableFuture#cancel} would build
     * an exception with its stack each time).
     */
    public interface Timer {
        /** Runs {@code action} at {@code nanos} unless the returned handle is cancelled first. */
        Cancellable at(long nanos, Runnable action);
    }

    /** A scheduled action that can still be called off. */
    public interface Cancellable {
        void cancel();
    }

    private final PolicyEngine policies;
    private final TierClient edge;
    private final TierClient cloud;
    private final OipCodec codec;
    private final LongSupplier nanoTime;
    private final Timer timer;
    private final Listener listener;
    private final RouteFlow flow;
    private final RouteSignatures signatures;
    private final Deferrer deferrer;
    private final Deduplicator deduplicator;
    private final Admission admission;
    private final long sharedRunAtLeastNanos;

    public RouteRuntime(PolicyEngine policies, TierClient edge, TierClient cloud, OipCodec codec, LongSupplier nanoTime,
                        Timer timer, Listener listener) {
        this(policies, edge, cloud, codec, nanoTime, timer, listener, null);
    }

    /** @param deferrer where escalations that cannot be sent are kept (an edge agent's outbox); null: nowhere */
    public RouteRuntime(PolicyEngine policies, TierClient edge, TierClient cloud, OipCodec codec, LongSupplier nanoTime,
                        Timer timer, Listener listener, Deferrer deferrer) {
        this(policies, edge, cloud, codec, nanoTime, timer, listener, deferrer, null);
    }

    /**
     * @param deferrer     where escalations that cannot be sent are kept (an edge agent's outbox); null: nowhere
     * @param deduplicator how an escalation sent twice gets one effect (the gateway's); null: every sending runs
     */
    public RouteRuntime(PolicyEngine policies, TierClient edge, TierClient cloud, OipCodec codec, LongSupplier nanoTime,
                        Timer timer, Listener listener, Deferrer deferrer, Deduplicator deduplicator) {
        this(policies, edge, cloud, codec, nanoTime, timer, listener, deferrer, deduplicator, Admission.none());
    }

    /**
     * @param deferrer     where escalations that cannot be sent are kept (an edge agent's outbox); null: nowhere
     * @param deduplicator how an escalation sent twice gets one effect (the gateway's); null: every sending runs
     * @param admission    the gates requests pass at the door and calls pass before each tier
     */
    public RouteRuntime(PolicyEngine policies, TierClient edge, TierClient cloud, OipCodec codec, LongSupplier nanoTime,
                        Timer timer, Listener listener, Deferrer deferrer, Deduplicator deduplicator, Admission admission) {
        this(policies, edge, cloud, codec, nanoTime, timer, listener, deferrer, deduplicator, admission,
                DeviceProfiles.NONE);
    }

    /**
     * @param profiles what the device learns for routes with a {@code device-profile} setting (an edge
     *                 agent's); {@link DeviceProfiles#NONE}: nothing, and escalations carry no profile
     */
    public RouteRuntime(PolicyEngine policies, TierClient edge, TierClient cloud, OipCodec codec, LongSupplier nanoTime,
                        Timer timer, Listener listener, Deferrer deferrer, Deduplicator deduplicator, Admission admission,
                        DeviceProfiles profiles) {
        this(policies, edge, cloud, codec, nanoTime, timer, listener, deferrer, deduplicator, admission, profiles,
                java.time.Duration.ZERO);
    }

    /**
     * @param sharedRunAtLeast how long an escalation with an idempotency key may run (with a
     *                         {@code deduplicator}), whatever time its sender has left: its answer is
     *                         then recorded for the sender's replays even when the sender stopped waiting
     *                         (a live attempt held up on a dead link answered late), instead of the cloud
     *                         running it again for them; the decisions still weigh the sender's own
     *                         deadline, and the tier's own time limits still bound each call
     */
    public RouteRuntime(PolicyEngine policies, TierClient edge, TierClient cloud, OipCodec codec, LongSupplier nanoTime,
                        Timer timer, Listener listener, Deferrer deferrer, Deduplicator deduplicator, Admission admission,
                        DeviceProfiles profiles, java.time.Duration sharedRunAtLeast) {
        this.sharedRunAtLeastNanos = sharedRunAtLeast.toNanos();
        this.admission = admission;
        this.deferrer = deferrer;
        this.deduplicator = deduplicator;
        this.policies = policies;
        this.edge = edge;
        this.cloud = cloud;
        this.codec = codec;
        this.nanoTime = nanoTime;
        this.timer = timer;
        this.listener = listener;
        this.flow = new RouteFlow(codec, nanoTime, deferrer != null, admission.settings().retryAfter().toSeconds(),
                edge.inProcess(), profiles, new DeviceViews(edge, codec, profiles, listener::views));
        this.signatures = new RouteSignatures(edge, cloud, codec, nanoTime);
    }

    /** The gates of this runtime's admission control. */
    public Admission admission() {
        return admission;
    }

    /** The routes as models: what their metadata and configuration endpoints show. */
    public RouteSignatures signatures() {
        return signatures;
    }

    /**
     * Runs one request on a route. Completes with the answer, whatever happened to the tiers;
     * exceptionally with an {@link dev.hybridge.oip.OipException} for a request that cannot be
     * run (unknown route, malformed, a bad parameter, an output the route does not give).
     */
    public CompletableFuture<RouteAnswer> infer(String routeName, String tenant, byte[] body, int jsonLength) {
        return infer(routeName, tenant, body, jsonLength, null);
    }

    /**
     * {@link #infer(String, String, byte[], int)} within a trace: the calls the request makes to
     * the tiers (and an escalation kept for later) carry {@code trace}, a W3C {@code traceparent}
     * value, as their parent.
     */
    public CompletableFuture<RouteAnswer> infer(String routeName, String tenant, byte[] body, int jsonLength,
                                                String trace) {
        return infer(routeName, tenant, body, jsonLength, trace, null);
    }

    /**
     * A place at the door for a request of {@code lane}, for a caller that asks before it reads
     * the request's body (so a refusal costs no more than its answer); null: refused, answer
     * with {@link #refusedAtDoor}.
     */
    public Admission.Permit admit(Admission.Lane lane) {
        return admission.door().enter(lane);
    }

    /** The answer to a request of {@code lane} the door refused: 503, overloaded, with {@code Retry-After}. */
    public RouteAnswer refusedAtDoor(String route, Admission.Lane lane) {
        return refusedForLoad(route, "overloaded: " + admission.door() + " is full for " + lane.wire()
                + " requests; try again later");
    }

    /** The answer to a request refused at the door for another limit of the caller's: 503, overloaded, {@code Retry-After}. */
    public RouteAnswer refusedForLoad(String route, String message) {
        RouteAnswer refused = flow.refusal(route, dev.hybridge.policy.Reason.OVERLOADED, 0, message);
        listener.answered(refused.outcome(), 0);
        return refused;
    }

    /**
     * {@link #infer(String, String, byte[], int, String)} for a request already let in at the
     * door ({@link #admit}); the place is given back when it is answered. With {@code door} null
     * the request passes the door here.
     */
    public CompletableFuture<RouteAnswer> infer(String routeName, String tenant, byte[] body, int jsonLength,
                                                String trace, Admission.Permit door) {
        long start = nanoTime.getAsLong();
        Admission.Permit place = door;
        try {
            RouteEngine engine = policies.route(routeName);
            if (engine == null) {
                throw OipException.notFound("no route named '" + routeName + "'; routes: "
                        + String.join(", ", policies.current().routes().keySet()));
            }
            OipCodec.RequestHeader request = codec.decodeRequestHeader(body, jsonLength);
            RequestFacts facts = facts(tenant, request, body.length);
            long deadline = start + engine.deadlineMillis(facts) * 1_000_000;
            // the signature is known at once but for the first request after a change: wait a
            // quarter of the deadline at most, then go on without (outputs as the tier gives them)
            CompletableFuture<RouteSignatures.Signature> signature = signatures.of(engine.policy()).exceptionally(e -> null);
            if (!signature.isDone()) {
                CompletableFuture<RouteSignatures.Signature> waited = new CompletableFuture<>();
                Cancellable wait = timer.at(start + engine.deadlineMillis(facts) * 250_000, () -> waited.complete(null));
                signature.thenAccept(waited::complete);
                waited.whenComplete((s, e) -> wait.cancel());
                signature = waited;
            }
            boolean escalation = Boolean.TRUE.equals(request.parameters().get(ESCALATION));
            Object key = request.parameters().get(IDEMPOTENCY_KEY);
            if (place == null) {
                Admission.Lane lane = escalation ? Admission.Lane.ESCALATION : Admission.Lane.CLIENT;
                place = admission.door().enter(lane);
                if (place == null) {
                    return CompletableFuture.completedFuture(refusedAtDoor(routeName, lane));
                }
            }
            boolean shared = escalation && key != null && deduplicator != null;
            long runUntil = shared ? Math.max(deadline, start + sharedRunAtLeastNanos) : deadline;
            return admitted(place, signature.thenCompose(known -> {
                RouteCall call = new RouteCall(engine, tenant, request, body, jsonLength, facts, known, start, runUntil,
                        request.id() != null && !request.id().isBlank() ? request.id() : BOOT + "-" + SEQUENCE.incrementAndGet(),
                        trace);
                refuseUnknownOutputs(call);
                if (shared) {
                    return deduplicator.once(tenant + '|' + routeName + '|' + key, () -> run(call, true));
                }
                return run(call, escalation);
            }));
        } catch (RuntimeException e) {
            if (place != null) {
                place.ignore(); // the request's own fault: no sample
            }
            return CompletableFuture.failedFuture(e);
        }
    }

    /** Gives the door's place back when the request is answered: its time a sample unless it was refused further on. */
    private static CompletableFuture<RouteAnswer> admitted(Admission.Permit door, CompletableFuture<RouteAnswer> answer) {
        return answer.whenComplete((done, failure) -> {
            if (done == null) {
                door.ignore(); // the request's own fault: no sample
            } else if (done.outcome().status() == 504 || done.outcome().reason() == dev.hybridge.policy.Reason.OVERLOADED) {
                door.dropped();
            } else {
                door.done();
            }
        });
    }

    /**
     * Calls a tier through its gate: refused at once (the tier is {@link TierFailure.Kind#BUSY})
     * when the gate is full, else the call, whose end gives the place back.
     */
    private CompletableFuture<TierReply> callThroughGate(Tier tier, Admission.Lane lane,
                                                        java.util.function.Supplier<CompletableFuture<TierReply>> call) {
        Admission.Gate gate = admission.tier(tier);
        Admission.Permit permit = gate.enter(lane);
        if (permit == null) {
            return CompletableFuture.failedFuture(new TierFailure(TierFailure.Kind.BUSY, "the " + tier.wire()
                    + " tier's admission gate is full (" + gate + ")"));
        }
        CompletableFuture<TierReply> reply;
        try {
            reply = call.get();
        } catch (RuntimeException e) {
            permit.ignore();
            throw e;
        }
        return reply.whenComplete((replied, error) -> {
            Throwable e = error == null ? null : unwrap(error);
            if (e == null) {
                permit.done();
            } else if (e instanceof TierFailure f && (f.kind() == TierFailure.Kind.BUSY || f.kind() == TierFailure.Kind.TIMEOUT)) {
                permit.dropped();
            } else {
                permit.ignore();
            }
        });
    }

    private CompletableFuture<RouteAnswer> run(RouteCall call, boolean escalation) {
        Run run = new Run(call);
        run.guard(call.deadlineNanos() + GRACE_MILLIS * 1_000_000);
        run.take(escalation ? flow.startEscalation(call) : flow.start(call));
        return run.answer.whenComplete((done, failure) -> {
            run.guard.get().cancel();
            if (done != null) {
                listener.answered(done.outcome(), nanoTime.getAsLong() - call.startNanos());
            }
        });
    }

    /**
     * One request's run: the steps it takes, and its deadline guard. A step is taken by whoever
     * claims the request's state first: the reply of the call in flight, or the guard once the
     * deadline has passed (a late reply then finds the state moved on and changes nothing). The
     * guard never cuts into a step being taken or an escalation being kept: it looks again a
     * grace later.
     */
    private final class Run {
        /** The state while a step is being taken or an escalation kept: no one else may move it. */
        private static final CallState TAKING = CallState.start();

        final RouteCall call;
        final CompletableFuture<RouteAnswer> answer = new CompletableFuture<>();
        final AtomicReference<CallState> state = new AtomicReference<>(TAKING);
        final AtomicReference<Cancellable> guard = new AtomicReference<>();

        Run(RouteCall call) {
            this.call = call;
        }

        void guard(long nanos) {
            guard.set(timer.at(nanos, this::deadlinePassed));
        }

        private void deadlinePassed() {
            if (answer.isDone()) {
                return;
            }
            CallState at = state.get();
            if (at == TAKING || !state.compareAndSet(at, TAKING)) {
                guard(nanoTime.getAsLong() + GRACE_MILLIS * 1_000_000);
                return;
            }
            step(() -> flow.deadlinePassed(call, at));
        }

        /** Takes one step: answers, or makes the call it asks for and goes on when that call ends. */
        void take(RouteFlow.Next next) {
            Step step = next.step();
            if (step instanceof Step.Finish finish) {
                if (finish.deferral() != null && deferrer != null) {
                    // kept before the caller hears of it; an escalation that cannot be kept leaves the plain answer
                    deferrer.defer(finish.deferral()).handle((id, failure) -> id == null ? finish.answer()
                            : finish.deferral().withId().apply(id)).thenAccept(answer::complete);
                    return;
                }
                if (answer.complete(finish.answer()) && finish.shadowOf() != null) {
                    shadow(call, finish.shadowOf());
                }
                return;
            }
            CallState at = next.state();
            TierCall purpose = new TierCall(call.route(), call.request().id(), call.key(), call.tenant(),
                    call.facts().device(), at.reason(), at.edgeAnswer() == null ? null : at.edgeAnswer().outcome(),
                    call.trace(), step instanceof Step.CallEdge e ? e.outputs() : List.of());
            state.set(at);
            Admission.Lane lane = at.phase() == CallState.Phase.ESCALATION ? Admission.Lane.ESCALATION : Admission.Lane.CLIENT;
            CompletableFuture<TierReply> reply = step instanceof Step.CallEdge e
                    ? callThroughGate(Tier.EDGE, lane, () -> edge.infer(call.policy().edge(), e.body(), e.jsonLength(),
                    call.deadlineNanos(), purpose))
                    : callThroughGate(Tier.CLOUD, lane, () -> cloud.infer(call.policy().cloud(),
                    ((Step.CallCloud) step).body(), ((Step.CallCloud) step).jsonLength(), call.deadlineNanos(), purpose));
            reply.whenComplete((replied, error) -> {
                if (!state.compareAndSet(at, TAKING)) {
                    return; // the deadline passed while the tier was asked
                }
                if (error != null && !(unwrap(error) instanceof TierFailure)) {
                    answer.completeExceptionally(unwrap(error)); // a fault of this program
                    return;
                }
                Event event = error == null ? new Event.Replied(replied) : new Event.Failed((TierFailure) unwrap(error));
                step(() -> flow.next(call, at, event));
            });
        }

        private void step(java.util.function.Supplier<RouteFlow.Next> next) {
            try {
                take(next.get());
            } catch (RuntimeException e) {
                answer.completeExceptionally(e);
            }
        }
    }

    /** Sends a sampled request to the cloud in the background and counts whether it agrees with the edge. */
    private void shadow(RouteCall call, EdgeOutcome edgeOutcome) {
        long deadline = nanoTime.getAsLong() + call.deadlineMillis() * 1_000_000;
        TierCall purpose = new TierCall(call.route(), call.request().id(), call.key(), call.tenant(),
                call.facts().device(), dev.hybridge.policy.Reason.SHADOW, edgeOutcome, call.trace());
        // optional work: the first to go when the cloud is full
        callThroughGate(Tier.CLOUD, Admission.Lane.CLIENT, () -> cloud.infer(call.policy().cloud(), call.body(),
                call.jsonLength(), deadline, purpose)).whenComplete((reply, error) -> {
            if (error != null) {
                listener.shadow(call.route(), ShadowResult.FAILED);
                return;
            }
            call.engine().recordCloudLatency(reply.millis());
            if (!reply.ok()) {
                listener.shadow(call.route(), ShadowResult.FAILED);
                return;
            }
            call.engine().charge(call.tenant(), Tier.CLOUD, call.body().length);
            InferResponse cloudAnswer = codec.decodeResponse(reply.body(), reply.jsonLength());
            Object cloudLabel = cloudAnswer.parameters().get(LABEL);
            listener.shadow(call.route(), cloudLabel != null && cloudLabel.toString().equals(edgeOutcome.label())
                    ? ShadowResult.AGREED : ShadowResult.DISAGREED);
        });
    }

    /** A request naming an output the route does not give every time: 400, naming the route. */
    private static void refuseUnknownOutputs(RouteCall call) {
        if (call.signature() == null || call.signature().outputs().isEmpty()) {
            return;
        }
        for (InferRequest.RequestedOutput output : call.request().outputs()) {
            if (!call.signature().outputs().contains(output.name())) {
                throw OipException.badRequest("route '" + call.route() + "' has no output '" + output.name()
                        + "'; its outputs are " + call.signature().metadata().outputs().stream()
                        .map(t -> t.name() + " (" + t.datatype() + " " + Arrays.toString(t.shape()) + ")")
                        .collect(Collectors.joining(", ")));
            }
        }
    }

    /** What the route's conditions read of a request; 400 for a routing parameter that makes no sense. */
    static RequestFacts facts(String tenant, OipCodec.RequestHeader request, long inputBytes) {
        Map<String, Object> parameters = request.parameters();
        RequestedRoute requested = RequestedRoute.AUTO;
        Object route = parameters.get(ROUTE);
        if (route != null) {
            requested = RequestedRoute.fromWire(String.valueOf(route)).orElseThrow(() -> OipException.badRequest(
                    ROUTE + " must be auto, edge or cloud but was " + describe(route)));
        }
        long deadline = 0;
        Object deadlineValue = parameters.get(DEADLINE_MS);
        if (deadlineValue != null) {
            if (!(deadlineValue instanceof Long d) || d < 1 || d > MAX_DEADLINE_MS) {
                throw OipException.badRequest(DEADLINE_MS + " must be a whole number of milliseconds from 1 to "
                        + MAX_DEADLINE_MS + " but was " + describe(deadlineValue));
            }
            deadline = d;
        }
        Object device = parameters.get(DEVICE);
        Map<String, long[]> shapes = new LinkedHashMap<>();
        for (TensorSpec input : request.inputs()) {
            shapes.put(input.name(), input.shape());
        }
        return new RequestFacts(tenant, device == null ? "" : String.valueOf(device), parameters, shapes, inputBytes,
                requested, deadline);
    }

    private static Throwable unwrap(Throwable e) {
        return e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
    }

    private static String describe(Object value) {
        return value instanceof String s ? "\"" + s + "\"" : String.valueOf(value);
    }
}
