package dev.hybridge.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A policy set as files: what the gateway sends edge agents and what they keep on disk. */
class PolicyBundleTest {

    private final PolicyLoader loader = new PolicyLoader();

    @TempDir
    Path folder;

    @Test
    void theShippedPoliciesTravelAsJsonAndLoadTheSameAsTheirFolder() throws Exception {
        PolicyBundle read = PolicyBundle.read(PolicyLoaderTest.shippedPolicies());
        PolicyBundle received = PolicyBundle.fromJson(read.toJson());
        assertThat(received).isEqualTo(read);
        assertThat(received.etag()).isEqualTo(read.etag()).hasSize(32);
        PolicySet fromFolder = loader.load(PolicyLoaderTest.shippedPolicies());
        PolicySet fromBundle = loader.load(received);
        assertThat(fromBundle.routes().keySet()).isEqualTo(fromFolder.routes().keySet());
        assertThat(fromBundle.route("digits").threshold()).isEqualTo(fromFolder.route("digits").threshold());
        assertThat(fromBundle.tenants().of("demo").budgetUsd()).isEqualTo(5.0);

        received.writeTo(folder.resolve("copy"));
        assertThat(PolicyBundle.read(folder.resolve("copy"))).isEqualTo(read);
    }

    @Test
    void theTagNamesTheContent() {
        PolicyBundle a = new PolicyBundle(Map.of("a.yaml", "version: 1\n"));
        assertThat(new PolicyBundle(Map.of("a.yaml", "version: 1\n")).etag()).isEqualTo(a.etag());
        assertThat(new PolicyBundle(Map.of("a.yaml", "version: 1 \n")).etag()).isNotEqualTo(a.etag());
        assertThat(new PolicyBundle(Map.of("b.yaml", "version: 1\n")).etag()).isNotEqualTo(a.etag());
    }

    @Test
    void overlayingReplacesFilesOfTheSameNameAndAddsTheRest() {
        PolicyBundle fleet = new PolicyBundle(Map.of("a.yaml", "fleet a", "b.yaml", "fleet b", "tenants.yaml", "t"));
        PolicyBundle group = new PolicyBundle(Map.of("b.yaml", "group b", "c.yaml", "group c"));
        assertThat(fleet.overlaid(group).without("tenants.yaml").files())
                .containsExactly(Map.entry("a.yaml", "fleet a"), Map.entry("b.yaml", "group b"), Map.entry("c.yaml", "group c"));
    }

    @Test
    void namesThatWouldLeaveTheFolderAreRefused() {
        for (String name : new String[] {"../x.yaml", "a/b.yaml", ".hidden.yaml", "x.txt", "a\\b.yaml"}) {
            byte[] json = ("{\"files\":{\"" + name.replace("\\", "\\\\") + "\":\"version: 1\"}}").getBytes(StandardCharsets.UTF_8);
            PolicyException refused = catchThrowableOfType(PolicyException.class, () -> PolicyBundle.fromJson(json));
            assertThat(refused).as(name).isNotNull();
            assertThat(refused.getMessage()).contains("not a policy file's name");
        }
        assertThatThrownBy(() -> new PolicyBundle(Map.of("../x.yaml", ""))).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void anythingButASetIsRefusedWithWhatIsWrong() {
        assertThat(catchThrowableOfType(PolicyException.class, () -> PolicyBundle.fromJson("not json".getBytes(StandardCharsets.UTF_8))))
                .hasMessageContaining("not valid JSON");
        assertThat(catchThrowableOfType(PolicyException.class, () -> PolicyBundle.fromJson("{}".getBytes(StandardCharsets.UTF_8))))
                .hasMessageContaining("no \"files\"");
        assertThat(catchThrowableOfType(PolicyException.class,
                () -> PolicyBundle.fromJson("{\"files\":{\"a.yaml\":3}}".getBytes(StandardCharsets.UTF_8))))
                .hasMessageContaining("a.yaml: its text must be a JSON string");
    }

    @Test
    void aSetWithABadFileIsRefusedWholeNamingTheFile() throws Exception {
        PolicyBundle bundle = new PolicyBundle(Map.of("good.yaml", "version: 1\nkind: cloud-only\ncloud: {model: m}\n",
                "bad.yaml", "version: 1\nkind: sideways\n"));
        PolicyException refused = catchThrowableOfType(PolicyException.class, () -> loader.load(bundle));
        assertThat(refused.problems()).anySatisfy(p -> assertThat(p).startsWith("bad.yaml"));
        Files.writeString(folder.resolve("big.yaml"), "#".repeat((int) PolicyLoader.MAX_FILE_BYTES + 1));
        assertThat(catchThrowableOfType(PolicyException.class, () -> PolicyBundle.read(folder)))
                .hasMessageContaining("big.yaml: larger than");
    }
}
