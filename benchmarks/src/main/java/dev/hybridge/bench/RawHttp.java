package dev.hybridge.bench;

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
import java.util.Locale;

/**
 * A minimal HTTP/1.1 keep-alive client on one blocking socket, for load generation where the
 * client shares the CPUs with the server: the request is built once, and a call costs a write
 * and a read. java.net.http (behind {@code OipClient}) spends about a millisecond of CPU per
 * call here, which on a 2-core machine takes CPU from the server being measured.
 *
 * <p>Understands only what the OIP server sends: a status line, headers, and a body framed by
 * Content-Length or chunked. One instance per thread.
 */
final class RawHttp implements AutoCloseable {

    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;
    private byte[] body = new byte[64 * 1024];
    private int bodyLength;

    RawHttp(URI base) {
        try {
            socket = new Socket();
            socket.setTcpNoDelay(true);
            socket.connect(new InetSocketAddress(base.getHost(), base.getPort()), 5000);
            socket.setSoTimeout(60_000);
            in = new BufferedInputStream(socket.getInputStream(), 64 * 1024);
            out = socket.getOutputStream();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot connect to " + base, e);
        }
    }

    /** A complete POST (head and body) for an encoded OIP request. */
    static byte[] post(URI base, String path, OipCodec.Encoded encoded) {
        StringBuilder head = new StringBuilder();
        head.append("POST ").append(path).append(" HTTP/1.1\r\n");
        head.append("Host: ").append(base.getHost()).append(':').append(base.getPort()).append("\r\n");
        if (encoded.hasBinary()) {
            head.append("Content-Type: application/octet-stream\r\n");
            head.append(OipCodec.HEADER_LENGTH).append(": ").append(encoded.jsonLength()).append("\r\n");
        } else {
            head.append("Content-Type: application/json\r\n");
        }
        head.append("Content-Length: ").append(encoded.body().length).append("\r\n\r\n");
        byte[] headBytes = head.toString().getBytes(StandardCharsets.US_ASCII);
        byte[] request = new byte[headBytes.length + encoded.body().length];
        System.arraycopy(headBytes, 0, request, 0, headBytes.length);
        System.arraycopy(encoded.body(), 0, request, headBytes.length, encoded.body().length);
        return request;
    }

    /** Sends a prepared request and reads the whole response; returns the status. */
    int send(byte[] request) {
        try {
            out.write(request);
            out.flush();
            return readResponse();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The body of the last response. */
    String bodyText() {
        return new String(body, 0, bodyLength, StandardCharsets.UTF_8);
    }

    private int readResponse() throws IOException {
        String statusLine = readLine();
        if (!statusLine.startsWith("HTTP/1.1 ")) {
            throw new IOException("unexpected status line: " + statusLine);
        }
        int status = Integer.parseInt(statusLine.substring(9, 12));
        long contentLength = -1;
        boolean chunked = false;
        String line;
        while (!(line = readLine()).isEmpty()) {
            int colon = line.indexOf(':');
            if (colon < 0) {
                continue;
            }
            String name = line.substring(0, colon).trim().toLowerCase(Locale.ROOT);
            String value = line.substring(colon + 1).trim();
            if (name.equals("content-length")) {
                contentLength = Long.parseLong(value);
            } else if (name.equals("transfer-encoding") && value.toLowerCase(Locale.ROOT).contains("chunked")) {
                chunked = true;
            }
        }
        bodyLength = 0;
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
        } else {
            throw new IOException("response without Content-Length or chunked framing");
        }
        return status;
    }

    private void readBody(int length) throws IOException {
        if (bodyLength + length > body.length) {
            body = java.util.Arrays.copyOf(body, Math.max(body.length * 2, bodyLength + length));
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
