package dev.hybridge.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.hybridge.models.Fsdd;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * One request's W3C trace context through the three programs: a client calls the edge agent with
 * its own {@code traceparent}, the agent escalates to the gateway, the gateway calls a cloud
 * worker. Each program writes its request log line ({@code hybridge.requests}, turned on here)
 * with the span current, so the client's trace id is in all three logs, each hop with a span id
 * of its own; a request without a traceparent starts a trace of its own. The three programs also
 * export their spans over OTLP (the one setting that turns export on) to a receiver on loopback,
 * which sees the hops as one trace, each span the child of the one before.
 */
class TracesIT {

    static final String TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
    static final String CLIENT_SPAN = "00f067aa0ba902b7";
    static final String REQUEST_LOG = "--logging.level.hybridge.requests=debug";
    /** Spring Boot's log correlation: [traceId-spanId] on each line written with a span current. */
    static final Pattern CORRELATION = Pattern.compile("\\[([0-9a-f]{32})-([0-9a-f]{16})]");

    static OtlpReceiver otlp;
    static ProgramProcess cloud;
    static ProgramProcess gateway;
    static ProgramProcess agent;
    static Path policies;
    static Path state;

    @BeforeAll
    static void start() throws IOException {
        policies = E2e.shippedPolicies("hybridge-e2e-traces-policies");
        state = Files.createTempDirectory("hybridge-e2e-traces-state");
        otlp = new OtlpReceiver();
        // the setting that turns export on, and a short batch delay so that spans leave within the test
        String export = "--management.opentelemetry.tracing.export.otlp.endpoint=" + otlp.endpoint();
        String soon = "--management.opentelemetry.tracing.export.schedule-delay=200ms";
        cloud = ProgramProcess.start(E2e.CLOUD, E2e.logDir(), List.of(),
                List.of("--hybridge.serving.model-repository=" + E2e.DEMO.resolve("cloud"), REQUEST_LOG, export, soon));
        cloud.awaitReady(E2e.START_TIMEOUT);
        gateway = E2e.startGateway("--hybridge.gateway.policy-folder=" + policies,
                "--hybridge.gateway.cloud.addresses=" + cloud.baseUri(), "--hybridge.gateway.anonymous-tenant=fleet",
                REQUEST_LOG, export, soon);
        gateway.awaitReady(E2e.START_TIMEOUT);
        agent = E2e.startAgent(gateway.baseUri(), "traces-device", state, REQUEST_LOG, export, soon);
    }

    @AfterAll
    static void stop() throws IOException {
        for (ProgramProcess p : new ProgramProcess[] {agent, gateway, cloud}) {
            E2e.closeQuietly(p);
        }
        if (otlp != null) {
            otlp.close();
        }
        E2e.deleteTrees(policies, state);
    }

    @Test
    void theClientsTraceIdIsInEveryProgramsLogWithASpanPerHop() throws Exception {
        Fsdd.Clip clip = Fsdd.testSplit(Fsdd.recordings(ProgramProcess.root())).get(0);
        OipClient client = new OipClient(agent.baseUri());
        // asked for the cloud: the agent escalates to the gateway, which calls the cloud worker (a deadline for
        // programs just started)
        OipClient.Answer answer = client.infer("digits", E2e.clip(clip, "traced-1", Map.of("hybridge.route", "cloud", "hybridge.deadline_ms", 10_000)), true,
                Map.of("traceparent", "00-" + TRACE_ID + "-" + CLIENT_SPAN + "-01"));
        assertThat(answer.status()).as(answer.text()).isEqualTo(200);
        assertThat(E2e.jsonObject(answer).get("parameters").toString()).contains("hybridge.tier=cloud");

        String agentSpan = awaitLine(agent, TRACE_ID, "route digits");
        String gatewaySpan = awaitLine(gateway, TRACE_ID, "route digits");
        String cloudSpan = awaitLine(cloud, TRACE_ID, "infer digits-cloud");
        assertThat(List.of(agentSpan, gatewaySpan, cloudSpan)).doesNotHaveDuplicates().doesNotContain(CLIENT_SPAN);

        // no traceparent: a trace of the request's own, the same through the programs
        OipClient.Answer untraced = client.infer("digits", E2e.clip(clip, "untraced-1", Map.of("hybridge.route", "cloud", "hybridge.deadline_ms", 10_000)),
                true);
        assertThat(untraced.status()).isEqualTo(200);
        String line = awaitLine(agent, null, "route digits");
        String started = line.substring(0, 32);
        assertThat(started).isNotEqualTo(TRACE_ID);
        awaitLine(cloud, started, "infer digits-cloud");
    }

    @Test
    void everyProgramExportsItsSpansOverOtlpAsOneTrace() throws Exception {
        String traceId = "0af7651916cd43dd8448eb211c80319c";
        String clientSpan = "b7ad6b7169203331";
        Fsdd.Clip clip = Fsdd.testSplit(Fsdd.recordings(ProgramProcess.root())).get(1);
        OipClient.Answer answer = new OipClient(agent.baseUri()).infer("digits", E2e.clip(clip, "exported-1",
                        Map.of("hybridge.route", "cloud", "hybridge.deadline_ms", 10_000)), true,
                Map.of("traceparent", "00-" + traceId + "-" + clientSpan + "-01"));
        assertThat(answer.status()).as(answer.text()).isEqualTo(200);

        OtlpReceiver.Received agentRoute = exported("edge-agent", "route digits", traceId, clientSpan);
        assertThat(agentRoute.kind()).isEqualTo(io.opentelemetry.proto.trace.v1.Span.SpanKind.SPAN_KIND_SERVER);
        assertThat(agentRoute.attributes()).containsEntry("hybridge.tier", "cloud");
        OtlpReceiver.Received escalation = exported("edge-agent", "escalate digits", traceId, agentRoute.spanId());
        assertThat(escalation.kind()).isEqualTo(io.opentelemetry.proto.trace.v1.Span.SpanKind.SPAN_KIND_CLIENT);
        OtlpReceiver.Received gatewayRoute = exported("gateway", "route digits", traceId, escalation.spanId());
        assertThat(gatewayRoute.attributes()).containsEntry("hybridge.tier", "cloud").containsKey("hybridge.cost_usd");
        OtlpReceiver.Received cloudCall = exported("gateway", "cloud digits-cloud", traceId, gatewayRoute.spanId());
        OtlpReceiver.Received inference = exported("cloud-worker", "infer digits-cloud", traceId, cloudCall.spanId());
        assertThat(inference.attributes()).containsEntry("http.response.status_code", "200");
    }

    /** The span {@code service} exported named {@code name} in the trace, the child of {@code parent}. */
    private static OtlpReceiver.Received exported(String service, String name, String traceId, String parent)
            throws InterruptedException {
        return otlp.await(service + " '" + name + "' in trace " + traceId + " under " + parent,
                r -> service.equals(r.service()) && name.equals(r.name()) && traceId.equals(r.traceId())
                        && parent.equals(r.parentId()), 20);
    }

    /**
     * Waits, a bounded time, for the program's request log line about {@code what} in trace
     * {@code traceId} (any new trace but the client's when null); returns its span id, or for a
     * null trace id "traceId spanId".
     */
    private static String awaitLine(ProgramProcess program, String traceId, String what) throws Exception {
        long until = System.nanoTime() + 10_000_000_000L;
        while (true) {
            for (String line : Files.readAllLines(program.log())) {
                Matcher m = CORRELATION.matcher(line);
                if (line.contains("hybridge.requests") && line.contains(what) && m.find()) {
                    if (traceId != null && m.group(1).equals(traceId)) {
                        return m.group(2);
                    }
                    if (traceId == null && !m.group(1).equals(TRACE_ID)) {
                        return m.group(1) + " " + m.group(2);
                    }
                }
            }
            assertThat(System.nanoTime()).as(program + ": no request log line for " + what + " in trace " + traceId)
                    .isLessThan(until);
            Thread.sleep(50); // another process's log file: there is nothing to be notified by
        }
    }
}
