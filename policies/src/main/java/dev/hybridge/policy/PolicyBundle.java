package dev.hybridge.policy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

/**
 * A policy set as files: each file's name and text, as read from a policy folder or as the
 * gateway sends it to edge agents. Its {@link #etag()} names the content, so that an agent asks
 * for the set with {@code If-None-Match} and an unchanged set costs one small round trip. Names
 * are checked (a policy file's name, no path), so that a set written to disk stays in its folder.
 *
 * <p>As JSON: {@code {"etag": "...", "files": {"digits.yaml": "version: 1\n..."}}}.
 */
public record PolicyBundle(Map<String, String> files) {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    public PolicyBundle {
        for (Map.Entry<String, String> file : files.entrySet()) {
            String name = file.getKey();
            if (name.contains("/") || name.contains("\\") || name.startsWith(".") || name.indexOf('\0') >= 0
                    || !(name.endsWith(".yaml") || name.endsWith(".yml"))) {
                throw new IllegalArgumentException(name + ": not a policy file's name (a file name, no folder, ending"
                        + " .yaml or .yml)");
            }
            if (file.getValue().length() > PolicyLoader.MAX_FILE_BYTES) {
                throw new IllegalArgumentException(name + ": larger than " + PolicyLoader.MAX_FILE_BYTES + " bytes");
            }
        }
        files = java.util.Collections.unmodifiableMap(new TreeMap<>(files));
    }

    /** The policy files (*.yaml, *.yml) directly in {@code folder}. */
    public static PolicyBundle read(Path folder) throws PolicyException {
        if (!Files.isDirectory(folder)) {
            throw new PolicyException(List.of(folder + ": not a folder"));
        }
        Map<String, String> files = new TreeMap<>();
        List<String> problems = new ArrayList<>();
        try (Stream<Path> list = Files.list(folder)) {
            for (Path file : list.filter(Files::isRegularFile).sorted().toList()) {
                String name = file.getFileName().toString();
                if (!name.endsWith(".yaml") && !name.endsWith(".yml")) {
                    continue;
                }
                try {
                    if (Files.size(file) > PolicyLoader.MAX_FILE_BYTES) {
                        problems.add(name + ": larger than " + PolicyLoader.MAX_FILE_BYTES + " bytes; is this a policy file?");
                        continue;
                    }
                    if (!name.startsWith(".")) {
                        files.put(name, Files.readString(file));
                    }
                } catch (IOException e) {
                    problems.add(name + ": cannot read: " + e.getMessage());
                }
            }
        } catch (IOException e) {
            throw new PolicyException(List.of(folder + ": cannot list: " + e.getMessage()));
        }
        if (!problems.isEmpty()) {
            throw new PolicyException(problems);
        }
        return new PolicyBundle(files);
    }

    /** This set with {@code other}'s files added, a file of the same name replaced. */
    public PolicyBundle overlaid(PolicyBundle other) {
        Map<String, String> merged = new TreeMap<>(files);
        merged.putAll(other.files);
        return new PolicyBundle(merged);
    }

    /** This set without one file. */
    public PolicyBundle without(String fileName) {
        Map<String, String> rest = new TreeMap<>(files);
        rest.remove(fileName);
        return new PolicyBundle(rest);
    }

    /** A name for the content: the same files give the same tag. */
    public String etag() {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            for (Map.Entry<String, String> file : files.entrySet()) {
                sha.update(file.getKey().getBytes(StandardCharsets.UTF_8));
                sha.update((byte) 0);
                sha.update(file.getValue().getBytes(StandardCharsets.UTF_8));
                sha.update((byte) 0);
            }
            return HexFormat.of().formatHex(sha.digest(), 0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    public byte[] toJson() {
        ObjectNode root = JSON.createObjectNode();
        root.put("etag", etag());
        ObjectNode out = root.putObject("files");
        files.forEach(out::put);
        return JSON.writeValueAsBytes(root);
    }

    /** A set as {@link #toJson()} writes it; a {@link PolicyException} for anything else. */
    public static PolicyBundle fromJson(byte[] json) throws PolicyException {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JacksonException e) {
            throw new PolicyException(List.of("the policy set is not valid JSON: " + e.getOriginalMessage()));
        }
        JsonNode files = root == null ? null : root.get("files");
        if (files == null || !files.isObject()) {
            throw new PolicyException(List.of("the policy set has no \"files\" object"));
        }
        Map<String, String> out = new TreeMap<>();
        for (Map.Entry<String, JsonNode> file : files.properties()) {
            if (!file.getValue().isString()) {
                throw new PolicyException(List.of(file.getKey() + ": its text must be a JSON string"));
            }
            out.put(file.getKey(), file.getValue().asString());
        }
        try {
            return new PolicyBundle(out);
        } catch (IllegalArgumentException e) {
            throw new PolicyException(List.of(e.getMessage()));
        }
    }

    /** Writes every file into {@code folder} (made if missing). */
    public void writeTo(Path folder) throws IOException {
        Files.createDirectories(folder);
        for (Map.Entry<String, String> file : files.entrySet()) {
            Files.writeString(folder.resolve(file.getKey()), file.getValue());
        }
    }
}
