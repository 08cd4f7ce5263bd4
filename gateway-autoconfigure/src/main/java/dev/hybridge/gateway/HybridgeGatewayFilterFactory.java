package dev.hybridge.gateway;

import dev.hybridge.oip.ContentCoding;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.OipException;
import dev.hybridge.oip.RoutingParameters;
import dev.hybridge.oip.web.OipErrors;
import dev.hybridge.oip.web.Traces;
import dev.hybridge.policy.metrics.RouteMetrics;
import dev.hybridge.policy.runtime.Admission;
import dev.hybridge.policy.runtime.RouteAnswer;
import dev.hybridge.policy.runtime.RouteOutcome;
import dev.hybridge.policy.runtime.RouteRuntime;
import io.micrometer.tracing.Span;
import java.time.Duration;
import java.util.List;
import org.springframework.cloud.gateway.filter.GatewayFilter;
import org.springframework.cloud.gateway.filter.OrderedGatewayFilter;
import org.springframework.cloud.gateway.filter.factory.AbstractGatewayFilterFactory;
import org.springframework.core.Ordered;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.server.reactive.ServerHttpRequest;
import org.springframework.http.server.reactive.ServerHttpResponse;
import org.springframework.util.StringUtils;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/**
 * {@code Hybridge=<route>}: runs a Hybridge route (a policy in the policy folder) on a Spring
 * Cloud Gateway route. It answers the request itself, from the route's tiers, and so ends the
 * filter chain: filters before it (the operator's {@code RequestSize}, a rate limiter) decide
 * whether it runs; filters that change the response ({@code SecureHeaders}) apply to its answer.
 *
 * <p>The gateway gives every policy route one such Spring Cloud Gateway route
 * ({@link PolicyRouteDefinitions}); an operator who wants predicates or filters of their own on
 * one declares the route in {@code spring.cloud.gateway.server.webflux.routes} with this filter
 * last, for example:
 *
 * <pre>
 * - id: digits
 *   uri: hybridge:digits
 *   predicates: [Path=/v2/models/digits/infer, Header=X-Partner, .+]
 *   filters: [SecureHeaders, Hybridge=digits]
 * </pre>
 *
 * <p>What a request needs that is the same for every request of the route is built once, in
 * {@link #apply}, when Spring Cloud Gateway builds the route.
 */
public final class HybridgeGatewayFilterFactory extends AbstractGatewayFilterFactory<HybridgeGatewayFilterFactory.Config> {

    static final String LIMIT_NAME = "hybridge.gateway.max-request-size";

    /**
     * The filter's settings.
     */
    public static final class Config {
        private String route;

        /** The Hybridge route (policy) this gateway route runs. */
        public String getRoute() {
            return route;
        }

        public void setRoute(String route) {
            this.route = route;
        }
    }

    private final RouteRuntime runtime;
    private final ApiKeys apiKeys;
    private final OipCodec codec;
    private final RouteMetrics metrics;
    private final Traces traces;
    private final int maxRequestBytes;
    private final Duration linger;
    private final BodyBudget bodies;

    HybridgeGatewayFilterFactory(RouteRuntime runtime, ApiKeys apiKeys, OipCodec codec, RouteMetrics metrics,
                                 GatewayProperties properties, Traces traces, BodyBudget bodies) {
        super(Config.class);
        this.bodies = bodies;
        this.traces = traces;
        this.runtime = runtime;
        this.apiKeys = apiKeys;
        this.codec = codec;
        this.metrics = metrics;
        this.maxRequestBytes = (int) properties.maxRequestSize().toBytes();
        this.linger = properties.unreadBodyLinger();
    }

    @Override
    public List<String> shortcutFieldOrder() {
        return List.of("route");
    }

    @Override
    public GatewayFilter apply(Config config) {
        if (!StringUtils.hasText(config.getRoute())) {
            throw new IllegalArgumentException("Hybridge filter: route must name a route of the policy folder but was empty"
                    + " (write it as Hybridge=<route>)");
        }
        String route = config.getRoute();
        // last in the route's chain: it answers, so no filter after it would run
        return new OrderedGatewayFilter((exchange, chain) -> infer(exchange, route), Ordered.LOWEST_PRECEDENCE - 1) {
            @Override
            public String toString() {
                return "[Hybridge route = '" + route + "']";
            }
        };
    }

    private Mono<Void> infer(ServerWebExchange exchange, String route) {
        long start = System.nanoTime();
        ServerHttpRequest request = exchange.getRequest();
        // passed at the door already (DoorFilter), or here, before the body is read, for a path of the operator's
        Admission.Permit passed = exchange.getAttribute(DoorFilter.PLACE);
        if (passed == null) {
            Admission.Lane lane = Admission.Lane.of(request.getHeaders()::getFirst);
            Admission.Permit admitted = runtime.admit(lane);
            if (admitted == null) {
                return write(exchange, runtime.refusedAtDoor(route, lane));
            }
            passed = Admission.once(admitted);
        }
        Admission.Permit door = passed;
        BoundedBody body = new BoundedBody(maxRequestBytes, request.getHeaders().getContentLength(), bodies);
        if (!body.reserve()) {
            door.ignore();
            return write(exchange, runtime.refusedForLoad(route, bodies.refusal()));
        }
        Span span = traces.received("route " + route, request.getHeaders()::getFirst);
        String trace = traces.traceparent(span);
        return Mono.defer(() -> {
            String tenant = apiKeys.tenantOf(request.getHeaders());
            int jsonLength = OipCodec.jsonLengthHeader(request.getHeaders().getFirst(OipCodec.HEADER_LENGTH));
            String encoding = request.getHeaders().getFirst(HttpHeaders.CONTENT_ENCODING);
            Mono<byte[]> read = body.read(request.getBody(), linger);
            if (jsonLength < 0 || encoding != null) {
                // a JSON body (a second of audio: about 2 ms of CPU to decode) or a compressed one is
                // decoded on Reactor's CPU-bound workers, not on the event loop that read it: a loop
                // busy decoding cannot answer the other connections it serves, and under a burst those
                // are mostly requests the door refuses, which should be answered at once. Binary tensor
                // data is taken as it is and stays on the loop (a hand-off would cost more than it saves)
                read = read.publishOn(Schedulers.parallel());
            }
            return read
                    .flatMap(raw -> Mono.fromFuture(runtime.infer(route, tenant,
                            ContentCoding.decode(encoding, raw, maxRequestBytes, LIMIT_NAME), jsonLength, trace, door)))
                    .flatMap(answer -> {
                        RouteOutcome outcome = answer.outcome();
                        if (!span.isNoop()) { // a span not recorded (most of them) keeps no attributes
                            outcome.attributes().forEach(span::tag);
                        }
                        traces.answered(span, () -> "route " + route + " " + outcome.attributes(), outcome.status(),
                                System.nanoTime() - start);
                        return write(exchange, answer);
                    });
        }).doFinally(signal -> {
            door.ignore(); // given back already, unless the request failed before the runtime had it
            body.release();
        })
                .onErrorResume(e -> {
            if (e instanceof BodyBudget.Exceeded) { // a refusal for load, told as the door tells one
                RouteAnswer refused = runtime.refusedForLoad(route, e.getMessage());
                traces.answered(span, () -> "route " + route + " refused: " + e.getMessage(), 503,
                        System.nanoTime() - start);
                if (body.started() && !body.ended()) {
                    exchange.getResponse().getHeaders().set(HttpHeaders.CONNECTION, "close");
                }
                return write(exchange, refused);
            }
            OipException error = OipErrors.of(e);
            metrics.refused(route, error.status(), System.nanoTime() - start);
            span.error(e);
            traces.answered(span, () -> "route " + route + " refused: " + error.getMessage(), error.status(),
                    System.nanoTime() - start);
            return writeError(exchange, error, body.started() && !body.ended());
        });
    }

    /**
     * Sets the answer's status and headers and leaves its body for {@link AnswerWriter}, which
     * writes it once every filter of the route has had its say on the response (Spring Cloud
     * Gateway's filters change headers after the chain, as for a proxied answer).
     */
    private Mono<Void> write(ServerWebExchange exchange, RouteAnswer answer) {
        HttpHeaders headers = exchange.getResponse().getHeaders();
        answer.outcome().headers().forEach(headers::set);
        if (answer.jsonLength() >= 0) {
            headers.set(OipCodec.HEADER_LENGTH, Integer.toString(answer.jsonLength()));
        }
        return leave(exchange, answer.outcome().status(), answer.jsonLength() >= 0
                ? MediaType.APPLICATION_OCTET_STREAM : MediaType.APPLICATION_JSON, answer.body());
    }

    /** An OIP error answer; {@code close}: the connection closes after it (a body is still coming). */
    private Mono<Void> writeError(ServerWebExchange exchange, OipException error, boolean close) {
        if (close) {
            exchange.getResponse().getHeaders().set(HttpHeaders.CONNECTION, "close");
        }
        if (error.retryAfterSeconds() > 0) {
            exchange.getResponse().getHeaders().set(HttpHeaders.RETRY_AFTER, Long.toString(error.retryAfterSeconds()));
            exchange.getResponse().getHeaders().set(RoutingParameters.REASON_HEADER, "overloaded");
        }
        return leave(exchange, error.status(), MediaType.APPLICATION_JSON, codec.encodeError(error.getMessage()));
    }

    private static Mono<Void> leave(ServerWebExchange exchange, int status, MediaType type, byte[] body) {
        ServerHttpResponse response = exchange.getResponse();
        response.setStatusCode(HttpStatus.valueOf(status));
        response.getHeaders().setContentType(type);
        response.getHeaders().setContentLength(body.length);
        exchange.getAttributes().put(AnswerWriter.BODY, body);
        return Mono.empty();
    }

    /**
     * Writes the body the {@code Hybridge} filter left, after the route's filters have finished:
     * a global filter early in the chain (as Spring Cloud Gateway's own writer of proxied
     * answers), so its work comes last.
     */
    static final class AnswerWriter implements org.springframework.cloud.gateway.filter.GlobalFilter, Ordered {

        static final String BODY = AnswerWriter.class.getName() + ".body";

        @Override
        public Mono<Void> filter(ServerWebExchange exchange, org.springframework.cloud.gateway.filter.GatewayFilterChain chain) {
            return chain.filter(exchange).then(Mono.defer(() -> {
                byte[] body = exchange.getAttribute(BODY);
                if (body == null) {
                    return Mono.empty();
                }
                ServerHttpResponse response = exchange.getResponse();
                return response.writeWith(Mono.just(response.bufferFactory().wrap(body)));
            }));
        }

        @Override
        public int getOrder() {
            return -1;
        }
    }
}
