package dev.hybridge.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.hybridge.policy.runtime.DeadlineTimer;
import dev.hybridge.policy.runtime.RouteRuntime;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

class DeadlineTimerTest {

    /** The bug it prevents: a cancel from another thread interrupted the running action's thread. */
    @Test
    void cancellingATimerWhileItsActionRunsDoesNotInterruptIt() throws Exception {
        Scheduler runner = Schedulers.newSingle("timer-test");
        try (DeadlineTimer timer = new DeadlineTimer(action -> runner.schedule(action))) {
            CountDownLatch running = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            CompletableFuture<Boolean> interrupted = new CompletableFuture<>();
            RouteRuntime.Cancellable handle = timer.at(System.nanoTime(), () -> {
                running.countDown();
                try {
                    release.await(5, TimeUnit.SECONDS);
                    interrupted.complete(Thread.currentThread().isInterrupted());
                } catch (InterruptedException e) {
                    interrupted.complete(true);
                }
            });
            assertThat(running.await(5, TimeUnit.SECONDS)).isTrue();
            handle.cancel();
            release.countDown();
            assertThat(interrupted.get(5, TimeUnit.SECONDS)).isFalse();
        } finally {
            runner.dispose();
        }
    }

    @Test
    void aCancelledTimerNeverRunsItsAction() throws Exception {
        Scheduler runner = Schedulers.newSingle("timer-test");
        try (DeadlineTimer timer = new DeadlineTimer(action -> runner.schedule(action))) {
            CompletableFuture<Void> ran = new CompletableFuture<>();
            timer.at(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(100), () -> ran.complete(null)).cancel();
            CompletableFuture<Void> later = new CompletableFuture<>();
            timer.at(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(150), () -> later.complete(null));
            later.get(5, TimeUnit.SECONDS); // the clock has passed the first one's time
            assertThat(ran).isNotDone();
        } finally {
            runner.dispose();
        }
    }
}
