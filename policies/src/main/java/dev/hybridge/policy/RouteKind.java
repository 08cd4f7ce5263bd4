package dev.hybridge.policy;

import java.util.Arrays;
import java.util.Optional;

/** How a route shares work between the edge and the cloud stage. */
public enum RouteKind {
    /** The edge answers; a request goes to the cloud when a condition holds (low confidence, or a rule). */
    CASCADE("cascade", true, true, false),
    /** The edge computes an intermediate tensor; the cloud always finishes from it. */
    SPLIT("split", true, true, true),
    /** Like split, but the edge answers itself when it is confident. */
    SPLIT_EARLY_EXIT("split-early-exit", true, true, true),
    EDGE_ONLY("edge-only", true, false, false),
    CLOUD_ONLY("cloud-only", false, true, false),
    /** The edge answers; a sample also goes to the cloud to measure agreement, never changing the answer. */
    SHADOW("shadow", true, true, false);

    private final String wire;
    private final boolean usesEdge;
    private final boolean usesCloud;
    private final boolean split;

    RouteKind(String wire, boolean usesEdge, boolean usesCloud, boolean split) {
        this.wire = wire;
        this.usesEdge = usesEdge;
        this.usesCloud = usesCloud;
        this.split = split;
    }

    public String wire() {
        return wire;
    }

    public boolean usesEdge() {
        return usesEdge;
    }

    public boolean usesCloud() {
        return usesCloud;
    }

    /** The edge stage hands a named output tensor to the cloud stage. */
    public boolean split() {
        return split;
    }

    /** Whether a confidence threshold decides (cascade, split with early exit). */
    public boolean gatedByConfidence() {
        return this == CASCADE || this == SPLIT_EARLY_EXIT;
    }

    public static Optional<RouteKind> fromWire(String name) {
        return Arrays.stream(values()).filter(k -> k.wire.equals(name)).findFirst();
    }

    public static String allWire() {
        return String.join(", ", Arrays.stream(values()).map(RouteKind::wire).toList());
    }
}
