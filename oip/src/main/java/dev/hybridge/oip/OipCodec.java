package dev.hybridge.oip;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import tools.jackson.core.JacksonException;
import tools.jackson.core.JsonGenerator;
import tools.jackson.core.JsonParser;
import tools.jackson.core.JsonToken;
import tools.jackson.core.ObjectReadContext;
import tools.jackson.core.ObjectWriteContext;
import tools.jackson.core.StreamReadConstraints;
import tools.jackson.core.StreamReadFeature;
import tools.jackson.core.StreamWriteFeature;
import tools.jackson.core.exc.StreamConstraintsException;
import tools.jackson.core.json.JsonFactory;

/**
 * Reads and writes OIP messages: JSON bodies, optionally followed by binary tensor data
 * (the binary tensor extension, where the header {@value #HEADER_LENGTH} gives the length of
 * the JSON part). Thread-safe; build one and share it.
 *
 * <p>Tensor data is parsed straight into primitive arrays, never boxed. Nested {@code data}
 * must follow the tensor's shape exactly; flat data must have as many elements as the shape.
 */
public final class OipCodec {

    /** HTTP header carrying the length of the JSON part when binary tensor data follows it. */
    public static final String HEADER_LENGTH = "Inference-Header-Content-Length";

    /**
     * The value of the {@value #HEADER_LENGTH} header: the JSON part's length, or -1 when the
     * header is absent (the body is all JSON).
     *
     * @throws OipException 400 when it is not a whole number of bytes
     */
    public static int jsonLengthHeader(String header) {
        if (header == null) {
            return -1;
        }
        try {
            int length = Integer.parseInt(header.trim());
            if (length < 0) {
                throw new NumberFormatException();
            }
            return length;
        } catch (NumberFormatException e) {
            throw OipException.badRequest(HEADER_LENGTH + " must be a whole number of bytes but was '" + header + "'");
        }
    }
    /** Request parameter asking for every output as binary data. */
    public static final String BINARY_DATA_OUTPUT = "binary_data_output";
    /** Output parameter asking for (or, in a response, announcing) binary data. */
    public static final String BINARY_DATA = "binary_data";
    /** Tensor parameter giving the size in bytes of the tensor's binary data. */
    public static final String BINARY_DATA_SIZE = "binary_data_size";
    public static final int DEFAULT_MAX_NESTING_DEPTH = 32;
    /** How deep a tensor's data array sits in a message: the message, the tensor list, the tensor. */
    private static final int TENSOR_DATA_DEPTH = 3;

    private final JsonFactory json;
    private final int maxNestingDepth;

    public OipCodec() {
        this(DEFAULT_MAX_NESTING_DEPTH);
    }

    /**
     * @param maxNestingDepth the deepest JSON nesting accepted; a request tensor nests its
     *                        data at depth 3 plus the tensor's rank
     */
    public OipCodec(int maxNestingDepth) {
        if (maxNestingDepth < 4) {
            throw new IllegalArgumentException("maxNestingDepth must be at least 4 but was " + maxNestingDepth);
        }
        this.maxNestingDepth = maxNestingDepth;
        this.json = JsonFactory.builder()
                .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(maxNestingDepth).build())
                .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                .enable(StreamReadFeature.USE_FAST_DOUBLE_PARSER)
                .enable(StreamWriteFeature.USE_FAST_DOUBLE_WRITER)
                .build();
    }

    public int maxNestingDepth() {
        return maxNestingDepth;
    }

    /** A message ready to send: the body and, when binary data follows the JSON, the JSON's length. */
    public record Encoded(byte[] body, int jsonLength) {
        public boolean hasBinary() {
            return jsonLength >= 0;
        }
    }

    // ------------------------------------------------------------------------------ requests

    /**
     * Decodes a request body.
     *
     * @param jsonLength the value of {@value #HEADER_LENGTH}, or -1 when the body is all JSON
     */
    public InferRequest decodeRequest(byte[] body, int jsonLength) {
        return decodeRequest(body, jsonLength, false);
    }

    /**
     * What a request says about itself without its data: id, parameters, each input's name,
     * datatype and shape, and the requested outputs. The JSON part is checked as in
     * {@link #decodeRequest}, but data arrays are skipped unread and binary data is not looked at;
     * for a router that forwards the body as it came, this costs a fraction of a full decode.
     */
    public RequestHeader decodeRequestHeader(byte[] body, int jsonLength) {
        InferRequest request = decodeRequest(body, jsonLength, true);
        List<TensorSpec> inputs = request.inputs().stream()
                .map(t -> new TensorSpec(t.name(), t.datatype(), t.shape())).toList();
        return new RequestHeader(request.id(), request.parameters(), inputs, request.outputs());
    }

    /** A request without its data: see {@link #decodeRequestHeader}. */
    public record RequestHeader(String id, Map<String, Object> parameters, List<TensorSpec> inputs,
                                List<InferRequest.RequestedOutput> outputs) {

        /** The request with no inputs: enough to encode a response as the request asked ({@link #encodeResponse}). */
        public InferRequest withoutInputs() {
            return new InferRequest(id, parameters, List.of(), outputs);
        }
    }

    private InferRequest decodeRequest(byte[] body, int jsonLength, boolean headerOnly) {
        int jsonEnd = jsonPartEnd(body, jsonLength);
        BinarySection binary = new BinarySection(body, jsonEnd);
        DataArrays arrays = DataArrays.locate(body, jsonEnd, "inputs", maxNestingDepth - TENSOR_DATA_DEPTH, !headerOnly);
        try (JsonParser p = json.createParser(ObjectReadContext.empty(), arrays.parsed(), 0, arrays.parsedLength())) {
            expectStartObject(p, "the request");
            String id = null;
            Map<String, Object> parameters = Map.of();
            List<Tensor> inputs = null;
            List<InferRequest.RequestedOutput> outputs = List.of();
            while (p.nextToken() == JsonToken.PROPERTY_NAME) {
                String field = p.currentName();
                JsonToken value = p.nextToken();
                switch (field) {
                    case "id" -> id = readString(p, value, "id");
                    case "parameters" -> parameters = readParameters(p, value, "parameters");
                    case "inputs" -> inputs = readTensors(p, value, "inputs", arrays, binary, true, headerOnly);
                    case "outputs" -> outputs = readRequestedOutputs(p, value);
                    default -> p.skipChildren();
                }
            }
            expectEnd(p);
            if (inputs == null) {
                throw OipException.badRequest("the request has no 'inputs'");
            }
            if (!headerOnly) {
                binary.expectAllConsumed();
            }
            return new InferRequest(id, parameters, inputs, outputs);
        } catch (StreamConstraintsException e) {
            throw tooDeep(e);
        } catch (JacksonException e) {
            throw malformed(e);
        }
    }

    /** Encodes a request; with {@code binaryInputs} every input travels as binary data. */
    public Encoded encodeRequest(InferRequest request, boolean binaryInputs) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(estimate(request.inputs(), name -> binaryInputs));
        List<byte[]> binaryParts = new ArrayList<>();
        try (JsonGenerator g = json.createGenerator(ObjectWriteContext.empty(), out)) {
            g.writeStartObject();
            if (request.id() != null) {
                g.writeStringProperty("id", request.id());
            }
            writeParameters(g, "parameters", request.parameters());
            g.writeName("inputs");
            writeTensors(g, request.inputs(), name -> binaryInputs, binaryParts);
            if (!request.outputs().isEmpty()) {
                g.writeName("outputs");
                g.writeStartArray();
                for (InferRequest.RequestedOutput output : request.outputs()) {
                    g.writeStartObject();
                    g.writeStringProperty("name", output.name());
                    writeParameters(g, "parameters", output.parameters());
                    g.writeEndObject();
                }
                g.writeEndArray();
            }
            g.writeEndObject();
        }
        return withBinary(out, binaryParts);
    }

    // ----------------------------------------------------------------------------- responses

    /** Whether the request asked for output {@code outputName} as binary data. */
    public static boolean wantsBinary(InferRequest request, String outputName) {
        for (InferRequest.RequestedOutput output : request.outputs()) {
            if (output.name().equals(outputName) && output.parameters().containsKey(BINARY_DATA)) {
                return Boolean.TRUE.equals(output.parameters().get(BINARY_DATA));
            }
        }
        return Boolean.TRUE.equals(request.parameters().get(BINARY_DATA_OUTPUT));
    }

    /** Encodes a response; outputs the request asked for as binary travel as binary data. */
    public Encoded encodeResponse(InferResponse response, InferRequest request) {
        java.util.function.Predicate<String> asBinary = name -> request != null && wantsBinary(request, name);
        ByteArrayOutputStream out = new ByteArrayOutputStream(estimate(response.outputs(), asBinary));
        List<byte[]> binaryParts = new ArrayList<>();
        try (JsonGenerator g = json.createGenerator(ObjectWriteContext.empty(), out)) {
            g.writeStartObject();
            g.writeStringProperty("model_name", response.modelName());
            if (response.modelVersion() != null) {
                g.writeStringProperty("model_version", response.modelVersion());
            }
            if (response.id() != null) {
                g.writeStringProperty("id", response.id());
            }
            writeParameters(g, "parameters", response.parameters());
            g.writeName("outputs");
            writeTensors(g, response.outputs(), asBinary, binaryParts);
            g.writeEndObject();
        }
        return withBinary(out, binaryParts);
    }

    /** Decodes a response body (for clients of an OIP server). */
    public InferResponse decodeResponse(byte[] body, int jsonLength) {
        int jsonEnd = jsonPartEnd(body, jsonLength);
        BinarySection binary = new BinarySection(body, jsonEnd);
        DataArrays arrays = DataArrays.locate(body, jsonEnd, "outputs", maxNestingDepth - TENSOR_DATA_DEPTH, true);
        try (JsonParser p = json.createParser(ObjectReadContext.empty(), arrays.parsed(), 0, arrays.parsedLength())) {
            expectStartObject(p, "the response");
            String modelName = null;
            String modelVersion = null;
            String id = null;
            Map<String, Object> parameters = Map.of();
            List<Tensor> outputs = List.of();
            while (p.nextToken() == JsonToken.PROPERTY_NAME) {
                String field = p.currentName();
                JsonToken value = p.nextToken();
                switch (field) {
                    case "model_name" -> modelName = readString(p, value, "model_name");
                    case "model_version" -> modelVersion = readString(p, value, "model_version");
                    case "id" -> id = readString(p, value, "id");
                    case "parameters" -> parameters = readParameters(p, value, "parameters");
                    case "outputs" -> outputs = readTensors(p, value, "outputs", arrays, binary, false, false);
                    default -> p.skipChildren();
                }
            }
            expectEnd(p);
            return new InferResponse(modelName, modelVersion, id, parameters, outputs);
        } catch (StreamConstraintsException e) {
            throw tooDeep(e);
        } catch (JacksonException e) {
            throw malformed(e);
        }
    }

    // ----------------------------------------------------------------------- other messages

    public byte[] encodeError(String message) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(64 + message.length());
        try (JsonGenerator g = json.createGenerator(ObjectWriteContext.empty(), out)) {
            g.writeStartObject();
            g.writeStringProperty("error", message);
            g.writeEndObject();
        }
        return out.toByteArray();
    }

    /** Reads the message of an OIP error body, or null when the body is not one. */
    public String decodeError(byte[] body) {
        try (JsonParser p = json.createParser(ObjectReadContext.empty(), body)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                return null;
            }
            while (p.nextToken() == JsonToken.PROPERTY_NAME) {
                String field = p.currentName();
                JsonToken value = p.nextToken();
                if (field.equals("error") && value == JsonToken.VALUE_STRING) {
                    return p.getString();
                }
                p.skipChildren();
            }
            return null;
        } catch (JacksonException e) {
            return null;
        }
    }

    public byte[] encodeServerMetadata(ServerMetadata metadata) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(256);
        try (JsonGenerator g = json.createGenerator(ObjectWriteContext.empty(), out)) {
            g.writeStartObject();
            g.writeStringProperty("name", metadata.name());
            g.writeStringProperty("version", metadata.version());
            g.writeName("extensions");
            g.writeStartArray();
            for (String extension : metadata.extensions()) {
                g.writeString(extension);
            }
            g.writeEndArray();
            g.writeEndObject();
        }
        return out.toByteArray();
    }

    public byte[] encodeModelMetadata(ModelMetadata metadata, Map<String, Object> parameters) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(512);
        try (JsonGenerator g = json.createGenerator(ObjectWriteContext.empty(), out)) {
            g.writeStartObject();
            g.writeStringProperty("name", metadata.name());
            g.writeName("versions");
            g.writeStartArray();
            for (String version : metadata.versions()) {
                g.writeString(version);
            }
            g.writeEndArray();
            g.writeStringProperty("platform", metadata.platform());
            writeSpecs(g, "inputs", metadata.inputs());
            writeSpecs(g, "outputs", metadata.outputs());
            writeParameters(g, "parameters", parameters);
            g.writeEndObject();
        }
        return out.toByteArray();
    }

    /** Decodes {@code GET /v2/models/{name}} (for clients of an OIP server). */
    public ModelMetadata decodeModelMetadata(byte[] body) {
        try (JsonParser p = json.createParser(ObjectReadContext.empty(), body)) {
            expectStartObject(p, "the model metadata");
            String name = null;
            String platform = null;
            List<String> versions = List.of();
            List<TensorSpec> inputs = List.of();
            List<TensorSpec> outputs = List.of();
            while (p.nextToken() == JsonToken.PROPERTY_NAME) {
                String field = p.currentName();
                JsonToken value = p.nextToken();
                switch (field) {
                    case "name" -> name = readString(p, value, "name");
                    case "platform" -> platform = readString(p, value, "platform");
                    case "versions" -> versions = readStrings(p, value, "versions");
                    case "inputs" -> inputs = readSpecs(p, value, "inputs");
                    case "outputs" -> outputs = readSpecs(p, value, "outputs");
                    default -> p.skipChildren();
                }
            }
            return new ModelMetadata(name, versions, platform, inputs, outputs);
        } catch (JacksonException e) {
            throw malformed(e);
        }
    }

    // ------------------------------------------------------------------------------ reading

    private static int jsonPartEnd(byte[] body, int jsonLength) {
        if (jsonLength < 0) {
            return body.length;
        }
        if (jsonLength > body.length) {
            throw OipException.badRequest(HEADER_LENGTH + " is " + jsonLength + " but the body has only "
                    + body.length + " bytes");
        }
        return jsonLength;
    }

    private static void expectStartObject(JsonParser p, String what) {
        JsonToken first = p.nextToken();
        if (first != JsonToken.START_OBJECT) {
            throw OipException.badRequest(what + " must be a JSON object but was "
                    + (first == null ? "empty" : ElementSink.describe(first)));
        }
    }

    private static void expectEnd(JsonParser p) {
        if (p.nextToken() != null) {
            throw OipException.badRequest("unexpected content after the JSON object");
        }
    }

    private static String readString(JsonParser p, JsonToken token, String field) {
        if (token == JsonToken.VALUE_NULL) {
            return null;
        }
        if (token != JsonToken.VALUE_STRING) {
            throw OipException.badRequest("'" + field + "' must be a string but was " + ElementSink.describe(token));
        }
        return p.getString();
    }

    private static List<String> readStrings(JsonParser p, JsonToken token, String field) {
        expectArray(token, field);
        List<String> values = new ArrayList<>();
        JsonToken t;
        while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
            values.add(readString(p, t, field + "[" + values.size() + "]"));
        }
        return values;
    }

    private static void expectArray(JsonToken token, String field) {
        if (token != JsonToken.START_ARRAY) {
            throw OipException.badRequest("'" + field + "' must be an array but was " + ElementSink.describe(token));
        }
    }

    /** Parameters map names to strings, numbers (Long or Double) and booleans, as the protocol allows. */
    private static Map<String, Object> readParameters(JsonParser p, JsonToken token, String field) {
        if (token == JsonToken.VALUE_NULL) {
            return Map.of();
        }
        if (token != JsonToken.START_OBJECT) {
            throw OipException.badRequest("'" + field + "' must be an object but was " + ElementSink.describe(token));
        }
        Map<String, Object> parameters = new LinkedHashMap<>();
        while (p.nextToken() == JsonToken.PROPERTY_NAME) {
            String name = p.currentName();
            JsonToken value = p.nextToken();
            parameters.put(name, switch (value) {
                case VALUE_STRING -> p.getString();
                case VALUE_TRUE -> Boolean.TRUE;
                case VALUE_FALSE -> Boolean.FALSE;
                case VALUE_NUMBER_INT -> {
                    if (p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
                        throw OipException.badRequest(field + "." + name + " is too large a number");
                    }
                    yield p.getLongValue();
                }
                case VALUE_NUMBER_FLOAT -> p.getDoubleValue();
                default -> throw OipException.badRequest(field + "." + name
                        + " must be a string, number or boolean but was " + ElementSink.describe(value));
            });
        }
        return parameters;
    }

    private static List<InferRequest.RequestedOutput> readRequestedOutputs(JsonParser p, JsonToken token) {
        expectArray(token, "outputs");
        List<InferRequest.RequestedOutput> outputs = new ArrayList<>();
        JsonToken t;
        while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
            String where = "outputs[" + outputs.size() + "]";
            if (t != JsonToken.START_OBJECT) {
                throw OipException.badRequest(where + " must be an object but was " + ElementSink.describe(t));
            }
            String name = null;
            Map<String, Object> parameters = Map.of();
            while (p.nextToken() == JsonToken.PROPERTY_NAME) {
                String field = p.currentName();
                JsonToken value = p.nextToken();
                switch (field) {
                    case "name" -> name = readString(p, value, where + ".name");
                    case "parameters" -> parameters = readParameters(p, value, where + ".parameters");
                    default -> p.skipChildren();
                }
            }
            if (name == null) {
                throw OipException.badRequest(where + " has no 'name'");
            }
            outputs.add(new InferRequest.RequestedOutput(name, parameters));
        }
        return outputs;
    }

    private List<Tensor> readTensors(JsonParser p, JsonToken token, String field, DataArrays arrays,
                                     BinarySection binary, boolean requireData, boolean headerOnly) {
        expectArray(token, field);
        List<Tensor> tensors = new ArrayList<>();
        JsonToken t;
        while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
            String where = field + "[" + tensors.size() + "]";
            if (t != JsonToken.START_OBJECT) {
                throw OipException.badRequest(where + " must be an object but was " + ElementSink.describe(t));
            }
            tensors.add(readTensor(p, where, arrays, binary, requireData, headerOnly));
        }
        return tensors;
    }

    /** @param headerOnly skip the data: the tensor comes back with an empty data array */
    private Tensor readTensor(JsonParser p, String where, DataArrays arrays, BinarySection binary,
                              boolean requireData, boolean headerOnly) {
        String name = null;
        Datatype datatype = null;
        long[] shape = null;
        Map<String, Object> parameters = Map.of();
        Object data = null;
        NestingProfile nesting = null;
        int cut = -1;
        boolean sawData = false;
        int deferredStart = -1;
        int deferredEnd = -1;
        while (p.nextToken() == JsonToken.PROPERTY_NAME) {
            String field = p.currentName();
            JsonToken value = p.nextToken();
            switch (field) {
                case "name" -> name = readString(p, value, where + ".name");
                case "datatype" -> datatype = Datatype.fromWire(readString(p, value, where + ".datatype"));
                case "shape" -> shape = readShape(p, value, name == null ? where : "tensor '" + name + "'");
                case "parameters" -> parameters = readParameters(p, value, where + ".parameters");
                case "data" -> {
                    expectArray(value, where + ".data");
                    sawData = true;
                    cut = arrays.cutAt((int) p.currentTokenLocation().getByteOffset());
                    if (headerOnly) {
                        p.skipChildren(); // present, left unread
                        cut = -1;
                    } else if (cut >= 0) {
                        p.skipChildren(); // the parser sees "[]": the array is read from the original below
                    } else if (datatype != null) {
                        nesting = new NestingProfile();
                        data = readData(p, ElementSink.forDatatype(name == null ? where : name, datatype), nesting);
                    } else {
                        // datatype comes later: note where the array is and parse it once it is known
                        deferredStart = (int) p.currentTokenLocation().getByteOffset();
                        p.skipChildren();
                        deferredEnd = (int) p.currentTokenLocation().getByteOffset() + 1;
                    }
                }
                default -> p.skipChildren();
            }
        }
        if (name == null) {
            throw OipException.badRequest(where + " has no 'name'");
        }
        if (datatype == null) {
            throw OipException.badRequest("tensor '" + name + "' has no 'datatype'");
        }
        if (shape == null) {
            throw OipException.badRequest("tensor '" + name + "' has no 'shape'");
        }
        long expected = Tensor.shapeProduct(name, shape);
        if (headerOnly) {
            Object binarySize = parameters.get(BINARY_DATA_SIZE);
            if (binarySize != null && sawData) {
                throw OipException.badRequest("tensor '" + name + "' has both 'data' and " + BINARY_DATA_SIZE);
            }
            if (binarySize == null && !sawData && requireData) {
                throw OipException.badRequest("tensor '" + name + "' has no 'data' and no " + BINARY_DATA_SIZE);
            }
            return new Tensor(name, datatype, shape,
                    java.lang.reflect.Array.newInstance(datatype.arrayType().getComponentType(), 0), parameters);
        }
        if (cut >= 0) {
            data = arrays.numbers(cut).toArray(datatype);
            nesting = arrays.numbers(cut).nesting();
            if (data == null) {
                nesting = new NestingProfile();
                data = readDataFrom(arrays.original(), arrays.start(cut), arrays.end(cut), name, datatype, nesting);
            }
        } else if (deferredStart >= 0) {
            nesting = new NestingProfile();
            data = readDataFrom(arrays.parsed(), deferredStart, deferredEnd, name, datatype, nesting);
        }
        Object binarySize = parameters.get(BINARY_DATA_SIZE);
        if (binarySize != null) {
            if (data != null) {
                throw OipException.badRequest("tensor '" + name + "' has both 'data' and " + BINARY_DATA_SIZE);
            }
            if (!(binarySize instanceof Long size) || size < 0) {
                throw OipException.badRequest("tensor '" + name + "': " + BINARY_DATA_SIZE
                        + " must be a whole number of bytes but was " + binarySize);
            }
            data = binary.take(name, datatype, size);
            Map<String, Object> rest = new LinkedHashMap<>(parameters);
            rest.remove(BINARY_DATA_SIZE);
            parameters = rest;
        } else if (data == null) {
            if (requireData) {
                throw OipException.badRequest("tensor '" + name + "' has no 'data' and no " + BINARY_DATA_SIZE);
            }
            data = java.lang.reflect.Array.newInstance(datatype.arrayType().getComponentType(), 0);
        }
        int count = Tensor.elementCount(data);
        if (nesting != null) {
            nesting.check(name, shape);
        }
        if (count != expected) {
            throw OipException.badRequest("tensor '" + name + "': shape " + Arrays.toString(shape) + " needs "
                    + expected + " elements but data has " + count);
        }
        return new Tensor(name, datatype, shape, data, parameters);
    }

    private static long[] readShape(JsonParser p, JsonToken token, String where) {
        expectArray(token, where + ".shape");
        long[] dims = new long[8];
        int rank = 0;
        JsonToken t;
        while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
            if (t != JsonToken.VALUE_NUMBER_INT || p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
                throw OipException.badRequest(where + ": shape must hold whole numbers but dimension " + rank
                        + " is " + (t == JsonToken.VALUE_NUMBER_INT ? "too large" : ElementSink.describe(t)));
            }
            long d = p.getLongValue();
            if (d < 0) {
                throw OipException.badRequest(where + ": dimension " + rank + " is " + d
                        + "; dimensions must be zero or more");
            }
            if (rank == dims.length) {
                dims = Arrays.copyOf(dims, rank * 2);
            }
            dims[rank++] = d;
        }
        return Arrays.copyOf(dims, rank);
    }

    /** Reads the data array {@code bytes[start, end)} with a parser of its own. */
    private Object readDataFrom(byte[] bytes, int start, int end, String tensorName, Datatype datatype,
                                NestingProfile nesting) {
        try (JsonParser sub = json.createParser(ObjectReadContext.empty(), bytes, start, end - start)) {
            sub.nextToken();
            return readData(sub, ElementSink.forDatatype(tensorName, datatype), nesting);
        }
    }

    /** Reads a data array (current token START_ARRAY), flattening nested arrays row-major. */
    private static Object readData(JsonParser p, ElementSink sink, NestingProfile nesting) {
        readLevel(p, sink, nesting, 0);
        return sink.toArray();
    }

    private static void readLevel(JsonParser p, ElementSink sink, NestingProfile nesting, int level) {
        int count = 0;
        boolean sawArray = false;
        boolean sawScalar = false;
        JsonToken t;
        while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
            if (t == JsonToken.START_ARRAY) {
                sawArray = true;
                readLevel(p, sink, nesting, level + 1);
            } else {
                sawScalar = true;
                sink.accept(p, t);
            }
            count++;
        }
        nesting.record(sink.tensorName, level, count, sawArray, sawScalar);
    }

    /** The lengths of nested data arrays, level by level, to check against the shape. */
    static final class NestingProfile {
        private long[] lengths = {-1, -1, -1, -1}; // -1: no array at this level has ended yet
        private int depth; // number of array levels seen
        private int leafLevel = -1;

        void record(String tensor, int level, int count, boolean sawArray, boolean sawScalar) {
            if (sawArray && sawScalar) {
                throw OipException.badRequest("tensor '" + tensor + "': data mixes values and arrays at nesting level "
                        + level);
            }
            if (level >= lengths.length) {
                int old = lengths.length;
                lengths = Arrays.copyOf(lengths, Math.max(level + 1, old * 2));
                Arrays.fill(lengths, old, lengths.length, -1);
            }
            // inner arrays end before outer ones, so a level's first length can arrive after deeper levels'
            if (lengths[level] < 0) {
                depth = Math.max(depth, level + 1);
                lengths[level] = count;
            } else if (lengths[level] != count) {
                throw OipException.badRequest("tensor '" + tensor + "': nested data is ragged: arrays at nesting level "
                        + level + " have " + lengths[level] + " and " + count + " elements");
            }
            if (sawScalar) {
                if (leafLevel >= 0 && leafLevel != level) {
                    throw OipException.badRequest("tensor '" + tensor + "': values sit at different nesting levels ("
                            + leafLevel + " and " + level + ")");
                }
                leafLevel = level;
            }
        }

        void check(String tensor, long[] shape) {
            if (depth <= 1) {
                return; // flat data: only the element count matters
            }
            long[] nested = Arrays.copyOf(lengths, depth);
            if (depth != shape.length || !Arrays.equals(nested, shape)) {
                throw OipException.badRequest("tensor '" + tensor + "': nested data has shape " + Arrays.toString(nested)
                        + " but the tensor's shape is " + Arrays.toString(shape) + "; send flat data or nest it as the shape says");
            }
        }
    }

    /** The binary data after the JSON part, handed out in order to the tensors that announce a size. */
    private static final class BinarySection {
        private final byte[] body;
        private int position;

        BinarySection(byte[] body, int start) {
            this.body = body;
            this.position = start;
        }

        Object take(String tensor, Datatype datatype, long size) {
            if (size > body.length - position) {
                throw OipException.badRequest("tensor '" + tensor + "': " + BINARY_DATA_SIZE + " is " + size
                        + " but only " + (body.length - position) + " bytes of binary data remain");
            }
            Object data = BinaryTensors.decode(tensor, datatype, body, position, (int) size);
            position += (int) size;
            return data;
        }

        void expectAllConsumed() {
            if (position != body.length) {
                throw OipException.badRequest((body.length - position)
                        + " bytes of binary data follow the JSON part but no tensor claims them");
            }
        }
    }

    private static List<TensorSpec> readSpecs(JsonParser p, JsonToken token, String field) {
        expectArray(token, field);
        List<TensorSpec> specs = new ArrayList<>();
        JsonToken t;
        while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
            if (t != JsonToken.START_OBJECT) {
                throw OipException.badRequest(field + " must hold objects");
            }
            String name = null;
            Datatype datatype = null;
            long[] shape = new long[0];
            while (p.nextToken() == JsonToken.PROPERTY_NAME) {
                String f = p.currentName();
                JsonToken value = p.nextToken();
                switch (f) {
                    case "name" -> name = readString(p, value, field + ".name");
                    case "datatype" -> datatype = Datatype.fromWire(readString(p, value, field + ".datatype"));
                    case "shape" -> {
                        expectArray(value, field + ".shape");
                        List<Long> dims = new ArrayList<>();
                        while (p.nextToken() != JsonToken.END_ARRAY) {
                            dims.add(p.getLongValue());
                        }
                        shape = dims.stream().mapToLong(Long::longValue).toArray();
                    }
                    default -> p.skipChildren();
                }
            }
            specs.add(new TensorSpec(name, datatype, shape));
        }
        return specs;
    }

    private OipException tooDeep(StreamConstraintsException e) {
        String message = e.getOriginalMessage();
        if (message == null || !message.contains("nesting depth")) {
            return malformed(e); // another parser limit (number or string length): say which
        }
        return OipException.badRequest("JSON nests deeper than the limit of " + maxNestingDepth + " levels");
    }

    private static OipException malformed(JacksonException e) {
        var location = e.getLocation();
        String where = location == null ? "" : " at line " + location.getLineNr() + ", column " + location.getColumnNr();
        return OipException.badRequest("malformed JSON" + where + ": " + e.getOriginalMessage());
    }

    // ------------------------------------------------------------------------------ writing

    /** Room for the JSON part: tensors written as JSON take up to 16 bytes a value, binary ones only their header. */
    private static int estimate(List<Tensor> tensors, java.util.function.Predicate<String> asBinary) {
        long total = 256;
        for (Tensor t : tensors) {
            total += (asBinary.test(t.name()) ? 0 : 16L * Tensor.elementCount(t.data())) + 128;
        }
        return (int) Math.min(total, 64 << 20);
    }

    /** The JSON part and the binary parts after it, copied once into a body of the exact size. */
    private static Encoded withBinary(ByteArrayOutputStream out, List<byte[]> binaryParts) {
        if (binaryParts.isEmpty()) {
            return new Encoded(out.toByteArray(), -1);
        }
        int jsonLength = out.size();
        long size = jsonLength;
        for (byte[] part : binaryParts) {
            size += part.length;
        }
        if (size > Integer.MAX_VALUE - 8) {
            throw new OipException(413, "the encoded message would be " + size + " bytes, more than an array holds");
        }
        byte[] body = Arrays.copyOf(out.toByteArray(), (int) size);
        int at = jsonLength;
        for (byte[] part : binaryParts) {
            System.arraycopy(part, 0, body, at, part.length);
            at += part.length;
        }
        return new Encoded(body, jsonLength);
    }

    private static void writeParameters(JsonGenerator g, String field, Map<String, Object> parameters) {
        if (parameters.isEmpty()) {
            return;
        }
        g.writeName(field);
        g.writeStartObject();
        for (Map.Entry<String, Object> e : parameters.entrySet()) {
            g.writeName(e.getKey());
            Object v = e.getValue();
            if (v instanceof String s) {
                g.writeString(s);
            } else if (v instanceof Boolean b) {
                g.writeBoolean(b);
            } else if (v instanceof Long || v instanceof Integer || v instanceof Short || v instanceof Byte) {
                g.writeNumber(((Number) v).longValue());
            } else if (v instanceof Number n) {
                g.writeNumber(n.doubleValue());
            } else {
                g.writeString(String.valueOf(v));
            }
        }
        g.writeEndObject();
    }

    private static void writeSpecs(JsonGenerator g, String field, List<TensorSpec> specs) {
        g.writeName(field);
        g.writeStartArray();
        for (TensorSpec spec : specs) {
            g.writeStartObject();
            g.writeStringProperty("name", spec.name());
            g.writeStringProperty("datatype", spec.datatype().name());
            g.writeName("shape");
            g.writeArray(spec.shape(), 0, spec.shape().length);
            g.writeEndObject();
        }
        g.writeEndArray();
    }

    private static void writeTensors(JsonGenerator g, List<Tensor> tensors,
                                     java.util.function.Predicate<String> asBinary, List<byte[]> binaryParts) {
        g.writeStartArray();
        for (Tensor t : tensors) {
            g.writeStartObject();
            g.writeStringProperty("name", t.name());
            g.writeStringProperty("datatype", t.datatype().name());
            g.writeName("shape");
            g.writeArray(t.shape(), 0, t.shape().length);
            if (asBinary.test(t.name())) {
                byte[] bytes = BinaryTensors.encode(t);
                Map<String, Object> parameters = new LinkedHashMap<>(t.parameters());
                parameters.put(BINARY_DATA_SIZE, (long) bytes.length);
                writeParameters(g, "parameters", parameters);
                binaryParts.add(bytes);
            } else {
                writeParameters(g, "parameters", t.parameters());
                g.writeName("data");
                writeData(g, t);
            }
            g.writeEndObject();
        }
        g.writeEndArray();
    }

    private static void writeData(JsonGenerator g, Tensor t) {
        Object data = t.data();
        g.writeStartArray();
        switch (t.datatype()) {
            case BOOL -> {
                for (boolean v : (boolean[]) data) {
                    g.writeBoolean(v);
                }
            }
            case UINT8 -> {
                for (byte v : (byte[]) data) {
                    g.writeNumber(v & 0xFF);
                }
            }
            case INT8 -> {
                for (byte v : (byte[]) data) {
                    g.writeNumber(v);
                }
            }
            case UINT16 -> {
                for (short v : (short[]) data) {
                    g.writeNumber(v & 0xFFFF);
                }
            }
            case INT16 -> {
                for (short v : (short[]) data) {
                    g.writeNumber(v);
                }
            }
            case FP16 -> {
                for (short v : (short[]) data) {
                    g.writeNumber(HalfFloats.fp16ToFloat(v));
                }
            }
            case BF16 -> {
                for (short v : (short[]) data) {
                    g.writeNumber(HalfFloats.bf16ToFloat(v));
                }
            }
            case UINT32 -> {
                for (int v : (int[]) data) {
                    g.writeNumber(v & 0xFFFFFFFFL);
                }
            }
            case INT32 -> {
                int[] values = (int[]) data;
                for (int v : values) {
                    g.writeNumber(v);
                }
            }
            case UINT64 -> {
                for (long v : (long[]) data) {
                    if (v >= 0) {
                        g.writeNumber(v);
                    } else {
                        g.writeNumber(Long.toUnsignedString(v));
                    }
                }
            }
            case INT64 -> {
                for (long v : (long[]) data) {
                    g.writeNumber(v);
                }
            }
            case FP32 -> {
                for (float v : (float[]) data) {
                    g.writeNumber(v);
                }
            }
            case FP64 -> {
                for (double v : (double[]) data) {
                    g.writeNumber(v);
                }
            }
            case BYTES -> {
                for (byte[] v : (byte[][]) data) {
                    g.writeString(new String(v, StandardCharsets.UTF_8));
                }
            }
            default -> throw new IllegalStateException("unhandled datatype " + t.datatype());
        }
        g.writeEndArray();
    }
}
