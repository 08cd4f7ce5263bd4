package dev.hybridge.policy.internal;

import dev.cel.common.CelAbstractSyntaxTree;
import dev.cel.common.CelOptions;
import dev.cel.common.CelValidationException;
import dev.cel.common.types.ListType;
import dev.cel.common.types.MapType;
import dev.cel.common.types.SimpleType;
import dev.cel.compiler.CelCompiler;
import dev.cel.compiler.CelCompilerFactory;
import dev.cel.runtime.CelEvaluationException;
import dev.cel.runtime.CelRuntime;
import dev.cel.runtime.CelRuntimeFactory;
import dev.cel.runtime.CelVariableResolver;
import dev.hybridge.policy.Condition;
import dev.hybridge.policy.EdgeOutcome;
import dev.hybridge.policy.RequestFacts;
import dev.hybridge.policy.Score;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Compiles policy conditions written in CEL, once, when a policy file loads.
 *
 * <p>Variables: {@code tenant}, {@code device} (strings), {@code parameters} (the request's OIP
 * parameters, a map of string to any), {@code inputs} (input name to shape, a map of string to
 * list of int), {@code input_bytes}, {@code deadline_ms} (ints); after the edge ran also
 * {@code confidence}, {@code margin}, {@code entropy}, {@code threshold}, {@code score} (doubles)
 * and {@code label} (string). A route's score ({@link #compileScore}) is a double over the edge's
 * outcome and the request facts. A condition must be boolean; a condition that uses an edge variable
 * before the edge runs, or any undeclared name, is refused at load with the position.
 *
 * <p>Evaluation errors (a missing map key, say) count as "false": a condition that cannot be
 * decided never escalates a request or marks it hard, and the error is counted.
 */
public final class CelConditions {

    /** Bounds the work a comprehension macro (all, exists, map, filter) may do per evaluation. */
    private static final int MAX_ITERATIONS = 1_000;

    private static final CelOptions OPTIONS = CelOptions.current()
            .enableHeterogeneousNumericComparisons(true)
            .comprehensionMaxIterations(MAX_ITERATIONS)
            .build();

    private final CelCompiler beforeEdge;
    private final CelCompiler afterEdge;
    private final CelCompiler scores;
    private final CelRuntime runtime;

    public CelConditions() {
        beforeEdge = compiler(false, SimpleType.BOOL);
        afterEdge = compiler(true, SimpleType.BOOL);
        scores = compiler(true, SimpleType.DOUBLE);
        runtime = CelRuntimeFactory.standardCelRuntimeBuilder().setOptions(OPTIONS).build();
    }

    /** @param result BOOL for a condition; DOUBLE for a score, which knows neither the threshold nor itself */
    private static CelCompiler compiler(boolean withEdge, dev.cel.common.types.CelType result) {
        var builder = CelCompilerFactory.standardCelCompilerBuilder()
                .setOptions(OPTIONS)
                .setResultType(result)
                .addVar("tenant", SimpleType.STRING)
                .addVar("device", SimpleType.STRING)
                .addVar("parameters", MapType.create(SimpleType.STRING, SimpleType.DYN))
                .addVar("inputs", MapType.create(SimpleType.STRING, ListType.create(SimpleType.INT)))
                .addVar("input_bytes", SimpleType.INT)
                .addVar("deadline_ms", SimpleType.INT);
        if (withEdge) {
            builder.addVar("confidence", SimpleType.DOUBLE)
                    .addVar("margin", SimpleType.DOUBLE)
                    .addVar("entropy", SimpleType.DOUBLE)
                    .addVar("label", SimpleType.STRING);
            if (result == SimpleType.BOOL) {
                builder.addVar("threshold", SimpleType.DOUBLE).addVar("score", SimpleType.DOUBLE);
            }
        }
        return builder.build();
    }

    /**
     * @param afterEdgeRan whether the edge's outcome is known when the condition is evaluated
     * @throws IllegalArgumentException with CEL's message (line, column, what is wrong)
     */
    public Condition compile(String expression, boolean afterEdgeRan) {
        CelAbstractSyntaxTree ast;
        try {
            ast = (afterEdgeRan ? afterEdge : beforeEdge).compile(expression).getAst();
        } catch (CelValidationException e) {
            String message = e.getMessage().replace("<input>:", "");
            if (!afterEdgeRan && (message.contains("'confidence'") || message.contains("'margin'")
                    || message.contains("'entropy'") || message.contains("'label'") || message.contains("'threshold'"))) {
                message += "\n(the edge has not run when this condition is evaluated: confidence, margin, entropy,"
                        + " label and threshold are unknown here)";
            }
            throw new IllegalArgumentException(message.strip());
        }
        try {
            return new CelCondition(expression, runtime.createProgram(ast));
        } catch (dev.cel.common.CelException e) {
            throw new IllegalArgumentException(e.getMessage());
        }
    }

    /**
     * A route's score: a double from the edge's outcome ({@code confidence}, {@code margin},
     * {@code entropy}, {@code label}) and the request facts.
     *
     * @throws IllegalArgumentException with CEL's message (line, column, what is wrong)
     */
    public Score compileScore(String expression) {
        CelAbstractSyntaxTree ast;
        try {
            ast = scores.compile(expression).getAst();
        } catch (CelValidationException e) {
            String message = e.getMessage().replace("<input>:", "");
            if (message.contains("'threshold'") || message.contains("'score'")) {
                message += "\n(a score is what the threshold is compared with: it cannot use the threshold or itself)";
            }
            throw new IllegalArgumentException(message.strip());
        }
        try {
            return new CelScore(expression, runtime.createProgram(ast));
        } catch (dev.cel.common.CelException e) {
            throw new IllegalArgumentException(e.getMessage());
        }
    }

    /** A compiled expression: its source, its program, and how many evaluations failed. */
    private abstract static class CelExpression {
        private final String source;
        private final CelRuntime.Program program;
        private final java.util.concurrent.atomic.LongAdder errors = new java.util.concurrent.atomic.LongAdder();

        CelExpression(String source, CelRuntime.Program program) {
            this.source = source;
            this.program = program;
        }

        /** The value, or null when the evaluation failed (counted). */
        final Object eval(RequestFacts facts, EdgeOutcome outcome, double threshold, double score) {
            CelVariableResolver variables = name -> Optional.ofNullable(variable(name, facts, outcome, threshold, score));
            try {
                return program.eval(variables);
            } catch (CelEvaluationException e) {
                errors.increment();
                return null;
            }
        }

        public String source() {
            return source;
        }

        public long errors() {
            return errors.sum();
        }

        @Override
        public String toString() {
            return source;
        }
    }

    private static final class CelScore extends CelExpression implements Score {
        CelScore(String source, CelRuntime.Program program) {
            super(source, program);
        }

        @Override
        public double of(RequestFacts facts, EdgeOutcome outcome) {
            return eval(facts, outcome, Double.NaN, Double.NaN) instanceof Number n ? n.doubleValue() : Double.NaN;
        }
    }

    private static final class CelCondition extends CelExpression implements Condition {
        CelCondition(String source, CelRuntime.Program program) {
            super(source, program);
        }

        @Override
        public boolean test(RequestFacts facts, EdgeOutcome outcome, double threshold, double score) {
            return Boolean.TRUE.equals(eval(facts, outcome, threshold, score));
        }
    }

    private static Object variable(String name, RequestFacts facts, EdgeOutcome outcome, double threshold,
                                   double score) {
        return switch (name) {
            case "tenant" -> facts.tenant();
            case "device" -> facts.device();
            case "parameters" -> facts.parameters();
            case "inputs" -> shapes(facts.inputShapes());
            case "input_bytes" -> facts.inputBytes();
            case "deadline_ms" -> facts.deadlineMillis();
            case "confidence" -> outcome == null ? null : outcome.confidence();
            case "margin" -> outcome == null ? null : outcome.margin();
            case "entropy" -> outcome == null ? null : outcome.entropy();
            case "label" -> outcome == null ? null : outcome.label();
            case "threshold" -> threshold;
            case "score" -> score;
            default -> null;
        };
    }

    private static Map<String, List<Long>> shapes(Map<String, long[]> shapes) {
        Map<String, List<Long>> out = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            List<Long> dims = new ArrayList<>(e.getValue().length);
            for (long d : e.getValue()) {
                dims.add(d);
            }
            out.put(e.getKey(), dims);
        }
        return out;
    }
}
