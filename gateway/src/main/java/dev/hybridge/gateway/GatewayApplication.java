package dev.hybridge.gateway;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;

/**
 * The Hybridge gateway: a Spring Cloud Gateway program whose routes are Hybridge routes
 * (gateway-autoconfigure), each run against the edge-tier and cloud worker pools.
 */
@SpringBootApplication
public class GatewayApplication {

    public static void main(String[] args) {
        // Worker pools found through DNS are resolved again every few seconds: the JVM's own cache
        // (30 s by default) must not hold addresses longer than that. A value set on the command
        // line (-Dnetworkaddress.cache.ttl via java.security) stays.
        if (java.security.Security.getProperty("networkaddress.cache.ttl") == null
                && System.getProperty("sun.net.inetaddr.ttl") == null) {
            java.security.Security.setProperty("networkaddress.cache.ttl", "5");
        }
        SpringApplication.run(GatewayApplication.class, args);
    }
}
