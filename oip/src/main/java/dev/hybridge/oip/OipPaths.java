package dev.hybridge.oip;

import java.util.List;
import java.util.regex.Pattern;

/**
 * The paths of the protocol, for every program's front: which methods a path takes, the
 * extensions a server announces, and the answers for a path or method the protocol does not
 * have. One definition, so that the serving programs and the gateway answer alike.
 */
public final class OipPaths {

    /** The extensions every Hybridge program serves, as {@code GET /v2} lists them. */
    public static final List<String> EXTENSIONS = List.of("binary_tensor_data", ModelConfiguration.EXTENSION);

    private static final Pattern KNOWN = Pattern.compile(
            "/v2(/health/(live|ready))?|/v2/models/[^/]+(/versions/[^/]+)?(/ready|/config|/infer)?");

    private OipPaths() {
    }

    /** The method a path of the protocol takes ({@code POST} for inference, else {@code GET}), or null for a path it does not have. */
    public static String methodFor(String path) {
        if (!KNOWN.matcher(path).matches()) {
            return null;
        }
        return path.endsWith("/infer") ? "POST" : "GET";
    }

    /**
     * The error for a request no endpoint took: 405 (with the method to use) on a path of the
     * protocol asked with another method, 404 otherwise.
     */
    public static OipException noSuchEndpoint(String method, String path) {
        String allowed = methodFor(path);
        if (allowed != null && !allowed.equals(method)) {
            return new OipException(405, method + " is not allowed on " + path + "; use " + allowed);
        }
        return OipException.notFound("no such endpoint: " + method + " " + path);
    }
}
