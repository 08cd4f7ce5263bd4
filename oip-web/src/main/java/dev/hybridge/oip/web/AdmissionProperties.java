package dev.hybridge.oip.web;

import java.time.Duration;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * Admission control of a program's routes ({@code hybridge.gateway.admission.*},
 * {@code hybridge.edge.admission.*}): a gate at the door and one in front of each tier, each an
 * adaptive concurrency limit with a share kept for edge agents' escalations. Over a gate's
 * limit, a request is refused at once with 503 and {@code Retry-After} (reason
 * {@code overloaded}); a tier call is not made (a cascade's edge answer then stands).
 *
 * @param enabled         false: no limits (only the pools' bulkheads and the models' queues)
 * @param initialLimit    each gate's limit before round trips are known
 * @param minLimit        a gate's limit never falls below this: the concurrency the programs' ordinary load needs,
 *                        so that a limit that shrank under a flood cannot keep refusing that load when the
 *                        round trips stay long (other work sharing the CPUs)
 * @param maxLimit        nor rises above this (also bounds the requests in flight, and so the memory they hold)
 * @param rttTolerance    how much longer than the long-term round trip a window's may be before the limit shrinks
 * @param escalationShare the share of a full gate kept for edge agents' escalations (live or replayed)
 * @param window          how long round trips are gathered before a limit is worked out again
 * @param retryAfter      what a refusal tells the client to wait at least (whole seconds): each refusal says between
 *                        this and twice this, drawn at random, so that clients refused together do not come back together
 *
 * <p>Checked where the gates are made: a value that makes no sense stops the program at start,
 * naming the setting.
 */
public record AdmissionProperties(
        @DefaultValue("true") boolean enabled,
        @DefaultValue("32") int initialLimit,
        @DefaultValue("32") int minLimit,
        @DefaultValue("256") int maxLimit,
        @DefaultValue("1.5") double rttTolerance,
        @DefaultValue("0.25") double escalationShare,
        @DefaultValue("100ms") Duration window,
        @DefaultValue("1s") Duration retryAfter) {
}
