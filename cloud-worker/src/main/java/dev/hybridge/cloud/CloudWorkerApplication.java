package dev.hybridge.cloud;

import dev.hybridge.serving.web.OrderlyShutdown;
import dev.hybridge.serving.web.ServingConfiguration;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.context.annotation.Import;

/** Serves full-size ONNX models over OIP with dynamic batching; CUDA when present, CPU otherwise. */
@SpringBootApplication
@Import(ServingConfiguration.class)
public class CloudWorkerApplication {

    public static void main(String[] args) {
        OrderlyShutdown.install(SpringApplication.run(CloudWorkerApplication.class, args));
    }
}
