package dev.hybridge.e2e;

import com.sun.net.httpserver.HttpServer;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse;
import io.opentelemetry.proto.common.v1.KeyValue;
import io.opentelemetry.proto.resource.v1.Resource;
import io.opentelemetry.proto.trace.v1.ResourceSpans;
import io.opentelemetry.proto.trace.v1.ScopeSpans;
import io.opentelemetry.proto.trace.v1.Span;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * An OTLP/HTTP trace receiver on loopback, standing in for an OpenTelemetry Collector: it accepts
 * {@code POST /v1/traces} with a protobuf {@code ExportTraceServiceRequest}, the way the programs'
 * exporter sends it, decodes it with OpenTelemetry's own protobuf classes and keeps each span with
 * the service that sent it.
 */
final class OtlpReceiver implements AutoCloseable {

    /** A received span: the sending program's {@code service.name}, ids in lower-case hex. */
    record Received(String service, String name, Span.SpanKind kind, String traceId, String spanId, String parentId,
                    Map<String, String> attributes, List<String> linkedTraceIds) {
    }

    private final HttpServer server;
    private final LinkedBlockingQueue<Received> spans = new LinkedBlockingQueue<>();
    private final List<Received> seen = new ArrayList<>();

    OtlpReceiver() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/v1/traces", exchange -> {
            int status = 200;
            byte[] answer = ExportTraceServiceResponse.getDefaultInstance().toByteArray();
            try (InputStream in = exchange.getRequestBody()) {
                if (!"POST".equals(exchange.getRequestMethod())
                        || !"application/x-protobuf".equals(exchange.getRequestHeaders().getFirst("Content-Type"))) {
                    status = 415;
                    answer = new byte[0];
                } else {
                    take(ExportTraceServiceRequest.parseFrom(in.readAllBytes()));
                }
            } catch (IOException e) {
                status = 400;
                answer = new byte[0];
            }
            exchange.getResponseHeaders().set("Content-Type", "application/x-protobuf");
            exchange.sendResponseHeaders(status, answer.length == 0 ? -1 : answer.length);
            exchange.getResponseBody().write(answer);
            exchange.close();
        });
        server.start();
    }

    /** The endpoint to give a program's exporter. */
    String endpoint() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/v1/traces";
    }

    private void take(ExportTraceServiceRequest request) {
        for (ResourceSpans resourceSpans : request.getResourceSpansList()) {
            String service = attributes(resourceSpans.getResource()).get("service.name");
            for (ScopeSpans scope : resourceSpans.getScopeSpansList()) {
                for (Span span : scope.getSpansList()) {
                    spans.add(new Received(service, span.getName(), span.getKind(), hex(span.getTraceId().toByteArray()),
                            hex(span.getSpanId().toByteArray()), hex(span.getParentSpanId().toByteArray()),
                            attributes(span.getAttributesList()),
                            span.getLinksList().stream().map(l -> hex(l.getTraceId().toByteArray())).toList()));
                }
            }
        }
    }

    /**
     * Waits, a bounded time, for a received span that {@code matches}, and returns it; fails after
     * {@code seconds} without one.
     */
    synchronized Received await(String what, Predicate<Received> matches, int seconds) throws InterruptedException {
        for (Received r : seen) {
            if (matches.test(r)) {
                return r;
            }
        }
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (true) {
            long left = until - System.nanoTime();
            Received r = left > 0 ? spans.poll(left, TimeUnit.NANOSECONDS) : null;
            if (r == null) {
                throw new AssertionError("no exported span " + what + " within " + seconds + " s; received: " + seen);
            }
            seen.add(r);
            if (matches.test(r)) {
                return r;
            }
        }
    }

    private static Map<String, String> attributes(Resource resource) {
        return attributes(resource.getAttributesList());
    }

    private static Map<String, String> attributes(List<KeyValue> values) {
        return values.stream().collect(Collectors.toMap(KeyValue::getKey, kv -> kv.getValue().getStringValue(),
                (a, b) -> b));
    }

    private static String hex(byte[] bytes) {
        return HexFormat.of().formatHex(bytes);
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
