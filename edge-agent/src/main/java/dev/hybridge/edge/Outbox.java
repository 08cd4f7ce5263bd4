package dev.hybridge.edge;

import dev.hybridge.policy.RoutePolicy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's outbox: escalations it could not send, kept in SQLite (WAL mode) in the state
 * folder until the gateway has answered them, and kept after that, answered, expired or dropped,
 * for {@code retention}, so that a caller can ask what became of one.
 *
 * <p>Every change is one transaction, committed before the caller hears of it (with
 * {@code synchronous=FULL} a commit survives a power cut, with {@code NORMAL} a crash of the
 * process). One thread does all the work on the database, in order. That thread also copies the
 * log into the database once {@link #CHECKPOINT_BYTES} have been written to it, as a task of its
 * own after the commit that crossed the mark has been answered, instead of inside that commit
 * (SQLite's own checkpoint, which made that caller wait several milliseconds): only a change that
 * comes while the copy runs waits for it.
 *
 * <p>Bounds: {@code maxEntries} and {@code maxBytes} of waiting entries. A route's overflow rule
 * decides what a full outbox does: drop its oldest waiting entry (as many as needed) or refuse
 * the new one. Every drop, refusal and expiry is counted.
 */
final class Outbox implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Outbox.class);

    /** What becomes of an entry. */
    enum State {
        PENDING, ANSWERED, EXPIRED, DROPPED;

        String wire() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /**
     * A waiting escalation, as kept.
     *
     * @param key            the idempotency key the gateway de-duplicates by
     * @param body           the cloud stage's request as the route made it
     * @param edgeAnswer     the answer the caller got
     * @param edgeConfidence the edge's confidence, or NaN
     */
    record Entry(String id, String key, String route, String requestId, String reason, String edgeLabel,
                 double edgeConfidence, byte[] body, int jsonLength, byte[] edgeAnswer, int priority, long createdMillis,
                 long expiresMillis, int attempts, long nextAttemptMillis, String callbackUrl, String trace) {
    }

    /** An entry as {@code GET /v2/escalations/{id}} shows it. */
    /**
     * @param callbackState null (no callback), {@code waiting} (not answered yet), {@code due},
     *                      {@code delivered} or {@code failed}
     */
    record View(Entry entry, State state, long finishedMillis, byte[] answer, int answerJsonLength, String answerLabel,
                Boolean agreed, String problem, String callbackState, int callbackAttempts) {
    }

    /** The outbox's size now. */
    record Stats(long entries, long bytes, long oldestCreatedMillis) {
    }

    /**
     * Bytes of entries and answers written after which the log is copied into the database: about
     * SQLite's own mark of 1000 pages, as a 32 KB entry writes about 15 pages to the log.
     */
    static final long CHECKPOINT_BYTES = 2 << 20;

    private final Connection db;
    private final ExecutorService worker;
    /** About how many bytes the log holds that the database does not yet (the worker's). */
    private long uncopied;
    private final Clock clock;
    private final int maxEntries;
    private final long maxBytes;
    private final Duration retention;
    /** Waiting entries dropped to make room. */
    final AtomicLong dropped = new AtomicLong();
    /** New entries not kept because the outbox was full and the route refuses new ones. */
    final AtomicLong refused = new AtomicLong();
    /** Entries the gateway refused as requests (400, 404, 413): they can never be answered. */
    final AtomicLong rejected = new AtomicLong();
    final AtomicLong expired = new AtomicLong();
    final AtomicLong replayed = new AtomicLong();

    // kept by the worker thread, so that a put (on a request's path) reads nothing it need not
    /** The waiting entries' size while only puts have changed it; null: read it again. */
    private Stats size;
    /** No waiting entry expires before this (Long.MIN_VALUE: unknown, look). */
    private long nextExpiry = Long.MIN_VALUE;
    private PreparedStatement insert;
    private PreparedStatement keyLookup;

    Outbox(Path file, int maxEntries, long maxBytes, Duration retention, boolean synchronousFull, Clock clock) {
        this.clock = clock;
        this.maxEntries = maxEntries;
        this.maxBytes = maxBytes;
        this.retention = retention;
        this.worker = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "hybridge-outbox");
            t.setDaemon(true);
            return t;
        });
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            this.db = DriverManager.getConnection("jdbc:sqlite:" + file.toAbsolutePath());
            try (Statement s = db.createStatement()) {
                s.execute("PRAGMA journal_mode=WAL");
                s.execute("PRAGMA synchronous=" + (synchronousFull ? "FULL" : "NORMAL"));
                s.execute("PRAGMA busy_timeout=5000");
                s.execute("PRAGMA wal_autocheckpoint=0"); // the worker copies the log itself, after answering
                s.execute("""
                        CREATE TABLE IF NOT EXISTS outbox (
                          id TEXT PRIMARY KEY,
                          key TEXT NOT NULL UNIQUE,
                          route TEXT NOT NULL,
                          request_id TEXT,
                          reason TEXT,
                          edge_label TEXT,
                          edge_confidence REAL,
                          body_length INTEGER NOT NULL,
                          json_length INTEGER NOT NULL,
                          priority INTEGER NOT NULL,
                          created_ms INTEGER NOT NULL,
                          expires_ms INTEGER NOT NULL,
                          attempts INTEGER NOT NULL DEFAULT 0,
                          next_attempt_ms INTEGER NOT NULL,
                          callback_url TEXT,
                          state TEXT NOT NULL,
                          finished_ms INTEGER,
                          answer_json_length INTEGER,
                          answer_label TEXT,
                          agreed INTEGER,
                          problem TEXT,
                          callback_state TEXT,
                          callback_attempts INTEGER NOT NULL DEFAULT 0,
                          callback_next_ms INTEGER,
                          -- the large values last: a column after a blob is read through the blob's pages
                          body BLOB NOT NULL,
                          edge_answer BLOB,
                          answer BLOB)""");
                // the request's trace context (W3C traceparent), which a replay links to; added after the first release
                boolean traced = false;
                try (ResultSet columns = s.executeQuery("PRAGMA table_info(outbox)")) {
                    while (columns.next()) {
                        traced |= columns.getString("name").equals("trace");
                    }
                }
                if (!traced) {
                    s.execute("ALTER TABLE outbox ADD COLUMN trace TEXT");
                }
                s.execute("CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, priority DESC, created_ms)");
                s.execute("CREATE INDEX IF NOT EXISTS outbox_expiry ON outbox (state, expires_ms)");
            }
            db.setAutoCommit(false);
        } catch (Exception e) {
            throw new IllegalStateException("cannot open the outbox " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Keeps an escalation; completes, once it is committed, with its id, or null when the route
     * refuses new entries and the outbox is full. An escalation whose key is already waiting
     * (the same request deferred twice) keeps its first entry and id.
     */
    CompletableFuture<String> put(String key, String route, String requestId, String reason, String edgeLabel,
                                  double edgeConfidence, byte[] body, int jsonLength, byte[] edgeAnswer,
                                  RoutePolicy.Defer defer, String callbackUrl) {
        return put(key, route, requestId, reason, edgeLabel, edgeConfidence, body, jsonLength, edgeAnswer, defer,
                callbackUrl, null);
    }

    /** {@link #put}, with the request's trace context (a W3C traceparent value, or null), which a replay links to. */
    CompletableFuture<String> put(String key, String route, String requestId, String reason, String edgeLabel,
                                  double edgeConfidence, byte[] body, int jsonLength, byte[] edgeAnswer,
                                  RoutePolicy.Defer defer, String callbackUrl, String trace) {
        return run(() -> {
            long now = clock.millis();
            String existing = idOfKey(key);
            if (existing != null) {
                return existing;
            }
            expireDue(now);
            Stats waiting = size();
            while (waiting.entries() + 1 > maxEntries || waiting.bytes() + body.length > maxBytes) {
                if (defer.overflow() == RoutePolicy.Overflow.REFUSE_NEW || waiting.entries() == 0) {
                    db.commit();
                    refused.incrementAndGet();
                    return null;
                }
                dropOldest(now);
                waiting = size();
            }
            String id = UUID.randomUUID().toString();
            if (insert == null) {
                insert = db.prepareStatement("""
                        INSERT INTO outbox (id, key, route, request_id, reason, edge_label, edge_confidence, body, json_length,
                          edge_answer, priority, created_ms, expires_ms, next_attempt_ms, callback_url, state, callback_state,
                          body_length, trace)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)""");
            }
            insert.setString(1, id);
            insert.setString(2, key);
            insert.setString(3, route);
            insert.setString(4, requestId);
            insert.setString(5, reason);
            insert.setString(6, edgeLabel);
            insert.setDouble(7, edgeConfidence);
            insert.setBytes(8, body);
            insert.setInt(9, jsonLength);
            insert.setBytes(10, edgeAnswer);
            insert.setInt(11, defer.priority());
            insert.setLong(12, now);
            insert.setLong(13, now + defer.ttl().toMillis());
            insert.setLong(14, now);
            insert.setString(15, callbackUrl);
            insert.setString(16, callbackUrl == null ? null : "waiting");
            insert.setInt(17, body.length);
            insert.setString(18, trace);
            insert.executeUpdate();
            commit(body.length + (edgeAnswer == null ? 0 : edgeAnswer.length));
            nextExpiry = Math.min(nextExpiry, now + defer.ttl().toMillis());
            size = new Stats(waiting.entries() + 1, waiting.bytes() + body.length,
                    waiting.entries() == 0 ? now : waiting.oldestCreatedMillis());
            return id;
        });
    }

    /** Waiting entries that are due, highest priority first, then the oldest. */
    CompletableFuture<List<Entry>> due(int limit) {
        return run(() -> {
            long now = clock.millis();
            expireDue(now);
            db.commit();
            List<Entry> out = new ArrayList<>();
            try (PreparedStatement q = db.prepareStatement("""
                    SELECT * FROM outbox WHERE state = 'pending' AND next_attempt_ms <= ?
                    ORDER BY priority DESC, created_ms, rowid LIMIT ?""")) {
                q.setLong(1, now);
                q.setInt(2, limit);
                try (ResultSet r = q.executeQuery()) {
                    while (r.next()) {
                        out.add(entry(r));
                    }
                }
            }
            return out;
        });
    }

    /** The gateway answered: the entry leaves the waiting ones, with the answer kept. */
    CompletableFuture<Void> answered(String id, byte[] answer, int jsonLength, String label, Boolean agreed) {
        return run(() -> {
            try (PreparedStatement u = db.prepareStatement("""
                    UPDATE outbox SET state = 'answered', finished_ms = ?, answer = ?, answer_json_length = ?,
                      answer_label = ?, agreed = ?, body = x'',
                      callback_state = CASE WHEN callback_url IS NULL THEN NULL ELSE 'due' END, callback_next_ms = 0
                    WHERE id = ? AND state = 'pending'""")) {
                u.setLong(1, clock.millis());
                u.setBytes(2, answer);
                u.setInt(3, jsonLength);
                u.setString(4, label);
                if (agreed == null) {
                    u.setNull(5, java.sql.Types.INTEGER);
                } else {
                    u.setInt(5, agreed ? 1 : 0);
                }
                u.setString(6, id);
                if (u.executeUpdate() == 1) {
                    replayed.incrementAndGet();
                    size = null;
                }
            }
            commit(PAGE + (answer == null ? 0 : answer.length));
            return null;
        });
    }

    /** An attempt that failed: try again after {@code backoff}. */
    CompletableFuture<Void> retryLater(String id, Duration backoff, String problem) {
        return run(() -> {
            try (PreparedStatement u = db.prepareStatement(
                    "UPDATE outbox SET attempts = attempts + 1, next_attempt_ms = ?, problem = ? WHERE id = ? AND state = 'pending'")) {
                u.setLong(1, clock.millis() + backoff.toMillis());
                u.setString(2, problem);
                u.setString(3, id);
                u.executeUpdate();
            }
            commit(PAGE);
            return null;
        });
    }

    /** The gateway refused the escalation itself (a 4xx other than a busy or budget answer): it will never be answered. */
    CompletableFuture<Void> drop(String id, String problem) {
        return run(() -> {
            finish(id, State.DROPPED, problem);
            rejected.incrementAndGet();
            commit(PAGE);
            return null;
        });
    }

    CompletableFuture<Optional<View>> get(String id) {
        return run(() -> {
            try (PreparedStatement q = db.prepareStatement("SELECT * FROM outbox WHERE id = ?")) {
                q.setString(1, id);
                try (ResultSet r = q.executeQuery()) {
                    if (!r.next()) {
                        return Optional.<View>empty();
                    }
                    return Optional.of(view(r));
                }
            }
        });
    }

    /** Answered entries whose callback is due now (oldest first). */
    CompletableFuture<List<View>> callbacksDue(int limit) {
        return run(() -> {
            List<View> out = new ArrayList<>();
            try (PreparedStatement q = db.prepareStatement("""
                    SELECT * FROM outbox WHERE callback_state = 'due' AND callback_next_ms <= ?
                    ORDER BY finished_ms LIMIT ?""")) {
                q.setLong(1, clock.millis());
                q.setInt(2, limit);
                try (ResultSet r = q.executeQuery()) {
                    while (r.next()) {
                        out.add(view(r));
                    }
                }
            }
            return out;
        });
    }

    /**
     * A callback attempt's outcome: delivered, or tried again after {@code backoff} until the
     * entry's time to live has passed, then given up.
     */
    CompletableFuture<Boolean> callbackTried(String id, boolean delivered, Duration backoff, String problem) {
        return run(() -> {
            long now = clock.millis();
            String sql = delivered ? "UPDATE outbox SET callback_state = 'delivered' WHERE id = ?" : """
                    UPDATE outbox SET callback_attempts = callback_attempts + 1, callback_next_ms = ?, problem = ?,
                      callback_state = CASE WHEN expires_ms <= ? THEN 'failed' ELSE 'due' END WHERE id = ?""";
            try (PreparedStatement u = db.prepareStatement(sql)) {
                if (delivered) {
                    u.setString(1, id);
                } else {
                    u.setLong(1, now + backoff.toMillis());
                    u.setString(2, "callback: " + problem);
                    u.setLong(3, now);
                    u.setString(4, id);
                }
                u.executeUpdate();
            }
            commit(PAGE);
            try (PreparedStatement q = db.prepareStatement("SELECT callback_state FROM outbox WHERE id = ?")) {
                q.setString(1, id);
                try (ResultSet r = q.executeQuery()) {
                    return r.next() && !"due".equals(r.getString(1));
                }
            }
        });
    }

    /** Waiting entries, their bytes, and the oldest one's creation time (0 when none). */
    CompletableFuture<Stats> stats() {
        return run(this::statsNow);
    }

    /** Expires what is due and forgets finished entries older than the retention. */
    CompletableFuture<Void> purge() {
        return run(() -> {
            long now = clock.millis();
            expireDue(now);
            try (PreparedStatement d = db.prepareStatement("DELETE FROM outbox WHERE state <> 'pending' AND finished_ms <= ?")) {
                d.setLong(1, now - retention.toMillis());
                d.executeUpdate();
            }
            commit(PAGE);
            return null;
        });
    }

    /** About what a change other than a new entry or an answer adds to the log: a page. */
    private static final int PAGE = 4096;

    /**
     * Commits, and counts about what the commit added to the log; past {@link #CHECKPOINT_BYTES},
     * queues the copy behind the task at hand, so that its caller is answered first.
     */
    private void commit(long logged) throws SQLException {
        db.commit();
        uncopied += logged;
        if (uncopied >= CHECKPOINT_BYTES) {
            uncopied = 0;
            worker.execute(this::checkpoint);
        }
    }

    /** Copies the log into the database (the worker's connection, so no writer is in the way and it restarts). */
    private void checkpoint() {
        try (Statement s = db.createStatement(); ResultSet r = s.executeQuery("PRAGMA wal_checkpoint(PASSIVE)")) {
            r.next();
        } catch (SQLException e) {
            log.warn("Copying the outbox's log into its database failed (tried again later): {}", e.getMessage());
        }
    }

    private Stats statsNow() throws SQLException {
        try (Statement s = db.createStatement();
             // body_length, not length(body): the sizes without reading every waiting request from disk
             ResultSet r = s.executeQuery("SELECT count(*), coalesce(sum(body_length), 0), coalesce(min(created_ms), 0)"
                     + " FROM outbox WHERE state = 'pending'")) {
            r.next();
            return new Stats(r.getLong(1), r.getLong(2), r.getLong(3));
        }
    }

    /** The waiting entries' size, read again only after something other than a put changed it. */
    private Stats size() throws SQLException {
        if (size == null) {
            size = statsNow();
        }
        return size;
    }

    private String idOfKey(String key) throws SQLException {
        if (keyLookup == null) {
            keyLookup = db.prepareStatement("SELECT id FROM outbox WHERE key = ?");
        }
        keyLookup.setString(1, key);
        try (ResultSet r = keyLookup.executeQuery()) {
            return r.next() ? r.getString(1) : null;
        }
    }

    /** Expires the waiting entries whose time to live has passed; reads nothing while none can have. */
    private void expireDue(long now) throws SQLException {
        if (now < nextExpiry) {
            return;
        }
        try (PreparedStatement u = db.prepareStatement("""
                UPDATE outbox SET state = 'expired', finished_ms = ?, body = x'', problem = 'not answered within its time to live',
                  callback_state = CASE WHEN callback_url IS NULL THEN NULL ELSE 'failed' END
                WHERE state = 'pending' AND expires_ms <= ?""")) {
            u.setLong(1, now);
            u.setLong(2, now);
            int n = u.executeUpdate();
            if (n > 0) {
                expired.addAndGet(n);
                size = null;
                log.info("{} outbox entries expired unanswered", n);
            }
        }
        try (Statement q = db.createStatement();
             ResultSet r = q.executeQuery("SELECT min(expires_ms) FROM outbox WHERE state = 'pending'")) {
            long min = r.next() ? r.getLong(1) : 0;
            nextExpiry = r.wasNull() ? Long.MAX_VALUE : min;
        }
    }

    private void dropOldest(long now) throws SQLException {
        try (PreparedStatement q = db.prepareStatement(
                "SELECT id FROM outbox WHERE state = 'pending' ORDER BY priority, created_ms, rowid LIMIT 1");
             ResultSet r = q.executeQuery()) {
            if (r.next()) {
                finish(r.getString(1), State.DROPPED, "dropped to make room (the outbox was full)");
                dropped.incrementAndGet();
            }
        }
    }

    private void finish(String id, State state, String problem) throws SQLException {
        try (PreparedStatement u = db.prepareStatement(
                "UPDATE outbox SET state = ?, finished_ms = ?, body = x'', problem = ? WHERE id = ? AND state = 'pending'")) {
            u.setString(1, state.wire());
            u.setLong(2, clock.millis());
            u.setString(3, problem);
            u.setString(4, id);
            if (u.executeUpdate() > 0) {
                size = null;
            }
        }
    }

    private static View view(ResultSet r) throws SQLException {
        Object agreed = r.getObject("agreed");
        return new View(entry(r), State.valueOf(r.getString("state").toUpperCase(java.util.Locale.ROOT)),
                r.getLong("finished_ms"), r.getBytes("answer"), r.getInt("answer_json_length"),
                r.getString("answer_label"), agreed == null ? null : ((Number) agreed).intValue() == 1,
                r.getString("problem"), r.getString("callback_state"), r.getInt("callback_attempts"));
    }

    private static Entry entry(ResultSet r) throws SQLException {
        return new Entry(r.getString("id"), r.getString("key"), r.getString("route"), r.getString("request_id"),
                r.getString("reason"), r.getString("edge_label"), r.getDouble("edge_confidence"), r.getBytes("body"),
                r.getInt("json_length"), r.getBytes("edge_answer"), r.getInt("priority"), r.getLong("created_ms"),
                r.getLong("expires_ms"), r.getInt("attempts"), r.getLong("next_attempt_ms"), r.getString("callback_url"),
                r.getString("trace"));
    }

    private <T> CompletableFuture<T> run(Callable<T> work) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return work.call();
            } catch (Exception e) {
                size = null; // what was read or counted may have been undone
                nextExpiry = Long.MIN_VALUE;
                try {
                    db.rollback();
                } catch (SQLException ignored) {
                    // the connection is gone; the failure below says why
                }
                throw new IllegalStateException("outbox: " + e.getMessage(), e);
            }
        }, worker);
    }

    @Override
    public void close() {
        worker.shutdown();
        try {
            worker.awaitTermination(5, TimeUnit.SECONDS);
            db.close(); // closes its statements too
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (SQLException e) {
            log.warn("Closing the outbox: {}", e.getMessage());
        }
    }
}
