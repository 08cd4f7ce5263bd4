package dev.hybridge.edge;

import dev.hybridge.serving.web.OrderlyShutdown;
import dev.hybridge.serving.web.ServingConfiguration;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.context.annotation.Import;

/** Runs distilled ONNX models next to the data and serves them over OIP. */
@SpringBootApplication
@Import(ServingConfiguration.class)
public class EdgeAgentApplication {

    public static void main(String[] args) {
        OrderlyShutdown.install(SpringApplication.run(EdgeAgentApplication.class, args));
    }
}
