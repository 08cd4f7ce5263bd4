#!/usr/bin/env python3
"""Generates the small ONNX models the tests, the e2e scenarios and the benchmarks run on.

Run from anywhere:  /usr/bin/python3 models/testdata/generate.py
Needs Debian's python3-onnx (apt-get install python3-onnx). The output is committed under
models/testdata/repository/, one folder per model, so building and testing need no Python.
Weights come from a fixed seed: running it again gives the same files.
"""
import os
import shutil

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "repository")
# Models that must not load, each for its own reason; the host must say why and serve the rest.
FAULTY = os.path.join(HERE, "faulty")
# Models only the benchmarks load (too heavy for every test's model host).
BENCHMARK = os.path.join(HERE, "benchmark-repository")
OPSET = [helper.make_opsetid("", 17)]
IR_VERSION = 8
rng = np.random.default_rng(20261122)


def save(name, graph, config=None, external=False, out=OUT):
    folder = os.path.join(out, name)
    os.makedirs(folder, exist_ok=True)
    model = helper.make_model(graph, opset_imports=OPSET, producer_name="hybridge-testdata")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    path = os.path.join(folder, "model.onnx")
    if external:
        onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location="weights.bin", size_threshold=1024)
    else:
        onnx.save_model(model, path)
    if config is not None:
        with open(os.path.join(folder, "config.yaml"), "w") as f:
            f.write(config)


def identity(name, elem_type, out=OUT, config=None):
    """x -> y, any shape of rank 2: exercises one datatype end to end."""
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])], name,
        [helper.make_tensor_value_info("x", elem_type, ["batch", "n"])],
        [helper.make_tensor_value_info("y", elem_type, ["batch", "n"])])
    save(name, graph, config, out=out)


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    shutil.rmtree(FAULTY, ignore_errors=True)
    shutil.rmtree(BENCHMARK, ignore_errors=True)
    for suffix, elem in [("bool", TensorProto.BOOL), ("uint8", TensorProto.UINT8), ("int8", TensorProto.INT8),
                         ("int16", TensorProto.INT16), ("int32", TensorProto.INT32), ("int64", TensorProto.INT64),
                         ("fp16", TensorProto.FLOAT16), ("bf16", TensorProto.BFLOAT16), ("fp32", TensorProto.FLOAT),
                         ("fp64", TensorProto.DOUBLE), ("bytes", TensorProto.STRING)]:
        identity("identity_" + suffix, elem)

    # INT64 in, the three wide unsigned types out: unsigned outputs come back through the host.
    graph = helper.make_graph(
        [helper.make_node("Cast", ["x"], ["u16"], to=TensorProto.UINT16),
         helper.make_node("Cast", ["x"], ["u32"], to=TensorProto.UINT32),
         helper.make_node("Cast", ["x"], ["u64"], to=TensorProto.UINT64)], "cast_unsigned",
        [helper.make_tensor_value_info("x", TensorProto.INT64, ["batch", "n"])],
        [helper.make_tensor_value_info("u16", TensorProto.UINT16, ["batch", "n"]),
         helper.make_tensor_value_info("u32", TensorProto.UINT32, ["batch", "n"]),
         helper.make_tensor_value_info("u64", TensorProto.UINT64, ["batch", "n"])])
    save("cast_unsigned", graph)

    # Two inputs, two outputs, a fixed inner dimension, no config file: served from ONNX metadata alone.
    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["sum"]), helper.make_node("Sub", ["a", "b"], ["diff"])], "add",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["batch", 4]),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("sum", TensorProto.FLOAT, ["batch", 4]),
         helper.make_tensor_value_info("diff", TensorProto.FLOAT, ["batch", 4])])
    save("add", graph)
    # The same, with b optional: a request that leaves it out gets [1, 2, 3, 4] in each row.
    save("add_default", graph, "inputs:\n  b:\n    default: [1, 2, 3, 4]\n")

    # A fixed batch dimension of 1: cannot be batched, so the host must run it request by request.
    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "two"], ["y"])], "fixed_batch",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        [numpy_helper.from_array(np.array(2.0, dtype=np.float32), "two")])
    save("fixed_batch", graph, "batching:\n  enabled: true\n")

    # A one-second 8 kHz audio classifier with fixed random weights: the shape of the real demo models.
    # audio [batch, 8000] -> 80 frames of 100 samples -> frame energies [batch, 80]
    #   -> embedding = relu(energies @ W1 + b1) [batch, 16] -> logits = embedding @ W2 + b2 [batch, 10] -> probs
    w1 = rng.normal(0, 0.5, (80, 16)).astype(np.float32)
    b1 = rng.normal(0, 0.1, (16,)).astype(np.float32)
    w2 = rng.normal(0, 0.5, (16, 10)).astype(np.float32)
    b2 = rng.normal(0, 0.1, (10,)).astype(np.float32)
    nodes = [
        helper.make_node("Reshape", ["audio", "frames_shape"], ["frames"]),
        helper.make_node("Mul", ["frames", "frames"], ["squared"]),
        helper.make_node("ReduceMean", ["squared"], ["energy"], axes=[2], keepdims=0),
        helper.make_node("Sqrt", ["energy"], ["rms"]),
        helper.make_node("MatMul", ["rms", "w1"], ["h1"]),
        helper.make_node("Add", ["h1", "b1"], ["h1b"]),
        helper.make_node("Relu", ["h1b"], ["embedding"]),
        helper.make_node("MatMul", ["embedding", "w2"], ["h2"]),
        helper.make_node("Add", ["h2", "b2"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
    ]
    inits = [numpy_helper.from_array(np.array([-1, 80, 100], dtype=np.int64), "frames_shape"),
             numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(b1, "b1"),
             numpy_helper.from_array(w2, "w2"), numpy_helper.from_array(b2, "b2")]
    graph = helper.make_graph(
        nodes, "classifier",
        [helper.make_tensor_value_info("audio", TensorProto.FLOAT, ["batch", 8000])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 10]),
         helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10]),
         helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", 16])], inits)
    labels = "[zero, one, two, three, four, five, six, seven, eight, nine]"
    save("classifier", graph,
         "# A test classifier with random weights (not trained): its answers mean nothing.\n"
         "version: \"3\"\n"
         f"labels: {labels}\n"
         "scores:\n  output: probs\n  kind: probabilities\n"
         "batching:\n  enabled: true\n  max-batch-size: 8\n  max-queue-delay: 5ms\n  max-queue-size: 64\n"
         "threads:\n  intra-op: 1\n  inter-op: 1\n")
    # The same graph with its weights in a separate file, scored from its logits.
    save("classifier_external", graph,
         f"labels: {labels}\n"
         "scores:\n  output: logits\n  kind: logits\n", external=True)

    # The benchmark model: one dense layer over raw audio, heavy enough that batching matters
    # (a [8000 x 128] weight matrix read once per run). Weights stored as FP16 to halve the file.
    wb = rng.normal(0, 0.02, (8000, 128)).astype(np.float16)
    wo = rng.normal(0, 0.2, (128, 10)).astype(np.float32)
    nodes = [
        helper.make_node("Cast", ["w_half"], ["w"], to=TensorProto.FLOAT),
        helper.make_node("MatMul", ["audio", "w"], ["h"]),
        helper.make_node("Relu", ["h"], ["embedding"]),
        helper.make_node("MatMul", ["embedding", "wo"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
    ]
    graph = helper.make_graph(
        nodes, "dense_audio",
        [helper.make_tensor_value_info("audio", TensorProto.FLOAT, ["batch", 8000])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 10])],
        [numpy_helper.from_array(wb, "w_half"), numpy_helper.from_array(wo, "wo")])
    save("dense_audio", graph,
         "# Benchmark model with random weights (not trained).\n"
         "scores:\n  output: probs\n  kind: probabilities\n")

    # A cloud-sized dense model: [8000 x 1024] weights, 32 MB as FP32, so that a run at batch 1
    # is bound by reading the weights, as with the large fully connected layers of full models.
    # The weights are computed in the graph from a Range (ONNX Runtime folds them into a constant
    # when the session loads), which keeps the file a few KB.
    hidden = 1024
    wo_wide = rng.normal(0, 0.05, (hidden, 10)).astype(np.float32)
    nodes = [
        helper.make_node("Range", ["zero", "count", "one"], ["index"]),
        helper.make_node("Mul", ["index", "step"], ["phase"]),
        helper.make_node("Sin", ["phase"], ["wave"]),
        helper.make_node("Mul", ["wave", "scale"], ["w_flat"]),
        helper.make_node("Reshape", ["w_flat", "w_shape"], ["w"]),
        helper.make_node("MatMul", ["audio", "w"], ["h"]),
        helper.make_node("Relu", ["h"], ["embedding"]),
        helper.make_node("MatMul", ["embedding", "wo"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
    ]
    graph = helper.make_graph(
        nodes, "wide_audio",
        [helper.make_tensor_value_info("audio", TensorProto.FLOAT, ["batch", 8000])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 10])],
        [numpy_helper.from_array(np.array(0, np.float32), "zero"),
         numpy_helper.from_array(np.array(8000 * hidden, np.float32), "count"),
         numpy_helper.from_array(np.array(1, np.float32), "one"),
         numpy_helper.from_array(np.array(0.7071, np.float32), "step"),
         numpy_helper.from_array(np.array(0.02, np.float32), "scale"),
         numpy_helper.from_array(np.array([8000, hidden], np.int64), "w_shape"),
         numpy_helper.from_array(wo_wide, "wo")])
    save("wide_audio", graph,
         "# Benchmark model with made-up weights (not trained): 8000 x 1024 dense layer over raw audio.\n"
         "scores:\n  output: probs\n  kind: probabilities\n", out=BENCHMARK)

    # --- faulty/ ---
    # ONNX Runtime's Java API cannot build UINT32 input tensors.
    identity("uint32_input", TensorProto.UINT32, out=FAULTY)
    # A config naming an output the model does not have.
    identity("wrong_scores_output", TensorProto.FLOAT, out=FAULTY,
             config="scores:\n  output: probabilities\n  kind: probabilities\n")
    # A config with a misspelt field.
    identity("misspelt_config", TensorProto.FLOAT, out=FAULTY, config="batching:\n  max-batch: 4\n")
    # Input defaults that do not fit the model: an input it does not have, and a row of the wrong length.
    identity("default_for_no_input", TensorProto.FLOAT, out=FAULTY, config="inputs:\n  z:\n    default: [0]\n")
    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["sum"])], "default_wrong_length",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["batch", 4]),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("sum", TensorProto.FLOAT, ["batch", 4])])
    save("default_wrong_length", graph, "inputs:\n  b:\n    default: [1, 2, 3]\n", out=FAULTY)
    # Not an ONNX file at all.
    os.makedirs(os.path.join(FAULTY, "not_onnx"), exist_ok=True)
    with open(os.path.join(FAULTY, "not_onnx", "model.onnx"), "wb") as f:
        f.write(b"this is not an ONNX model\n")
    # A model that loads: the host must serve it beside the faulty ones.
    identity("identity_fp32", TensorProto.FLOAT, out=FAULTY)


if __name__ == "__main__":
    main()
