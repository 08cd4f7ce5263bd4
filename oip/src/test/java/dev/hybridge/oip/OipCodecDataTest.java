package dev.hybridge.oip;

import static dev.hybridge.oip.OipTestSupport.badRequestMessage;
import static dev.hybridge.oip.OipTestSupport.canonical;
import static dev.hybridge.oip.OipTestSupport.json;
import static dev.hybridge.oip.OipTestSupport.oneInput;
import static dev.hybridge.oip.OipTestSupport.utf8;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Element kinds and ranges, and how {@code data} must match {@code shape}. */
class OipCodecDataTest {

    private final OipCodec codec = new OipCodec();

    private Tensor decodeOne(String tensorMembers) {
        return codec.decodeRequest(oneInput(tensorMembers), -1).inputs().get(0);
    }

    private String rejectOne(String tensorMembers) {
        return badRequestMessage(() -> codec.decodeRequest(oneInput(tensorMembers), -1));
    }

    // ------------------------------------------------------------------------ kinds and ranges

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource(delimiter = '|', quoteCharacter = '"', textBlock = """
            UINT8  | 256                   | element 1 is 256, out of range for UINT8 (0 to 255)
            UINT8  | -1                    | element 1 is -1, out of range for UINT8 (0 to 255)
            UINT16 | 65536                 | out of range for UINT16 (0 to 65535)
            UINT32 | -1                    | element 1 is -1, out of range for UINT32 (0 to 4294967295)
            UINT32 | 4294967296            | out of range for UINT32
            UINT64 | 18446744073709551616  | element 1 is 18446744073709551616, out of range for UINT64 (0 to 18446744073709551615)
            UINT64 | -1                    | out of range for UINT64 (0 to 18446744073709551615)
            UINT64 | -9223372036854775809  | out of range for UINT64
            INT8   | 128                   | out of range for INT8 (-128 to 127)
            INT8   | -129                  | out of range for INT8 (-128 to 127)
            INT16  | 32768                 | out of range for INT16 (-32768 to 32767)
            INT32  | 2147483648            | out of range for INT32 (-2147483648 to 2147483647)
            INT32  | -2147483649           | out of range for INT32
            INT64  | 9223372036854775808   | element 1 is 9223372036854775808, out of range for INT64 (-9223372036854775808 to 9223372036854775807)
            INT64  | -9223372036854775809  | out of range for INT64
            INT32  | 1.5                   | element 1 is a number but datatype INT32 takes whole numbers
            INT64  | 1.0                   | element 1 is a number but datatype INT64 takes whole numbers
            UINT8  | 1e2                   | takes whole numbers
            INT32  | '1'                   | element 1 is a string but datatype INT32 takes whole numbers
            INT32  | null                  | element 1 is null but datatype INT32 takes whole numbers
            INT32  | {}                    | element 1 is an object but datatype INT32 takes whole numbers
            INT8   | true                  | element 1 is a boolean but datatype INT8 takes whole numbers
            FP32   | 'x'                   | element 1 is a string but datatype FP32 takes numbers
            FP32   | 'nan'                 | element 1 is a string but datatype FP32 takes numbers
            FP32   | 1e39                  | element 1 is 1e39, out of range for FP32
            FP64   | 1e309                 | element 1 is 1e309, out of range for FP64
            FP16   | 65520                 | element 1 is 65520, out of range for FP16
            FP64   | true                  | element 1 is a boolean but datatype FP64 takes numbers
            FP16   | null                  | element 1 is null but datatype FP16 takes numbers
            BF16   | '1'                   | element 1 is a string but datatype BF16 takes numbers
            BOOL   | 1                     | element 1 is a number but datatype BOOL takes true or false
            BOOL   | 0                     | element 1 is a number but datatype BOOL takes true or false
            BOOL   | 'true'                | element 1 is a string but datatype BOOL takes true or false
            BYTES  | 1                     | element 1 is a number but datatype BYTES takes strings
            BYTES  | true                  | element 1 is a boolean but datatype BYTES takes strings
            BYTES  | null                  | element 1 is null but datatype BYTES takes strings
            """)
    void rejectsElementsOfTheWrongKindOrOutOfRange(String datatype, String bad, String expected) {
        String good = switch (datatype) {
            case "BOOL" -> "true";
            case "BYTES" -> "'ok'";
            default -> "0";
        };
        String members = "'name':'t1','datatype':'" + datatype + "','shape':[2],'data':[" + good + "," + bad + "]";

        String message = rejectOne(members);

        assertThat(message).contains("tensor 't1'").contains(expected);
        // the same element is rejected the same way when data comes before datatype (deferred parsing)
        String deferred = "'name':'t1','data':[" + good + "," + bad + "],'datatype':'" + datatype + "','shape':[2]";
        assertThat(rejectOne(deferred)).contains("tensor 't1'").contains(expected);
        // and when the data is nested
        String nested = "'name':'t1','datatype':'" + datatype + "','shape':[1,2],'data':[[" + good + "," + bad + "]]";
        assertThat(rejectOne(nested)).contains("tensor 't1'").contains(expected);
    }

    @Test
    void acceptsTheExactLimitsOfEveryIntegerType() {
        assertThat(canonical(decodeOne("'name':'a','datatype':'UINT64','shape':[1],'data':[18446744073709551615]").data()))
                .containsExactly(-1L);
        assertThat(canonical(decodeOne("'name':'a','datatype':'INT64','shape':[2],'data':[-9223372036854775808,9223372036854775807]").data()))
                .containsExactly(Long.MIN_VALUE, Long.MAX_VALUE);
        assertThat(canonical(decodeOne("'name':'a','datatype':'UINT8','shape':[1],'data':[255]").data()))
                .containsExactly((byte) -1);
        assertThat(canonical(decodeOne("'name':'a','datatype':'UINT32','shape':[1],'data':[4294967295]").data()))
                .containsExactly(-1);
        assertThat(canonical(decodeOne("'name':'a','datatype':'INT16','shape':[1],'data':[-32768]").data()))
                .containsExactly(Short.MIN_VALUE);
    }

    @Test
    void fp16ElementsRoundToTheLargestHalfUpToTheOverflowPoint() {
        short[] data = (short[]) decodeOne("'name':'h','datatype':'FP16','shape':[2],'data':[65519, -65504]").data();
        assertThat(data).containsExactly((short) 0x7BFF, (short) 0xFBFF);
        assertThat(rejectOne("'name':'h','datatype':'FP16','shape':[1],'data':[-1e6]"))
                .contains("tensor 'h'").contains("out of range for FP16");
    }

    @Test
    void nonFiniteFloatsTravelAsTheStringsTheyAreWrittenAs() {
        Tensor out = new Tensor("f", Datatype.FP32, new long[] {3},
                new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY});
        OipCodec codec = new OipCodec();
        byte[] body = codec.encodeResponse(new InferResponse("m", null, null, java.util.Map.of(), java.util.List.of(out)),
                null).body();
        assertThat(new String(body, java.nio.charset.StandardCharsets.UTF_8)).contains("[\"NaN\",\"Infinity\",\"-Infinity\"]");
        float[] back = (float[]) codec.decodeResponse(body, -1).output("f").data();
        assertThat(back[0]).isNaN();
        assertThat(back[1]).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(back[2]).isEqualTo(Float.NEGATIVE_INFINITY);
        double[] d = (double[]) decodeOne("'name':'d','datatype':'FP64','shape':[2],'data':['-Infinity','NaN']").data();
        assertThat(d[0]).isEqualTo(Double.NEGATIVE_INFINITY);
        assertThat(d[1]).isNaN();
        short[] h = (short[]) decodeOne("'name':'h','datatype':'FP16','shape':[1],'data':['Infinity']").data();
        assertThat(h).containsExactly((short) 0x7C00);
    }

    @Test
    void errorMessageGivesTheFlatIndexOfTheBadElement() {
        String message = rejectOne("'name':'m','datatype':'UINT8','shape':[2,2],'data':[[1,2],[3,300]]");
        assertThat(message).contains("tensor 'm'").contains("element 3 is 300");
    }

    @Test
    void unknownDatatypeIsRejectedWithTheValidNames() {
        assertThat(rejectOne("'name':'a','datatype':'FLOAT32','shape':[1],'data':[1]"))
                .contains("unknown datatype 'FLOAT32'").contains("FP32").doesNotContain("upper case");
        assertThat(rejectOne("'name':'a','datatype':'fp32','shape':[1],'data':[1]"))
                .contains("unknown datatype 'fp32'").contains("datatype names are upper case");
        assertThat(rejectOne("'name':'a','datatype':7,'shape':[1],'data':[1]"))
                .contains("datatype").contains("must be a string");
    }

    // --------------------------------------------------------------------- nesting and shapes

    @Test
    void nestedDataThatFollowsTheShapeIsFlattenedRowMajor() {
        Tensor t = decodeOne("'name':'n','datatype':'INT32','shape':[2,3],'data':[[1,2,3],[4,5,6]]");
        assertThat((int[]) t.data()).containsExactly(1, 2, 3, 4, 5, 6);
        assertThat(t.shape()).containsExactly(2, 3);

        Tensor t3 = decodeOne("'name':'n','datatype':'FP32','shape':[2,2,2],'data':[[[1,2],[3,4]],[[5,6],[7,8]]]");
        assertThat((float[]) t3.data()).containsExactly(1, 2, 3, 4, 5, 6, 7, 8);

        Tensor single = decodeOne("'name':'n','datatype':'BOOL','shape':[1,1,1],'data':[[[true]]]");
        assertThat((boolean[]) single.data()).containsExactly(true);

        Tensor strings = decodeOne("'name':'n','datatype':'BYTES','shape':[2,1],'data':[['a'],['b']]");
        assertThat(canonical(strings.data())).containsExactly("b:61", "b:62");
    }

    @Test
    void nestedDataWithLeadingOneDimensionIsAccepted() {
        Tensor t = decodeOne("'name':'n','datatype':'INT64','shape':[1,4],'data':[[1,2,3,4]]");
        assertThat((long[]) t.data()).containsExactly(1, 2, 3, 4);
    }

    @Test
    void nestedEmptyArraysFollowAShapeWithAZeroDimension() {
        Tensor t = decodeOne("'name':'z','datatype':'FP32','shape':[2,0],'data':[[],[]]");
        assertThat((float[]) t.data()).isEmpty();
        Tensor flat = decodeOne("'name':'z','datatype':'FP32','shape':[3,0],'data':[]");
        assertThat((float[]) flat.data()).isEmpty();
    }

    @Test
    void flatDataIsAcceptedForAnyRank() {
        Tensor t = decodeOne("'name':'f','datatype':'UINT16','shape':[2,1,3],'data':[1,2,3,4,5,6]");
        assertThat((short[]) t.data()).containsExactly((short) 1, (short) 2, (short) 3, (short) 4, (short) 5, (short) 6);
        Tensor scalar = decodeOne("'name':'s','datatype':'FP64','shape':[],'data':[2.5]");
        assertThat((double[]) scalar.data()).containsExactly(2.5);
    }

    @Test
    void raggedNestedDataIsRejected() {
        assertThat(rejectOne("'name':'r','datatype':'INT32','shape':[2,2],'data':[[1,2],[3]]"))
                .contains("tensor 'r'").contains("ragged").contains("level 1").contains("2 and 1");
        assertThat(rejectOne("'name':'r','datatype':'INT32','shape':[2,2],'data':[[1,2],[3,4,5]]"))
                .contains("tensor 'r'").contains("ragged");
        assertThat(rejectOne("'name':'r','datatype':'INT32','shape':[2,2,1],'data':[[[1],[2]],[[3]]]"))
                .contains("tensor 'r'").contains("ragged");
        assertThat(rejectOne("'name':'r','datatype':'INT32','shape':[2,1,2],'data':[[[1,2]],[[3]]]"))
                .contains("tensor 'r'").contains("ragged").contains("level 2");
        assertThat(rejectOne("'name':'r','datatype':'INT32','shape':[2,2],'data':[[1,2],[]]"))
                .contains("tensor 'r'").contains("ragged");
    }

    @Test
    void dataMixingScalarsAndArraysIsRejected() {
        assertThat(rejectOne("'name':'m','datatype':'INT32','shape':[2],'data':[1,[2]]"))
                .contains("tensor 'm'").contains("mixes values and arrays");
        assertThat(rejectOne("'name':'m','datatype':'INT32','shape':[2,2],'data':[[1,2],3]"))
                .contains("tensor 'm'").contains("mixes values and arrays at nesting level 0");
        assertThat(rejectOne("'name':'m','datatype':'INT32','shape':[2,2],'data':[[1,2],[[3,4]]]"))
                .contains("tensor 'm'").contains("different nesting levels");
    }

    @Test
    void nestingDepthMustEqualTheRank() {
        assertThat(rejectOne("'name':'d','datatype':'INT32','shape':[4],'data':[[1,2],[3,4]]"))
                .contains("tensor 'd'").contains("nested data has shape [2, 2] but the tensor's shape is [4]");
        assertThat(rejectOne("'name':'d','datatype':'INT32','shape':[1,2,2],'data':[[1,2],[3,4]]"))
                .contains("tensor 'd'").contains("[2, 2]").contains("[1, 2, 2]");
        assertThat(rejectOne("'name':'d','datatype':'INT32','shape':[2,2],'data':[[[1,2],[3,4]]]"))
                .contains("tensor 'd'").contains("[1, 2, 2]");
        assertThat(rejectOne("'name':'d','datatype':'INT32','shape':[],'data':[[1]]"))
                .contains("tensor 'd'").contains("nested data has shape [1, 1] but the tensor's shape is []");
    }

    @Test
    void nestedDataWithTheRightCountButTheWrongShapeIsRejected() {
        // six elements either way, but rows of 3 are not rows of 2
        assertThat(rejectOne("'name':'t','datatype':'INT32','shape':[3,2],'data':[[1,2,3],[4,5,6]]"))
                .contains("tensor 't'").contains("nested data has shape [2, 3] but the tensor's shape is [3, 2]");
        assertThat(rejectOne("'name':'t','datatype':'INT32','shape':[1,4],'data':[[1,2],[3,4]]"))
                .contains("tensor 't'").contains("[2, 2]").contains("[1, 4]");
    }

    @Test
    void flatDataWithTheWrongCountIsRejected() {
        // shape [1,16] with 3 elements: flat and nested
        assertThat(rejectOne("'name':'in','datatype':'FP32','shape':[1,16],'data':[1,2,3]"))
                .contains("tensor 'in'").contains("shape [1, 16] needs 16 elements but data has 3");
        assertThat(rejectOne("'name':'in','datatype':'FP32','shape':[1,16],'data':[[1,2,3]]"))
                .contains("tensor 'in'").contains("[1, 3]").contains("[1, 16]");
        assertThat(rejectOne("'name':'in','datatype':'FP32','shape':[2],'data':[1,2,3]"))
                .contains("needs 2 elements but data has 3");
        assertThat(rejectOne("'name':'in','datatype':'FP32','shape':[],'data':[]"))
                .contains("needs 1 elements but data has 0");
    }

    @Test
    void theSpecificationsOwnExampleRequestIsRejectedForItsBoolInput() {
        // input1 declares shape [3] but carries one element
        byte[] body = utf8(json("""
                {
                  'id' : '42',
                  'inputs' : [
                    { 'name' : 'input0', 'shape' : [ 2, 2 ], 'datatype' : 'UINT32', 'data' : [ 1, 2, 3, 4 ] },
                    { 'name' : 'input1', 'shape' : [ 3 ], 'datatype' : 'BOOL', 'data' : [ true ] }
                  ],
                  'outputs' : [ { 'name' : 'output0' } ]
                }"""));
        assertThat(badRequestMessage(() -> codec.decodeRequest(body, -1)))
                .contains("tensor 'input1'").contains("needs 3 elements but data has 1");
    }

    @Test
    void negativeDimensionsAreRejected() {
        assertThat(rejectOne("'name':'neg','datatype':'INT32','shape':[-1,2],'data':[1,2]"))
                .contains("tensor 'neg'").contains("dimension 0 is -1").contains("zero or more");
        assertThat(rejectOne("'name':'neg','datatype':'INT32','shape':[2,-2],'data':[]"))
                .contains("dimension 1 is -2");
    }

    @Test
    void overflowingShapesAreRejected() {
        assertThat(rejectOne("'name':'big','datatype':'INT8','shape':[4294967296,4294967296,4294967296],'data':[]"))
                .contains("tensor 'big'").contains("more elements than can be held");
        assertThat(rejectOne("'name':'big','datatype':'INT8','shape':[9223372036854775807,2],'data':[]"))
                .contains("tensor 'big'").contains("more elements than can be held");
        assertThat(rejectOne("'name':'big','datatype':'INT8','shape':[9223372036854775808],'data':[]"))
                .contains("tensor 'big'").contains("dimension 0 is too large");
        assertThat(rejectOne("'name':'big','datatype':'INT8','shape':[4294967296,4294967296],'data':[1]"))
                .contains("more elements than can be held");
        // fits in a long, but no data can match it
        assertThat(rejectOne("'name':'big','datatype':'INT8','shape':[2147483648],'data':[1]"))
                .contains("needs 2147483648 elements but data has 1");
    }

    @Test
    void nonIntegerDimensionsAreRejected() {
        assertThat(rejectOne("'name':'s','datatype':'INT8','shape':[1.5],'data':[1]"))
                .contains("tensor 's'").contains("shape must hold whole numbers but dimension 0 is a number");
        assertThat(rejectOne("'name':'s','datatype':'INT8','shape':[1,'2'],'data':[1,2]"))
                .contains("tensor 's'").contains("dimension 1 is a string");
        assertThat(rejectOne("'name':'s','datatype':'INT8','shape':[null],'data':[1]"))
                .contains("dimension 0 is null");
        assertThat(rejectOne("'name':'s','datatype':'INT8','shape':[[1]],'data':[1]"))
                .contains("shape must hold whole numbers");
        assertThat(rejectOne("'name':'s','datatype':'INT8','shape':2,'data':[1,2]"))
                .contains("shape").contains("must be an array but was a number");
    }

    @Test
    void dataThatIsNotAnArrayIsRejected() {
        assertThat(rejectOne("'name':'s','datatype':'INT8','shape':[1],'data':1"))
                .contains("data").contains("must be an array but was a number");
        assertThat(rejectOne("'name':'s','datatype':'INT8','shape':[1],'data':{'a':1}"))
                .contains("must be an array but was an object");
    }

    // --------------------------------------------------------------- data before datatype / shape

    @Test
    void dataBeforeDatatypeGivesTheSameTensor() {
        Tensor inOrder = decodeOne("'name':'a','datatype':'INT32','shape':[2,2],'data':[[1,2],[3,4]]");
        for (String members : List.of(
                "'name':'a','data':[[1,2],[3,4]],'datatype':'INT32','shape':[2,2]",
                "'data':[[1,2],[3,4]],'name':'a','shape':[2,2],'datatype':'INT32'",
                "'shape':[2,2],'data':[[1,2],[3,4]],'datatype':'INT32','name':'a'",
                "'name':'a','datatype':'INT32','data':[[1,2],[3,4]],'shape':[2,2]",
                "'name':'a','data':[1,2,3,4],'shape':[2,2],'datatype':'INT32'")) {
            Tensor t = decodeOne(members);
            assertThat(t.name()).as(members).isEqualTo("a");
            assertThat(t.shape()).as(members).containsExactly(inOrder.shape());
            assertThat((int[]) t.data()).as(members).containsExactly((int[]) inOrder.data());
        }
    }

    @Test
    void deferredDataIsFoundByByteOffsetPastMultiByteCharacters() {
        // multi-byte UTF-8 before the data would shift a character offset; the array must still be found
        byte[] body = utf8(json("{'id':'\u65e5\u672c\u8a9e\u00e9\uD83D\uDE00','inputs':["
                + "{'name':'\u00e9\u00e8','data':['\u2713]', '[\\\"x\\\"]'],'datatype':'BYTES','shape':[2]},"
                + "{'name':'second','parameters':{'p':'\u00fc'},'data':[[1.5],[2.5]],'shape':[2,1],'datatype':'FP64'}]}"));

        List<Tensor> inputs = codec.decodeRequest(body, -1).inputs();

        assertThat(inputs.get(0).name()).isEqualTo("\u00e9\u00e8");
        assertThat(canonical(inputs.get(0).data())).containsExactly(
                "b:" + java.util.HexFormat.of().formatHex(utf8("\u2713]")),
                "b:" + java.util.HexFormat.of().formatHex(utf8("[\"x\"]")));
        assertThat((double[]) inputs.get(1).data()).containsExactly(1.5, 2.5);
    }

    @Test
    void deferredDataWorksAfterAByteOrderMark() {
        byte[] body = OipTestSupport.concat(OipTestSupport.bytes(0xEF, 0xBB, 0xBF),
                oneInput("'name':'a','data':[7,8],'datatype':'INT8','shape':[2]"));
        assertThat((byte[]) codec.decodeRequest(body, -1).inputs().get(0).data()).containsExactly(7, 8);
    }

    @Test
    void deferredDataStillChecksTheShape() {
        assertThat(rejectOne("'name':'a','data':[[1,2],[3]],'datatype':'INT32','shape':[2,2]"))
                .contains("tensor 'a'").contains("ragged");
        assertThat(rejectOne("'name':'a','data':[1,2,3],'datatype':'INT32','shape':[1,16]"))
                .contains("tensor 'a'").contains("needs 16 elements but data has 3");
        assertThat(rejectOne("'name':'a','data':[[1,2,3],[4,5,6]],'datatype':'INT32','shape':[3,2]"))
                .contains("tensor 'a'").contains("[2, 3]");
    }

    @Test
    void dataBeforeADatatypeThatNeverComesIsStillMissingADatatype() {
        assertThat(rejectOne("'name':'a','data':[1],'shape':[1]")).contains("tensor 'a' has no 'datatype'");
    }
}
