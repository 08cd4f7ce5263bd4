package dev.hybridge.oip;

import static dev.hybridge.oip.OipTestSupport.badRequestMessage;
import static dev.hybridge.oip.OipTestSupport.json;
import static dev.hybridge.oip.OipTestSupport.oneInput;
import static dev.hybridge.oip.OipTestSupport.utf8;
import static org.assertj.core.api.Assertions.assertThat;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import tools.jackson.core.JsonParser;
import tools.jackson.core.JsonToken;
import tools.jackson.core.ObjectReadContext;
import tools.jackson.core.StreamReadFeature;
import tools.jackson.core.json.JsonFactory;

/**
 * Numeric data arrays are read straight from the bytes ({@link FastNumbers}, {@link DataArrays});
 * the values must be exactly those of the JSON parser's own conversion, and everything the fast
 * reader does not take must still reach the usual parse and its errors.
 */
class FastNumbersTest {

    private static final JsonFactory REFERENCE = JsonFactory.builder()
            .enable(StreamReadFeature.USE_FAST_DOUBLE_PARSER)
            .build();

    private final OipCodec codec = new OipCodec();

    // ------------------------------------------------------------------- skipping an array

    @Test
    void skipFindsTheArraysEndWhereverItsBracketsFall() {
        Random random = new Random(5);
        String[] fillers = {"1", "-0.25", "3e-7", " ", ",", "\n", "12345678", "Y", "_"};
        for (int n = 0; n < 400; n++) {
            StringBuilder array = new StringBuilder("[");
            int depth = 1;
            while (depth > 0) {
                int pick = random.nextInt(fillers.length + 3);
                if (pick == fillers.length && depth < 3) {
                    array.append('[');
                    depth++;
                } else if (pick > fillers.length) {
                    array.append(']');
                    depth--;
                } else if (pick < fillers.length) {
                    array.append(fillers[pick]);
                }
            }
            int end = array.length();
            byte[] bytes = utf8(" ".repeat(n % 8) + array + ", \"x\": 1}");
            FastNumbers.Parsed skipped = FastNumbers.skip(bytes, n % 8, bytes.length - 1, 3);
            assertThat(skipped).as(array.toString()).isNotNull();
            assertThat(skipped.end()).as(array.toString()).isEqualTo(n % 8 + end);
        }
    }

    @Test
    void skipRefusesStringsObjectsAndDeepNestingWhereverTheyFall() {
        for (int at = 0; at < 20; at++) {
            String numbers = "1,2,3,4,5,6,7,8,9,10,11,12,13";
            for (String odd : new String[] {"\"a\"", "{}", "[[[[1]]]]"}) {
                String array = "[" + numbers.substring(0, at) + odd + numbers.substring(at) + "]";
                byte[] bytes = utf8(array + "}");
                assertThat(FastNumbers.skip(bytes, 0, bytes.length - 1, 3)).as(array).isNull();
            }
        }
    }

    // ------------------------------------------------------------------- values, FP32 and FP64

    @Test
    void fp32ValuesEqualTheParsersOwnConversion() {
        List<String> numbers = numberTexts(new Random(7), true);
        float[] decoded = (float[]) decode("FP32", numbers);
        float[] expected = referenceFloats(numbers);
        for (int i = 0; i < numbers.size(); i++) {
            assertThat(Float.floatToRawIntBits(decoded[i]))
                    .as("element %d, %s", i, numbers.get(i))
                    .isEqualTo(Float.floatToRawIntBits(expected[i]));
        }
    }

    @Test
    void fp64ValuesEqualTheParsersOwnConversion() {
        List<String> numbers = numberTexts(new Random(11), false);
        double[] decoded = (double[]) decode("FP64", numbers);
        double[] expected = referenceDoubles(numbers);
        for (int i = 0; i < numbers.size(); i++) {
            assertThat(Double.doubleToRawLongBits(decoded[i]))
                    .as("element %d, %s", i, numbers.get(i))
                    .isEqualTo(Double.doubleToRawLongBits(expected[i]));
        }
    }

    @Test
    void fp32TiesBetweenTwoFloatsRoundOnceNotTwice() {
        // the decimal just above the midpoint of two floats is nearest (as a double) to the
        // midpoint itself; rounding that double to a float would pick the even neighbour
        List<String> numbers = new ArrayList<>();
        Random random = new Random(3);
        for (int i = 0; i < 2000; i++) {
            float a = Math.abs(Float.intBitsToFloat(0x0080_0000 + random.nextInt(0x7E00_0000)));
            float b = Math.nextUp(a);
            BigDecimal midpoint = new BigDecimal(a).add(new BigDecimal(b)).divide(BigDecimal.valueOf(2));
            numbers.add(midpoint.toString());
            numbers.add(midpoint.add(BigDecimal.ONE.movePointLeft(60).multiply(new BigDecimal(a))).toString());
            numbers.add(Double.toString(midpoint.doubleValue()));
        }
        float[] decoded = (float[]) decode("FP32", numbers);
        float[] expected = referenceFloats(numbers);
        for (int i = 0; i < numbers.size(); i++) {
            assertThat(decoded[i]).as("%s", numbers.get(i)).isEqualTo(expected[i]);
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource(delimiter = '|', textBlock = """
            FP32 | 0, -0, -0.0, 0.0e5, 1, -1, 1E3, 2e-3, 0.1, 3.4028235e38, 1.4e-45, 1.17549435E-38
            FP64 | 0, -0, -0.0, 1e308, 4.9e-324, 123456789012345678901234567890, 0.30000000000000004
            INT8 | -128, 127, 0, -0
            UINT8 | 0, 255
            INT16 | -32768, 32767
            UINT16 | 65535
            INT32 | -2147483648, 2147483647
            UINT32 | 4294967295
            INT64 | -999999999999999999, 999999999999999999, -9223372036854775808, 9223372036854775807
            UINT64 | 9223372036854775807, 18446744073709551615
            """)
    void edgeValuesMatchTheUsualParse(String datatype, String numbers) {
        List<String> list = List.of(numbers.split(",\\s*"));
        Object decoded = decode(datatype, list);
        Object viaParser = decodeViaParser(datatype, list);
        assertThat(decoded).isEqualTo(viaParser);
    }

    // ---------------------------------------------------------- what goes back to the usual parse

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource(delimiter = '|', quoteCharacter = '`', textBlock = """
            FP32  | [1, 2, true]      | element 2 is a boolean but datatype FP32 takes numbers
            FP32  | [1, 2, null]      | element 2 is null but datatype FP32 takes numbers
            FP32  | [1, 1e39, 2]      | element 1 is 1e39, out of range for FP32
            FP64  | [1e400]           | element 0 is 1e400, out of range for FP64
            INT32 | [1, 2.5]          | element 1 is a number but datatype INT32 takes whole numbers
            INT8  | [1, 300]          | element 1 is 300, out of range for INT8
            UINT8 | [-1]              | element 0 is -1, out of range for UINT8
            FP32  | [1, 2,]           | malformed JSON
            FP32  | [1,, 2]           | malformed JSON
            FP32  | [1 2]             | malformed JSON
            FP32  | [01]              | malformed JSON
            FP32  | [1.]              | malformed JSON
            FP32  | [.5]              | malformed JSON
            FP32  | [+1]              | malformed JSON
            FP32  | [1e]              | malformed JSON
            FP32  | [--1]             | malformed JSON
            FP32  | [1.5.5]           | malformed JSON
            FP32  | [[1, 2], [3]]     | nested data is ragged
            FP32  | [[1, 2], 3]       | data mixes values and arrays at nesting level 0
            """)
    void whatTheFastReaderDoesNotTakeGetsTheUsualError(String datatype, String data, String error) {
        String message = badRequestMessage(() -> codec.decodeRequest(oneInput(
                "'name': 'x', 'datatype': '" + datatype + "', 'shape': [3], 'data': " + data), -1));
        assertThat(message).contains(error);
    }

    @Test
    void specialValuesAndBooleansStillParse() {
        Tensor floats = codec.decodeRequest(oneInput(
                "'name': 'x', 'datatype': 'FP32', 'shape': [3], 'data': [1.5, 'NaN', '-Infinity']"), -1).inputs().get(0);
        assertThat((float[]) floats.data()).containsExactly(1.5f, Float.NaN, Float.NEGATIVE_INFINITY);
        Tensor bools = codec.decodeRequest(oneInput(
                "'name': 'x', 'datatype': 'BOOL', 'shape': [2], 'data': [true, false]"), -1).inputs().get(0);
        assertThat((boolean[]) bools.data()).containsExactly(true, false);
    }

    @Test
    void nestedDataIsReadAndCheckedAgainstTheShape() {
        Tensor t = codec.decodeRequest(oneInput(
                "'name': 'x', 'datatype': 'INT32', 'shape': [2, 3], 'data': [[1, 2, 3], [4, 5, 6]]"), -1).inputs().get(0);
        assertThat((int[]) t.data()).containsExactly(1, 2, 3, 4, 5, 6);
        assertThat(badRequestMessage(() -> codec.decodeRequest(oneInput(
                "'name': 'x', 'datatype': 'INT32', 'shape': [3, 2], 'data': [[1, 2, 3], [4, 5, 6]]"), -1)))
                .contains("nested data has shape [2, 3] but the tensor's shape is [3, 2]");
    }

    // ------------------------------------------------------------------------ finding the arrays

    @Test
    void onlyTheTensorsDataArraysAreCut() {
        byte[] body = utf8("""
                {"id": "data", "extension": {"data": [9, 9], "inputs": [{"data": [8]}]},
                 "inputs": [
                   {"data": [1.5, 2.5], "name": "a", "datatype": "FP32", "shape": [2],
                    "parameters": {"data": 7, "note": "\\"data\\": [6]"}, "extension": {"data": [7]}},
                   {"name": "b", "datatype": "FP32", "shape": [1], "d\\u0061ta": [3]},
                   {"name": "c", "datatype": "BYTES", "shape": [1], "data": ["[1]"]},
                   {"name": "d", "datatype": "INT64", "shape": [1, 2], "data": [[4, 5]]}
                 ],
                 "outputs": [{"name": "y", "data": [5]}]}
                """);
        DataArrays arrays = DataArrays.locate(body, body.length, "inputs", 29, true);
        String parsed = new String(arrays.parsed(), 0, arrays.parsedLength(), java.nio.charset.StandardCharsets.UTF_8);
        assertThat(parsed)
                .contains("'data': [9, 9]".replace('\'', '"'))
                .contains("{'data': [8]}".replace('\'', '"'))
                .contains("'data': [], 'name': 'a'".replace('\'', '"'))
                .contains("'data': [7]".replace('\'', '"'))
                .contains("\"d\\u0061ta\": [3]")
                .contains("\\\"data\\\": [6]")
                .contains("'data': ['[1]']".replace('\'', '"'))
                .contains("'data': []}".replace('\'', '"'))
                .contains("{'name': 'y', 'data': [5]}".replace('\'', '"'));

        InferRequest request = codec.decodeRequest(body, -1);
        assertThat((float[]) request.inputs().get(0).data()).containsExactly(1.5f, 2.5f);
        assertThat((float[]) request.inputs().get(1).data()).containsExactly(3f);
        assertThat((long[]) request.inputs().get(3).data()).containsExactly(4L, 5L);
        assertThat(request.inputs().get(0).parameters()).containsKey("data");
    }

    @Test
    void arraysDeeperThanTheNestingLimitAreLeftToTheParser() {
        OipCodec shallow = new OipCodec(6); // data may nest 3 levels: message, list, tensor, then 3
        String deep = "'name': 'x', 'datatype': 'FP32', 'shape': [1, 1, 1, 1], 'data': [[[[1]]]]";
        assertThat(badRequestMessage(() -> shallow.decodeRequest(oneInput(deep), -1))).contains("JSON nests deeper than the limit of 6 levels");
        Tensor ok = shallow.decodeRequest(oneInput("'name': 'x', 'datatype': 'FP32', 'shape': [1, 1, 1], 'data': [[[1]]]"),
                -1).inputs().get(0);
        assertThat((float[]) ok.data()).containsExactly(1f);
    }

    @Test
    void responsesAreReadTheSameWay() {
        byte[] body = utf8(json("""
                {'model_name': 'm', 'outputs': [{'name': 'y', 'datatype': 'FP32', 'shape': [3], 'data': [0.25, -1e-3, 7]}]}
                """));
        InferResponse response = codec.decodeResponse(body, -1);
        assertThat((float[]) response.outputs().get(0).data()).containsExactly(0.25f, -1e-3f, 7f);
    }

    // ------------------------------------------------------------------------------- helpers

    private Object decode(String datatype, List<String> numbers) {
        String body = "{\"inputs\": [{\"name\": \"x\", \"datatype\": \"" + datatype + "\", \"shape\": [" + numbers.size()
                + "], \"data\": [" + String.join(", ", numbers) + "]}]}";
        return codec.decodeRequest(utf8(body), -1).inputs().get(0).data();
    }

    /** The same values through the token parser: a string element first makes the fast reader step aside. */
    private Object decodeViaParser(String datatype, List<String> numbers) {
        String body = "{\"inputs\": [{\"name\": \"x\", \"datatype\": \"" + datatype + "\", \"shape\": [" + numbers.size()
                + "], \"data\": [" + String.join(", ", numbers) + "]}]}";
        // an escaped key keeps the array from being cut, so the usual parse reads it
        body = body.replace("\"data\"", "\"d\\u0061ta\"");
        return codec.decodeRequest(utf8(body), -1).inputs().get(0).data();
    }

    private static float[] referenceFloats(List<String> numbers) {
        float[] out = new float[numbers.size()];
        try (JsonParser p = REFERENCE.createParser(ObjectReadContext.empty(), utf8("[" + String.join(",", numbers) + "]"))) {
            p.nextToken();
            int i = 0;
            while (p.nextToken() != JsonToken.END_ARRAY) {
                out[i++] = p.getFloatValue();
            }
        }
        return out;
    }

    private static double[] referenceDoubles(List<String> numbers) {
        double[] out = new double[numbers.size()];
        try (JsonParser p = REFERENCE.createParser(ObjectReadContext.empty(), utf8("[" + String.join(",", numbers) + "]"))) {
            p.nextToken();
            int i = 0;
            while (p.nextToken() != JsonToken.END_ARRAY) {
                out[i++] = p.getDoubleValue();
            }
        }
        return out;
    }

    /** Shortest forms of random values, and random decimals of 1 to 22 digits at many scales. */
    private static List<String> numberTexts(Random random, boolean fp32) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < 20_000; i++) {
            if (fp32) {
                float f = Float.intBitsToFloat(random.nextInt());
                if (Float.isFinite(f)) {
                    out.add(Float.toString(f));
                }
                out.add(Float.toString((float) (random.nextGaussian() * 0.1)));
            } else {
                double d = Double.longBitsToDouble(random.nextLong());
                if (Double.isFinite(d)) {
                    out.add(Double.toString(d));
                }
                out.add(Double.toString(random.nextGaussian()));
            }
            StringBuilder decimal = new StringBuilder();
            if (random.nextBoolean()) {
                decimal.append('-');
            }
            int digits = 1 + random.nextInt(22);
            int point = random.nextInt(digits + 1);
            for (int d = 0; d < digits; d++) {
                if (d == point && d > 0) {
                    decimal.append('.');
                }
                decimal.append(d == 0 && digits > 1 && point != 1 ? (char) ('1' + random.nextInt(9)) : (char) ('0' + random.nextInt(10)));
            }
            if (random.nextInt(3) == 0) {
                decimal.append('e').append(random.nextInt(80) - (fp32 ? 45 : 40));
            }
            BigDecimal value = new BigDecimal(decimal.toString()).abs();
            if (value.compareTo(new BigDecimal(fp32 ? Float.MAX_VALUE : Double.MAX_VALUE)) < 0) {
                out.add(decimal.toString());
            }
        }
        return out;
    }
}
