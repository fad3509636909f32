#!/usr/bin/python3
"""GroupNorm the way users bring it: PyTorch's ONNX export, and `groupnorm` in a JSON architecture.

Usage: groupnorm_export_test.py JOULECAST

Builds one small network with nn.GroupNorm in PyTorch (Debian's python3-torch), exports it to
ONNX (opset 14 and 17: PyTorch 1.13 writes GroupNorm as Reshape, InstanceNormalization,
Reshape, Mul, Add), writes the same network as a JSON architecture, and checks with
`joulecast analyze --format json` that both have PyTorch's parameter count, the same forward
and backward MACs, and no unmodelled layer.
"""

import json
import os
import subprocess
import sys
import tempfile

import torch


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 16, 3, padding=1)
        self.norm = torch.nn.GroupNorm(4, 16)
        self.fc = torch.nn.Linear(16 * 8 * 8, 10)

    def forward(self, x):
        return self.fc(torch.flatten(torch.relu(self.norm(self.conv(x))), 1))


ARCH = {
    "name": "groupnorm_net",
    "input": {"shape": [3, 8, 8]},
    "layers": [
        {"op": "conv2d", "out_channels": 16, "kernel": 3, "padding": 1},
        {"op": "groupnorm", "groups": 4},
        {"op": "relu"},
        {"op": "flatten"},
        {"op": "linear", "out_features": 10},
    ],
}


def analyze(joulecast, path):
    run = subprocess.run([joulecast, "analyze", path, "--format", "json", "--batch", "4"],
                         capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"FAIL: analyze {path}: {run.stderr.strip()}")
    return json.loads(run.stdout)


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    joulecast = sys.argv[1]
    torch.manual_seed(0)
    net = Net()
    params = sum(p.numel() for p in net.parameters())
    with tempfile.TemporaryDirectory() as tmp:
        arch = os.path.join(tmp, "groupnorm_net.json")
        with open(arch, "w") as f:
            json.dump(ARCH, f)
        reports = {"json": analyze(joulecast, arch)}
        for opset in (14, 17):
            path = os.path.join(tmp, f"groupnorm_net_{opset}.onnx")
            torch.onnx.export(net, torch.randn(1, 3, 8, 8), path, opset_version=opset,
                              input_names=["x"], dynamic_axes={"x": {0: "N"}})
            reports[f"onnx opset {opset}"] = analyze(joulecast, path)
    want = reports["json"]["per_batch"]
    failed = False
    for name, report in reports.items():
        got_params = report["model"]["params"]
        unmodelled = [l["name"] for l in report["layers"] if not l["modelled"]]
        macs = {k: report["per_batch"][k] for k in ("macs_fwd", "macs_bwd_input",
                                                    "macs_bwd_weight")}
        print(f"{name}: params {got_params}, MACs {macs}, unmodelled {unmodelled}")
        if got_params != params:
            print(f"FAIL: {name}: {got_params} parameters, PyTorch has {params}", file=sys.stderr)
            failed = True
        if unmodelled:
            print(f"FAIL: {name}: unmodelled layers {unmodelled}", file=sys.stderr)
            failed = True
        if any(macs[k] != want[k] for k in macs):
            print(f"FAIL: {name}: MACs {macs} differ from the JSON architecture's", file=sys.stderr)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
