package dev.hybridge.policy;

/** Where a stage runs and an answer comes from. */
public enum Tier {
    EDGE("edge"),
    CLOUD("cloud");

    private final String wire;

    Tier(String wire) {
        this.wire = wire;
    }

    /** The name used in policy files, responses ({@code hybridge.tier}) and metrics. */
    public String wire() {
        return wire;
    }
}
