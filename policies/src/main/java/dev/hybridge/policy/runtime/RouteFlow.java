package dev.hybridge.policy.runtime;

import static dev.hybridge.oip.ClassifierParameters.CONFIDENCE;
import static dev.hybridge.oip.ClassifierParameters.ENTROPY;
import static dev.hybridge.oip.ClassifierParameters.LABEL;
import static dev.hybridge.oip.ClassifierParameters.MARGIN;
import static dev.hybridge.oip.RoutingParameters.REASON;
import static dev.hybridge.oip.RoutingParameters.ROUTE;

import dev.hybridge.oip.Datatype;
import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.InferResponse;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.Tensor;
import dev.hybridge.policy.Decision;
import dev.hybridge.policy.EdgeOutcome;
import dev.hybridge.policy.Reason;
import dev.hybridge.policy.RoutePolicy;
import dev.hybridge.policy.Tier;
import dev.hybridge.policy.runtime.CallState.EdgeAnswer;
import dev.hybridge.policy.runtime.CallState.Phase;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * The route flow: from where a request stands and what just happened, the next step. Every
 * routing rule is applied here (through the route's {@link dev.hybridge.policy.RouteEngine}):
 * confident, low confidence, hard by rule, the client's requested tier, the deadline against
 * the cloud's latency estimate, budgets, and the fallbacks (cloud failed, open or slow: the edge's
 * answer stands, degraded; edge failed: the cloud answers when budget and deadline allow; both
 * failed: 503). No I/O: the caller makes the calls a step asks for and feeds back what came.
 *
 * <p>The state it works on is immutable ({@link CallState}); what it keeps between requests lives
 * in the route's engine (latency estimate, calibration, spending), which a step updates as the
 * request goes: a cloud reply's round trip, a charge for an answer.
 */
final class RouteFlow {

    /**
     * An escalation's charge is counted once per tenant, route and idempotency key, however often
     * it is sent; any other request's each time (null).
     */
    private static String chargeKey(RouteCall call) {
        Object key = call.request().parameters().get(dev.hybridge.oip.RoutingParameters.IDEMPOTENCY_KEY);
        return key != null && Boolean.TRUE.equals(call.request().parameters().get(dev.hybridge.oip.RoutingParameters.ESCALATION))
                ? call.tenant() + '|' + call.route() + '|' + key : null;
    }

    /** Request parameters an edge agent adds to an escalation; answers never carry them. */
    private static final java.util.Set<String> ESCALATION_ONLY = java.util.Set.of(
            dev.hybridge.oip.RoutingParameters.ESCALATION, dev.hybridge.oip.RoutingParameters.EDGE_LABEL,
            dev.hybridge.oip.RoutingParameters.EDGE_CONFIDENCE, dev.hybridge.oip.RoutingParameters.IDEMPOTENCY_KEY);

    /** A step to take, and the state it leaves the request in. */
    record Next(CallState state, Step step) {
    }

    private final OipCodec codec;
    private final LongSupplier nanoTime;
    private final boolean defers;
    private final long retryAfterSeconds;
    private final boolean edgeInProcess;
    private final DeviceProfiles profiles;
    private final DeviceViews views;
    /** The most values a device profile is repeated out to for one request's rows. */
    static final long MAX_PROFILE_VALUES = 16L << 20;

    /**
     * @param defers            whether the runtime keeps escalations it cannot send (an edge agent's); else none are made
     * @param retryAfterSeconds what a refusal for overload tells the client to wait at least ({@code Retry-After}):
     *                          each refusal says between this and twice this, drawn at random, so that clients
     *                          refused together do not all come back together
     * @param edgeInProcess     whether the edge tier runs in this process ({@link TierClient#inProcess})
     */
    RouteFlow(OipCodec codec, LongSupplier nanoTime, boolean defers, long retryAfterSeconds, boolean edgeInProcess,
              DeviceProfiles profiles, DeviceViews views) {
        this.profiles = profiles;
        this.views = views;
        this.codec = codec;
        this.nanoTime = nanoTime;
        this.defers = defers;
        this.retryAfterSeconds = retryAfterSeconds;
        this.edgeInProcess = edgeInProcess;
    }

    // ------------------------------------------------------------------------------- starting

    /** The first step of a client's request. */
    Next start(RouteCall call) {
        CallState state = CallState.start();
        Decision before = call.engine().beforeEdge(call.facts());
        state = state.deciding(before);
        return switch (before.action()) {
            case REJECT -> finish(state, rejection(call, state, before.reason()));
            case GO_CLOUD -> {
                OipCodec.Encoded request = withProfile(call, new OipCodec.Encoded(call.body(), call.jsonLength()),
                        deviceProfile(call));
                yield callCloud(state, Phase.CLOUD_FIRST, before.reason(), request.body(), request.jsonLength());
            }
            default -> {
                yield new Next(state.calling(Phase.EDGE, before.reason(), 0, now()), edgeStep(call));
            }
        };
    }

    // ------------------------------------------------------------------------ device profiles

    /** Whether this runtime keeps a profile for the call's route ({@link RoutePolicy.DeviceProfile}). */
    private boolean keepsProfile(RouteCall call) {
        return profiles != DeviceProfiles.NONE && call.policy().deviceProfile() != null;
    }

    /** The edge stage's call, also asking for the route's profile output when this runtime keeps its profile. */
    private Step.CallEdge edgeStep(RouteCall call) {
        Step.CallEdge step = handOff(call).edgeRequest(call, codec, edgeInProcess);
        if (!keepsProfile(call)) {
            return step;
        }
        String from = call.policy().deviceProfile().from();
        if (!step.outputs().isEmpty()) {
            if (step.outputs().contains(from)) {
                return step;
            }
            List<String> outputs = new ArrayList<>(step.outputs());
            outputs.add(from);
            return new Step.CallEdge(step.body(), step.jsonLength(), List.copyOf(outputs));
        }
        InferRequest request = codec.decodeRequest(step.body(), step.jsonLength());
        if (request.outputs().isEmpty() || request.outputs().stream().anyMatch(o -> o.name().equals(from))) {
            return step; // the edge answers with every output, or already with this one
        }
        List<InferRequest.RequestedOutput> outputs = new ArrayList<>(request.outputs());
        outputs.add(new InferRequest.RequestedOutput(from, Map.of(OipCodec.BINARY_DATA, true)));
        return new Step.CallEdge(codec.encodeRequest(new InferRequest(request.id(), request.parameters(),
                request.inputs(), outputs), true));
    }

    /** The route's profile this runtime keeps, as it stands; null when it keeps none. */
    private float[] deviceProfile(RouteCall call) {
        return keepsProfile(call) ? profiles.current(call.route()) : null;
    }

    /** Adds an edge answer's profile rows to the route's mean; the mean with them, or null. */
    private float[] heard(RouteCall call, InferResponse response) {
        if (!keepsProfile(call)) {
            return null;
        }
        RoutePolicy.DeviceProfile setting = call.policy().deviceProfile();
        for (Tensor output : response.outputs()) {
            if (output.name().equals(setting.from())) {
                if (output.datatype() != Datatype.FP32 || output.shape().length != 2 || output.shape()[1] < 1) {
                    break; // not a profile: the cloud gets what the device had
                }
                return profiles.heard(call.route(), (float[]) output.data(), (int) output.shape()[1], setting.window());
            }
        }
        return profiles.current(call.route());
    }

    /**
     * The cloud's request with the device's profile added as the setting's input, one row for each
     * of the request's rows; as it was when there is no profile yet, or the request carries that input.
     * With speed views, the picked speeds and a profile for each ({@link DeviceViews#picked}), or until
     * every speed is heard, speed 1 with the plain profile.
     */
    private OipCodec.Encoded withProfile(RouteCall call, OipCodec.Encoded request, float[] profile) {
        if (profile == null) {
            return request;
        }
        RoutePolicy.DeviceProfile setting = call.policy().deviceProfile();
        InferRequest decoded = codec.decodeRequest(request.body(), request.jsonLength());
        if (decoded.inputs().stream().anyMatch(t -> t.name().equals(setting.to())
                || setting.views() != null && t.name().equals(setting.views().to()))) {
            return request;
        }
        long rows = Tensor.rowsHeld(decoded.inputs());
        List<Tensor> inputs = new ArrayList<>(decoded.inputs());
        if (setting.views() == null) {
            if (rows < 1 || rows * profile.length > MAX_PROFILE_VALUES) {
                return request; // rows its data does not hold, or too many: sent without, the cloud uses its default
            }
            inputs.add(Tensor.repeatedRow(setting.to(), profile, new long[] {rows, profile.length}));
        } else {
            DeviceViews.Picked picked = views.picked(call.route(), setting.views());
            if (picked == null) {
                picked = DeviceViews.Picked.plain(setting.views().pick(), profile);
            }
            if (rows < 1 || rows * picked.profiles().length > MAX_PROFILE_VALUES) {
                return request;
            }
            int pick = picked.speeds().length;
            inputs.add(Tensor.repeatedRow(setting.views().to(), picked.speeds(), new long[] {rows, pick}));
            inputs.add(Tensor.repeatedRow(setting.to(), picked.profiles(), new long[] {rows, pick, picked.width()}));
        }
        return codec.encodeRequest(new InferRequest(decoded.id(), decoded.parameters(), inputs, decoded.outputs()), true);
    }

    /**
     * The first step of an edge agent's escalation: it ran the edge stage itself, so only the
     * fleet-wide limits apply (the tenant's rights, the time left, the budget).
     */
    Next startEscalation(RouteCall call) {
        CallState state = CallState.start();
        Decision decision = call.engine().escalationFromEdge(call.facts(), reasonOf(call.request().parameters()),
                elapsedMillis(call));
        return switch (decision.action()) {
            case ESCALATE -> callCloud(state, Phase.ESCALATION, decision.reason(), call.body(), call.jsonLength());
            case REJECT -> finish(state, rejection(call, state, decision.reason()));
            // no cloud stage, the deadline or the budget says no: the agent answers with its own result
            default -> finish(state, decision.reason() == Reason.DEADLINE_TOO_TIGHT
                    ? refusal(call, state, Reason.DEADLINE_TOO_TIGHT, "escalation declined (deadline_too_tight): the cloud"
                    + " cannot answer in the time left (estimate " + Math.round(call.engine().cloudLatencyEstimateMillis())
                    + " ms): answer at the edge")
                    : error(call, state, decision.reason() == Reason.BUDGET_EXHAUSTED ? 429 : 409, decision.reason(),
                    "escalation declined (" + decision.reason().code() + "): answer at the edge"));
        };
    }

    // --------------------------------------------------------------------------------- events

    /** The next step once the call in flight has replied or failed. */
    Next next(RouteCall call, CallState state, Event event) {
        return switch (state.phase()) {
            case EDGE -> event instanceof Event.Replied r ? afterEdge(call, state, r.reply())
                    : edgeFailed(call, state, ((Event.Failed) event).failure());
            case EDGE_INSTEAD -> event instanceof Event.Replied r ? edgeStoodIn(call, state, r.reply())
                    : finish(state, error(call, state, 503, Reason.CLOUD_UNAVAILABLE, "both tiers are unavailable: cloud: "
                    + state.cloudFailure().describe() + "; edge: " + ((Event.Failed) event).failure().describe()));
            case CLOUD_AFTER_EDGE, CLOUD_FIRST, CLOUD_INSTEAD, ESCALATION -> event instanceof Event.Replied r
                    ? cloudReplied(call, state, r.reply()) : cloudFailed(call, state, ((Event.Failed) event).failure());
        };
    }

    private Next afterEdge(RouteCall call, CallState state, TierReply reply) {
        if (!reply.ok()) {
            return finish(state, passThrough(call, state, reply, Tier.EDGE));
        }
        InferResponse response = codec.decodeResponse(reply.body(), reply.jsonLength());
        EdgeOutcome outcome = outcomeOf(response.parameters());
        float[] profile = heard(call, response);
        state = state.charged(call.engine().charge(call.tenant(), Tier.EDGE, call.body().length));
        Decision after = call.engine().afterEdge(call.facts(), state.before(), outcome, elapsedMillis(call));
        Next next = afterEdge(call, state, response, outcome, after, profile);
        if (keepsProfile(call)) {
            views.heard(call); // after its own escalation is written: a clip's views teach the clips after it
        }
        return next;
    }

    private Next afterEdge(RouteCall call, CallState state, InferResponse response, EdgeOutcome outcome, Decision after,
                           float[] profile) {
        return switch (after.action()) {
            case ESCALATE -> {
                OipCodec.Encoded request = withProfile(call, handOff(call).cloudRequestAfterEdge(call, response, codec),
                        profile);
                yield callCloud(state.withEdgeAnswer(new EdgeAnswer(response, outcome)), Phase.CLOUD_AFTER_EDGE,
                        after.reason(), request.body(), request.jsonLength());
            }
            case REJECT -> finish(state, rejection(call, state, after.reason()));
            default -> {
                if (after.reason() == Reason.DEADLINE_TOO_TIGHT && call.policy().kind().usesCloud()) {
                    // it should have gone to the cloud and there is no time to wait: an agent keeps it for later
                    CallState at = state;
                    yield deferred(call, at, Reason.DEADLINE_TOO_TIGHT, outcome,
                            () -> withProfile(call, handOff(call).cloudRequestAfterEdge(call, response, codec), profile),
                            id -> answer(call, at, response, Tier.EDGE, after.reason(), outcome.confidence(), false, id));
                }
                yield new Next(state, new Step.Finish(answer(call, state, response, Tier.EDGE, after.reason(),
                        outcome.confidence(), false), after.shadow() ? outcome : null));
            }
        };
    }

    private Next edgeFailed(RouteCall call, CallState state, TierFailure failure) {
        state = state.withEdgeFailure(failure);
        if (failure.kind() == TierFailure.Kind.BUSY && !call.policy().cloudOnEdgeOverload()) {
            // the edge sheds load: not a reason to spend cloud budget on what the edge would have answered
            return finish(state, refusal(call, state, Reason.OVERLOADED, "the edge tier is overloaded, try again later: "
                    + failure.getMessage()));
        }
        Decision decision = call.engine().edgeFailed(call.facts(), elapsedMillis(call));
        if (decision.action() == Decision.Action.GO_CLOUD) {
            // the full model answers: not degraded, only dearer (the reason says why)
            return callCloud(state, Phase.CLOUD_INSTEAD, Reason.EDGE_UNAVAILABLE, call.body(), call.jsonLength());
        }
        if (decision.reason() == Reason.EDGE_UNAVAILABLE) {
            return finish(state, error(call, state, failure.kind() == TierFailure.Kind.TIMEOUT ? 504 : 503,
                    Reason.EDGE_UNAVAILABLE, "the edge tier is unavailable: " + failure.describe()));
        }
        if (decision.reason() == Reason.BUDGET_EXHAUSTED) {
            // the edge is the cause; the spent budget only keeps the cloud from standing in: not a 429
            return finish(state, error(call, state, failure.kind() == TierFailure.Kind.TIMEOUT ? 504 : 503,
                    Reason.EDGE_UNAVAILABLE, "the edge tier is unavailable (" + failure.describe() + ") and the budget"
                            + " of tenant '" + call.tenant() + "' is spent, so the cloud cannot stand in"));
        }
        return finish(state, rejection(call, state, decision.reason()));
    }

    private Next edgeStoodIn(RouteCall call, CallState state, TierReply reply) {
        if (!reply.ok()) {
            return finish(state, passThrough(call, state, reply, Tier.EDGE));
        }
        InferResponse response = codec.decodeResponse(reply.body(), reply.jsonLength());
        CallState at = state.charged(call.engine().charge(call.tenant(), Tier.EDGE, call.body().length));
        EdgeOutcome outcome = outcomeOf(response.parameters());
        // the request itself was for the cloud (hard, or asked for): an agent keeps it for later
        return deferred(call, at, at.before().reason(), outcome, () -> withProfile(call,
                        new OipCodec.Encoded(call.body(), call.jsonLength()), deviceProfile(call)),
                id -> answer(call, at, response, Tier.EDGE, Reason.CLOUD_UNAVAILABLE, outcome.confidence(), true, id));
    }

    private Next cloudReplied(RouteCall call, CallState state, TierReply reply) {
        call.engine().recordCloudLatency(reply.millis());
        if (!reply.ok()) {
            return finish(state, passThrough(call, state, reply, Tier.CLOUD));
        }
        InferResponse response = codec.decodeResponse(reply.body(), reply.jsonLength());
        state = state.charged(call.engine().charge(call.tenant(), Tier.CLOUD, state.sentBytes(), chargeKey(call)));
        return finish(state, answer(call, state, response, Tier.CLOUD, state.reason(),
                confidenceOf(response.parameters()), false));
    }

    private Next cloudFailed(RouteCall call, CallState state, TierFailure failure) {
        if (failure.kind() == TierFailure.Kind.TIMEOUT) {
            // the cloud took at least the time left; count it as a whole deadline, so that the
            // estimate stops the next requests from waiting out the same deadline
            double waited = (now() - state.callStarted()) / 1e6;
            call.engine().recordCloudLatency(Math.max(waited, call.deadlineMillis()));
        }
        state = state.withCloudFailure(failure);
        return switch (state.phase()) {
            case CLOUD_AFTER_EDGE -> edgeAnswerStands(call, state);
            case CLOUD_INSTEAD -> finish(state, failure.kind() == TierFailure.Kind.BUSY
                    ? refusal(call, state, Reason.OVERLOADED, "both tiers are unavailable: edge: "
                    + state.edgeFailure().describe() + "; cloud: " + failure.describe())
                    : error(call, state, 503, Reason.CLOUD_UNAVAILABLE, "both tiers are unavailable: edge: "
                    + state.edgeFailure().describe() + "; cloud: " + failure.describe()));
            case CLOUD_FIRST -> handOff(call).edgeStandsIn(call)
                    // the edge was skipped (a hard request, or the client asked for the cloud): it answers now
                    ? standIn(call, state)
                    : finish(state, cloudUnavailable(call, state, failure));
            default -> finish(state, cloudUnavailable(call, state, failure));
        };
    }

    private Next standIn(RouteCall call, CallState state) {
        return new Next(state.calling(Phase.EDGE_INSTEAD, Reason.CLOUD_UNAVAILABLE, 0, now()),
                handOff(call).edgeRequest(call, codec, edgeInProcess));
    }

    /** The cloud, asked after the edge, did not answer: the edge's answer stands, degraded (and is kept for later). */
    private Next edgeAnswerStands(RouteCall call, CallState state) {
        EdgeAnswer edge = state.edgeAnswer();
        Reason why = state.cloudFailure() != null && state.cloudFailure().kind() == TierFailure.Kind.BUSY
                ? Reason.OVERLOADED : Reason.CLOUD_UNAVAILABLE;
        return deferred(call, state, state.reason(), edge.outcome(),
                // kept as the live attempt was sent: with the device's profile (or views) as they stand now
                () -> withProfile(call, handOff(call).cloudRequestAfterEdge(call, edge.response(), codec), deviceProfile(call)),
                id -> answer(call, state, edge.response(), Tier.EDGE, why, edge.outcome().confidence(), true, id));
    }

    /**
     * The step when the request is still unanswered at its deadline, standing where {@code state}
     * says: with the edge's answer in hand (the cloud still asked after it) that answer stands, as
     * when the cloud fails; otherwise 504. Not a latency sample: the call in flight may have been
     * on time and this program late.
     */
    Next deadlinePassed(RouteCall call, CallState state) {
        if (state.phase() == Phase.CLOUD_AFTER_EDGE && state.edgeAnswer() != null) {
            return edgeAnswerStands(call, state.withCloudFailure(new TierFailure(TierFailure.Kind.TIMEOUT,
                    "no answer within the deadline of " + call.deadlineMillis() + " ms")));
        }
        return finish(state, error(call, state, 504, Reason.DEADLINE_TOO_TIGHT,
                "no answer within the deadline of " + call.deadlineMillis() + " ms"));
    }

    // -------------------------------------------------------------------------------- answers

    private RouteAnswer cloudUnavailable(RouteCall call, CallState state, TierFailure failure) {
        if (failure.kind() == TierFailure.Kind.BUSY) {
            return refusal(call, state, Reason.OVERLOADED, "the cloud tier is overloaded, try again later: "
                    + failure.getMessage());
        }
        return error(call, state, failure.kind() == TierFailure.Kind.TIMEOUT ? 504 : 503, Reason.CLOUD_UNAVAILABLE,
                "the cloud tier is unavailable: " + failure.describe());
    }

    /**
     * A refusal the client can act on: 503 with {@code Retry-After}, before the request was given
     * any work it could run out of time in (a tier shedding load, a cloud that cannot answer in
     * the time the request has).
     */
    private RouteAnswer refusal(RouteCall call, CallState state, Reason reason, String message) {
        return refusal(call.route(), reason, state.costUsd(), message);
    }

    /** That refusal, for a request of {@code route} that has cost {@code costUsd} so far (none, before any work). */
    RouteAnswer refusal(String route, Reason reason, double costUsd, String message) {
        long wait = retryAfterSeconds + java.util.concurrent.ThreadLocalRandom.current().nextLong(retryAfterSeconds + 1);
        return new RouteAnswer(new RouteOutcome(route, null, reason, null, costUsd, false, 503, null, wait),
                codec.encodeError(message), -1);
    }

    private RouteAnswer answer(RouteCall call, CallState state, InferResponse response, Tier tier, Reason reason,
                               Double confidence, boolean degraded) {
        return answer(call, state, response, tier, reason, confidence, degraded, null);
    }

    /**
     * The edge's answer to a request whose escalation could not be sent: on a route that defers,
     * the escalation goes with it, for a runtime that keeps such escalations (an edge agent's
     * outbox) to keep before answering, and the answer then names it.
     *
     * @param why     why the cloud was to answer (low confidence, hard by rule, ...)
     * @param cloudRequest the cloud stage's request (made only when the escalation is kept)
     * @param withId       the answer naming a kept escalation
     */
    private Next deferred(RouteCall call, CallState state, Reason why, EdgeOutcome edge,
                          java.util.function.Supplier<OipCodec.Encoded> cloudRequest,
                          java.util.function.Function<String, RouteAnswer> withId) {
        RouteAnswer plain = withId.apply(null);
        if (!defers || !call.policy().defer().enabled()) {
            return finish(state, plain);
        }
        OipCodec.Encoded request = cloudRequest.get();
        TierCall escalation = new TierCall(call.route(), call.request().id(), call.key(), call.tenant(),
                call.facts().device(), why, edge, call.trace());
        return new Next(state, new Step.Finish(plain, null,
                new Deferral(call.policy(), escalation, request.body(), request.jsonLength(), plain, withId,
                        call.request().parameters())));
    }

    private RouteAnswer answer(RouteCall call, CallState state, InferResponse response, Tier tier, Reason reason,
                               Double confidence, boolean degraded, String escalationId) {
        RouteOutcome outcome = new RouteOutcome(call.route(), tier, reason, confidence, state.costUsd(), degraded, 200,
                escalationId);
        Map<String, Object> parameters = new LinkedHashMap<>(response.parameters());
        // what an edge agent told the gateway with an escalation, echoed by the model: not the client's business
        parameters.keySet().removeAll(ESCALATION_ONLY);
        outcome.writeParameters(parameters);
        List<Tensor> outputs = response.outputs();
        RouteSignatures.Signature signature = call.signature();
        if (call.request().outputs().isEmpty() && signature != null && !signature.outputs().isEmpty()) {
            // none named: all of the route's, the same set whichever tier answered
            outputs = outputs.stream().filter(t -> signature.outputs().contains(t.name())).toList();
        } else if (tier == Tier.EDGE) {
            outputs = handOff(call).withoutInternals(call, outputs);
            if (call.policy().deviceProfile() != null && !call.asksFor(call.policy().deviceProfile().from())) {
                String from = call.policy().deviceProfile().from();
                outputs = outputs.stream().filter(t -> !t.name().equals(from)).toList(); // the device's, not the client's
            }
        }
        InferResponse out = new InferResponse(call.route(), null, call.request().id(), parameters, outputs);
        OipCodec.Encoded encoded = codec.encodeResponse(out, call.answerFor());
        return new RouteAnswer(outcome, encoded.body(), encoded.jsonLength());
    }

    /**
     * A tier's refusal of the request itself (4xx), passed on; an OIP error naming the stage's
     * model names the route instead, which is all the client knows.
     */
    private RouteAnswer passThrough(RouteCall call, CallState state, TierReply reply, Tier tier) {
        byte[] body = reply.body();
        String message = reply.jsonLength() < 0 ? codec.decodeError(body) : null;
        if (message != null) {
            String model = "model '" + call.policy().stage(tier).model() + "'";
            if (message.contains(model)) {
                body = codec.encodeError(message.replace(model, "route '" + call.route() + "'"));
            }
        }
        return new RouteAnswer(new RouteOutcome(call.route(), tier, null, null, state.costUsd(), false, reply.status()),
                body, reply.jsonLength());
    }

    private RouteAnswer rejection(RouteCall call, CallState state, Reason reason) {
        return switch (reason) {
            case BUDGET_EXHAUSTED -> error(call, state, 429, reason, "the budget of tenant '" + call.tenant()
                    + "' for this window is spent (spent " + String.format(Locale.ROOT, "%.4f",
                    call.engine().spentUsd(call.tenant())) + " USD)");
            case NOT_ALLOWED -> error(call, state, 403, reason, "tenant '" + call.tenant() + "' may not ask for "
                    + ROUTE + "=" + call.facts().requested().wire() + " on route " + call.route()
                    + " (a " + call.policy().kind().wire() + " route)");
            // refused before any work: not a 504, which says a request accepted for work ran out of time
            case DEADLINE_TOO_TIGHT -> refusal(call, state, reason, "the cloud cannot answer within the deadline of "
                    + call.deadlineMillis() + " ms (estimate "
                    + Math.round(call.engine().cloudLatencyEstimateMillis()) + " ms)");
            default -> error(call, state, 503, reason, "no tier can answer: " + reason.code());
        };
    }

    private RouteAnswer error(RouteCall call, CallState state, int status, Reason reason, String message) {
        return new RouteAnswer(new RouteOutcome(call.route(), null, reason, null, state.costUsd(), false, status),
                codec.encodeError(message), -1);
    }

    // -------------------------------------------------------------------------------- helpers

    private Next callCloud(CallState state, Phase phase, Reason reason, byte[] body, int jsonLength) {
        return new Next(state.calling(phase, reason, body.length, now()), new Step.CallCloud(body, jsonLength));
    }

    private static Next finish(CallState state, RouteAnswer answer) {
        return new Next(state, new Step.Finish(answer, null));
    }

    private static HandOff handOff(RouteCall call) {
        return HandOff.of(call.policy().kind());
    }

    private long now() {
        return nanoTime.getAsLong();
    }

    private long elapsedMillis(RouteCall call) {
        return (now() - call.startNanos()) / 1_000_000;
    }

    /** The edge's outcome from answer (or escalation) parameters; a model without scores counts as unsure. */
    static EdgeOutcome outcomeOf(Map<String, Object> parameters) {
        double confidence = number(parameters.get(CONFIDENCE), 0);
        return new EdgeOutcome(Math.max(0, Math.min(1, confidence)), number(parameters.get(MARGIN), 0),
                number(parameters.get(ENTROPY), 0), parameters.get(LABEL) == null ? "" : parameters.get(LABEL).toString());
    }

    private static Double confidenceOf(Map<String, Object> parameters) {
        Object value = parameters.get(CONFIDENCE);
        return value instanceof Number n ? n.doubleValue() : null;
    }

    private static Reason reasonOf(Map<String, Object> parameters) {
        Object value = parameters.get(REASON);
        if (value != null) {
            for (Reason r : Reason.values()) {
                if (r.code().equals(value.toString())) {
                    return r;
                }
            }
        }
        return Reason.LOW_CONFIDENCE;
    }

    private static double number(Object value, double fallback) {
        return value instanceof Number n && Double.isFinite(n.doubleValue()) ? n.doubleValue() : fallback;
    }
}
