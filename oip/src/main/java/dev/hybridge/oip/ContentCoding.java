package dev.hybridge.oip;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import java.util.Locale;
import java.util.zip.GZIPInputStream;
import java.util.zip.Inflater;
import java.util.zip.InflaterInputStream;
import java.util.zip.ZipException;

/**
 * Request bodies sent with {@code Content-Encoding: gzip} or {@code deflate}, as Triton's clients
 * send them with {@code request_compression_algorithm}, decoded here with the same size limit as
 * any body: the decoded size is what counts, so that a small compressed body that expands past
 * the limit (a "zip bomb") is refused with 413 as soon as it does, never held whole.
 */
public final class ContentCoding {

    private ContentCoding() {
    }

    /** What the programs accept in {@code Content-Encoding}. */
    public static final String SUPPORTED = "gzip, deflate";

    /**
     * Whether a {@code Content-Encoding} header names a coding to undo (absent, empty or
     * {@code identity}: no).
     */
    public static boolean isEncoded(String contentEncoding) {
        if (contentEncoding == null) {
            return false;
        }
        for (String coding : contentEncoding.split(",")) {
            String c = coding.trim();
            if (!c.isEmpty() && !c.equalsIgnoreCase("identity")) {
                return true;
            }
        }
        return false;
    }

    /**
     * The body with every coding in {@code contentEncoding} undone (the last applied is undone
     * first, as HTTP lists them in the order they were applied).
     *
     * @param limitName how the limit is configured, for the 413 message
     * @throws OipException 415 for a coding other than gzip and deflate, 400 for data that does
     *                      not decode, 413 when the decoded body grows past {@code maxBytes}
     */
    public static byte[] decode(String contentEncoding, byte[] body, int maxBytes, String limitName) {
        if (!isEncoded(contentEncoding)) {
            return body;
        }
        String[] codings = contentEncoding.split(",");
        byte[] decoded = body;
        for (int i = codings.length - 1; i >= 0; i--) {
            String coding = codings[i].trim().toLowerCase(Locale.ROOT);
            decoded = switch (coding) {
                case "", "identity" -> decoded;
                case "gzip", "x-gzip" -> gunzip(decoded, maxBytes, limitName);
                case "deflate" -> inflate(decoded, maxBytes, limitName);
                default -> throw OipException.unsupportedMediaType("Content-Encoding '" + codings[i].trim()
                        + "' is not supported; send the body as is or with " + SUPPORTED);
            };
        }
        return decoded;
    }

    private static byte[] gunzip(byte[] body, int maxBytes, String limitName) {
        try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(body), 8192)) {
            return readBounded(in, body.length, maxBytes, limitName);
        } catch (ZipException | java.io.EOFException e) {
            throw OipException.badRequest("the request body is not valid gzip data (Content-Encoding: gzip): "
                    + e.getMessage());
        } catch (IOException e) {
            throw OipException.badRequest("the request body could not be decoded as gzip: " + e.getMessage());
        }
    }

    /**
     * HTTP's deflate is zlib-wrapped (RFC 9110); some clients send the raw deflate stream, which
     * is tried when the zlib header is not there.
     */
    private static byte[] inflate(byte[] body, int maxBytes, String limitName) {
        boolean zlib = body.length >= 2 && (body[0] & 0x0f) == 8 && ((body[0] & 0xff) << 8 | (body[1] & 0xff)) % 31 == 0;
        Inflater inflater = new Inflater(!zlib);
        try (InputStream in = new InflaterInputStream(new ByteArrayInputStream(body), inflater, 8192)) {
            return readBounded(in, body.length, maxBytes, limitName);
        } catch (ZipException | java.io.EOFException e) {
            throw OipException.badRequest("the request body is not valid deflate data (Content-Encoding: deflate): "
                    + e.getMessage());
        } catch (IOException e) {
            throw OipException.badRequest("the request body could not be decoded as deflate: " + e.getMessage());
        } finally {
            inflater.end();
        }
    }

    private static byte[] readBounded(InputStream in, int encodedLength, int maxBytes, String limitName)
            throws IOException {
        byte[] out = new byte[(int) Math.min(maxBytes + 1L, Math.max(8192L, encodedLength * 4L))];
        int length = 0;
        while (true) {
            if (length == out.length) {
                if (length > maxBytes) {
                    throw decodedTooLarge(maxBytes, limitName);
                }
                out = Arrays.copyOf(out, (int) Math.min(maxBytes + 1L, out.length * 2L));
            }
            int n = in.read(out, length, out.length - length);
            if (n < 0) {
                break;
            }
            length += n;
        }
        if (length > maxBytes) {
            throw decodedTooLarge(maxBytes, limitName);
        }
        return length == out.length ? out : Arrays.copyOf(out, length);
    }

    private static OipException decodedTooLarge(int maxBytes, String limitName) {
        return OipException.payloadTooLarge("the request body decodes to more than the limit of " + maxBytes
                + " bytes (" + limitName + "); the limit applies to the decoded body");
    }
}
