package dev.hybridge.serving.model;

/**
 * How sure a classifier is of one row of scores: the top class, its probability (max softmax),
 * the margin between the two most probable classes, and the entropy of the distribution (nats).
 */
public record Confidence(int topIndex, double probability, double margin, double entropy) {

    /**
     * Measures {@code classes} scores starting at {@code offset}.
     *
     * @param logits whether the scores are logits (a softmax is applied) or already probabilities
     */
    public static Confidence of(float[] scores, int offset, int classes, boolean logits) {
        if (classes < 1) {
            throw new IllegalArgumentException("classes must be at least 1 but was " + classes);
        }
        double[] p = new double[classes];
        if (logits) {
            double max = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < classes; i++) {
                max = Math.max(max, scores[offset + i]);
            }
            double sum = 0;
            for (int i = 0; i < classes; i++) {
                p[i] = Math.exp(scores[offset + i] - max);
                sum += p[i];
            }
            for (int i = 0; i < classes; i++) {
                p[i] /= sum;
            }
        } else {
            // tolerate small drift from an exact sum of one, and clamp stray negatives
            double sum = 0;
            for (int i = 0; i < classes; i++) {
                p[i] = Math.max(0, scores[offset + i]);
                sum += p[i];
            }
            if (sum > 0) {
                for (int i = 0; i < classes; i++) {
                    p[i] /= sum;
                }
            }
        }
        int top = 0;
        double best = -1;
        double second = 0;
        double entropy = 0;
        for (int i = 0; i < classes; i++) {
            if (p[i] > best) {
                second = Math.max(best, 0);
                best = p[i];
                top = i;
            } else if (p[i] > second) {
                second = p[i];
            }
            if (p[i] > 0) {
                entropy -= p[i] * Math.log(p[i]);
            }
        }
        return new Confidence(top, best, best - second, entropy);
    }
}
