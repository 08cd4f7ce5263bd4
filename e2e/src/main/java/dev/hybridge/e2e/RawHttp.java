package dev.hybridge.e2e;

import dev.hybridge.oip.OipCodec;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A minimal HTTP/1.1 keep-alive client on one blocking socket: every request goes on the same
 * connection, as pooled clients (Triton's, KServe's) send them.
 *
 * <p>Two uses. Load generation where the client shares the CPUs with the server: the request is
 * built once, and a call costs a write and a read ({@link #send}); java.net.http spends about a
 * millisecond of CPU per call here. And tests that need to see exactly what crosses one
 * connection ({@link #exchange}): the status, every header, the body as framed.
 *
 * <p>Understands what the OIP programs send: a status line, headers, a body framed by
 * Content-Length or chunked, or (after {@code Connection: close}) by the end of the stream.
 * One instance per thread.
 */
public final class RawHttp implements AutoCloseable {

    /** A whole response: status, headers (names in lower case, in order) and body. */
    public record Response(int status, Map<String, String> headers, byte[] body) {
        public String header(String name) {
            return headers.get(name.toLowerCase(Locale.ROOT));
        }

        public String text() {
            return new String(body, StandardCharsets.UTF_8);
        }

        public int jsonLength() {
            String value = header(OipCodec.HEADER_LENGTH);
            return value == null ? -1 : Integer.parseInt(value);
        }
    }

    private final URI base;
    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;
    private byte[] body = new byte[64 * 1024];
    private int bodyLength;
    private final Map<String, String> headers = new LinkedHashMap<>();

    public RawHttp(URI base) {
        this(base, Duration.ofSeconds(60));
    }

    /** A connection whose reads give up after {@code readTimeout}: how a test tells an unanswered request. */
    public RawHttp(URI base, Duration readTimeout) {
        this.base = base;
        try {
            socket = new Socket();
            socket.setTcpNoDelay(true);
            socket.connect(new InetSocketAddress(base.getHost(), base.getPort()), 5000);
            socket.setSoTimeout((int) readTimeout.toMillis());
            in = new BufferedInputStream(socket.getInputStream(), 64 * 1024);
            out = socket.getOutputStream();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot connect to " + base, e);
        }
    }

    /** A complete POST (head and body) for an encoded OIP request. */
    public static byte[] post(URI base, String path, OipCodec.Encoded encoded) {
        return post(base, path, encoded, Map.of());
    }

    /** The same, with extra headers (a trace context, say). */
    public static byte[] post(URI base, String path, OipCodec.Encoded encoded, Map<String, String> extra) {
        Map<String, String> headers = new java.util.LinkedHashMap<>(encoded.hasBinary()
                ? Map.of("Content-Type", "application/octet-stream",
                        OipCodec.HEADER_LENGTH, Integer.toString(encoded.jsonLength()))
                : Map.of("Content-Type", "application/json"));
        headers.putAll(extra);
        return request("POST", base, path, headers, encoded.body());
    }

    /** A GET with no body. */
    public static byte[] get(URI base, String path) {
        return request("GET", base, path, Map.of(), null);
    }

    /**
     * Any request: the method, the path, extra headers, and a body (null: none) sent with its
     * Content-Length. Host is added here.
     */
    public static byte[] request(String method, URI base, String path, Map<String, String> extraHeaders, byte[] body) {
        StringBuilder head = new StringBuilder();
        head.append(method).append(' ').append(path).append(" HTTP/1.1\r\n");
        head.append("Host: ").append(base.getHost()).append(':').append(base.getPort()).append("\r\n");
        extraHeaders.forEach((name, value) -> head.append(name).append(": ").append(value).append("\r\n"));
        if (body != null) {
            head.append("Content-Length: ").append(body.length).append("\r\n");
        }
        head.append("\r\n");
        byte[] headBytes = head.toString().getBytes(StandardCharsets.US_ASCII);
        if (body == null) {
            return headBytes;
        }
        byte[] request = Arrays.copyOf(headBytes, headBytes.length + body.length);
        System.arraycopy(body, 0, request, headBytes.length, body.length);
        return request;
    }

    /** Sends a prepared request and reads the whole response; returns the status. */
    public int send(byte[] request) {
        try {
            write(request);
            return readResponse();
        } catch (IOException e) {
            throw new UncheckedIOException("request to " + base + " failed", e);
        }
    }

    /** Sends a prepared request and returns the whole response. */
    public Response exchange(byte[] request) {
        int status = send(request);
        return new Response(status, Map.copyOf(headers), Arrays.copyOf(body, bodyLength));
    }

    /** Writes bytes on the connection (all of them, before reading anything). */
    public void write(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    /** Reads the next response on the connection. */
    public Response read() {
        try {
            int status = readResponse();
            return new Response(status, Map.copyOf(headers), Arrays.copyOf(body, bodyLength));
        } catch (IOException e) {
            throw new UncheckedIOException("reading from " + base + " failed", e);
        }
    }

    /** A header of the last response (the name in any case), or null. */
    public String header(String name) {
        return headers.get(name.toLowerCase(Locale.ROOT));
    }

    /** Whether the last response said the server closes the connection after it ({@code Connection: close}). */
    public boolean closing() {
        String value = headers.get("connection");
        return value != null && value.toLowerCase(Locale.ROOT).contains("close");
    }

    /** The body of the last response. */
    public String bodyText() {
        return new String(body, 0, bodyLength, StandardCharsets.UTF_8);
    }

    /**
     * Whether the server closes the connection within the read timeout: a read sees the end of
     * the stream (or a reset); false when it is still open when the timeout passes.
     */
    public boolean closedByServer() {
        try {
            return in.read() == -1;
        } catch (java.net.SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return true;
        }
    }

    private int readResponse() throws IOException {
        String statusLine = readLine();
        if (!statusLine.startsWith("HTTP/1.1 ")) {
            throw new IOException("unexpected status line: " + statusLine);
        }
        int status = Integer.parseInt(statusLine.substring(9, 12));
        long contentLength = -1;
        boolean chunked = false;
        boolean close = false;
        headers.clear();
        String line;
        while (!(line = readLine()).isEmpty()) {
            int colon = line.indexOf(':');
            if (colon < 0) {
                continue;
            }
            String name = line.substring(0, colon).trim().toLowerCase(Locale.ROOT);
            String value = line.substring(colon + 1).trim();
            headers.merge(name, value, (a, b) -> a + ", " + b);
            if (name.equals("content-length")) {
                contentLength = Long.parseLong(value);
            } else if (name.equals("transfer-encoding") && value.toLowerCase(Locale.ROOT).contains("chunked")) {
                chunked = true;
            } else if (name.equals("connection") && value.toLowerCase(Locale.ROOT).contains("close")) {
                close = true;
            }
        }
        bodyLength = 0;
        if (status == 100) {
            return readResponse();
        }
        if (chunked) {
            while (true) {
                String size = readLine();
                int semicolon = size.indexOf(';');
                int chunk = Integer.parseInt((semicolon < 0 ? size : size.substring(0, semicolon)).trim(), 16);
                if (chunk == 0) {
                    while (!readLine().isEmpty()) {
                        // trailers
                    }
                    break;
                }
                readBody(chunk);
                readLine();
            }
        } else if (contentLength >= 0) {
            readBody((int) contentLength);
        } else if (close) {
            byte[] rest = in.readAllBytes();
            readInto(rest);
        } else if (!List.of(204, 304).contains(status)) {
            throw new IOException("response without Content-Length or chunked framing");
        }
        return status;
    }

    private void readInto(byte[] bytes) {
        if (bodyLength + bytes.length > body.length) {
            body = Arrays.copyOf(body, Math.max(body.length * 2, bodyLength + bytes.length));
        }
        System.arraycopy(bytes, 0, body, bodyLength, bytes.length);
        bodyLength += bytes.length;
    }

    private void readBody(int length) throws IOException {
        if (bodyLength + length > body.length) {
            body = Arrays.copyOf(body, Math.max(body.length * 2, bodyLength + length));
        }
        int read = in.readNBytes(body, bodyLength, length);
        if (read != length) {
            throw new IOException("connection closed after " + read + " of " + length + " body bytes");
        }
        bodyLength += length;
    }

    private final ByteArrayOutputStream lineBuffer = new ByteArrayOutputStream(128);

    private String readLine() throws IOException {
        lineBuffer.reset();
        int b;
        while ((b = in.read()) != -1) {
            if (b == '\n') {
                int n = lineBuffer.size();
                byte[] bytes = lineBuffer.toByteArray();
                return new String(bytes, 0, n > 0 && bytes[n - 1] == '\r' ? n - 1 : n, StandardCharsets.US_ASCII);
            }
            lineBuffer.write(b);
        }
        throw new IOException("connection closed by the server");
    }

    @Override
    public void close() {
        try {
            socket.close();
        } catch (IOException e) {
            // closing anyway
        }
    }
}
