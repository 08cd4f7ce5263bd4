package dev.hybridge.policy;

import java.util.Arrays;
import java.util.Optional;

/** What a client asked for with {@code hybridge.route}. */
public enum RequestedRoute {
    /** The route's policy decides (the default). */
    AUTO("auto"),
    EDGE("edge"),
    CLOUD("cloud");

    private final String wire;

    RequestedRoute(String wire) {
        this.wire = wire;
    }

    public String wire() {
        return wire;
    }

    public static Optional<RequestedRoute> fromWire(String name) {
        return Arrays.stream(values()).filter(r -> r.wire.equals(name)).findFirst();
    }
}
