#!/usr/bin/python3
"""Reference numbers for the JSON architecture front end's tests, computed with PyTorch.

For every architecture in models/ and analyzer/json/testdata/ this builds the same network in
PyTorch and prints its trainable parameter count, buffer count (BatchNorm running mean and
variance; num_batches_tracked is left out, as ONNX has no such tensor), forward MACs per sample
(convolutions and linear layers only, bias adds excluded: torchvision's convention, counted with
forward hooks) and the output shape of every layer at batch 1.

Plain layer lists are built by a small interpreter of the format written here independently of
the C++ front end. LeNet-5 and the paper's four families are also written out by hand, as the
paper's code built them, and must agree with the interpreter.

Usage: /usr/bin/python3 scripts/json_models_reference.py [--json]
"""
import glob
import json
import os
import sys

import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def pair(v):
    return tuple(v) if isinstance(v, list) else (v, v)


class Interpreted(nn.Module):
    """A JSON layer list as a PyTorch module: each layer reads the one before or its "from"."""

    def __init__(self, spec):
        super().__init__()
        self.input_shape = list(spec["input"]["shape"])
        self.order = []  # (name, op, [input names])
        self.mods = nn.ModuleDict()
        shapes = {"input": [2] + self.input_shape}  # batch 2 so BatchNorm1d can train
        previous = "input"
        for i, layer in enumerate(spec["layers"]):
            op = layer["op"]
            name = layer.get("id", f"{op}_{i}")
            inputs = layer.get("from", [previous])
            x = shapes[inputs[0]]
            self.mods[name] = self.make(op, layer, x)
            self.order.append((name, op, inputs))
            with torch.no_grad():
                shapes[name] = list(self.run_one(name, op, [torch.zeros(shapes[n]) for n in inputs]).shape)
            previous = name
        self.output = previous

    @staticmethod
    def make(op, layer, x):
        if op == "conv2d":
            return nn.Conv2d(x[1], layer["out_channels"], pair(layer["kernel"]),
                             pair(layer.get("stride", 1)), pair(layer.get("padding", 0)),
                             pair(layer.get("dilation", 1)), layer.get("groups", 1),
                             layer.get("bias", True))
        if op == "linear":
            return nn.Linear(x[-1], layer["out_features"], layer.get("bias", True))
        if op in ("batchnorm2d", "batchnorm1d"):
            return (nn.BatchNorm2d if op == "batchnorm2d" else nn.BatchNorm1d)(x[1])
        if op == "layernorm":
            k = layer.get("normalized_dims", len(x) - 1)
            return nn.LayerNorm(x[len(x) - k:])
        if op == "maxpool2d":
            k = pair(layer["kernel"])
            return nn.MaxPool2d(k, pair(layer.get("stride", layer["kernel"])), pair(layer.get("padding", 0)))
        if op == "avgpool2d":
            k = pair(layer["kernel"])
            return nn.AvgPool2d(k, pair(layer.get("stride", layer["kernel"])), pair(layer.get("padding", 0)))
        if op == "global_avgpool":
            return nn.AdaptiveAvgPool2d(1)
        if op == "adaptive_avgpool2d":
            return nn.AdaptiveAvgPool2d(pair(layer["output"]))
        if op == "dropout":
            return nn.Dropout(layer.get("p", 0.5))
        if op == "leaky_relu":
            return nn.LeakyReLU(layer.get("negative_slope", 0.01))
        simple = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "gelu": nn.GELU,
                  "hardswish": nn.Hardswish, "flatten": nn.Flatten}
        if op in simple:
            return simple[op]()
        if op in ("add", "concat"):
            return nn.Identity()
        raise ValueError(f"unknown op {op}")

    def run_one(self, name, op, xs):
        if op == "add":
            return sum(xs[1:], xs[0])
        if op == "concat":
            return torch.cat(xs, 1)
        return self.mods[name](xs[0])

    def forward(self, x, shapes=None):
        values = {"input": x}
        for name, op, inputs in self.order:
            values[name] = self.run_one(name, op, [values[n] for n in inputs])
            if shapes is not None:
                shapes[name] = list(values[name].shape)
        return values[self.output]


def lenet5_by_hand():
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(6 * 14 * 14, 120), nn.ReLU(), nn.Linear(120, 10))


def family_by_hand(family, chw, nr_conv_layers=2, nr_linear_layers=3, classes=10):
    """The paper's families as its code built them; C,H,W are the network input's."""
    c, h, w = chw
    layers = []
    channels = c
    if family in ("SimpleCNN", "SimpleCNN2"):
        for d in range(nr_conv_layers):
            out = c * 3 ** (d + 1)
            layers += [nn.Conv2d(channels, out, 3, 1, 1), nn.BatchNorm2d(out)]
            if family == "SimpleCNN":
                layers.append(nn.ReLU())
            layers.append(nn.MaxPool2d(2, 2))
            channels = out
    layers.append(nn.Flatten())
    with torch.no_grad():
        features = nn.Sequential(*layers)(torch.zeros(1, c, h, w)).shape[1]
    for d in range(nr_linear_layers - 1):
        if family == "DenseLinearNN":
            out = max(int(c * h * w - (d + 1) * c * h * w / nr_linear_layers), c)
        else:
            out = max(int(c * h * w / 2 ** (d + 1)), c)
        layers.append(nn.Linear(features, out))
        features = out
    layers.append(nn.Linear(features, classes))
    return nn.Sequential(*layers)


def expand_family(spec):
    """The family document as the plain layer list the C++ expansion must produce."""
    net = family_by_hand(spec["family"], spec["input"]["shape"], spec.get("nr_conv_layers", 2),
                         spec.get("nr_linear_layers", 3), spec.get("classes", 10))
    layers = []
    for m in net:
        if isinstance(m, nn.Conv2d):
            layers.append({"op": "conv2d", "out_channels": m.out_channels, "kernel": 3,
                           "stride": 1, "padding": 1})
        elif isinstance(m, nn.BatchNorm2d):
            layers.append({"op": "batchnorm2d"})
        elif isinstance(m, nn.ReLU):
            layers.append({"op": "relu"})
        elif isinstance(m, nn.MaxPool2d):
            layers.append({"op": "maxpool2d", "kernel": 2, "stride": 2})
        elif isinstance(m, nn.Flatten):
            layers.append({"op": "flatten"})
        else:
            layers.append({"op": "linear", "out_features": m.out_features})
    return {"input": spec["input"], "layers": layers}


def measure(model, input_shape):
    macs = 0

    def hook(module, inputs, output):
        nonlocal macs
        if isinstance(module, nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1]
            macs += output.numel() * (module.in_channels // module.groups) * k
        elif isinstance(module, nn.Linear):
            macs += output.numel() * module.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    model.train()
    shapes = {}
    with torch.no_grad():
        x = torch.zeros([2] + list(input_shape))  # batch 2 so BatchNorm1d trains
        out = model(x, shapes) if isinstance(model, Interpreted) else model(x)
    for h in handles:
        h.remove()
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for n, b in model.named_buffers() if not n.endswith("num_batches_tracked"))
    return {"params": params, "buffers": buffers, "macs_per_sample": macs // 2,
            "output": [1] + list(out.shape[1:]),
            "layers": {k: [1] + v[1:] for k, v in shapes.items()}}


def main():
    files = sorted(glob.glob(os.path.join(ROOT, "models", "*.json")) +
                   glob.glob(os.path.join(ROOT, "analyzer", "json", "testdata", "*.json")))
    results = {}
    for path in files:
        spec = json.load(open(path))
        plain = expand_family(spec) if "family" in spec else spec
        model = Interpreted(plain)
        r = measure(model, plain["input"]["shape"])
        if "family" in spec:
            by_hand = family_by_hand(spec["family"], spec["input"]["shape"],
                                     spec.get("nr_conv_layers", 2), spec.get("nr_linear_layers", 3),
                                     spec.get("classes", 10))
            check = measure(by_hand, spec["input"]["shape"])
            assert (check["params"], check["macs_per_sample"]) == (r["params"], r["macs_per_sample"])
            r["linear_widths"] = [m.out_features for m in by_hand if isinstance(m, nn.Linear)]
            r["conv_channels"] = [m.out_channels for m in by_hand if isinstance(m, nn.Conv2d)]
        if os.path.basename(path) == "lenet5.json":
            check = measure(lenet5_by_hand(), [1, 28, 28])
            assert (check["params"], check["macs_per_sample"]) == (r["params"], r["macs_per_sample"])
        results[os.path.relpath(path, ROOT)] = r
    # The paper's own runs: 4 conv and 7 linear layers, Fashion-MNIST and CIFAR-10 inputs.
    for family in ("DensePolyNN", "DenseLinearNN", "SimpleCNN", "SimpleCNN2"):
        for chw in ([1, 28, 28], [3, 32, 32]):
            net = family_by_hand(family, chw, 4, 7, 10)
            r = measure(net, chw)
            r["linear_widths"] = [m.out_features for m in net if isinstance(m, nn.Linear)]
            r["conv_channels"] = [m.out_channels for m in net if isinstance(m, nn.Conv2d)]
            results[f"{family} {'x'.join(map(str, chw))} nr_conv_layers=4 nr_linear_layers=7"] = r
    if "--json" in sys.argv:
        json.dump(results, sys.stdout, indent=1)
        print()
        return
    print(f"torch {torch.__version__}")
    for name, r in results.items():
        print(f"{name}: params {r['params']} buffers {r['buffers']} "
              f"macs/sample {r['macs_per_sample']} output {'x'.join(map(str, r['output']))}")
        for key in ("conv_channels", "linear_widths"):
            if key in r:
                print(f"  {key}: {r[key]}")
        for layer, shape in r["layers"].items():
            print(f"  {layer}: {'x'.join(map(str, shape))}")


if __name__ == "__main__":
    main()
