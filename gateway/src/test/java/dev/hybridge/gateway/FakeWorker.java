package dev.hybridge.gateway;

import dev.hybridge.oip.Datatype;
import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.InferResponse;
import dev.hybridge.oip.ModelMetadata;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.Tensor;
import dev.hybridge.oip.TensorSpec;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import reactor.core.publisher.Mono;
import reactor.netty.DisposableServer;
import reactor.netty.http.server.HttpServer;

/**
 * An OIP worker in the test's JVM, on a real loopback port, whose behaviour a test sets: its
 * answer's confidence and label, a delay, a failure status, or flapping between failing and
 * answering. It records the requests it got.
 */
public final class FakeWorker implements AutoCloseable {

    private final OipCodec codec = new OipCodec();
    private final String name;
    private final DisposableServer server;
    /** Its own event loop: a Spring context closing in the same JVM disposes Reactor Netty's shared ones. */
    private final reactor.netty.resources.LoopResources loops;
    private final AtomicInteger calls = new AtomicInteger();
    private volatile java.util.concurrent.CompletableFuture<Void> firstCall = new java.util.concurrent.CompletableFuture<>();
    private final List<InferRequest> requests = new CopyOnWriteArrayList<>();
    private volatile double confidence = 0.9;
    private volatile String label = "7";
    private volatile Duration delay = Duration.ZERO;
    private volatile int failStatus;
    private volatile boolean flapping;
    private volatile boolean withEmbedding;
    private volatile boolean echoingEmbedding;
    private volatile boolean shedding;

    public FakeWorker(String name) {
        this(name, false);
    }

    /**
     * @param embeddingInMetadata whether its model metadata lists an {@code embedding} output
     *                            (an edge model that hands a tensor on) beside {@code probs}
     */
    public FakeWorker(String name, boolean embeddingInMetadata) {
        this.name = name;
        List<TensorSpec> outputs = embeddingInMetadata
                ? List.of(new TensorSpec("probs", Datatype.FP32, new long[] {-1, 2}),
                        new TensorSpec("embedding", Datatype.FP32, new long[] {-1, 4}))
                : List.of(new TensorSpec("probs", Datatype.FP32, new long[] {-1, 2}));
        this.loops = reactor.netty.resources.LoopResources.create("fake-" + name, 1, true);
        this.server = HttpServer.create().runOn(loops).host("127.0.0.1").port(0)
                .route(routes -> routes
                        .post("/v2/models/{model}/infer", (request, response) -> request.receive().aggregate().asByteArray()
                                .defaultIfEmpty(new byte[0])
                                .flatMap(body -> {
                                    int n = calls.incrementAndGet();
                                    firstCall.complete(null);
                                    String header = request.requestHeaders().get(OipCodec.HEADER_LENGTH);
                                    InferRequest decoded = codec.decodeRequest(body, header == null ? -1 : Integer.parseInt(header));
                                    requests.add(decoded);
                                    int status = shedding ? 503
                                            : failStatus != 0 && (!flapping || n % 2 == 0) ? failStatus : 200;
                                    OipCodec.Encoded answer = status == 200 ? answer(request.param("model"), decoded)
                                            : new OipCodec.Encoded(codec.encodeError("model '" + request.param("model")
                                                    + (shedding ? "': queue is full (" + name + ")"
                                                    : "' refuses on purpose (" + name + ")")), -1);
                                    byte[] out = answer.body();
                                    if (answer.hasBinary()) { // outputs asked for as binary data, as a real worker sends them
                                        response.header(OipCodec.HEADER_LENGTH, Integer.toString(answer.jsonLength()));
                                    }
                                    if (shedding) {
                                        response.header("Retry-After", "1");
                                    }
                                    Mono<byte[]> reply = Mono.just(out);
                                    if (!delay.isZero()) {
                                        reply = reply.delayElement(delay);
                                    }
                                    return reply.flatMap(bytes -> response.status(HttpResponseStatus.valueOf(status))
                                            .header("Content-Type", answer.hasBinary() ? "application/octet-stream"
                                                    : "application/json")
                                            .sendByteArray(Mono.just(bytes)).then());
                                }))
                        .get("/v2/models/{model}", (request, response) -> response
                                .header("Content-Type", "application/json")
                                .sendByteArray(Mono.just(codec.encodeModelMetadata(new ModelMetadata(request.param("model"),
                                        List.of("1"), "onnxruntime", List.of(new TensorSpec("audio", Datatype.FP32,
                                        new long[] {-1, 8000})), outputs), Map.of()))))
                        // as Triton writes it: 64-bit numbers as strings, fields this project does not read
                        .get("/v2/models/{model}/config", (request, response) -> response
                                .header("Content-Type", "application/json")
                                .sendString(Mono.just("{\"name\":\"" + request.param("model") + "\",\"platform\":"
                                        + "\"onnxruntime_onnx\",\"backend\":\"onnxruntime\",\"version_policy\":{\"latest\":"
                                        + "{\"num_versions\":1}},\"max_batch_size\":4,\"input\":[{\"name\":\"audio\","
                                        + "\"data_type\":\"TYPE_FP32\",\"format\":\"FORMAT_NONE\",\"dims\":[\"8000\"]}],"
                                        + "\"output\":[{\"name\":\"probs\",\"data_type\":\"TYPE_FP32\",\"dims\":[2],"
                                        + "\"label_filename\":\"\"},{\"name\":\"embedding\",\"data_type\":\"TYPE_FP32\","
                                        + "\"dims\":[4]}],\"dynamic_batching\":{\"preferred_batch_size\":[4],"
                                        + "\"max_queue_delay_microseconds\":\"100\"},\"instance_group\":[{\"name\":\"x\","
                                        + "\"kind\":\"KIND_GPU\",\"count\":1,\"gpus\":[0]}],\"optimization\":{\"priority\":"
                                        + "\"PRIORITY_DEFAULT\"}}"))))
                .bindNow();
    }

    private OipCodec.Encoded answer(String model, InferRequest request) {
        Map<String, Object> parameters = new LinkedHashMap<>();
        parameters.put("hybridge.label", label);
        parameters.put("hybridge.confidence", confidence);
        parameters.put("hybridge.margin", confidence / 2);
        parameters.put("hybridge.entropy", 1 - confidence);
        List<Tensor> outputs = new java.util.ArrayList<>();
        outputs.add(new Tensor("probs", Datatype.FP32, new long[] {1, 2}, new float[] {(float) confidence,
                (float) (1 - confidence)}));
        if (echoingEmbedding) {
            float[] input = (float[]) request.inputs().get(0).data();
            outputs.add(new Tensor("embedding", Datatype.FP32, new long[] {1, input.length}, input.clone()));
        } else if (withEmbedding) {
            outputs.add(new Tensor("embedding", Datatype.FP32, new long[] {1, 4}, new float[] {1, 2, 3, 4}));
        }
        if (!request.outputs().isEmpty()) { // as a real worker: only the outputs asked for
            outputs.removeIf(t -> request.outputs().stream().noneMatch(o -> o.name().equals(t.name())));
        }
        return codec.encodeResponse(new InferResponse(model, "1", request.id(), parameters, outputs), request);
    }

    public String address() {
        return "http://127.0.0.1:" + server.port();
    }

    public int calls() {
        return calls.get();
    }

    /** Completes when this worker gets its first call after {@link #reset}. */
    java.util.concurrent.CompletableFuture<Void> firstCall() {
        return firstCall;
    }

    List<InferRequest> requests() {
        return requests;
    }

    public FakeWorker answering(double confidence, String label) {
        this.confidence = confidence;
        this.label = label;
        return this;
    }

    FakeWorker delayed(Duration delay) {
        this.delay = delay;
        return this;
    }

    FakeWorker failing(int status) {
        this.failStatus = status;
        this.flapping = false;
        return this;
    }

    /** Fails every second call with {@code status}. */
    FakeWorker flapping(int status) {
        this.failStatus = status;
        this.flapping = true;
        return this;
    }

    /** Answers 503 with {@code Retry-After}, as a serving program whose queue is full. */
    FakeWorker shedding() {
        this.shedding = true;
        return this;
    }

    FakeWorker withEmbedding(boolean on) {
        this.withEmbedding = on;
        return this;
    }

    /** Its embedding output is a copy of the request's input: as large an answer as the test needs. */
    FakeWorker echoingEmbedding(boolean on) {
        this.echoingEmbedding = on;
        return this;
    }

    FakeWorker reset() {
        calls.set(0);
        firstCall = new java.util.concurrent.CompletableFuture<>();
        requests.clear();
        confidence = 0.9;
        label = "7";
        delay = Duration.ZERO;
        failStatus = 0;
        flapping = false;
        withEmbedding = false;
        echoingEmbedding = false;
        shedding = false;
        return this;
    }

    @Override
    public void close() {
        server.disposeNow();
        loops.disposeLater().block();
    }
}
