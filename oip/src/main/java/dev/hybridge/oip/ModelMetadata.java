package dev.hybridge.oip;

import java.util.List;

/** What {@code GET /v2/models/{name}} returns. */
public record ModelMetadata(String name, List<String> versions, String platform,
                            List<TensorSpec> inputs, List<TensorSpec> outputs) {

    public ModelMetadata {
        versions = List.copyOf(versions);
        inputs = List.copyOf(inputs);
        outputs = List.copyOf(outputs);
    }

    public TensorSpec input(String inputName) {
        for (TensorSpec spec : inputs) {
            if (spec.name().equals(inputName)) {
                return spec;
            }
        }
        return null;
    }

    public TensorSpec output(String outputName) {
        for (TensorSpec spec : outputs) {
            if (spec.name().equals(outputName)) {
                return spec;
            }
        }
        return null;
    }
}
