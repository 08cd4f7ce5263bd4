package dev.hybridge.policy;

import dev.hybridge.policy.RoutePolicy.LatencySpec;
import dev.hybridge.policy.RoutePolicy.Stage;
import dev.hybridge.policy.RoutePolicy.ThresholdSpec;
import dev.hybridge.policy.RoutePolicy.TierCost;
import dev.hybridge.policy.TenantPolicy.WhenSpent;
import dev.hybridge.policy.internal.CelConditions;
import dev.hybridge.policy.internal.YamlNode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.dataformat.yaml.YAMLMapper;

/**
 * Reads a policy folder: one {@code <route>.yaml} per route and an optional
 * {@code tenants.yaml}. Every field is checked; all problems are collected, each naming the
 * file, the field path and what was expected, and a folder with any problem is refused whole.
 * See {@code policies/README.md} for the format.
 */
public final class PolicyLoader {

    public static final String TENANTS_FILE = "tenants.yaml";
    /** Files larger than this are refused: a policy is a few hundred bytes. */
    public static final long MAX_FILE_BYTES = 256 * 1024;

    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
    private static final YAMLMapper YAML = YAMLMapper.builder().build();
    private static final Duration MAX_DEADLINE = Duration.ofMinutes(10);

    private final CelConditions conditions = new CelConditions();

    /** Loads every route file and the tenants file of {@code folder}. */
    public PolicySet load(Path folder) throws PolicyException {
        return load(PolicyBundle.read(folder), folder);
    }

    /** Loads a policy set given as files (as the gateway sends it to edge agents). */
    public PolicySet load(PolicyBundle bundle) throws PolicyException {
        return load(bundle, null);
    }

    /** @param folder where the files are, for the sources of the routes; null when they are in no folder */
    private PolicySet load(PolicyBundle bundle, Path folder) throws PolicyException {
        List<String> problems = new ArrayList<>();
        Map<String, RoutePolicy> routes = new LinkedHashMap<>();
        TenantPolicies tenants = TenantPolicies.UNLIMITED;
        for (Map.Entry<String, String> entry : bundle.files().entrySet()) {
            Path file = folder == null ? Path.of(entry.getKey()) : folder.resolve(entry.getKey());
            String text = entry.getValue();
            if (entry.getKey().equals(TENANTS_FILE)) {
                TenantPolicies parsed = parseTenants(file, text, problems);
                if (parsed != null) {
                    tenants = parsed;
                }
                continue;
            }
            RoutePolicy route = parseRoute(file, text, problems);
            if (route != null) {
                RoutePolicy clash = routes.putIfAbsent(route.name(), route);
                if (clash != null) {
                    problems.add(file.getFileName() + ": route: '" + route.name() + "' is already defined by "
                            + clash.source().getFileName());
                }
            }
        }
        if (!problems.isEmpty()) {
            throw new PolicyException(problems);
        }
        return new PolicySet(routes, tenants);
    }

    /** Parses one route file's text; {@code null} with problems added when it is not valid. */
    public RoutePolicy parseRoute(Path file, String text, List<String> problems) {
        String fileName = file.getFileName().toString();
        int before = problems.size();
        YamlNode root = rootOf(fileName, text, problems);
        if (root == null) {
            return null;
        }
        root.allowOnly(Set.of("version", "route", "kind", "edge", "cloud", "hard-when", "escalate-when", "score", "threshold",
                "deadline", "cloud-latency", "cost", "shadow", "defer", "cloud-on-edge-overload", "device-profile"));
        checkVersion(root);
        String defaultName = fileName.replaceFirst("\\.ya?ml$", "");
        String name = root.has("route") ? root.string("route", true) : defaultName;
        if (name != null && !NAME.matcher(name).matches()) {
            root.problem("route", "must be a model name (letters, digits, '.', '_', '-'; up to 128) but was \"" + name + "\"");
        }
        String kindText = root.string("kind", true);
        RouteKind kind = null;
        if (kindText != null) {
            kind = RouteKind.fromWire(kindText).orElse(null);
            if (kind == null) {
                root.problem("kind", "must be one of " + RouteKind.allWire() + " but was \"" + kindText + "\"");
            }
        }
        Stage edge = null;
        Stage cloud = null;
        if (kind != null) {
            edge = stage(root, "edge", kind.usesEdge(), kind.split(), "output");
            cloud = stage(root, "cloud", kind.usesCloud(), kind.split(), "input");
        }
        Condition hardWhen = condition(root, "hard-when", false);
        Condition escalateWhen = condition(root, "escalate-when", true);
        Score score = score(root);
        if (escalateWhen != null && escalateWhen.source().replaceAll("\\s+", "").equals(
                score == null ? "confidence<threshold" : "score<threshold")) {
            escalateWhen = null; // the default, decided without evaluating an expression
        }
        if (kind != null && score != null && !kind.gatedByConfidence()) {
            root.problem("score", "only applies to cascade and split-early-exit routes, not " + kind.wire());
        }
        if (kind != null && hardWhen != null && !(kind.usesEdge() && kind.usesCloud())) {
            root.problem("hard-when", "only applies to routes with both an edge and a cloud stage, not " + kind.wire());
        }
        if (kind != null && escalateWhen != null && !kind.gatedByConfidence()) {
            root.problem("escalate-when", "only applies to cascade and split-early-exit routes, not " + kind.wire());
        }
        ThresholdSpec threshold = threshold(root, score != null);
        Duration deadline = root.duration("deadline", Duration.ofSeconds(1), Duration.ofMillis(1), MAX_DEADLINE);
        LatencySpec latency = latency(root);
        TierCost edgeCost = TierCost.FREE;
        TierCost cloudCost = TierCost.FREE;
        YamlNode cost = root.mapping("cost", false);
        if (cost != null) {
            cost.allowOnly(Set.of("edge", "cloud"));
            edgeCost = tierCost(cost, "edge");
            cloudCost = tierCost(cost, "cloud");
        }
        double shadowRate = 0;
        YamlNode shadow = root.mapping("shadow", false);
        if (shadow != null) {
            shadow.allowOnly(Set.of("sample-rate"));
            shadowRate = shadow.number("sample-rate", 0, 0, 1);
            if (kind != null && kind != RouteKind.SHADOW) {
                root.problem("shadow", "only applies to shadow routes, not " + kind.wire());
            }
        } else if (kind == RouteKind.SHADOW) {
            root.problem("shadow", "is required on shadow routes (shadow: {sample-rate: 0.1})");
        }
        RoutePolicy.Defer defer = defer(root, kind);
        boolean cloudOnEdgeOverload = root.bool("cloud-on-edge-overload", false);
        if (cloudOnEdgeOverload && kind != null && !(kind.usesEdge() && kind.usesCloud())) {
            root.problem("cloud-on-edge-overload", "only applies to routes with both an edge and a cloud stage, not "
                    + kind.wire());
        }
        RoutePolicy.DeviceProfile deviceProfile = deviceProfile(root, kind);
        if (problems.size() > before) {
            return null;
        }
        return new RoutePolicy(name, file, kind, edge, cloud, hardWhen, escalateWhen, score, threshold, deadline, latency,
                edgeCost, cloudCost, shadowRate, defer, cloudOnEdgeOverload, deviceProfile);
    }

    /** {@code device-profile:} (a profile the device learns and sends with escalations); cascade routes only. */
    private static RoutePolicy.DeviceProfile deviceProfile(YamlNode root, RouteKind kind) {
        YamlNode node = root.mapping("device-profile", false);
        if (node == null) {
            return null;
        }
        node.allowOnly(Set.of("from", "to", "window", "views"));
        String from = node.string("from", true);
        String to = node.string("to", true);
        int window = node.integer("window", 1000, 1, 10_000_000);
        if (kind != null && kind != RouteKind.CASCADE) {
            root.problem("device-profile", "only applies to cascade routes (their escalations carry the request, "
                    + "which the profile joins), not " + kind.wire());
        }
        RoutePolicy.Views views = null;
        YamlNode viewsNode = node.mapping("views", false);
        if (viewsNode != null) {
            views = views(viewsNode);
            if (views == null) {
                return null;
            }
        }
        return from == null || to == null ? null : new RoutePolicy.DeviceProfile(from, to, window, views);
    }

    /** {@code device-profile.views:} the speeds a device learns its user at. */
    private static RoutePolicy.Views views(YamlNode node) {
        node.allowOnly(Set.of("input", "scores", "speeds", "pick", "every", "to"));
        String input = node.string("input", true);
        String scores = node.string("scores", true);
        String to = node.string("to", true);
        double[] speeds = node.numbers("speeds", 0.25, 4, RoutePolicy.Views.MOST_SPEEDS);
        if (speeds == null && !node.has("speeds")) {
            node.problem("speeds", "is required");
        }
        int pick = node.integer("pick", 3, 1, RoutePolicy.Views.MOST_SPEEDS);
        int every = node.integer("every", 1, 1, 1_000_000);
        if (speeds != null && pick > speeds.length) {
            node.problem("pick", "must be at most the number of speeds (" + speeds.length + ") but was " + pick);
            return null;
        }
        if (speeds != null && java.util.Arrays.stream(speeds).distinct().count() != speeds.length) {
            node.problem("speeds", "must not repeat a speed");
            return null;
        }
        return input == null || scores == null || to == null || speeds == null ? null
                : new RoutePolicy.Views(input, scores, speeds, pick, every, to);
    }

    /** {@code defer:} (store-and-forward on an edge agent); its default depends on the kind. */
    private static RoutePolicy.Defer defer(YamlNode root, RouteKind kind) {
        RoutePolicy.Defer fallback = RoutePolicy.Defer.defaultFor(kind);
        YamlNode defer = root.mapping("defer", false);
        if (defer == null) {
            return fallback;
        }
        defer.allowOnly(Set.of("enabled", "priority", "ttl", "overflow"));
        boolean enabled = defer.bool("enabled", true);
        if (enabled && kind != null && !(kind.usesEdge() && kind.usesCloud())) {
            root.problem("defer", "only applies to routes with both an edge and a cloud stage, not " + kind.wire());
        }
        int priority = defer.integer("priority", 0, -1000, 1000);
        Duration ttl = defer.duration("ttl", Duration.ofHours(24), Duration.ofSeconds(1), Duration.ofDays(30));
        RoutePolicy.Overflow overflow = RoutePolicy.Overflow.DROP_OLDEST;
        String text = defer.string("overflow", false);
        if (text != null) {
            overflow = switch (text) {
                case "drop-oldest" -> RoutePolicy.Overflow.DROP_OLDEST;
                case "refuse-new" -> RoutePolicy.Overflow.REFUSE_NEW;
                default -> {
                    defer.problem("overflow", "must be drop-oldest or refuse-new but was \"" + text + "\"");
                    yield RoutePolicy.Overflow.DROP_OLDEST;
                }
            };
        }
        return new RoutePolicy.Defer(enabled, priority, ttl, overflow);
    }

    /** Parses the tenants file's text; {@code null} with problems added when it is not valid. */
    public TenantPolicies parseTenants(Path file, String text, List<String> problems) {
        String fileName = file.getFileName().toString();
        int before = problems.size();
        YamlNode root = rootOf(fileName, text, problems);
        if (root == null) {
            return null;
        }
        root.allowOnly(Set.of("version", "budget-window", "default", "tenants"));
        checkVersion(root);
        Duration window = root.duration("budget-window", Duration.ofHours(1), Duration.ofMinutes(1), Duration.ofDays(31));
        YamlNode defaultsNode = root.mapping("default", false);
        TenantPolicy defaults = defaultsNode == null ? TenantPolicy.unlimited("*") : tenant(defaultsNode, "*");
        Map<String, TenantPolicy> tenants = new LinkedHashMap<>();
        YamlNode listed = root.mapping("tenants", false);
        if (listed != null) {
            for (Map.Entry<String, YamlNode> e : listed.entries().entrySet()) {
                if (!NAME.matcher(e.getKey()).matches()) {
                    listed.problem(e.getKey(), "a tenant name must be letters, digits, '.', '_', '-' (up to 128)");
                }
                tenants.put(e.getKey(), tenant(e.getValue(), e.getKey()));
            }
        }
        if (problems.size() > before) {
            return null;
        }
        return new TenantPolicies(file, window, defaults, tenants);
    }

    private static YamlNode rootOf(String fileName, String text, List<String> problems) {
        JsonNode tree;
        try {
            tree = YAML.readTree(text);
        } catch (JacksonException e) {
            problems.add(fileName + ": not valid YAML: " + e.getOriginalMessage());
            return null;
        }
        if (tree == null || !tree.isObject()) {
            problems.add(fileName + ": must be a YAML mapping (version: 1, kind: ..., ...)");
            return null;
        }
        return YamlNode.root(tree, fileName, problems);
    }

    private static void checkVersion(YamlNode root) {
        if (!root.has("version")) {
            root.problem("version", "is required (version: " + RoutePolicy.FORMAT_VERSION + ")");
            return;
        }
        int version = root.integer("version", -1, 0, Integer.MAX_VALUE);
        if (version >= 0 && version != RoutePolicy.FORMAT_VERSION) {
            root.problem("version", "must be " + RoutePolicy.FORMAT_VERSION + " (the format this program reads) but was "
                    + version);
        }
    }

    private static Stage stage(YamlNode root, String tier, boolean used, boolean split, String tensorField) {
        if (!used) {
            if (root.has(tier)) {
                root.problem(tier, "this route kind has no " + tier + " stage");
            }
            return null;
        }
        YamlNode node = root.mapping(tier, true);
        if (node == null) {
            return null;
        }
        node.allowOnly(Set.of("model", "version", tensorField));
        String model = node.string("model", true);
        String version = node.has("version") ? node.string("version", true) : null;
        String tensor = null;
        if (split) {
            tensor = node.string(tensorField, true);
        } else if (node.has(tensorField)) {
            node.problem(tensorField, "only applies to split routes");
        }
        return new Stage(model, version, tensor);
    }

    private Condition condition(YamlNode root, String field, boolean afterEdge) {
        String expression = root.has(field) ? root.string(field, true) : null;
        if (expression == null) {
            return null;
        }
        try {
            return conditions.compile(expression, afterEdge);
        } catch (IllegalArgumentException e) {
            root.problem(field, "not a valid condition: " + e.getMessage());
            return null;
        }
    }

    private Score score(YamlNode root) {
        String expression = root.has("score") ? root.string("score", true) : null;
        if (expression == null) {
            return null;
        }
        java.util.function.ToDoubleFunction<EdgeOutcome> field = switch (expression.strip()) {
            case "confidence" -> EdgeOutcome::confidence;
            case "margin" -> EdgeOutcome::margin;
            case "entropy" -> EdgeOutcome::entropy;
            default -> null;
        };
        if (field != null) {
            // one of the outcome's own figures: read, not evaluated (no CEL on the request's path)
            String source = expression.strip();
            return new Score() {
                @Override
                public double of(RequestFacts facts, EdgeOutcome outcome) {
                    return field.applyAsDouble(outcome);
                }

                @Override
                public String source() {
                    return source;
                }
            };
        }
        try {
            return conditions.compileScore(expression);
        } catch (IllegalArgumentException e) {
            root.problem("score", "not a valid score: " + e.getMessage());
            return null;
        }
    }

    /**
     * {@code threshold:}: on the confidence (0 to 1), or on the route's own score (any range:
     * a learned score may be a log-odds, say).
     */
    private static ThresholdSpec threshold(YamlNode root, boolean ownScore) {
        double low = ownScore ? -1e6 : 0;
        double high = ownScore ? 1e6 : 1;
        YamlNode node = root.mapping("threshold", false);
        if (node == null) {
            return ThresholdSpec.fixed(0.5);
        }
        node.allowOnly(Set.of("value", "calibrate"));
        double value = node.number("value", 0.5, low, high);
        YamlNode calibrate = node.mapping("calibrate", false);
        if (calibrate == null) {
            return ThresholdSpec.fixed(value);
        }
        calibrate.allowOnly(Set.of("target-escalation-rate", "window", "min-samples", "min", "max"));
        if (!calibrate.has("target-escalation-rate")) {
            calibrate.problem("target-escalation-rate", "is required (the share of requests to escalate, e.g. 0.3)");
        }
        double rate = calibrate.number("target-escalation-rate", 0.3, 0, 1);
        int window = calibrate.integer("window", 1000, 10, 1_000_000);
        int minSamples = calibrate.integer("min-samples", Math.min(100, window), 1, 1_000_000);
        if (minSamples > window) {
            calibrate.problem("min-samples", "must be at most window (" + window + ") but was " + minSamples);
        }
        if (ownScore && !(calibrate.has("min") && calibrate.has("max"))) {
            calibrate.problem("min", "min and max are required with a score of the route's own: the range the"
                    + " calibrated threshold moves in");
        }
        double min = calibrate.number("min", 0, low, high);
        double max = calibrate.number("max", 1, low, high);
        if (min > max) {
            calibrate.problem("min", "must be at most max (" + max + ") but was " + min);
        }
        if (value < min || value > max) {
            node.problem("value", "the starting threshold must lie within calibrate.min and calibrate.max ("
                    + min + " to " + max + ") but was " + value);
        }
        return new ThresholdSpec(value, true, rate, window, minSamples, min, max);
    }

    private static LatencySpec latency(YamlNode root) {
        YamlNode node = root.mapping("cloud-latency", false);
        if (node == null) {
            return LatencySpec.DEFAULT;
        }
        node.allowOnly(Set.of("percentile", "window", "max-age", "initial"));
        LatencySpec d = LatencySpec.DEFAULT;
        return new LatencySpec(
                node.number("percentile", d.percentile(), 1, 100),
                node.integer("window", d.window(), 1, 100_000),
                node.duration("max-age", d.maxAge(), Duration.ofSeconds(1), Duration.ofDays(1)),
                node.duration("initial", d.initial(), Duration.ZERO, MAX_DEADLINE));
    }

    private static TierCost tierCost(YamlNode cost, String tier) {
        YamlNode node = cost.mapping(tier, false);
        if (node == null) {
            return TierCost.FREE;
        }
        node.allowOnly(Set.of("per-request-usd", "per-megabyte-usd"));
        return new TierCost(node.number("per-request-usd", 0, 0, 1_000), node.number("per-megabyte-usd", 0, 0, 1_000));
    }

    private static TenantPolicy tenant(YamlNode node, String name) {
        node.allowOnly(Set.of("budget-usd", "when-spent", "allow"));
        double budget = node.has("budget-usd") ? node.number("budget-usd", 0, 0, 1e9) : Double.POSITIVE_INFINITY;
        WhenSpent whenSpent = WhenSpent.EDGE_ONLY;
        String spent = node.has("when-spent") ? node.string("when-spent", true) : null;
        if (spent != null) {
            whenSpent = switch (spent) {
                case "edge-only" -> WhenSpent.EDGE_ONLY;
                case "reject" -> WhenSpent.REJECT;
                default -> {
                    node.problem("when-spent", "must be edge-only or reject but was \"" + spent + "\"");
                    yield WhenSpent.EDGE_ONLY;
                }
            };
        }
        List<String> allow = node.words("allow", Set.of("auto", "edge", "cloud"));
        Set<RequestedRoute> allowed = EnumSet.allOf(RequestedRoute.class);
        if (allow != null) {
            allowed = EnumSet.noneOf(RequestedRoute.class);
            for (String a : allow) {
                allowed.add(RequestedRoute.fromWire(a).orElseThrow());
            }
            if (!allowed.contains(RequestedRoute.AUTO)) {
                node.problem("allow", "must include auto (requests that ask for no tier)");
            }
        }
        return new TenantPolicy(name, budget, whenSpent, Set.copyOf(allowed));
    }
}
