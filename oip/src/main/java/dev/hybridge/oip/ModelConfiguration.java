package dev.hybridge.oip;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import tools.jackson.core.JacksonException;
import tools.jackson.core.JsonGenerator;
import tools.jackson.core.JsonParser;
import tools.jackson.core.JsonToken;
import tools.jackson.core.ObjectReadContext;
import tools.jackson.core.ObjectWriteContext;
import tools.jackson.core.json.JsonFactory;

/**
 * What {@code GET /v2/models/{name}/config} returns: Triton's {@code model_configuration}
 * extension, with Triton's field names, so that its tools (perf_analyzer, model analyzer) and
 * clients ({@code get_model_config}) read it as they read Triton's.
 *
 * <p>As in Triton, when {@code maxBatchSize} is above 0 the first dimension of every input and
 * output is the batch and is left out of {@code dims}; with 0 the dims are the full shape.
 *
 * @param name            the model (or route) name
 * @param platform        {@code onnxruntime_onnx}
 * @param backend         {@code onnxruntime}
 * @param maxBatchSize    the most rows a dynamic batch holds; 0 when the model cannot batch
 * @param inputs          the inputs, dims as described above
 * @param outputs         the outputs, dims as described above
 * @param dynamicBatching the batcher's settings, or null when requests run one by one
 * @param instanceKind    {@code KIND_CPU} or {@code KIND_GPU}
 * @param parameters      free-form string parameters (Triton's {@code parameters} map)
 * @param optionalInputs  the inputs a request may leave out (Triton's {@code optional}): the model
 *                        has a default for them
 */
public record ModelConfiguration(String name, String platform, String backend, int maxBatchSize,
                                 List<TensorSpec> inputs, List<TensorSpec> outputs, DynamicBatching dynamicBatching,
                                 String instanceKind, Map<String, String> parameters, Set<String> optionalInputs) {

    /** The extension's name in {@code GET /v2}. */
    public static final String EXTENSION = "model_configuration";

    private static final JsonFactory JSON = JsonFactory.builder().build();

    public ModelConfiguration {
        inputs = List.copyOf(inputs);
        outputs = List.copyOf(outputs);
        parameters = Map.copyOf(parameters);
        optionalInputs = optionalInputs == null ? Set.of() : Set.copyOf(optionalInputs);
    }

    /** A configuration whose inputs are all required. */
    public ModelConfiguration(String name, String platform, String backend, int maxBatchSize, List<TensorSpec> inputs,
                              List<TensorSpec> outputs, DynamicBatching dynamicBatching, String instanceKind,
                              Map<String, String> parameters) {
        this(name, platform, backend, maxBatchSize, inputs, outputs, dynamicBatching, instanceKind, parameters, Set.of());
    }

    /**
     * Triton's dynamic batching block.
     *
     * @param maxQueueDelayMicroseconds how long the oldest request waits for company
     * @param maxQueueSize              requests waiting beyond this are refused (503)
     */
    public record DynamicBatching(long maxQueueDelayMicroseconds, int maxQueueSize) {
    }

    /**
     * The configuration of a model with this metadata: when {@code maxBatchSize} is above 0 the
     * leading (batch) dimension is taken off every shape.
     */
    public static ModelConfiguration of(ModelMetadata metadata, String backend, int maxBatchSize,
                                        DynamicBatching dynamicBatching, String instanceKind,
                                        Map<String, String> parameters, Set<String> optionalInputs) {
        return new ModelConfiguration(metadata.name(), metadata.platform(), backend, maxBatchSize,
                dims(metadata.inputs(), maxBatchSize), dims(metadata.outputs(), maxBatchSize), dynamicBatching,
                instanceKind, parameters, optionalInputs);
    }

    private static List<TensorSpec> dims(List<TensorSpec> specs, int maxBatchSize) {
        if (maxBatchSize <= 0) {
            return specs;
        }
        return specs.stream().map(s -> new TensorSpec(s.name(), s.datatype(),
                Arrays.copyOfRange(s.shape(), Math.min(1, s.shape().length), s.shape().length))).toList();
    }

    /** The same configuration under another name, with only the named outputs (a route's, say). */
    public ModelConfiguration renamed(String newName, Set<String> keptOutputs) {
        return new ModelConfiguration(newName, platform, backend, maxBatchSize, inputs,
                outputs.stream().filter(o -> keptOutputs.contains(o.name())).toList(), dynamicBatching, instanceKind,
                parameters, optionalInputs);
    }

    /** Triton's name for a datatype: {@code TYPE_FP32}; BYTES is {@code TYPE_STRING}. */
    public static String tritonType(Datatype datatype) {
        return datatype == Datatype.BYTES ? "TYPE_STRING" : "TYPE_" + datatype.name();
    }

    static Datatype fromTritonType(String type) {
        if (type == null || !type.startsWith("TYPE_")) {
            throw OipException.badRequest("unknown data_type '" + type + "' in a model configuration");
        }
        return type.equals("TYPE_STRING") ? Datatype.BYTES : Datatype.fromWire(type.substring(5));
    }

    public byte[] encode() {
        ByteArrayOutputStream out = new ByteArrayOutputStream(512);
        try (JsonGenerator g = JSON.createGenerator(ObjectWriteContext.empty(), out)) {
            g.writeStartObject();
            g.writeStringProperty("name", name);
            g.writeStringProperty("platform", platform);
            g.writeStringProperty("backend", backend);
            g.writeName("version_policy");
            g.writeStartObject();
            g.writeName("latest");
            g.writeStartObject();
            g.writeNumberProperty("num_versions", 1);
            g.writeEndObject();
            g.writeEndObject();
            g.writeNumberProperty("max_batch_size", maxBatchSize);
            writeTensors(g, "input", inputs, true);
            writeTensors(g, "output", outputs, false);
            if (dynamicBatching != null) {
                g.writeName("dynamic_batching");
                g.writeStartObject();
                g.writeName("preferred_batch_size");
                g.writeStartArray();
                g.writeEndArray();
                g.writeNumberProperty("max_queue_delay_microseconds", dynamicBatching.maxQueueDelayMicroseconds());
                g.writeBooleanProperty("preserve_ordering", false);
                g.writeName("default_queue_policy");
                g.writeStartObject();
                g.writeStringProperty("timeout_action", "REJECT");
                g.writeNumberProperty("default_timeout_microseconds", 0);
                g.writeBooleanProperty("allow_timeout_override", false);
                g.writeNumberProperty("max_queue_size", dynamicBatching.maxQueueSize());
                g.writeEndObject();
                g.writeEndObject();
            }
            g.writeName("instance_group");
            g.writeStartArray();
            g.writeStartObject();
            g.writeStringProperty("name", name);
            g.writeStringProperty("kind", instanceKind);
            g.writeNumberProperty("count", 1);
            g.writeEndObject();
            g.writeEndArray();
            g.writeName("model_transaction_policy");
            g.writeStartObject();
            g.writeBooleanProperty("decoupled", false);
            g.writeEndObject();
            g.writeName("parameters");
            g.writeStartObject();
            for (Map.Entry<String, String> e : parameters.entrySet()) {
                g.writeName(e.getKey());
                g.writeStartObject();
                g.writeStringProperty("string_value", e.getValue());
                g.writeEndObject();
            }
            g.writeEndObject();
            g.writeEndObject();
        }
        return out.toByteArray();
    }

    private void writeTensors(JsonGenerator g, String field, List<TensorSpec> specs, boolean inputs) {
        g.writeName(field);
        g.writeStartArray();
        for (TensorSpec spec : specs) {
            g.writeStartObject();
            g.writeStringProperty("name", spec.name());
            g.writeStringProperty("data_type", tritonType(spec.datatype()));
            if (inputs) {
                g.writeStringProperty("format", "FORMAT_NONE");
            }
            g.writeName("dims");
            g.writeArray(spec.shape(), 0, spec.shape().length);
            g.writeBooleanProperty("is_shape_tensor", false);
            if (inputs) {
                g.writeBooleanProperty("allow_ragged_batch", false);
                g.writeBooleanProperty("optional", optionalInputs.contains(spec.name()));
            }
            g.writeEndObject();
        }
        g.writeEndArray();
    }

    /**
     * Reads a configuration as this project writes it, or as Triton does (its other fields are
     * skipped; 64-bit numbers may come as strings, protobuf's JSON form).
     */
    public static ModelConfiguration decode(byte[] body) {
        try (JsonParser p = JSON.createParser(ObjectReadContext.empty(), body)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw OipException.badRequest("a model configuration must be a JSON object");
            }
            String name = null;
            String platform = "";
            String backend = "";
            int maxBatchSize = 0;
            List<TensorSpec> inputs = List.of();
            List<TensorSpec> outputs = List.of();
            DynamicBatching batching = null;
            String kind = "KIND_CPU";
            Map<String, String> parameters = new LinkedHashMap<>();
            Set<String> optional = new HashSet<>();
            while (p.nextToken() == JsonToken.PROPERTY_NAME) {
                String field = p.currentName();
                JsonToken value = p.nextToken();
                switch (field) {
                    case "name" -> name = p.getString();
                    case "platform" -> platform = p.getString();
                    case "backend" -> backend = p.getString();
                    case "max_batch_size" -> maxBatchSize = (int) number(p, value);
                    case "input" -> inputs = readTensors(p, value, optional);
                    case "output" -> outputs = readTensors(p, value, new HashSet<>());
                    case "dynamic_batching" -> batching = readBatching(p, value);
                    case "instance_group" -> kind = readKind(p, value, kind);
                    case "parameters" -> readParameters(p, value, parameters);
                    default -> p.skipChildren();
                }
            }
            return new ModelConfiguration(name, platform, backend, maxBatchSize, inputs, outputs, batching, kind,
                    parameters, optional);
        } catch (JacksonException | NumberFormatException e) {
            throw OipException.badRequest("malformed model configuration: " + e.getMessage());
        }
    }

    private static long number(JsonParser p, JsonToken token) {
        return token == JsonToken.VALUE_STRING ? Long.parseLong(p.getString().trim()) : p.getLongValue();
    }

    /** The tensors of an {@code input} or {@code output} list; those marked {@code optional} are added to optional. */
    private static List<TensorSpec> readTensors(JsonParser p, JsonToken token, Set<String> optional) {
        List<TensorSpec> specs = new ArrayList<>();
        if (token != JsonToken.START_ARRAY) {
            p.skipChildren();
            return specs;
        }
        while (p.nextToken() == JsonToken.START_OBJECT) {
            String name = null;
            Datatype datatype = null;
            long[] dims = new long[0];
            boolean isOptional = false;
            while (p.nextToken() == JsonToken.PROPERTY_NAME) {
                String field = p.currentName();
                JsonToken value = p.nextToken();
                switch (field) {
                    case "name" -> name = p.getString();
                    case "data_type" -> datatype = fromTritonType(p.getString());
                    case "dims" -> {
                        List<Long> read = new ArrayList<>();
                        JsonToken t;
                        while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
                            read.add(number(p, t));
                        }
                        dims = read.stream().mapToLong(Long::longValue).toArray();
                    }
                    case "optional" -> isOptional = value == JsonToken.VALUE_TRUE;
                    default -> p.skipChildren();
                }
            }
            specs.add(new TensorSpec(name, datatype, dims));
            if (isOptional) {
                optional.add(name);
            }
        }
        return specs;
    }

    private static DynamicBatching readBatching(JsonParser p, JsonToken token) {
        if (token != JsonToken.START_OBJECT) {
            p.skipChildren();
            return null;
        }
        long delay = 0;
        int queue = 0;
        while (p.nextToken() == JsonToken.PROPERTY_NAME) {
            String field = p.currentName();
            JsonToken value = p.nextToken();
            if (field.equals("max_queue_delay_microseconds")) {
                delay = number(p, value);
            } else if (field.equals("default_queue_policy") && value == JsonToken.START_OBJECT) {
                while (p.nextToken() == JsonToken.PROPERTY_NAME) {
                    String inner = p.currentName();
                    JsonToken v = p.nextToken();
                    if (inner.equals("max_queue_size")) {
                        queue = (int) number(p, v);
                    } else {
                        p.skipChildren();
                    }
                }
            } else {
                p.skipChildren();
            }
        }
        return new DynamicBatching(delay, queue);
    }

    private static String readKind(JsonParser p, JsonToken token, String fallback) {
        String kind = fallback;
        if (token != JsonToken.START_ARRAY) {
            p.skipChildren();
            return kind;
        }
        boolean first = true;
        while (p.nextToken() == JsonToken.START_OBJECT) {
            while (p.nextToken() == JsonToken.PROPERTY_NAME) {
                String field = p.currentName();
                p.nextToken();
                if (first && field.equals("kind")) {
                    kind = p.getString();
                } else {
                    p.skipChildren();
                }
            }
            first = false;
        }
        return kind;
    }

    private static void readParameters(JsonParser p, JsonToken token, Map<String, String> into) {
        if (token != JsonToken.START_OBJECT) {
            p.skipChildren();
            return;
        }
        while (p.nextToken() == JsonToken.PROPERTY_NAME) {
            String key = p.currentName();
            if (p.nextToken() != JsonToken.START_OBJECT) {
                p.skipChildren();
                continue;
            }
            while (p.nextToken() == JsonToken.PROPERTY_NAME) {
                String field = p.currentName();
                p.nextToken();
                if (field.equals("string_value")) {
                    into.put(key, p.getString());
                } else {
                    p.skipChildren();
                }
            }
        }
    }
}
