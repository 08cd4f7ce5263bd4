package dev.hybridge.serving.web;

import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.web.OipFront;
import dev.hybridge.oip.web.Traces;
import dev.hybridge.serving.model.ModelHost;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.tracing.Tracer;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.ApplicationRunner;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.boot.info.BuildProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.ServerResponse;

/**
 * The OIP server both programs run: a model host over {@code hybridge.serving.model-repository}
 * and the {@code /v2} endpoints. Models load in an {@link ApplicationRunner}, so the program is
 * live at once and ready only when they are loaded.
 */
@Configuration(proxyBeanMethods = false)
@EnableConfigurationProperties(ServingProperties.class)
public class ServingConfiguration {

    @Bean(destroyMethod = "close")
    ModelHost modelHost(ServingProperties properties, MeterRegistry meters) {
        return new ModelHost(properties.toHostSettings(), meters);
    }

    @Bean
    OipCodec oipCodec(ServingProperties properties) {
        return new OipCodec(properties.maxJsonDepth());
    }

    @Bean
    HostBackend hostBackend(ModelHost host, ObjectProvider<ServedRoutes> routes, OipCodec codec,
                            ServingProperties properties, ObjectProvider<BuildProperties> build) {
        BuildProperties info = build.getIfAvailable();
        return new HostBackend(host, routes.getIfAvailable(), codec, properties,
                info == null ? "dev" : info.getVersion());
    }

    @Bean
    OipFront oipFront(HostBackend backend, OipCodec codec) {
        return new OipFront(backend, codec);
    }

    /** The OIP endpoints but {@code POST .../infer} ({@link InferRoute}). */
    @Bean
    RouterFunction<ServerResponse> oipRoutes(OipFront front) {
        return front.routes();
    }

    /** 404/405 for the rest of {@code /v2}: after every other router function (a program may add endpoints under it). */
    @Bean
    @org.springframework.core.annotation.Order(org.springframework.core.Ordered.LOWEST_PRECEDENCE)
    RouterFunction<ServerResponse> oipFallback(OipFront front) {
        return front.fallback();
    }

    /** Spans per request and per call, with W3C trace context (over Micrometer Tracing's tracer, when present). */
    @Bean
    @org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean
    Traces traces(ObjectProvider<Tracer> tracer) {
        return Traces.of(tracer.getIfAvailable());
    }

    @Bean
    InferRoute inferRoute(ModelHost host, ObjectProvider<ServedRoutes> routes, OipCodec codec, ServingProperties properties,
                          MeterRegistry meters, Traces traces) {
        return new InferRoute(host, routes.getIfAvailable(), codec, (int) properties.maxRequestSize().toBytes(),
                properties.unreadBodyLinger(), meters, traces);
    }

    @Bean
    ApplicationRunner loadModels(ModelHost host) {
        return args -> host.loadAll();
    }

    /** Part of readiness (not liveness): the models are loaded and, when strict, none failed. */
    @Bean
    HealthIndicator models(HostBackend backend, ModelHost host) {
        return () -> {
            String notReady = backend.notReadyReason();
            Health.Builder health = notReady == null ? Health.up() : Health.outOfService().withDetail("reason", notReady);
            return health.withDetail("served", host.modelNames()).withDetail("failed", host.failures().keySet()).build();
        };
    }
}
