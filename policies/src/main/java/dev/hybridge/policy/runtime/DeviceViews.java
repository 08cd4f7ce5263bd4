package dev.hybridge.policy.runtime;

import dev.hybridge.oip.Datatype;
import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.InferResponse;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.Tensor;
import dev.hybridge.policy.RoutePolicy;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The speed views a device learns for routes whose {@code device-profile} has {@code views}
 * ({@link RoutePolicy.Views}): after the edge model answered a request, one in {@code every} is heard
 * again at every speed, in the background (one call of the edge model, which runs in this process as
 * on an edge agent, one row per speed, off the request's path),
 * and each speed's running mean confidence and profile are kept in the device's {@link DeviceProfiles}
 * (so they are saved with the plain profile). At most one such run per route is under way; a clip that
 * comes while one is teaches nothing ({@link RouteRuntime.ViewsResult#SKIPPED}). Only requests of one row whose inputs
 * are all FP32 are heard again.
 */
public final class DeviceViews {

    private final TierClient edge;
    private final OipCodec codec;
    private final DeviceProfiles profiles;
    private final java.util.function.BiConsumer<String, RouteRuntime.ViewsResult> report;
    private final Map<String, AtomicLong> heard = new ConcurrentHashMap<>();
    private final Map<String, AtomicBoolean> running = new ConcurrentHashMap<>();

    DeviceViews(TierClient edge, OipCodec codec, DeviceProfiles profiles,
                java.util.function.BiConsumer<String, RouteRuntime.ViewsResult> report) {
        this.edge = edge;
        this.codec = codec;
        this.profiles = profiles;
        this.report = report;
    }

    /** The key a speed's profile is kept under in the device's profiles. */
    public static String profileKey(String route, double speed) {
        return route + " speed " + speed;
    }

    /** The key a speed's mean confidence is kept under in the device's profiles. */
    public static String confidenceKey(String route, double speed) {
        return route + " speed " + speed + " confidence";
    }

    /** The edge model answered {@code call}: hears it again at every speed when its turn has come. */
    void heard(RouteCall call) {
        RoutePolicy.DeviceProfile setting = call.policy().deviceProfile();
        if (profiles == DeviceProfiles.NONE || setting == null || setting.views() == null || !edge.inProcess()) {
            return;
        }
        RoutePolicy.Views views = setting.views();
        if (heard.computeIfAbsent(call.route(), r -> new AtomicLong()).getAndIncrement() % views.every() != 0) {
            return;
        }
        AtomicBoolean busy = running.computeIfAbsent(call.route(), r -> new AtomicBoolean());
        if (!busy.compareAndSet(false, true)) {
            report.accept(call.route(), RouteRuntime.ViewsResult.SKIPPED);
            return;
        }
        InferRequest request;
        try {
            request = request(call, views, setting.from());
        } catch (RuntimeException e) {
            request = null;
        }
        if (request == null) {
            busy.set(false); // not a request this setting can play at other speeds: nothing to learn
            return;
        }
        edge.inferDecoded(call.policy().edge(), request).whenComplete((response, error) -> {
            RouteRuntime.ViewsResult result = RouteRuntime.ViewsResult.FAILED;
            try {
                if (error == null && learn(call.route(), setting, response)) {
                    result = RouteRuntime.ViewsResult.LEARNED;
                }
            } catch (RuntimeException e) {
                result = RouteRuntime.ViewsResult.FAILED; // an answer that cannot be read teaches nothing
            } finally {
                busy.set(false);
            }
            report.accept(call.route(), result);
        });
    }

    /** The edge call that hears the request's one row at every speed; null when the request is not one row of FP32 inputs. */
    private InferRequest request(RouteCall call, RoutePolicy.Views views, String from) {
        InferRequest request = codec.decodeRequest(call.body(), call.jsonLength());
        double[] speeds = views.speeds();
        List<Tensor> inputs = new ArrayList<>();
        for (Tensor input : request.inputs()) {
            if (input.name().equals(views.input()) || input.datatype() != Datatype.FP32 || input.shape().length == 0
                    || input.shape()[0] != 1 || !(input.data() instanceof float[] row)) {
                return null;
            }
            long[] shape = input.shape().clone();
            shape[0] = speeds.length;
            inputs.add(Tensor.repeatedRow(input.name(), row, shape));
        }
        float[] played = new float[speeds.length];
        for (int v = 0; v < speeds.length; v++) {
            played[v] = (float) speeds[v];
        }
        inputs.add(new Tensor(views.input(), Datatype.FP32, new long[] {speeds.length, 1}, played));
        return new InferRequest(null, Map.of(), inputs, List.of(new InferRequest.RequestedOutput(views.scores(), Map.of()),
                new InferRequest.RequestedOutput(from, Map.of())));
    }

    /** Adds each speed's row to its means; false when the answer lacks the outputs, or their rows. */
    private boolean learn(String route, RoutePolicy.DeviceProfile setting, InferResponse response) {
        int speeds = setting.views().speeds().length;
        float[] scores = rows(response, setting.views().scores(), speeds);
        float[] rows = rows(response, setting.from(), speeds);
        if (scores == null || rows == null) {
            return false;
        }
        learn(profiles, route, setting, scores, rows);
        return true;
    }

    /**
     * Adds one clip heard at every speed to the route's means in {@code profiles}: per speed, the top
     * of its row of {@code scores} to the confidence and its row of {@code rows} to the profile (rows
     * in the order of the setting's speeds). A row that is not finite is left out, as for the plain profile.
     */
    public static void learn(DeviceProfiles profiles, String route, RoutePolicy.DeviceProfile setting, float[] scores,
                             float[] rows) {
        double[] speeds = setting.views().speeds();
        int classes = scores.length / speeds.length;
        int width = rows.length / speeds.length;
        for (int v = 0; v < speeds.length; v++) {
            float top = Float.NEGATIVE_INFINITY;
            for (int c = 0; c < classes; c++) {
                top = Math.max(top, scores[v * classes + c]);
            }
            float[] row = java.util.Arrays.copyOfRange(rows, v * width, (v + 1) * width);
            if (!Float.isFinite(top) || !finite(row)) {
                continue;
            }
            profiles.heard(profileKey(route, speeds[v]), row, width, setting.window());
            profiles.heard(confidenceKey(route, speeds[v]), new float[] {top}, 1, setting.window());
        }
    }

    private static boolean finite(float[] row) {
        for (float f : row) {
            if (!Float.isFinite(f)) {
                return false;
            }
        }
        return true;
    }

    /** The output's data when it is FP32 of {@code rows} rows of at least one value each; else null. */
    private static float[] rows(InferResponse response, String name, int rows) {
        for (Tensor output : response.outputs()) {
            if (output.name().equals(name)) {
                return output.datatype() == Datatype.FP32 && output.shape().length == 2 && output.shape()[0] == rows
                        && output.shape()[1] >= 1 && output.data() instanceof float[] data ? data : null;
            }
        }
        return null;
    }

    /**
     * The views an escalation carries: the {@code pick} speeds the edge model is surest at so far,
     * each with its profile ({@code speeds}, then {@code profiles} row-major, {@code pick} rows of
     * the profile's width); null until every speed has a confidence and a profile of one width.
     */
    Picked picked(String route, RoutePolicy.Views views) {
        return picked(profiles, route, views);
    }

    /** {@link #picked(String, RoutePolicy.Views)} from the means in {@code profiles}. */
    public static Picked picked(DeviceProfiles profiles, String route, RoutePolicy.Views views) {
        double[] speeds = views.speeds();
        double[] confidence = new double[speeds.length];
        float[][] profile = new float[speeds.length][];
        for (int v = 0; v < speeds.length; v++) {
            float[] mean = profiles.current(confidenceKey(route, speeds[v]));
            profile[v] = profiles.current(profileKey(route, speeds[v]));
            if (mean == null || mean.length != 1 || profile[v] == null || profile[v].length != profile[0].length) {
                return null;
            }
            confidence[v] = mean[0];
        }
        Integer[] ranked = new Integer[speeds.length];
        for (int v = 0; v < speeds.length; v++) {
            ranked[v] = v;
        }
        java.util.Arrays.sort(ranked, (a, b) -> Double.compare(confidence[b], confidence[a])); // stable: ties keep the order
        int width = profile[0].length;
        float[] picked = new float[views.pick()];
        float[] rows = new float[views.pick() * width];
        for (int t = 0; t < views.pick(); t++) {
            picked[t] = (float) speeds[ranked[t]];
            System.arraycopy(profile[ranked[t]], 0, rows, t * width, width);
        }
        return new Picked(picked, rows, width);
    }

    /** The speeds an escalation carries and the profile for each ({@code speeds.length} rows of {@code width}). */
    public record Picked(float[] speeds, float[] profiles, int width) {

        /** What a device that has not heard every speed yet sends: speed 1, {@code pick} times, with its plain profile. */
        public static Picked plain(int pick, float[] profile) {
            float[] speeds = new float[pick];
            float[] profiles = new float[pick * profile.length];
            for (int t = 0; t < pick; t++) {
                speeds[t] = 1f;
                System.arraycopy(profile, 0, profiles, t * profile.length, profile.length);
            }
            return new Picked(speeds, profiles, profile.length);
        }
    }
}
