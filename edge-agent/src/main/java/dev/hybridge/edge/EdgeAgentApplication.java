package dev.hybridge.edge;

import dev.hybridge.serving.web.OrderlyShutdown;
import dev.hybridge.serving.web.ServingConfiguration;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.context.annotation.Import;

/**
 * Runs distilled ONNX models next to the data and serves them over OIP, and runs routes there:
 * answers what the local model is sure of and escalates the rest to the gateway.
 */
@SpringBootApplication
@Import({ServingConfiguration.class, EdgeConfiguration.class})
public class EdgeAgentApplication {

    public static void main(String[] args) {
        OrderlyShutdown.install(SpringApplication.run(EdgeAgentApplication.class, args));
    }
}
