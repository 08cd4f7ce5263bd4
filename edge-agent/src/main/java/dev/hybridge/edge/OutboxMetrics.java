package dev.hybridge.edge;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

/**
 * The outbox's meters: {@code hybridge.outbox.entries} and {@code hybridge.outbox.bytes} waiting,
 * {@code hybridge.outbox.oldest.age} (seconds; 0 when empty), and the counts
 * {@code hybridge.outbox.replayed}, {@code hybridge.outbox.expired} and
 * {@code hybridge.outbox.dropped} (reason {@code overflow}: dropped to make room or refused when
 * full; {@code rejected}: the gateway refused the request itself). The gauges follow the
 * outbox's size as of its last refresh (every 10 s), not a query per scrape.
 */
final class OutboxMetrics {

    private final Outbox outbox;
    private volatile Outbox.Stats stats = new Outbox.Stats(0, 0, 0);

    OutboxMetrics(Outbox outbox, MeterRegistry registry) {
        this.outbox = outbox;
        Gauge.builder("hybridge.outbox.entries", this, m -> m.stats.entries())
                .description("Escalations waiting in the outbox").register(registry);
        Gauge.builder("hybridge.outbox.bytes", this, m -> m.stats.bytes()).baseUnit("bytes")
                .description("Bytes of the requests waiting in the outbox").register(registry);
        Gauge.builder("hybridge.outbox.oldest.age", this, m -> m.stats.entries() == 0 ? 0
                        : (System.currentTimeMillis() - m.stats.oldestCreatedMillis()) / 1000.0)
                .baseUnit("seconds").description("Age of the oldest waiting escalation").register(registry);
        FunctionCounter.builder("hybridge.outbox.replayed", outbox, o -> o.replayed.get())
                .description("Kept escalations the gateway has answered").register(registry);
        FunctionCounter.builder("hybridge.outbox.expired", outbox, o -> o.expired.get())
                .description("Kept escalations not answered within their time to live").register(registry);
        FunctionCounter.builder("hybridge.outbox.dropped", outbox, o -> o.dropped.get() + o.refused.get())
                .tag("reason", "overflow").description("Escalations dropped, or not kept, because the outbox was full")
                .register(registry);
        FunctionCounter.builder("hybridge.outbox.dropped", outbox, o -> o.rejected.get())
                .tag("reason", "rejected").description("Kept escalations the gateway refused as requests")
                .register(registry);
    }

    void refresh() {
        stats = outbox.stats().exceptionally(e -> stats).join();
    }
}
