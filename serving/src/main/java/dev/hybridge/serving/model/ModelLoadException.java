package dev.hybridge.serving.model;

/** A model that cannot be served; the message says which file and what is wrong. */
public class ModelLoadException extends RuntimeException {
    public ModelLoadException(String message) {
        super(message);
    }

    public ModelLoadException(String message, Throwable cause) {
        super(message, cause);
    }
}
