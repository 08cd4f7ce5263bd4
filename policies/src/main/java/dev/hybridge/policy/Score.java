package dev.hybridge.policy;

/**
 * How sure the edge is of its answer, as a route's {@code score:} expression computes it from the
 * edge's outcome (a CEL expression over {@code confidence}, {@code margin}, {@code entropy},
 * {@code label} and the request facts, checked when its file is loaded). A route escalates when
 * the score is under its threshold, and a calibrated threshold follows the scores. Without one
 * the score is the edge's confidence (its top probability).
 */
public interface Score {

    /** The score of one outcome; NaN when the expression fails at run time (counted; the request escalates). */
    double of(RequestFacts facts, EdgeOutcome outcome);

    /** The expression as written in the policy file. */
    String source();

    /** How many evaluations failed. */
    default long errors() {
        return 0;
    }
}
