package dev.hybridge.oip;

import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import java.util.stream.Collectors;

/** Checks a request against the model it is for, so that only well-formed tensors reach a runtime. */
public final class RequestValidator {

    private RequestValidator() {
    }

    public static void validate(InferRequest request, ModelMetadata model) {
        Set<String> seen = new HashSet<>();
        for (Tensor input : request.inputs()) {
            if (!seen.add(input.name())) {
                throw OipException.badRequest("input '" + input.name() + "' is given more than once");
            }
            TensorSpec spec = model.input(input.name());
            if (spec == null) {
                throw OipException.badRequest("model '" + model.name() + "' has no input '" + input.name()
                        + "'; its inputs are " + describe(model.inputs()));
            }
            checkTensor(input, spec, model.name());
        }
        for (TensorSpec spec : model.inputs()) {
            if (!seen.contains(spec.name())) {
                throw OipException.badRequest("input '" + spec.name() + "' (" + spec.datatype() + " "
                        + shapeText(spec.shape()) + ") is missing; model '" + model.name() + "' needs it");
            }
        }
        Set<String> requested = new HashSet<>();
        for (InferRequest.RequestedOutput output : request.outputs()) {
            if (model.output(output.name()) == null) {
                throw OipException.badRequest("model '" + model.name() + "' has no output '" + output.name()
                        + "'; its outputs are " + describe(model.outputs()));
            }
            if (!requested.add(output.name())) {
                throw OipException.badRequest("output '" + output.name() + "' is asked for more than once");
            }
        }
    }

    private static void checkTensor(Tensor input, TensorSpec spec, String modelName) {
        if (input.datatype() != spec.datatype()) {
            throw OipException.badRequest("input '" + input.name() + "' is " + input.datatype() + " but model '"
                    + modelName + "' takes " + spec.datatype());
        }
        long[] shape = input.shape();
        long[] expected = spec.shape();
        if (shape.length != expected.length) {
            throw OipException.badRequest("input '" + input.name() + "' has shape " + Arrays.toString(shape)
                    + " (rank " + shape.length + ") but model '" + modelName + "' takes " + shapeText(expected)
                    + " (rank " + expected.length + ")");
        }
        for (int i = 0; i < shape.length; i++) {
            if (expected[i] >= 0 && shape[i] != expected[i]) {
                throw OipException.badRequest("input '" + input.name() + "' has shape " + Arrays.toString(shape)
                        + " but model '" + modelName + "' takes " + shapeText(expected) + ": dimension " + i
                        + " must be " + expected[i]);
            }
        }
        long product = Tensor.shapeProduct(input.name(), shape);
        if (product != input.elementCount()) {
            throw OipException.badRequest("tensor '" + input.name() + "': shape " + Arrays.toString(shape) + " needs "
                    + product + " elements but data has " + input.elementCount());
        }
    }

    /** A shape as the metadata shows it, with -1 for a dynamic dimension. */
    static String shapeText(long[] shape) {
        return Arrays.toString(shape);
    }

    private static String describe(java.util.List<TensorSpec> specs) {
        return specs.stream().map(s -> s.name() + " (" + s.datatype() + " " + shapeText(s.shape()) + ")")
                .collect(Collectors.joining(", "));
    }
}
