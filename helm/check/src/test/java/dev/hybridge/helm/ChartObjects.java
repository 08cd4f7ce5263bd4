package dev.hybridge.helm;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.kubernetes.client.openapi.JSON;
import io.kubernetes.client.openapi.models.V1ConfigMap;
import io.kubernetes.client.openapi.models.V1DaemonSet;
import io.kubernetes.client.openapi.models.V1Deployment;
import io.kubernetes.client.openapi.models.V1Ingress;
import io.kubernetes.client.openapi.models.V1NetworkPolicy;
import io.kubernetes.client.openapi.models.V1PersistentVolumeClaim;
import io.kubernetes.client.openapi.models.V1Pod;
import io.kubernetes.client.openapi.models.V1PodDisruptionBudget;
import io.kubernetes.client.openapi.models.V1Secret;
import io.kubernetes.client.openapi.models.V1Service;
import io.kubernetes.client.openapi.models.V1ServiceAccount;
import io.kubernetes.client.openapi.models.V2HorizontalPodAutoscaler;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * Checks the manifests Helm rendered for one values file:
 * <ol>
 *   <li>each object against the Kubernetes 1.32 API model of its kind (client-java's generated
 *       models refuse unknown fields, e.g. a misspelt or misplaced key, and wrong types); the
 *       ServiceMonitor against the fields of the Prometheus Operator's CRD the chart uses;</li>
 *   <li>the chart's own promises: names and labels, selectors without the version, Services
 *       that select pods and name their ports, the gateway's pools pointing at headless
 *       Services on the workers' container ports, the policies reloadable in place, API keys only
 *       in a Secret, the security context, probes, ONNX Runtime telemetry off, a pinned test
 *       image.</li>
 * </ol>
 */
final class ChartObjects {

    static final Pattern DNS_LABEL = Pattern.compile("[a-z]([-a-z0-9]{0,61}[a-z0-9])?");
    static final Pattern DNS_SUBDOMAIN = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
    static final Pattern LABEL_VALUE = Pattern.compile("(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?");
    static final Pattern IMAGE = Pattern.compile("[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*:[\\w][\\w.-]{0,127}(@sha256:[a-f0-9]{64})?");
    static final Set<String> SELECTOR_KEYS = Set.of("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component");

    final List<String> problems = new ArrayList<>();
    final String namespace;
    final List<JsonObject> objects = new ArrayList<>();
    final Map<JsonObject, String> sources = new java.util.IdentityHashMap<>();

    ChartObjects(String namespace) {
        this.namespace = namespace;
    }

    /** The problems of one rendering: each object with the template it came from. */
    static List<String> check(String namespace, List<Map.Entry<String, JsonObject>> rendered) {
        JSON.getGson(); // initialises the model classes' type adapters
        ChartObjects v = new ChartObjects(namespace);
        for (Map.Entry<String, JsonObject> object : rendered) {
            v.objects.add(object.getValue());
            v.sources.put(object.getValue(), object.getKey());
        }
        v.run();
        return v.problems;
    }

    String kinds() {
        Map<String, Integer> count = new LinkedHashMap<>();
        objects.forEach(o -> count.merge(kind(o), 1, Integer::sum));
        return count.toString().replaceAll("[{}]", "");
    }

    void problem(JsonObject o, String message) {
        problems.add(kind(o) + "/" + name(o) + " (" + sources.get(o) + "): " + message);
    }

    static String kind(JsonObject o) {
        return o.get("kind").getAsString();
    }

    static String name(JsonObject o) {
        return o.getAsJsonObject("metadata").get("name").getAsString();
    }

    static JsonObject obj(JsonObject o, String... path) {
        JsonObject cur = o;
        for (String p : path) {
            if (cur == null || !cur.has(p) || !cur.get(p).isJsonObject()) {
                return null;
            }
            cur = cur.getAsJsonObject(p);
        }
        return cur;
    }

    static JsonArray arr(JsonObject o, String key) {
        return o != null && o.has(key) && o.get(key).isJsonArray() ? o.getAsJsonArray(key) : new JsonArray();
    }

    static String str(JsonObject o, String key) {
        return o != null && o.has(key) && o.get(key).isJsonPrimitive() ? o.get(key).getAsString() : null;
    }

    static Map<String, String> map(JsonObject o) {
        Map<String, String> out = new LinkedHashMap<>();
        if (o != null) {
            o.entrySet().forEach(e -> out.put(e.getKey(), e.getValue().getAsString()));
        }
        return out;
    }

    void run() {
        Set<String> seen = new HashSet<>();
        for (JsonObject o : objects) {
            if (!seen.add(kind(o) + "/" + name(o))) {
                problem(o, "defined twice");
            }
            typed(o);
            metadata(o);
        }
        for (JsonObject o : objects) {
            switch (kind(o)) {
                case "Deployment", "DaemonSet" -> workload(o);
                case "Pod" -> testPod(o);
                case "Service" -> service(o);
                case "ConfigMap" -> configMap(o);
                case "HorizontalPodAutoscaler" -> hpa(o);
                case "PodDisruptionBudget" -> pdb(o);
                case "Ingress" -> ingress(o);
                case "ServiceMonitor" -> serviceMonitor(o);
                default -> { }
            }
        }
        gatewayPools();
    }

    /** Parses the object with the Kubernetes API model of its kind, which refuses unknown fields. */
    void typed(JsonObject o) {
        String type = o.get("apiVersion").getAsString() + " " + kind(o);
        String json = o.toString();
        try {
            switch (type) {
                case "v1 ServiceAccount" -> V1ServiceAccount.fromJson(json);
                case "v1 ConfigMap" -> V1ConfigMap.fromJson(json);
                case "v1 Secret" -> V1Secret.fromJson(json);
                case "v1 PersistentVolumeClaim" -> V1PersistentVolumeClaim.fromJson(json);
                case "networking.k8s.io/v1 NetworkPolicy" -> V1NetworkPolicy.fromJson(json);
                case "v1 Service" -> V1Service.fromJson(json);
                case "v1 Pod" -> V1Pod.fromJson(json);
                case "apps/v1 Deployment" -> V1Deployment.fromJson(json);
                case "apps/v1 DaemonSet" -> V1DaemonSet.fromJson(json);
                case "autoscaling/v2 HorizontalPodAutoscaler" -> V2HorizontalPodAutoscaler.fromJson(json);
                case "policy/v1 PodDisruptionBudget" -> V1PodDisruptionBudget.fromJson(json);
                case "networking.k8s.io/v1 Ingress" -> V1Ingress.fromJson(json);
                case "monitoring.coreos.com/v1 ServiceMonitor" -> { } // checked in serviceMonitor()
                default -> problem(o, "unexpected kind " + type);
            }
        } catch (Exception e) {
            String message = String.valueOf(e.getMessage());
            int json_ = message.indexOf(" JSON: ");
            problem(o, "not a valid " + type + ": " + (json_ > 0 ? message.substring(0, json_) : message));
        }
    }

    void metadata(JsonObject o) {
        String name = name(o);
        Pattern namePattern = kind(o).equals("Service") ? DNS_LABEL : DNS_SUBDOMAIN;
        if (name.length() > 63 || !namePattern.matcher(name).matches()) {
            problem(o, "name \"" + name + "\" is not a valid name (at most 63 characters, " + namePattern + ")");
        }
        if (o.getAsJsonObject("metadata").has("namespace")) {
            problem(o, "sets metadata.namespace; Helm's --namespace should decide");
        }
        Map<String, String> labels = map(obj(o, "metadata", "labels"));
        labels(o, "metadata.labels", labels);
        for (String required : List.of("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/managed-by", "helm.sh/chart")) {
            if (!labels.containsKey(required)) {
                problem(o, "metadata.labels has no " + required);
            }
        }
    }

    void labels(JsonObject o, String where, Map<String, String> labels) {
        labels.forEach((k, v) -> {
            if (v.length() > 63 || !LABEL_VALUE.matcher(v).matches()) {
                problem(o, where + "." + k + ": \"" + v + "\" is not a valid label value");
            }
        });
    }

    /** A Deployment or DaemonSet: selector, pod labels, security, probes, mounts, env. */
    void workload(JsonObject o) {
        Map<String, String> selector = map(obj(o, "spec", "selector", "matchLabels"));
        if (!selector.keySet().equals(SELECTOR_KEYS)) {
            problem(o, "spec.selector.matchLabels must be exactly " + SELECTOR_KEYS + " (never the version) but was " + selector.keySet());
        }
        Map<String, String> podLabels = map(obj(o, "spec", "template", "metadata", "labels"));
        labels(o, "spec.template.metadata.labels", podLabels);
        selector.forEach((k, v) -> {
            if (!v.equals(podLabels.get(k))) {
                problem(o, "pod template label " + k + " is " + podLabels.get(k) + " but the selector wants " + v);
            }
        });
        podSpec(o, obj(o, "spec", "template", "spec"), map(obj(o, "spec", "template", "metadata", "annotations")), true);
    }

    void podSpec(JsonObject o, JsonObject spec, Map<String, String> annotations, boolean server) {
        JsonObject psc = obj(spec, "securityContext");
        if (psc == null || !psc.has("runAsNonRoot") || !psc.get("runAsNonRoot").getAsBoolean()) {
            problem(o, "pod securityContext.runAsNonRoot must be true");
        }
        if (!"RuntimeDefault".equals(str(obj(psc, "seccompProfile"), "type"))) {
            problem(o, "pod securityContext.seccompProfile.type must be RuntimeDefault");
        }
        if (spec.has("automountServiceAccountToken") && spec.get("automountServiceAccountToken").getAsBoolean()) {
            problem(o, "mounts a service account token; nothing in the pod uses the Kubernetes API");
        }
        Map<String, JsonObject> volumes = new HashMap<>();
        arr(spec, "volumes").forEach(v -> volumes.put(str(v.getAsJsonObject(), "name"), v.getAsJsonObject()));
        List<JsonObject> containers = new ArrayList<>();
        arr(spec, "initContainers").forEach(c -> containers.add(c.getAsJsonObject()));
        int initCount = containers.size();
        arr(spec, "containers").forEach(c -> containers.add(c.getAsJsonObject()));
        for (int i = 0; i < containers.size(); i++) {
            JsonObject c = containers.get(i);
            boolean init = i < initCount;
            String cname = str(c, "name");
            String image = str(c, "image");
            if (image == null || !IMAGE.matcher(image).matches()) {
                problem(o, "container " + cname + ": image \"" + image + "\" is not a repository:tag[@digest] reference");
            }
            JsonObject sc = obj(c, "securityContext");
            if (sc == null || !sc.has("allowPrivilegeEscalation") || sc.get("allowPrivilegeEscalation").getAsBoolean()) {
                problem(o, "container " + cname + ": allowPrivilegeEscalation must be false");
            }
            if (sc == null || !sc.has("readOnlyRootFilesystem") || !sc.get("readOnlyRootFilesystem").getAsBoolean()) {
                problem(o, "container " + cname + ": readOnlyRootFilesystem must be true");
            }
            if (!arr(obj(sc, "capabilities"), "drop").toString().contains("\"ALL\"")) {
                problem(o, "container " + cname + ": capabilities.drop must contain ALL");
            }
            Set<String> envNames = new HashSet<>();
            Map<String, String> env = new HashMap<>();
            for (JsonElement e : arr(c, "env")) {
                String n = str(e.getAsJsonObject(), "name");
                if (!envNames.add(n)) {
                    problem(o, "container " + cname + ": env " + n + " is set twice");
                }
                env.put(n, str(e.getAsJsonObject(), "value"));
            }
            Set<String> mountPaths = new HashSet<>();
            for (JsonElement m : arr(c, "volumeMounts")) {
                String vname = str(m.getAsJsonObject(), "name");
                mountPaths.add(str(m.getAsJsonObject(), "mountPath"));
                if (!volumes.containsKey(vname)) {
                    problem(o, "container " + cname + " mounts volume " + vname + ", which the pod does not define");
                }
            }
            if (!mountPaths.contains("/tmp") && !(init && mountPaths.contains("/models"))) {
                problem(o, "container " + cname + ": no writable /tmp (the root filesystem is read-only)");
            }
            if (init) {
                continue;
            }
            Set<String> portNames = new HashSet<>();
            Map<String, Integer> ports = new HashMap<>();
            arr(c, "ports").forEach(p -> {
                portNames.add(str(p.getAsJsonObject(), "name"));
                ports.put(str(p.getAsJsonObject(), "name"), p.getAsJsonObject().get("containerPort").getAsInt());
            });
            if (server) {
                probe(o, cname, c, "livenessProbe", "/v2/health/live", portNames);
                probe(o, cname, c, "readinessProbe", "/v2/health/ready", portNames);
                probe(o, cname, c, "startupProbe", "/v2/health/live", portNames);
                String component = map(obj(o, "metadata", "labels")).get("app.kubernetes.io/component");
                if (!"gateway".equals(component) && !"1".equals(env.get("ORT_DISABLE_TELEMETRY"))) {
                    problem(o, "container " + cname + ": ORT_DISABLE_TELEMETRY must be \"1\"");
                }
                if (!"gateway".equals(component) && !"/models".equals(env.get("HYBRIDGE_SERVING_MODELREPOSITORY"))) {
                    problem(o, "container " + cname + ": HYBRIDGE_SERVING_MODELREPOSITORY must be /models");
                }
                if (annotations.containsKey("prometheus.io/scrape")) {
                    String port = annotations.get("prometheus.io/port");
                    if (!String.valueOf(ports.get("http")).equals(port) || !"/actuator/prometheus".equals(annotations.get("prometheus.io/path"))) {
                        problem(o, "prometheus.io annotations point at port " + port + " path " + annotations.get("prometheus.io/path")
                                + " but the container serves /actuator/prometheus on " + ports.get("http"));
                    }
                }
                if ("gateway".equals(component)) {
                    gatewayContainer(o, c, env, volumes, annotations);
                }
            }
        }
    }

    void probe(JsonObject o, String cname, JsonObject c, String which, String path, Set<String> portNames) {
        JsonObject get = obj(c, which, "httpGet");
        if (get == null) {
            problem(o, "container " + cname + " has no " + which + " httpGet");
            return;
        }
        if (!path.equals(str(get, "path"))) {
            problem(o, "container " + cname + ": " + which + " must GET " + path + " but GETs " + str(get, "path"));
        }
        if (!portNames.contains(str(get, "port"))) {
            problem(o, "container " + cname + ": " + which + " port " + str(get, "port") + " is not a named container port");
        }
    }

    void gatewayContainer(JsonObject o, JsonObject c, Map<String, String> env, Map<String, JsonObject> volumes, Map<String, String> annotations) {
        annotations.keySet().stream().filter(k -> k.startsWith("checksum/") && k.contains("polic")).forEach(k ->
                problem(o, "annotation " + k + " would restart the gateway on policy changes, which it reloads in place"));
        JsonObject policies = volumes.get("policies");
        if (policies == null || obj(policies, "configMap") == null) {
            problem(o, "no policies volume from a ConfigMap");
        }
        for (JsonElement m : arr(c, "volumeMounts")) {
            JsonObject mount = m.getAsJsonObject();
            if ("policies".equals(str(mount, "name"))) {
                if (mount.has("subPath")) {
                    problem(o, "policies mounted with subPath: ConfigMap updates would never reach the gateway");
                }
                if (!str(mount, "mountPath").equals(env.get("HYBRIDGE_GATEWAY_POLICYFOLDER"))) {
                    problem(o, "HYBRIDGE_GATEWAY_POLICYFOLDER is not where the policies are mounted");
                }
            }
        }
        String imports = env.get("SPRING_CONFIG_IMPORT");
        JsonObject keys = volumes.get("api-keys");
        if ((imports == null) != (keys == null)) {
            problem(o, "SPRING_CONFIG_IMPORT and the api-keys volume must come together");
        }
        if (keys != null && obj(keys, "secret") == null) {
            problem(o, "the api-keys volume must be a Secret");
        }
        if (imports != null && !imports.endsWith("/etc/hybridge/secrets/api-keys.yaml")) {
            problem(o, "SPRING_CONFIG_IMPORT does not point at the mounted key file: " + imports);
        }
    }

    void testPod(JsonObject o) {
        Map<String, String> annotations = map(obj(o, "metadata", "annotations"));
        if (!"test".equals(annotations.get("helm.sh/hook"))) {
            problem(o, "a Pod that is not a helm test hook");
        }
        JsonObject spec = obj(o, "spec");
        for (JsonElement c : arr(spec, "containers")) {
            String image = str(c.getAsJsonObject(), "image");
            if (image == null || !image.contains("@sha256:")) {
                problem(o, "the test image is not pinned by digest: " + image);
            }
        }
        if (!"Never".equals(str(spec, "restartPolicy"))) {
            problem(o, "a test Pod must not restart");
        }
        podSpec(o, spec, Map.of(), false);
    }

    List<JsonObject> podTemplates() {
        List<JsonObject> out = new ArrayList<>();
        for (JsonObject o : objects) {
            if (kind(o).equals("Deployment") || kind(o).equals("DaemonSet")) {
                out.add(o);
            }
        }
        return out;
    }

    /** The workloads whose pods carry every label of the selector. */
    List<JsonObject> selected(Map<String, String> selector) {
        List<JsonObject> out = new ArrayList<>();
        for (JsonObject w : podTemplates()) {
            Map<String, String> labels = map(obj(w, "spec", "template", "metadata", "labels"));
            if (!selector.isEmpty() && labels.entrySet().containsAll(selector.entrySet())) {
                out.add(w);
            }
        }
        return out;
    }

    static Map<String, Integer> containerPorts(JsonObject workload) {
        Map<String, Integer> out = new HashMap<>();
        for (JsonElement c : arr(obj(workload, "spec", "template", "spec"), "containers")) {
            arr(c.getAsJsonObject(), "ports").forEach(p -> out.put(str(p.getAsJsonObject(), "name"), p.getAsJsonObject().get("containerPort").getAsInt()));
        }
        return out;
    }

    void service(JsonObject o) {
        Map<String, String> selector = map(obj(o, "spec", "selector"));
        List<JsonObject> targets = selected(selector);
        if (targets.size() != 1) {
            problem(o, "selects " + targets.size() + " workloads; expected exactly one");
            return;
        }
        Map<String, Integer> ports = containerPorts(targets.get(0));
        for (JsonElement p : arr(obj(o, "spec"), "ports")) {
            String target = str(p.getAsJsonObject(), "targetPort");
            if (!ports.containsKey(target)) {
                problem(o, "targetPort " + target + " is not a named port of " + name(targets.get(0)));
            }
        }
        if ("None".equals(str(obj(o, "spec"), "clusterIP"))) {
            JsonObject spec = obj(o, "spec");
            if (!spec.has("publishNotReadyAddresses") || spec.get("publishNotReadyAddresses").getAsBoolean()) {
                problem(o, "a headless Service the gateway resolves must set publishNotReadyAddresses: false");
            }
        }
    }

    void configMap(JsonObject o) {
        JsonObject data = obj(o, "data");
        if (data == null) {
            return;
        }
        for (Map.Entry<String, JsonElement> e : data.entrySet()) {
            if (e.getValue().getAsString().contains("api-keys")
                    && e.getValue().getAsString().matches("(?s).*api-keys:\\s*\\n\\s+\\S.*")) {
                problem(o, e.getKey() + " holds API keys; they belong in a Secret");
            }
        }
        if (name(o).endsWith("-policies")) {
            if (data.entrySet().isEmpty()) {
                problem(o, "no policies");
            }
            for (Map.Entry<String, JsonElement> e : data.entrySet()) {
                if (!e.getKey().matches("[A-Za-z0-9][A-Za-z0-9._-]*\\.ya?ml")) {
                    problem(o, "policy file " + e.getKey() + " is not <name>.yaml");
                }
                if (!e.getValue().getAsString().contains("version:")) {
                    problem(o, "policy file " + e.getKey() + " has no version field");
                }
            }
        }
    }

    JsonObject find(String kind, String name) {
        for (JsonObject o : objects) {
            if (kind(o).equals(kind) && name(o).equals(name)) {
                return o;
            }
        }
        return null;
    }

    void hpa(JsonObject o) {
        JsonObject ref = obj(o, "spec", "scaleTargetRef");
        if (find(str(ref, "kind"), str(ref, "name")) == null) {
            problem(o, "scales " + str(ref, "kind") + "/" + str(ref, "name") + ", which the chart does not render");
        }
        JsonObject target = find(str(ref, "kind"), str(ref, "name"));
        if (target != null && obj(target, "spec").has("replicas")) {
            problem(o, "the Deployment it scales also sets replicas (each upgrade would reset the HPA's choice)");
        }
        JsonObject spec = obj(o, "spec");
        if (spec.get("minReplicas").getAsInt() > spec.get("maxReplicas").getAsInt()) {
            problem(o, "minReplicas > maxReplicas");
        }
    }

    void pdb(JsonObject o) {
        if (selected(map(obj(o, "spec", "selector", "matchLabels"))).size() != 1) {
            problem(o, "does not select exactly one workload");
        }
    }

    void ingress(JsonObject o) {
        for (JsonElement rule : arr(obj(o, "spec"), "rules")) {
            for (JsonElement path : arr(obj(rule.getAsJsonObject(), "http"), "paths")) {
                JsonObject svc = obj(path.getAsJsonObject(), "backend", "service");
                JsonObject target = find("Service", str(svc, "name"));
                if (target == null) {
                    problem(o, "backend Service " + str(svc, "name") + " is not rendered");
                    continue;
                }
                String port = str(obj(svc, "port"), "name");
                boolean found = false;
                for (JsonElement p : arr(obj(target, "spec"), "ports")) {
                    found |= port != null && port.equals(str(p.getAsJsonObject(), "name"));
                }
                if (!found) {
                    problem(o, "backend port " + port + " is not a port of Service " + str(svc, "name"));
                }
            }
        }
    }

    static final Set<String> SM_SPEC = Set.of("selector", "namespaceSelector", "endpoints", "targetLabels", "podTargetLabels",
            "jobLabel", "sampleLimit", "targetLimit", "labelLimit", "labelNameLengthLimit", "labelValueLengthLimit",
            "attachMetadata", "scrapeProtocols", "keepDroppedTargets", "scrapeClass", "bodySizeLimit");
    static final Set<String> SM_ENDPOINT = Set.of("port", "targetPort", "path", "scheme", "params", "interval", "scrapeTimeout",
            "tlsConfig", "bearerTokenFile", "bearerTokenSecret", "authorization", "honorLabels", "honorTimestamps",
            "trackTimestampsStaleness", "basicAuth", "oauth2", "metricRelabelings", "relabelings", "proxyUrl",
            "followRedirects", "enableHttp2", "filterRunning");
    static final Pattern PROM_DURATION = Pattern.compile("(\\d+(ms|s|m|h|d|w|y))+");

    /** The fields the chart uses, against monitoring.coreos.com/v1 ServiceMonitor's schema. */
    void serviceMonitor(JsonObject o) {
        JsonObject spec = obj(o, "spec");
        spec.keySet().stream().filter(k -> !SM_SPEC.contains(k)).forEach(k -> problem(o, "spec." + k + " is not a ServiceMonitor field"));
        JsonArray endpoints = arr(spec, "endpoints");
        if (endpoints.isEmpty()) {
            problem(o, "no endpoints");
        }
        for (JsonElement e : endpoints) {
            JsonObject ep = e.getAsJsonObject();
            ep.keySet().stream().filter(k -> !SM_ENDPOINT.contains(k)).forEach(k -> problem(o, "endpoints[]." + k + " is not an Endpoint field"));
            for (String d : List.of("interval", "scrapeTimeout")) {
                if (ep.has(d) && !PROM_DURATION.matcher(ep.get(d).getAsString()).matches()) {
                    problem(o, "endpoints[]." + d + " is not a Prometheus duration: " + ep.get(d));
                }
            }
        }
        Map<String, String> selector = map(obj(spec, "selector", "matchLabels"));
        Map<String, Integer> perComponent = new HashMap<>();
        for (JsonObject s : objects) {
            if (kind(s).equals("Service") && map(obj(s, "metadata", "labels")).entrySet().containsAll(selector.entrySet())) {
                perComponent.merge(map(obj(s, "metadata", "labels")).get("app.kubernetes.io/component"), 1, Integer::sum);
                boolean hasPort = false;
                for (JsonElement p : arr(obj(s, "spec"), "ports")) {
                    hasPort |= str(endpoints.get(0).getAsJsonObject(), "port").equals(str(p.getAsJsonObject(), "name"));
                }
                if (!hasPort) {
                    problem(o, "Service " + name(s) + " has no port named " + str(endpoints.get(0).getAsJsonObject(), "port"));
                }
            }
        }
        if (perComponent.isEmpty()) {
            problem(o, "selects no Service");
        }
        perComponent.forEach((component, n) -> {
            if (n > 1) {
                problem(o, "selects " + n + " Services of " + component + ": its pods would be scraped " + n + " times");
            }
        });
    }

    /** The gateway's DNS-discovered pools must point at headless Services, on the container port. */
    void gatewayPools() {
        for (JsonObject w : podTemplates()) {
            if (!"gateway".equals(map(obj(w, "metadata", "labels")).get("app.kubernetes.io/component"))) {
                continue;
            }
            Map<String, String> env = new HashMap<>();
            for (JsonElement c : arr(obj(w, "spec", "template", "spec"), "containers")) {
                arr(c.getAsJsonObject(), "env").forEach(e -> env.put(str(e.getAsJsonObject(), "name"), str(e.getAsJsonObject(), "value")));
            }
            for (String tier : List.of("EDGE", "CLOUD")) {
                String dns = env.get("HYBRIDGE_GATEWAY_" + tier + "_DNSNAME");
                String addresses = env.get("HYBRIDGE_GATEWAY_" + tier + "_ADDRESSES");
                if (dns != null && addresses != null) {
                    problem(w, tier + " pool has both addresses and a DNS name");
                }
                if (dns == null) {
                    continue;
                }
                String suffix = "." + namespace + ".svc.cluster.local";
                String serviceName = dns.endsWith(suffix) ? dns.substring(0, dns.length() - suffix.length()) : null;
                JsonObject svc = serviceName == null ? null : find("Service", serviceName);
                if (svc == null) {
                    System.out.println("note: " + tier + " pool resolves " + dns + ", not a Service of this release");
                    continue;
                }
                if (!"None".equals(str(obj(svc, "spec"), "clusterIP"))) {
                    problem(w, tier + " pool resolves Service " + serviceName + ", which is not headless (one address, not one per worker)");
                }
                List<JsonObject> workers = selected(map(obj(svc, "spec", "selector")));
                String port = env.get("HYBRIDGE_GATEWAY_" + tier + "_PORT");
                if (workers.size() == 1 && !String.valueOf(containerPorts(workers.get(0)).get("http")).equals(port)) {
                    problem(w, tier + " pool port " + port + " is not the workers' container port " + containerPorts(workers.get(0)).get("http"));
                }
                String component = map(obj(svc, "metadata", "labels")).get("app.kubernetes.io/component");
                if (!(tier.equals("EDGE") ? "edge-agent" : "cloud-worker").equals(component)) {
                    problem(w, tier + " pool resolves the Service of " + component);
                }
            }
        }
    }
}
