package dev.hybridge.policy.runtime;

import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The route runtime's timer (its deadline guard, its wait for a route's signature): one thread
 * keeps the time, and an action that comes due runs on the executor given (the gateway's: Reactor's
 * parallel scheduler), never on the clock's thread.
 *
 * <p>Cancelling never interrupts anything. A timer is cancelled for nearly every request, often
 * while another request's action is running; Reactor's own scheduled tasks interrupt the thread
 * of a running task when disposed from another thread, and that interrupt then made the next
 * Resilience4j bulkhead on that thread refuse its call ("bulkhead full") on a cold gateway.
 */
public final class DeadlineTimer implements RouteRuntime.Timer, AutoCloseable {

    private final ScheduledThreadPoolExecutor clock;
    private final Executor runner;

    public DeadlineTimer(Executor runner) {
        this.runner = runner;
        this.clock = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "hybridge-deadlines");
            t.setDaemon(true);
            return t;
        });
        // a cancelled timer leaves the queue at once: nearly every one is cancelled
        clock.setRemoveOnCancelPolicy(true);
    }

    @Override
    public RouteRuntime.Cancellable at(long nanos, Runnable action) {
        ScheduledFuture<?> due = clock.schedule(() -> runner.execute(action), Math.max(0, nanos - System.nanoTime()),
                TimeUnit.NANOSECONDS);
        return () -> due.cancel(false);
    }

    @Override
    public void close() {
        clock.shutdownNow();
    }
}
