package dev.hybridge.gateway;

import dev.hybridge.oip.OipException;
import java.util.Map;
import org.springframework.http.HttpHeaders;

/**
 * Finds the tenant of a request from its API key ({@code X-Api-Key}, or {@code Authorization:
 * Bearer <key>}). Keys are compared as given and never logged or echoed.
 */
final class ApiKeys {

    private final Map<String, String> tenantByKey;
    private final String header;
    private final String anonymousTenant;

    ApiKeys(GatewayProperties properties) {
        this.tenantByKey = Map.copyOf(properties.apiKeys());
        this.header = properties.apiKeyHeader();
        this.anonymousTenant = properties.anonymousTenant() == null ? "" : properties.anonymousTenant().trim();
    }

    /** The caller's tenant; 401 when the key is missing (and there is no anonymous tenant) or unknown. */
    String tenantOf(HttpHeaders headers) {
        String key = headers.getFirst(header);
        if (key == null) {
            String authorization = headers.getFirst(HttpHeaders.AUTHORIZATION);
            if (authorization != null && authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
                key = authorization.substring(7).trim();
            }
        }
        if (key == null || key.isEmpty()) {
            if (!anonymousTenant.isEmpty()) {
                return anonymousTenant;
            }
            throw new OipException(401, "an API key is required: send it in " + header + " or as Authorization: Bearer");
        }
        String tenant = tenantByKey.get(key);
        if (tenant == null) {
            throw new OipException(401, "the API key is not known");
        }
        return tenant;
    }
}
