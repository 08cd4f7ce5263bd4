package dev.hybridge.e2e;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One of the packaged programs ({@code edge-agent}, {@code cloud-worker}) running as a real
 * process on a free loopback port, its output in a log file.
 */
public final class ProgramProcess implements AutoCloseable {

    private final String program;
    private final Process process;
    private final int port;
    private final Path log;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    private ProgramProcess(String program, Process process, int port, Path log) {
        this.program = program;
        this.process = process;
        this.port = port;
        this.log = log;
    }

    /** The repository root: {@code -Dhybridge.root}, else the nearest folder up with {@code mvnw}. */
    public static Path root() {
        String configured = System.getProperty("hybridge.root");
        if (configured != null && !configured.isBlank()) {
            return Path.of(configured).toAbsolutePath().normalize();
        }
        Path dir = Path.of("").toAbsolutePath();
        while (dir != null && !Files.exists(dir.resolve("mvnw"))) {
            dir = dir.getParent();
        }
        if (dir == null) {
            throw new IllegalStateException("cannot find the repository root; set -Dhybridge.root");
        }
        return dir;
    }

    /** The packaged jar of a program; fails with what to run when it has not been built. */
    public static Path jar(String program) {
        Path jar = root().resolve(program).resolve("target").resolve(program + ".jar");
        if (!Files.isRegularFile(jar)) {
            throw new IllegalStateException(jar + " is missing: build it first with ./mvnw -pl " + program
                    + " -am package -DskipTests");
        }
        return jar;
    }

    /**
     * Starts a program.
     *
     * @param jvmOptions options for the JVM, such as {@code -Xmx64m}
     * @param arguments  program arguments, such as {@code --hybridge.serving.model-repository=...};
     *                   {@code --server.port} is chosen here
     */
    public static ProgramProcess start(String program, Path logDir, List<String> jvmOptions, List<String> arguments) {
        return start(program, jar(program), logDir, jvmOptions, arguments);
    }

    /** Starts a program from another build of its jar (a benchmark comparing builds, say). */
    public static ProgramProcess start(String program, Path jar, Path logDir, List<String> jvmOptions,
                                       List<String> arguments) {
        return startOn(freePort(), program, jar, logDir, jvmOptions, arguments);
    }

    /** Starts a program on a given port: one that takes the place of another (its clients keep the address). */
    public static ProgramProcess startOn(int port, String program, Path logDir, List<String> jvmOptions,
                                         List<String> arguments) {
        return startOn(port, program, jar(program), logDir, jvmOptions, arguments);
    }

    private static ProgramProcess startOn(int port, String program, Path jar, Path logDir, List<String> jvmOptions,
                                          List<String> arguments) {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(jvmOptions);
        command.add("-jar");
        command.add(jar.toString());
        command.add("--server.port=" + port);
        command.add("--server.address=127.0.0.1");
        command.addAll(arguments);
        if (program.equals("edge-agent") && arguments.stream().noneMatch(a -> a.startsWith("--hybridge.edge.state-dir="))) {
            // an agent keeps state (its outbox); one not given a folder keeps it beside its log, not in the working tree
            command.add("--hybridge.edge.state-dir=" + logDir.toAbsolutePath().resolve("edge-state-" + port + "-"
                    + System.currentTimeMillis()));
        }
        try {
            Files.createDirectories(logDir);
            Path log = logDir.resolve(program + "-" + port + ".log");
            if (Files.exists(log)) {
                log = logDir.resolve(program + "-" + port + "-" + System.currentTimeMillis() + ".log"); // one restarted on its port
            }
            Process process = new ProcessBuilder(command).directory(root().toFile())
                    .redirectErrorStream(true).redirectOutput(log.toFile()).start();
            return new ProgramProcess(program, process, port, log);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + program, e);
        }
    }

    private static int freePort() {
        try (ServerSocket socket = new ServerSocket(0)) {
            socket.setReuseAddress(true);
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Waits until {@code GET /v2/health/ready} answers 200, polling every 20 ms, and returns how
     * long that took from the call. Fails at once, with the log's tail, if the process exits.
     */
    public Duration awaitReady(Duration timeout) {
        long start = System.nanoTime();
        long deadline = start + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException(program + " exited with " + process.exitValue() + ":\n" + logTail(40));
            }
            if (status("/v2/health/ready") == 200) {
                return Duration.ofNanos(System.nanoTime() - start);
            }
            try {
                Thread.sleep(20); // polling another process: there is nothing to be notified by
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted waiting for " + program);
            }
        }
        throw new IllegalStateException(program + " not ready within " + timeout + ":\n" + logTail(40));
    }

    /** Waits until the program answers at all (live), for programs that are not meant to become ready. */
    public void awaitLive(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException(program + " exited with " + process.exitValue() + ":\n" + logTail(40));
            }
            if (status("/v2/health/live") == 200) {
                return;
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted waiting for " + program);
            }
        }
        throw new IllegalStateException(program + " not live within " + timeout + ":\n" + logTail(40));
    }

    /**
     * Waits until a line of the log matches {@code pattern} (found anywhere in the line), polling
     * every 20 ms, and returns that line: for states a program announces only in its log. Fails
     * at once, with the log's tail, if the process exits first.
     */
    public String awaitLogLine(java.util.regex.Pattern pattern, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            boolean alive = process.isAlive(); // before reading, so a last line written on exit is seen
            for (String line : logText().split("\\R")) {
                if (pattern.matcher(line).find()) {
                    return line;
                }
            }
            if (!alive) {
                throw new IllegalStateException(program + " exited with " + process.exitValue()
                        + " before logging " + pattern + ":\n" + logTail(40));
            }
            if (System.nanoTime() >= deadline) {
                throw new IllegalStateException(program + " did not log " + pattern + " within " + timeout + ":\n"
                        + logTail(40));
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted waiting for " + program);
            }
        }
    }

    private int status(String path) {
        try {
            HttpRequest request = HttpRequest.newBuilder(baseUri().resolve(path)).timeout(Duration.ofSeconds(2)).GET().build();
            return http.send(request, HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (IOException e) {
            return -1; // not listening yet
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    public URI baseUri() {
        return URI.create("http://127.0.0.1:" + port);
    }

    public int port() {
        return port;
    }

    public long pid() {
        return process.pid();
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /**
     * Waits for the program to exit on its own and returns its exit code, for programs that are
     * meant to stop (such as on a bad configuration). Fails, with the log's tail, if it is still
     * running after {@code timeout}; it is then left running for {@link #close()} to stop.
     */
    public int awaitExit(Duration timeout) {
        try {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new IllegalStateException(program + " still running after " + timeout + ":\n" + logTail(40));
            }
            return process.exitValue();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted waiting for " + program + " to exit");
        }
    }

    /** The whole log so far. */
    public String logText() {
        try {
            return new String(Files.readAllBytes(log), java.nio.charset.StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public Path log() {
        return log;
    }

    /** Resident memory of the process in bytes, from /proc (Linux). */
    public long residentBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid()), "status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
            throw new IllegalStateException("no VmRSS for " + pid());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public String logTail(int lines) {
        try {
            List<String> all = Files.readAllLines(log);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    /** Sends SIGTERM, as Kubernetes does to stop a pod, and returns at once (see {@link #awaitExit}). */
    public void terminate() {
        process.destroy();
    }

    /**
     * Freezes the program (SIGSTOP): its sockets stay open and nothing answers, as a hung host or
     * a link that drops packets looks to a client. {@link #thaw} lets it go on.
     */
    public void freeze() {
        signal("STOP");
    }

    /** Lets a frozen program go on (SIGCONT). */
    public void thaw() {
        signal("CONT");
    }

    private void signal(String name) {
        try {
            Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(process.pid())).inheritIO().start();
            if (kill.waitFor() != 0) {
                throw new IllegalStateException("kill -" + name + " " + process.pid() + " failed");
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Stops the program (SIGTERM, then SIGKILL after 10 s). */
    @Override
    public void close() {
        if (process.isAlive()) {
            try {
                thaw(); // a frozen program would not act on SIGTERM
            } catch (RuntimeException ignored) {
                // it ended meanwhile
            }
        }
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
    }

    /** Kills the program at once (SIGKILL), as a crash would. */
    public void kill() {
        process.destroyForcibly();
        try {
            process.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
