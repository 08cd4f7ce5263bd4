package dev.hybridge.gateway;

import dev.hybridge.policy.PolicyEngine;
import dev.hybridge.policy.runtime.Admission;
import dev.hybridge.policy.runtime.RouteAnswer;
import dev.hybridge.policy.runtime.RouteRuntime;
import org.springframework.core.Ordered;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpMethod;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.server.reactive.ServerHttpRequest;
import org.springframework.http.server.reactive.ServerHttpResponse;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilter;
import org.springframework.web.server.WebFilterChain;
import reactor.core.publisher.Mono;

/**
 * The routes' door, the first thing a request to a route's infer path
 * ({@code POST /v2/models/<route>/infer}) meets: before Spring Cloud Gateway looks up its route
 * and runs the route's filters, and before its body is read. Under a flood most requests are
 * refused here, so a refusal costs the exchange and its answer, not the gateway's route machinery
 * (a profile of a flooded gateway put the route lookup and the filter chain ahead of the refusal
 * itself).
 *
 * <p>A request let in carries its place to the {@code Hybridge} filter
 * ({@link #PLACE}), which hands it to the route runtime; the place is given back when the exchange
 * ends, whatever happened to it. A request on another path (an operator's own route running the
 * {@code Hybridge} filter) passes the door in the filter instead. A refusal here is answered
 * without the route's own filters ({@code SecureHeaders}, say): they never ran.
 */
final class DoorFilter implements WebFilter, Ordered {

    /** The exchange attribute holding the request's place at the door. */
    static final String PLACE = DoorFilter.class.getName() + ".place";

    private static final String PREFIX = "/v2/models/";
    private static final String SUFFIX = "/infer";

    private final RouteRuntime runtime;
    private final PolicyEngine engine;

    DoorFilter(RouteRuntime runtime, PolicyEngine engine) {
        this.runtime = runtime;
        this.engine = engine;
    }

    @Override
    public Mono<Void> filter(ServerWebExchange exchange, WebFilterChain chain) {
        ServerHttpRequest request = exchange.getRequest();
        String route = request.getMethod() == HttpMethod.POST ? route(request.getPath().value()) : null;
        if (route == null || !engine.current().routes().containsKey(route)) {
            return chain.filter(exchange);
        }
        Admission.Lane lane = Admission.Lane.of(request.getHeaders()::getFirst);
        Admission.Permit admitted = runtime.admit(lane);
        if (admitted == null) {
            return refuse(exchange.getResponse(), runtime.refusedAtDoor(route, lane));
        }
        Admission.Permit place = Admission.once(admitted);
        exchange.getAttributes().put(PLACE, place);
        return chain.filter(exchange).doFinally(signal -> place.ignore()); // given back already, unless never run
    }

    /** The route a path names ({@code /v2/models/<route>/infer}), or null. */
    static String route(String path) {
        if (!path.startsWith(PREFIX) || !path.endsWith(SUFFIX) || path.length() <= PREFIX.length() + SUFFIX.length()) {
            return null;
        }
        String name = path.substring(PREFIX.length(), path.length() - SUFFIX.length());
        return name.indexOf('/') < 0 ? name : null;
    }

    private static Mono<Void> refuse(ServerHttpResponse response, RouteAnswer refused) {
        response.setStatusCode(HttpStatus.valueOf(refused.outcome().status()));
        HttpHeaders headers = response.getHeaders();
        refused.outcome().headers().forEach(headers::set);
        headers.setContentType(MediaType.APPLICATION_JSON);
        headers.setContentLength(refused.body().length);
        return response.writeWith(Mono.just(response.bufferFactory().wrap(refused.body())));
    }

    @Override
    public int getOrder() {
        return Ordered.HIGHEST_PRECEDENCE;
    }
}
