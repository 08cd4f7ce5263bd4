package dev.hybridge.e2e;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The JVM options edge-agent is launched with, for a small footprint: {@code bin/hybridge-local}
 * ({@code EDGE_JVM_OPTS}) and the Helm chart ({@code edgeAgent.javaToolOptions}) carry the same
 * list, the end-to-end tests run the program with it, and the benchmarks measure it.
 */
public final class EdgeLaunch {

    /**
     * Serial 96 MB heap (room for a full run queue of requests at the edge's 1 MB size limit), C1
     * only, small stacks and code cache, one Netty event loop with unpooled buffers, freed native
     * memory given back every second, Spring beans made when first used.
     */
    public static final List<String> OPTIONS = List.of(
            "-XX:+UseSerialGC", "-Xms16m", "-Xmx96m", "-XX:MaxMetaspaceSize=96m", "-XX:ReservedCodeCacheSize=32m",
            "-Xss512k", "-XX:MaxDirectMemorySize=32m", "-XX:TieredStopAtLevel=1", "-XX:TrimNativeHeapInterval=1000",
            "-Dreactor.netty.ioWorkerCount=1", "-Dio.netty.allocator.type=unpooled",
            "-Dspring.main.lazy-initialization=true");

    private static final Pattern SCRIPT_OPTIONS = Pattern.compile("EDGE_JVM_OPTS=\\$\\{EDGE_JVM_OPTS:-\"([^\"]*)\"}");
    /** The chart's edge agent options: the one folded ({@code >-}) javaToolOptions block. */
    private static final Pattern CHART_OPTIONS = Pattern.compile("javaToolOptions: >-\n((?: {4}\\S.*\n)+)");

    private EdgeLaunch() {
    }

    /**
     * Where the launch script or the chart start edge-agent with other options than {@link #OPTIONS};
     * empty when both agree.
     */
    public static List<String> drift() {
        List<String> problems = new ArrayList<>();
        String expected = String.join(" ", OPTIONS);
        try {
            String script = Files.readString(ProgramProcess.root().resolve("bin/hybridge-local"));
            Matcher inScript = SCRIPT_OPTIONS.matcher(script);
            String scriptOptions = inScript.find() ? inScript.group(1).trim() : "(no EDGE_JVM_OPTS default found)";
            if (!scriptOptions.equals(expected)) {
                problems.add("bin/hybridge-local starts edge-agent with " + scriptOptions);
            }
            Path values = ProgramProcess.root().resolve("helm/hybridge/values.yaml");
            Matcher inChart = CHART_OPTIONS.matcher(Files.readString(values));
            String chartOptions = inChart.find() ? inChart.group(1).trim().replaceAll("\\s+", " ")
                    : "(no folded javaToolOptions block found)";
            if (!chartOptions.equals(expected)) {
                problems.add("helm/hybridge/values.yaml starts edge-agent with " + chartOptions);
            }
        } catch (IOException e) {
            problems.add("cannot read the launch options: " + e);
        }
        return problems;
    }
}
