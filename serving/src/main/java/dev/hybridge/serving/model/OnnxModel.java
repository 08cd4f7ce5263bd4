package dev.hybridge.serving.model;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtProvider;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import dev.hybridge.oip.ClassifierParameters;
import dev.hybridge.oip.Datatype;
import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.InferResponse;
import dev.hybridge.oip.ModelMetadata;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.OipException;
import dev.hybridge.oip.Tensor;
import dev.hybridge.oip.TensorSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One ONNX model: a single {@link OrtSession} shared by every thread, its OIP metadata, and
 * how to read confidence from its outputs. Runs single requests and merged batches.
 */
public final class OnnxModel implements AutoCloseable {

    public static final String MODEL_FILE = "model.onnx";
    public static final String PLATFORM = "onnxruntime_onnx";

    private static final Logger log = LoggerFactory.getLogger(OnnxModel.class);

    private final String name;
    private final ModelConfig config;
    private final ModelMetadata metadata;
    private final OrtEnvironment env;
    private final OrtSession session;
    private final OrtProvider provider;
    private final boolean batchable;
    private final Map<String, Datatype> outputTypes;
    private final Set<String> allOutputs;
    /** The most values an input default is filled out to for one request (64 MB of FP32). */
    public static final long MAX_DEFAULT_VALUES = 16L << 20;

    /** The inputs a request may leave out, with one row of what is fed instead (config.yaml's inputs). */
    private final Map<String, Default> defaults;

    private OnnxModel(String name, ModelConfig config, ModelMetadata metadata, OrtEnvironment env,
                      OrtSession session, OrtProvider provider, boolean batchable, Map<String, Default> defaults) {
        this.name = name;
        this.defaults = defaults;
        this.config = config;
        this.metadata = metadata;
        this.env = env;
        this.session = session;
        this.provider = provider;
        this.batchable = batchable;
        this.outputTypes = new HashMap<>();
        this.allOutputs = new LinkedHashSet<>(); // metadata order, so answers list outputs as metadata does
        for (TensorSpec spec : metadata.outputs()) {
            outputTypes.put(spec.name(), spec.datatype());
            allOutputs.add(spec.name());
        }
    }

    /** Loads {@code folder/model.onnx} (and its {@code config.yaml}); the model's name is the folder's. */
    public static OnnxModel load(OrtEnvironment env, Path folder, HostSettings settings) {
        String name = folder.getFileName().toString();
        Path file = folder.resolve(MODEL_FILE);
        if (!Files.isRegularFile(file)) {
            throw new ModelLoadException(folder + ": no " + MODEL_FILE);
        }
        ModelConfig config = ModelConfig.load(folder);
        OrtSession session = null;
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            int intra = config.threads() != null && config.threads().intraOp() != null
                    ? config.threads().intraOp() : settings.intraOpThreads();
            int inter = config.threads() != null && config.threads().interOp() != null
                    ? config.threads().interOp() : settings.interOpThreads();
            options.setIntraOpNumThreads(intra);
            options.setInterOpNumThreads(inter);
            // Spinning threads burn a core while idle; on a small machine that starves everything else.
            options.addConfigEntry("session.intra_op.allow_spinning", "0");
            options.addConfigEntry("session.inter_op.allow_spinning", "0");
            options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            OrtProvider provider = chooseProvider(options, settings, name);
            // from the path, not the bytes: external weight files are found beside the model
            session = env.createSession(file.toString(), options);
            ModelMetadata metadata = describe(name, config, session, file);
            boolean batchable = canBatch(metadata);
            Map<String, Default> defaults = defaults(config, metadata, file);
            OnnxModel model = new OnnxModel(name, config, metadata, env, session, provider, batchable, defaults);
            model.checkScores(file);
            return model;
        } catch (OrtException e) {
            closeQuietly(session);
            throw new ModelLoadException(file + ": ONNX Runtime cannot load it: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            closeQuietly(session);
            throw e;
        }
    }

    private static OrtProvider chooseProvider(OrtSession.SessionOptions options, HostSettings settings, String model)
            throws OrtException {
        if (settings.executionProvider() != HostSettings.ExecutionProvider.CUDA) {
            return OrtProvider.CPU;
        }
        if (!OrtEnvironment.getAvailableProviders().contains(OrtProvider.CUDA)) {
            log.warn("Model {}: the CUDA execution provider was asked for, but this ONNX Runtime build has none"
                    + " (build with -Pgpu for the CUDA build); running on CPU", model);
            return OrtProvider.CPU;
        }
        try {
            options.addCUDA(settings.cudaDeviceId());
            log.info("Model {}: running on CUDA device {}", model, settings.cudaDeviceId());
            return OrtProvider.CUDA;
        } catch (OrtException e) {
            log.warn("Model {}: the CUDA execution provider could not start on device {} ({}); running on CPU",
                    model, settings.cudaDeviceId(), e.getMessage());
            return OrtProvider.CPU;
        }
    }

    private static ModelMetadata describe(String name, ModelConfig config, OrtSession session, Path file)
            throws OrtException {
        List<TensorSpec> inputs = new ArrayList<>();
        for (NodeInfo node : session.getInputInfo().values()) {
            TensorSpec spec = spec(node, file, "input");
            if (!OrtTensors.canFeed(spec.datatype())) {
                throw new ModelLoadException(file + ": input '" + spec.name() + "' is " + spec.datatype()
                        + ", which ONNX Runtime's Java API cannot feed (it has no UINT16, UINT32 or UINT64 tensors);"
                        + " cast the input inside the model to a signed type of the same width or wider");
            }
            inputs.add(spec);
        }
        List<TensorSpec> outputs = new ArrayList<>();
        for (NodeInfo node : session.getOutputInfo().values()) {
            outputs.add(spec(node, file, "output"));
        }
        return new ModelMetadata(name, List.of(config.versionOrDefault()), PLATFORM, inputs, outputs);
    }

    private static TensorSpec spec(NodeInfo node, Path file, String role) {
        if (!(node.getInfo() instanceof TensorInfo info)) {
            throw new ModelLoadException(file + ": " + role + " '" + node.getName() + "' is not a tensor ("
                    + node.getInfo() + "); only tensor inputs and outputs can be served");
        }
        Datatype datatype = OrtTensors.datatypeOf(info.onnxType);
        if (datatype == null) {
            throw new ModelLoadException(file + ": " + role + " '" + node.getName() + "' has element type "
                    + info.onnxType + ", which the Open Inference Protocol cannot carry");
        }
        return new TensorSpec(node.getName(), datatype, info.getShape());
    }

    /**
     * The configured input defaults, checked against the model: each names an FP32 input whose
     * dimensions after the first are fixed and hold as many elements as the default lists, but for
     * at most one, which the default's length then sets (a model taking a variable number of views
     * defaults to so many). Each default's shape has -1 rows.
     */
    private static Map<String, Default> defaults(ModelConfig config, ModelMetadata metadata, Path file) {
        Map<String, Default> defaults = new HashMap<>();
        Path where = file.resolveSibling(ModelConfig.FILE_NAME);
        config.inputs().forEach((input, settings) -> {
            TensorSpec spec = metadata.input(input);
            if (spec == null) {
                throw new ModelLoadException(where + ": inputs." + input + " is not an input of the model; its inputs are "
                        + metadata.inputs());
            }
            long fixed = 1;
            int open = -1;
            for (int i = 1; i < spec.shape().length; i++) {
                if (spec.shape()[i] >= 0) {
                    fixed *= spec.shape()[i];
                } else if (open < 0) {
                    open = i;
                } else {
                    fixed = -1;
                    break;
                }
            }
            if (spec.datatype() != Datatype.FP32 || spec.shape().length < 1 || fixed < 0) {
                throw new ModelLoadException(where + ": inputs." + input + ".default needs an FP32 input with every "
                        + "dimension after the first fixed but at most one, but the model takes " + spec);
            }
            List<Float> value = settings.defaultValue();
            if (open < 0 ? value.size() != fixed : fixed == 0 || value.isEmpty() || value.size() % fixed != 0) {
                throw new ModelLoadException(where + ": inputs." + input + ".default lists " + value.size()
                        + " elements but a row of " + spec + " holds " + (open < 0 ? fixed : "a multiple of " + fixed));
            }
            long[] shape = spec.shape().clone();
            shape[0] = -1;
            if (open > 0) {
                shape[open] = value.size() / fixed;
            }
            float[] elements = new float[value.size()];
            for (int i = 0; i < elements.length; i++) {
                elements[i] = value.get(i);
            }
            defaults.put(input, new Default(elements, shape));
        });
        return Map.copyOf(defaults);
    }

    /** An input's default: one row's values, and the shape they take (-1 rows). */
    private record Default(float[] row, long[] shape) {
    }

    /**
     * The request with each input it leaves out that has a configured default filled in: that
     * default's row repeated for each row of the request (the first dimension of its first input, or
     * the input's own first dimension when that is fixed). The request itself when nothing is missing.
     */
    public InferRequest withDefaults(InferRequest request) {
        if (defaults.isEmpty()) {
            return request;
        }
        List<Tensor> inputs = null;
        for (Map.Entry<String, Default> entry : defaults.entrySet()) {
            if (has(request, entry.getKey())) {
                continue;
            }
            TensorSpec spec = metadata.input(entry.getKey());
            // as many rows as the request's first input has; a shape claiming rows its data does not hold
            // fills nothing (validation then names the input)
            long rows = spec.shape()[0] >= 0 ? spec.shape()[0] : Tensor.rowsHeld(request.inputs());
            if (rows < 1) {
                return request;
            }
            float[] row = entry.getValue().row();
            if (rows * row.length > MAX_DEFAULT_VALUES) {
                throw OipException.badRequest("input '" + entry.getKey() + "' left out: its default for " + rows
                        + " rows would be " + rows * row.length + " values, over the limit of " + MAX_DEFAULT_VALUES
                        + "; send the input, or fewer rows");
            }
            long[] shape = entry.getValue().shape().clone();
            shape[0] = rows;
            if (inputs == null) {
                inputs = new ArrayList<>(request.inputs());
            }
            inputs.add(Tensor.repeatedRow(entry.getKey(), row, shape));
        }
        return inputs == null ? request
                : new InferRequest(request.id(), request.parameters(), inputs, request.outputs());
    }

    private static boolean has(InferRequest request, String input) {
        for (Tensor t : request.inputs()) {
            if (t.name().equals(input)) {
                return true;
            }
        }
        return false;
    }

    /** Batchable when every input and output has a dynamic first dimension to stack requests along. */
    private static boolean canBatch(ModelMetadata metadata) {
        for (TensorSpec spec : metadata.inputs()) {
            if (spec.shape().length == 0 || spec.shape()[0] >= 0) {
                return false;
            }
        }
        for (TensorSpec spec : metadata.outputs()) {
            if (spec.shape().length == 0 || spec.shape()[0] >= 0) {
                return false;
            }
        }
        return !metadata.inputs().isEmpty();
    }

    private void checkScores(Path file) {
        ModelConfig.Scores scores = config.scores();
        if (scores == null) {
            return;
        }
        TensorSpec spec = metadata.output(scores.output());
        if (spec == null) {
            throw new ModelLoadException(file.resolveSibling(ModelConfig.FILE_NAME) + ": scores.output '"
                    + scores.output() + "' is not an output of the model; its outputs are " + metadata.outputs());
        }
        if (spec.datatype() != Datatype.FP32 || spec.shape().length != 2) {
            throw new ModelLoadException(file.resolveSibling(ModelConfig.FILE_NAME) + ": scores.output '"
                    + scores.output() + "' must be FP32 of shape [batch, classes] but is " + spec);
        }
        long classes = spec.shape()[1];
        if (!config.labels().isEmpty() && classes >= 0 && classes != config.labels().size()) {
            throw new ModelLoadException(file.resolveSibling(ModelConfig.FILE_NAME) + ": " + config.labels().size()
                    + " labels but scores.output '" + scores.output() + "' has " + classes + " classes");
        }
    }

    public String name() {
        return name;
    }

    public String version() {
        return config.versionOrDefault();
    }

    public ModelMetadata metadata() {
        return metadata;
    }

    public ModelConfig config() {
        return config;
    }

    /** The execution provider the session runs on. */
    public OrtProvider provider() {
        return provider;
    }

    public boolean batchable() {
        return batchable;
    }

    /** Runs one request, already validated against {@link #metadata()}. */
    public InferResponse infer(InferRequest request) {
        Set<String> wanted = outputsFor(List.of(request));
        Map<String, Tensor> outputs = run(request.inputs(), wanted);
        return respond(request, outputs);
    }

    /**
     * Runs several validated requests as one: inputs are stacked along the first dimension,
     * outputs split back. The requests must be {@link #stackable} with each other.
     */
    public List<InferResponse> inferBatch(List<InferRequest> requests) {
        if (requests.size() == 1) {
            return List.of(infer(requests.get(0)));
        }
        int[] rows = new int[requests.size()];
        int totalRows = 0;
        for (int i = 0; i < rows.length; i++) {
            rows[i] = rows(requests.get(i));
            totalRows += rows[i];
        }
        List<Tensor> stacked = new ArrayList<>();
        for (Tensor first : requests.get(0).inputs()) {
            stacked.add(stack(first, requests, totalRows));
        }
        Map<String, Tensor> outputs = run(stacked, outputsFor(requests));
        List<InferResponse> responses = new ArrayList<>(requests.size());
        int rowOffset = 0;
        for (int i = 0; i < requests.size(); i++) {
            Map<String, Tensor> mine = new LinkedHashMap<>();
            for (Tensor output : outputs.values()) {
                mine.put(output.name(), slice(output, totalRows, rowOffset, rows[i]));
            }
            responses.add(respond(requests.get(i), mine));
            rowOffset += rows[i];
        }
        return responses;
    }

    /** Rows a request contributes to a batch: the first dimension of its inputs. */
    public static int rows(InferRequest request) {
        long r = request.inputs().get(0).shape()[0];
        return (int) Math.min(r, Integer.MAX_VALUE);
    }

    /** Whether two requests can share a run: every input has the same dimensions after the first. */
    public static boolean stackable(InferRequest a, InferRequest b) {
        if (a.inputs().size() != b.inputs().size()) {
            return false;
        }
        for (Tensor ta : a.inputs()) {
            Tensor tb = null;
            for (Tensor candidate : b.inputs()) {
                if (candidate.name().equals(ta.name())) {
                    tb = candidate;
                    break;
                }
            }
            if (tb == null || !Arrays.equals(ta.shape(), 1, ta.shape().length, tb.shape(), 1, tb.shape().length)) {
                return false;
            }
        }
        return true;
    }

    private Set<String> outputsFor(List<InferRequest> requests) {
        Set<String> wanted = new LinkedHashSet<>();
        for (InferRequest request : requests) {
            if (request.outputs().isEmpty()) {
                return allOutputs;
            }
            for (InferRequest.RequestedOutput output : request.outputs()) {
                wanted.add(output.name());
            }
        }
        if (config.scores() != null) {
            wanted.add(config.scores().output()); // confidence needs it even when the caller does not
        }
        return wanted;
    }

    private Map<String, Tensor> run(List<Tensor> inputs, Set<String> wanted) {
        Map<String, OnnxTensor> feeds = new HashMap<>();
        try {
            for (Tensor input : inputs) {
                feeds.put(input.name(), OrtTensors.toOrt(env, input));
            }
            try (OrtSession.Result result = session.run(feeds, wanted)) {
                Map<String, Tensor> outputs = new LinkedHashMap<>();
                for (Map.Entry<String, OnnxValue> entry : result) {
                    if (!(entry.getValue() instanceof OnnxTensor tensor)) {
                        throw new OipException(500, "model '" + name + "' produced a non-tensor output '"
                                + entry.getKey() + "'");
                    }
                    outputs.put(entry.getKey(), OrtTensors.fromOrt(entry.getKey(), outputTypes.get(entry.getKey()), tensor));
                }
                return outputs;
            }
        } catch (OrtException e) {
            // The request passed validation, so this is the model failing on it (e.g. a shape its graph rejects).
            throw new OipException(400, "model '" + name + "' could not run on this input: " + e.getMessage(), e);
        } finally {
            for (OnnxTensor feed : feeds.values()) {
                feed.close();
            }
        }
    }

    private InferResponse respond(InferRequest request, Map<String, Tensor> outputs) {
        Map<String, Object> parameters = new LinkedHashMap<>();
        for (Map.Entry<String, Object> p : request.parameters().entrySet()) {
            if (!p.getKey().equals(OipCodec.BINARY_DATA_OUTPUT)) {
                parameters.put(p.getKey(), p.getValue());
            }
        }
        if (config.scores() != null) {
            addConfidence(outputs.get(config.scores().output()), parameters);
        }
        List<Tensor> returned = new ArrayList<>();
        if (request.outputs().isEmpty()) {
            returned.addAll(outputs.values());
        } else {
            for (InferRequest.RequestedOutput wanted : request.outputs()) {
                returned.add(outputs.get(wanted.name()));
            }
        }
        return new InferResponse(name, version(), request.id(), parameters, returned);
    }

    /**
     * Adds the confidence of a classifier's answer. With several rows, the least confident row
     * speaks for the request (the one a cascade would escalate); the label is given for one row only.
     */
    private void addConfidence(Tensor scores, Map<String, Object> parameters) {
        float[] values = (float[]) scores.data();
        long[] shape = scores.shape();
        int rowCount = (int) shape[0];
        int classes = (int) shape[1];
        if (rowCount == 0 || classes == 0) {
            return;
        }
        boolean logits = config.scores().kind() == ModelConfig.ScoreKind.LOGITS;
        Confidence weakest = null;
        for (int row = 0; row < rowCount; row++) {
            Confidence c = Confidence.of(values, row * classes, classes, logits);
            if (weakest == null || c.probability() < weakest.probability()) {
                weakest = c;
            }
        }
        if (rowCount == 1) {
            parameters.put(ClassifierParameters.LABEL_INDEX, (long) weakest.topIndex());
            if (weakest.topIndex() < config.labels().size()) {
                parameters.put(ClassifierParameters.LABEL, config.labels().get(weakest.topIndex()));
            }
        }
        parameters.put(ClassifierParameters.CONFIDENCE, weakest.probability());
        parameters.put(ClassifierParameters.MARGIN, weakest.margin());
        parameters.put(ClassifierParameters.ENTROPY, weakest.entropy());
    }

    private static Tensor stack(Tensor first, List<InferRequest> requests, int totalRows) {
        Object merged = java.lang.reflect.Array.newInstance(first.datatype().arrayType().getComponentType(),
                Math.toIntExact((long) totalRows * rowSize(first)));
        int position = 0;
        for (InferRequest request : requests) {
            Tensor part = find(request, first.name());
            int length = part.elementCount();
            System.arraycopy(part.data(), 0, merged, position, length);
            position += length;
        }
        long[] shape = first.shape().clone();
        shape[0] = totalRows;
        return new Tensor(first.name(), first.datatype(), shape, merged);
    }

    private static Tensor slice(Tensor output, int totalRows, int rowOffset, int rowCount) {
        if (output.shape().length == 0 || output.shape()[0] != totalRows) {
            throw new OipException(500, "output '" + output.name() + "' has shape " + Arrays.toString(output.shape())
                    + ", not " + totalRows + " rows: the model cannot be batched; disable batching for it");
        }
        int perRow = totalRows == 0 ? 0 : output.elementCount() / totalRows;
        Object part = java.lang.reflect.Array.newInstance(output.datatype().arrayType().getComponentType(),
                perRow * rowCount);
        System.arraycopy(output.data(), rowOffset * perRow, part, 0, perRow * rowCount);
        long[] shape = output.shape().clone();
        shape[0] = rowCount;
        return new Tensor(output.name(), output.datatype(), shape, part);
    }

    private static long rowSize(Tensor t) {
        long size = 1;
        for (int i = 1; i < t.shape().length; i++) {
            size *= t.shape()[i];
        }
        return size;
    }

    private static Tensor find(InferRequest request, String inputName) {
        for (Tensor t : request.inputs()) {
            if (t.name().equals(inputName)) {
                return t;
            }
        }
        throw new IllegalStateException("input '" + inputName + "' missing from a validated request");
    }

    private static void closeQuietly(OrtSession session) {
        if (session != null) {
            try {
                session.close();
            } catch (OrtException e) {
                log.debug("closing a session that failed to load", e);
            }
        }
    }

    @Override
    public void close() {
        try {
            session.close();
        } catch (OrtException e) {
            log.warn("Model {}: closing its session failed", name, e);
        }
    }
}
