package dev.hybridge.policy.metrics;

import dev.hybridge.policy.runtime.Admission;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

/**
 * The admission gates' meters, the same in the gateway and the edge agent: each gate's limit and
 * the work in flight behind it, and what it refused by lane. Label {@code gate}: {@code door},
 * {@code edge}, {@code cloud}; {@code lane}: {@code client}, {@code escalation}.
 */
public final class AdmissionMeters {

    private AdmissionMeters() {
    }

    /**
     * A program's admission gates on the system clock, their meters registered: a setting that
     * makes no sense stops the program, named under {@code prefix} (e.g. {@code hybridge.gateway.}).
     */
    public static Admission create(String prefix, java.util.function.Supplier<Admission.Settings> settings,
                                   MeterRegistry registry) {
        Admission admission;
        try {
            admission = new Admission(settings.get(), System::nanoTime);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(prefix + e.getMessage(), e);
        }
        register(registry, admission);
        return admission;
    }

    /** Registers the meters of every gate of {@code admission} (none when admission is off). */
    public static void register(MeterRegistry registry, Admission admission) {
        for (Admission.Gate gate : admission.gates()) {
            if (!gate.enabled()) {
                continue;
            }
            Gauge.builder("hybridge.admission.limit", gate, Admission.Gate::limit)
                    .description("The gate's concurrency limit now (it adapts to the round trips behind it)")
                    .tag("gate", gate.name()).register(registry);
            Gauge.builder("hybridge.admission.in.flight", gate, Admission.Gate::inFlight)
                    .description("Requests or calls in flight behind the gate")
                    .tag("gate", gate.name()).register(registry);
            for (Admission.Lane lane : Admission.Lane.values()) {
                FunctionCounter.builder("hybridge.admission.refused", gate, g -> g.refused(lane))
                        .description("Requests or calls the gate refused at once, by lane")
                        .tag("gate", gate.name()).tag("lane", lane.wire()).register(registry);
            }
        }
    }
}
