package dev.hybridge.helm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import com.marcnuri.helm.TemplateCommand;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import tools.jackson.databind.JsonNode;
import tools.jackson.dataformat.yaml.YAMLMapper;

/**
 * The chart, checked by Helm itself (Helm 3's Go library through helm-java): {@code helm lint
 * --strict}, {@code helm template} with the defaults and with every values file in
 * {@code helm/hybridge/ci/} for the Kubernetes version the chart is checked against, every
 * rendered object parsed with the Kubernetes 1.32 API model of its kind (client-java's generated
 * classes refuse unknown fields and wrong types) and held to the chart's own rules
 * ({@link ChartObjects}); values the schema or the templates must refuse are refused, with the
 * message that says why.
 */
class ChartTest {

    static final Path ROOT = root();
    static final Path CHART = ROOT.resolve("helm/hybridge");
    static final String NAMESPACE = "hybridge-check";
    /** The Kubernetes version the rendered objects are checked against (client-java 24's API models). */
    static final String KUBE_VERSION = "1.32.0";
    private static final YAMLMapper YAML = YAMLMapper.builder().build();

    @TempDir
    Path work;

    static Path root() {
        Path dir = Path.of("").toAbsolutePath();
        while (dir != null && !Files.isDirectory(dir.resolve("helm/hybridge"))) {
            dir = dir.getParent();
        }
        if (dir == null) {
            throw new IllegalStateException("helm/hybridge not found above " + Path.of("").toAbsolutePath());
        }
        return dir;
    }

    static Stream<Arguments> valuesFiles() throws IOException {
        try (Stream<Path> files = Files.list(CHART.resolve("ci"))) {
            return files.filter(f -> f.toString().endsWith(".yaml")).sorted()
                    .map(f -> Arguments.of(f.getFileName().toString(), f)).toList().stream();
        }
    }

    @Test
    void helmLintStrictFindsNothing() {
        LintResult lint = new Helm(CHART).lint().strict().call();
        assertThat(lint.isFailed()).as(String.join("\n", lint.getMessages())).isFalse();
        assertThat(lint.getMessages()).as("lint --strict makes warnings errors: none at all")
                .allMatch(m -> m.startsWith("[INFO]") || m.isBlank());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("valuesFiles")
    void everyRenderedObjectIsAValidKubernetesObjectThatKeepsTheChartsRules(String name, Path values) {
        List<Map.Entry<String, JsonObject>> objects = render(template().withValuesFile(values));
        assertThat(objects).as("rendered objects").isNotEmpty();
        List<String> problems = ChartObjects.check(NAMESPACE, objects);
        assertThat(problems).as(name).isEmpty();
    }

    @Test
    void theDefaultsRenderTheProgramsAndTheDashboard() {
        List<Map.Entry<String, JsonObject>> objects = render(template());
        assertThat(ChartObjects.check(NAMESPACE, objects)).isEmpty();
        assertThat(objects).extracting(e -> e.getValue().get("kind").getAsString() + "/"
                        + e.getValue().getAsJsonObject("metadata").get("name").getAsString())
                .contains("Deployment/hybridge-check-gateway", "Deployment/hybridge-check-cloud-worker",
                        "DaemonSet/hybridge-check-edge-agent", "ConfigMap/hybridge-check-dashboard");
    }

    @Test
    void theEdgeAgentsStateAndTheCloudWorkersNetworkPolicyFollowTheirValues() throws IOException {
        Path values = Files.writeString(work.resolve("state.yaml"), """
                edgeAgent:
                  state:
                    type: persistentVolumeClaim
                    persistentVolumeClaim: {existingClaim: edge-outbox}
                  uplink:
                    settingsSecret: edge-uplink
                networkPolicy:
                  enabled: true
                """);
        List<Map.Entry<String, JsonObject>> objects = render(template().withValuesFile(values));
        assertThat(ChartObjects.check(NAMESPACE, objects)).isEmpty();
        JsonObject agent = find(objects, "DaemonSet", "hybridge-check-edge-agent");
        JsonObject state = volume(agent, "state");
        assertThat(state.getAsJsonObject("persistentVolumeClaim").get("claimName").getAsString()).isEqualTo("edge-outbox");
        assertThat(objects).as("an existing claim is not made again")
                .noneMatch(e -> e.getValue().get("kind").getAsString().equals("PersistentVolumeClaim"));
        JsonObject container = agent.getAsJsonObject("spec").getAsJsonObject("template").getAsJsonObject("spec")
                .getAsJsonArray("containers").get(0).getAsJsonObject();
        assertThat(container.getAsJsonArray("envFrom").toString()).contains("\"name\":\"edge-uplink\"");
        assertThat(container.getAsJsonArray("env").toString()).as("the Secret gives the gateway's URL")
                .doesNotContain("HYBRIDGE_EDGE_UPLINK_URL").contains("HYBRIDGE_EDGE_DEVICEID");
        JsonObject policy = find(objects, "NetworkPolicy", "hybridge-check-cloud-worker");
        assertThat(policy.toString()).contains("\"app.kubernetes.io/component\":\"gateway\"");

        JsonObject byDefault = find(render(template()), "DaemonSet", "hybridge-check-edge-agent");
        assertThat(volume(byDefault, "state").has("emptyDir")).isTrue();
        assertThat(render(template())).as("no NetworkPolicy unless asked for")
                .noneMatch(e -> e.getValue().get("kind").getAsString().equals("NetworkPolicy"));
    }

    private static JsonObject find(List<Map.Entry<String, JsonObject>> objects, String kind, String name) {
        return objects.stream().map(Map.Entry::getValue)
                .filter(o -> o.get("kind").getAsString().equals(kind)
                        && o.getAsJsonObject("metadata").get("name").getAsString().equals(name))
                .findFirst().orElseThrow(() -> new AssertionError("no " + kind + "/" + name));
    }

    private static JsonObject volume(JsonObject workload, String name) {
        for (var v : workload.getAsJsonObject("spec").getAsJsonObject("template").getAsJsonObject("spec")
                .getAsJsonArray("volumes")) {
            if (v.getAsJsonObject().get("name").getAsString().equals(name)) {
                return v.getAsJsonObject();
            }
        }
        throw new AssertionError("no volume " + name);
    }

    // -------------------------------------------------------------------------------- refusals

    static Stream<Arguments> refusals() {
        return Stream.of(
                Arguments.of("a misspelt key", "gateway:\n  config:\n    cloud:\n      timout: 5s\n", "timout"),
                Arguments.of("a duration Spring Boot cannot read", "gateway:\n  config:\n    cloud:\n      timeout: 5 seconds\n",
                        "timeout"),
                Arguments.of("an API key with a bracket", "gateway:\n  apiKeys:\n    keys:\n      \"bad]key\": acme\n", "'bad]key' does not match pattern"),
                Arguments.of("keys and an existing Secret at once",
                        "gateway:\n  apiKeys:\n    keys:\n      k1: acme\n    existingSecret: mine\n", "set either keys"),
                Arguments.of("workers without models", "models:\n  image:\n    repository: \"\"\n", "the workers need models"),
                Arguments.of("minReplicas above maxReplicas", "gateway:\n  autoscaling:\n    minReplicas: 5\n    maxReplicas: 2\n",
                        "must not be more than maxReplicas"),
                Arguments.of("a policy file not named .yaml", "gateway:\n  policies:\n    digits.txt: \"version: 1\"\n",
                        "'digits.txt' does not match pattern"),
                Arguments.of("an integer given as text", "cloudWorker:\n  replicaCount: \"2\"\n", "replicaCount"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("refusals")
    void valuesThatMustBeRefusedAre(String what, String values, String message) throws IOException {
        Path file = Files.writeString(work.resolve("bad.yaml"), values);
        assertThatThrownBy(() -> template().withValuesFile(file).call()).as(what).hasMessageContaining(message);
    }

    @Test
    void aKubernetesOlderThanTheChartSupportsIsRefused() {
        assertThatThrownBy(() -> new Helm(CHART).template().withName("hybridge-check").withNamespace(NAMESPACE)
                .withKubeVersion("1.24.0").call()).hasMessageContaining("incompatible with Kubernetes");
    }

    // ----------------------------------------------------------------------- the chart's files

    @Test
    void theChartsPoliciesAreALinkToTheShippedOnes() throws IOException {
        Path link = CHART.resolve("files/policies");
        assertThat(Files.isSymbolicLink(link)).as(link + " is a symbolic link, not a copy").isTrue();
        assertThat(Files.readSymbolicLink(link)).isEqualTo(Path.of("../../../config/policies"));
        try (Stream<Path> files = Files.list(link)) {
            assertThat(files.filter(f -> f.toString().endsWith(".yaml"))).isNotEmpty();
        }
    }

    @Test
    void everyValueTheTemplatesReadIsDefined() throws IOException {
        assertThat(ValuesReferences.undefined(CHART)).isEmpty();
    }

    @Test
    void everyValueIsExplained() throws IOException {
        List<String> uncommented = ValuesComments.uncommented(Files.readAllLines(CHART.resolve("values.yaml")));
        assertThat(uncommented).as("values.yaml keys without a comment above them").isEmpty();
    }

    @Test
    void theChecksCatchWhatTheyClaimTo() throws IOException {
        // a misspelt Kubernetes field and a version label in a selector
        Path broken = copyChart();
        Path service = broken.resolve("templates/cloud-worker-service.yaml");
        Files.writeString(service, Files.readString(service).replace("publishNotReadyAddresses: false",
                "publishNotReadyAddress: false"));
        Path helpers = broken.resolve("templates/_helpers.tpl");
        String tpl = Files.readString(helpers);
        String selector = "app.kubernetes.io/component: {{ .component }}\n";
        assertThat(tpl).contains(selector);
        Files.writeString(helpers, tpl.replaceFirst(java.util.regex.Pattern.quote(selector),
                selector + "app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}\n"));
        List<String> problems = ChartObjects.check(NAMESPACE,
                render(new Helm(broken).template().withName("hybridge-check").withNamespace(NAMESPACE)
                        .withKubeVersion(KUBE_VERSION)));
        assertThat(problems).anyMatch(p -> p.contains("publishNotReadyAddress` in the JSON string is not defined"))
                .anyMatch(p -> p.contains("never the version"));

        // a template reading a value that does not exist (Helm renders it as nothing)
        Path typo = copyChart();
        Files.writeString(typo.resolve("templates/typo.yaml"), "# {{ .Values.gateway.config.tiemout }}\n");
        assertThat(ValuesReferences.undefined(typo)).containsExactly("templates/typo.yaml: .Values.gateway.config.tiemout");

        // an uncommented value
        assertThat(ValuesComments.uncommented(List.of("# the gateway", "gateway:", "  # how many", "  replicas: 2",
                "  undocumented: 1"))).containsExactly("gateway.undocumented");
    }

    // --------------------------------------------------------------------------------- helpers

    private TemplateCommand template() {
        return new Helm(CHART).template().withName("hybridge-check").withNamespace(NAMESPACE).withKubeVersion(KUBE_VERSION);
    }

    /** A copy of the chart to break, with the policies link replaced by the files. */
    private Path copyChart() throws IOException {
        Path copy = Files.createTempDirectory(work, "chart");
        try (Stream<Path> paths = Files.walk(CHART, java.nio.file.FileVisitOption.FOLLOW_LINKS)) {
            for (Path from : paths.toList()) {
                Path to = copy.resolve(CHART.relativize(from).toString());
                if (Files.isDirectory(from)) {
                    Files.createDirectories(to);
                } else {
                    Files.copy(from, to);
                }
            }
        }
        return copy;
    }

    /** Helm's output as objects, each with the template it came from. */
    static List<Map.Entry<String, JsonObject>> render(TemplateCommand command) {
        String manifests = command.call();
        List<Map.Entry<String, JsonObject>> objects = new ArrayList<>();
        for (String document : manifests.split("(?m)^---\\s*$")) {
            String source = document.lines().filter(l -> l.startsWith("# Source: ")).findFirst()
                    .map(l -> l.substring("# Source: ".length())).orElse("?");
            JsonNode node = YAML.readTree(document);
            if (node == null || node.isMissingNode() || node.isNull()) {
                continue;
            }
            assertThat(node.isObject()).as(source + " renders a YAML mapping").isTrue();
            objects.add(new AbstractMap.SimpleEntry<>(source, JsonParser.parseString(node.toString()).getAsJsonObject()));
        }
        return objects;
    }
}
