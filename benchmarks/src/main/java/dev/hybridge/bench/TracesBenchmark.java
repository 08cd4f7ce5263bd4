package dev.hybridge.bench;

import dev.hybridge.oip.web.Traces;
import io.micrometer.tracing.Span;
import io.micrometer.tracing.otel.bridge.OtelCurrentTraceContext;
import io.micrometer.tracing.otel.bridge.OtelTracer;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.samplers.Sampler;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.springframework.http.HttpHeaders;
import org.springframework.http.support.Netty4HeadersAdapter;

/**
 * What the programs' tracing costs per request, piece by piece: the spans a gateway request makes
 * ({@link Traces#received} for the request, {@link Traces#calling} for its tier call, the call's
 * {@code traceparent}), over the OpenTelemetry SDK with the programs' default sampler (parent
 * based, 0.1 of new traces) and Spring's header adapter over Netty's request headers, as a
 * gateway sees them. The peer is the same work with {@link Traces#none()} (tracing off), and a
 * bare header lookup.
 *
 * <p>{@code java -cp benchmarks/target/benchmarks.jar dev.hybridge.bench.TracesBenchmark} writes
 * {@code benchmarks/results/TracesBenchmark.md}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms256m", "-Xmx256m"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class TracesBenchmark {

    private OpenTelemetrySdk sdk;
    private Traces traces;
    private Traces off;
    private HttpHeaders plain;
    private HttpHeaders traced;
    private HttpHeaders unrecorded;

    @Setup
    public void setUp() {
        SdkTracerProvider provider = SdkTracerProvider.builder()
                .setSampler(Sampler.parentBased(Sampler.traceIdRatioBased(0.1))).build();
        sdk = OpenTelemetrySdk.builder().setTracerProvider(provider).build();
        io.opentelemetry.api.trace.Tracer otel = sdk.getTracer("bench");
        traces = new Traces(new OtelTracer(otel, new OtelCurrentTraceContext(), event -> { }));
        off = Traces.none();
        plain = headers(null);
        traced = headers("01");
        unrecorded = headers("00");
    }

    /**
     * A request's headers as a plain client sends them, with a traceparent of these flags unless
     * null, read through Spring's adapter over Netty's headers.
     */
    private static HttpHeaders headers(String traceFlags) {
        DefaultHttpHeaders netty = new DefaultHttpHeaders();
        netty.add("Host", "127.0.0.1:8080");
        netty.add("User-Agent", "bench");
        netty.add("Accept", "*/*");
        netty.add("Content-Type", "application/json");
        netty.add("Content-Length", "90360");
        if (traceFlags != null) {
            netty.add("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-" + traceFlags);
        }
        return new HttpHeaders(new Netty4HeadersAdapter(netty));
    }

    @TearDown
    public void tearDown() {
        sdk.close();
    }

    /** One header lookup, of a header the request does not carry. */
    @Benchmark
    public String headerLookup() {
        return plain.getFirst("traceparent");
    }

    /** A request's span and its tier call's, as a request without traceparent makes them. */
    @Benchmark
    public void requestSpans(Blackhole hole) {
        spans(traces, plain, hole);
    }

    /** The same with a sampled client traceparent (every trace recorded). */
    @Benchmark
    public void requestSpansTraced(Blackhole hole) {
        spans(traces, traced, hole);
    }

    /** The same with tracing off ({@link Traces#none()}). */
    @Benchmark
    public void requestSpansOff(Blackhole hole) {
        spans(off, plain, hole);
    }

    /**
     * The same for a request whose caller does not record its trace: the gateway's calls and the
     * workers' requests after an unrecorded gateway request, nine in ten as shipped.
     */
    @Benchmark
    public void requestSpansUnrecorded(Blackhole hole) {
        spans(traces, unrecorded, hole);
    }

    /** The request's span alone. */
    @Benchmark
    public void receivedOnly(Blackhole hole) {
        Span span = traces.received("route digits", plain::getFirst);
        hole.consume(span);
        span.end();
    }

    private static void spans(Traces traces, HttpHeaders headers, Blackhole hole) {
        Span request = traces.received("route digits", headers::getFirst);
        String parent = traces.traceparent(request);
        Span call = traces.calling("cloud digits-cloud", parent);
        List<String> sent = new ArrayList<>(2);
        traces.inject(call, (name, value) -> sent.add(value));
        hole.consume(sent);
        call.end();
        request.tag("hybridge.route", "digits");
        traces.answered(request, "route digits", 200, 1_000_000);
    }

    public static void main(String[] args) throws Exception {
        Bench bench = new Bench("TracesBenchmark", TracesBenchmark.class, args);
        Collection<RunResult> results = Bench.jmh(TracesBenchmark.class, true);
        boolean longer = Bench.longRun();
        bench.text("JMH, average time per call, " + (longer ? 3 : 1) + " fork(s) with -Xms256m -Xmx256m, "
                + (longer ? 5 : 3) + " x 2 s warm-up, " + (longer ? 10 : 5) + " x 2 s measurement, one thread; allocation from JMH's GC profiler (`gc.alloc.rate.norm`). OpenTelemetry"
                + " SDK with a parent-based sampler of 0.1 and no exporter; headers through Spring's adapter over"
                + " Netty's `DefaultHttpHeaders` (five headers, plus a `traceparent` for the traced cases: flags 01, recorded; 00, not recorded).");
        List<List<String>> rows = new ArrayList<>();
        for (RunResult result : results) {
            String name = result.getParams().getBenchmark();
            name = name.substring(name.lastIndexOf('.') + 1);
            Result<?> primary = result.getPrimaryResult();
            Result<?> alloc = result.getSecondaryResults().get("gc.alloc.rate.norm");
            rows.add(List.of(name, Bench.fixed(primary.getScore(), 1), Bench.fixed(primary.getScoreError(), 1),
                    alloc == null ? "n/a" : Bench.fixed(alloc.getScore(), 1)));
        }
        bench.table(List.of("benchmark", "ns/op", "error (99.9%)", "bytes allocated/op"), rows);
        bench.write();
    }
}
