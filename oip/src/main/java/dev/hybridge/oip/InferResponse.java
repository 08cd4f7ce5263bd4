package dev.hybridge.oip;

import java.util.List;
import java.util.Map;

/**
 * An OIP inference response.
 *
 * @param modelName    the model that answered
 * @param modelVersion its version; may be null
 * @param id           the request's id, echoed; may be null
 * @param parameters   response parameters (routing facts under the {@code hybridge.} prefix)
 * @param outputs      the output tensors
 */
public record InferResponse(String modelName, String modelVersion, String id,
                            Map<String, Object> parameters, List<Tensor> outputs) {

    public InferResponse {
        parameters = parameters == null ? Map.of() : parameters;
        outputs = List.copyOf(outputs);
    }

    public Tensor output(String name) {
        for (Tensor t : outputs) {
            if (t.name().equals(name)) {
                return t;
            }
        }
        throw new IllegalArgumentException("no output named '" + name + "' in the response of " + modelName);
    }
}
