#!/usr/bin/python3
"""Export torchvision classification models' training graphs to ONNX, with reference counts.

Usage: export_torchvision.py OUTDIR [--models a,b,...] [--size 224] [--batch 2] [--if-stale]

For each model: build it with random weights (nothing is downloaded), put it in train mode with
StochasticDepth alone in eval (it has no ONNX export), and export the training graph
(TrainingMode.PRESERVE, opset 14, no constant folding, dynamic batch axis) to OUTDIR/NAME.onnx.
An eval-mode export would fuse BatchNorm into Conv and drop layers that cost energy in training.

OUTDIR/reference.json then holds, per model, the numbers the analyzer must reproduce:
  params   sum(p.numel() for p in model.parameters()): torchvision's own count.
  buffers  BatchNorm running_mean + running_var elements. num_batches_tracked is excluded: it is
           a step counter, not a statistic, and the ONNX export does not carry it as a tensor
           that any node reads.
  macs     forward multiply-accumulates per sample, counted by forward hooks independently of the
           ONNX graph: Conv2d out.numel()/N * in_channels/groups * kh * kw, Linear
           out.numel()/N * in_features; bias adds excluded (torchvision's GFLOPS convention).

With --if-stale only models missing from an up-to-date reference.json are exported (up to date:
newer than this script, same size and opset, the model's file present); the others are kept.

Needs Debian's python3-torch, python3-torchvision and python3-onnx: run with /usr/bin/python3.
"""

import argparse
import gc
import json
import os
import resource
import sys
import time

ALL_MODELS = [
    "resnet18",
    "resnet50",
    "vgg16",
    "alexnet",
    "mobilenet_v2",
    "mobilenet_v3_small",
    "mobilenet_v3_large",
    "squeezenet1_0",
    "densenet121",
    "googlenet",
    "efficientnet_b0",
    "shufflenet_v2_x1_0",
    "regnet_y_400mf",
    "convnext_tiny",
]

OPSET = 14


def build(name):
    import torchvision.models as tvm

    kwargs = {"weights": None}
    if name == "googlenet":
        kwargs.update(aux_logits=False, init_weights=False)
    return getattr(tvm, name)(**kwargs)


def set_training_mode(model):
    """Train mode everywhere except StochasticDepth, which has no ONNX export."""
    from torchvision.ops import StochasticDepth

    model.train()
    for m in model.modules():
        if isinstance(m, StochasticDepth):
            m.eval()


def count_reference(model, x):
    """params, buffers and per-sample forward MACs (from hooks) for one model."""
    import torch
    from torch import nn

    params = sum(p.numel() for p in model.parameters())
    buffers = 0
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats:
            buffers += m.running_mean.numel() + m.running_var.numel()

    batch = x.shape[0]
    macs = [0]

    def conv_hook(m, inputs, out):
        kh, kw = m.kernel_size
        per_out = (m.in_channels // m.groups) * kh * kw
        macs[0] += out.numel() // batch * per_out

    def linear_hook(m, inputs, out):
        macs[0] += out.numel() // batch * m.in_features

    handles = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return params, buffers, macs[0]


def export_one(name, outdir, size, batch):
    import torch

    torch.manual_seed(0)
    t0 = time.monotonic()
    model = build(name)
    set_training_mode(model)
    # Batch 2, not 1: BatchNorm in train mode needs more than one value per channel.
    x = torch.randn(batch, 3, size, size)
    params, buffers, macs = count_reference(model, x)
    path = os.path.join(outdir, name + ".onnx")
    tmp = path + ".tmp"
    with torch.no_grad():
        torch.onnx.export(
            model,
            x,
            tmp,
            training=torch.onnx.TrainingMode.PRESERVE,
            opset_version=OPSET,
            do_constant_folding=False,
            input_names=["input"],
            output_names=["output"],
            dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
        )
    os.replace(tmp, path)
    seconds = time.monotonic() - t0
    entry = {
        "file": name + ".onnx",
        "input": [3, size, size],
        "params": params,
        "buffers": buffers,
        "macs": macs,
        "file_bytes": os.path.getsize(path),
        "export_s": round(seconds, 2),
    }
    del model, x
    gc.collect()
    return entry


def load_fresh_reference(outdir, size):
    """Entries of an existing reference.json still valid for this script at this size."""
    ref = os.path.join(outdir, "reference.json")
    try:
        if os.path.getmtime(ref) < os.path.getmtime(os.path.abspath(__file__)):
            return {}
        with open(ref) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    if data.get("opset") != OPSET or data.get("size") != size:
        return {}
    fresh = {}
    for name, entry in data.get("models", {}).items():
        if entry.get("input") == [3, size, size] and \
                os.path.exists(os.path.join(outdir, entry.get("file", ""))):
            fresh[name] = entry
    return fresh


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir")
    ap.add_argument("--models", default=",".join(ALL_MODELS),
                    help="comma-separated torchvision model names (default: all)")
    ap.add_argument("--size", type=int, default=224, help="input height and width (default 224)")
    ap.add_argument("--batch", type=int, default=2,
                    help="batch for tracing and hooks (the exported batch is symbolic)")
    ap.add_argument("--if-stale", action="store_true",
                    help="do nothing when reference.json is up to date")
    args = ap.parse_args()

    models = [m for m in args.models.split(",") if m]
    unknown = [m for m in models if m not in ALL_MODELS]
    if unknown:
        print("export_torchvision: unknown model(s) " + ", ".join(unknown) +
              "; known: " + ", ".join(ALL_MODELS), file=sys.stderr)
        return 2
    os.makedirs(args.outdir, exist_ok=True)
    kept = load_fresh_reference(args.outdir, args.size) if args.if_stale else {}
    todo = [m for m in models if m not in kept]
    if not todo:
        print(f"export_torchvision: {args.outdir}/reference.json is up to date")
        return 0

    import warnings

    import torch
    import torchvision

    warnings.filterwarnings("ignore")
    torch.set_num_threads(max(1, os.cpu_count() or 1))

    out = {
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "opset": OPSET,
        "size": args.size,
        "note": "macs: forward multiply-accumulates per sample from Conv2d/Linear forward hooks, "
                "bias excluded; buffers: BatchNorm running_mean + running_var, "
                "num_batches_tracked excluded",
        "models": dict(kept),
    }
    failed = []
    t_all = time.monotonic()
    for name in todo:
        try:
            entry = export_one(name, args.outdir, args.size, args.batch)
        except Exception as e:  # report every model that fails, then fail the run
            failed.append(name)
            print(f"export_torchvision: {name}: {type(e).__name__}: {e}", file=sys.stderr)
            continue
        out["models"][name] = entry
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{name:20s} {entry['export_s']:7.2f} s  {entry['file_bytes'] / 1e6:8.1f} MB  "
              f"params {entry['params']:>10d}  macs {entry['macs']:>12d}  "
              f"peak RSS so far {rss_mb:.0f} MB", flush=True)
    print(f"export_torchvision: {len(todo) - len(failed)} models exported in "
          f"{time.monotonic() - t_all:.1f} s", flush=True)

    ref = os.path.join(args.outdir, "reference.json")
    with open(ref + ".tmp", "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
    os.replace(ref + ".tmp", ref)
    if failed:
        print("export_torchvision: failed: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
