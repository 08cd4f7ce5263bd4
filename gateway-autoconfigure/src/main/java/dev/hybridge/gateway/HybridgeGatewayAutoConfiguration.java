package dev.hybridge.gateway;

import dev.hybridge.gateway.pool.WorkerPool;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.web.OipFront;
import dev.hybridge.oip.web.Traces;
import dev.hybridge.policy.PolicyEngine;
import dev.hybridge.policy.SpendLedger;
import dev.hybridge.policy.Tier;
import dev.hybridge.policy.metrics.AdmissionMeters;
import dev.hybridge.policy.metrics.RouteMetrics;
import dev.hybridge.policy.runtime.Admission;
import dev.hybridge.policy.runtime.DeadlineTimer;
import dev.hybridge.policy.runtime.Deduplicator;
import dev.hybridge.policy.runtime.RouteRuntime;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.micrometer.tagged.TaggedCircuitBreakerMetrics;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.observation.ObservationPredicate;
import io.micrometer.tracing.Tracer;
import java.time.Clock;
import java.time.Duration;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.info.BuildProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.http.server.reactive.observation.ServerRequestObservationContext;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.ServerResponse;
import org.springframework.web.reactive.function.server.support.RouterFunctionMapping;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.scheduler.Schedulers;

/**
 * Hybridge in a Spring Cloud Gateway application, on as soon as {@code hybridge.gateway.policy-folder}
 * is set: the policies (loaded at start, then watched), the two worker pools, the route runtime,
 * the {@code Hybridge} filter and a Spring Cloud Gateway route for every policy route, and the OIP
 * front beside them (health, metadata, model configuration, and 404/405 for what no route takes).
 */
@AutoConfiguration
@ConditionalOnProperty(prefix = "hybridge.gateway", name = "policy-folder")
@EnableConfigurationProperties(GatewayProperties.class)
public class HybridgeGatewayAutoConfiguration {

    @Bean
    OipCodec oipCodec() {
        return new OipCodec();
    }

    @Bean
    SpendLedger spendLedger(GatewayProperties properties,
                            ObjectProvider<org.springframework.data.redis.core.ReactiveStringRedisTemplate> redis) {
        return properties.budgetStore() == GatewayProperties.BudgetStore.REDIS
                ? new RedisSpendLedger(redis.getObject(), Clock.systemUTC(), properties.escalations().recordTtl())
                : SpendLedger.inMemory(Clock.systemUTC());
    }

    /** Reads other replicas' spending in the background when the budgets are shared. */
    @Bean(destroyMethod = "dispose")
    Disposable budgetRefresh(SpendLedger ledger, GatewayProperties properties) {
        if (!(ledger instanceof RedisSpendLedger shared)) {
            return reactor.core.Disposables.disposed();
        }
        return Flux.interval(properties.budgetRefresh(), properties.budgetRefresh(), Schedulers.boundedElastic())
                .concatMap(tick -> shared.refresh())
                .subscribe();
    }

    @Bean
    PolicyEngine policyEngine(SpendLedger ledger) {
        return new PolicyEngine(Clock.systemUTC(), new dev.hybridge.policy.PolicyLoader(), ledger);
    }

    @Bean(destroyMethod = "dispose")
    Disposable policyWatch(PolicyReloader reloader, GatewayProperties properties) {
        Duration every = properties.policyReloadInterval();
        return Flux.interval(every, every, Schedulers.boundedElastic())
                .subscribe(tick -> reloader.checkForChanges());
    }

    @Bean
    PolicyReloader policyReloader(PolicyEngine engine, GatewayProperties properties, PolicyDistribution distribution,
                                  org.springframework.context.ApplicationEventPublisher events) {
        // a new policy set: Spring Cloud Gateway builds its routes again, and edge agents get it
        PolicyReloader reloader = new PolicyReloader(engine, properties.policyFolder(), () -> {
            distribution.refresh();
            events.publishEvent(new org.springframework.cloud.gateway.event.RefreshRoutesEvent(engine));
        });
        reloader.loadOrFail();
        distribution.refresh();
        return reloader;
    }

    @Bean
    ApiKeys apiKeys(GatewayProperties properties) {
        return new ApiKeys(properties);
    }

    /** The policy sets edge agents fetch ({@code GET /hybridge/policies}). */
    @Bean
    PolicyDistribution policyDistribution(GatewayProperties properties, ApiKeys apiKeys) {
        return new PolicyDistribution(properties.policyFolder(), apiKeys);
    }

    @Bean
    RouterFunction<ServerResponse> policyDistributionRoutes(PolicyDistribution distribution, OipFront front) {
        return distribution.routes(front);
    }

    @Bean(destroyMethod = "close")
    WorkerPool edgePool(GatewayProperties properties, MeterRegistry registry) {
        return pool(Tier.EDGE, properties.edge(), properties, registry);
    }

    @Bean(destroyMethod = "close")
    WorkerPool cloudPool(GatewayProperties properties, MeterRegistry registry) {
        return pool(Tier.CLOUD, properties.cloud(), properties, registry);
    }

    private static WorkerPool pool(Tier tier, GatewayProperties.Pool config, GatewayProperties properties,
                                   MeterRegistry registry) {
        WorkerPool pool = new WorkerPool(tier, config, (int) properties.maxResponseSize().toBytes());
        TaggedCircuitBreakerMetrics.ofCircuitBreakerRegistry(pool.breakers()).bindTo(registry);
        Gauge.builder("hybridge.gateway.bulkhead.available", pool.bulkhead(),
                        b -> b.getMetrics().getAvailableConcurrentCalls())
                .description("Calls that may still start at once to this pool")
                .tag("tier", tier.wire()).register(registry);
        Gauge.builder("hybridge.gateway.workers", pool, p -> p.workers().size())
                .description("Workers known in this pool").tag("tier", tier.wire()).register(registry);
        pool.breakers().getAllCircuitBreakers().forEach(breaker -> breakerState(tier, breaker, registry));
        pool.breakers().getEventPublisher()
                .onEntryAdded(added -> breakerState(tier, added.getAddedEntry(), registry))
                .onEntryRemoved(removed -> registry.find("hybridge.gateway.breaker.state")
                        .tag("worker", removed.getRemovedEntry().getName()).meters().forEach(registry::remove));
        return pool;
    }

    /** A worker's breaker as one number, as the uplink's state: 2 closed, 1 half-open, 0 open. */
    private static void breakerState(Tier tier, CircuitBreaker breaker, MeterRegistry registry) {
        Gauge.builder("hybridge.gateway.breaker.state", breaker, b -> switch (b.getState()) {
                    case OPEN, FORCED_OPEN -> 0;
                    case HALF_OPEN -> 1;
                    default -> 2;
                }).description("The worker's circuit breaker: 2 closed, 1 half-open, 0 open")
                .tag("tier", tier.wire()).tag("worker", breaker.getName()).register(registry);
    }

    @Bean(destroyMethod = "dispose")
    Disposable dnsRefresh(GatewayProperties properties, WorkerPool edgePool, WorkerPool cloudPool) {
        return Flux.merge(refresh(edgePool, properties.edge()), refresh(cloudPool, properties.cloud())).subscribe();
    }

    private static Flux<Long> refresh(WorkerPool pool, GatewayProperties.Pool config) {
        if (config.dnsName().isBlank()) {
            return Flux.empty();
        }
        return Flux.interval(Duration.ZERO, config.dnsRefresh(), Schedulers.boundedElastic())
                .doOnNext(tick -> pool.refreshFromDns());
    }

    /** Spans per request and per tier call, with W3C trace context (over Micrometer Tracing's tracer, when present). */
    @Bean
    @ConditionalOnMissingBean
    Traces traces(ObjectProvider<Tracer> tracer) {
        return Traces.of(tracer.getIfAvailable());
    }

    /**
     * Requests to a route's infer path are observed by the {@code Hybridge} filter alone: its span
     * (with the decision) and {@code hybridge_gateway_requests_seconds}. Spring's own HTTP server
     * observation of the same request would make a second server span and a duplicate timer, and
     * costs throughput; it stays on for every other path.
     */
    @Bean
    ObservationPredicate routeRequestsObservedOnce() {
        return (name, context) -> !(context instanceof ServerRequestObservationContext server
                && isInferPath(server.getCarrier().getPath().value()));
    }

    static boolean isInferPath(String path) {
        return path.startsWith("/v2/models/") && path.endsWith("/infer");
    }

    @Bean
    RouteMetrics gatewayMetrics(MeterRegistry registry, PolicyEngine engine) {
        return new RouteMetrics(registry, engine, "hybridge.gateway.requests",
                "Requests answered by the gateway, by where and why", "hybridge.gateway.shadow");
    }

    /** The admission gates of the routes: at the door and before each tier ({@code hybridge.gateway.admission.*}). */
    @Bean
    Admission admission(GatewayProperties properties, MeterRegistry registry) {
        dev.hybridge.oip.web.AdmissionProperties a = properties.admission();
        return AdmissionMeters.create("hybridge.gateway.", () -> new Admission.Settings(a.enabled(), a.initialLimit(),
                a.minLimit(), a.maxLimit(), a.rttTolerance(), a.escalationShare(), a.window(), a.retryAfter()), registry);
    }

    /** The route runtime the Hybridge filter runs, with the two worker pools as its tiers. */
    @Bean
    RouteRuntime routeRuntime(PolicyEngine engine, WorkerPool edgePool, WorkerPool cloudPool, OipCodec codec,
                              RouteMetrics metrics, DeadlineTimer deadlines, Deduplicator escalations, Traces traces,
                              Admission admission, GatewayProperties properties) {
        return new RouteRuntime(engine, new PoolTier(edgePool, traces), new PoolTier(cloudPool, traces), codec,
                System::nanoTime, deadlines, metrics, null, escalations, admission,
                dev.hybridge.policy.runtime.DeviceProfiles.NONE, properties.escalations().runAtLeast());
    }

    /**
     * Escalations answered, by idempotency key: a replay gets its answer again, not a second run.
     * Kept where the budgets are: in this gateway's memory, or in Redis when replicas share budgets.
     */
    @Bean
    Deduplicator escalationRecord(GatewayProperties properties, MeterRegistry registry, OipCodec codec,
                                  ObjectProvider<org.springframework.data.redis.core.ReactiveStringRedisTemplate> redis) {
        if (properties.budgetStore() == GatewayProperties.BudgetStore.REDIS) {
            return new RedisEscalationRecord(redis.getObject(), properties.escalations().recordTtl(), Duration.ofSeconds(30),
                    codec, registry);
        }
        return new EscalationRecord(Clock.systemUTC(), properties.escalations().recordTtl(),
                properties.escalations().maxKeys(), registry);
    }

    @Bean(destroyMethod = "dispose")
    Disposable escalationExpiry(Deduplicator record) {
        if (!(record instanceof EscalationRecord inMemory)) {
            return reactor.core.Disposables.disposed();
        }
        return Flux.interval(Duration.ofMinutes(1), Duration.ofMinutes(1), Schedulers.boundedElastic())
                .subscribe(tick -> inMemory.expire());
    }

    @Bean(destroyMethod = "close")
    DeadlineTimer deadlineTimer() {
        return new DeadlineTimer(action -> reactor.core.scheduler.Schedulers.parallel().schedule(action));
    }

    /** {@code Hybridge=<route>}: the filter that runs a policy route on a Spring Cloud Gateway route. */
    @Bean
    HybridgeGatewayFilterFactory hybridgeGatewayFilterFactory(RouteRuntime runtime, GatewayProperties properties,
                                                              ApiKeys apiKeys, OipCodec codec, RouteMetrics metrics,
                                                              Traces traces, MeterRegistry registry) {
        BodyBudget budget = new BodyBudget(properties.maxBufferedRequestBytes().toBytes());
        Gauge.builder("hybridge.gateway.buffered.request", budget, BodyBudget::held).baseUnit("bytes")
                .description("Bytes of request bodies the gateway holds now (hybridge.gateway.max-buffered-request-bytes)")
                .register(registry);
        return new HybridgeGatewayFilterFactory(runtime, apiKeys, codec, metrics, properties, traces, budget);
    }

    /** The routes' door, before Spring Cloud Gateway's route lookup and filters. */
    @Bean
    DoorFilter hybridgeDoor(RouteRuntime runtime, PolicyEngine engine) {
        return new DoorFilter(runtime, engine);
    }

    /** Writes the Hybridge filter's answers once the route's other filters are done with the response. */
    @Bean
    HybridgeGatewayFilterFactory.AnswerWriter hybridgeAnswerWriter() {
        return new HybridgeGatewayFilterFactory.AnswerWriter();
    }

    /** A Spring Cloud Gateway route for every policy route the operator has not declared. */
    @Bean
    PolicyRouteDefinitions policyRouteDefinitions(PolicyEngine engine,
                                                  org.springframework.cloud.gateway.config.GatewayProperties gateway) {
        return new PolicyRouteDefinitions(engine, gateway);
    }

    @Bean
    RouteBackend routeBackend(PolicyEngine engine, PolicyReloader reloader, RouteRuntime runtime, WorkerPool edgePool,
                              WorkerPool cloudPool, OipCodec codec, ObjectProvider<BuildProperties> build) {
        BuildProperties info = build.getIfAvailable();
        return new RouteBackend(runtime, engine, reloader, edgePool, cloudPool, codec,
                info == null ? "dev" : info.getVersion());
    }

    @Bean
    OipFront oipFront(RouteBackend backend, OipCodec codec) {
        return new OipFront(backend, codec);
    }

    /** The OIP front: health, server and route metadata, model configuration. */
    @Bean
    RouterFunction<ServerResponse> oipRoutes(OipFront front) {
        return front.routes();
    }

    /**
     * What no route takes (an unknown route, a route's predicates not met, a wrong method or path)
     * gets its OIP 404 or 405 from a mapping consulted after Spring Cloud Gateway's routes.
     */
    @Bean
    RouterFunctionMapping oipFallbackMapping(RouteBackend backend, OipFront front, RouteMetrics metrics,
                                             org.springframework.http.codec.ServerCodecConfigurer codecs) {
        RouterFunctionMapping mapping = new RouterFunctionMapping(
                RouteBackend.unroutedInfer(backend, front, metrics).and(front.fallback()));
        mapping.setMessageReaders(codecs.getReaders());
        mapping.setOrder(FALLBACK_ORDER);
        return mapping;
    }

    /** After Spring Cloud Gateway's route mapping (1 unless set otherwise), before static resources. */
    static final int FALLBACK_ORDER = 100;
}
