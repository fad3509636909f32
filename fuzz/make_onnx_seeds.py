#!/usr/bin/python3
"""Write small ONNX models as seeds for the ONNX fuzzer.

Usage: make_onnx_seeds.py OUTDIR

Each seed is a tiny model that exercises a different part of the front end: weights, shape
plumbing that only the IR's folding resolves, BatchNorm in training mode, views in front of
weights, opset 17 LayerNormalization, and assorted data-movement ops. Needs python3-onnx.
"""

import os
import sys

import numpy as np
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper


def init(name, shape, dtype=np.float32, values=None):
    arr = np.asarray(values, dtype=dtype).reshape(shape) if values is not None else np.ones(shape, dtype)
    return numpy_helper.from_array(arr, name)


def const(name, values, dtype=np.int64):
    arr = np.asarray(values, dtype=dtype)
    return h.make_node("Constant", [], [name], value=numpy_helper.from_array(arr, name + "_v"))


def model(nodes, inputs, outputs, inits, opset=14):
    g = h.make_graph(nodes, "seed", inputs, outputs, initializer=inits)
    return h.make_model(g, opset_imports=[h.make_opsetid("", opset)], producer_name="seed")


def x(shape, name="x"):
    return h.make_tensor_value_info(name, T.FLOAT, shape)


def out(name="y"):
    return h.make_tensor_value_info(name, T.FLOAT, None)


def small_cnn():
    nodes = [
        h.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        h.make_node("Relu", ["c"], ["r"]),
        h.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        h.make_node("Flatten", ["p"], ["f"], axis=1),
        h.make_node("Gemm", ["f", "fw", "fb"], ["y"], transB=1),
    ]
    inits = [init("w", [4, 3, 3, 3]), init("b", [4]), init("fw", [5, 64]), init("fb", [5])]
    return model(nodes, [x(["N", 3, 8, 8])], [out()], inits)


def plumbing():
    nodes = [
        h.make_node("Shape", ["x"], ["s"]),
        const("i0", 0), const("i1", 1), const("two", 2), const("k2", [2]), const("km1", [-1]),
        h.make_node("Gather", ["s", "i0"], ["b"], axis=0),
        h.make_node("Gather", ["s", "i1"], ["c"], axis=0),
        h.make_node("Div", ["c", "two"], ["hh"]),
        h.make_node("Unsqueeze", ["b", "axes"], ["bu"]),
        h.make_node("Unsqueeze", ["hh", "axes"], ["hu"]),
        h.make_node("Concat", ["bu", "k2", "hu", "km1"], ["t"], axis=0),
        h.make_node("Reshape", ["x", "t"], ["r"]),
        h.make_node("Transpose", ["r"], ["tr"], perm=[0, 2, 1, 3]),
        h.make_node("Reshape", ["tr", "s"], ["y"]),
    ]
    inits = [init("axes", [1], np.int64, [0])]
    return model(nodes, [x(["N", 6, 4, 4])], [out()], inits)


def batchnorm_residual():
    nodes = [
        h.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[1, 1]),
        h.make_node("BatchNormalization", ["c", "g", "be", "m", "v"], ["n", "m_out", "v_out"],
                    training_mode=1),
        h.make_node("Relu", ["n"], ["r"]),
        h.make_node("Add", ["r", "x"], ["a"]),
        const("ratio", 0.5, np.float32), const("train", True, np.bool_),
        h.make_node("Dropout", ["a", "ratio", "train"], ["d", "mask"]),
        h.make_node("GlobalAveragePool", ["d"], ["y"]),
    ]
    inits = [init("w", [3, 3, 1, 1])] + [init(n, [3]) for n in ("g", "be", "m", "v")]
    return model(nodes, [x(["N", 3, 4, 4])], [out()], inits)


def transformer_bits():
    nodes = [
        h.make_node("Conv", ["x", "dw"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=4),
        h.make_node("Transpose", ["c"], ["t"], perm=[0, 2, 3, 1]),
        h.make_node("LayerNormalization", ["t", "lw", "lb"], ["ln"], axis=-1),
        h.make_node("Transpose", ["fw"], ["fwt"], perm=[1, 0]),
        h.make_node("MatMul", ["ln", "fwt"], ["mm"]),
        h.make_node("Erf", ["mm"], ["e"]),
        h.make_node("Mul", ["e", "gamma"], ["s"]),
        h.make_node("HardSwish", ["s"], ["hs"]),
        h.make_node("Softmax", ["hs"], ["y"], axis=-1),
    ]
    inits = [init("dw", [4, 1, 3, 3]), init("lw", [4]), init("lb", [4]), init("fw", [8, 4]),
             init("gamma", [8])]
    return model(nodes, [x(["N", 4, 6, 6])], [out()], inits, opset=17)


def data_movement():
    nodes = [
        h.make_node("Pad", ["x", "pads"], ["p"], mode="constant"),
        h.make_node("AveragePool", ["p"], ["a"], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
        const("scales", [1.0, 1.0, 2.0, 2.0], np.float32),
        h.make_node("Resize", ["a", "", "scales"], ["rs"], mode="nearest"),
        h.make_node("Split", ["rs", "split"], ["s0", "s1"], axis=1),
        h.make_node("Concat", ["s1", "s0"], ["cat"], axis=1),
        h.make_node("Slice", ["cat", "st", "en", "ax"], ["sl"]),
        h.make_node("ReduceMean", ["sl"], ["rm"], axes=[2, 3], keepdims=1),
        h.make_node("Sigmoid", ["rm"], ["sg"]),
        h.make_node("Mul", ["sl", "sg"], ["y"]),
    ]
    inits = [init("pads", [8], np.int64, [0, 0, 1, 1, 0, 0, 1, 1]),
             init("split", [2], np.int64, [1, 1]),
             init("st", [1], np.int64, [1]), init("en", [1], np.int64, [100]),
             init("ax", [1], np.int64, [2])]
    return model(nodes, [x(["N", 2, 7, 7])], [out()], inits, opset=13)


def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    for make in (small_cnn, plumbing, batchnorm_residual, transformer_bits, data_movement):
        with open(os.path.join(outdir, make.__name__ + ".bin"), "wb") as f:
            f.write(make().SerializeToString())


if __name__ == "__main__":
    main()
