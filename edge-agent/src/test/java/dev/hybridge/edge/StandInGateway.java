package dev.hybridge.edge;

import dev.hybridge.oip.Datatype;
import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.InferResponse;
import dev.hybridge.oip.ModelMetadata;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.Tensor;
import dev.hybridge.oip.TensorSpec;
import dev.hybridge.policy.PolicyBundle;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import reactor.core.publisher.Mono;
import reactor.netty.DisposableServer;
import reactor.netty.http.server.HttpServer;
import reactor.netty.resources.LoopResources;

/**
 * What the agent's uplink talks to, on a real loopback port: it answers escalations as a route's
 * cloud stage would (label {@code 3}, high confidence), serves a route's metadata and a policy
 * set with its ETag, and records what it was sent. A test makes it fail with a status, or
 * refuse every connection by closing it. The real gateway is in the end-to-end tests.
 */
final class StandInGateway implements AutoCloseable {

    /** One escalation as received: path, headers that matter, the decoded request. */
    record Received(String path, String contentType, String authorization, InferRequest request, int bodyBytes,
                    String escalationHeader) {
    }

    private final OipCodec codec = new OipCodec();
    private final LoopResources loops = LoopResources.create("stand-in-gateway", 1, true);
    private final DisposableServer server;
    private final List<Received> escalations = new CopyOnWriteArrayList<>();
    private final AtomicInteger policyCalls = new AtomicInteger();
    private final List<String> callbacks = new CopyOnWriteArrayList<>();
    private volatile int failStatus;
    private volatile boolean shedding;
    private volatile PolicyBundle policies = new PolicyBundle(Map.of());

    StandInGateway() {
        server = HttpServer.create().runOn(loops).host("127.0.0.1").port(0)
                .route(routes -> routes
                        .post("/v2/models/{route}/infer", (request, response) -> request.receive().aggregate().asByteArray()
                                .flatMap(body -> {
                                    String header = request.requestHeaders().get(OipCodec.HEADER_LENGTH);
                                    int jsonLength = header == null ? -1 : Integer.parseInt(header);
                                    InferRequest decoded = codec.decodeRequest(body, jsonLength);
                                    escalations.add(new Received(request.fullPath(),
                                            request.requestHeaders().get("Content-Type"),
                                            request.requestHeaders().get("Authorization"), decoded, body.length,
                                            request.requestHeaders().get("Hybridge-Escalation")));
                                    if (shedding) {
                                        return response.status(503).header("Content-Type", "application/json")
                                                .header("Retry-After", "1").header("Hybridge-Reason", "overloaded")
                                                .sendString(Mono.just("{\"error\":\"overloaded: stand-in door full\"}"))
                                                .then();
                                    }
                                    if (failStatus != 0) {
                                        return response.status(failStatus).header("Content-Type", "application/json")
                                                .sendString(Mono.just("{\"error\":\"stand-in failing\"}")).then();
                                    }
                                    // as a serving program does, the request's parameters come back with the answer
                                    Map<String, Object> parameters = new LinkedHashMap<>(decoded.parameters());
                                    parameters.put("hybridge.label", "3");
                                    parameters.put("hybridge.confidence", 0.97);
                                    parameters.put("hybridge.tier", "cloud");
                                    float[] probs = new float[10];
                                    probs[3] = 0.97f;
                                    InferResponse answer = new InferResponse(request.param("route"), null, decoded.id(),
                                            parameters, List.of(new Tensor("probs", Datatype.FP32, new long[] {1, 10}, probs)));
                                    OipCodec.Encoded encoded = codec.encodeResponse(answer, decoded);
                                    response.header("Content-Type", encoded.hasBinary() ? "application/octet-stream"
                                            : "application/json");
                                    if (encoded.hasBinary()) {
                                        response.header(OipCodec.HEADER_LENGTH, Integer.toString(encoded.jsonLength()));
                                    }
                                    return response.sendByteArray(Mono.just(encoded.body())).then();
                                }))
                        .get("/v2/models/{route}", (request, response) -> failStatus != 0
                                ? response.status(failStatus).send()
                                : response.header("Content-Type", "application/json").sendByteArray(Mono.just(
                                codec.encodeModelMetadata(new ModelMetadata(request.param("route"), List.of(), "onnxruntime",
                                        List.of(new TensorSpec("audio", Datatype.FP32, new long[] {-1, 8000})),
                                        List.of(new TensorSpec("probs", Datatype.FP32, new long[] {-1, 10}))), Map.of()))))
                        .get("/v2/health/live", (request, response) -> failStatus != 0
                                ? response.status(failStatus).send()
                                : response.sendString(Mono.just("{\"live\":true}")))
                        .post("/callback", (request, response) -> request.receive().aggregate().asString()
                                .flatMap(text -> {
                                    callbacks.add(text);
                                    return response.status(204).send().then();
                                }))
                        .get("/hybridge/policies", (request, response) -> {
                            policyCalls.incrementAndGet();
                            PolicyBundle set = policies;
                            String etag = "\"" + set.etag() + "\"";
                            if (etag.equals(request.requestHeaders().get("If-None-Match"))) {
                                return response.status(HttpResponseStatus.NOT_MODIFIED).header("ETag", etag).send();
                            }
                            return response.header("ETag", etag).header("Content-Type", "application/json")
                                    .sendByteArray(Mono.just(set.toJson()));
                        }))
                .bindNow();
    }

    String url() {
        return "http://127.0.0.1:" + server.port();
    }

    List<Received> escalations() {
        return escalations;
    }

    /** Bodies POSTed to {@code /callback}: late answers the agent pushed. */
    List<String> callbacks() {
        return callbacks;
    }

    int policyCalls() {
        return policyCalls.get();
    }

    /** Every answer a failure with this status from now on; 0 answers again. */
    StandInGateway failWith(int status) {
        this.failStatus = status;
        return this;
    }

    /** Answers escalations 503 with {@code Retry-After}, as a gateway shedding load does. */
    StandInGateway shedding() {
        this.shedding = true;
        return this;
    }

    StandInGateway serve(PolicyBundle set) {
        this.policies = set;
        return this;
    }

    void reset() {
        escalations.clear();
        failStatus = 0;
        shedding = false;
    }

    @Override
    public void close() {
        server.disposeNow();
        loops.dispose();
    }
}
