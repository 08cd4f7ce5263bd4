package dev.hybridge.policy.runtime;

/** What happened to the call in flight. */
sealed interface Event {

    /** The tier replied (200, or a 4xx refusing the request). */
    record Replied(TierReply reply) implements Event {
    }

    /** The tier could not answer. */
    record Failed(TierFailure failure) implements Event {
    }
}
