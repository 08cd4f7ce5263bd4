package dev.hybridge.oip;

import java.util.List;

/** What {@code GET /v2} returns. */
public record ServerMetadata(String name, String version, List<String> extensions) {
    public ServerMetadata {
        extensions = List.copyOf(extensions);
    }
}
