package dev.hybridge.oip.web;

import io.micrometer.tracing.Link;
import io.micrometer.tracing.Span;
import io.micrometer.tracing.TraceContext;
import io.micrometer.tracing.Tracer;
import java.util.function.BiConsumer;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * W3C trace context across the three programs, over Micrometer Tracing: a span per hop (the
 * request a program receives, each call it makes to another tier), parented by the
 * {@code traceparent} header the caller sent, and the header sent on. Inside the programs a
 * request's context travels as its {@code traceparent} value (plain text, so that the route
 * runtime and the edge agent's outbox carry it without knowing of tracing).
 *
 * <p>Every answered request is written to the {@value #REQUEST_LOG} logger at DEBUG with its
 * span current, so the line carries the trace id (Spring Boot's log correlation); turn it on
 * with {@code logging.level.hybridge.requests=debug}.
 */
public final class Traces {

    public static final String TRACEPARENT = "traceparent";
    public static final String REQUEST_LOG = "hybridge.requests";

    private static final Logger requests = LoggerFactory.getLogger(REQUEST_LOG);

    private final Tracer tracer;

    public Traces(Tracer tracer) {
        this.tracer = tracer;
    }

    /** Over the program's tracer, or {@link #none()} when it has no tracing (null). */
    public static Traces of(Tracer tracer) {
        return tracer != null ? new Traces(tracer) : none();
    }

    /** No spans, no headers: for tests and programs without tracing. */
    public static Traces none() {
        return new Traces(Tracer.NOOP);
    }

    /**
     * A span for a request this program received, the child of the caller's context when its
     * {@code traceparent} names one (read directly, as {@link #calling} reads it: the programs
     * speak W3C trace context's {@code traceparent} and nothing else, and a round through the
     * configured propagators, each asking the headers for its own fields, was most of what a
     * span cost a cloud worker).
     */
    public Span received(String name, Function<String, String> header) {
        TraceContext caller = parse(header.apply(TRACEPARENT));
        Span.Builder builder = tracer.spanBuilder();
        builder = caller == null ? builder.setNoParent() : builder.setParent(caller);
        return builder.name(name).kind(Span.Kind.SERVER).start();
    }

    /**
     * A span for a call this program makes, the child of the context {@code parent} (a
     * traceparent) names, if any: read directly, without a round through the propagators.
     */
    public Span calling(String name, String parent) {
        TraceContext context = parse(parent);
        Span.Builder builder = tracer.spanBuilder();
        if (context != null) {
            builder = builder.setParent(context);
        }
        return builder.name(name).kind(Span.Kind.CLIENT).start();
    }

    /**
     * The context a {@code traceparent} value names, or null when it names none: version 00's
     * four fields (or a later version's first four), ids in lower-case hex and not all zeros, as
     * W3C trace context asks of a receiver.
     */
    private TraceContext parse(String traceparent) {
        // version "-" trace id (32) "-" parent id (16) "-" flags (2): 55 characters, then later versions' fields
        if (traceparent == null || traceparent.length() < 55) {
            return null;
        }
        boolean fourFields = traceparent.length() == 55;
        boolean laterFields = !fourFields && !traceparent.startsWith("00") && traceparent.charAt(55) == '-';
        boolean dashes = traceparent.charAt(2) == '-' && traceparent.charAt(35) == '-' && traceparent.charAt(52) == '-';
        boolean fields = hex(traceparent, 0, 2) && !traceparent.startsWith("ff") && hex(traceparent, 3, 35)
                && hex(traceparent, 36, 52) && hex(traceparent, 53, 55);
        if (!(fourFields || laterFields) || !dashes || !fields || zeros(traceparent, 3, 35)
                || zeros(traceparent, 36, 52)) {
            return null;
        }
        boolean sampled = (Character.digit(traceparent.charAt(54), 16) & 1) == 1;
        return tracer.traceContextBuilder().traceId(traceparent.substring(3, 35)).spanId(traceparent.substring(36, 52))
                .sampled(sampled).build();
    }

    private static boolean hex(String s, int from, int to) {
        for (int i = from; i < to; i++) {
            char c = s.charAt(i);
            if (!(c >= '0' && c <= '9' || c >= 'a' && c <= 'f')) {
                return false;
            }
        }
        return true;
    }

    private static boolean zeros(String s, int from, int to) {
        for (int i = from; i < to; i++) {
            if (s.charAt(i) != '0') {
                return false;
            }
        }
        return true;
    }

    /**
     * A span for work done later on behalf of an earlier request (an escalation replayed from the
     * outbox): a new trace, linked to the request's context when it is known.
     */
    public Span linkedTo(String name, String earlier) {
        Span.Builder builder = tracer.spanBuilder().setNoParent().name(name).kind(Span.Kind.CLIENT);
        TraceContext context = parse(earlier);
        if (context != null) {
            builder = builder.addLink(new Link(context));
        }
        return builder.start();
    }

    /** The span's context as a {@code traceparent} value (null for a no-op span). */
    public String traceparent(Span span) {
        TraceContext context = span.context();
        String traceId = context.traceId();
        String spanId = context.spanId();
        if (traceId == null || traceId.length() != 32 || spanId == null || spanId.length() != 16) {
            return null;
        }
        return "00-" + traceId + "-" + spanId + (Boolean.TRUE.equals(context.sampled()) ? "-01" : "-00");
    }

    /**
     * Adds the span's context to an outgoing request's headers: its {@code traceparent}, written
     * directly, as {@link #calling} reads it (the programs speak W3C trace context between
     * themselves; a round through the propagators cost about 1% of a traced gateway's samples).
     */
    public void inject(Span span, BiConsumer<String, String> header) {
        String value = traceparent(span);
        if (value != null) {
            header.accept(TRACEPARENT, value);
        }
    }

    /** Ends the span, writing the request log line with it current. */
    public void answered(Span span, String what, int status, long nanos) {
        answered(span, () -> what, status, nanos);
    }

    /**
     * Ends the span, writing the request log line with it current; {@code what} is only made when
     * that line is written (most requests write none).
     */
    public void answered(Span span, Supplier<String> what, int status, long nanos) {
        if (requests.isDebugEnabled()) {
            try (Tracer.SpanInScope scope = tracer.withSpan(span)) {
                requests.debug("{} -> {} in {} ms", what.get(), status, nanos / 1_000_000);
            }
        }
        if (!span.isNoop()) {
            span.tag("http.response.status_code", Integer.toString(status));
        }
        span.end();
    }
}
