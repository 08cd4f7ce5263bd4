package dev.hybridge.policy.runtime;

import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.InferResponse;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.OipException;
import dev.hybridge.oip.Tensor;
import dev.hybridge.policy.RouteKind;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What the route's kind changes in the flow: what each stage is sent, and whether the edge may
 * stand in for a cloud asked first. Cascade, shadow, edge-only and cloud-only routes send the
 * request itself to either stage; split routes send the cloud the edge's intermediate tensor.
 */
sealed interface HandOff {

    /** Stateless: one of each serves every request. */
    HandOff WHOLE_REQUEST = new WholeRequest();
    HandOff SPLIT_TENSOR = new SplitTensor();

    static HandOff of(RouteKind kind) {
        return kind.split() ? SPLIT_TENSOR : WHOLE_REQUEST;
    }

    /**
     * The edge stage's call.
     *
     * @param edgeInProcess whether the edge tier runs in this process ({@link TierClient#inProcess}):
     *                      it answers with binary data of its own accord, and can be told the outputs
     *                      the route needs beside a request that names none
     */
    Step.CallEdge edgeRequest(RouteCall call, OipCodec codec, boolean edgeInProcess);

    /** The cloud stage's request once the edge has answered. */
    OipCodec.Encoded cloudRequestAfterEdge(RouteCall call, InferResponse edgeAnswer, OipCodec codec);

    /** Whether the edge may answer, degraded, when the cloud was asked first and failed. */
    boolean edgeStandsIn(RouteCall call);

    /** An edge answer's outputs that are the route's internals, not the client's. */
    List<Tensor> withoutInternals(RouteCall call, List<Tensor> outputs);

    /**
     * Either stage gets the request as it came; except that when it names no outputs, the edge is
     * asked for the route's outputs only (an edge in another process as binary data), not for
     * every output its model has.
     */
    record WholeRequest() implements HandOff {

        /**
         * A request naming no outputs gets the route's (those all its stages give; the answer is
         * cut to them whichever tier answers): the edge is asked for those alone, as binary data the
         * runtime reads back at once. Asked as it came, an edge model answers with every output,
         * as JSON: the demo edge model's embedding for split routes is 4560 values, which took more
         * to write and read than the rest of its answer. An edge in this process gets the request as
         * it came with the route's outputs named beside it (writing the request again would only
         * cost copies). A request naming outputs goes as it came.
         */
        @Override
        public Step.CallEdge edgeRequest(RouteCall call, OipCodec codec, boolean edgeInProcess) {
            RouteSignatures.Signature signature = call.signature();
            if (!call.request().outputs().isEmpty() || signature == null || signature.outputs().isEmpty()) {
                return new Step.CallEdge(call.body(), call.jsonLength(), List.of());
            }
            if (edgeInProcess) {
                return new Step.CallEdge(call.body(), call.jsonLength(), List.copyOf(signature.outputs()));
            }
            List<InferRequest.RequestedOutput> outputs = new ArrayList<>();
            for (String output : signature.outputs()) {
                outputs.add(new InferRequest.RequestedOutput(output, Map.of(OipCodec.BINARY_DATA, true)));
            }
            InferRequest full = codec.decodeRequest(call.body(), call.jsonLength());
            return new Step.CallEdge(codec.encodeRequest(new InferRequest(full.id(), full.parameters(), full.inputs(),
                    outputs), true));
        }

        @Override
        public OipCodec.Encoded cloudRequestAfterEdge(RouteCall call, InferResponse edgeAnswer, OipCodec codec) {
            return new OipCodec.Encoded(call.body(), call.jsonLength());
        }

        @Override
        public boolean edgeStandsIn(RouteCall call) {
            return call.policy().kind().usesEdge();
        }

        @Override
        public List<Tensor> withoutInternals(RouteCall call, List<Tensor> outputs) {
            return outputs;
        }
    }

    /** The edge computes a tensor (features, an embedding) and the cloud finishes from it. */
    record SplitTensor() implements HandOff {

        @Override
        public Step.CallEdge edgeRequest(RouteCall call, OipCodec codec, boolean edgeInProcess) {
            String tensor = call.policy().edge().tensor();
            if (call.request().outputs().isEmpty() || call.asksFor(tensor)) {
                return new Step.CallEdge(call.body(), call.jsonLength(), List.of()); // the edge answers with every output
            }
            // the cloud stage needs the edge's tensor even when the client did not ask for it
            List<InferRequest.RequestedOutput> outputs = new ArrayList<>(call.request().outputs());
            outputs.add(new InferRequest.RequestedOutput(tensor, Map.of(OipCodec.BINARY_DATA, true)));
            InferRequest full = codec.decodeRequest(call.body(), call.jsonLength());
            return new Step.CallEdge(codec.encodeRequest(new InferRequest(full.id(), full.parameters(), full.inputs(),
                    outputs), true));
        }

        @Override
        public OipCodec.Encoded cloudRequestAfterEdge(RouteCall call, InferResponse edgeAnswer, OipCodec codec) {
            String handed = call.policy().edge().tensor();
            Tensor tensor = edgeAnswer.outputs().stream().filter(t -> t.name().equals(handed)).findFirst()
                    .orElseThrow(() -> new OipException(502, "the edge model " + call.policy().edge().model()
                            + " returned no output '" + handed + "' for route " + call.route()
                            + " (edge.output in " + call.policy().source().getFileName() + ")"));
            List<InferRequest.RequestedOutput> outputs = call.request().outputs().stream()
                    .filter(o -> !o.name().equals(handed)).toList();
            InferRequest request = new InferRequest(call.request().id(), call.request().parameters(),
                    List.of(tensor.withName(call.policy().cloud().tensor()).withParameters(Map.of())), outputs);
            return codec.encodeRequest(request, true);
        }

        @Override
        public boolean edgeStandsIn(RouteCall call) {
            return false; // its answer without the cloud's is only a tensor
        }

        @Override
        public List<Tensor> withoutInternals(RouteCall call, List<Tensor> outputs) {
            String internal = call.policy().edge().tensor();
            return call.asksFor(internal) ? outputs : outputs.stream().filter(t -> !t.name().equals(internal)).toList();
        }
    }
}
