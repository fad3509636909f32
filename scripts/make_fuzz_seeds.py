#!/usr/bin/python3
"""Writes small ONNX models as a seed corpus for the ONNX fuzzer: a conv net with BatchNorm, a
shape-plumbing chain ending in Reshape, and a residual block. Usage: make_fuzz_seeds.py OUTDIR"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def init(name, *dims, dtype=np.float32):
    return numpy_helper.from_array(np.ones(dims, dtype=dtype), name)


def ints(name, values):
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def model(nodes, inits, out_shape, name):
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 8, 8])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, out_shape)
    g = helper.make_graph(nodes, name, [x], [y], initializer=inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)])


def main(out):
    os.makedirs(out, exist_ok=True)
    convnet = model(
        [helper.make_node("Conv", ["input", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
         helper.make_node("BatchNormalization", ["c", "s", "bb", "m", "v"], ["n"]),
         helper.make_node("Relu", ["n"], ["r"]),
         helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
         helper.make_node("Flatten", ["p"], ["f"]),
         helper.make_node("Gemm", ["f", "fw", "fb"], ["output"], transB=1)],
        [init("w", 4, 3, 3, 3), init("b", 4), init("s", 4), init("bb", 4), init("m", 4),
         init("v", 4), init("fw", 10, 64), init("fb", 10)], ["batch", 10], "convnet")
    plumbing = model(
        [helper.make_node("Shape", ["input"], ["shape"]),
         helper.make_node("Gather", ["shape", "zero"], ["n"], axis=0),
         helper.make_node("Unsqueeze", ["n", "axes"], ["n1"]),
         helper.make_node("Concat", ["n1", "minus1"], ["target"], axis=0),
         helper.make_node("Reshape", ["input", "target"], ["output"])],
        [ints("zero", 0), ints("axes", [0]), ints("minus1", [-1])], ["batch", 192], "plumbing")
    residual = model(
        [helper.make_node("Conv", ["input", "w"], ["c"], pads=[1, 1, 1, 1]),
         helper.make_node("Add", ["c", "input"], ["a"]),
         helper.make_node("GlobalAveragePool", ["a"], ["output"])],
        [init("w", 3, 3, 3, 3)], ["batch", 3, 1, 1], "residual")
    for m in (convnet, plumbing, residual):
        onnx.save(m, os.path.join(out, m.graph.name + ".onnx"))


if __name__ == "__main__":
    main(sys.argv[1])
