package dev.hybridge.oip.web;

import io.micrometer.tracing.Link;
import io.micrometer.tracing.Span;
import io.micrometer.tracing.TraceContext;
import io.micrometer.tracing.Tracer;
import io.micrometer.tracing.propagation.Propagator;
import java.util.function.BiConsumer;
import java.util.function.Function;
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
    private final Propagator propagator;

    public Traces(Tracer tracer, Propagator propagator) {
        this.tracer = tracer;
        this.propagator = propagator;
    }

    /** Over the program's tracer and propagator, or {@link #none()} when it has no tracing (either is null). */
    public static Traces of(Tracer tracer, Propagator propagator) {
        return tracer != null && propagator != null ? new Traces(tracer, propagator) : none();
    }

    /** No spans, no headers: for tests and programs without tracing. */
    public static Traces none() {
        return new Traces(Tracer.NOOP, Propagator.NOOP);
    }

    /**
     * A span for a request this program received, the child of the caller's context when it sent
     * one. A request without a {@code traceparent} starts a new trace without running the
     * propagators (most requests, and the dearest part of a span here: each propagator asks the
     * headers for its own fields).
     */
    public Span received(String name, Function<String, String> header) {
        Span.Builder builder = header.apply(TRACEPARENT) == null ? tracer.spanBuilder().setNoParent()
                : propagator.extract(header, Function::apply);
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

    /** The context a {@code traceparent} value names (version 00: ids in lower-case hex), or null. */
    private TraceContext parse(String traceparent) {
        String[] parts = traceparent == null ? new String[0] : traceparent.split("-");
        if (parts.length != 4 || parts[1].length() != 32 || parts[2].length() != 16 || parts[3].length() != 2) {
            return null;
        }
        return tracer.traceContextBuilder().traceId(parts[1]).spanId(parts[2]).sampled(parts[3].endsWith("1")).build();
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
        if (requests.isDebugEnabled()) {
            try (Tracer.SpanInScope scope = tracer.withSpan(span)) {
                requests.debug("{} -> {} in {} ms", what, status, nanos / 1_000_000);
            }
        }
        span.tag("http.response.status_code", Integer.toString(status)).end();
    }
}
