package dev.hybridge.policy;

/**
 * A compiled policy condition (a CEL expression checked when its file is loaded). Evaluating
 * it cannot run arbitrary code: CEL has no loops beyond bounded macros and no side effects.
 */
public interface Condition {

    /**
     * @param outcome   the edge's outcome, or {@code null} for conditions evaluated before the edge runs
     * @param threshold the route's current threshold
     * @param score     the route's score of the outcome (its {@code score:}, by default the confidence)
     */
    boolean test(RequestFacts facts, EdgeOutcome outcome, double threshold, double score);

    /** {@link #test(RequestFacts, EdgeOutcome, double, double)} with the confidence as the score. */
    default boolean test(RequestFacts facts, EdgeOutcome outcome, double threshold) {
        return test(facts, outcome, threshold, outcome == null ? Double.NaN : outcome.confidence());
    }

    /** The expression as written in the policy file. */
    String source();

    /** How many evaluations failed (a missing map key, a type mismatch at run time); each counted as false. */
    default long errors() {
        return 0;
    }
}
