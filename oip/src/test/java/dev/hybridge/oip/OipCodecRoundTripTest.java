package dev.hybridge.oip;

import static dev.hybridge.oip.OipTestSupport.assertSameTensor;
import static dev.hybridge.oip.OipTestSupport.canonical;
import static dev.hybridge.oip.OipTestSupport.extremeTensors;
import static dev.hybridge.oip.OipTestSupport.json;
import static dev.hybridge.oip.OipTestSupport.oneInput;
import static dev.hybridge.oip.OipTestSupport.text;
import static dev.hybridge.oip.OipTestSupport.utf8;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/** Every datatype through JSON and through the binary extension, requests and responses. */
class OipCodecRoundTripTest {

    private final OipCodec codec = new OipCodec();

    static Stream<Tensor> tensors() {
        return extremeTensors().stream();
    }

    @Test
    void extremeTensorsCoverEveryDatatype() {
        assertThat(extremeTensors()).extracting(Tensor::datatype).containsExactlyInAnyOrder(Datatype.values());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("tensors")
    void requestRoundTripsThroughJson(Tensor tensor) {
        OipCodec.Encoded encoded = codec.encodeRequest(new InferRequest(List.of(tensor)), false);

        assertThat(encoded.hasBinary()).isFalse();
        assertThat(encoded.jsonLength()).isEqualTo(-1);
        InferRequest decoded = codec.decodeRequest(encoded.body(), encoded.jsonLength());
        assertThat(decoded.inputs()).hasSize(1);
        assertSameTensor(decoded.inputs().get(0), tensor);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("tensors")
    void requestRoundTripsThroughBinary(Tensor tensor) {
        OipCodec.Encoded encoded = codec.encodeRequest(new InferRequest(List.of(tensor)), true);

        assertThat(encoded.hasBinary()).isTrue();
        byte[] binary = BinaryTensors.encode(tensor);
        assertThat(encoded.body().length).isEqualTo(encoded.jsonLength() + binary.length);
        String jsonPart = text(Arrays.copyOf(encoded.body(), encoded.jsonLength()));
        assertThat(jsonPart).contains("\"binary_data_size\":" + binary.length).doesNotContain("\"data\"");

        InferRequest decoded = codec.decodeRequest(encoded.body(), encoded.jsonLength());
        Tensor t = decoded.inputs().get(0);
        assertSameTensor(t, tensor);
        assertThat(t.parameters()).as("binary_data_size is consumed, not passed on").isEmpty();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("tensors")
    void responseRoundTripsThroughJson(Tensor tensor) {
        InferResponse response = new InferResponse("m", "7", "req-1", Map.of(), List.of(tensor));
        OipCodec.Encoded encoded = codec.encodeResponse(response, new InferRequest(List.of()));

        assertThat(encoded.hasBinary()).isFalse();
        InferResponse decoded = codec.decodeResponse(encoded.body(), encoded.jsonLength());
        assertThat(decoded.modelName()).isEqualTo("m");
        assertThat(decoded.modelVersion()).isEqualTo("7");
        assertThat(decoded.id()).isEqualTo("req-1");
        assertSameTensor(decoded.output(tensor.name()), tensor);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("tensors")
    void responseRoundTripsThroughBinary(Tensor tensor) {
        InferResponse response = new InferResponse("m", null, null, Map.of(), List.of(tensor));
        InferRequest request = new InferRequest(null, Map.of(OipCodec.BINARY_DATA_OUTPUT, true), List.of(), List.of());
        OipCodec.Encoded encoded = codec.encodeResponse(response, request);

        assertThat(encoded.hasBinary()).isTrue();
        InferResponse decoded = codec.decodeResponse(encoded.body(), encoded.jsonLength());
        assertSameTensor(decoded.output(tensor.name()), tensor);
        assertThat(decoded.output(tensor.name()).parameters()).isEmpty();
        assertThat(decoded.modelVersion()).isNull();
        assertThat(decoded.id()).isNull();
    }

    @Test
    void allDatatypesTogetherInOneRequestAndOneResponseBothWays() {
        List<Tensor> all = extremeTensors();
        for (boolean binary : new boolean[] {false, true}) {
            OipCodec.Encoded req = codec.encodeRequest(new InferRequest(all), binary);
            List<Tensor> back = codec.decodeRequest(req.body(), req.jsonLength()).inputs();
            assertThat(back).hasSameSizeAs(all);
            for (int i = 0; i < all.size(); i++) {
                assertSameTensor(back.get(i), all.get(i));
            }
        }
        InferRequest wantsBinary = new InferRequest(null, Map.of(OipCodec.BINARY_DATA_OUTPUT, true), List.of(), List.of());
        OipCodec.Encoded res = codec.encodeResponse(new InferResponse("m", null, null, Map.of(), all), wantsBinary);
        InferResponse back = codec.decodeResponse(res.body(), res.jsonLength());
        for (Tensor t : all) {
            assertSameTensor(back.output(t.name()), t);
        }
    }

    @ParameterizedTest
    @EnumSource(Datatype.class)
    void emptyTensorsRoundTripBothWays(Datatype datatype) {
        Object empty = java.lang.reflect.Array.newInstance(datatype.arrayType().getComponentType(), 0);
        Tensor tensor = new Tensor("e", datatype, new long[] {0, 3}, empty);
        for (boolean binary : new boolean[] {false, true}) {
            OipCodec.Encoded encoded = codec.encodeRequest(new InferRequest(List.of(tensor)), binary);
            assertSameTensor(codec.decodeRequest(encoded.body(), encoded.jsonLength()).inputs().get(0), tensor);
        }
    }

    @Test
    void scalarTensorWithEmptyShapeRoundTrips() {
        Tensor scalar = new Tensor("s", Datatype.INT64, new long[0], new long[] {42});
        OipCodec.Encoded encoded = codec.encodeRequest(new InferRequest(List.of(scalar)), false);
        assertThat(text(encoded.body())).contains("\"shape\":[]");
        assertSameTensor(codec.decodeRequest(encoded.body(), -1).inputs().get(0), scalar);
    }

    // ------------------------------------------------------------------ the wire format itself

    @Test
    void unsignedValuesAreWrittenAsTheirUnsignedDecimal() {
        List<Tensor> tensors = List.of(
                new Tensor("u8", Datatype.UINT8, new long[] {1}, OipTestSupport.bytes(255)),
                new Tensor("u16", Datatype.UINT16, new long[] {1}, new short[] {(short) 0xFFFF}),
                new Tensor("u32", Datatype.UINT32, new long[] {1}, new int[] {-1}),
                new Tensor("u64", Datatype.UINT64, new long[] {2}, new long[] {-1L, Long.MIN_VALUE}),
                new Tensor("i64", Datatype.INT64, new long[] {1}, new long[] {Long.MIN_VALUE}));
        String body = text(codec.encodeRequest(new InferRequest(tensors), false).body());

        assertThat(body)
                .contains("\"data\":[255]")
                .contains("\"data\":[65535]")
                .contains("\"data\":[4294967295]")
                .contains("\"data\":[18446744073709551615,9223372036854775808]")
                .contains("\"data\":[-9223372036854775808]");
    }

    static Stream<Arguments> literalElements() {
        return Stream.of(
                Arguments.of("UINT8", "[0, 255]", OipTestSupport.bytes(0, -1)),
                Arguments.of("UINT16", "[65535]", new short[] {-1}),
                Arguments.of("UINT32", "[4294967295, 2147483648]", new int[] {-1, Integer.MIN_VALUE}),
                Arguments.of("UINT64", "[18446744073709551615, 9223372036854775808, 9223372036854775807]",
                        new long[] {-1L, Long.MIN_VALUE, Long.MAX_VALUE}),
                Arguments.of("INT8", "[-128, 127]", OipTestSupport.bytes(-128, 127)),
                Arguments.of("INT16", "[-32768, 32767]", new short[] {Short.MIN_VALUE, Short.MAX_VALUE}),
                Arguments.of("INT32", "[-2147483648, 2147483647]", new int[] {Integer.MIN_VALUE, Integer.MAX_VALUE}),
                Arguments.of("INT64", "[-9223372036854775808, 9223372036854775807, -0]",
                        new long[] {Long.MIN_VALUE, Long.MAX_VALUE, 0}),
                Arguments.of("BOOL", "[true, false]", new boolean[] {true, false}),
                Arguments.of("FP32", "[1, -3, 2.5, -0.0, 1.4E-45, 3.4028235E38]",
                        new float[] {1f, -3f, 2.5f, -0f, Float.MIN_VALUE, Float.MAX_VALUE}),
                // just below the halfway point between 1+2^-23 and 1+2^-22: a float parsed by way of
                // double would round twice and land on 1+2^-22
                Arguments.of("FP32", "[1.00000017881393432617187499]", new float[] {Float.intBitsToFloat(0x3F800001)}),
                Arguments.of("FP64", "[1, -0.0, 4.9E-324, 1.7976931348623157E308, 0.1]",
                        new double[] {1d, -0d, Double.MIN_VALUE, Double.MAX_VALUE, 0.1}),
                Arguments.of("FP16", "[1, -2, 65504, -0.0, 5.9604645E-8, 0.1]",
                        new short[] {0x3C00, (short) 0xC000, 0x7BFF, (short) 0x8000, 0x0001, 0x2E66}),
                Arguments.of("BF16", "[1, -2, 0.1, -0.0]", new short[] {0x3F80, (short) 0xC000, 0x3DCD, (short) 0x8000}),
                Arguments.of("BYTES", "['', 'abc', '\\u00e9\\u2713', '\u65e5', 'a\\\"b']",
                        new byte[][] {new byte[0], utf8("abc"), utf8("\u00e9\u2713"), utf8("\u65e5"), utf8("a\"b")}));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("literalElements")
    void decodesLiteralElementsIntoTheirBits(String datatype, String data, Object expected) {
        int count = java.lang.reflect.Array.getLength(expected);
        byte[] body = oneInput("'name':'x','datatype':'" + datatype + "','shape':[" + count + "],'data':" + data);

        Tensor t = codec.decodeRequest(body, -1).inputs().get(0);

        assertThat(t.datatype()).isEqualTo(Datatype.valueOf(datatype));
        assertThat(canonical(t.data())).isEqualTo(canonical(expected));
    }

    @Test
    void binaryPartIsLittleEndianInTensorOrder() {
        Tensor a = new Tensor("a", Datatype.INT32, new long[] {2}, new int[] {1, -2});
        Tensor b = new Tensor("b", Datatype.BYTES, new long[] {1}, new byte[][] {utf8("hi")});
        Tensor c = new Tensor("c", Datatype.UINT16, new long[] {1}, new short[] {0x0102});
        OipCodec.Encoded encoded = codec.encodeRequest(new InferRequest(List.of(a, b, c)), true);

        byte[] binary = Arrays.copyOfRange(encoded.body(), encoded.jsonLength(), encoded.body().length);
        assertThat(binary).containsExactly(OipTestSupport.bytes(
                1, 0, 0, 0, 0xFE, 0xFF, 0xFF, 0xFF, // a: 1, -2
                2, 0, 0, 0, 'h', 'i',               // b: length prefix, bytes
                0x02, 0x01));                       // c: 0x0102
        assertThat(text(Arrays.copyOf(encoded.body(), encoded.jsonLength())))
                .contains("\"name\":\"a\"", "\"binary_data_size\":8", "\"binary_data_size\":6", "\"binary_data_size\":2");
    }

    // ------------------------------------------------------------- everything around the tensors

    @Test
    void requestIdParametersAndRequestedOutputsRoundTrip() {
        Map<String, Object> params = new LinkedHashMap<>();
        params.put("s", "text \u2713");
        params.put("n", 42L);
        params.put("neg", -7L);
        params.put("d", 2.5);
        params.put("t", true);
        params.put("f", false);
        Map<String, Object> tensorParams = Map.of("content_type", "str");
        Tensor in = new Tensor("x", Datatype.FP32, new long[] {1}, new float[] {1f}, tensorParams);
        InferRequest request = new InferRequest("id-\u00e9", params, List.of(in), List.of(
                new InferRequest.RequestedOutput("o1", Map.of(OipCodec.BINARY_DATA, true)),
                new InferRequest.RequestedOutput("o2")));

        for (boolean binary : new boolean[] {false, true}) {
            OipCodec.Encoded encoded = codec.encodeRequest(request, binary);
            InferRequest back = codec.decodeRequest(encoded.body(), encoded.jsonLength());

            assertThat(back.id()).isEqualTo("id-\u00e9");
            assertThat(back.parameters()).containsExactlyEntriesOf(params);
            assertThat(back.inputs().get(0).parameters()).isEqualTo(tensorParams);
            assertThat(back.outputs()).containsExactly(
                    new InferRequest.RequestedOutput("o1", Map.of(OipCodec.BINARY_DATA, true)),
                    new InferRequest.RequestedOutput("o2", Map.of()));
        }
    }

    @Test
    void integerParameterTypesAreWrittenAsWholeNumbersAndReadAsLong() {
        Map<String, Object> params = new LinkedHashMap<>();
        params.put("i", 3);
        params.put("sh", (short) 4);
        params.put("b", (byte) 5);
        params.put("f", 0.5f);
        OipCodec.Encoded encoded = codec.encodeRequest(new InferRequest(null, params, List.of(), List.of()), false);

        assertThat(text(encoded.body())).contains("\"i\":3", "\"sh\":4", "\"b\":5", "\"f\":0.5");
        assertThat(codec.decodeRequest(encoded.body(), -1).parameters())
                .containsExactly(Map.entry("i", 3L), Map.entry("sh", 4L), Map.entry("b", 5L), Map.entry("f", 0.5));
    }

    @Test
    void responseParametersAndOutputParametersPassThrough() {
        Map<String, Object> params = Map.of("hybridge.route", "edge", "hybridge.attempts", 2L);
        Tensor out = new Tensor("o", Datatype.INT8, new long[] {1}, OipTestSupport.bytes(-5), Map.of("note", "n"));
        OipCodec.Encoded encoded = codec.encodeResponse(new InferResponse("m", "1", "id", params, List.of(out)), null);

        InferResponse back = codec.decodeResponse(encoded.body(), encoded.jsonLength());
        assertThat(back.parameters()).isEqualTo(params);
        assertThat(back.output("o").parameters()).isEqualTo(Map.of("note", "n"));
    }

    @Test
    void decodedIdIsEchoedByEncodeResponse() {
        byte[] body = utf8(json("{'id':'abc-42','inputs':[]}"));
        InferRequest request = codec.decodeRequest(body, -1);
        assertThat(request.id()).isEqualTo("abc-42");

        OipCodec.Encoded encoded = codec.encodeResponse(
                new InferResponse("m", null, request.id(), Map.of(), List.of()), request);
        assertThat(text(encoded.body())).contains("\"id\":\"abc-42\"");
        assertThat(codec.decodeResponse(encoded.body(), -1).id()).isEqualTo("abc-42");
    }

    @Test
    void requestWithoutIdHasNullIdAndEncodesNoId() {
        InferRequest request = codec.decodeRequest(utf8(json("{'inputs':[]}")), -1);
        assertThat(request.id()).isNull();
        assertThat(request.parameters()).isEmpty();
        assertThat(request.outputs()).isEmpty();
        assertThat(text(codec.encodeRequest(request, false).body())).isEqualTo("{\"inputs\":[]}");
    }
}
