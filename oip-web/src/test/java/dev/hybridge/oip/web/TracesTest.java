package dev.hybridge.oip.web;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.tracing.Span;
import io.micrometer.tracing.otel.bridge.OtelCurrentTraceContext;
import io.micrometer.tracing.otel.bridge.OtelTracer;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Trace context as the programs pass it on, over a real OpenTelemetry SDK that records every span. */
class TracesTest {

    static final String TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
    static final String CALLER = "00-" + TRACE_ID + "-00f067aa0ba902b7-01";

    private final List<SpanData> ended = new CopyOnWriteArrayList<>();
    private final SdkTracerProvider provider = SdkTracerProvider.builder()
            .addSpanProcessor(SimpleSpanProcessor.create(new SpanExporter() {
                @Override
                public CompletableResultCode export(Collection<SpanData> spans) {
                    ended.addAll(spans);
                    return CompletableResultCode.ofSuccess();
                }

                @Override
                public CompletableResultCode flush() {
                    return CompletableResultCode.ofSuccess();
                }

                @Override
                public CompletableResultCode shutdown() {
                    return CompletableResultCode.ofSuccess();
                }
            })).build();
    private final OpenTelemetrySdk sdk = OpenTelemetrySdk.builder().setTracerProvider(provider).build();
    private final io.opentelemetry.api.trace.Tracer otel = sdk.getTracer("test");
    private final Traces traces = new Traces(new OtelTracer(otel, new OtelCurrentTraceContext(), event -> { }));

    @AfterEach
    void close() {
        sdk.close();
    }

    @Test
    void aReceivedRequestContinuesTheCallersTraceAndItsCallsAreItsChildren() {
        Span received = traces.received("route digits", Map.of("traceparent", CALLER)::get);
        String context = traces.traceparent(received);
        assertThat(context).startsWith("00-" + TRACE_ID + "-").endsWith("-01").doesNotContain("00f067aa0ba902b7");

        Span call = traces.calling("cloud digits-cloud", context);
        Map<String, String> headers = new java.util.HashMap<>();
        traces.inject(call, headers::put);
        assertThat(headers.get("traceparent")).startsWith("00-" + TRACE_ID + "-");
        call.end();
        received.tag("hybridge.tier", "cloud");
        traces.answered(received, "route digits", 200, 1_000_000);

        SpanData callData = ended.stream().filter(s -> s.getName().equals("cloud digits-cloud")).findFirst().orElseThrow();
        SpanData receivedData = ended.stream().filter(s -> s.getName().equals("route digits")).findFirst().orElseThrow();
        assertThat(receivedData.getParentSpanId()).isEqualTo("00f067aa0ba902b7");
        assertThat(callData.getParentSpanId()).isEqualTo(receivedData.getSpanId());
        assertThat(receivedData.getAttributes().asMap().toString()).contains("hybridge.tier=cloud")
                .contains("http.response.status_code=200");
    }

    @Test
    void withoutACallersContextARequestStartsATrace() {
        Span received = traces.received("infer digits-cloud", name -> null);
        assertThat(traces.traceparent(received)).matches("00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]").doesNotContain(TRACE_ID);
        received.end();
    }

    @Test
    void aTraceparentThatNamesNoContextIsIgnoredAndTheRequestStartsATrace() {
        for (String wrong : List.of("", "00-" + TRACE_ID + "-00f067aa0ba902b7", // no flags
                "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", // upper case
                "00-00000000000000000000000000000000-00f067aa0ba902b7-01", // no trace id
                "00-" + TRACE_ID + "-0000000000000000-01", // no parent id
                "ff-" + TRACE_ID + "-00f067aa0ba902b7-01", // a version that is never valid
                "00-" + TRACE_ID + "-00f067aa0ba902b7-01-extra", // version 00 has four fields
                "00_" + TRACE_ID + "-00f067aa0ba902b7-01", "00-" + TRACE_ID + "-00f067aa0ba902bz-01")) {
            Span received = traces.received("route digits", Map.of("traceparent", wrong)::get);
            assertThat(traces.traceparent(received)).as(wrong).doesNotContain(TRACE_ID);
            received.end();
        }
        // a later version's first four fields are read; fields it adds are left alone
        Span later = traces.received("route digits", Map.of("traceparent", "01-" + TRACE_ID + "-00f067aa0ba902b7-01-what")::get);
        assertThat(traces.traceparent(later)).startsWith("00-" + TRACE_ID + "-");
        later.end();
        // the sampled flag is the last bit of the flags
        Span unsampled = traces.received("route digits", Map.of("traceparent", "00-" + TRACE_ID + "-00f067aa0ba902b7-02")::get);
        assertThat(traces.traceparent(unsampled)).startsWith("00-" + TRACE_ID + "-").endsWith("-00");
        unsampled.end();
        assertThat(ended).extracting(SpanData::getTraceId).filteredOn(TRACE_ID::equals).hasSize(1);
    }

    @Test
    void aTraceTheCallerDoesNotRecordIsCarriedOnWithSpanIdsOfItsOwnAndNothingRecorded() {
        String unrecorded = "00-" + TRACE_ID + "-00f067aa0ba902b7-00";
        Span received = traces.received("route digits", Map.of("traceparent", unrecorded)::get);
        assertThat(received.isNoop()).isTrue();
        String context = traces.traceparent(received);
        assertThat(context).matches("00-" + TRACE_ID + "-[0-9a-f]{16}-00").isNotEqualTo(unrecorded);

        Span call = traces.calling("cloud digits-cloud", context);
        Map<String, String> headers = new java.util.HashMap<>();
        traces.inject(call, headers::put);
        assertThat(headers.get("traceparent")).matches("00-" + TRACE_ID + "-[0-9a-f]{16}-00").isNotEqualTo(context);
        call.tag("hybridge.worker", "w1").end();
        traces.answered(received, "route digits", 200, 1_000_000);
        assertThat(ended).as("nothing recorded").isEmpty();

        Span none = Traces.none().received("route digits", Map.of("traceparent", unrecorded)::get);
        assertThat(Traces.none().traceparent(none)).as("without tracing nothing is carried on").isNull();
    }

    @Test
    void aReplayStartsATraceOfItsOwnLinkedToTheRequestThatKeptIt() {
        Span replay = traces.linkedTo("replay digits", CALLER);
        replay.end();
        SpanData data = ended.get(0);
        assertThat(data.getTraceId()).isNotEqualTo(TRACE_ID);
        assertThat(data.getParentSpanId()).isEqualTo("0000000000000000");
        assertThat(data.getLinks()).hasSize(1);
        assertThat(data.getLinks().get(0).getSpanContext().getTraceId()).isEqualTo(TRACE_ID);
        assertThat(data.getLinks().get(0).getSpanContext().getSpanId()).isEqualTo("00f067aa0ba902b7");

        traces.linkedTo("replay digits", null).end();
        assertThat(ended.get(1).getLinks()).as("nothing kept to link to").isEmpty();
    }

    @Test
    void withoutTracingNothingIsSentOn() {
        Traces none = Traces.none();
        Span span = none.received("route digits", Map.of("traceparent", CALLER)::get);
        Map<String, String> headers = new java.util.HashMap<>();
        none.inject(span, headers::put);
        assertThat(headers).isEmpty();
        none.answered(span, "route digits", 200, 0);
    }
}
