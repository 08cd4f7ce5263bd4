package dev.hybridge.gateway;

import dev.hybridge.gateway.pool.NoWorkerException;
import dev.hybridge.gateway.pool.WorkerFailure;
import dev.hybridge.gateway.pool.WorkerPool;
import dev.hybridge.oip.web.Traces;
import dev.hybridge.policy.RoutePolicy;
import dev.hybridge.policy.runtime.TierCall;
import dev.hybridge.policy.runtime.TierClient;
import dev.hybridge.policy.runtime.TierFailure;
import dev.hybridge.policy.runtime.TierReply;
import io.github.resilience4j.bulkhead.BulkheadFullException;
import io.github.resilience4j.circuitbreaker.CallNotPermittedException;
import io.micrometer.tracing.Span;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeoutException;

/**
 * A worker pool as the route runtime sees a tier: its calls (with their breakers, time limiter,
 * bulkhead and retries) answer or fail with a {@link TierFailure} that says how.
 */
final class PoolTier implements TierClient {

    private final WorkerPool pool;
    private final Traces traces;

    PoolTier(WorkerPool pool, Traces traces) {
        this.pool = pool;
        this.traces = traces;
    }

    @Override
    public CompletableFuture<TierReply> infer(RoutePolicy.Stage stage, byte[] body, int jsonLength, long deadlineNanos) {
        return infer(stage, body, jsonLength, deadlineNanos, (TierCall) null);
    }

    /** The call, in a span of its own (the child of the request's), whose context goes with it. */
    @Override
    public CompletableFuture<TierReply> infer(RoutePolicy.Stage stage, byte[] body, int jsonLength, long deadlineNanos,
                                              TierCall call) {
        Span span = traces.calling(pool.tier().wire() + " " + stage.model(), call == null ? null : call.trace());
        boolean recorded = !span.isNoop(); // a span not recorded (most of them) keeps no attributes
        if (recorded && call != null && call.reason() != null) {
            span.tag("hybridge.reason", call.reason().code());
        }
        Map<String, String> headers = new HashMap<>(2);
        traces.inject(span, headers::put);
        return pool.infer(stage.model(), stage.version(), body, jsonLength, deadlineNanos, headers)
                .map(attempt -> {
                    if (recorded) {
                        span.tag("hybridge.worker", attempt.worker().toString())
                                .tag("http.response.status_code", Integer.toString(attempt.response().status()));
                    }
                    return new TierReply(attempt.response().status(), attempt.response().body(),
                            attempt.response().jsonLength(), attempt.millis());
                })
                .onErrorMap(PoolTier::isTierFailure, PoolTier::asTierFailure)
                .doOnError(span::error)
                .doFinally(signal -> span.end())
                .toFuture();
    }

    /** A pool with no workers (none given, none found by DNS yet) has nowhere to send calls. */
    @Override
    public boolean configured() {
        return !pool.workers().isEmpty();
    }

    @Override
    public CompletableFuture<byte[]> metadata(RoutePolicy.Stage stage, long deadlineNanos) {
        return pool.metadata(stage.model(), stage.version(), deadlineNanos).toFuture();
    }

    /** Failures of the tier, as opposed to faults of this program. */
    static boolean isTierFailure(Throwable e) {
        return e instanceof WorkerFailure || e instanceof TimeoutException || e instanceof CallNotPermittedException
                || e instanceof BulkheadFullException || e instanceof NoWorkerException;
    }

    static TierFailure asTierFailure(Throwable e) {
        TierFailure.Kind kind;
        if (e instanceof TimeoutException) {
            kind = TierFailure.Kind.TIMEOUT;
        } else if (e instanceof CallNotPermittedException) {
            kind = TierFailure.Kind.CIRCUIT_OPEN;
        } else if (e instanceof BulkheadFullException || e instanceof WorkerFailure shed && shed.shed()) {
            kind = TierFailure.Kind.BUSY;
        } else if (e instanceof WorkerFailure failure && failure.status() >= 500) {
            kind = TierFailure.Kind.FAILED;
        } else {
            kind = TierFailure.Kind.UNREACHABLE;
        }
        return new TierFailure(kind, e.getMessage(), e);
    }
}
