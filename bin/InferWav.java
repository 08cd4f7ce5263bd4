import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Sends one WAV recording (mono, 16-bit PCM, 8 kHz) to an OIP model as one second of FP32 audio,
 * using the binary tensor extension, and prints the answer's JSON part. No dependencies:
 *
 *   java bin/InferWav.java http://127.0.0.1:8081 digits-edge ../shared/datasets/fsdd/recordings/7_george_3.wav
 */
public class InferWav {
    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: java bin/InferWav.java <base-url> <model> <file.wav>");
            System.exit(2);
        }
        ByteBuffer wav = ByteBuffer.wrap(Files.readAllBytes(Path.of(args[2]))).order(ByteOrder.LITTLE_ENDIAN);
        int position = 12;
        short[] pcm = null;
        while (position + 8 <= wav.limit() && pcm == null) {
            int id = wav.getInt(position);
            int size = wav.getInt(position + 4);
            if (id == 0x61746164) { // "data"
                pcm = new short[Math.min(size, wav.limit() - position - 8) / 2];
                wav.position(position + 8);
                wav.asShortBuffer().get(pcm);
            }
            position += 8 + size + (size & 1);
        }
        if (pcm == null) {
            throw new IllegalArgumentException(args[2] + ": no data chunk; expected a PCM WAV file");
        }
        ByteBuffer samples = ByteBuffer.allocate(8000 * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < 8000; i++) {
            samples.putFloat(i < pcm.length ? pcm[i] / 32768f : 0f); // one second: zero-padded or cropped
        }
        byte[] json = ("{\"id\":\"" + Path.of(args[2]).getFileName() + "\",\"inputs\":[{\"name\":\"audio\",\"datatype\":\"FP32\","
                + "\"shape\":[1,8000],\"parameters\":{\"binary_data_size\":32000}}],\"outputs\":[{\"name\":\"probs\"}]}")
                .getBytes(StandardCharsets.UTF_8);
        byte[] body = ByteBuffer.allocate(json.length + 32000).put(json).put(samples.array()).array();
        HttpRequest request = HttpRequest.newBuilder(URI.create(args[0] + "/v2/models/" + args[1] + "/infer"))
                .header("Inference-Header-Content-Length", Integer.toString(json.length))
                .header("Content-Type", "application/octet-stream")
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build();
        HttpResponse<String> response = HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.ofString());
        System.out.println(response.statusCode() + " " + response.body());
    }
}
