package dev.hybridge.edge;

import static org.assertj.core.api.Assertions.assertThat;

import dev.hybridge.policy.RoutePolicy;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The outbox on a real SQLite file: bounds, overflow rules, time to live, order, keys, and what survives a reopen. */
class OutboxTest {

    /** A clock the test moves. */
    static final class HandClock extends Clock {
        long millis = Instant.parse("2026-11-29T10:00:00Z").toEpochMilli();

        @Override
        public java.time.ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return Instant.ofEpochMilli(millis);
        }

        void advance(Duration d) {
            millis += d.toMillis();
        }
    }

    static final RoutePolicy.Defer DROP_OLDEST = new RoutePolicy.Defer(true, 0, Duration.ofHours(1),
            RoutePolicy.Overflow.DROP_OLDEST);
    static final RoutePolicy.Defer REFUSE_NEW = new RoutePolicy.Defer(true, 0, Duration.ofHours(1),
            RoutePolicy.Overflow.REFUSE_NEW);

    @TempDir
    Path state;

    final HandClock clock = new HandClock();

    Outbox open(int maxEntries, long maxBytes) {
        return new Outbox(state.resolve("outbox.db"), maxEntries, maxBytes, Duration.ofDays(1), true, clock);
    }

    static String put(Outbox outbox, String key, int bytes, RoutePolicy.Defer defer) {
        return outbox.put(key, "digits", key, "low_confidence", "3", 0.4, new byte[bytes], -1, "{}".getBytes(), defer, null)
                .join();
    }

    static List<String> dueKeys(Outbox outbox) {
        return outbox.due(100).join().stream().map(Outbox.Entry::key).toList();
    }

    @Test
    void anEntryKeepsItsRequestsTraceContextAndAnOutboxFromBeforeTracesGetsTheColumn() throws Exception {
        // an outbox file written before entries kept a trace context: the table without the column
        try (java.sql.Connection db = java.sql.DriverManager.getConnection("jdbc:sqlite:" + state.resolve("outbox.db"));
             java.sql.Statement s = db.createStatement()) {
            s.execute("""
                    CREATE TABLE outbox (id TEXT PRIMARY KEY, key TEXT NOT NULL UNIQUE, route TEXT NOT NULL,
                      request_id TEXT, reason TEXT, edge_label TEXT, edge_confidence REAL, body_length INTEGER NOT NULL,
                      json_length INTEGER NOT NULL, priority INTEGER NOT NULL, created_ms INTEGER NOT NULL,
                      expires_ms INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_ms INTEGER NOT NULL,
                      callback_url TEXT, state TEXT NOT NULL, finished_ms INTEGER, answer_json_length INTEGER,
                      answer_label TEXT, agreed INTEGER, problem TEXT, callback_state TEXT,
                      callback_attempts INTEGER NOT NULL DEFAULT 0, callback_next_ms INTEGER, body BLOB NOT NULL,
                      edge_answer BLOB, answer BLOB)""");
            s.execute("""
                    INSERT INTO outbox (id, key, route, body_length, json_length, priority, created_ms, expires_ms,
                      next_attempt_ms, state, body) VALUES ('old-id', 'old', 'digits', 1, -1, 0, 0, 9999999999999, 0,
                      'pending', x'00')""");
        }
        String traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        try (Outbox outbox = open(10, 1_000_000)) {
            outbox.put("traced", "digits", "traced", "low_confidence", "3", 0.4, new byte[4], -1, "{}".getBytes(),
                    DROP_OLDEST, null, traceparent).join();
            Map<String, String> traces = new java.util.HashMap<>();
            outbox.due(10).join().forEach(e -> traces.put(e.key(), String.valueOf(e.trace())));
            assertThat(traces).containsEntry("traced", traceparent).containsEntry("old", "null");
        }
    }

    @Test
    void entriesDrainByPriorityThenAgeAndSurviveAReopen() {
        try (Outbox outbox = open(10, 1_000_000)) {
            put(outbox, "old", 10, DROP_OLDEST);
            clock.advance(Duration.ofSeconds(1));
            put(outbox, "urgent", 10, new RoutePolicy.Defer(true, 5, Duration.ofHours(1), RoutePolicy.Overflow.DROP_OLDEST));
            clock.advance(Duration.ofSeconds(1));
            put(outbox, "new", 10, DROP_OLDEST);
            assertThat(dueKeys(outbox)).containsExactly("urgent", "old", "new");
        }
        try (Outbox reopened = open(10, 1_000_000)) {
            assertThat(dueKeys(reopened)).containsExactly("urgent", "old", "new");
            Outbox.Stats stats = reopened.stats().join();
            assertThat(stats.entries()).isEqualTo(3);
            assertThat(stats.bytes()).isEqualTo(30);
        }
    }

    @Test
    void theLogIsCopiedIntoTheDatabaseByTheWorkerOnceEnoughHasBeenWrittenAndNothingIsLost() throws Exception {
        int entries = (int) (Outbox.CHECKPOINT_BYTES / 32_000) + 2;
        try (Outbox outbox = open(1000, 100_000_000)) {
            for (int i = 0; i < entries; i++) {
                put(outbox, "k" + i, 32_000, DROP_OLDEST);
            }
            outbox.stats().join(); // the worker's next task: the copy is done by then
            // the database file itself holds the entries, not only the log beside it
            assertThat(java.nio.file.Files.size(state.resolve("outbox.db"))).isGreaterThan(Outbox.CHECKPOINT_BYTES);
            put(outbox, "after", 32_000, DROP_OLDEST);
        }
        try (Outbox reopened = open(1000, 100_000_000)) {
            assertThat(reopened.stats().join().entries()).isEqualTo(entries + 1);
            assertThat(dueKeys(reopened)).contains("k0", "after");
        }
    }

    @Test
    void theSameKeyKeepsItsFirstEntry() {
        try (Outbox outbox = open(10, 1_000_000)) {
            String first = put(outbox, "dev/req-1", 10, DROP_OLDEST);
            assertThat(put(outbox, "dev/req-1", 10, DROP_OLDEST)).isEqualTo(first);
            assertThat(outbox.stats().join().entries()).isEqualTo(1);
        }
    }

    @Test
    void aFullOutboxDropsItsOldestOrRefusesTheNewOneAsTheRouteSays() {
        try (Outbox outbox = open(2, 1_000_000)) {
            String a = put(outbox, "a", 10, DROP_OLDEST);
            put(outbox, "b", 10, DROP_OLDEST);
            put(outbox, "c", 10, DROP_OLDEST);
            assertThat(dueKeys(outbox)).containsExactly("b", "c");
            assertThat(outbox.dropped.get()).isEqualTo(1);
            assertThat(outbox.get(a).join().orElseThrow().state()).isEqualTo(Outbox.State.DROPPED);

            assertThat(put(outbox, "d", 10, REFUSE_NEW)).isNull();
            assertThat(outbox.refused.get()).isEqualTo(1);
            assertThat(dueKeys(outbox)).containsExactly("b", "c");
        }
    }

    @Test
    void theByteBoundCountsAsTheEntryBound() {
        try (Outbox outbox = open(100, 25)) {
            put(outbox, "a", 10, DROP_OLDEST);
            put(outbox, "b", 10, DROP_OLDEST);
            put(outbox, "c", 10, DROP_OLDEST); // 30 bytes would not fit: a goes
            assertThat(dueKeys(outbox)).containsExactly("b", "c");
            assertThat(put(outbox, "too-big", 26, DROP_OLDEST)).as("larger than the whole outbox").isNull();
            assertThat(dueKeys(outbox)).isEmpty();
        }
    }

    @Test
    void anEntryNotAnsweredWithinItsTimeToLiveExpiresAndFinishedEntriesAreForgottenAfterTheRetention() {
        try (Outbox outbox = open(10, 1_000_000)) {
            String id = put(outbox, "a", 10, DROP_OLDEST);
            clock.advance(Duration.ofMinutes(59));
            assertThat(dueKeys(outbox)).containsExactly("a");
            clock.advance(Duration.ofMinutes(1));
            assertThat(dueKeys(outbox)).isEmpty();
            assertThat(outbox.expired.get()).isEqualTo(1);
            assertThat(outbox.get(id).join().orElseThrow().state()).isEqualTo(Outbox.State.EXPIRED);
            clock.advance(Duration.ofDays(1));
            outbox.purge().join();
            assertThat(outbox.get(id).join()).isEmpty();
        }
    }

    @Test
    void anAnsweredEntryLeavesTheWaitingOnesWithItsAnswerAndAFailedAttemptWaitsItsBackoff() {
        try (Outbox outbox = open(10, 1_000_000)) {
            String a = put(outbox, "a", 10, DROP_OLDEST);
            String b = put(outbox, "b", 10, DROP_OLDEST);
            outbox.answered(a, "{\"answer\":1}".getBytes(), -1, "7", false).join();
            outbox.retryLater(b, Duration.ofSeconds(30), "gateway 503").join();
            assertThat(dueKeys(outbox)).isEmpty();
            clock.advance(Duration.ofSeconds(30));
            assertThat(dueKeys(outbox)).containsExactly("b");
            assertThat(outbox.due(1).join().get(0).attempts()).isEqualTo(1);
            Outbox.View view = outbox.get(a).join().orElseThrow();
            assertThat(view.state()).isEqualTo(Outbox.State.ANSWERED);
            assertThat(view.answerLabel()).isEqualTo("7");
            assertThat(view.agreed()).isFalse();
            assertThat(new String(view.answer())).isEqualTo("{\"answer\":1}");
            assertThat(outbox.replayed.get()).isEqualTo(1);
        }
    }

    @Test
    void theBoundCountsOnlyWaitingEntriesWhateverFinishedTheOthers() {
        try (Outbox outbox = open(2, 1_000_000)) {
            String a = put(outbox, "a", 10, DROP_OLDEST);
            put(outbox, "b", 10, DROP_OLDEST);
            outbox.answered(a, "{}".getBytes(), -1, "7", true).join();
            put(outbox, "c", 10, DROP_OLDEST); // a's place is free: nothing dropped
            assertThat(outbox.dropped.get()).isZero();
            clock.advance(Duration.ofHours(1)); // b and c expire
            put(outbox, "d", 10, DROP_OLDEST);
            put(outbox, "e", 10, DROP_OLDEST);
            assertThat(outbox.dropped.get()).isZero();
            assertThat(outbox.expired.get()).isEqualTo(2);
            put(outbox, "f", 10, DROP_OLDEST); // full again: d goes
            assertThat(outbox.dropped.get()).isEqualTo(1);
            assertThat(dueKeys(outbox)).containsExactly("e", "f");
            Outbox.Stats stats = outbox.stats().join();
            assertThat(stats.entries()).isEqualTo(2);
            assertThat(stats.bytes()).isEqualTo(20);
        }
    }
}
