package dev.hybridge.oip;

import java.util.List;
import java.util.Map;

/**
 * An OIP inference request.
 *
 * @param id         the caller's request id, echoed in the response; may be null
 * @param parameters request parameters, passed through (string, number or boolean values)
 * @param inputs     the input tensors
 * @param outputs    the outputs asked for; empty means all of the model's outputs
 */
public record InferRequest(String id, Map<String, Object> parameters, List<Tensor> inputs,
                           List<RequestedOutput> outputs) {

    public InferRequest {
        parameters = parameters == null ? Map.of() : parameters;
        inputs = List.copyOf(inputs);
        outputs = outputs == null ? List.of() : List.copyOf(outputs);
    }

    public InferRequest(List<Tensor> inputs) {
        this(null, Map.of(), inputs, List.of());
    }

    /** An output named in the request, with its own parameters (such as {@code binary_data}). */
    public record RequestedOutput(String name, Map<String, Object> parameters) {
        public RequestedOutput {
            parameters = parameters == null ? Map.of() : parameters;
        }

        public RequestedOutput(String name) {
            this(name, Map.of());
        }
    }
}
