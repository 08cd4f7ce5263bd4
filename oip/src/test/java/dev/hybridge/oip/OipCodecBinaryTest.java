package dev.hybridge.oip;

import static dev.hybridge.oip.OipTestSupport.badRequestMessage;
import static dev.hybridge.oip.OipTestSupport.bytes;
import static dev.hybridge.oip.OipTestSupport.canonical;
import static dev.hybridge.oip.OipTestSupport.concat;
import static dev.hybridge.oip.OipTestSupport.json;
import static dev.hybridge.oip.OipTestSupport.text;
import static dev.hybridge.oip.OipTestSupport.utf8;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The binary tensor data extension: Inference-Header-Content-Length and binary_data_size. */
class OipCodecBinaryTest {

    private final OipCodec codec = new OipCodec();

    /** A request body: the JSON part, then the binary part; returns the body and the JSON length. */
    private record Body(byte[] bytes, int jsonLength) {
    }

    private static Body body(String singleQuotedJson, byte[] binary) {
        byte[] jsonPart = utf8(json(singleQuotedJson));
        return new Body(concat(jsonPart, binary), jsonPart.length);
    }

    private InferRequest decode(Body b) {
        return codec.decodeRequest(b.bytes(), b.jsonLength());
    }

    private String reject(Body b) {
        return badRequestMessage(() -> codec.decodeRequest(b.bytes(), b.jsonLength()));
    }

    private static String binaryInput(String name, String datatype, String shape, long size) {
        return "{'name':'" + name + "','datatype':'" + datatype + "','shape':" + shape
                + ",'parameters':{'binary_data_size':" + size + "}}";
    }

    // ------------------------------------------------------------------------------ decoding

    @Test
    void binaryTensorsTakeTheirBytesInOrderAndMixWithJsonTensors() {
        Body b = body("{'inputs':[" + binaryInput("a", "INT16", "[2]", 4) + ","
                        + "{'name':'j','datatype':'INT8','shape':[1],'data':[9]},"
                        + binaryInput("b", "BYTES", "[2]", 11) + ","
                        + binaryInput("c", "FP32", "[1,1]", 4) + "]}",
                bytes(1, 0, 0xFF, 0xFF,                // a: 1, -1
                        3, 0, 0, 0, 'x', 'y', 'z', 0, 0, 0, 0, // b: "xyz", ""
                        0, 0, 0x80, 0x3F));            // c: 1.0f
        List<Tensor> inputs = decode(b).inputs();

        assertThat((short[]) inputs.get(0).data()).containsExactly((short) 1, (short) -1);
        assertThat((byte[]) inputs.get(1).data()).containsExactly(9);
        assertThat(canonical(inputs.get(2).data())).containsExactly("b:78797a", "b:");
        assertThat((float[]) inputs.get(3).data()).containsExactly(1f);
        assertThat(inputs.get(3).shape()).containsExactly(1, 1);
    }

    @Test
    void otherTensorParametersSurviveButBinaryDataSizeIsConsumed() {
        Body b = body("{'inputs':[{'name':'a','datatype':'UINT8','shape':[2],"
                + "'parameters':{'binary_data_size':2,'content_type':'raw'}}]}", bytes(200, 7));
        Tensor t = decode(b).inputs().get(0);
        assertThat(t.parameters()).containsExactly(Map.entry("content_type", "raw"));
        assertThat((byte[]) t.data()).containsExactly((byte) 200, (byte) 7);
    }

    @Test
    void aJsonLengthEqualToTheBodyMeansNoBinaryData() {
        byte[] body = utf8(json("{'inputs':[{'name':'a','datatype':'INT32','shape':[1],'data':[1]}]}"));
        assertThat(codec.decodeRequest(body, body.length).inputs()).hasSize(1);
    }

    @Test
    void aZeroSizedBinaryTensorTakesNoBytes() {
        Body b = body("{'inputs':[" + binaryInput("e", "FP64", "[0]", 0) + "," + binaryInput("s", "BYTES", "[0]", 0) + "]}",
                new byte[0]);
        assertThat((double[]) decode(b).inputs().get(0).data()).isEmpty();
        assertThat((byte[][]) decode(b).inputs().get(1).data()).isEmpty();
    }

    @Test
    void binaryDataSizeBeforeDatatypeAndShapeWorks() {
        Body b = body("{'inputs':[{'parameters':{'binary_data_size':4},'shape':[2],'name':'a','datatype':'UINT16'}]}",
                bytes(0xFF, 0xFF, 2, 0));
        assertThat((short[]) decode(b).inputs().get(0).data()).containsExactly((short) 0xFFFF, (short) 2);
    }

    // -------------------------------------------------------------------------------- errors

    @Test
    void headerLengthLargerThanTheBodyIsRejected() {
        byte[] body = utf8(json("{'inputs':[]}"));
        assertThat(badRequestMessage(() -> codec.decodeRequest(body, body.length + 1)))
                .contains("Inference-Header-Content-Length is " + (body.length + 1))
                .contains("the body has only " + body.length + " bytes");
        assertThat(badRequestMessage(() -> codec.decodeResponse(body, 1000)))
                .contains("Inference-Header-Content-Length is 1000");
    }

    @Test
    void headerLengthShorterThanTheJsonIsMalformedJson() {
        byte[] body = utf8(json("{'inputs':[]}"));
        assertThat(badRequestMessage(() -> codec.decodeRequest(body, body.length - 2))).contains("malformed JSON");
        assertThat(badRequestMessage(() -> codec.decodeRequest(body, 0))).contains("must be a JSON object but was empty");
    }

    @Test
    void binaryDataSizeBeyondTheRemainingBytesIsRejected() {
        assertThat(reject(body("{'inputs':[" + binaryInput("a", "INT32", "[4]", 16) + "]}", new byte[8])))
                .contains("tensor 'a'").contains("binary_data_size is 16 but only 8 bytes of binary data remain");
        // the second tensor finds less left than it wants
        assertThat(reject(body("{'inputs':[" + binaryInput("a", "INT32", "[1]", 4) + ","
                + binaryInput("b", "INT32", "[1]", 4) + "]}", new byte[6])))
                .contains("tensor 'b'").contains("only 2 bytes");
        assertThat(reject(body("{'inputs':[" + binaryInput("a", "INT8", "[1]", 9_000_000_000L) + "]}", new byte[1])))
                .contains("tensor 'a'").contains("binary_data_size is 9000000000");
    }

    @Test
    void leftoverBytesNobodyClaimsAreRejected() {
        assertThat(reject(body("{'inputs':[" + binaryInput("a", "INT32", "[1]", 4) + "]}", new byte[7])))
                .contains("3 bytes of binary data follow the JSON part but no tensor claims them");
        assertThat(reject(body("{'inputs':[{'name':'a','datatype':'INT32','shape':[1],'data':[1]}]}", new byte[2])))
                .contains("2 bytes of binary data follow the JSON part");
    }

    @Test
    void sizeThatIsNotAMultipleOfTheElementWidthIsRejected() {
        assertThat(reject(body("{'inputs':[" + binaryInput("a", "FP32", "[1]", 6) + "]}", new byte[6])))
                .contains("tensor 'a'").contains("binary_data_size 6 is not a multiple of 4").contains("FP32");
        assertThat(reject(body("{'inputs':[" + binaryInput("a", "UINT64", "[1]", 12) + "]}", new byte[12])))
                .contains("not a multiple of 8");
        assertThat(reject(body("{'inputs':[" + binaryInput("a", "BF16", "[1]", 3) + "]}", new byte[3])))
                .contains("not a multiple of 2");
    }

    @Test
    void sizeThatDisagreesWithTheShapeIsRejected() {
        assertThat(reject(body("{'inputs':[" + binaryInput("a", "INT32", "[3]", 8) + "]}", new byte[8])))
                .contains("tensor 'a'").contains("shape [3] needs 3 elements but data has 2");
        assertThat(reject(body("{'inputs':[" + binaryInput("s", "BYTES", "[2]", 5) + "]}", bytes(1, 0, 0, 0, 'q'))))
                .contains("tensor 's'").contains("needs 2 elements but data has 1");
    }

    @Test
    void boolBytesOtherThanZeroAndOneAreRejected() {
        assertThat(reject(body("{'inputs':[" + binaryInput("flags", "BOOL", "[3]", 3) + "]}", bytes(1, 0, 2))))
                .contains("tensor 'flags'").contains("BOOL element 2 is the byte 2; only 0 and 1 are booleans");
        assertThat(reject(body("{'inputs':[" + binaryInput("flags", "BOOL", "[1]", 1) + "]}", bytes(0xFF))))
                .contains("is the byte 255");
    }

    @Test
    void truncatedBytesElementsAreRejected() {
        assertThat(reject(body("{'inputs':[" + binaryInput("s", "BYTES", "[1]", 3) + "]}", bytes(1, 0, 0))))
                .contains("tensor 's'").contains("BYTES element 0").contains("4-byte length prefix is incomplete");
        assertThat(reject(body("{'inputs':[" + binaryInput("s", "BYTES", "[2]", 7) + "]}",
                bytes(1, 0, 0, 0, 'a', 5, 0))))
                .contains("BYTES element 1").contains("length prefix is incomplete");
        assertThat(reject(body("{'inputs':[" + binaryInput("s", "BYTES", "[1]", 6) + "]}",
                bytes(100, 0, 0, 0, 'a', 'b'))))
                .contains("BYTES element 0 claims 100 bytes but only 2 remain");
        assertThat(reject(body("{'inputs':[" + binaryInput("s", "BYTES", "[1]", 4) + "]}",
                bytes(0xFF, 0xFF, 0xFF, 0xFF))))
                .contains("claims 4294967295 bytes but only 0 remain");
    }

    @Test
    void aBytesElementMayNotReachIntoTheNextTensorsBytes() {
        // s claims 5 bytes; its element says 4 but only 1 byte of s's own section follows the prefix
        assertThat(reject(body("{'inputs':[" + binaryInput("s", "BYTES", "[1]", 5) + ","
                + binaryInput("t", "UINT8", "[3]", 3) + "]}", bytes(4, 0, 0, 0, 'a', 'b', 'c', 'd'))))
                .contains("tensor 's'").contains("claims 4 bytes but only 1 remain");
    }

    @Test
    void dataAndBinaryDataSizeTogetherAreRejected() {
        assertThat(reject(body("{'inputs':[{'name':'a','datatype':'INT8','shape':[1],'data':[1],"
                + "'parameters':{'binary_data_size':1}}]}", new byte[1])))
                .contains("tensor 'a' has both 'data' and binary_data_size");
        // also when data is deferred because it comes before datatype
        assertThat(reject(body("{'inputs':[{'name':'a','data':[1],'parameters':{'binary_data_size':1},"
                + "'datatype':'INT8','shape':[1]}]}", new byte[1])))
                .contains("tensor 'a' has both 'data' and binary_data_size");
    }

    @Test
    void binaryDataSizeMustBeAWholeNumberOfBytes() {
        for (String size : List.of("-1", "1.5", "'4'", "true")) {
            assertThat(reject(body("{'inputs':[{'name':'a','datatype':'INT8','shape':[1],"
                    + "'parameters':{'binary_data_size':" + size + "}}]}", new byte[4])))
                    .as(size).contains("tensor 'a': binary_data_size must be a whole number of bytes");
        }
    }

    @Test
    void binaryResponsesDecodeToo() {
        byte[] jsonPart = utf8(json("{'model_name':'m','outputs':[{'name':'o','datatype':'INT64','shape':[1],"
                + "'parameters':{'binary_data_size':8}}]}"));
        byte[] body = concat(jsonPart, bytes(0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F));
        assertThat((long[]) codec.decodeResponse(body, jsonPart.length).output("o").data()).containsExactly(Long.MAX_VALUE);

        byte[] short_ = concat(jsonPart, new byte[4]);
        assertThat(badRequestMessage(() -> codec.decodeResponse(short_, jsonPart.length)))
                .contains("tensor 'o'").contains("only 4 bytes");
    }

    // ----------------------------------------------------------------------------- wantsBinary

    private static InferRequest request(Map<String, Object> params, InferRequest.RequestedOutput... outputs) {
        return new InferRequest(null, params, List.of(), List.of(outputs));
    }

    private static InferRequest.RequestedOutput out(String name, Object binaryData) {
        return new InferRequest.RequestedOutput(name, binaryData == null ? Map.of() : Map.of(OipCodec.BINARY_DATA, binaryData));
    }

    @Test
    void wantsBinaryIsFalseUnlessAsked() {
        assertThat(OipCodec.wantsBinary(request(Map.of()), "o")).isFalse();
        assertThat(OipCodec.wantsBinary(request(Map.of(), out("o", null)), "o")).isFalse();
        assertThat(OipCodec.wantsBinary(request(Map.of(OipCodec.BINARY_DATA_OUTPUT, false)), "o")).isFalse();
    }

    @Test
    void binaryDataOutputAsksForEveryOutput() {
        InferRequest r = request(Map.of(OipCodec.BINARY_DATA_OUTPUT, true), out("listed", null));
        assertThat(OipCodec.wantsBinary(r, "listed")).isTrue();
        assertThat(OipCodec.wantsBinary(r, "unlisted")).isTrue();
    }

    @Test
    void perOutputBinaryDataOverridesTheRequestParameter() {
        InferRequest allButOne = request(Map.of(OipCodec.BINARY_DATA_OUTPUT, true), out("a", false), out("b", null));
        assertThat(OipCodec.wantsBinary(allButOne, "a")).isFalse();
        assertThat(OipCodec.wantsBinary(allButOne, "b")).isTrue();
        assertThat(OipCodec.wantsBinary(allButOne, "c")).isTrue();

        InferRequest onlyOne = request(Map.of(OipCodec.BINARY_DATA_OUTPUT, false), out("a", true), out("b", null));
        assertThat(OipCodec.wantsBinary(onlyOne, "a")).isTrue();
        assertThat(OipCodec.wantsBinary(onlyOne, "b")).isFalse();
        assertThat(OipCodec.wantsBinary(onlyOne, "c")).isFalse();

        InferRequest noRequestParameter = request(Map.of(), out("a", true));
        assertThat(OipCodec.wantsBinary(noRequestParameter, "a")).isTrue();
        assertThat(OipCodec.wantsBinary(noRequestParameter, "b")).isFalse();
    }

    @Test
    void wantsBinaryReadsDecodedRequests() {
        InferRequest r = codec.decodeRequest(utf8(json("{'parameters':{'binary_data_output':true},'inputs':[],"
                + "'outputs':[{'name':'a','parameters':{'binary_data':false}},{'name':'b'}]}")), -1);
        assertThat(OipCodec.wantsBinary(r, "a")).isFalse();
        assertThat(OipCodec.wantsBinary(r, "b")).isTrue();
    }

    // ---------------------------------------------------------------------- encodeResponse

    @Test
    void encodeResponsePutsExactlyTheChosenOutputsInTheBinaryPart() {
        Tensor a = new Tensor("a", Datatype.FP32, new long[] {2}, new float[] {1f, -2f});
        Tensor b = new Tensor("b", Datatype.INT8, new long[] {3}, bytes(1, 2, 3));
        Tensor c = new Tensor("c", Datatype.UINT16, new long[] {1}, new short[] {0x0201});
        InferResponse response = new InferResponse("m", "1", "id", Map.of(), List.of(a, b, c));
        InferRequest request = request(Map.of(), out("a", true), out("b", false), out("c", true));

        OipCodec.Encoded encoded = codec.encodeResponse(response, request);

        assertThat(encoded.hasBinary()).isTrue();
        String jsonPart = text(Arrays.copyOf(encoded.body(), encoded.jsonLength()));
        assertThat(jsonPart)
                .contains("{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[2],\"parameters\":{\"binary_data_size\":8}}")
                .contains("{\"name\":\"b\",\"datatype\":\"INT8\",\"shape\":[3],\"data\":[1,2,3]}")
                .contains("{\"name\":\"c\",\"datatype\":\"UINT16\",\"shape\":[1],\"parameters\":{\"binary_data_size\":2}}");
        byte[] binary = Arrays.copyOfRange(encoded.body(), encoded.jsonLength(), encoded.body().length);
        assertThat(binary).containsExactly(bytes(0, 0, 0x80, 0x3F, 0, 0, 0, 0xC0, 0x01, 0x02));

        InferResponse back = codec.decodeResponse(encoded.body(), encoded.jsonLength());
        assertThat((float[]) back.output("a").data()).containsExactly(1f, -2f);
        assertThat((byte[]) back.output("b").data()).containsExactly(1, 2, 3);
        assertThat((short[]) back.output("c").data()).containsExactly((short) 0x0201);
    }

    @Test
    void encodeResponseKeepsOutputParametersNextToBinaryDataSize() {
        Tensor a = new Tensor("a", Datatype.INT8, new long[] {1}, bytes(5), Map.of("unit", "cm"));
        OipCodec.Encoded encoded = codec.encodeResponse(new InferResponse("m", null, null, Map.of(), List.of(a)),
                request(Map.of(OipCodec.BINARY_DATA_OUTPUT, true)));

        assertThat(text(Arrays.copyOf(encoded.body(), encoded.jsonLength())))
                .contains("\"parameters\":{\"unit\":\"cm\",\"binary_data_size\":1}");
        assertThat(a.parameters()).as("the tensor itself is not changed").containsExactly(Map.entry("unit", "cm"));
        assertThat(codec.decodeResponse(encoded.body(), encoded.jsonLength()).output("a").parameters())
                .containsExactly(Map.entry("unit", "cm"));
    }

    @Test
    void encodeResponseWithoutARequestOrWithoutBinaryWishesIsAllJson() {
        Tensor a = new Tensor("a", Datatype.INT8, new long[] {1}, bytes(5));
        InferResponse response = new InferResponse("m", null, null, Map.of(), List.of(a));
        for (InferRequest r : Arrays.asList(null, request(Map.of()), request(Map.of(), out("a", false)))) {
            OipCodec.Encoded encoded = codec.encodeResponse(response, r);
            assertThat(encoded.hasBinary()).isFalse();
            assertThat(encoded.jsonLength()).isEqualTo(-1);
            assertThat(text(encoded.body())).contains("\"data\":[5]").doesNotContain("binary_data_size");
        }
    }

    @Test
    void encodeRequestWithoutBinaryInputsIsAllJson() {
        Tensor a = new Tensor("a", Datatype.INT8, new long[] {1}, bytes(5));
        OipCodec.Encoded encoded = codec.encodeRequest(new InferRequest(List.of(a)), false);
        assertThat(encoded.hasBinary()).isFalse();
        assertThat(text(encoded.body())).isEqualTo("{\"inputs\":[{\"name\":\"a\",\"datatype\":\"INT8\",\"shape\":[1],\"data\":[5]}]}");
    }
}
