package dev.hybridge.serving.web;

import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.context.annotation.Import;

/** A program that is nothing but the shared serving layer, for slice tests. */
@SpringBootApplication
@Import(ServingConfiguration.class)
class TestServingApplication {
}
