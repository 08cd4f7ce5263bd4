package dev.hybridge.policy.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.hybridge.oip.Datatype;
import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.InferResponse;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.OipException;
import dev.hybridge.oip.Tensor;
import dev.hybridge.oip.TensorSpec;
import dev.hybridge.policy.PolicyEngine;
import dev.hybridge.policy.PolicyLoader;
import dev.hybridge.policy.Reason;
import dev.hybridge.policy.SpendLedger;
import dev.hybridge.policy.Tier;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every routing rule and fallback of the runtime, against fake tiers and hand-moved time: no
 * sockets, no sleeping.
 */
class RouteRuntimeTest {

    @TempDir
    Path folder;

    final ManualTime time = new ManualTime();
    final OipCodec codec = new OipCodec();
    final FakeTier edge = FakeTier.edge();
    final FakeTier cloud = FakeTier.cloud();
    final List<RouteOutcome> answered = new ArrayList<>();
    final List<String> shadows = new ArrayList<>();
    PolicyEngine policies;
    RouteRuntime runtime;

    @BeforeEach
    void start() throws IOException {
        write("digits", """
                version: 1
                kind: cascade
                edge: {model: digits-edge}
                cloud: {model: digits-cloud}
                hard-when: '"hard" in parameters && parameters["hard"] == true'
                threshold: {value: 0.5}
                deadline: 500ms
                cloud-latency: {initial: 50ms, window: 5}
                cost:
                  edge: {per-request-usd: 0.0001}
                  cloud: {per-request-usd: 0.001}
                """);
        write("split", """
                version: 1
                kind: split-early-exit
                edge: {model: digits-edge, output: embedding}
                cloud: {model: digits-head, input: features}
                threshold: {value: 0.5}
                cloud-latency: {initial: 10ms}
                """);
        write("plainsplit", """
                version: 1
                kind: split
                edge: {model: digits-edge, output: embedding}
                cloud: {model: digits-head, input: features}
                cloud-latency: {initial: 10ms}
                """);
        write("shadow", """
                version: 1
                kind: shadow
                edge: {model: digits-edge}
                cloud: {model: digits-cloud}
                shadow: {sample-rate: 1.0}
                cloud-latency: {initial: 10ms}
                """);
        write("local", """
                version: 1
                kind: edge-only
                edge: {model: digits-edge}
                """);
        write("tenants", """
                version: 1
                default: {allow: [auto, edge, cloud]}
                tenants:
                  edge-only: {allow: [auto, edge]}
                  frugal: {budget-usd: 0.0012, when-spent: reject, allow: [auto, edge, cloud]}
                  thrifty: {budget-usd: 0.0012, when-spent: edge-only, allow: [auto, edge, cloud]}
                """);
        policies = new PolicyEngine(time, new PolicyLoader(), SpendLedger.inMemory(time));
        assertThat(policies.reload(folder).problems()).isEmpty();
        runtime = new RouteRuntime(policies, edge, cloud, codec, time, time, new RouteRuntime.Listener() {
            @Override
            public void answered(RouteOutcome outcome, long nanos) {
                answered.add(outcome);
            }

            @Override
            public void shadow(String route, RouteRuntime.ShadowResult result) {
                shadows.add(route + ":" + result.wire());
            }
        });
    }

    void write(String name, String yaml) throws IOException {
        Files.writeString(folder.resolve(name + ".yaml"), yaml);
    }

    /** A refusal for overload tells the client to wait between retry-after (1s here) and twice it. */
    static void assertRetryAfter(RouteAnswer answer) {
        assertThat(answer.outcome().headers()).containsKey("Retry-After");
        assertThat(Long.parseLong(answer.outcome().headers().get("Retry-After"))).isBetween(1L, 2L);
    }

    @Test
    void refusalsSpreadTheirRetryAfterSoThatClientsRefusedTogetherDoNotReturnTogether() {
        java.util.Set<String> said = new java.util.TreeSet<>();
        for (int i = 0; i < 200; i++) {
            RouteAnswer refused = runtime.refusedForLoad("digits", "overloaded: test");
            said.add(refused.outcome().headers().get("Retry-After"));
        }
        assertThat(said).containsExactly("1", "2");
    }

    static InferRequest request(Map<String, Object> parameters, List<String> outputs) {
        return new InferRequest("r-1", parameters,
                List.of(new Tensor("audio", Datatype.FP32, new long[] {1, 4}, new float[] {0.1f, 0.2f, 0.3f, 0.4f})),
                outputs.stream().map(o -> new InferRequest.RequestedOutput(o, Map.of())).toList());
    }

    CompletableFuture<RouteAnswer> send(String route, String tenant, Map<String, Object> parameters, List<String> outputs) {
        return runtime.infer(route, tenant, codec.encodeRequest(request(parameters, outputs), false).body(), -1);
    }

    RouteAnswer run(String route, Map<String, Object> parameters) {
        return send(route, "acme", parameters, List.of()).join();
    }

    RouteAnswer run(String route) {
        return run(route, Map.of());
    }

    InferResponse ok(RouteAnswer answer) {
        assertThat(answer.outcome().status()).as(new String(answer.body())).isEqualTo(200);
        return codec.decodeResponse(answer.body(), answer.jsonLength());
    }

    String error(RouteAnswer answer) {
        return codec.decodeError(answer.body());
    }

    static RouteOutcome outcome(String route, Tier tier, Reason reason, Double confidence, double cost, boolean degraded,
                                int status) {
        return new RouteOutcome(route, tier, reason, confidence, cost, degraded, status);
    }

    // ------------------------------------------------------------------------------- cascade

    @Test
    void aConfidentEdgeAnswersAndTheAnswerSaysWhereAndWhy() {
        edge.answering(0.9, "7");
        RouteAnswer answer = run("digits");
        assertThat(answer.outcome()).isEqualTo(outcome("digits", Tier.EDGE, Reason.CONFIDENT, 0.9, 0.0001, false, 200));
        InferResponse response = ok(answer);
        assertThat(response.modelName()).isEqualTo("digits");
        assertThat(response.id()).isEqualTo("r-1");
        assertThat(response.parameters()).containsEntry("hybridge.tier", "edge").containsEntry("hybridge.reason", "confident")
                .containsEntry("hybridge.cost_usd", 0.0001).containsEntry("hybridge.degraded", false)
                .containsEntry("hybridge.label", "7");
        assertThat(answer.outcome().headers()).containsEntry("Hybridge-Tier", "edge")
                .containsEntry("Hybridge-Reason", "confident").containsEntry("Hybridge-Confidence", "0.9")
                .containsEntry("Hybridge-Cost-Usd", "1.0E-4").containsEntry("Hybridge-Degraded", "false");
        assertThat(cloud.calls()).isZero();
        assertThat(answered).containsExactly(answer.outcome());
    }

    @Test
    void aRequestNamingNoOutputsAsksTheEdgeForTheRoutesOutputsAsBinaryAndIsAnsweredAsItAsked() {
        edge.answering(0.9, "7");
        RouteAnswer answer = run("digits");
        // the edge model also has an embedding (for split routes), which a cascade never answers with
        assertThat(edge.requests().get(0).outputs()).singleElement().satisfies(output -> {
            assertThat(output.name()).isEqualTo("probs");
            assertThat(output.parameters()).containsEntry(OipCodec.BINARY_DATA, true);
        });
        assertThat(edge.requests().get(0).inputs()).extracting(Tensor::name).containsExactly("audio");
        assertThat(answer.jsonLength()).as("all JSON, as the client asked").isEqualTo(-1);
        assertThat(ok(answer).outputs()).extracting(Tensor::name).containsExactly("probs");
    }

    @Test
    void aDevicesProfileIsLearnedFromItsEdgeAnswersAndSentWithItsEscalations() throws IOException {
        write("voice", """
                version: 1
                kind: cascade
                edge: {model: digits-edge}
                cloud: {model: digits-cloud}
                threshold: {value: 0.5}
                cloud-latency: {initial: 10ms}
                device-profile: {from: clip_profile, to: voice_profile, window: 3}
                """);
        assertThat(policies.reload(folder).problems()).isEmpty();
        FakeTier local = new FakeTier(List.of(new TensorSpec("probs", Datatype.FP32, new long[] {-1, 2}),
                new TensorSpec("clip_profile", Datatype.FP32, new long[] {-1, 3}))).local();
        DeviceProfiles.Running profiles = DeviceProfiles.inMemory();
        runtime = new RouteRuntime(policies, local, cloud, codec, time, time, RouteRuntime.Listener.NONE, null, null,
                Admission.none(), profiles);
        // answered at the edge: the profile is learned, and it is the device's, not the client's
        local.answering(0.9, "7").giving("clip_profile", 1, 2, 3);
        assertThat(ok(run("voice")).outputs()).extracting(Tensor::name).containsExactly("probs");
        assertThat(local.namedBeside().get(0)).containsExactly("probs", "clip_profile");
        assertThat(cloud.requests()).isEmpty();
        // escalated: the cloud gets the request with the mean so far, this answer's row included
        local.answering(0.2, "1").giving("clip_profile", 3, 4, 5);
        cloud.answering(0.9, "4");
        assertThat(ok(run("voice")).outputs()).extracting(Tensor::name).containsExactly("probs");
        InferRequest escalated = cloud.requests().get(0);
        assertThat(escalated.inputs()).extracting(Tensor::name).containsExactly("audio", "voice_profile");
        assertThat(escalated.inputs().get(1).shape()).containsExactly(1, 3);
        assertThat((float[]) escalated.inputs().get(1).data()).containsExactly(2, 3, 4);
        // a client that names outputs: the edge is asked for the profile too, the client gets what it named
        local.answering(0.9, "7").giving("clip_profile", 8, 9, 10);
        assertThat(ok(send("voice", "acme", Map.of(), List.of("probs")).join()).outputs()).extracting(Tensor::name)
                .containsExactly("probs");
        assertThat(local.requests().get(2).outputs()).extracting(InferRequest.RequestedOutput::name)
                .containsExactly("probs", "clip_profile");
        // the mean of the three rows so far (the window holds three: a fourth would weigh a third)
        assertThat(profiles.current("voice")).containsExactly(4, 5, 6);
        // a request claiming rows its data does not hold is not given a profile for each of them
        local.answering(0.2, "1");
        Tensor empty = new Tensor("audio", Datatype.FP32, new long[] {50_000_000, 0}, new float[0]);
        runtime.infer("voice", "acme", codec.encodeRequest(new InferRequest("huge", Map.of(), List.of(empty), List.of()),
                false).body(), -1).join();
        assertThat(cloud.requests().get(cloud.requests().size() - 1).inputs()).extracting(Tensor::name)
                .containsExactly("audio");
        // a runtime that keeps no profiles (the gateway's) sends the request as it came
        runtime = new RouteRuntime(policies, local, cloud, codec, time, time, RouteRuntime.Listener.NONE);
        local.answering(0.2, "1");
        ok(run("voice"));
        assertThat(cloud.requests().get(cloud.requests().size() - 1).inputs()).extracting(Tensor::name)
                .containsExactly("audio");
        assertThat(local.namedBeside().get(local.namedBeside().size() - 1)).containsExactly("probs");
    }

    @Test
    void anEdgeInThisProcessGetsTheRequestAsItCameWithTheRoutesOutputsNamedBesideButASplitsTensorIsStillAskedFor() {
        FakeTier local = FakeTier.edge().local().answering(0.9, "7");
        runtime = new RouteRuntime(policies, local, cloud, codec, time, time, RouteRuntime.Listener.NONE);
        assertThat(ok(run("digits")).outputs()).extracting(Tensor::name).containsExactly("probs");
        // not written again; the edge is told beside it that the cascade needs only its probabilities
        assertThat(local.requests().get(0).outputs()).isEmpty();
        assertThat(local.namedBeside().get(0)).containsExactly("probs");
        local.answering(0.2, "1");
        cloud.answering(0.9, "4");
        send("split", "acme", Map.of(), List.of("probs")).join();
        assertThat(local.requests().get(1).outputs()).extracting(InferRequest.RequestedOutput::name)
                .containsExactly("probs", "embedding");
    }

    @Test
    void aRequestNamingOutputsGoesToTheEdgeAsItCame() {
        edge.answering(0.9, "7");
        ok(send("digits", "acme", Map.of(), List.of("probs")).join());
        assertThat(edge.requests().get(0).outputs()).singleElement().satisfies(output -> {
            assertThat(output.name()).isEqualTo("probs");
            assertThat(output.parameters()).doesNotContainKey(OipCodec.BINARY_DATA);
        });
    }

    @Test
    void anUnsureEdgeEscalatesAndTheCloudAnswersAndItsRoundTripIsCounted() {
        edge.answering(0.3, "1");
        cloud.answering(0.95, "4").taking(400);
        RouteAnswer answer = run("digits");
        assertThat(answer.outcome()).isEqualTo(outcome("digits", Tier.CLOUD, Reason.LOW_CONFIDENCE, 0.95, 0.0011, false,
                200));
        assertThat(ok(answer).parameters()).containsEntry("hybridge.label", "4");
        assertThat(policies.route("digits").cloudLatencyEstimateMillis()).isEqualTo(400);
    }

    @Test
    void aRuleMarksARequestHardAndTheEdgeIsSkipped() {
        cloud.answering(0.95, "4");
        RouteAnswer answer = run("digits", Map.of("hard", true));
        assertThat(answer.outcome().tier()).isEqualTo(Tier.CLOUD);
        assertThat(answer.outcome().reason()).isEqualTo(Reason.HARD_BY_RULE);
        assertThat(edge.calls()).isZero();
    }

    @Test
    void theClientAsksForATierWithinItsTenantsRights() {
        edge.answering(0.1, "1");
        assertThat(run("digits", Map.of("hybridge.route", "cloud")).outcome().reason()).isEqualTo(Reason.CLIENT_ASKED);
        RouteAnswer atEdge = run("digits", Map.of("hybridge.route", "edge"));
        assertThat(atEdge.outcome().tier()).as("an unsure edge stays, as asked").isEqualTo(Tier.EDGE);
        RouteAnswer refused = send("digits", "edge-only", Map.of("hybridge.route", "cloud"), List.of()).join();
        assertThat(refused.outcome()).isEqualTo(outcome("digits", null, Reason.NOT_ALLOWED, null, 0, false, 403));
        assertThat(error(refused)).isEqualTo("tenant 'edge-only' may not ask for hybridge.route=cloud on route digits"
                + " (a cascade route)");
        assertThatThrownBy(() -> run("digits", Map.of("hybridge.route", "gpu")))
                .hasCauseInstanceOf(OipException.class).hasMessageContaining("hybridge.route must be auto, edge or cloud");
    }

    @Test
    void whenTheCloudCannotAnswerInTimeTheEdgeAnswerStands() {
        cloud.answering(0.9, "1").taking(900); // one slow round trip makes the estimate (window 5) too slow
        edge.answering(0.3, "1");
        run("digits");
        RouteAnswer answer = run("digits");
        assertThat(answer.outcome()).isEqualTo(outcome("digits", Tier.EDGE, Reason.DEADLINE_TOO_TIGHT, 0.3, 0.0001,
                false, 200));
        assertThat(cloud.calls()).isEqualTo(1);
        // a request with a longer deadline of its own still goes
        assertThat(run("digits", Map.of("hybridge.deadline_ms", 2000L)).outcome().tier()).isEqualTo(Tier.CLOUD);
    }

    @Test
    void aSpentBudgetRejectsOrKeepsTheEdgeAsTheTenantSays() {
        edge.answering(0.3, "1");
        assertThat(send("digits", "frugal", Map.of(), List.of()).join().outcome().tier()).isEqualTo(Tier.CLOUD);
        RouteAnswer rejected = send("digits", "frugal", Map.of(), List.of()).join();
        assertThat(rejected.outcome().status()).isEqualTo(429);
        assertThat(rejected.outcome().reason()).isEqualTo(Reason.BUDGET_EXHAUSTED);
        assertThat(error(rejected)).startsWith("the budget of tenant 'frugal' for this window is spent");
        send("digits", "thrifty", Map.of(), List.of()).join();
        RouteAnswer kept = send("digits", "thrifty", Map.of(), List.of()).join();
        assertThat(kept.outcome().tier()).isEqualTo(Tier.EDGE);
        assertThat(kept.outcome().reason()).isEqualTo(Reason.BUDGET_EXHAUSTED);
    }

    // ----------------------------------------------------------------------------- fallbacks

    @Test
    void whenTheCloudFailsIsOpenOrTimesOutTheEdgeAnswerStandsDegraded() {
        edge.answering(0.3, "1");
        for (TierFailure.Kind kind : List.of(TierFailure.Kind.UNREACHABLE, TierFailure.Kind.FAILED,
                TierFailure.Kind.CIRCUIT_OPEN, TierFailure.Kind.BUSY)) {
            cloud.failing(kind);
            RouteAnswer answer = run("digits");
            // a cloud that sheds load says so: overloaded, not unavailable
            assertThat(answer.outcome()).as(kind.name()).isEqualTo(outcome("digits", Tier.EDGE,
                    kind == TierFailure.Kind.BUSY ? Reason.OVERLOADED : Reason.CLOUD_UNAVAILABLE, 0.3, 0.0001, true, 200));
            assertThat(ok(answer).parameters()).containsEntry("hybridge.degraded", true);
        }
    }

    // ------------------------------------------------------------------------------ overload

    @Test
    void anOverloadedEdgeIsRefusedWithRetryAfterAndSpendsNoCloudBudget() {
        edge.failing(TierFailure.Kind.BUSY);
        cloud.answering(0.9, "4");
        RouteAnswer answer = run("digits");
        assertThat(answer.outcome()).usingRecursiveComparison().ignoringFields("retryAfterSeconds")
                .isEqualTo(new RouteOutcome("digits", null, Reason.OVERLOADED, null, 0, false, 503, null, 1));
        assertRetryAfter(answer);
        assertThat(answer.outcome().headers()).containsEntry("Hybridge-Reason", "overloaded");
        assertThat(error(answer)).startsWith("the edge tier is overloaded, try again later");
        assertThat(cloud.calls()).isZero();
        assertThat(policies.spentUsd("acme")).isZero();
    }

    @Test
    void aRouteCanSendWhatAnOverloadedEdgeShedsToTheCloud() throws IOException {
        write("digits", Files.readString(folder.resolve("digits.yaml")) + "cloud-on-edge-overload: true\n");
        assertThat(policies.reload(folder).problems()).isEmpty();
        edge.failing(TierFailure.Kind.BUSY);
        cloud.answering(0.9, "4");
        RouteAnswer answer = run("digits");
        assertThat(answer.outcome().tier()).isEqualTo(Tier.CLOUD);
        assertThat(answer.outcome().reason()).isEqualTo(Reason.EDGE_UNAVAILABLE);
        assertThat(cloud.calls()).isEqualTo(1);
    }

    @Test
    void aFailedEdgeWithTheBudgetSpentIsUnavailableNotABudgetRefusal() {
        edge.answering(0.3, "1");
        cloud.answering(0.9, "4");
        send("digits", "thrifty", Map.of(), List.of()).join(); // escalated: thrifty's budget is spent
        edge.failing(TierFailure.Kind.UNREACHABLE);
        RouteAnswer answer = send("digits", "thrifty", Map.of(), List.of()).join();
        assertThat(answer.outcome().status()).isEqualTo(503);
        assertThat(answer.outcome().reason()).isEqualTo(Reason.EDGE_UNAVAILABLE);
        assertThat(error(answer)).contains("budget");
    }

    @Test
    void aCloudOnlyRouteWhoseCloudShedsLoadIsRefusedWithRetryAfter() throws IOException {
        write("big", "version: 1\nkind: cloud-only\ncloud: {model: digits-cloud}\n");
        assertThat(policies.reload(folder).problems()).isEmpty();
        cloud.failing(TierFailure.Kind.BUSY);
        RouteAnswer answer = run("big");
        assertThat(answer.outcome().status()).isEqualTo(503);
        assertThat(answer.outcome().reason()).isEqualTo(Reason.OVERLOADED);
        assertRetryAfter(answer);
        cloud.failing(TierFailure.Kind.UNREACHABLE);
        RouteAnswer down = run("big");
        assertThat(down.outcome().reason()).isEqualTo(Reason.CLOUD_UNAVAILABLE);
        assertThat(down.outcome().headers()).doesNotContainKey("Retry-After");
    }

    @Test
    void aRequestTheCloudCannotAnswerInTimeIsRefusedAtOnceNot504() throws IOException {
        write("big", "version: 1\nkind: cascade\nedge: {model: digits-edge}\ncloud: {model: digits-cloud}\n"
                + "cloud-latency: {initial: 800ms}\ndeadline: 500ms\n");
        assertThat(policies.reload(folder).problems()).isEmpty();
        edge.failing(TierFailure.Kind.UNREACHABLE);
        RouteAnswer answer = run("big");
        assertThat(answer.outcome().status()).isEqualTo(503);
        assertThat(answer.outcome().reason()).isEqualTo(Reason.DEADLINE_TOO_TIGHT);
        assertRetryAfter(answer);
        assertThat(cloud.calls()).isZero();
    }

    @Test
    void theDoorRefusesAtOnceOverItsLimitAndKeepsEscalationsTheirShare() {
        runtime = new RouteRuntime(policies, edge, cloud, codec, time, time, RouteRuntime.Listener.NONE, null, null,
                new Admission(new Admission.Settings(true, 4, 4, 4, 1.5, 0.25, Duration.ofMillis(100),
                        Duration.ofSeconds(3)), time));
        edge.answering(0.3, "1");
        cloud.answering(0.9, "4").hanging();
        List<CompletableFuture<RouteAnswer>> open = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            open.add(send("digits", "acme", Map.of(), List.of()));
        }
        assertThat(open).noneMatch(CompletableFuture::isDone);
        assertThat(runtime.admission().door().inFlight()).isEqualTo(4);
        RouteAnswer refused = run("digits");
        assertThat(refused.outcome()).usingRecursiveComparison().ignoringFields("retryAfterSeconds")
                .isEqualTo(new RouteOutcome("digits", null, Reason.OVERLOADED, null, 0, false, 503, null, 3));
        assertThat(refused.outcome().retryAfterSeconds()).as("retry-after 3s, up to twice").isBetween(3L, 6L);
        assertThat(error(refused)).startsWith("overloaded: door (limit 4, 4 in flight) is full for client requests");
        assertThat(edge.calls()).as("refused before any tier was asked").isEqualTo(4);
        assertThat(runtime.admission().door().refused(Admission.Lane.CLIENT)).isEqualTo(1);
        // an edge agent's escalation still has its share (a quarter of the limit)
        CompletableFuture<RouteAnswer> escalation = send("digits", "acme", Map.of("hybridge.escalation", true,
                "hybridge.confidence", 0.2), List.of());
        assertThat(escalation).isNotDone();
        assertThat(run("digits", Map.of("hybridge.escalation", true)).outcome().reason()).isEqualTo(Reason.OVERLOADED);
        assertThat(runtime.admission().door().refused(Admission.Lane.ESCALATION)).isEqualTo(1);
        cloud.release();
        assertThat(open).allMatch(f -> f.join().outcome().status() == 200);
        assertThat(escalation.join().outcome().status()).isEqualTo(200);
        assertThat(runtime.admission().door().inFlight()).isZero();
        cloud.answering(0.9, "4");
        assertThat(run("digits").outcome().status()).as("places given back").isEqualTo(200);
    }

    @Test
    void aFullTierGateRefusesTheCallAtOnce() {
        runtime = new RouteRuntime(policies, edge, cloud, codec, time, time, RouteRuntime.Listener.NONE, null, null,
                new Admission(new Admission.Settings(true, 4, 4, 4, 1.5, 0, Duration.ofMillis(100),
                        Duration.ofSeconds(1)), time));
        edge.answering(0.3, "1");
        cloud.answering(0.9, "4").hanging();
        // shadow samples outlive their requests: four of them fill the cloud's gate, not the door
        for (int i = 0; i < 4; i++) {
            assertThat(run("shadow").outcome().tier()).isEqualTo(Tier.EDGE);
        }
        assertThat(runtime.admission().tier(Tier.CLOUD).inFlight()).isEqualTo(4);
        assertThat(runtime.admission().door().inFlight()).isZero();
        RouteAnswer unsure = run("digits");
        assertThat(unsure.outcome()).isEqualTo(outcome("digits", Tier.EDGE, Reason.OVERLOADED, 0.3, 0.0001, true, 200));
        assertThat(cloud.calls()).as("the call was refused before it was made").isEqualTo(4);
        assertThat(runtime.admission().tier(Tier.CLOUD).refused(Admission.Lane.CLIENT)).isEqualTo(1);
        cloud.release();
        assertThat(runtime.admission().tier(Tier.CLOUD).inFlight()).isZero();
    }

    @Test
    void aCloudTimeoutCountsAsAWholeDeadlineInTheEstimate() {
        edge.answering(0.3, "1");
        cloud.failing(TierFailure.Kind.TIMEOUT);
        assertThat(run("digits").outcome().degraded()).isTrue();
        assertThat(policies.route("digits").cloudLatencyEstimateMillis()).isGreaterThanOrEqualTo(500);
        // so the next unsure request does not wait for the cloud at all
        RouteAnswer next = run("digits");
        assertThat(next.outcome().reason()).isEqualTo(Reason.DEADLINE_TOO_TIGHT);
        assertThat(cloud.calls()).isEqualTo(1);
    }

    @Test
    void whenTheEdgeFailsTheCloudAnswersNotDegraded() {
        edge.failing(TierFailure.Kind.UNREACHABLE);
        cloud.answering(0.9, "2");
        RouteAnswer answer = run("digits");
        assertThat(answer.outcome()).isEqualTo(outcome("digits", Tier.CLOUD, Reason.EDGE_UNAVAILABLE, 0.9, 0.001, false,
                200));
    }

    @Test
    void whenBothTiersFailTheClientGets503NamingBoth() {
        edge.failing(TierFailure.Kind.UNREACHABLE);
        cloud.failing(TierFailure.Kind.CIRCUIT_OPEN);
        RouteAnswer answer = run("digits");
        assertThat(answer.outcome()).isEqualTo(outcome("digits", null, Reason.CLOUD_UNAVAILABLE, null, 0, false, 503));
        assertThat(error(answer)).isEqualTo("both tiers are unavailable: edge: fake UNREACHABLE; cloud: circuit breaker open");
    }

    @Test
    void aCloudAskedFirstThatFailsLeavesTheEdgeToAnswerDegraded() {
        cloud.failing(TierFailure.Kind.FAILED);
        edge.answering(0.6, "5");
        RouteAnswer answer = run("digits", Map.of("hard", true));
        assertThat(answer.outcome()).isEqualTo(outcome("digits", Tier.EDGE, Reason.CLOUD_UNAVAILABLE, 0.6, 0.0001, true,
                200));
        edge.failing(TierFailure.Kind.TIMEOUT);
        RouteAnswer neither = run("digits", Map.of("hard", true));
        assertThat(neither.outcome().status()).isEqualTo(503);
        assertThat(error(neither)).isEqualTo("both tiers are unavailable: cloud: fake FAILED; edge: no answer in time");
    }

    @Test
    void onSplitRoutesAFailedEdgeHasNothingToHandOnAnd503s() {
        edge.failing(TierFailure.Kind.UNREACHABLE);
        RouteAnswer answer = run("plainsplit");
        assertThat(answer.outcome()).isEqualTo(outcome("plainsplit", null, Reason.EDGE_UNAVAILABLE, null, 0, false, 503));
        assertThat(cloud.calls()).isZero();
        edge.failing(TierFailure.Kind.TIMEOUT);
        assertThat(run("plainsplit").outcome().status()).isEqualTo(504);
    }

    @Test
    void aRequestWithNoAnswerInHandAtItsDeadlineGets504() {
        edge.hanging();
        CompletableFuture<RouteAnswer> pending = send("digits", "acme", Map.of(), List.of());
        assertThat(pending).isNotDone();
        time.advance(Duration.ofMillis(549));
        assertThat(pending).isNotDone();
        time.advance(Duration.ofMillis(2));
        RouteAnswer answer = pending.join();
        assertThat(answer.outcome()).isEqualTo(outcome("digits", null, Reason.DEADLINE_TOO_TIGHT, null, 0, false, 504));
        assertThat(error(answer)).isEqualTo("no answer within the deadline of 500 ms");
        edge.release(); // the late reply changes nothing
        assertThat(answered).hasSize(1);
        assertThat(cloud.calls()).isZero();
    }

    /** An escalation record as the gateway keeps one: sendings of a key share a run; a success is kept. */
    static final class Record implements Deduplicator {
        final Map<String, CompletableFuture<RouteAnswer>> runs = new java.util.concurrent.ConcurrentHashMap<>();

        @Override
        public CompletableFuture<RouteAnswer> once(String key, java.util.function.Supplier<CompletableFuture<RouteAnswer>> work) {
            CompletableFuture<RouteAnswer> run = runs.computeIfAbsent(key, k -> work.get());
            run.whenComplete((answer, failure) -> {
                if (failure != null || answer.outcome().status() != 200) {
                    runs.remove(key, run); // not a success: a later sending runs again
                }
            });
            return run;
        }
    }

    @Test
    void anEscalationOthersMayShareRunsOnPastItsSendersDeadlineSoThatItsAnswerIsKeptForTheReplays() {
        Map<String, Object> live = Map.of("hybridge.escalation", true, "hybridge.idempotency_key", "dev-1/r-1",
                "hybridge.deadline_ms", 100L);
        // without a floor: cut at the sender's deadline, nothing kept, and the replay runs the cloud again
        Record record = new Record();
        runtime = new RouteRuntime(policies, edge, cloud, codec, time, time, RouteRuntime.Listener.NONE, null, record,
                Admission.none());
        cloud.answering(0.9, "4").hanging();
        CompletableFuture<RouteAnswer> cut = send("digits", "acme", live, List.of());
        time.advance(Duration.ofMillis(151));
        assertThat(cut.join().outcome().status()).isNotEqualTo(200);
        cloud.release();
        assertThat(cloud.calls()).isEqualTo(1);
        cloud.answering(0.9, "4");
        ok(send("digits", "acme", live, List.of()).join());
        assertThat(cloud.calls()).as("run again").isEqualTo(2);
        // with one: the run goes on past the sender's deadline, its answer is kept, and the replay gets it
        FakeTier slow = FakeTier.cloud().answering(0.9, "4").hanging();
        record = new Record();
        runtime = new RouteRuntime(policies, edge, slow, codec, time, time, RouteRuntime.Listener.NONE, null, record,
                Admission.none(), DeviceProfiles.NONE, Duration.ofSeconds(5));
        CompletableFuture<RouteAnswer> held = send("digits", "acme", live, List.of());
        time.advance(Duration.ofMillis(151));
        assertThat(held).as("past the sender's 100 ms").isNotDone();
        slow.release();
        assertThat(ok(held.join()).parameters()).containsEntry("hybridge.label", "4");
        slow.answering(0.9, "4");
        assertThat(ok(send("digits", "acme", live, List.of()).join()).parameters()).containsEntry("hybridge.label", "4");
        assertThat(slow.calls()).as("one run for both sendings").isEqualTo(1);
        // still bounded: past the floor, the run is cut
        slow.hanging();
        CompletableFuture<RouteAnswer> stuck = send("digits", "acme", Map.of("hybridge.escalation", true,
                "hybridge.idempotency_key", "dev-1/r-2", "hybridge.deadline_ms", 100L), List.of());
        time.advance(Duration.ofMillis(4999));
        assertThat(stuck).isNotDone();
        time.advance(Duration.ofMillis(60));
        assertThat(stuck.join().outcome().status()).isNotEqualTo(200);
    }

    @Test
    void aCloudStillAskedAtTheDeadlineLeavesTheEdgesAnswerStandingDegraded() {
        edge.answering(0.3, "1");
        cloud.hanging();
        CompletableFuture<RouteAnswer> pending = send("digits", "acme", Map.of(), List.of());
        time.advance(Duration.ofMillis(549));
        assertThat(pending).isNotDone();
        time.advance(Duration.ofMillis(2));
        RouteAnswer answer = pending.join();
        assertThat(answer.outcome()).isEqualTo(outcome("digits", Tier.EDGE, Reason.CLOUD_UNAVAILABLE, 0.3, 0.0001, true,
                200));
        assertThat(ok(answer).parameters()).containsEntry("hybridge.label", "1");
        // this program's own lateness may have been the cause: not a sample of the cloud's latency
        assertThat(policies.route("digits").cloudLatencyEstimateMillis()).isEqualTo(50);
        cloud.release(); // the late reply changes nothing
        assertThat(answered).hasSize(1);
    }

    @Test
    void anEscalationStillBeingKeptAtTheDeadlineIsWaitedForAndNamed() {
        CompletableFuture<String> keeping = new CompletableFuture<>();
        List<Deferral> kept = new ArrayList<>();
        RouteRuntime slowOutbox = new RouteRuntime(policies, edge, cloud, codec, time, time, RouteRuntime.Listener.NONE,
                deferral -> {
                    kept.add(deferral);
                    return keeping;
                });
        edge.answering(0.3, "4");
        cloud.failing(TierFailure.Kind.UNREACHABLE);
        CompletableFuture<RouteAnswer> pending = slowOutbox.infer("digits", "acme",
                codec.encodeRequest(request(Map.of(), List.of()), false).body(), -1);
        assertThat(kept).hasSize(1);
        time.advance(Duration.ofMillis(700)); // past the deadline and its grace, twice over
        assertThat(pending).isNotDone();
        keeping.complete("esc-9");
        assertThat(ok(pending.join()).parameters()).containsEntry("hybridge.escalation_id", "esc-9")
                .containsEntry("hybridge.degraded", true);
        assertThat(kept).hasSize(1);
        assertThat(time.pendingTimers()).isZero();
    }

    @Test
    void aCloudStillAskedAtTheDeadlineOnAnAgentKeepsTheEscalation() {
        List<Deferral> kept = new ArrayList<>();
        edge.answering(0.3, "4");
        cloud.hanging();
        CompletableFuture<RouteAnswer> pending = deferring(kept, false).infer("digits", "acme",
                codec.encodeRequest(request(Map.of(), List.of()), false).body(), -1);
        time.advance(Duration.ofMillis(551));
        assertThat(ok(pending.join()).parameters()).containsEntry("hybridge.escalation_id", "esc-1")
                .containsEntry("hybridge.reason", "cloud_unavailable");
        assertThat(kept).singleElement().satisfies(d -> assertThat(d.call().reason()).isEqualTo(Reason.LOW_CONFIDENCE));
        cloud.release();
        assertThat(kept).hasSize(1);
    }

    @Test
    void anAnswerInTimeCancelsItsDeadlineTimer() {
        edge.answering(0.9, "1");
        run("digits");
        assertThat(time.pendingTimers()).isZero();
    }

    // ----------------------------------------------------------------------------------- split

    @Test
    void splitHandsTheEdgesTensorToTheCloudUnderItsInputName() {
        edge.answering(0.2, "1");
        cloud.answering(0.95, "4");
        RouteAnswer answer = run("split");
        assertThat(answer.outcome().tier()).isEqualTo(Tier.CLOUD);
        InferRequest sent = cloud.requests().get(0);
        assertThat(sent.inputs()).extracting(Tensor::name).containsExactly("features");
        assertThat((float[]) sent.inputs().get(0).data()).containsExactly(1, 2, 3);
    }

    @Test
    void splitExitsEarlyWithoutTheInternalTensor() {
        edge.answering(0.9, "1");
        InferResponse response = ok(run("split"));
        assertThat(response.parameters()).containsEntry("hybridge.tier", "edge");
        assertThat(response.outputs()).extracting(Tensor::name).containsExactly("probs");
    }

    @Test
    void whenTheClientNamesOutputsTheEdgeIsStillAskedForTheTensorToHandOn() {
        edge.answering(0.2, "1");
        cloud.answering(0.9, "3");
        RouteAnswer answer = send("split", "acme", Map.of(), List.of("probs")).join();
        assertThat(edge.requests().get(0).outputs()).extracting(InferRequest.RequestedOutput::name)
                .containsExactly("probs", "embedding");
        assertThat(cloud.requests().get(0).outputs()).extracting(InferRequest.RequestedOutput::name)
                .containsExactly("probs");
        assertThat(ok(answer).outputs()).extracting(Tensor::name).containsExactly("probs");
    }

    // ---------------------------------------------------------------------------------- shadow

    @Test
    void shadowAnswersAtTheEdgeAndCountsWhetherTheCloudAgrees() {
        edge.answering(0.9, "3");
        cloud.answering(0.9, "3");
        RouteAnswer answer = run("shadow");
        assertThat(answer.outcome().tier()).isEqualTo(Tier.EDGE);
        assertThat(answer.outcome().reason()).isEqualTo(Reason.SHADOW);
        cloud.answering(0.9, "8");
        run("shadow");
        cloud.failing(TierFailure.Kind.UNREACHABLE);
        run("shadow");
        assertThat(shadows).containsExactly("shadow:agreed", "shadow:disagreed", "shadow:failed");
    }

    // ----------------------------------------------------------------------------- escalations

    @Test
    void anEdgeAgentsEscalationGoesToTheCloudWithinTheFleetsLimits() {
        cloud.answering(0.9, "6");
        Map<String, Object> escalation = Map.of("hybridge.escalation", true, "hybridge.confidence", 0.2,
                "hybridge.reason", "low_confidence");
        RouteAnswer answer = run("digits", escalation);
        assertThat(answer.outcome().tier()).isEqualTo(Tier.CLOUD);
        assertThat(answer.outcome().reason()).isEqualTo(Reason.LOW_CONFIDENCE);
        assertThat(edge.calls()).isZero();
        RouteAnswer noCloud = run("local", escalation);
        assertThat(noCloud.outcome().status()).isEqualTo(409);
        assertThat(error(noCloud)).isEqualTo("escalation declined (edge_only): answer at the edge");
        RouteAnswer tooTight = run("digits", Map.of("hybridge.escalation", true, "hybridge.deadline_ms", 5L));
        assertThat(tooTight.outcome().status()).as("declined before any work: not a 504").isEqualTo(503);
        assertThat(tooTight.outcome().reason()).isEqualTo(Reason.DEADLINE_TOO_TIGHT);
        assertRetryAfter(tooTight);
        cloud.failing(TierFailure.Kind.UNREACHABLE);
        RouteAnswer down = run("digits", escalation);
        assertThat(down.outcome().status()).as("the agent keeps its own answer").isEqualTo(503);
        assertThat(edge.calls()).isZero();
    }

    // --------------------------------------------------------------------- the route as one model

    @Test
    void withNoOutputsNamedTheAnswerHasTheRoutesOutputsWhicheverTierAnswers() {
        edge.answering(0.9, "1");
        assertThat(ok(run("digits")).outputs()).extracting(Tensor::name).containsExactly("probs");
        edge.answering(0.1, "1");
        assertThat(ok(run("digits")).outputs()).extracting(Tensor::name).containsExactly("probs");
        // an edge-only route gives everything its model gives
        edge.answering(0.9, "1");
        assertThat(ok(run("local")).outputs()).extracting(Tensor::name).containsExactly("probs", "embedding");
    }

    @Test
    void anOutputTheRouteDoesNotAlwaysGiveIsRefusedBeforeAnyTierIsCalled() {
        assertThatThrownBy(() -> send("digits", "acme", Map.of(), List.of("embedding")).join())
                .isInstanceOf(CompletionException.class).cause().isInstanceOf(OipException.class)
                .hasMessage("route 'digits' has no output 'embedding'; its outputs are probs (FP32 [-1, 2])");
        assertThat(edge.calls() + cloud.calls()).isZero();
    }

    @Test
    void withoutTheStagesMetadataRequestsStillGoTheirWay() {
        edge.metadataFailing().answering(0.9, "1");
        assertThat(ok(run("digits")).outputs()).extracting(Tensor::name).containsExactly("probs", "embedding");
    }

    @Test
    void aRouteKeepsItsOutputsWhenItsStagesCannotBeAskedForTheirMetadataAgain() {
        edge.answering(0.9, "1");
        assertThat(ok(run("digits")).outputs()).extracting(Tensor::name).containsExactly("probs");
        // the link goes down: the cloud cannot be asked again once the signature's time is up
        cloud.metadataFailing();
        time.advance(RouteSignatures.TTL);
        assertThat(ok(run("digits")).outputs()).extracting(Tensor::name).containsExactly("probs");
        time.advance(RouteSignatures.RETRY_AFTER_FAILURE);
        assertThat(ok(run("digits")).outputs()).extracting(Tensor::name).containsExactly("probs");
        assertThat(edge.requests()).allSatisfy(request -> assertThat(request.outputs())
                .extracting(InferRequest.RequestedOutput::name).containsExactly("probs"));
    }

    @Test
    void aTiersRefusalIsPassedOnNamingTheRoute() {
        edge.refusing(400, "model '%model' has no input 'audio'");
        RouteAnswer answer = run("digits");
        assertThat(answer.outcome()).isEqualTo(outcome("digits", Tier.EDGE, null, null, 0, false, 400));
        assertThat(error(answer)).isEqualTo("route 'digits' has no input 'audio'");
        assertThat(answer.outcome().headers()).containsEntry("Hybridge-Tier", "edge").doesNotContainKey("Hybridge-Degraded");
    }

    @Test
    void anUnknownRouteIsA404NamingTheRoutes() {
        assertThatThrownBy(() -> run("nope")).cause().isInstanceOf(OipException.class)
                .hasMessage("no route named 'nope'; routes: digits, local, plainsplit, shadow, split");
    }

    // ------------------------------------------------------------------------------ deferral

    /** A runtime that keeps what it cannot send in {@code kept}, refusing when {@code full}. */
    RouteRuntime deferring(List<Deferral> kept, boolean full) {
        return new RouteRuntime(policies, edge, cloud, codec, time, time, RouteRuntime.Listener.NONE,
                deferral -> {
                    if (full) {
                        return CompletableFuture.completedFuture(null);
                    }
                    kept.add(deferral);
                    return CompletableFuture.completedFuture("esc-" + kept.size());
                });
    }

    @Test
    void anEscalationTheCloudCannotTakeIsKeptAndTheAnswerNamesIt() {
        List<Deferral> kept = new ArrayList<>();
        edge.answering(0.3, "4");
        cloud.failing(TierFailure.Kind.CIRCUIT_OPEN);
        byte[] body = codec.encodeRequest(request(Map.of(), List.of()), false).body();
        RouteAnswer answer = deferring(kept, false).infer("digits", "acme", body, -1).join();
        InferResponse response = ok(answer);
        assertThat(response.parameters()).containsEntry("hybridge.tier", "edge").containsEntry("hybridge.degraded", true)
                .containsEntry("hybridge.reason", "cloud_unavailable").containsEntry("hybridge.escalation_id", "esc-1");
        assertThat(answer.outcome().headers()).containsEntry("Hybridge-Escalation-Id", "esc-1");
        assertThat(kept).singleElement().satisfies(d -> {
            assertThat(d.route().name()).isEqualTo("digits");
            assertThat(d.call().key()).isEqualTo("r-1");
            assertThat(d.call().reason()).isEqualTo(Reason.LOW_CONFIDENCE);
            assertThat(d.call().edge().label()).isEqualTo("4");
            assertThat(d.body()).isEqualTo(body); // a cascade sends the request itself
        });
    }

    @Test
    void aSplitKeepsTheEdgesTensorNotTheRequest() {
        List<Deferral> kept = new ArrayList<>();
        edge.answering(0.3, "4");
        cloud.failing(TierFailure.Kind.UNREACHABLE);
        ok(deferring(kept, false).infer("split", "acme", codec.encodeRequest(request(Map.of(), List.of()), false).body(), -1)
                .join());
        InferRequest keptRequest = codec.decodeRequest(kept.get(0).body(), kept.get(0).jsonLength());
        assertThat(keptRequest.inputs()).extracting(Tensor::name).containsExactly("features");
    }

    @Test
    void aFullOutboxLeavesThePlainDegradedAnswerAndARouteThatDoesNotDeferKeepsNothing() throws IOException {
        List<Deferral> kept = new ArrayList<>();
        edge.answering(0.3, "4");
        cloud.failing(TierFailure.Kind.CIRCUIT_OPEN);
        byte[] body = codec.encodeRequest(request(Map.of(), List.of()), false).body();
        InferResponse refused = ok(deferring(kept, true).infer("digits", "acme", body, -1).join());
        assertThat(refused.parameters()).containsEntry("hybridge.degraded", true).doesNotContainKey("hybridge.escalation_id");

        write("nodefer", """
                version: 1
                kind: cascade
                edge: {model: digits-edge}
                cloud: {model: digits-cloud}
                threshold: {value: 0.5}
                defer: {enabled: false}
                """);
        assertThat(policies.reload(folder).problems()).isEmpty();
        ok(deferring(kept, false).infer("nodefer", "acme", body, -1).join());
        assertThat(kept).isEmpty();
    }

    @Test
    void aRequestWithNoTimeToWaitForTheCloudIsKeptToo() {
        List<Deferral> kept = new ArrayList<>();
        edge.answering(0.3, "4");
        // the route's estimate (50 ms) does not fit a 20 ms deadline
        InferResponse response = ok(deferring(kept, false).infer("digits", "acme", codec.encodeRequest(
                request(Map.of("hybridge.deadline_ms", 20L), List.of()), false).body(), -1).join());
        assertThat(response.parameters()).containsEntry("hybridge.reason", "deadline_too_tight")
                .containsEntry("hybridge.escalation_id", "esc-1");
        assertThat(kept.get(0).call().reason()).isEqualTo(Reason.DEADLINE_TOO_TIGHT);
        assertThat(cloud.calls()).isZero();
    }

    @Test
    void anEscalationIsChargedUnderItsKeySoThatAStoreThatKeepsKeysCountsItOnce() {
        List<String> onceKeys = new ArrayList<>();
        SpendLedger inner = SpendLedger.inMemory(time);
        SpendLedger recording = new SpendLedger() {
            @Override
            public double spentUsd(String tenant, java.time.Duration window) {
                return inner.spentUsd(tenant, window);
            }

            @Override
            public void charge(String tenant, java.time.Duration window, double usd) {
                onceKeys.add(null);
                inner.charge(tenant, window, usd);
            }

            @Override
            public void charge(String tenant, java.time.Duration window, double usd, String once) {
                onceKeys.add(once);
                inner.charge(tenant, window, usd);
            }
        };
        PolicyEngine engine = new PolicyEngine(time, new PolicyLoader(), recording);
        assertThat(engine.reload(folder).problems()).isEmpty();
        RouteRuntime gateway = new RouteRuntime(engine, edge, cloud, codec, time, time, RouteRuntime.Listener.NONE);
        ok(gateway.infer("digits", "acme", codec.encodeRequest(request(Map.of("hybridge.escalation", true,
                "hybridge.idempotency_key", "dev-1/r-1"), List.of()), false).body(), -1).join());
        assertThat(onceKeys).containsExactly("acme|digits|dev-1/r-1");
        onceKeys.clear();
        ok(gateway.infer("digits", "acme", codec.encodeRequest(request(Map.of("hybridge.route", "cloud"), List.of()), false)
                .body(), -1).join());
        assertThat(onceKeys).containsOnlyNulls().isNotEmpty();
    }
}
