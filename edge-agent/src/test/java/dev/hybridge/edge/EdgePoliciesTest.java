package dev.hybridge.edge;

import static org.assertj.core.api.Assertions.assertThat;

import dev.hybridge.policy.PolicyBundle;
import dev.hybridge.policy.PolicyEngine;
import dev.hybridge.policy.PolicyLoader;
import dev.hybridge.policy.RouteEngine;
import dev.hybridge.policy.SpendLedger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Policies from the gateway: fetched, validated, stored before they are put in force, asked for
 * again with the tag so an unchanged set costs a 304, refused whole when they do not validate,
 * and the stored set used when the agent starts without the gateway.
 */
class EdgePoliciesTest {

    static final StandInGateway GATEWAY = new StandInGateway();
    static final String CASCADE = """
            version: 1
            kind: cascade
            edge: {model: small}
            cloud: {model: big}
            """;

    @TempDir
    Path state;

    @AfterAll
    static void stop() {
        GATEWAY.close();
    }

    private EdgeProperties properties(String url) {
        return new EdgeProperties("dev", "", state.toString(), "", "device",
                new EdgeProperties.Uplink(url, "", Duration.ofMillis(500), Duration.ofSeconds(2), 4, Duration.ofSeconds(10),
                        new EdgeProperties.Breaker(10, 4, 50, Duration.ofSeconds(2), 80, Duration.ofSeconds(2)),
                        new EdgeProperties.Probe(Duration.ofSeconds(1), Duration.ofSeconds(1), Duration.ofSeconds(30))),
                new EdgeProperties.Outbox(true, 100, org.springframework.util.unit.DataSize.ofMegabytes(1), Duration.ofDays(1),
                        true, 20, 2, 8, Duration.ofSeconds(1), Duration.ofSeconds(60), java.util.List.of(),
                        Duration.ofMillis(100)),
                new dev.hybridge.oip.web.AdmissionProperties(true, 32, 32, 256, 1.5, 0.25, Duration.ofMillis(100),
                        Duration.ofSeconds(1)));
    }

    private static PolicyEngine engine() {
        Clock clock = Clock.systemUTC();
        return new PolicyEngine(clock, new PolicyLoader(), SpendLedger.inMemory(clock));
    }

    @Test
    void aFetchedSetIsStoredThenInForceAndAStartWithoutTheGatewayUsesIt() throws Exception {
        PolicyBundle fleet = new PolicyBundle(Map.of("digits.yaml", CASCADE));
        GATEWAY.serve(fleet);
        PolicyEngine engine = engine();
        try (Uplink uplink = new Uplink(properties(GATEWAY.url()).uplink())) {
            EdgePolicies policies = new EdgePolicies(engine, properties(GATEWAY.url()), uplink);
            policies.loadAtStart();
            assertThat(engine.current().routes()).isEmpty(); // nothing stored yet
            policies.refresh();
            assertThat(engine.current().routes()).containsOnlyKeys("digits");
            assertThat(policies.source()).isEqualTo(EdgePolicies.Source.GATEWAY);
            assertThat(Files.readString(state.resolve("policies/current"))).isEqualTo(fleet.etag());
            assertThat(PolicyBundle.read(state.resolve("policies").resolve(fleet.etag()))).isEqualTo(fleet);

            // unchanged: a 304, and the routes in force are the same objects (their statistics kept)
            RouteEngine before = engine.route("digits");
            int calls = GATEWAY.policyCalls();
            policies.refresh();
            assertThat(GATEWAY.policyCalls()).isEqualTo(calls + 1);
            assertThat(engine.route("digits")).isSameAs(before);
        }

        // the gateway gone: a new agent starts from the stored set
        PolicyEngine restarted = engine();
        try (Uplink nowhere = new Uplink(properties("http://127.0.0.1:9").uplink())) {
            EdgePolicies policies = new EdgePolicies(restarted, properties("http://127.0.0.1:9"), nowhere);
            policies.loadAtStart();
            assertThat(restarted.current().routes()).containsOnlyKeys("digits");
            assertThat(policies.source()).isEqualTo(EdgePolicies.Source.DISK);
            policies.refresh(); // unreachable: noted, nothing lost
            assertThat(restarted.current().routes()).containsOnlyKeys("digits");
            assertThat((String) policies.details().get("problem")).contains("could not be asked");
        }
    }

    @Test
    void aSetThatDoesNotValidateIsRefusedWholeAndTheLastGoodOneStays() throws Exception {
        PolicyBundle good = new PolicyBundle(Map.of("digits.yaml", CASCADE));
        GATEWAY.serve(good);
        PolicyEngine engine = engine();
        try (Uplink uplink = new Uplink(properties(GATEWAY.url()).uplink())) {
            EdgePolicies policies = new EdgePolicies(engine, properties(GATEWAY.url()), uplink);
            policies.refresh();
            GATEWAY.serve(new PolicyBundle(Map.of("digits.yaml", CASCADE, "other.yaml", "version: 1\nkind: sideways\n")));
            policies.refresh();
            assertThat(engine.current().routes()).containsOnlyKeys("digits");
            assertThat((String) policies.details().get("problem")).contains("refused whole").contains("other.yaml");
            assertThat(Files.readString(state.resolve("policies/current"))).isEqualTo(good.etag());

            // a good change is taken, and the set it replaced is removed from disk
            PolicyBundle next = new PolicyBundle(Map.of("digits.yaml", CASCADE, "more.yaml", CASCADE.replace("small", "tiny")
                    .replace("cascade", "edge-only").replace("cloud: {model: big}\n", "")));
            GATEWAY.serve(next);
            policies.refresh();
            assertThat(engine.current().routes()).containsOnlyKeys("digits", "more");
            assertThat(Files.exists(state.resolve("policies").resolve(good.etag()))).isFalse();
            assertThat(policies.details()).doesNotContainKey("problem");
        }
    }
}
