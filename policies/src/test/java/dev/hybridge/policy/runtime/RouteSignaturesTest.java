package dev.hybridge.policy.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import dev.hybridge.oip.Datatype;
import dev.hybridge.oip.ModelMetadata;
import dev.hybridge.oip.TensorSpec;
import dev.hybridge.policy.RouteKind;
import dev.hybridge.policy.RoutePolicy;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class RouteSignaturesTest {

    static RoutePolicy route(RouteKind kind) {
        return new RoutePolicy("digits", Path.of("digits.yaml"), kind,
                new RoutePolicy.Stage("digits-edge", null, kind.split() ? "embedding" : null),
                new RoutePolicy.Stage("digits-cloud", null, kind.split() ? "embedding" : null), null, null, null,
                RoutePolicy.ThresholdSpec.fixed(0.5), Duration.ofMillis(500), RoutePolicy.LatencySpec.DEFAULT,
                RoutePolicy.TierCost.FREE, RoutePolicy.TierCost.FREE, 0, RoutePolicy.Defer.defaultFor(kind));
    }

    static TensorSpec spec(String name, Datatype type, long... shape) {
        return new TensorSpec(name, type, shape);
    }

    static ModelMetadata model(String name, List<TensorSpec> outputs) {
        return new ModelMetadata(name, List.of("1"), "onnxruntime_onnx",
                List.of(spec("audio", Datatype.FP32, -1, 8000)), outputs);
    }

    @Test
    void theRouteIsOneModelWithTheFirstStagesInputsAndTheOutputsAllStagesGive() {
        var signature = RouteSignatures.signature(route(RouteKind.CASCADE), List.of(
                model("digits-edge", List.of(spec("probs", Datatype.FP32, -1, 10), spec("embedding", Datatype.FP16, -1, 4560))),
                model("digits-cloud", List.of(spec("probs", Datatype.FP32, -1, 10)))));
        assertThat(signature.metadata().name()).isEqualTo("digits");
        assertThat(signature.metadata().versions()).isEmpty();
        assertThat(signature.metadata().inputs()).containsExactly(spec("audio", Datatype.FP32, -1, 8000));
        assertThat(signature.metadata().outputs()).containsExactly(spec("probs", Datatype.FP32, -1, 10));
        assertThat(signature.outputs()).containsExactly("probs");
    }

    @Test
    void anOutputTheStagesGiveInDifferentTypesOrRanksIsNoOutputOfTheRoute() {
        var signature = RouteSignatures.signature(route(RouteKind.CASCADE), List.of(
                model("e", List.of(spec("probs", Datatype.FP32, -1, 10), spec("label", Datatype.INT64, -1),
                        spec("scores", Datatype.FP32, -1, 10))),
                model("c", List.of(spec("probs", Datatype.FP32, -1, 12), spec("label", Datatype.INT32, -1),
                        spec("scores", Datatype.FP32, -1, 10, 1)))));
        // the sizes that differ become dynamic; the type and rank mismatches drop out
        assertThat(signature.metadata().outputs()).containsExactly(spec("probs", Datatype.FP32, -1, -1));
    }

    @Test
    void aSingleStageRouteHasAllOfItsOutputs() {
        var signature = RouteSignatures.signature(route(RouteKind.EDGE_ONLY), List.of(
                model("digits-edge", List.of(spec("probs", Datatype.FP32, -1, 10), spec("embedding", Datatype.FP16, -1, 4560)))));
        assertThat(signature.outputs()).containsExactlyInAnyOrder("probs", "embedding");
    }

    @Test
    void aSplitRoutesHandedTensorIsInternalUnlessTheCloudGivesItToo() {
        var signature = RouteSignatures.signature(route(RouteKind.SPLIT_EARLY_EXIT), List.of(
                model("digits-edge", List.of(spec("probs", Datatype.FP32, -1, 10), spec("embedding", Datatype.FP16, -1, 4560))),
                model("digits-head", List.of(spec("probs", Datatype.FP32, -1, 10)))));
        assertThat(signature.outputs()).containsExactly("probs");
    }

    @Test
    void aFailedFetchStandsAWhileSoThatRequestsDoNotEachAskAgain() {
        ManualTime time = new ManualTime();
        FakeTier edge = FakeTier.edge();
        FakeTier cloud = FakeTier.cloud().metadataFailing();
        RouteSignatures signatures = new RouteSignatures(edge, cloud, new dev.hybridge.oip.OipCodec(), time);
        RoutePolicy route = route(RouteKind.CASCADE);
        assertThat(signatures.of(route)).isCompletedExceptionally();
        assertThat(signatures.of(route)).isCompletedExceptionally();
        assertThat(cloud.metadataCalls()).isEqualTo(1);

        cloud.metadataAnswering();
        time.advance(RouteSignatures.RETRY_AFTER_FAILURE);
        assertThat(signatures.of(route).join().outputs()).containsExactly("probs");
        assertThat(cloud.metadataCalls()).isEqualTo(2);
        time.advance(Duration.ofSeconds(10));
        signatures.of(route).join();
        assertThat(cloud.metadataCalls()).as("a good signature stands for its TTL").isEqualTo(2);
    }

    @Test
    void aSignatureThatCannotBeFetchedAgainStandsSoThatAnswersKeepTheirOutputsWhileTheLinkIsDown() {
        ManualTime time = new ManualTime();
        FakeTier edge = FakeTier.edge();
        FakeTier cloud = FakeTier.cloud();
        RouteSignatures signatures = new RouteSignatures(edge, cloud, new dev.hybridge.oip.OipCodec(), time);
        RoutePolicy route = route(RouteKind.CASCADE);
        RouteSignatures.Signature first = signatures.of(route).join();
        assertThat(first.outputs()).containsExactly("probs");

        cloud.metadataFailing();
        time.advance(RouteSignatures.TTL);
        // the TTL has passed: the stages are asked again, and the request goes on with the last signature
        assertThat(signatures.of(route)).isCompletedWithValue(first);
        assertThat(cloud.metadataCalls()).isEqualTo(2);
        assertThat(signatures.of(route)).isCompletedWithValue(first);
        assertThat(cloud.metadataCalls()).as("a failed fetch stands a while").isEqualTo(2);
        time.advance(RouteSignatures.RETRY_AFTER_FAILURE);
        assertThat(signatures.of(route)).isCompletedWithValue(first);
        assertThat(cloud.metadataCalls()).isEqualTo(3);

        // a changed policy is a different route: what was known of the old one does not stand for it
        RoutePolicy changed = route(RouteKind.CASCADE);
        assertThat(signatures.of(changed)).isCompletedExceptionally();
        cloud.metadataAnswering();
        time.advance(RouteSignatures.RETRY_AFTER_FAILURE);
        assertThat(signatures.of(changed).join().outputs()).containsExactly("probs");
    }

    @Test
    void aTierWithNoWorkersIsLeftOutOfTheSignature() {
        FakeTier edge = FakeTier.edge().unconfigured();
        FakeTier cloud = FakeTier.cloud();
        RouteSignatures signatures = new RouteSignatures(edge, cloud, new dev.hybridge.oip.OipCodec(), new ManualTime());
        // a gateway whose devices run the edge stage: the cascade is described by its cloud stage
        assertThat(signatures.of(route(RouteKind.CASCADE)).join().outputs()).containsExactly("probs");
        assertThat(edge.metadataCalls()).isZero();
        // an edge-only route is still asked of its edge tier, which then says it cannot answer
        assertThat(signatures.of(route(RouteKind.EDGE_ONLY)).join().metadata().outputs()).hasSize(2);
    }
}
