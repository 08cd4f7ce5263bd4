package dev.hybridge.gateway;

import static dev.hybridge.oip.ClassifierParameters.CONFIDENCE;
import static dev.hybridge.oip.ClassifierParameters.ENTROPY;
import static dev.hybridge.oip.ClassifierParameters.LABEL;
import static dev.hybridge.oip.ClassifierParameters.MARGIN;

import dev.hybridge.gateway.pool.NoWorkerException;
import dev.hybridge.gateway.pool.WorkerFailure;
import dev.hybridge.gateway.pool.WorkerPool;
import dev.hybridge.gateway.pool.WorkerResponse;
import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.InferResponse;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.OipException;
import dev.hybridge.oip.Tensor;
import dev.hybridge.policy.Decision;
import dev.hybridge.policy.Decision.Action;
import dev.hybridge.policy.EdgeOutcome;
import dev.hybridge.policy.PolicyEngine;
import dev.hybridge.policy.Reason;
import dev.hybridge.policy.RequestFacts;
import dev.hybridge.policy.RequestedRoute;
import dev.hybridge.policy.RouteEngine;
import dev.hybridge.policy.RoutePolicy;
import dev.hybridge.policy.Tier;
import io.github.resilience4j.bulkhead.BulkheadFullException;
import io.github.resilience4j.circuitbreaker.CallNotPermittedException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;

/**
 * Runs one route's pipeline for one request: asks the route's policy, calls the edge tier and
 * the cloud tier as it says, falls back when a tier fails, and answers with the routing facts
 * ({@code hybridge.tier}, {@code hybridge.reason}, {@code hybridge.confidence},
 * {@code hybridge.cost_usd}, {@code hybridge.degraded}) in the OIP parameters and as headers.
 *
 * <p>Two kinds of callers. Clients with no edge agent: the gateway runs the whole pipeline.
 * Edge agents sending an escalation ({@code hybridge.escalation: true}, their edge outcome in
 * {@code hybridge.confidence}, {@code hybridge.margin}, {@code hybridge.entropy},
 * {@code hybridge.label}, and the input, or on split routes the intermediate tensor, attached):
 * the gateway applies the fleet-wide limits (tenant rights, budget, deadline) and sends it to the
 * cloud; when a limit says no, it answers with an error the agent reads as "answer locally".
 *
 * <p>No request outlives its deadline: every call is bounded by the time left, and the whole
 * exchange by the deadline plus {@link #GRACE_MILLIS}.
 */
final class Orchestrator {

    private static final Logger log = LoggerFactory.getLogger(Orchestrator.class);

    static final String ROUTE = "hybridge.route";
    static final String DEADLINE_MS = "hybridge.deadline_ms";
    static final String DEVICE = "hybridge.device";
    static final String ESCALATION = "hybridge.escalation";
    static final String TIER = "hybridge.tier";
    static final String REASON = "hybridge.reason";
    static final String COST = "hybridge.cost_usd";
    static final String DEGRADED = "hybridge.degraded";
    /** The longest deadline a request may ask for. */
    static final long MAX_DEADLINE_MS = 600_000;
    /** Time allowed past the deadline for writing the answer. */
    static final long GRACE_MILLIS = 50;

    private final PolicyEngine policies;
    private final WorkerPool edge;
    private final WorkerPool cloud;
    private final OipCodec codec;
    private final GatewayMetrics metrics;
    private final RouteSignatures signatures;

    Orchestrator(PolicyEngine policies, WorkerPool edge, WorkerPool cloud, OipCodec codec, GatewayMetrics metrics,
                 RouteSignatures signatures) {
        this.signatures = signatures;
        this.policies = policies;
        this.edge = edge;
        this.cloud = cloud;
        this.codec = codec;
        this.metrics = metrics;
    }

    /** What the client gets: status, body, the binary extension's JSON length, and the routing headers. */
    record Answer(int status, byte[] body, int jsonLength, Map<String, String> headers) {
    }

    /** One request in flight. */
    private final class Call {
        final RouteEngine route;
        final RoutePolicy policy;
        final String tenant;
        /** The request without its data: the body is forwarded as it came. */
        final OipCodec.RequestHeader request;
        /** The same, as the request to encode answers for. */
        final InferRequest answerFor;
        final byte[] body;
        final int jsonLength;
        final RequestFacts facts;
        final long startNanos;
        final long deadlineNanos;
        double costUsd;
        /** Why the edge tier failed for this request, or null. */
        Throwable edgeFailure;
        /** The route as one model (its outputs), or null when its stages could not be asked. */
        RouteSignatures.Signature signature;

        Call(RouteEngine route, String tenant, OipCodec.RequestHeader request, byte[] body, int jsonLength,
             RequestFacts facts, long startNanos) {
            this.route = route;
            this.policy = route.policy();
            this.tenant = tenant;
            this.request = request;
            this.answerFor = request.withoutInputs();
            this.body = body;
            this.jsonLength = jsonLength;
            this.facts = facts;
            this.startNanos = startNanos;
            this.deadlineNanos = startNanos + route.deadlineMillis(facts) * 1_000_000;
        }

        long elapsedMillis() {
            return (System.nanoTime() - startNanos) / 1_000_000;
        }
    }

    Mono<Answer> infer(String routeName, String tenant, byte[] body, int jsonLength) {
        long start = System.nanoTime();
        return Mono.defer(() -> {
            RouteEngine route = policies.route(routeName);
            if (route == null) {
                throw OipException.notFound("no route named '" + routeName + "'; routes: "
                        + String.join(", ", policies.current().routes().keySet()));
            }
            OipCodec.RequestHeader request = codec.decodeRequestHeader(body, jsonLength);
            Call call = new Call(route, tenant, request, body, jsonLength, facts(tenant, request, body.length), start);
            long budgetMillis = route.deadlineMillis(call.facts) + GRACE_MILLIS;
            Mono<Answer> answer = signature(call).then(Mono.defer(() -> {
                refuseUnknownOutputs(call);
                return Boolean.TRUE.equals(request.parameters().get(ESCALATION)) ? escalation(call) : pipeline(call);
            }));
            return answer
                    .timeout(java.time.Duration.ofMillis(budgetMillis), Mono.fromSupplier(() -> error(call, 504,
                            Reason.DEADLINE_TOO_TIGHT, "no answer within the deadline of "
                                    + route.deadlineMillis(call.facts) + " ms")))
                    .doOnNext(a -> metrics.record(routeName, a, System.nanoTime() - start));
        });
    }

    /**
     * The route's signature, waited for at most a quarter of the request's deadline (it is known
     * at once but for the first request after a change): without it the request goes on, its
     * outputs as the answering tier gives them.
     */
    private Mono<Void> signature(Call call) {
        long waitMillis = Math.max(1, call.route.deadlineMillis(call.facts) / 4);
        return signatures.of(call.policy)
                .timeout(java.time.Duration.ofMillis(waitMillis))
                .doOnNext(signature -> call.signature = signature)
                .onErrorResume(e -> {
                    log.debug("route {}: its signature is not known ({}); outputs pass as they come",
                            call.policy.name(), e.toString());
                    return Mono.empty();
                })
                .then();
    }

    /** A request naming an output the route does not give every time: 400, naming the route. */
    private static void refuseUnknownOutputs(Call call) {
        if (call.signature == null || call.signature.outputs().isEmpty()) {
            return;
        }
        for (InferRequest.RequestedOutput output : call.request.outputs()) {
            if (!call.signature.outputs().contains(output.name())) {
                throw OipException.badRequest("route '" + call.policy.name() + "' has no output '" + output.name()
                        + "'; its outputs are " + call.signature.metadata().outputs().stream()
                        .map(t -> t.name() + " (" + t.datatype() + " " + java.util.Arrays.toString(t.shape()) + ")")
                        .collect(java.util.stream.Collectors.joining(", ")));
            }
        }
    }

    // ------------------------------------------------------------------------------ pipeline

    private Mono<Answer> pipeline(Call call) {
        Decision before = call.route.beforeEdge(call.facts);
        return switch (before.action()) {
            case REJECT -> Mono.just(rejection(call, before.reason()));
            case GO_CLOUD -> toCloud(call, call.body, call.jsonLength, before.reason(), null);
            default -> runEdge(call, before);
        };
    }

    private Mono<Answer> runEdge(Call call, Decision before) {
        RoutePolicy.Stage stage = call.policy.edge();
        byte[] body = call.body;
        int jsonLength = call.jsonLength;
        if (call.policy.kind().split() && !call.request.outputs().isEmpty() && !asksFor(call.request, stage.tensor())) {
            // the cloud stage needs the edge's tensor even when the client did not ask for it
            List<InferRequest.RequestedOutput> outputs = new ArrayList<>(call.request.outputs());
            outputs.add(new InferRequest.RequestedOutput(stage.tensor(), Map.of(OipCodec.BINARY_DATA, true)));
            InferRequest full = codec.decodeRequest(call.body, call.jsonLength);
            OipCodec.Encoded encoded = codec.encodeRequest(new InferRequest(full.id(), full.parameters(), full.inputs(),
                    outputs), true);
            body = encoded.body();
            jsonLength = encoded.jsonLength();
        }
        return edge.infer(stage.model(), stage.version(), body, jsonLength, call.deadlineNanos)
                .map(attempt -> (Object) attempt.response())
                .onErrorResume(Orchestrator::tierFailure, Mono::just)
                .flatMap(result -> result instanceof WorkerResponse response ? afterEdge(call, before, response)
                        : edgeFailed(call, (Throwable) result));
    }

    private Mono<Answer> afterEdge(Call call, Decision before, WorkerResponse response) {
        if (!response.ok()) {
            return Mono.just(passThrough(call, response, Tier.EDGE)); // the request's own fault
        }
        InferResponse edgeAnswer = codec.decodeResponse(response.body(), response.jsonLength());
        EdgeOutcome outcome = outcomeOf(edgeAnswer.parameters());
        call.costUsd += call.route.charge(call.tenant, Tier.EDGE, call.body.length);
        Decision after = call.route.afterEdge(call.facts, before, outcome, call.elapsedMillis());
        return switch (after.action()) {
            case ESCALATE -> {
                OipCodec.Encoded cloudRequest = cloudRequestAfter(call, edgeAnswer);
                yield toCloud(call, cloudRequest.body(), cloudRequest.jsonLength(), after.reason(),
                        new EdgeAnswer(edgeAnswer, outcome));
            }
            case REJECT -> Mono.just(rejection(call, after.reason()));
            default -> {
                if (after.shadow()) {
                    shadow(call, outcome);
                }
                yield Mono.just(answer(call, edgeAnswer, Tier.EDGE, after.reason(), outcome.confidence(), false));
            }
        };
    }

    private Mono<Answer> edgeFailed(Call call, Throwable failure) {
        call.edgeFailure = failure;
        Decision decision = call.route.edgeFailed(call.facts, call.elapsedMillis());
        log.debug("edge tier failed for route {}: {}", call.policy.name(), failure.toString());
        if (decision.action() == Action.GO_CLOUD) {
            // the full model answers: not degraded, only dearer (the reason says why)
            return toCloud(call, call.body, call.jsonLength, Reason.EDGE_UNAVAILABLE, null);
        }
        if (decision.reason() == Reason.EDGE_UNAVAILABLE) {
            return Mono.just(error(call, failure instanceof TimeoutException ? 504 : 503, Reason.EDGE_UNAVAILABLE,
                    "the edge tier is unavailable: " + describe(failure)));
        }
        return Mono.just(rejection(call, decision.reason()));
    }

    /** The edge stage's answer, kept while the cloud is asked, to fall back on. */
    private record EdgeAnswer(InferResponse response, EdgeOutcome outcome) {
    }

    private Mono<Answer> toCloud(Call call, byte[] body, int jsonLength, Reason reason, EdgeAnswer fallback) {
        RoutePolicy.Stage stage = call.policy.cloud();
        long started = System.nanoTime();
        return cloud.infer(stage.model(), stage.version(), body, jsonLength, call.deadlineNanos)
                .map(attempt -> {
                    call.route.recordCloudLatency(attempt.millis());
                    WorkerResponse response = attempt.response();
                    if (!response.ok()) {
                        return passThrough(call, response, Tier.CLOUD);
                    }
                    InferResponse cloudAnswer = codec.decodeResponse(response.body(), response.jsonLength());
                    call.costUsd += call.route.charge(call.tenant, Tier.CLOUD, body.length);
                    return answer(call, cloudAnswer, Tier.CLOUD, reason, confidenceOf(cloudAnswer.parameters()), false);
                })
                .onErrorResume(Orchestrator::tierFailure, failure -> {
                    if (failure instanceof TimeoutException) {
                        // the cloud took at least the time left; count it as a whole deadline, so that the
                        // estimate stops the next requests from waiting out the same deadline
                        double waited = (System.nanoTime() - started) / 1e6;
                        call.route.recordCloudLatency(Math.max(waited, call.route.deadlineMillis(call.facts)));
                    }
                    return cloudFailed(call, failure, fallback);
                });
    }

    private Mono<Answer> cloudFailed(Call call, Throwable failure, EdgeAnswer fallback) {
        log.debug("cloud tier failed for route {}: {}", call.policy.name(), failure.toString());
        if (fallback != null) {
            return Mono.just(answer(call, fallback.response(), Tier.EDGE, Reason.CLOUD_UNAVAILABLE,
                    fallback.outcome().confidence(), true));
        }
        if (call.edgeFailure != null) {
            return Mono.just(error(call, 503, Reason.CLOUD_UNAVAILABLE, "both tiers are unavailable: edge: "
                    + describe(call.edgeFailure) + "; cloud: " + describe(failure)));
        }
        if (call.policy.kind().usesEdge() && !call.policy.kind().split()) {
            // the edge was skipped (a hard request, or the client asked for the cloud): it answers now
            return edge.infer(call.policy.edge().model(), call.policy.edge().version(), call.body, call.jsonLength,
                            call.deadlineNanos)
                    .map(attempt -> {
                        WorkerResponse response = attempt.response();
                        if (!response.ok()) {
                            return passThrough(call, response, Tier.EDGE);
                        }
                        InferResponse edgeAnswer = codec.decodeResponse(response.body(), response.jsonLength());
                        call.costUsd += call.route.charge(call.tenant, Tier.EDGE, call.body.length);
                        return answer(call, edgeAnswer, Tier.EDGE, Reason.CLOUD_UNAVAILABLE,
                                outcomeOf(edgeAnswer.parameters()).confidence(), true);
                    })
                    .onErrorResume(Orchestrator::tierFailure, edgeFailure -> Mono.just(error(call, 503,
                            Reason.CLOUD_UNAVAILABLE, "both tiers are unavailable: cloud: " + describe(failure)
                                    + "; edge: " + describe(edgeFailure))));
        }
        return Mono.just(error(call, failure instanceof TimeoutException ? 504 : 503, Reason.CLOUD_UNAVAILABLE,
                "the cloud tier is unavailable: " + describe(failure)));
    }

    /** What the cloud stage receives: the request itself, or on split routes the edge's tensor under the cloud's input name. */
    private OipCodec.Encoded cloudRequestAfter(Call call, InferResponse edgeAnswer) {
        if (!call.policy.kind().split()) {
            return new OipCodec.Encoded(call.body, call.jsonLength);
        }
        String handed = call.policy.edge().tensor();
        Tensor tensor = edgeAnswer.outputs().stream().filter(t -> t.name().equals(handed)).findFirst()
                .orElseThrow(() -> new OipException(502, "the edge model " + call.policy.edge().model()
                        + " returned no output '" + handed + "' for route " + call.policy.name()
                        + " (edge.output in " + call.policy.source().getFileName() + ")"));
        List<InferRequest.RequestedOutput> outputs = call.request.outputs().stream()
                .filter(o -> !o.name().equals(handed)).toList();
        InferRequest request = new InferRequest(call.request.id(), call.request.parameters(),
                List.of(tensor.withName(call.policy.cloud().tensor()).withParameters(Map.of())), outputs);
        return codec.encodeRequest(request, true);
    }

    // -------------------------------------------------------------------------- escalations

    private Mono<Answer> escalation(Call call) {
        Decision decision = call.route.escalationFromEdge(call.facts, reasonOf(call.request.parameters()),
                call.elapsedMillis());
        return switch (decision.action()) {
            case ESCALATE -> toCloud(call, call.body, call.jsonLength, decision.reason(), null);
            case REJECT -> Mono.just(rejection(call, decision.reason()));
            // no cloud stage, the deadline or the budget says no: the agent answers with its own result
            default -> Mono.just(error(call, switch (decision.reason()) {
                case DEADLINE_TOO_TIGHT -> 504;
                case BUDGET_EXHAUSTED -> 429;
                default -> 409;
            }, decision.reason(), "escalation declined (" + decision.reason().code() + "): answer at the edge"));
        };
    }

    // ------------------------------------------------------------------------------ shadow

    private void shadow(Call call, EdgeOutcome outcome) {
        RoutePolicy.Stage stage = call.policy.cloud();
        long deadline = System.nanoTime() + call.route.deadlineMillis(call.facts) * 1_000_000;
        String route = call.policy.name();
        cloud.infer(stage.model(), stage.version(), call.body, call.jsonLength, deadline)
                .subscribe(attempt -> {
                    call.route.recordCloudLatency(attempt.millis());
                    if (!attempt.response().ok()) {
                        metrics.shadow(route, "failed");
                        return;
                    }
                    call.route.charge(call.tenant, Tier.CLOUD, call.body.length);
                    InferResponse cloudAnswer = codec.decodeResponse(attempt.response().body(),
                            attempt.response().jsonLength());
                    Object cloudLabel = cloudAnswer.parameters().get(LABEL);
                    metrics.shadow(route, cloudLabel != null && cloudLabel.toString().equals(outcome.label())
                            ? "agreed" : "disagreed");
                }, failure -> metrics.shadow(route, "failed"));
    }

    // ----------------------------------------------------------------------------- answers

    private Answer answer(Call call, InferResponse response, Tier tier, Reason reason, Double confidence,
                          boolean degraded) {
        Map<String, Object> parameters = new LinkedHashMap<>(response.parameters());
        parameters.put(TIER, tier.wire());
        parameters.put(REASON, reason.code());
        if (confidence != null) {
            parameters.put(CONFIDENCE, confidence);
        }
        parameters.put(COST, roundedCost(call.costUsd));
        parameters.put(DEGRADED, degraded);
        List<Tensor> outputs = response.outputs();
        if (call.request.outputs().isEmpty() && call.signature != null && !call.signature.outputs().isEmpty()) {
            // none named: all of the route's, the same set whichever tier answered
            outputs = outputs.stream().filter(t -> call.signature.outputs().contains(t.name())).toList();
        } else if (tier == Tier.EDGE && call.policy.kind().split() && !asksFor(call.request, call.policy.edge().tensor())) {
            String internal = call.policy.edge().tensor();
            outputs = outputs.stream().filter(t -> !t.name().equals(internal)).toList();
        }
        InferResponse out = new InferResponse(call.policy.name(), null, call.request.id(), parameters, outputs);
        OipCodec.Encoded encoded = codec.encodeResponse(out, call.answerFor);
        return new Answer(200, encoded.body(), encoded.jsonLength(),
                headers(tier, reason, confidence, call.costUsd, degraded));
    }

    /**
     * A worker's refusal of the request itself (4xx), passed on; an OIP error naming the stage's
     * model names the route instead, which is all the client knows.
     */
    private Answer passThrough(Call call, WorkerResponse response, Tier tier) {
        byte[] body = response.body();
        String message = response.jsonLength() < 0 ? codec.decodeError(body) : null;
        if (message != null) {
            String model = "model '" + call.policy.stage(tier).model() + "'";
            if (message.contains(model)) {
                body = codec.encodeError(message.replace(model, "route '" + call.policy.name() + "'"));
            }
        }
        return new Answer(response.status(), body, response.jsonLength(),
                Map.of("Hybridge-Tier", tier.wire(), "Hybridge-Cost-Usd", Double.toString(roundedCost(call.costUsd))));
    }

    private Answer rejection(Call call, Reason reason) {
        return switch (reason) {
            case BUDGET_EXHAUSTED -> error(call, 429, reason, "the budget of tenant '" + call.tenant
                    + "' for this window is spent (spent " + String.format(java.util.Locale.ROOT, "%.4f",
                    call.route.spentUsd(call.tenant)) + " USD)");
            case NOT_ALLOWED -> error(call, 403, reason, "tenant '" + call.tenant + "' may not ask for "
                    + ROUTE + "=" + call.facts.requested().wire() + " on route " + call.policy.name()
                    + " (a " + call.policy.kind().wire() + " route)");
            case DEADLINE_TOO_TIGHT -> error(call, 504, reason, "the cloud cannot answer within the deadline of "
                    + call.route.deadlineMillis(call.facts) + " ms (estimate "
                    + Math.round(call.route.cloudLatencyEstimateMillis()) + " ms)");
            default -> error(call, 503, reason, "no tier can answer: " + reason.code());
        };
    }

    private Answer error(Call call, int status, Reason reason, String message) {
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put("Hybridge-Reason", reason.code());
        headers.put("Hybridge-Cost-Usd", Double.toString(roundedCost(call.costUsd)));
        return new Answer(status, codec.encodeError(message), -1, headers);
    }

    private static Map<String, String> headers(Tier tier, Reason reason, Double confidence, double cost,
                                               boolean degraded) {
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put("Hybridge-Tier", tier.wire());
        headers.put("Hybridge-Reason", reason.code());
        if (confidence != null) {
            headers.put("Hybridge-Confidence", Double.toString(confidence));
        }
        headers.put("Hybridge-Cost-Usd", Double.toString(roundedCost(cost)));
        headers.put("Hybridge-Degraded", Boolean.toString(degraded));
        return headers;
    }

    /** Costs to the nano-dollar: sums of per-request and per-megabyte prices carry binary noise. */
    private static double roundedCost(double usd) {
        return Math.round(usd * 1e9) / 1e9;
    }

    // ------------------------------------------------------------------------------- facts

    private static RequestFacts facts(String tenant, OipCodec.RequestHeader request, long inputBytes) {
        Map<String, Object> parameters = request.parameters();
        RequestedRoute requested = RequestedRoute.AUTO;
        Object route = parameters.get(ROUTE);
        if (route != null) {
            requested = RequestedRoute.fromWire(String.valueOf(route)).orElseThrow(() -> OipException.badRequest(
                    ROUTE + " must be auto, edge or cloud but was " + describeValue(route)));
        }
        long deadline = 0;
        Object deadlineValue = parameters.get(DEADLINE_MS);
        if (deadlineValue != null) {
            if (!(deadlineValue instanceof Long d) || d < 1 || d > MAX_DEADLINE_MS) {
                throw OipException.badRequest(DEADLINE_MS + " must be a whole number of milliseconds from 1 to "
                        + MAX_DEADLINE_MS + " but was " + describeValue(deadlineValue));
            }
            deadline = d;
        }
        Object device = parameters.get(DEVICE);
        Map<String, long[]> shapes = new LinkedHashMap<>();
        for (dev.hybridge.oip.TensorSpec input : request.inputs()) {
            shapes.put(input.name(), input.shape());
        }
        return new RequestFacts(tenant, device == null ? "" : String.valueOf(device), parameters, shapes, inputBytes,
                requested, deadline);
    }

    /** The edge's outcome from response (or escalation) parameters; a model without scores counts as unsure. */
    private static EdgeOutcome outcomeOf(Map<String, Object> parameters) {
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

    private static boolean asksFor(OipCodec.RequestHeader request, String output) {
        return request.outputs().stream().anyMatch(o -> o.name().equals(output));
    }

    /** Failures of a tier (as opposed to faults of this program), which lead to a fallback. */
    private static boolean tierFailure(Throwable e) {
        return e instanceof WorkerFailure || e instanceof TimeoutException || e instanceof CallNotPermittedException
                || e instanceof BulkheadFullException || e instanceof NoWorkerException;
    }

    private static String describe(Throwable e) {
        if (e instanceof TimeoutException) {
            return "no answer in time";
        }
        if (e instanceof CallNotPermittedException) {
            return "circuit breaker open";
        }
        if (e instanceof BulkheadFullException) {
            return "too many calls in flight (bulkhead full)";
        }
        return e.getMessage();
    }

    private static String describeValue(Object value) {
        return value instanceof String s ? "\"" + s + "\"" : String.valueOf(value);
    }
}
