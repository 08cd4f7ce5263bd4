package dev.hybridge.edge;

import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.web.Traces;
import dev.hybridge.policy.PolicyEngine;
import dev.hybridge.policy.PolicyLoader;
import dev.hybridge.policy.SpendLedger;
import dev.hybridge.policy.metrics.AdmissionMeters;
import dev.hybridge.policy.metrics.RouteMetrics;
import dev.hybridge.policy.runtime.Admission;
import dev.hybridge.policy.runtime.DeadlineTimer;
import dev.hybridge.policy.runtime.RouteRuntime;
import dev.hybridge.serving.model.ModelHost;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.net.InetAddress;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Lazy;

/**
 * The agent as a decision point: its routes (from a local folder or the gateway), run by the
 * shared route runtime with its own models as the edge tier and the gateway, through the uplink,
 * as the cloud.
 */
@Configuration(proxyBeanMethods = false)
@EnableConfigurationProperties(EdgeProperties.class)
public class EdgeConfiguration {

    @Bean
    PolicyEngine edgePolicyEngine() {
        Clock clock = Clock.systemUTC();
        return new PolicyEngine(clock, new PolicyLoader(), SpendLedger.inMemory(clock));
    }

    @Bean(destroyMethod = "close")
    Uplink uplink(EdgeProperties properties) {
        return new Uplink(properties.uplink());
    }

    /** Eager even when the agent is launched with lazy initialization: the routes load at start. */
    @Bean
    @Lazy(false)
    EdgePolicies edgePolicies(PolicyEngine engine, EdgeProperties properties, Uplink uplink) {
        EdgePolicies policies = new EdgePolicies(engine, properties, uplink);
        policies.loadAtStart();
        return policies;
    }

    /** Asks for the policies again every {@code uplink.policy-refresh} (the first time at once). */
    @Bean(destroyMethod = "shutdownNow")
    @Lazy(false)
    ScheduledExecutorService policyRefresh(EdgePolicies policies, EdgeProperties properties) {
        ScheduledExecutorService refresh = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "hybridge-policies");
            t.setDaemon(true);
            return t;
        });
        long every = Math.max(100, properties.uplink().policyRefresh().toMillis());
        refresh.scheduleWithFixedDelay(policies::refresh, 0, every, TimeUnit.MILLISECONDS);
        return refresh;
    }

    @Bean(destroyMethod = "close")
    DeadlineTimer edgeDeadlines() {
        return new DeadlineTimer(ForkJoinPool.commonPool());
    }

    /**
     * The agent's route meters ({@code hybridge.edge.requests}, {@code hybridge.edge.shadow} and the
     * shared {@code hybridge.route.*} and {@code hybridge.tenant.*}), and the link's state.
     */
    @Bean
    RouteMetrics edgeMetrics(MeterRegistry registry, PolicyEngine engine, Uplink uplink) {
        Gauge.builder("hybridge.edge.uplink.state", uplink, u -> u.state().level())
                .description("The link to the gateway: 2 online, 1 degraded, 0 offline").register(registry);
        return new RouteMetrics(registry, engine, "hybridge.edge.requests",
                "Route requests answered by the edge agent, by where and why", "hybridge.edge.shadow");
    }

    @Bean
    LocalTier localTier(ModelHost host, OipCodec codec) {
        return new LocalTier(host, codec);
    }

    @Bean
    UplinkTier uplinkTier(Uplink uplink, OipCodec codec, EdgeProperties properties, MeterRegistry registry,
                          Traces traces) {
        return new UplinkTier(uplink, codec, deviceId(properties), registry, traces);
    }

    /** Escalations that cannot be sent wait here ({@code <state-dir>/outbox.db}); none when the outbox is off. */
    @Bean(destroyMethod = "close")
    @Lazy(false)
    Outbox outbox(EdgeProperties properties) {
        EdgeProperties.Outbox config = properties.outbox();
        return new Outbox(java.nio.file.Path.of(properties.stateDir()).resolve("outbox.db"), config.maxEntries(),
                config.maxBytes().toBytes(), config.retention(), config.synchronousFull(), Clock.systemUTC());
    }

    @Bean
    EscalationEndpoint escalationEndpoint(Outbox outbox, OipCodec codec) {
        return new EscalationEndpoint(outbox, codec);
    }

    @Bean
    Callbacks callbacks(Outbox outbox, EscalationEndpoint views, EdgeProperties properties, MeterRegistry registry) {
        return new Callbacks(outbox, views, properties.outbox(), registry);
    }

    /** The admission gates of the agent's routes ({@code hybridge.edge.admission.*}). */
    @Bean
    Admission admission(EdgeProperties properties, MeterRegistry registry) {
        dev.hybridge.oip.web.AdmissionProperties a = properties.admission();
        return AdmissionMeters.create("hybridge.edge.", () -> new Admission.Settings(a.enabled(), a.initialLimit(),
                a.minLimit(), a.maxLimit(), a.rttTolerance(), a.escalationShare(), a.window(), a.retryAfter()), registry);
    }

    /** What the device learns of its user for routes with a {@code device-profile} ({@code <state-dir>/device-profiles.json}). */
    @Bean(destroyMethod = "close")
    ProfileFile profileFile(EdgeProperties properties) {
        return new ProfileFile(java.nio.file.Path.of(properties.stateDir()).resolve("device-profiles.json"));
    }

    @Bean
    RouteRuntime edgeRouteRuntime(PolicyEngine engine, LocalTier local, UplinkTier cloud, OipCodec codec,
                                  EdgeProperties properties, DeadlineTimer deadlines, RouteMetrics metrics, Outbox outbox,
                                  Callbacks callbacks, Admission admission, ProfileFile profiles) {
        return new RouteRuntime(engine, local, cloud, codec, System::nanoTime, deadlines, metrics,
                properties.outbox().enabled() ? new OutboxDeferrer(outbox, callbacks) : null, null, admission,
                profiles.profiles());
    }

    @Bean
    Replayer replayer(Outbox outbox, UplinkTier tier, Uplink uplink, OipCodec codec, EdgeProperties properties,
                      MeterRegistry registry) {
        return new Replayer(outbox, tier, uplink, codec, properties.outbox(), properties.tenant(), deviceId(properties),
                registry);
    }

    /**
     * Drains the outbox (every {@code outbox.replay-interval}, as the link allows), posts the late
     * answers due to callback addresses (five times as seldom), and every 10 s expires what is due, forgets old finished entries
     * and updates the outbox's gauges.
     */
    @Bean(destroyMethod = "shutdownNow")
    @Lazy(false)
    ScheduledExecutorService outboxWork(Replayer replayer, Callbacks callbacks, Outbox outbox, MeterRegistry registry,
                                        EdgeProperties properties, ProfileFile profiles) {
        // two threads: a slow callback address never holds up the replays
        ScheduledExecutorService work = Executors.newScheduledThreadPool(2, r -> {
            Thread t = new Thread(r, "hybridge-replay");
            t.setDaemon(true);
            return t;
        });
        OutboxMetrics metrics = new OutboxMetrics(outbox, registry);
        long every = Math.max(10, properties.outbox().replayInterval().toMillis());
        work.scheduleWithFixedDelay(replayer::drainAll, every, every, TimeUnit.MILLISECONDS);
        work.scheduleWithFixedDelay(() -> callbacks.deliver().join(), 5 * every, 5 * every, TimeUnit.MILLISECONDS);
        work.scheduleWithFixedDelay(() -> {
            outbox.purge().exceptionally(e -> null).join();
            metrics.refresh();
        }, 0, 10, TimeUnit.SECONDS);
        work.scheduleWithFixedDelay(profiles::save, 5, 5, TimeUnit.SECONDS);
        return work;
    }

    /** {@code GET /v2/escalations/{id}}: what became of a kept escalation; {@code GET /v2/outbox}: its size. */
    @Bean
    org.springframework.web.reactive.function.server.RouterFunction<org.springframework.web.reactive.function.server.ServerResponse>
            escalationRoutes(EscalationEndpoint endpoint) {
        return endpoint.routes();
    }

    @Bean
    EdgeRoutes edgeRoutes(PolicyEngine engine, RouteRuntime runtime, ModelHost host, LocalTier local, OipCodec codec,
                          EdgeProperties properties, Uplink uplink) {
        return new EdgeRoutes(engine, runtime, host, local, codec, properties.tenant(), uplink);
    }

    /**
     * The uplink and the policies, in the health details. Always up: a device without its link
     * still answers (from its own models), so the link is never a reason to stop sending it
     * requests.
     */
    @Bean
    HealthIndicator uplinkHealth(Uplink uplink, EdgePolicies policies, EdgeProperties properties) {
        return () -> {
            Map<String, Object> link = new LinkedHashMap<>();
            link.put("state", uplink.state().wire());
            link.put("url", uplink.configured() ? uplink.baseUrl() : "(none: hybridge.edge.uplink.url)");
            link.put("breaker", uplink.breaker().getState().name());
            if (!uplink.lastProblem().isEmpty()) {
                link.put("lastProblem", uplink.lastProblem());
            }
            return Health.up().withDetail("device", deviceId(properties)).withDetail("uplink", link)
                    .withDetail("policies", policies.details()).build();
        };
    }

    /** The device id: as set, or this host's name. */
    static String deviceId(EdgeProperties properties) {
        if (!properties.deviceId().isBlank()) {
            return properties.deviceId();
        }
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (java.net.UnknownHostException e) {
            return "unknown-device";
        }
    }
}
