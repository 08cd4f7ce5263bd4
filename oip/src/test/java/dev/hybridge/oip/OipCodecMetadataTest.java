package dev.hybridge.oip;

import static dev.hybridge.oip.OipTestSupport.badRequestMessage;
import static dev.hybridge.oip.OipTestSupport.json;
import static dev.hybridge.oip.OipTestSupport.text;
import static dev.hybridge.oip.OipTestSupport.utf8;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import tools.jackson.core.JsonParser;
import tools.jackson.core.JsonToken;
import tools.jackson.core.ObjectReadContext;
import tools.jackson.core.json.JsonFactory;

/** Model metadata, server metadata and error bodies. */
class OipCodecMetadataTest {

    private final OipCodec codec = new OipCodec();

    @Test
    void modelMetadataRoundTrips() {
        ModelMetadata metadata = new ModelMetadata("m\u00e9", List.of("1", "2"), "onnxruntime_onnx",
                List.of(new TensorSpec("in", Datatype.FP16, new long[] {-1, 3, 224, 224}),
                        new TensorSpec("mask", Datatype.BOOL, new long[0])),
                List.of(new TensorSpec("out", Datatype.UINT64, new long[] {-1, -1})));

        byte[] body = codec.encodeModelMetadata(metadata, Map.of("hybridge.tier", "edge"));
        ModelMetadata back = codec.decodeModelMetadata(body);

        assertThat(back.name()).isEqualTo("m\u00e9");
        assertThat(back.versions()).containsExactly("1", "2");
        assertThat(back.platform()).isEqualTo("onnxruntime_onnx");
        assertThat(back.inputs()).containsExactlyElementsOf(metadata.inputs());
        assertThat(back.outputs()).containsExactlyElementsOf(metadata.outputs());
        assertThat(back.input("in").isDynamic(0)).isTrue();
        assertThat(back.input("in").isDynamic(1)).isFalse();
        assertThat(text(body)).contains("\"parameters\":{\"hybridge.tier\":\"edge\"}")
                .contains("{\"name\":\"in\",\"datatype\":\"FP16\",\"shape\":[-1,3,224,224]}");
    }

    @Test
    void modelMetadataWithoutVersionsPlatformOrParameters() {
        ModelMetadata metadata = new ModelMetadata("m", List.of(), null, List.of(), List.of());
        byte[] body = codec.encodeModelMetadata(metadata, Map.of());
        assertThat(text(body)).doesNotContain("parameters");
        ModelMetadata back = codec.decodeModelMetadata(body);
        assertThat(back.name()).isEqualTo("m");
        assertThat(back.platform()).isNull();
        assertThat(back.versions()).isEmpty();
        assertThat(back.inputs()).isEmpty();
    }

    @Test
    void decodeModelMetadataRejectsBadBodies() {
        assertThat(badRequestMessage(() -> codec.decodeModelMetadata(utf8("[]")))).contains("the model metadata must be a JSON object");
        assertThat(badRequestMessage(() -> codec.decodeModelMetadata(utf8("{\"name\":")))).contains("malformed JSON");
        assertThat(badRequestMessage(() -> codec.decodeModelMetadata(utf8(json(
                "{'name':'m','inputs':[{'name':'a','datatype':'fp32','shape':[1]}]}")))))
                .contains("unknown datatype 'fp32'");
        assertThat(badRequestMessage(() -> codec.decodeModelMetadata(utf8(json("{'name':'m','inputs':[1]}")))))
                .contains("inputs must hold objects");
    }

    @Test
    void modelMetadataLookupByName() {
        ModelMetadata metadata = new ModelMetadata("m", List.of(), "p",
                List.of(new TensorSpec("a", Datatype.INT8, new long[] {1})), List.of(new TensorSpec("b", Datatype.INT8, new long[] {1})));
        assertThat(metadata.input("a")).isNotNull();
        assertThat(metadata.input("b")).isNull();
        assertThat(metadata.output("b")).isNotNull();
        assertThat(metadata.output("a")).isNull();
    }

    @Test
    void serverMetadataEncodesItsFields() {
        byte[] body = codec.encodeServerMetadata(new ServerMetadata("hybridge", "0.1.0", List.of("binary_tensor_data", "model_repository")));

        Map<String, Object> fields = new LinkedHashMap<>();
        try (JsonParser p = JsonFactory.builder().build().createParser(ObjectReadContext.empty(), body)) {
            assertThat(p.nextToken()).isEqualTo(JsonToken.START_OBJECT);
            while (p.nextToken() == JsonToken.PROPERTY_NAME) {
                String name = p.currentName();
                if (p.nextToken() == JsonToken.START_ARRAY) {
                    List<String> values = new ArrayList<>();
                    while (p.nextToken() != JsonToken.END_ARRAY) {
                        values.add(p.getString());
                    }
                    fields.put(name, values);
                } else {
                    fields.put(name, p.getString());
                }
            }
            assertThat(p.nextToken()).isNull();
        }
        assertThat(fields).containsExactly(Map.entry("name", "hybridge"), Map.entry("version", "0.1.0"),
                Map.entry("extensions", List.of("binary_tensor_data", "model_repository")));
    }

    @Test
    void errorBodiesRoundTrip() {
        for (String message : List.of("plain", "tensor 'x': \"quoted\" \\ back\nslash \u2713 \uD83D\uDE00", "")) {
            byte[] body = codec.encodeError(message);
            assertThat(codec.decodeError(body)).isEqualTo(message);
        }
        assertThat(text(codec.encodeError("boom"))).isEqualTo("{\"error\":\"boom\"}");
    }

    @Test
    void decodeErrorFindsTheErrorAmongOtherMembers() {
        assertThat(codec.decodeError(utf8(json("{'code':5,'details':{'a':[1]},'error':'bad'}")))).isEqualTo("bad");
    }

    @Test
    void decodeErrorReturnsNullForBodiesThatAreNotErrors() {
        assertThat(codec.decodeError(utf8("[]"))).isNull();
        assertThat(codec.decodeError(utf8(""))).isNull();
        assertThat(codec.decodeError(utf8("{\"error\":"))).isNull();
        assertThat(codec.decodeError(utf8("not json"))).isNull();
        assertThat(codec.decodeError(utf8(json("{'error':42}")))).isNull();
        assertThat(codec.decodeError(utf8(json("{'message':'x'}")))).isNull();
        assertThat(codec.decodeError(utf8("[".repeat(10_000)))).isNull();
    }
}
