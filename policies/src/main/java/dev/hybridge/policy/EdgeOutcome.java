package dev.hybridge.policy;

/**
 * What the edge stage concluded: its top label and how sure it was (the serving layer's
 * {@code hybridge.confidence}, {@code hybridge.margin}, {@code hybridge.entropy},
 * {@code hybridge.label}).
 *
 * @param confidence the top class's probability, 0 to 1
 * @param margin     top probability minus the runner-up's
 * @param entropy    entropy of the class distribution, in nats
 * @param label      the top label, or {@code ""} when the model has none
 */
public record EdgeOutcome(double confidence, double margin, double entropy, String label) {

    public EdgeOutcome {
        if (!(confidence >= 0 && confidence <= 1)) {
            throw new IllegalArgumentException("confidence must be between 0 and 1 but was " + confidence);
        }
        label = label == null ? "" : label;
    }
}
