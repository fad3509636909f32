#!/usr/bin/env python3
"""Plain PyTorch training steps of held-out networks: the ground truth joulecast is judged by.

For every network of a held-out list (bench/gpu/heldout.json): build it (a joulecast JSON
architecture through scripts/json_models_reference.py's interpreter, or a torchvision classifier
with 1000 classes and random weights), train it with PyTorch's defaults (cudnn.benchmark off,
TF32 on for convolutions and off for matmul, set explicitly), Adam lr 1e-3, cross-entropy, train
mode, one fixed batch of randn images and random labels already on the device, optionally bf16
autocast around forward and loss. 5 warm-up steps, then steps until at least --window-s seconds
and 10 steps have passed, the device synchronised at both ends and NVML's total-energy counter
(millijoules) read at both ends; --repeats such windows. Idle power is read once at the start
(the counter over --idle-s seconds with nothing running).

Writes JSONL to --out (appends): one {"type": "host"} line, then one {"type": "network"} line per
network, with per-repeat time_s_per_step, energy_j_per_step (null without NVML), power_w, steps
and window_s. A network that fails (out of memory, ...) gets an "error" and the run goes on.

  python3 bench/gpu/torch_loop.py bench/gpu/heldout.json --device cuda --precision fp32 \\
      --window-s 2 --repeats 2 --out out/torch_loop.jsonl
  /usr/bin/python3 bench/gpu/torch_loop.py bench/gpu/heldout.json --device cpu \\
      --window-s 0.2 --repeats 1 --only lenet5,mlp_mnist2 --out /tmp/t.jsonl    # a dry run
"""

import argparse
import importlib.util
import json
import os
import platform
import socket
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]  # heldout_lib here, machine in bench/
import heldout_lib  # noqa: E402
import machine  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

ROOT = heldout_lib.ROOT


def load_module(name, relpath):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, relpath))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_ref = None


def reference_module():
    global _ref
    if _ref is None:
        _ref = load_module("json_models_reference", "scripts/json_models_reference.py")
    return _ref


def build_model(entry):
    if entry["kind"] == "json":
        ref = reference_module()
        spec = heldout_lib.arch_spec(entry)
        if "family" in spec:  # the paper's families (simplecnn.json): expand to a layer list
            spec = ref.expand_family(spec)
        return ref.Interpreted(spec)
    if entry["kind"] == "torchvision":
        import torchvision.models as tvm

        kwargs = {"weights": None, "num_classes": entry.get("num_classes", 1000)}
        if entry["model"] == "googlenet":  # as scripts/export_torchvision.py builds it
            kwargs.update(aux_logits=False, init_weights=False)
        return getattr(tvm, entry["model"])(**kwargs)
    raise ValueError("unknown kind %r" % entry["kind"])


class Nvml:
    """The board's total-energy counter, or None-returning stubs without pynvml."""

    def __init__(self, device):
        self.handle = None
        self.error = None
        self.info = {}
        if device.type != "cuda":
            return
        try:
            import pynvml

            pynvml.nvmlInit()
            self.nvml = pynvml
            handle = None
            try:
                props = torch.cuda.get_device_properties(device)
                bus = "%08x:%02x:%02x.0" % (props.pci_domain_id, props.pci_bus_id,
                                            props.pci_device_id)
                handle = pynvml.nvmlDeviceGetHandleByPciBusId(bus)
                self.info["nvml_by"] = "pci " + bus
            except Exception:
                handle = pynvml.nvmlDeviceGetHandleByIndex(device.index or 0)
                self.info["nvml_by"] = "index %d" % (device.index or 0)
            self.handle = handle
            self.info["nvml_name"] = _str(pynvml.nvmlDeviceGetName(handle))
            for key, fn in (("driver", lambda: _str(pynvml.nvmlSystemGetDriverVersion())),
                            ("power_limit_w",
                             lambda: pynvml.nvmlDeviceGetEnforcedPowerLimit(handle) / 1000.0),
                            ("power_now_w", lambda: pynvml.nvmlDeviceGetPowerUsage(handle) / 1000.0),
                            ("temperature_c", lambda: pynvml.nvmlDeviceGetTemperature(handle, 0)),
                            ("sm_clock_mhz", lambda: pynvml.nvmlDeviceGetClockInfo(handle, 1)),
                            ("max_sm_clock_mhz",
                             lambda: pynvml.nvmlDeviceGetMaxClockInfo(handle, 1))):
                try:
                    self.info[key] = fn()
                except Exception as e:  # noqa: BLE001
                    self.info[key] = None
            self.energy_mj()  # fails here rather than mid-run when the counter is unsupported
        except Exception as e:  # noqa: BLE001
            self.handle = None
            self.error = "%s: %s" % (type(e).__name__, e)

    def energy_mj(self):
        if self.handle is None:
            return None
        return self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle)

    def power_w(self):
        if self.handle is None:
            return None
        try:
            return self.nvml.nvmlDeviceGetPowerUsage(self.handle) / 1000.0
        except Exception:  # noqa: BLE001
            return None


def _str(v):
    return v.decode() if isinstance(v, bytes) else v


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def host_info(device, nvml, args):
    info = {
        "type": "host",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "hostname": socket.gethostname(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "device": str(device),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "cpu_model": machine.cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
        "tf32_cudnn": torch.backends.cudnn.allow_tf32,
        "precision": args.precision,
        "window_s": args.window_s,
        "repeats": args.repeats,
        "warmup_steps": args.warmup,
        "min_steps": args.min_steps,
        "nvml": nvml.handle is not None,
        "nvml_error": nvml.error,
    }
    try:
        import torchvision

        info["torchvision"] = torchvision.__version__
    except Exception:  # noqa: BLE001
        info["torchvision"] = None
    info.update(nvml.info)
    return info


def idle_power(nvml, seconds):
    e0 = nvml.energy_mj()
    if e0 is None:
        return None
    t0 = time.perf_counter()
    time.sleep(seconds)
    e1 = nvml.energy_mj()
    return (e1 - e0) / 1000.0 / (time.perf_counter() - t0)


def run_network(entry, device, args, nvml):
    torch.manual_seed(args.seed)
    t_build = time.perf_counter()
    model = build_model(entry).to(device)
    model.train()
    shape = heldout_lib.input_shape(entry)
    batch = entry["batch"]
    x = torch.randn([batch] + shape, device=device)
    with torch.no_grad():
        classes = model(x[:2]).shape[-1]
    y = torch.randint(0, classes, (batch,), device=device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    bf16 = args.precision == "bf16"

    def step():
        opt.zero_grad(set_to_none=True)
        if bf16:
            with torch.autocast(device.type, dtype=torch.bfloat16):
                loss = loss_fn(model(x), y)
        else:
            loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    for _ in range(args.warmup):
        loss = step()
    sync(device)
    build_s = time.perf_counter() - t_build
    first_loss = float(loss)

    reps = []
    for _ in range(args.repeats):
        sync(device)
        e0 = nvml.energy_mj()
        t0 = time.perf_counter()
        steps = 0
        while True:
            step()
            steps += 1
            if steps >= args.min_steps and time.perf_counter() - t0 >= args.window_s:
                sync(device)
                window = time.perf_counter() - t0
                if window >= args.window_s:
                    break
        e1 = nvml.energy_mj()
        energy = None if e0 is None or e1 is None else (e1 - e0) / 1000.0
        reps.append({
            "steps": steps,
            "window_s": window,
            "time_s_per_step": window / steps,
            "energy_j_per_step": None if energy is None else energy / steps,
            "power_w": None if energy is None else energy / window,
            "power_now_w": nvml.power_w(),
        })
    rec = {
        "type": "network",
        "name": entry["name"],
        "kind": entry["kind"],
        "model": entry.get("model") or entry.get("path") or "inline",
        "batch": batch,
        "input": shape,
        "classes": classes,
        "precision": args.precision,
        "device": str(device),
        "params": sum(p.numel() for p in model.parameters()),
        "repeats": reps,
        "time_s_per_step": min(r["time_s_per_step"] for r in reps),
        "energy_j_per_step": (min(r["energy_j_per_step"] for r in reps)
                              if all(r["energy_j_per_step"] is not None for r in reps) else None),
        "setup_s": build_s,
        "loss_after_warmup": first_loss,
    }
    if device.type == "cuda":
        rec["max_memory_allocated_bytes"] = torch.cuda.max_memory_allocated(device)
    return rec


def fmt(v, scale=1.0, digits=4):
    return "n/a" if v is None else ("%.*g" % (digits, v * scale))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("networks", nargs="?", default=os.path.join(heldout_lib.HERE, "heldout.json"),
                    help="held-out list (default bench/gpu/heldout.json)")
    ap.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu (default cuda)")
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    ap.add_argument("--window-s", type=float, default=5.0, help="measured seconds per repeat")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--min-steps", type=int, default=10)
    ap.add_argument("--idle-s", type=float, default=3.0, help="idle-power window (0: skip)")
    ap.add_argument("--only", help="comma-separated names to run")
    ap.add_argument("--bf16-only", action="store_true",
                    help="only the networks marked \"bf16\": true")
    ap.add_argument("--deadline-s", type=float, default=0,
                    help="skip the networks left after this many seconds (0: none)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    ap.add_argument("--out", required=True, help="JSONL file to append to")
    args = ap.parse_args()
    start = time.perf_counter()

    nets = heldout_lib.select(heldout_lib.load(args.networks), args.only, args.bf16_only)
    device = torch.device(args.device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", 0)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cuda.matmul.allow_tf32 = False
    if device.type == "cuda":
        torch.cuda.set_device(device)
        torch.zeros(1, device=device)  # initialise the context before anything is timed

    nvml = Nvml(device)
    host = host_info(device, nvml, args)
    host["networks"] = [e["name"] for e in nets]
    if args.idle_s > 0:
        host["idle_power_w"] = idle_power(nvml, args.idle_s)
        host["idle_s"] = args.idle_s
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    out = open(args.out, "a")
    out.write(json.dumps(host) + "\n")
    out.flush()
    print("torch_loop: %s, torch %s, %s, %s, %d networks, idle %s W%s" % (
        host["gpu"] or host["cpu_model"], host["torch"], args.device, args.precision, len(nets),
        fmt(host.get("idle_power_w")), "" if nvml.handle else " (no NVML: %s)" % nvml.error),
        flush=True)

    failed = 0
    for entry in nets:
        if args.deadline_s and time.perf_counter() - start > args.deadline_s:
            rec = {"type": "network", "name": entry["name"], "precision": args.precision,
                   "batch": entry["batch"], "error": "skipped: past --deadline-s"}
            out.write(json.dumps(rec) + "\n")
            print("%-18s skipped (deadline)" % entry["name"], flush=True)
            continue
        t0 = time.perf_counter()
        try:
            rec = run_network(entry, device, args, nvml)
        except Exception as e:  # noqa: BLE001 (out of memory and the like: record, go on)
            failed += 1
            rec = {"type": "network", "name": entry["name"], "kind": entry.get("kind"),
                   "precision": args.precision, "batch": entry["batch"],
                   "error": "%s: %s" % (type(e).__name__, str(e)[:500]),
                   "traceback": traceback.format_exc()[-2000:]}
        rec["wall_s"] = time.perf_counter() - t0
        out.write(json.dumps(rec) + "\n")
        out.flush()
        if "error" in rec:
            print("%-18s ERROR %s" % (entry["name"], rec["error"]), flush=True)
        else:
            r = rec["repeats"]
            print("%-18s %s B=%-4d %s ms/step, %s J/step, %s W, steps %s (%.1f s)" % (
                entry["name"], args.precision, rec["batch"],
                "/".join(fmt(x["time_s_per_step"], 1e3) for x in r),
                "/".join(fmt(x["energy_j_per_step"]) for x in r),
                "/".join(fmt(x["power_w"], 1, 3) for x in r),
                "/".join(str(x["steps"]) for x in r), rec["wall_s"]), flush=True)
        if device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
    out.close()
    print("torch_loop: done, %d networks, %d failed, %.1f s" % (
        len(nets), failed, time.perf_counter() - start), flush=True)
    return 1 if failed == len(nets) and nets else 0


if __name__ == "__main__":
    sys.exit(main())
