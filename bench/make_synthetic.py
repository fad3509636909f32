#!/usr/bin/python3
"""Write synthetic ONNX graphs of N layers for the analyzer's scaling benchmark.

Usage: make_synthetic.py OUTDIR [--layers 500,1000,2000,5000] [--channels 8] [--size 16]

Each graph is a chain of residual blocks x -> Conv 3x3 -> Relu -> Add(x, .), three nodes a
block, after a stem Conv from 3 channels; N counts nodes (layers), so N=5000 is 1666 blocks plus
the stem and padding Relus to reach N exactly. Weights are small (channels x channels x 3 x 3)
so the file size grows with the graph, not the payload. The batch axis is symbolic, as in a
torch.onnx.export with dynamic axes. Output: OUTDIR/synthetic_N.onnx.

Needs Debian's python3-onnx: run with /usr/bin/python3.
"""

import argparse
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def make_graph(layers, channels, size):
    rng = np.random.default_rng(layers)
    nodes, inits = [], []

    def conv(name, x, c_in):
        w = numpy_helper.from_array(
            (rng.standard_normal((channels, c_in, 3, 3)) * 0.1).astype(np.float32), name + ".w")
        b = numpy_helper.from_array(np.zeros(channels, np.float32), name + ".b")
        inits.extend([w, b])
        out = name + ".out"
        nodes.append(helper.make_node("Conv", [x, w.name, b.name], [out], name=name,
                                      kernel_shape=[3, 3], pads=[1, 1, 1, 1]))
        return out

    def relu(name, x):
        out = name + ".out"
        nodes.append(helper.make_node("Relu", [x], [out], name=name))
        return out

    x = conv("stem", "input", 3)
    block = 0
    while len(nodes) + 3 <= layers:
        y = conv(f"b{block}.conv", x, channels)
        y = relu(f"b{block}.relu", y)
        out = f"b{block}.add.out"
        nodes.append(helper.make_node("Add", [x, y], [out], name=f"b{block}.add"))
        x = out
        block += 1
    while len(nodes) < layers:
        x = relu(f"tail{len(nodes)}", x)
    nodes[-1].output[0] = "output"

    graph = helper.make_graph(
        nodes, f"synthetic_{layers}",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, size, size])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT,
                                       ["batch", channels, size, size])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)],
                              producer_name="joulecast-bench")
    model.ir_version = 7
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir")
    ap.add_argument("--layers", default="500,1000,2000,5000",
                    help="comma-separated node counts (default 500,1000,2000,5000)")
    ap.add_argument("--channels", type=int, default=8)
    ap.add_argument("--size", type=int, default=16, help="input height and width")
    args = ap.parse_args()

    os.makedirs(args.outdir, exist_ok=True)
    for n in (int(v) for v in args.layers.split(",") if v):
        if n < 4:
            print(f"make_synthetic: {n} layers is too few (at least 4)", file=sys.stderr)
            return 2
        model = make_graph(n, args.channels, args.size)
        onnx.checker.check_model(model)
        path = os.path.join(args.outdir, f"synthetic_{n}.onnx")
        onnx.save(model, path)
        print(f"{path}: {len(model.graph.node)} nodes, {os.path.getsize(path)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
