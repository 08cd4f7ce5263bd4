package dev.hybridge.serving.web;

import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.SpringApplication;
import org.springframework.context.ConfigurableApplicationContext;
import sun.misc.Signal;

/**
 * Stops a serving program on SIGTERM or SIGINT in an order ONNX Runtime survives: requests in
 * flight are answered, then the models are closed, and only then does the JVM exit.
 *
 * <p>Why not the JVM's own shutdown: ONNX Runtime's Java binding registers a JVM shutdown hook
 * that releases its native environment, and the JVM runs shutdown hooks concurrently. On a plain
 * SIGTERM that hook frees the environment while Spring's hook is still draining requests, and
 * the next model run crashes the process in native code (SIGSEGV): every request in flight is
 * lost. Kubernetes sends SIGTERM on every rollout. So these two signals start the context's close
 * here (graceful HTTP shutdown, then {@code ModelHost.close}, which waits for running batches);
 * the JVM exits afterwards, when ONNX Runtime's hook has nothing left to pull away.
 *
 * <p>Installed once the program has started; a signal during start-up gets the JVM's default
 * handling (no request has been accepted then). A second signal while stopping is ignored: the
 * first one's shutdown carries on. {@code kill -9} is, as always, immediate.
 */
public final class OrderlyShutdown {

    private static final Logger log = LoggerFactory.getLogger(OrderlyShutdown.class);

    private OrderlyShutdown() {
    }

    /** Handles SIGTERM and SIGINT for {@code context} from now on. */
    public static void install(ConfigurableApplicationContext context) {
        AtomicBoolean stopping = new AtomicBoolean();
        for (String name : new String[] {"TERM", "INT"}) {
            Signal signal = new Signal(name);
            int exitCode = 128 + signal.getNumber(); // what the JVM exits with on these signals by default
            try {
                Signal.handle(signal, received -> {
                    if (!stopping.compareAndSet(false, true)) {
                        log.info("SIG{} received while stopping; carrying on", name);
                        return;
                    }
                    log.info("SIG{} received: answering the requests in flight, then closing the models", name);
                    // Not on the signal's (daemon) thread: once the web server stops, no other non-daemon thread
                    // is left, and the JVM would begin its own exit, ONNX Runtime's hook included, mid-drain.
                    Thread stopper = new Thread(() -> {
                        try {
                            SpringApplication.exit(context);
                        } finally {
                            System.exit(exitCode);
                        }
                    }, "orderly-shutdown");
                    stopper.setDaemon(false);
                    stopper.start();
                });
            } catch (IllegalArgumentException e) {
                // the JVM keeps this signal for itself (-Xrs, or a debugger): its default handling stays
                log.warn("Cannot handle SIG{} ({}); stopping on it may crash ONNX Runtime with requests in flight",
                        name, e.getMessage());
            }
        }
    }
}
