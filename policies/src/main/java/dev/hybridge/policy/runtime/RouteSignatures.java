package dev.hybridge.policy.runtime;

import dev.hybridge.oip.ModelMetadata;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.TensorSpec;
import dev.hybridge.policy.RoutePolicy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * What a route looks like to a client: one model. Its inputs are its first stage's; its outputs
 * are those every stage that may answer gives (by name, datatype and rank), so that the answer
 * has the same outputs whichever tier gave it, and no output is listed that some answers lack.
 * On a split route the tensor the edge hands to the cloud is therefore internal: no output of
 * the route unless the cloud stage gives it too.
 *
 * <p>Read from the stages' own metadata, kept for {@link #TTL} and until the route's policy
 * changes, so that inference does not ask for it each time. Once the TTL has passed, the next
 * request asks the stages again in the background and goes on with the signature it has. When
 * a stage cannot be asked (a link down), the last signature stands, so that the route's answers
 * keep their outputs whether or not the cloud can be reached, and the stages are asked again
 * after {@link #RETRY_AFTER_FAILURE}. A route not known yet goes on without one meanwhile.
 */
public final class RouteSignatures {

    /** How long a route's signature is trusted before its stages are asked again. */
    public static final Duration TTL = Duration.ofSeconds(30);
    /** How long a failed fetch stands before a request asks the stages again. */
    public static final Duration RETRY_AFTER_FAILURE = Duration.ofSeconds(5);
    /** The longest a metadata call may take. */
    public static final Duration METADATA_TIMEOUT = Duration.ofSeconds(2);

    /** A route's signature: its metadata under its own name, and the names of its outputs. */
    public record Signature(ModelMetadata metadata, Set<String> outputs) {
    }

    /**
     * @param fetch   the latest fetch (done, or in flight)
     * @param known   the last signature fetched for this policy, or null
     */
    private record Entry(RoutePolicy policy, CompletableFuture<Signature> fetch, Signature known, long fetchedNanos,
                         long keepNanos) {
    }

    private final TierClient edge;
    private final TierClient cloud;
    private final OipCodec codec;
    private final LongSupplier nanoTime;
    private final Map<String, Entry> cache = new ConcurrentHashMap<>();

    public RouteSignatures(TierClient edge, TierClient cloud, OipCodec codec, LongSupplier nanoTime) {
        this.edge = edge;
        this.cloud = cloud;
        this.codec = codec;
        this.nanoTime = nanoTime;
    }

    /**
     * The route's signature: the one known, at once, when there is one; else the fetch (one at a
     * time per route). A fetch that failed is kept for {@link #RETRY_AFTER_FAILURE}: requests in
     * that time go on with the last signature, or without one, at once, instead of each asking
     * (and waiting for) a stage that cannot answer.
     */
    public CompletableFuture<Signature> of(RoutePolicy route) {
        long now = nanoTime.getAsLong();
        CompletableFuture<Signature> fetch = new CompletableFuture<>();
        Entry entry = cache.compute(route.name(), (name, e) -> {
            if (e != null && e.policy() == route && now - e.fetchedNanos() < e.keepNanos()) {
                return e;
            }
            return new Entry(route, fetch, e != null && e.policy() == route ? e.known() : null, now, TTL.toNanos());
        });
        if (entry.fetch() == fetch) { // this call asks the stages
            fetch(route).whenComplete((signature, failure) -> {
                cache.replace(route.name(), entry, failure != null
                        ? new Entry(route, fetch, entry.known(), now, RETRY_AFTER_FAILURE.toNanos())
                        : new Entry(route, fetch, signature, now, TTL.toNanos()));
                if (failure != null) {
                    fetch.completeExceptionally(failure);
                } else {
                    fetch.complete(signature);
                }
            });
        }
        return entry.known() != null ? CompletableFuture.completedFuture(entry.known()) : entry.fetch();
    }

    private CompletableFuture<Signature> fetch(RoutePolicy route) {
        try {
            return fetchFromStages(route);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    private CompletableFuture<Signature> fetchFromStages(RoutePolicy route) {
        long deadline = nanoTime.getAsLong() + METADATA_TIMEOUT.toNanos();
        List<CompletableFuture<ModelMetadata>> stages = new ArrayList<>();
        // a tier with nowhere to send calls (a gateway whose devices run the edge stage themselves)
        // is left out: the route's outputs are then those of the stages that can answer here
        boolean edgeHere = route.kind().usesEdge() && (edge.configured() || !route.kind().usesCloud());
        boolean cloudHere = route.kind().usesCloud() && (cloud.configured() || !edgeHere);
        if (edgeHere) {
            stages.add(edge.metadata(route, route.edge(), deadline).thenApply(codec::decodeModelMetadata));
        }
        if (cloudHere) {
            stages.add(cloud.metadata(route, route.cloud(), deadline).thenApply(codec::decodeModelMetadata));
        }
        return CompletableFuture.allOf(stages.toArray(CompletableFuture[]::new))
                .thenApply(done -> signature(route, stages.stream().map(CompletableFuture::join).toList()));
    }

    /** What a route's metadata tells in its {@code parameters}: its kind and its stages' models. */
    public static Map<String, Object> parameters(RoutePolicy route) {
        Map<String, Object> parameters = new java.util.LinkedHashMap<>();
        parameters.put(dev.hybridge.oip.RoutingParameters.KIND, route.kind().wire());
        if (route.edge() != null) {
            parameters.put(dev.hybridge.oip.RoutingParameters.EDGE_MODEL, route.edge().model());
        }
        if (route.cloud() != null) {
            parameters.put(dev.hybridge.oip.RoutingParameters.CLOUD_MODEL, route.cloud().model());
        }
        return parameters;
    }

    /** The signature of a route whose answering stages have this metadata (the first stage first). */
    public static Signature signature(RoutePolicy route, List<ModelMetadata> stages) {
        ModelMetadata first = stages.get(0);
        List<TensorSpec> outputs = new ArrayList<>();
        for (TensorSpec candidate : first.outputs()) {
            TensorSpec common = candidate;
            for (int i = 1; i < stages.size() && common != null; i++) {
                common = common(common, stages.get(i).output(candidate.name()));
            }
            if (common != null) {
                outputs.add(common);
            }
        }
        Set<String> names = new LinkedHashSet<>();
        outputs.forEach(o -> names.add(o.name()));
        return new Signature(new ModelMetadata(route.name(), List.of(), first.platform(), first.inputs(), outputs),
                Set.copyOf(names));
    }

    /** The output as both stages give it, dimensions that differ becoming dynamic; null when they cannot agree. */
    private static TensorSpec common(TensorSpec a, TensorSpec b) {
        if (b == null || a.datatype() != b.datatype() || a.shape().length != b.shape().length) {
            return null;
        }
        long[] shape = a.shape().clone();
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] != b.shape()[i]) {
                shape[i] = -1;
            }
        }
        return new TensorSpec(a.name(), a.datatype(), shape);
    }
}
