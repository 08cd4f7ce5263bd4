package dev.hybridge.bench;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** nginx in the foreground on a free loopback port, as a benchmark's peer (Debian's {@code nginx-light}). */
record Nginx(Process process, URI base, Path prefix) implements AutoCloseable {

    /** One worker process proxying everything to {@code worker} over kept-alive connections. */
    static Nginx proxy(Path work, URI worker) throws Exception {
        return start(work, 1, """
                  upstream worker { server %s:%d; keepalive 32; }
                  server {
                    listen 127.0.0.1:%%d;
                    client_max_body_size 16m;
                    client_body_buffer_size 1m;
                    location / {
                      proxy_pass http://worker;
                      proxy_http_version 1.1;
                      proxy_set_header Connection "";
                      proxy_buffers 16 64k;
                    }
                  }
                """.formatted(worker.getHost(), worker.getPort()));
    }

    /**
     * {@code workers} worker processes answering every request at once as the gateway's door
     * refuses one: 503, {@code Retry-After: 1}, {@code Hybridge-Reason: overloaded}, a JSON error;
     * the body is discarded unread (as the door does), the connection kept alive.
     */
    static Nginx refusing(Path work, int workers) throws Exception {
        return start(work, workers, """
                  server {
                    listen 127.0.0.1:%d;
                    client_max_body_size 16m;
                    keepalive_requests 1000000;
                    location / {
                      add_header Retry-After 1 always;
                      add_header Hybridge-Reason overloaded always;
                      default_type application/json;
                      return 503 '{"error":"overloaded: try again later"}';
                    }
                  }
                """);
    }

    /** Whether nginx is on the PATH. */
    static boolean available() {
        try {
            Process p = new ProcessBuilder("nginx", "-v").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** {@code server} has one {@code %d}: the port. */
    private static Nginx start(Path work, int workers, String server) throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Path prefix = Files.createDirectories(work.resolve("nginx"));
        Files.createDirectories(prefix.resolve("logs"));
        Path conf = prefix.resolve("nginx.conf");
        Files.writeString(conf, """
                worker_processes %d;
                error_log %s/logs/error.log warn;
                pid %s/nginx.pid;
                events { worker_connections 1024; }
                http {
                  access_log off;
                  client_body_temp_path %s/body;
                  proxy_temp_path %s/proxy;
                %s}
                """.formatted(workers, prefix, prefix, prefix, prefix, server.formatted(port)));
        Process process = new ProcessBuilder("nginx", "-p", prefix.toString(), "-c", conf.toString(), "-g",
                "daemon off;").redirectErrorStream(true).redirectOutput(prefix.resolve("logs/stdout.log").toFile())
                .start();
        URI base = URI.create("http://127.0.0.1:" + port);
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (System.nanoTime() < deadline) {
            try (java.net.Socket s = new java.net.Socket("127.0.0.1", port)) {
                return new Nginx(process, base, prefix);
            } catch (IOException notYet) {
                Thread.sleep(50);
            }
        }
        process.destroy();
        throw new IllegalStateException("nginx did not start: " + Files.readString(prefix.resolve("logs/stdout.log")));
    }

    /** The master and its workers. */
    List<Long> pids() {
        List<Long> pids = new ArrayList<>();
        pids.add(process.pid());
        process.toHandle().children().forEach(c -> pids.add(c.pid()));
        return pids;
    }

    String version() {
        try {
            Process p = new ProcessBuilder("nginx", "-v").redirectErrorStream(true).start();
            return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim()
                    .replace("nginx version: ", "");
        } catch (IOException e) {
            return "?";
        }
    }

    @Override
    public void close() {
        process.destroy();
    }
}
