package dev.hybridge.bench;

import dev.hybridge.e2e.ProgramProcess;
import dev.hybridge.oip.Datatype;
import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.Tensor;
import dev.hybridge.serving.model.OnnxModel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.function.Function;

/**
 * What every benchmark here shares: settings from system properties, the machine description,
 * the exact command, latency statistics, and a report printed as it goes and written as
 * markdown to {@code benchmarks/results/<name>.md}.
 *
 * <p>Settings: {@code -Dbench.long=true} for longer runs (more rounds, longer phases); each
 * benchmark also reads its own {@code -Dbench.*} properties, listed in its class comment.
 */
final class Bench {

    private final String name;
    private final String mainClass;
    private final String[] args;
    private final ZonedDateTime started = ZonedDateTime.now();
    private final String loadAtStart = loadAverage();
    private final String programsAtStart = jarText("edge-agent") + "; " + jarText("cloud-worker") + "; " + jarText("gateway");
    private final StringBuilder markdown = new StringBuilder();

    Bench(String name, Class<?> mainClass, String[] args) {
        this.name = name;
        this.mainClass = mainClass.getName();
        this.args = args.clone();
        System.out.println("== " + name + " ==");
        System.out.println("machine: " + machine());
        System.out.println("command: " + command());
        System.out.println();
    }

    // ------------------------------------------------------------------------------ settings

    static boolean longRun() {
        return Boolean.getBoolean("bench.long");
    }

    /** {@code -Dbench.<key>}, else the default for a normal or a long run. */
    static int intSetting(String key, int normal, int longer) {
        return Integer.getInteger("bench." + key, longRun() ? longer : normal);
    }

    /**
     * The entries of {@code known} that {@code -Dbench.<key>=a,b} names, in that order, or
     * {@code defaults} without the setting; an unknown name stops the run with the known ones.
     */
    static <T> List<T> chosen(String key, List<T> defaults, List<T> known, Function<T, String> name) {
        String names = System.getProperty("bench." + key);
        if (names == null || names.isBlank()) {
            return defaults;
        }
        List<T> chosen = new ArrayList<>();
        for (String wanted : names.split(",")) {
            chosen.add(known.stream().filter(t -> name.apply(t).equals(wanted.trim())).findFirst()
                    .orElseThrow(() -> new IllegalArgumentException("bench." + key + ": no '" + wanted.trim()
                            + "'; known: " + known.stream().map(name).toList())));
        }
        return chosen;
    }

    static Path root() {
        return ProgramProcess.root();
    }

    static Path testRepository() {
        return root().resolve("models").resolve("testdata").resolve("repository");
    }

    /** A repository holding only {@code classifier}, with batching off in its config.yaml. */
    static Path unbatchedClassifier() throws IOException {
        Path source = testRepository().resolve("classifier");
        Path target = workDir().resolve("repository-unbatched").resolve("classifier");
        Files.createDirectories(target);
        Files.copy(source.resolve(OnnxModel.MODEL_FILE), target.resolve(OnnxModel.MODEL_FILE),
                StandardCopyOption.REPLACE_EXISTING);
        String config = Files.readString(source.resolve("config.yaml"));
        String changed = config.replace("batching:\n  enabled: true", "batching:\n  enabled: false");
        if (changed.equals(config)) {
            throw new IllegalStateException(source + "/config.yaml no longer turns batching on as expected:\n" + config);
        }
        Files.writeString(target.resolve("config.yaml"), changed);
        return target.getParent();
    }

    static Path logDir() {
        return root().resolve("benchmarks").resolve("target").resolve("bench-logs");
    }

    static Path workDir() {
        return root().resolve("benchmarks").resolve("target").resolve("bench-work");
    }

    // ------------------------------------------------------------------------------ inputs

    /** One second of 8 kHz "audio": a 440 Hz tone with a little noise, fixed seed, in [-1, 1]. */
    static float[] audio(long seed) {
        Random random = new Random(seed);
        float[] samples = new float[8000];
        for (int i = 0; i < samples.length; i++) {
            double tone = 0.5 * Math.sin(2 * Math.PI * 440 * i / 8000.0);
            samples[i] = (float) (tone + 0.1 * random.nextGaussian());
        }
        return samples;
    }

    /** An inference request with one FP32 input {@code audio} of shape [1, 8000]. */
    static InferRequest audioRequest(long seed) {
        return new InferRequest(List.of(new Tensor("audio", Datatype.FP32, new long[] {1, 8000}, audio(seed))));
    }

    // ------------------------------------------------------------------------------ machine

    String machine() {
        return Runtime.getRuntime().availableProcessors() + " CPUs (nproc), " + cpuModel() + ", "
                + (totalMemoryMb() / 1024) + " GB RAM; Java " + System.getProperty("java.runtime.version")
                + " (" + System.getProperty("java.vm.name") + "); " + System.getProperty("os.name") + " "
                + System.getProperty("os.version");
    }

    private static String cpuModel() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    return line.substring(line.indexOf(':') + 1).trim();
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: leave it out
        }
        return "unknown CPU";
    }

    private static long totalMemoryMb() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux
        }
        return 0;
    }

    /** The 1, 5 and 15 minute load averages: how busy the (shared) machine was. */
    static String loadAverage() {
        try {
            String[] parts = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return parts[0] + " " + parts[1] + " " + parts[2];
        } catch (IOException | RuntimeException e) {
            return "unknown";
        }
    }

    /** The command that ran this benchmark, as it could be typed again from the repository root. */
    String command() {
        List<String> parts = new ArrayList<>();
        parts.add("java");
        parts.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        parts.add("-cp");
        parts.add(relativeToRoot(System.getProperty("java.class.path")));
        parts.add(mainClass);
        parts.addAll(Arrays.asList(args));
        return String.join(" ", parts);
    }

    private static String relativeToRoot(String classPath) {
        String rootText = root().toString() + "/";
        return classPath.replace(rootText, "");
    }

    /**
     * Binds a process and every thread it has to {@code cpus} (a {@code taskset} list such as
     * {@code 4-15}); threads it starts later inherit that. Stops the run if {@code taskset} fails.
     */
    static void pin(long pid, String cpus) {
        try {
            Process taskset = new ProcessBuilder("taskset", "-a", "-p", "-c", cpus, Long.toString(pid))
                    .redirectErrorStream(true).start();
            String out = new String(taskset.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            if (taskset.waitFor() != 0) {
                throw new IllegalStateException("taskset -a -p -c " + cpus + " " + pid + " failed: " + out.strip());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("taskset (util-linux) is needed to bind processes to CPUs", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** CPU time (user + system) a process has used, in milliseconds, from /proc (Linux, 100 ticks/s). */
    static long cpuMillis(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            // fields[0] is field 3 (state); utime is field 14, stime field 15
            return (Long.parseLong(fields[11]) + Long.parseLong(fields[12])) * 10;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A slice of load, run for the seconds given. */
    @FunctionalInterface
    interface Load {
        void run(int seconds) throws InterruptedException;
    }

    /**
     * Loads programs in 5 s slices until their JIT compilers have settled: at least
     * {@code minSeconds}, then until a slice in which the compiler threads of {@code pids}
     * together used under a tenth of one CPU, or {@code maxSeconds} have passed. A Spring program
     * on 2 shared CPUs keeps its compilers busy for minutes of load (the gateway about one CPU
     * for one to three minutes under the `Overload` cascade): a phase measured before that compares
     * compiling, not serving. Returns the seconds it took and the compilers' share of one CPU in
     * the last slice, for the report.
     */
    static Settled warmUntilCompiled(Load load, List<Long> pids, int minSeconds, int maxSeconds)
            throws InterruptedException {
        int slice = 5;
        int elapsed = 0;
        double share = Double.NaN;
        while (elapsed < maxSeconds) {
            long before = jitMillis(pids);
            load.run(slice);
            elapsed += slice;
            share = (jitMillis(pids) - before) / (slice * 1000.0);
            if (elapsed >= minSeconds && share < 0.1) {
                break;
            }
        }
        return new Settled(elapsed, share);
    }

    /** How a warm-up ended: its seconds, and the compilers' share of one CPU in its last slice. */
    record Settled(int seconds, double jitShare) {
        @Override
        public String toString() {
            return seconds + " s (compilers at " + Math.round(jitShare * 100) + "% of a CPU in the last 5 s)";
        }
    }

    /**
     * CPU time of the processes' JIT compiler threads (HotSpot's "C1 CompilerThread" and "C2
     * CompilerThread"), in milliseconds: compiling is warm-up work, and a phase that still has
     * much of it has not reached the steady state a per-request figure is meant to describe.
     */
    static long jitMillis(List<Long> pids) {
        long total = 0;
        for (long pid : pids) {
            total += jitMillis(pid);
        }
        return total;
    }

    /** {@link #jitMillis(List)} of one process. */
    static long jitMillis(long pid) {
        long total = 0;
        try (java.util.stream.Stream<Path> tasks = Files.list(Path.of("/proc", Long.toString(pid), "task"))) {
            for (Path task : (Iterable<Path>) tasks::iterator) {
                String stat;
                try {
                    stat = Files.readString(task.resolve("stat"));
                } catch (IOException gone) {
                    continue; // the thread ended
                }
                String name = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
                if (!name.contains("CompilerThre")) {
                    continue;
                }
                String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                total += (Long.parseLong(fields[11]) + Long.parseLong(fields[12])) * 10;
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return total;
    }

    /**
     * CPU used by processes other than this benchmark and the programs it started, over a
     * window: the machine is shared, and this says how much of it something else took.
     */
    static final class OtherCpu {
        private final long busyTicks;
        private final long oursMillis;
        private final long startNanos;

        private OtherCpu() {
            this.busyTicks = machineBusyTicks();
            this.oursMillis = oursMillis();
            this.startNanos = System.nanoTime();
        }

        static OtherCpu start() {
            return new OtherCpu();
        }

        /** Percent of one CPU used by others since {@link #start} (the machine has nproc x 100%). */
        double percent() {
            double elapsedMs = (System.nanoTime() - startNanos) / 1e6;
            double machineMs = (machineBusyTicks() - busyTicks) * 10.0;
            double others = machineMs - (oursMillis() - oursMillis);
            return elapsedMs <= 0 ? 0 : Math.max(0, others / elapsedMs * 100);
        }

        String text() {
            return fixed(percent(), 0) + "%";
        }

        private static long machineBusyTicks() {
            try {
                String[] f = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
                // cpu user nice system idle iowait irq softirq steal ...
                return Long.parseLong(f[1]) + Long.parseLong(f[2]) + Long.parseLong(f[3]) + Long.parseLong(f[6])
                        + Long.parseLong(f[7]) + Long.parseLong(f[8]);
            } catch (IOException | RuntimeException e) {
                return 0;
            }
        }

        /** This JVM and every process it started (children that have exited are not counted). */
        private static long oursMillis() {
            long total = 0;
            for (ProcessHandle p : (Iterable<ProcessHandle>) () -> java.util.stream.Stream.concat(
                    java.util.stream.Stream.of(ProcessHandle.current()), ProcessHandle.current().descendants()).iterator()) {
                try {
                    total += cpuMillis(p.pid());
                } catch (RuntimeException e) {
                    // exited meanwhile
                }
            }
            return total;
        }
    }

    // ------------------------------------------------------------------------------ JMH

    /**
     * Runs the JMH benchmarks of {@code benchmark}: one fork, 3 x 2 s warm-up, 5 x 2 s measurement
     * (a long run: 3 forks, 5 and 10 iterations); with JMH's GC profiler when {@code allocation}.
     */
    static java.util.Collection<org.openjdk.jmh.results.RunResult> jmh(Class<?> benchmark, boolean allocation)
            throws org.openjdk.jmh.runner.RunnerException {
        boolean longer = longRun();
        org.openjdk.jmh.runner.options.ChainedOptionsBuilder options = new org.openjdk.jmh.runner.options.OptionsBuilder()
                .include(benchmark.getName() + "\\.")
                .forks(longer ? 3 : 1)
                .warmupIterations(longer ? 5 : 3)
                .warmupTime(org.openjdk.jmh.runner.options.TimeValue.seconds(2))
                .measurementIterations(longer ? 10 : 5)
                .measurementTime(org.openjdk.jmh.runner.options.TimeValue.seconds(2));
        if (allocation) {
            options.addProfiler(org.openjdk.jmh.profile.GCProfiler.class);
        }
        return new org.openjdk.jmh.runner.Runner(options.build()).run();
    }

    // ------------------------------------------------------------------------------ statistics

    /** Latency statistics over nanosecond samples. */
    record Stats(int count, long p50, long p95, long p99, long max, double mean) {
        static Stats of(long[] nanos, int count) {
            long[] sorted = Arrays.copyOf(nanos, count);
            Arrays.sort(sorted);
            double sum = 0;
            for (long v : sorted) {
                sum += v;
            }
            return new Stats(count, percentile(sorted, 50), percentile(sorted, 95), percentile(sorted, 99),
                    count == 0 ? 0 : sorted[count - 1], count == 0 ? 0 : sum / count);
        }

        static Stats of(long[] nanos) {
            return of(nanos, nanos.length);
        }
    }

    /** Nearest-rank percentile of sorted samples. */
    static long percentile(long[] sorted, double p) {
        if (sorted.length == 0) {
            return 0;
        }
        int rank = (int) Math.ceil(p / 100.0 * sorted.length);
        return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
    }

    static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        return n == 0 ? Double.NaN : n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    static long[] concat(List<long[]> parts) {
        int total = 0;
        for (long[] part : parts) {
            total += part.length;
        }
        long[] all = new long[total];
        int position = 0;
        for (long[] part : parts) {
            System.arraycopy(part, 0, all, position, part.length);
            position += part.length;
        }
        return all;
    }

    static String ms(long nanos) {
        return String.format(Locale.ROOT, "%.3f", nanos / 1e6);
    }

    static String ms(double nanos) {
        return String.format(Locale.ROOT, "%.3f", nanos / 1e6);
    }

    static String fixed(double value, int decimals) {
        return String.format(Locale.ROOT, "%." + decimals + "f", value);
    }

    static String mb(long bytes) {
        return String.format(Locale.ROOT, "%.1f", bytes / (1024.0 * 1024.0));
    }

    // ------------------------------------------------------------------------------ report

    /** A paragraph (markdown), also printed. */
    void text(String paragraph) {
        System.out.println(paragraph);
        System.out.println();
        markdown.append(paragraph).append("\n\n");
    }

    void heading(String title) {
        System.out.println("-- " + title + " --");
        markdown.append("## ").append(title).append("\n\n");
    }

    /** A table, printed aligned and added to the markdown. */
    void table(List<String> header, List<List<String>> rows) {
        int[] widths = new int[header.size()];
        for (int i = 0; i < widths.length; i++) {
            widths[i] = header.get(i).length();
            for (List<String> row : rows) {
                widths[i] = Math.max(widths[i], row.get(i).length());
            }
        }
        System.out.println(line(header, widths));
        StringBuilder rule = new StringBuilder();
        for (int w : widths) {
            rule.append(rule.length() == 0 ? "" : "-+-").append("-".repeat(w));
        }
        System.out.println(rule);
        for (List<String> row : rows) {
            System.out.println(line(row, widths));
        }
        System.out.println();
        markdown.append("| ").append(String.join(" | ", header)).append(" |\n|");
        for (int i = 0; i < header.size(); i++) {
            markdown.append(numeric(rows, i) ? "---:|" : "---|");
        }
        markdown.append('\n');
        for (List<String> row : rows) {
            markdown.append("| ").append(String.join(" | ", row)).append(" |\n");
        }
        markdown.append('\n');
    }

    /** Whether a column holds figures (right-aligned) rather than text. */
    private static boolean numeric(List<List<String>> rows, int column) {
        for (List<String> row : rows) {
            String cell = row.get(column);
            if (cell.isEmpty() || !(Character.isDigit(cell.charAt(0)) || cell.charAt(0) == '-' || cell.charAt(0) == '['
                    || cell.startsWith("yes") || cell.startsWith("no") || cell.startsWith("n/a"))) {
                return false;
            }
        }
        return !rows.isEmpty();
    }

    private static String line(List<String> cells, int[] widths) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < cells.size(); i++) {
            if (i > 0) {
                b.append(" | ");
            }
            String cell = cells.get(i);
            b.append(i == 0 ? pad(cell, widths[i]) : " ".repeat(widths[i] - cell.length()) + cell);
        }
        return b.toString();
    }

    private static String pad(String s, int width) {
        return s + " ".repeat(width - s.length());
    }

    private static String jarText(String program) {
        Path jar = root().resolve(program).resolve("target").resolve(program + ".jar");
        try {
            return "`" + root().relativize(jar) + "` built " + Files.getLastModifiedTime(jar).toInstant()
                    .truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
        } catch (IOException e) {
            return "`" + root().relativize(jar) + "` missing";
        }
    }

    /** Writes {@code benchmarks/results/<name>.md}: date, machine, command, then everything reported. */
    Path write() {
        ZonedDateTime finished = ZonedDateTime.now();
        StringBuilder out = new StringBuilder();
        out.append("# ").append(name).append("\n\n");
        out.append("- Date: ").append(started.format(DateTimeFormatter.ISO_OFFSET_DATE_TIME))
                .append(" (took ").append(java.time.Duration.between(started, finished).toSeconds()).append(" s)\n");
        out.append("- Machine: ").append(machine()).append('\n');
        out.append("- Load average (1/5/15 min) at start: ").append(loadAtStart).append(", at end: ")
                .append(loadAverage()).append(" (the machine is shared: other builds may have been running)\n");
        out.append("- Programs (at the start): ").append(programsAtStart).append('\n');
        out.append("- Command (from the repository root, after `./mvnw -q -pl benchmarks package`):\n\n  ```\n  ")
                .append(command()).append("\n  ```\n\n");
        out.append(markdown);
        Path file = root().resolve("benchmarks").resolve("results").resolve(name + ".md");
        try {
            Files.createDirectories(file.getParent());
            Files.writeString(file, out.toString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        System.out.println("written: " + file);
        return file;
    }
}
