package dev.hybridge.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The policy format: the shipped examples, and a clear message for every kind of mistake. */
class PolicyLoaderTest {

    private final PolicyLoader loader = new PolicyLoader();

    @TempDir
    Path folder;

    static Path shippedPolicies() {
        return Path.of(System.getProperty("hybridge.root", "..")).resolve("config/policies");
    }

    @Test
    void theShippedExamplesLoad() throws Exception {
        PolicySet set = loader.load(shippedPolicies());
        assertThat(set.routes()).containsOnlyKeys("digits", "digits-split", "digits-cloud", "digits-shadow");

        RoutePolicy digits = set.route("digits");
        assertThat(digits.kind()).isEqualTo(RouteKind.CASCADE);
        assertThat(digits.edge().model()).isEqualTo("digits-edge");
        assertThat(digits.cloud().model()).isEqualTo("digits-cloud");
        assertThat(digits.score().source()).isEqualTo("margin");
        assertThat(digits.escalateWhen()).as("the default, decided without an expression").isNull();
        assertThat(digits.threshold()).isEqualTo(new RoutePolicy.ThresholdSpec(0.25, true, 0.12, 1000, 100, 0.05, 0.8));
        assertThat(digits.deadline()).isEqualTo(Duration.ofMillis(500));
        assertThat(digits.hardWhen().source()).contains("16000");
        assertThat(digits.cloudCost().of(1_000_000)).isEqualTo(0.0024, org.assertj.core.data.Offset.offset(1e-12));

        RoutePolicy split = set.route("digits-split");
        assertThat(split.kind()).isEqualTo(RouteKind.SPLIT_EARLY_EXIT);
        assertThat(split.edge().tensor()).isEqualTo("embedding");
        assertThat(split.cloud().tensor()).isEqualTo("embedding");
        assertThat(split.threshold().calibrated()).isTrue();
        assertThat(split.threshold().targetRate()).isEqualTo(0.12);
        assertThat(split.score().source()).isEqualTo("margin");

        assertThat(set.route("digits-shadow").shadowRate()).isEqualTo(0.1);
        assertThat(set.tenants().of("demo").budgetUsd()).isEqualTo(5.0);
        assertThat(set.tenants().of("someone-else").allowed()).containsExactlyInAnyOrder(RequestedRoute.AUTO,
                RequestedRoute.EDGE);
        assertThat(set.tenants().window()).isEqualTo(Duration.ofHours(1));
    }

    @Test
    void aMinimalRouteGetsDefaults() throws Exception {
        write("plain.yaml", """
                version: 1
                kind: cascade
                edge: {model: small}
                cloud: {model: big}
                """);
        RoutePolicy route = loader.load(folder).route("plain");
        assertThat(route.threshold()).isEqualTo(RoutePolicy.ThresholdSpec.fixed(0.5));
        assertThat(route.deadline()).isEqualTo(Duration.ofSeconds(1));
        assertThat(route.cloudLatency()).isEqualTo(RoutePolicy.LatencySpec.DEFAULT);
        assertThat(route.escalateWhen()).isNull();
        assertThat(route.cloudCost()).isEqualTo(RoutePolicy.TierCost.FREE);
        assertThat(route.defer()).isEqualTo(new RoutePolicy.Defer(true, 0, Duration.ofHours(24),
                RoutePolicy.Overflow.DROP_OLDEST));
    }

    @Test
    void deferSettingsAreReadAndOnlyRoutesThatEscalateDeferByDefault() throws Exception {
        write("kept.yaml", """
                version: 1
                kind: split
                edge: {model: small, output: e}
                cloud: {model: big, input: e}
                defer: {priority: 5, ttl: 2h, overflow: refuse-new}
                """);
        write("alone.yaml", "version: 1\nkind: edge-only\nedge: {model: small}\n");
        write("shadowed.yaml", "version: 1\nkind: shadow\nedge: {model: small}\ncloud: {model: big}\nshadow: {sample-rate: 0.1}\n");
        PolicySet set = loader.load(folder);
        assertThat(set.route("kept").defer()).isEqualTo(new RoutePolicy.Defer(true, 5, Duration.ofHours(2),
                RoutePolicy.Overflow.REFUSE_NEW));
        assertThat(set.route("alone").defer().enabled()).isFalse();
        assertThat(set.route("shadowed").defer().enabled()).isFalse();
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', quoteCharacter = '`', textBlock = """
            misspelt field          | `version: 1\nkind: cascade\nedge: {model: a}\ncloud: {model: b}\ndeadlin: 1s`                      | r.yaml: deadlin: unknown field; expected one of
            unknown kind            | `version: 1\nkind: cascades\nedge: {model: a}`                                                     | r.yaml: kind: must be one of cascade, split, split-early-exit, edge-only, cloud-only, shadow but was "cascades"
            missing version         | `kind: edge-only\nedge: {model: a}`                                                                | r.yaml: version: is required (version: 1)
            newer version           | `version: 2\nkind: edge-only\nedge: {model: a}`                                                    | r.yaml: version: must be 1 (the format this program reads) but was 2
            missing cloud stage     | `version: 1\nkind: cascade\nedge: {model: a}`                                                      | r.yaml: cloud: is required
            stage not used          | `version: 1\nkind: edge-only\nedge: {model: a}\ncloud: {model: b}`                                 | r.yaml: cloud: this route kind has no cloud stage
            missing model           | `version: 1\nkind: edge-only\nedge: {version: "1"}`                                                | r.yaml: edge.model: is required
            split without output    | `version: 1\nkind: split\nedge: {model: a}\ncloud: {model: b, input: e}`                           | r.yaml: edge.output: is required
            output on a cascade     | `version: 1\nkind: cascade\nedge: {model: a, output: e}\ncloud: {model: b}`                        | r.yaml: edge.output: only applies to split routes
            threshold out of range  | `version: 1\nkind: cascade\nedge: {model: a}\ncloud: {model: b}\nthreshold: {value: 1.5}`          | r.yaml: threshold.value: must be between 0 and 1 but was 1.5
            calibration bounds      | `version: 1\nkind: cascade\nedge: {model: a}\ncloud: {model: b}\nthreshold: {value: 0.5, calibrate: {target-escalation-rate: 0.2, min: 0.8, max: 0.6}}` | r.yaml: threshold.calibrate.min: must be at most max (0.6) but was 0.8
            calibration rate        | `version: 1\nkind: cascade\nedge: {model: a}\ncloud: {model: b}\nthreshold: {calibrate: {window: 100}}` | r.yaml: threshold.calibrate.target-escalation-rate: is required
            bad duration            | `version: 1\nkind: cascade\nedge: {model: a}\ncloud: {model: b}\ndeadline: 500`                    | r.yaml: deadline: must be a duration such as 250ms, 2s, 5m or 1h but was 500
            duration out of range   | `version: 1\nkind: cascade\nedge: {model: a}\ncloud: {model: b}\ndeadline: 2h`                     | r.yaml: deadline: must be between 1ms and 10m but was 2h
            bad overflow            | `version: 1\nkind: cascade\nedge: {model: a}\ncloud: {model: b}\ndefer: {overflow: newest}`        | r.yaml: defer.overflow: must be drop-oldest or refuse-new but was "newest"
            defer on edge-only      | `version: 1\nkind: edge-only\nedge: {model: a}\ndefer: {enabled: true}`                          | r.yaml: defer: only applies to routes with both an edge and a cloud stage, not edge-only
            undeclared variable     | `version: 1\nkind: cascade\nedge: {model: a}\ncloud: {model: b}\nescalate-when: confidance < 0.5`  | r.yaml: escalate-when: not a valid condition: ERROR: 1:1: undeclared reference to 'confidance'
            edge variable too early | `version: 1\nkind: cascade\nedge: {model: a}\ncloud: {model: b}\nhard-when: confidence < 0.5`      | the edge has not run when this condition is evaluated
            not boolean             | `version: 1\nkind: cascade\nedge: {model: a}\ncloud: {model: b}\nescalate-when: confidence + 1.0`  | r.yaml: escalate-when: not a valid condition
            syntax error            | `version: 1\nkind: cascade\nedge: {model: a}\ncloud: {model: b}\nescalate-when: "confidence <"`    | r.yaml: escalate-when: not a valid condition
            condition on wrong kind | `version: 1\nkind: split\nedge: {model: a, output: e}\ncloud: {model: b, input: e}\nescalate-when: confidence < 0.5` | r.yaml: escalate-when: only applies to cascade and split-early-exit routes, not split
            score not a number      | `version: 1\nkind: cascade\nedge: {model: a}\ncloud: {model: b}\nscore: confidence > 0.5`       | r.yaml: score: not a valid score
            score reads threshold   | `version: 1\nkind: cascade\nedge: {model: a}\ncloud: {model: b}\nscore: margin - threshold`    | it cannot use the threshold or itself
            score on wrong kind     | `version: 1\nkind: split\nedge: {model: a, output: e}\ncloud: {model: b, input: e}\nscore: margin` | r.yaml: score: only applies to cascade and split-early-exit routes, not split
            own score, no range     | `version: 1\nkind: cascade\nedge: {model: a}\ncloud: {model: b}\nscore: 2.0 * margin\nthreshold: {value: 0.5, calibrate: {target-escalation-rate: 0.2}}` | r.yaml: threshold.calibrate.min: min and max are required with a score
            shadow without rate     | `version: 1\nkind: shadow\nedge: {model: a}\ncloud: {model: b}`                                    | r.yaml: shadow: is required on shadow routes
            negative cost           | `version: 1\nkind: cloud-only\ncloud: {model: b}\ncost: {cloud: {per-request-usd: -1}}`            | r.yaml: cost.cloud.per-request-usd: must be between 0 and 1000 but was -1
            bad route name          | `version: 1\nroute: "a b"\nkind: edge-only\nedge: {model: a}`                                      | r.yaml: route: must be a model name
            not a mapping           | `- just\n- a list`                                                                                 | r.yaml: must be a YAML mapping
            not YAML                | `version: 1\nkind: [unclosed`                                                                      | r.yaml: not valid YAML
            """)
    void mistakesNameFileFieldAndExpectation(String what, String yaml, String message) throws Exception {
        write("r.yaml", yaml.replace("\\n", "\n"));
        PolicyException e = catchThrowableOfType(PolicyException.class, () -> loader.load(folder));
        assertThat(e).as(what).isNotNull();
        assertThat(e.problems()).as(what).anySatisfy(p -> assertThat(p).contains(message));
    }

    @Test
    void everyProblemIsReportedAtOnce() throws Exception {
        write("a.yaml", "version: 1\nkind: cascade\nedge: {model: a}\ncloud: {model: b}\nthreshold: {value: 2}\ndeadline: soon\n");
        write("b.yaml", "version: 1\nkind: nope\n");
        PolicyException e = catchThrowableOfType(PolicyException.class, () -> loader.load(folder));
        assertThat(e.problems()).hasSize(3);
        assertThat(e.getMessage()).startsWith("3 problems:");
    }

    @Test
    void twoFilesMayNotDefineTheSameRoute() throws Exception {
        write("a.yaml", "version: 1\nroute: same\nkind: edge-only\nedge: {model: a}\n");
        write("b.yaml", "version: 1\nroute: same\nkind: edge-only\nedge: {model: b}\n");
        PolicyException e = catchThrowableOfType(PolicyException.class, () -> loader.load(folder));
        assertThat(e.problems()).containsExactly("b.yaml: route: 'same' is already defined by a.yaml");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', quoteCharacter = '`', textBlock = """
            unknown when-spent | `version: 1\ndefault: {when-spent: never}`               | tenants.yaml: default.when-spent: must be edge-only or reject but was "never"
            unknown tier       | `version: 1\ndefault: {allow: [auto, gpu]}`              | tenants.yaml: default.allow[1]: must be one of
            auto left out      | `version: 1\ntenants: {acme: {allow: [cloud]}}`          | tenants.yaml: tenants.acme.allow: must include auto
            negative budget    | `version: 1\ntenants: {acme: {budget-usd: -5}}`          | tenants.yaml: tenants.acme.budget-usd: must be between 0 and 1000000000 but was -5
            window too short   | `version: 1\nbudget-window: 10s`                         | tenants.yaml: budget-window: must be between 1m and 31d but was 10s
            """)
    void tenantMistakes(String what, String yaml, String message) throws Exception {
        write("tenants.yaml", yaml.replace("\\n", "\n"));
        PolicyException e = catchThrowableOfType(PolicyException.class, () -> loader.load(folder));
        assertThat(e).as(what).isNotNull();
        assertThat(e.problems()).as(what).anySatisfy(p -> assertThat(p).contains(message));
    }

    @Test
    void aFolderWithoutTenantsHasNoBudgets() throws Exception {
        write("r.yaml", "version: 1\nkind: edge-only\nedge: {model: a}\n");
        PolicySet set = loader.load(folder);
        assertThat(set.tenants()).isEqualTo(TenantPolicies.UNLIMITED);
        assertThat(set.tenants().of("anyone").budgetUsd()).isInfinite();
    }

    @Test
    void oversizedFilesAreRefused() throws Exception {
        write("big.yaml", "# " + "x".repeat((int) PolicyLoader.MAX_FILE_BYTES) + "\n");
        PolicyException e = catchThrowableOfType(PolicyException.class, () -> loader.load(folder));
        assertThat(e.problems().get(0)).startsWith("big.yaml: larger than");
    }

    @Test
    void parsingOneFileCollectsItsProblems() {
        List<String> problems = new ArrayList<>();
        assertThat(loader.parseRoute(Path.of("x.yaml"), "version: 1\nkind: edge-only\n", problems)).isNull();
        assertThat(problems).containsExactly("x.yaml: edge: is required");
    }

    private void write(String name, String text) throws IOException {
        Files.writeString(folder.resolve(name), text);
    }

    @Test
    void aDeviceProfileIsReadOnCascadeRoutesOnly() {
        List<String> problems = new ArrayList<>();
        RoutePolicy cascade = loader.parseRoute(Path.of("v.yaml"), """
                version: 1
                kind: cascade
                edge: {model: e}
                cloud: {model: c}
                device-profile: {from: clip_profile, to: voice_profile}
                """, problems);
        assertThat(problems).isEmpty();
        assertThat(cascade.deviceProfile()).isEqualTo(new RoutePolicy.DeviceProfile("clip_profile", "voice_profile", 1000));
        assertThat(loader.parseRoute(Path.of("s.yaml"), """
                version: 1
                kind: split
                edge: {model: e, output: x}
                cloud: {model: c, input: x}
                device-profile: {from: clip_profile, to: voice_profile, window: 0, what: 1}
                """, problems)).isNull();
        assertThat(problems).anyMatch(p -> p.contains("device-profile") && p.contains("only applies to cascade routes"))
                .anyMatch(p -> p.contains("window"))
                .anyMatch(p -> p.contains("what"));
        problems.clear();
        assertThat(loader.parseRoute(Path.of("m.yaml"), """
                version: 1
                kind: cascade
                edge: {model: e}
                cloud: {model: c}
                device-profile: {from: clip_profile}
                """, problems)).isNull();
        assertThat(problems).singleElement().asString().contains("to");
    }

    @Test
    void speedViewsAreReadWithTheirDefaultsAndEachMistakeIsNamed() {
        List<String> problems = new ArrayList<>();
        RoutePolicy views = loader.parseRoute(Path.of("v.yaml"), """
                version: 1
                kind: cascade
                edge: {model: e}
                cloud: {model: c}
                device-profile:
                  from: clip_profile
                  to: view_profiles
                  views: {input: speed, scores: probs, speeds: [0.9, 1.0, 1.1], to: view_speeds}
                """, problems);
        assertThat(problems).isEmpty();
        assertThat(views.deviceProfile()).isEqualTo(new RoutePolicy.DeviceProfile("clip_profile", "view_profiles", 1000,
                new RoutePolicy.Views("speed", "probs", new double[] {0.9, 1.0, 1.1}, 3, 1, "view_speeds")));
        assertThat(loader.parseRoute(Path.of("w.yaml"), """
                version: 1
                kind: cascade
                edge: {model: e}
                cloud: {model: c}
                device-profile:
                  from: clip_profile
                  to: view_profiles
                  views: {input: speed, scores: probs, speeds: [0.9, 9], pick: 2, every: 0, to: view_speeds, how: 1}
                """, problems)).isNull();
        assertThat(problems).anyMatch(p -> p.contains("speeds[1]") && p.contains("between 0.25 and 4"))
                .anyMatch(p -> p.contains("every"))
                .anyMatch(p -> p.contains("how"));
        problems.clear();
        assertThat(loader.parseRoute(Path.of("x.yaml"), """
                version: 1
                kind: cascade
                edge: {model: e}
                cloud: {model: c}
                device-profile:
                  from: clip_profile
                  to: view_profiles
                  views: {input: speed, scores: probs, speeds: [0.9, 1.0], pick: 3, to: view_speeds}
                """, problems)).isNull();
        assertThat(problems).singleElement().asString().contains("pick").contains("at most the number of speeds (2)");
        problems.clear();
        assertThat(loader.parseRoute(Path.of("y.yaml"), """
                version: 1
                kind: cascade
                edge: {model: e}
                cloud: {model: c}
                device-profile:
                  from: clip_profile
                  to: view_profiles
                  views: {input: speed, speeds: [1.0, 1.0], pick: 1}
                """, problems)).isNull();
        assertThat(problems).anyMatch(p -> p.contains("scores") && p.contains("required"))
                .anyMatch(p -> p.contains("to") && p.contains("required"));
    }
}
