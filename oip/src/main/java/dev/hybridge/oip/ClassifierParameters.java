package dev.hybridge.oip;

/**
 * The response parameters a classifier's answer carries, so that routing reads a model's
 * confidence without knowing its outputs: the serving programs write them, the gateway reads them.
 */
public final class ClassifierParameters {

    /** The top class's label (when the model has labels). */
    public static final String LABEL = "hybridge.label";
    /** The top class's index. */
    public static final String LABEL_INDEX = "hybridge.label_index";
    /** The top class's probability (max softmax). */
    public static final String CONFIDENCE = "hybridge.confidence";
    /** The top probability minus the second. */
    public static final String MARGIN = "hybridge.margin";
    /** The entropy of the class probabilities, in nats. */
    public static final String ENTROPY = "hybridge.entropy";

    private ClassifierParameters() {
    }
}
