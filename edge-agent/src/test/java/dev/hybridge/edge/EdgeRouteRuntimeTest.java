package dev.hybridge.edge;

import static org.assertj.core.api.Assertions.assertThat;

import dev.hybridge.oip.Datatype;
import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.InferResponse;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.Tensor;
import dev.hybridge.policy.PolicyBundle;
import dev.hybridge.policy.PolicyEngine;
import dev.hybridge.policy.PolicyLoader;
import dev.hybridge.policy.Reason;
import dev.hybridge.policy.RoutePolicy;
import dev.hybridge.policy.SpendLedger;
import dev.hybridge.policy.runtime.Admission;
import dev.hybridge.policy.runtime.DeviceProfiles;
import dev.hybridge.policy.runtime.RouteAnswer;
import dev.hybridge.policy.runtime.RouteRuntime;
import dev.hybridge.policy.runtime.TierCall;
import dev.hybridge.policy.runtime.TierClient;
import dev.hybridge.policy.runtime.TierFailure;
import dev.hybridge.policy.runtime.TierReply;
import dev.hybridge.serving.TestModels;
import dev.hybridge.serving.model.HostSettings;
import dev.hybridge.serving.model.ModelHost;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The agent's route execution: the route runtime with the agent's own model in process as the
 * edge tier ({@link LocalTier}, the demo edge model) and a cloud tier the test plays, on time the
 * test moves by hand: what the cloud is told, and what the caller gets when the cloud fails in
 * each way or never answers. No sockets, no sleeping.
 */
class EdgeRouteRuntimeTest {

    static ModelHost host;
    static final OipCodec CODEC = new OipCodec();

    /** A cloud that records its calls and answers as the test says (a pending future until then). */
    static final class PlayedCloud implements TierClient {
        final List<TierCall> calls = new CopyOnWriteArrayList<>();
        final List<InferRequest> requests = new CopyOnWriteArrayList<>();
        volatile CompletableFuture<TierReply> next = new CompletableFuture<>();

        @Override
        public CompletableFuture<TierReply> infer(RoutePolicy.Stage stage, byte[] body, int jsonLength, long deadlineNanos) {
            throw new AssertionError("the runtime tells the tier what the call is for");
        }

        @Override
        public CompletableFuture<TierReply> infer(RoutePolicy.Stage stage, byte[] body, int jsonLength, long deadlineNanos,
                                                  TierCall call) {
            requests.add(CODEC.decodeRequest(body, jsonLength));
            calls.add(call);
            return next;
        }

        @Override
        public CompletableFuture<byte[]> metadata(RoutePolicy.Stage stage, long deadlineNanos) {
            return CompletableFuture.failedFuture(new TierFailure(TierFailure.Kind.UNREACHABLE, "offline"));
        }
    }

    /** Nanoseconds the test moves, and the timers on them. */
    static final class HandTime implements RouteRuntime.Timer {
        final AtomicLong now = new AtomicLong(1_000_000_000L);
        final List<Object[]> timers = new CopyOnWriteArrayList<>();

        @Override
        public RouteRuntime.Cancellable at(long nanos, Runnable action) {
            Object[] timer = {nanos, action};
            timers.add(timer);
            return () -> timers.remove(timer);
        }

        void advance(Duration by) {
            long t = now.addAndGet(by.toNanos());
            for (Object[] timer : timers) {
                if ((Long) timer[0] <= t && timers.remove(timer)) {
                    ((Runnable) timer[1]).run();
                }
            }
        }
    }

    @BeforeAll
    static void loadModel() {
        host = new ModelHost(new HostSettings(TestModels.root().resolve("models/demo/repository/edge"),
                HostSettings.ExecutionProvider.CPU, 0, 1, 1,
                new HostSettings.BatchSettings(false, 1, Duration.ZERO, 1), 1, 8), new SimpleMeterRegistry());
        host.loadAll();
    }

    @AfterAll
    static void close() {
        host.close();
    }

    private final PlayedCloud cloud = new PlayedCloud();
    private final HandTime time = new HandTime();

    private RouteRuntime runtime() throws Exception {
        return runtime("", DeviceProfiles.NONE);
    }

    /** @param digits more settings of the digits route (which escalates every request) */
    private RouteRuntime runtime(String digits, DeviceProfiles profiles) throws Exception {
        return runtime(digits, profiles, RouteRuntime.Listener.NONE);
    }

    private RouteRuntime runtime(String digits, DeviceProfiles profiles, RouteRuntime.Listener listener) throws Exception {
        return runtime(digits, profiles, listener, null);
    }

    private RouteRuntime runtime(String digits, DeviceProfiles profiles, RouteRuntime.Listener listener,
                                 dev.hybridge.policy.runtime.Deferrer deferrer) throws Exception {
        Clock clock = Clock.systemUTC();
        PolicyEngine engine = new PolicyEngine(clock, new PolicyLoader(), SpendLedger.inMemory(clock));
        engine.apply(new PolicyLoader().load(new PolicyBundle(Map.of("digits.yaml", """
                version: 1
                kind: cascade
                edge: {model: digits-edge}
                cloud: {model: digits-cloud}
                escalate-when: 'true'
                deadline: 500ms
                cloud-latency: {initial: 10ms}
                """ + digits, "sampled.yaml", """
                version: 1
                kind: shadow
                edge: {model: digits-edge}
                cloud: {model: digits-cloud}
                shadow: {sample-rate: 1.0}
                """))));
        return new RouteRuntime(engine, new LocalTier(host, CODEC), cloud, CODEC, time.now::get, time,
                listener, deferrer, null, Admission.none(), profiles);
    }

    private static byte[] request(String id) {
        return CODEC.encodeRequest(new InferRequest(id, Map.of("hybridge.device", "dev-7"),
                List.of(new Tensor("audio", Datatype.FP32, new long[] {1, 8000}, TestModels.audio(2))), List.of()), true).body();
    }

    private static int jsonLength(byte[] body) {
        return CODEC.encodeRequest(new InferRequest("r1", Map.of("hybridge.device", "dev-7"),
                List.of(new Tensor("audio", Datatype.FP32, new long[] {1, 8000}, TestModels.audio(2))), List.of()), true)
                .jsonLength();
    }

    private static InferResponse decode(RouteAnswer answer) {
        return CODEC.decodeResponse(answer.body(), answer.jsonLength());
    }

    /** Waits for the runtime to ask the cloud (the edge model runs on the host's own thread). */
    private void awaitCloudCall() throws InterruptedException {
        for (int i = 0; i < 5000 && cloud.calls.isEmpty(); i++) {
            Thread.onSpinWait();
            TimeUnit.MICROSECONDS.sleep(200);
        }
        assertThat(cloud.calls).as("the cloud was asked").isNotEmpty();
    }

    @Test
    void theAgentsOwnModelAnswersOnlyTheOutputsTheRouteNamesBesideARequestThatNamesNone() {
        LocalTier local = new LocalTier(host, CODEC);
        RoutePolicy.Stage stage = new RoutePolicy.Stage("digits-edge", null, null);
        byte[] body = request("r1");
        TierReply cascade = local.infer(stage, body, jsonLength(body), Long.MAX_VALUE,
                new TierCall("digits", "r1", "r1", "t", "dev-7", null, null, null, List.of("probs"))).join();
        // a cascade needs the probabilities only: the split routes' embedding is neither computed out nor written
        assertThat(CODEC.decodeResponse(cascade.body(), cascade.jsonLength()).outputs()).extracting(Tensor::name)
                .containsExactly("probs");
        TierReply every = local.infer(stage, body, jsonLength(body), Long.MAX_VALUE,
                new TierCall("digits-split", "r1", "r1", "t", "dev-7", null, null)).join();
        assertThat(CODEC.decodeResponse(every.body(), every.jsonLength()).outputs()).extracting(Tensor::name)
                .containsExactlyInAnyOrder("probs", "embedding", "clip_profile");
    }

    @Test
    void anEscalationCarriesTheVoiceProfileTheDeviceLearnedFromTheDemoEdgeModel() throws Exception {
        DeviceProfiles.Running profiles = DeviceProfiles.inMemory();
        RouteRuntime runtime = runtime("device-profile: {from: clip_profile, to: voice_profile}\n", profiles);
        byte[] body = request("r1");
        runtime.infer("digits", "device", body, jsonLength(body));
        awaitCloudCall();
        // what the demo edge model gives for this clip, asked directly
        float[] clip = (float[]) edge().infer(edge().withDefaults(new InferRequest(List.of(
                new Tensor("audio", Datatype.FP32, new long[] {1, 8000}, TestModels.audio(2)))))).output("clip_profile").data();
        assertThat(clip).hasSize(40);
        InferRequest escalated = cloud.requests.get(0);
        assertThat(escalated.inputs()).extracting(Tensor::name).containsExactly("audio", "voice_profile");
        assertThat(escalated.inputs().get(1).shape()).containsExactly(1, 40);
        assertThat((float[]) escalated.inputs().get(1).data()).containsExactly(clip);
        assertThat(profiles.current("digits")).containsExactly(clip);
    }

    @Test
    void anEscalationKeptWhileTheUplinkIsDownCarriesTheDevicesProfileAsTheLiveAttemptDid() throws Exception {
        List<dev.hybridge.policy.runtime.Deferral> kept = new CopyOnWriteArrayList<>();
        RouteRuntime runtime = runtime("device-profile: {from: clip_profile, to: voice_profile}\n",
                DeviceProfiles.inMemory(), RouteRuntime.Listener.NONE, deferral -> {
                    kept.add(deferral);
                    return CompletableFuture.completedFuture("e-1");
                });
        byte[] body = request("r1");
        CompletableFuture<RouteAnswer> answer = runtime.infer("digits", "device", body, jsonLength(body));
        awaitCloudCall();
        cloud.next.completeExceptionally(new TierFailure(TierFailure.Kind.CIRCUIT_OPEN, "the uplink is down"));
        assertThat(decode(answer.get(5, TimeUnit.SECONDS)).parameters()).containsEntry("hybridge.escalation_id", "e-1");
        InferRequest live = cloud.requests.get(0);
        InferRequest later = CODEC.decodeRequest(kept.get(0).body(), kept.get(0).jsonLength());
        assertThat(later.inputs()).extracting(Tensor::name).containsExactly("audio", "voice_profile");
        assertThat((float[]) later.inputs().get(1).data()).containsExactly((float[]) live.inputs().get(1).data());
    }

    @Test
    void aDeviceLearnsTheSpeedsTheDemoEdgeModelIsSurestAtAndEscalationsCarryThemWithTheirProfiles() throws Exception {
        DeviceProfiles.Running profiles = DeviceProfiles.inMemory();
        List<RouteRuntime.ViewsResult> runs = new CopyOnWriteArrayList<>();
        RouteRuntime runtime = runtime("""
                device-profile:
                  from: clip_profile
                  to: view_profiles
                  views: {input: speed, scores: probs, speeds: [0.9, 1.0, 1.1], pick: 2, to: view_speeds}
                """, profiles, new RouteRuntime.Listener() {
                    @Override
                    public void views(String route, RouteRuntime.ViewsResult result) {
                        runs.add(result);
                    }
                });
        byte[] body = request("r1");
        runtime.infer("digits", "device", body, jsonLength(body));
        awaitCloudCall();
        float[] clip = (float[]) edge().infer(edge().withDefaults(new InferRequest(List.of(
                new Tensor("audio", Datatype.FP32, new long[] {1, 8000}, TestModels.audio(2)))))).output("clip_profile").data();
        // the first escalation: no speed heard yet, so speed 1 twice with the plain profile
        InferRequest first = cloud.requests.get(0);
        assertThat(first.inputs()).extracting(Tensor::name).containsExactly("audio", "view_speeds", "view_profiles");
        assertThat(first.inputs().get(1).shape()).containsExactly(1, 2);
        assertThat((float[]) first.inputs().get(1).data()).containsExactly(1f, 1f);
        assertThat(first.inputs().get(2).shape()).containsExactly(1, 2, 40);
        float[] twice = new float[80];
        System.arraycopy(clip, 0, twice, 0, 40);
        System.arraycopy(clip, 0, twice, 40, 40);
        assertThat((float[]) first.inputs().get(2).data()).containsExactly(twice);
        // the clip heard again at every speed, in the background (the edge model runs on the host's thread)
        for (int i = 0; i < 5000 && runs.isEmpty(); i++) {
            TimeUnit.MICROSECONDS.sleep(200);
        }
        assertThat(runs).containsExactly(RouteRuntime.ViewsResult.LEARNED);
        // what the demo edge model gives for the clip at the three speeds, asked directly
        float[] audio = new float[3 * 8000];
        for (int v = 0; v < 3; v++) {
            System.arraycopy(TestModels.audio(2), 0, audio, v * 8000, 8000);
        }
        InferResponse direct = edge().infer(new InferRequest(List.of(
                new Tensor("audio", Datatype.FP32, new long[] {3, 8000}, audio),
                new Tensor("speed", Datatype.FP32, new long[] {3, 1}, new float[] {0.9f, 1.0f, 1.1f}))));
        float[] probs = (float[]) direct.output("probs").data();
        float[] rows = (float[]) direct.output("clip_profile").data();
        Integer[] ranked = {0, 1, 2};
        java.util.Arrays.sort(ranked, (a, b) -> Float.compare(top(probs, b), top(probs, a)));
        float[] speeds = {0.9f, 1.0f, 1.1f};
        cloud.next = new CompletableFuture<>();
        body = request("r2");
        runtime.infer("digits", "device", body, jsonLength(body));
        for (int i = 0; i < 5000 && cloud.requests.size() < 2; i++) {
            TimeUnit.MICROSECONDS.sleep(200);
        }
        InferRequest second = cloud.requests.get(1);
        assertThat((float[]) second.inputs().get(1).data()).containsExactly(speeds[ranked[0]], speeds[ranked[1]]);
        float[] picked = new float[80];
        System.arraycopy(rows, ranked[0] * 40, picked, 0, 40);
        System.arraycopy(rows, ranked[1] * 40, picked, 40, 40);
        assertThat((float[]) second.inputs().get(2).data()).containsExactly(picked);
        // kept where the agent saves them
        assertThat(profiles.snapshot()).containsKeys("digits", "digits speed 0.9", "digits speed 0.9 confidence",
                "digits speed 1.1 confidence");
    }

    private static dev.hybridge.serving.model.OnnxModel edge() {
        return host.require("digits-edge", null).model();
    }

    private static float top(float[] probs, int row) {
        float top = 0;
        for (int k = 0; k < 10; k++) {
            top = Math.max(top, probs[row * 10 + k]);
        }
        return top;
    }

    @Test
    void theCloudIsToldTheRouteTheReasonAndWhatTheEdgeFound() throws Exception {
        byte[] body = request("r1");
        CompletableFuture<RouteAnswer> answer = runtime().infer("digits", "device", body, jsonLength(body));
        awaitCloudCall();
        TierCall call = cloud.calls.get(0);
        assertThat(call.route()).isEqualTo("digits");
        assertThat(call.requestId()).isEqualTo("r1");
        assertThat(call.device()).isEqualTo("dev-7");
        assertThat(call.reason()).isEqualTo(Reason.LOW_CONFIDENCE);
        assertThat(call.edge()).isNotNull();
        assertThat(call.edge().label()).matches("[0-9]");

        cloud.next.completeExceptionally(new TierFailure(TierFailure.Kind.CIRCUIT_OPEN, "the uplink is down"));
        InferResponse response = decode(answer.get(5, TimeUnit.SECONDS));
        assertThat(response.parameters()).containsEntry("hybridge.tier", "edge")
                .containsEntry("hybridge.reason", "cloud_unavailable").containsEntry("hybridge.degraded", true)
                .containsEntry("hybridge.label", call.edge().label());
        assertThat(time.now.get()).as("no time passed: nothing waited").isEqualTo(1_000_000_000L);
    }

    @Test
    void aLinkThatNeverAnswersCostsTheCallerItsDeadlineAndNoMoreAndTheEdgesAnswerStands() throws Exception {
        byte[] body = request("r2");
        CompletableFuture<RouteAnswer> answer = runtime().infer("digits", "device", body, jsonLength(body));
        awaitCloudCall();
        time.advance(Duration.ofMillis(500));
        assertThat(answer).isNotDone();
        time.advance(Duration.ofMillis(RouteRuntime.GRACE_MILLIS));
        InferResponse late = decode(answer.get(5, TimeUnit.SECONDS));
        assertThat(late.parameters()).containsEntry("hybridge.tier", "edge")
                .containsEntry("hybridge.reason", "cloud_unavailable").containsEntry("hybridge.degraded", true);
    }

    @Test
    void aCloudAnswerIsTheAnswerWithTheCloudsLabel() throws Exception {
        byte[] body = request("r3");
        CompletableFuture<RouteAnswer> answer = runtime().infer("digits", "device", body, jsonLength(body));
        awaitCloudCall();
        float[] probs = new float[10];
        probs[4] = 0.99f;
        OipCodec.Encoded cloudAnswer = CODEC.encodeResponse(new InferResponse("digits", null, "r3",
                Map.of("hybridge.label", "4", "hybridge.confidence", 0.99),
                List.of(new Tensor("probs", Datatype.FP32, new long[] {1, 10}, probs))), new InferRequest("r3", Map.of(),
                List.of(), List.of()));
        cloud.next.complete(new TierReply(200, cloudAnswer.body(), cloudAnswer.jsonLength(), 12.5));
        InferResponse response = decode(answer.get(5, TimeUnit.SECONDS));
        assertThat(response.parameters()).containsEntry("hybridge.tier", "cloud").containsEntry("hybridge.label", "4")
                .containsEntry("hybridge.degraded", false);
        assertThat(response.id()).isEqualTo("r3");
    }

    @Test
    void aShadowSampleGoesToTheCloudAsSuchAndTheEdgeAnswers() throws Exception {
        byte[] body = request("r4");
        RouteAnswer answer = runtime().infer("sampled", "device", body, jsonLength(body)).get(5, TimeUnit.SECONDS);
        assertThat(decode(answer).parameters()).containsEntry("hybridge.tier", "edge")
                .containsEntry("hybridge.reason", "shadow");
        awaitCloudCall();
        assertThat(cloud.calls.get(0).reason()).isEqualTo(Reason.SHADOW);
        assertThat(cloud.calls.get(0).edge()).isNotNull();
    }
}
