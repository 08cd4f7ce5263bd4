package dev.hybridge.oip;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.zip.Deflater;
import java.util.zip.DeflaterOutputStream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;

class ContentCodingTest {

    static final byte[] BODY = "{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[3],\"data\":[1,2,3]}]}"
            .repeat(50).getBytes(StandardCharsets.UTF_8);
    static final String LIMIT = "test.max-request-size";

    static byte[] gzip(byte[] data) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
            gz.write(data);
        }
        return out.toByteArray();
    }

    /** zlib-wrapped, as HTTP's deflate is meant to be (Python's zlib.compress). */
    static byte[] zlib(byte[] data) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (DeflaterOutputStream z = new DeflaterOutputStream(out, new Deflater(Deflater.DEFAULT_COMPRESSION, false))) {
            z.write(data);
        }
        return out.toByteArray();
    }

    static byte[] rawDeflate(byte[] data) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (DeflaterOutputStream z = new DeflaterOutputStream(out, new Deflater(Deflater.DEFAULT_COMPRESSION, true))) {
            z.write(data);
        }
        return out.toByteArray();
    }

    @Test
    void anIdentityOrAbsentCodingLeavesTheBodyAsItIs() {
        assertThat(ContentCoding.decode(null, BODY, 10, LIMIT)).isSameAs(BODY);
        assertThat(ContentCoding.decode("identity", BODY, 10, LIMIT)).isSameAs(BODY);
        assertThat(ContentCoding.decode(" ", BODY, 10, LIMIT)).isSameAs(BODY);
        assertThat(ContentCoding.isEncoded("Identity")).isFalse();
        assertThat(ContentCoding.isEncoded("gzip")).isTrue();
    }

    @Test
    void gzipAndBothDeflateFormsDecode() throws IOException {
        assertThat(ContentCoding.decode("gzip", gzip(BODY), 1 << 20, LIMIT)).isEqualTo(BODY);
        assertThat(ContentCoding.decode("GZIP", gzip(BODY), 1 << 20, LIMIT)).isEqualTo(BODY);
        assertThat(ContentCoding.decode("x-gzip", gzip(BODY), 1 << 20, LIMIT)).isEqualTo(BODY);
        assertThat(ContentCoding.decode("deflate", zlib(BODY), 1 << 20, LIMIT)).isEqualTo(BODY);
        assertThat(ContentCoding.decode("deflate", rawDeflate(BODY), 1 << 20, LIMIT)).isEqualTo(BODY);
    }

    @Test
    void severalCodingsAreUndoneLastAppliedFirst() throws IOException {
        byte[] twice = gzip(zlib(BODY)); // deflate applied first, then gzip
        assertThat(ContentCoding.decode("deflate, gzip", twice, 1 << 20, LIMIT)).isEqualTo(BODY);
    }

    @Test
    void aBodyExactlyAtTheLimitDecodes() throws IOException {
        assertThat(ContentCoding.decode("gzip", gzip(BODY), BODY.length, LIMIT)).isEqualTo(BODY);
    }

    @Test
    void aSmallBodyThatExpandsPastTheLimitIs413NamingTheLimit() throws IOException {
        byte[] bomb = gzip(new byte[64 * 1024 * 1024]); // 64 MB of zeros in about 64 KB
        assertThat(bomb.length).isLessThan(100_000);
        assertThatThrownBy(() -> ContentCoding.decode("gzip", bomb, 1 << 20, LIMIT))
                .isInstanceOfSatisfying(OipException.class, e -> {
                    assertThat(e.status()).isEqualTo(413);
                    assertThat(e.getMessage()).contains("1048576").contains(LIMIT).contains("decoded");
                });
        assertThatThrownBy(() -> ContentCoding.decode("gzip", gzip(BODY), BODY.length - 1, LIMIT))
                .isInstanceOfSatisfying(OipException.class, e -> assertThat(e.status()).isEqualTo(413));
    }

    @Test
    void anUnknownCodingIs415SayingWhatIsSupported() {
        assertThatThrownBy(() -> ContentCoding.decode("br", BODY, 1 << 20, LIMIT))
                .isInstanceOfSatisfying(OipException.class, e -> {
                    assertThat(e.status()).isEqualTo(415);
                    assertThat(e.getMessage()).contains("'br'").contains("gzip, deflate");
                });
    }

    @Test
    void dataThatDoesNotDecodeIs400() throws IOException {
        assertThatThrownBy(() -> ContentCoding.decode("gzip", BODY, 1 << 20, LIMIT))
                .isInstanceOfSatisfying(OipException.class, e -> {
                    assertThat(e.status()).isEqualTo(400);
                    assertThat(e.getMessage()).contains("gzip");
                });
        byte[] truncated = java.util.Arrays.copyOf(gzip(BODY), 20);
        assertThatThrownBy(() -> ContentCoding.decode("gzip", truncated, 1 << 20, LIMIT))
                .isInstanceOfSatisfying(OipException.class, e -> assertThat(e.status()).isEqualTo(400));
        assertThatThrownBy(() -> ContentCoding.decode("deflate", BODY, 1 << 20, LIMIT))
                .isInstanceOfSatisfying(OipException.class, e -> assertThat(e.status()).isEqualTo(400));
    }
}
