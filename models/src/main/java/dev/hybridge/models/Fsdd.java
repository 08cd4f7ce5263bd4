package dev.hybridge.models;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * The Free Spoken Digit Dataset (Z. Jackson et al., CC BY-SA 4.0) as the demo models take it:
 * mono 8 kHz PCM16 WAV files named {@code {digit}_{speaker}_{index}.wav}; index 0-4 is the
 * official test split. Each clip becomes one second of FP32 audio (PCM16 / 32768), zero-padded
 * at the end or cropped.
 */
public final class Fsdd {

    public static final int SAMPLE_RATE = 8000;
    public static final int SAMPLES = 8000;

    /** One recording. */
    public record Clip(String file, int digit, String speaker, int index, float[] audio) {
        public boolean isTest() {
            return index < 5;
        }
    }

    private Fsdd() {
    }

    /** {@code ../shared/datasets/fsdd/recordings} beside the repository root, or {@code -Dfsdd.recordings}. */
    public static Path recordings(Path repositoryRoot) {
        String configured = System.getProperty("fsdd.recordings");
        if (configured != null) {
            return Path.of(configured);
        }
        return repositoryRoot.resolveSibling("shared").resolve("datasets/fsdd/recordings");
    }

    /** The official test split (index 0-4), in file-name order. */
    public static List<Clip> testSplit(Path folder) {
        return load(folder).stream().filter(Clip::isTest).toList();
    }

    public static List<Clip> load(Path folder) {
        if (!Files.isDirectory(folder)) {
            throw new IllegalStateException("FSDD recordings not found at " + folder.toAbsolutePath()
                    + " (set -Dfsdd.recordings to the folder of WAV files)");
        }
        List<Clip> clips = new ArrayList<>();
        try (Stream<Path> files = Files.list(folder)) {
            for (Path file : files.filter(f -> f.toString().endsWith(".wav")).sorted().toList()) {
                String[] parts = file.getFileName().toString().replace(".wav", "").split("_");
                clips.add(new Clip(file.getFileName().toString(), Integer.parseInt(parts[0]), parts[1],
                        Integer.parseInt(parts[2]), oneSecond(readPcm16(file))));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return clips;
    }

    static float[] oneSecond(short[] pcm) {
        float[] audio = new float[SAMPLES];
        for (int i = 0; i < Math.min(SAMPLES, pcm.length); i++) {
            audio[i] = pcm[i] / 32768f;
        }
        return audio;
    }

    /** Reads a mono 16-bit PCM WAV at 8 kHz; anything else is refused with the file's name. */
    static short[] readPcm16(Path file) throws IOException {
        ByteBuffer wav = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        if (wav.remaining() < 12 || wav.getInt(0) != 0x46464952 /* RIFF */ || wav.getInt(8) != 0x45564157 /* WAVE */) {
            throw new IOException(file + ": not a RIFF/WAVE file");
        }
        int position = 12;
        boolean formatChecked = false;
        while (position + 8 <= wav.limit()) {
            int id = wav.getInt(position);
            int size = wav.getInt(position + 4);
            int body = position + 8;
            if (id == 0x20746d66) { // "fmt "
                int format = wav.getShort(body) & 0xFFFF;
                int channels = wav.getShort(body + 2);
                int rate = wav.getInt(body + 4);
                int bits = wav.getShort(body + 14);
                if (format != 1 || channels != 1 || rate != SAMPLE_RATE || bits != 16) {
                    throw new IOException(file + ": expected mono 16-bit PCM at 8000 Hz but found format " + format
                            + ", " + channels + " channels, " + rate + " Hz, " + bits + " bits");
                }
                formatChecked = true;
            } else if (id == 0x61746164) { // "data"
                if (!formatChecked) {
                    throw new IOException(file + ": data before fmt chunk");
                }
                int length = Math.min(size, wav.limit() - body) / 2;
                short[] pcm = new short[length];
                wav.position(body);
                wav.asShortBuffer().get(pcm);
                return pcm;
            }
            position = body + size + (size & 1);
        }
        throw new IOException(file + ": no data chunk");
    }
}
