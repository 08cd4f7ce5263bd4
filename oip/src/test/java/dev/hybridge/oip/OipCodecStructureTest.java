package dev.hybridge.oip;

import static dev.hybridge.oip.OipTestSupport.badRequestMessage;
import static dev.hybridge.oip.OipTestSupport.json;
import static dev.hybridge.oip.OipTestSupport.oneInput;
import static dev.hybridge.oip.OipTestSupport.utf8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The shape of request and response messages: malformed JSON, missing members, parameters, depth. */
class OipCodecStructureTest {

    private static final String GOOD_TENSOR = "{'name':'a','datatype':'INT32','shape':[1],'data':[1]}";

    private final OipCodec codec = new OipCodec();

    private String reject(String singleQuotedJson) {
        return badRequestMessage(() -> codec.decodeRequest(utf8(json(singleQuotedJson)), -1));
    }

    // --------------------------------------------------------------------------- malformed JSON

    @ParameterizedTest
    @ValueSource(strings = {
            "{'inputs':[",
            "{'inputs':[{'name':'a','datatype':'INT32','shape':[1],'data':[1",
            "{'inputs':[{'name':'a','datatype':'INT32','shape':[1],'data':[1]}]",
            "{'inputs'",
            "{'inputs':[{'name':'a','datatype':'INT32','shape':[1],'data':[1,]}]}",
            "{'inputs':[{'name':'a','datatype':'INT32','shape':[1],'data':[01]}]}",
            "{inputs:[]}",
            "{'inputs':[]}x",
            "{'inputs':[]}]",
    })
    void malformedJsonIsABadRequest(String body) {
        assertThat(reject(body)).contains("malformed JSON");
    }

    @Test
    void malformedJsonMessageSaysWhere() {
        assertThat(reject("{'inputs':[\n  {'name': }]}")).matches("malformed JSON at line 2, column \\d+: .+");
    }

    @Test
    void aSecondValueAfterTheObjectIsRejected() {
        assertThat(reject("{'inputs':[]} {'inputs':[]}")).contains("unexpected content after the JSON object");
    }

    @Test
    void aBodyThatIsNotAnObjectIsRejected() {
        assertThat(reject("[]")).contains("the request must be a JSON object");
        assertThat(reject("'inputs'")).contains("the request must be a JSON object but was a string");
        assertThat(reject("42")).contains("the request must be a JSON object but was a number");
        assertThat(reject("null")).contains("the request must be a JSON object but was null");
        assertThat(reject("")).contains("the request must be a JSON object but was empty");
        assertThat(reject("   ")).contains("but was empty");
        assertThat(badRequestMessage(() -> codec.decodeResponse(utf8("[1]"), -1)))
                .contains("the response must be a JSON object");
    }

    @Test
    void duplicateKeysAreRejected() {
        assertThat(reject("{'inputs':[],'inputs':[]}")).contains("malformed JSON").contains("inputs");
        assertThat(reject("{'inputs':[{'name':'a','name':'b','datatype':'INT32','shape':[1],'data':[1]}]}"))
                .contains("malformed JSON").contains("name");
        assertThat(reject("{'inputs':[{'name':'a','datatype':'INT32','shape':[1],'data':[1],'data':[2]}]}"))
                .contains("malformed JSON").contains("data");
        assertThat(reject("{'inputs':[],'parameters':{'p':1,'p':2}}")).contains("malformed JSON");
    }

    // ---------------------------------------------------------------------------------- depth

    @Test
    void tenThousandNestedArraysInDataAreABadRequestNotAStackOverflow() {
        String deep = "[".repeat(10_000) + "]".repeat(10_000);
        String message = badRequestMessage(() -> codec.decodeRequest(
                oneInput("'name':'a','datatype':'INT32','shape':[1],'data':" + deep), -1));
        assertThat(message).contains("JSON nests deeper than the limit of 32 levels");
    }

    @Test
    void deepNestingIsCaughtWhereverItIs() {
        String deep = "[".repeat(10_000) + "]".repeat(10_000);
        String deepObjects = "{'a':".repeat(10_000) + "1" + "}".repeat(10_000);
        // data before datatype: skipped first, parsed later
        assertThat(reject("{'inputs':[{'name':'a','data':" + deep + ",'datatype':'INT32','shape':[1]}]}"))
                .contains("nests deeper than the limit of 32");
        // in an unknown member that is skipped
        assertThat(reject("{'extra':" + deep + ",'inputs':[]}")).contains("nests deeper than the limit of 32");
        assertThat(reject("{'extra':" + deepObjects + ",'inputs':[]}")).contains("nests deeper than the limit of 32");
        // in the shape: refused at the first inner array, before the limit is even reached
        assertThat(reject("{'inputs':[{'name':'a','datatype':'INT32','shape':" + deep + ",'data':[1]}]}"))
                .contains("tensor 'a': shape must hold whole numbers");
        // not an object at all
        assertThat(reject(deep)).contains("must be a JSON object");
        // in a response
        assertThat(badRequestMessage(() -> codec.decodeResponse(utf8(json(
                "{'outputs':[{'name':'a','datatype':'INT32','shape':[1],'data':" + deep + "}]}")), -1)))
                .contains("nests deeper than the limit of 32");
        // in model metadata (a client-side decode, but still no stack overflow)
        assertThat(badRequestMessage(() -> codec.decodeModelMetadata(utf8(json("{'x':" + deep + "}")))))
                .isNotBlank();
    }

    @Test
    void theNestingLimitAllowsRankPlusThreeLevels() {
        OipCodec shallow = new OipCodec(8);
        assertThat(shallow.maxNestingDepth()).isEqualTo(8);
        // object, inputs array, tensor object, then 5 data levels: 8
        byte[] rank5 = oneInput("'name':'a','datatype':'INT8','shape':[1,1,1,1,1],'data':[[[[[1]]]]]");
        assertThat((byte[]) shallow.decodeRequest(rank5, -1).inputs().get(0).data()).containsExactly(1);
        byte[] rank6 = oneInput("'name':'a','datatype':'INT8','shape':[1,1,1,1,1,1],'data':[[[[[[1]]]]]]");
        assertThat(badRequestMessage(() -> shallow.decodeRequest(rank6, -1)))
                .contains("JSON nests deeper than the limit of 8 levels");
        // flat data of the same tensor is fine
        byte[] flat6 = oneInput("'name':'a','datatype':'INT8','shape':[1,1,1,1,1,1],'data':[1]");
        assertThat(shallow.decodeRequest(flat6, -1).inputs()).hasSize(1);
    }

    @Test
    void otherParserLimitsAreNotReportedAsNesting() {
        String hugeNumber = "1".repeat(1_200);
        String message = reject("{'inputs':[{'name':'a','datatype':'INT64','shape':[1],'data':[" + hugeNumber + "]}]}");
        assertThat(message).doesNotContain("nests deeper").contains("Number value length");
    }

    @Test
    void theNestingLimitMustLeaveRoomForATensor() {
        assertThatIllegalArgumentException().isThrownBy(() -> new OipCodec(3)).withMessageContaining("at least 4");
        assertThat(new OipCodec().maxNestingDepth()).isEqualTo(OipCodec.DEFAULT_MAX_NESTING_DEPTH);
    }

    // -------------------------------------------------------------------------- missing members

    @Test
    void missingMembersAreNamed() {
        assertThat(reject("{}")).contains("the request has no 'inputs'");
        assertThat(reject("{'id':'1','outputs':[]}")).contains("the request has no 'inputs'");
        assertThat(reject("{'inputs':[{'datatype':'INT32','shape':[1],'data':[1]}]}")).contains("inputs[0] has no 'name'");
        assertThat(reject("{'inputs':[" + GOOD_TENSOR + ",{'datatype':'INT32','shape':[1],'data':[1]}]}"))
                .contains("inputs[1] has no 'name'");
        assertThat(reject("{'inputs':[{'name':'a','shape':[1],'data':[1]}]}")).contains("tensor 'a' has no 'datatype'");
        assertThat(reject("{'inputs':[{'name':'a','datatype':'INT32','data':[1]}]}")).contains("tensor 'a' has no 'shape'");
        assertThat(reject("{'inputs':[{'name':'a','datatype':'INT32','shape':[1]}]}"))
                .contains("tensor 'a' has no 'data' and no binary_data_size");
    }

    @Test
    void nullAndWrongTypedMembersAreRejected() {
        assertThat(reject("{'inputs':null}")).contains("'inputs' must be an array but was null");
        assertThat(reject("{'inputs':{}}")).contains("'inputs' must be an array but was an object");
        assertThat(reject("{'inputs':[1]}")).contains("inputs[0] must be an object but was a number");
        assertThat(reject("{'inputs':[{'name':5,'datatype':'INT32','shape':[1],'data':[1]}]}"))
                .contains("'inputs[0].name' must be a string but was a number");
        assertThat(reject("{'inputs':[{'name':null,'datatype':'INT32','shape':[1],'data':[1]}]}"))
                .contains("inputs[0] has no 'name'");
        assertThat(reject("{'inputs':[{'name':'a','datatype':'INT32','shape':null,'data':[1]}]}"))
                .contains("shape").contains("must be an array but was null");
        assertThat(reject("{'inputs':[{'name':'a','datatype':'INT32','shape':[1],'data':null}]}"))
                .contains("data").contains("must be an array but was null");
        assertThat(reject("{'id':7,'inputs':[]}")).contains("'id' must be a string but was a number");
    }

    @Test
    void unknownMembersAreIgnored() {
        InferRequest request = codec.decodeRequest(utf8(json("{'future':{'a':[1,{'b':2}]},'inputs':["
                + "{'name':'a','extra':[[1],{}],'datatype':'INT32','shape':[1],'data':[5],'more':null}],"
                + "'outputs':[{'name':'o','whatever':[1,2]}]}")), -1);
        assertThat(request.inputs()).hasSize(1);
        assertThat((int[]) request.inputs().get(0).data()).containsExactly(5);
        assertThat(request.outputs()).containsExactly(new InferRequest.RequestedOutput("o"));
    }

    // ------------------------------------------------------------------------------- parameters

    @Test
    void parametersKeepTheirJsonTypes() {
        InferRequest request = codec.decodeRequest(utf8(json(
                "{'parameters':{'s':'x','i':-3,'big':9223372036854775807,'d':0.25,'e':1e3,'t':true,'f':false},"
                        + "'inputs':[{'name':'a','datatype':'INT32','shape':[1],'data':[1],'parameters':{'content_type':'np'}}]}")), -1);
        assertThat(request.parameters()).containsExactly(
                Map.entry("s", "x"), Map.entry("i", -3L), Map.entry("big", Long.MAX_VALUE), Map.entry("d", 0.25),
                Map.entry("e", 1000.0), Map.entry("t", true), Map.entry("f", false));
        assertThat(request.inputs().get(0).parameters()).containsExactly(Map.entry("content_type", "np"));
    }

    @Test
    void parametersThatAreObjectsArraysOrNullAreRejected() {
        assertThat(reject("{'parameters':{'p':{'nested':1}},'inputs':[]}"))
                .contains("parameters.p must be a string, number or boolean but was an object");
        assertThat(reject("{'parameters':{'p':[1]},'inputs':[]}"))
                .contains("parameters.p must be a string, number or boolean");
        assertThat(reject("{'parameters':{'p':null},'inputs':[]}"))
                .contains("parameters.p must be a string, number or boolean but was null");
        assertThat(reject("{'inputs':[{'name':'a','datatype':'INT32','shape':[1],'data':[1],'parameters':{'q':{}}}]}"))
                .contains("inputs[0].parameters.q").contains("but was an object");
        assertThat(reject("{'inputs':[],'outputs':[{'name':'o','parameters':{'binary_data':{}}}]}"))
                .contains("outputs[0].parameters.binary_data").contains("but was an object");
        assertThat(reject("{'parameters':[],'inputs':[]}")).contains("'parameters' must be an object but was");
        assertThat(reject("{'parameters':'p','inputs':[]}")).contains("'parameters' must be an object but was a string");
        assertThat(reject("{'parameters':{'n':18446744073709551616},'inputs':[]}"))
                .contains("parameters.n is too large a number");
    }

    @Test
    void nullParametersMeanNone() {
        InferRequest request = codec.decodeRequest(utf8(json("{'parameters':null,'inputs':[]}")), -1);
        assertThat(request.parameters()).isEmpty();
    }

    // ------------------------------------------------------------------------ requested outputs

    @Test
    void requestedOutputsKeepTheirParameters() {
        InferRequest request = codec.decodeRequest(utf8(json("{'inputs':[],'outputs':["
                + "{'name':'o1','parameters':{'binary_data':true,'classification':3}},{'name':'o2'}]}")), -1);
        assertThat(request.outputs()).hasSize(2);
        assertThat(request.outputs().get(0).name()).isEqualTo("o1");
        assertThat(request.outputs().get(0).parameters())
                .containsExactly(Map.entry("binary_data", true), Map.entry("classification", 3L));
        assertThat(request.outputs().get(1).parameters()).isEmpty();
    }

    @Test
    void malformedRequestedOutputsAreRejected() {
        assertThat(reject("{'inputs':[],'outputs':[{'parameters':{}}]}")).contains("outputs[0] has no 'name'");
        assertThat(reject("{'inputs':[],'outputs':['o1']}")).contains("outputs[0] must be an object but was a string");
        assertThat(reject("{'inputs':[],'outputs':{'name':'o'}}")).contains("'outputs' must be an array but was an object");
        assertThat(reject("{'inputs':[],'outputs':[{'name':'ok'},{'name':1}]}"))
                .contains("'outputs[1].name' must be a string");
    }

    // -------------------------------------------------------------------------------- responses

    @Test
    void responseOutputsWithoutDataAreEmptyTensors() {
        InferResponse response = codec.decodeResponse(utf8(json(
                "{'model_name':'m','outputs':[{'name':'o','datatype':'FP32','shape':[0,4]}]}")), -1);
        assertThat((float[]) response.output("o").data()).isEmpty();
        assertThat(badRequestMessage(() -> codec.decodeResponse(utf8(json(
                "{'model_name':'m','outputs':[{'name':'o','datatype':'FP32','shape':[2]}]}")), -1)))
                .contains("tensor 'o'").contains("needs 2 elements but data has 0");
    }

    @Test
    void responseWithoutOutputsDecodes() {
        InferResponse response = codec.decodeResponse(utf8(json("{'model_name':'m','model_version':'2','id':'x'}")), -1);
        assertThat(response.modelName()).isEqualTo("m");
        assertThat(response.modelVersion()).isEqualTo("2");
        assertThat(response.id()).isEqualTo("x");
        assertThat(response.outputs()).isEmpty();
    }

    @Test
    void responseDataIsCheckedLikeRequestData() {
        assertThat(badRequestMessage(() -> codec.decodeResponse(utf8(json(
                "{'outputs':[{'name':'o','datatype':'UINT8','shape':[1],'data':[256]}]}")), -1)))
                .contains("tensor 'o'").contains("out of range for UINT8");
        assertThat(badRequestMessage(() -> codec.decodeResponse(utf8(json(
                "{'outputs':[{'name':'o','datatype':'UINT8','shape':[2,2],'data':[[1,2],[3]]}]}")), -1)))
                .contains("tensor 'o'").contains("ragged");
    }
}
