#!/usr/bin/python3
"""Time Python's onnx.load + onnx.shape_inference.infer_shapes beside joulecast on the same files.

Usage: compare_python.py --models-dir DIR --peak-rss BUILD/bench/peak_rss
                         [--models resnet50,vgg16] [--repeat 3]
                         [--cli BUILD/cli/joulecast --process-bench BUILD/bench/process_bench]

Each measurement runs in a fresh process, so that its peak RSS is its own (VmHWM of the process,
or the CLI's ru_maxrss as bench/process_bench, a small C++ launcher, reads it with wait4; from
this script wait4 would count the interpreter's memory too):
  python   onnx.load(path) then onnx.shape_inference.infer_shapes(model); in-process time
           excludes interpreter start-up and `import onnx` (reported apart).
  joulecast  bench/peak_rss: LoadModel + ComputeCosts. "first" is the first analysis in the
           process, one-time ONNX schema registration included; "warm" a second one, the fair
           match for Python's time after `import onnx` (which registers the same schemas).
  cli      (with --cli and --process-bench) `joulecast analyze MODEL --format json -o /dev/null`,
           the whole process as a user runs it: start-up, dynamic linking, report.
Every file is read once first so that both sides find it in the page cache. Reports medians over
--repeat runs and the ratios python / joulecast: in process (against joulecast's first and warm
analysis) and whole process against whole process (Python's against `joulecast analyze`'s),
and the issue's targets: `joulecast analyze` on VGG-16 at most 30 ms and 32 MB, on ResNet-50 at
least 50x faster than the Python process.

Needs Debian's python3-onnx: run with /usr/bin/python3.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import machine

PY_CHILD = r"""
import time
t_import = time.perf_counter()
import json, sys
import onnx
t0 = time.perf_counter()
model = onnx.load(sys.argv[1])
t1 = time.perf_counter()
inferred = onnx.shape_inference.infer_shapes(model)
t2 = time.perf_counter()
with open("/proc/self/status") as f:
    hwm_kb = next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
print(json.dumps({"import_s": t0 - t_import, "load_s": t1 - t0, "infer_s": t2 - t1, "nodes": len(inferred.graph.node),
                  "value_info": len(inferred.graph.value_info), "peak_rss_kb": hwm_kb}))
"""


def run_child(cmd):
    """Runs cmd to completion; returns (stdout, stderr, rc, wall_s)."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc.stdout, proc.stderr, proc.returncode, time.perf_counter() - t0


def warm_page_cache(path):
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def measure_python(python, path):
    out, err, rc, wall = run_child([python, "-c", PY_CHILD, path])
    if rc != 0:
        raise RuntimeError(f"python onnx on {path} failed ({rc}): {err.strip()[-500:]}")
    r = json.loads(out)
    return {"inproc_s": r["load_s"] + r["infer_s"], "import_s": r["import_s"],
            "load_s": r["load_s"], "infer_s": r["infer_s"], "process_s": wall,
            "peak_rss_kb": r["peak_rss_kb"]}


def measure_peak_rss(binary, path):
    out, err, rc, wall = run_child([binary, path])
    if rc != 0:
        raise RuntimeError(f"{binary} on {path} failed ({rc}): {err.strip()}")
    r = json.loads(out)
    return {"inproc_s": r["wall_ms"] / 1e3, "warm_s": r["warm_ms"] / 1e3, "process_s": wall,
            "peak_rss_kb": r["peak_rss_kb"],
            "nodes": r["nodes"], "unmodelled": r["unmodelled"]}


def measure_cli(process_bench, cli, path):
    cmd = [cli, "analyze", path, "--format", "json", "-o", os.devnull]
    out, err, rc, _ = run_child([process_bench, "--runs", "1", "--warmup", "0", "--"] + cmd)
    if rc != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({rc}): {err.strip()}")
    r = json.loads(out)
    return {"process_s": r["wall_ms"]["median"] / 1e3,
            "peak_rss_kb": r["peak_rss_kb"]["median"]}


def median_of(runs, key):
    return statistics.median(r[key] for r in runs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models-dir", required=True,
                    help="directory of NAME.onnx files (scripts/export_torchvision.py output)")
    ap.add_argument("--models", default="resnet50,vgg16")
    ap.add_argument("--peak-rss", required=True, help="path to the bench/peak_rss binary")
    ap.add_argument("--cli", help="path to the joulecast executable (optional)")
    ap.add_argument("--process-bench",
                    help="path to the bench/process_bench binary (needed with --cli)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per side and model (median)")
    ap.add_argument("--python", default=sys.executable,
                    help="interpreter with onnx for the Python side (default: this one)")
    ap.add_argument("--json", help="also write the raw results here")
    args = ap.parse_args()
    if args.cli and not args.process_bench:
        ap.error("--cli needs --process-bench BUILD/bench/process_bench")

    cpu = machine.cpu_model() or "unknown"
    print(f"# {cpu}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}; "
          f"median of {args.repeat} runs, each a fresh process")
    results = {}
    for name in (m for m in args.models.split(",") if m):
        path = os.path.join(args.models_dir, name + ".onnx")
        if not os.path.exists(path):
            print(f"compare_python: {path} is missing: build the bench_data target",
                  file=sys.stderr)
            return 2
        warm_page_cache(path)
        py, cpp, cli = [], [], []
        # joulecast first in each round, and a pause after Python: right after a Python run
        # the kernel is still taking back its gigabytes, which slows whatever runs next.
        for _ in range(args.repeat):
            cpp.append(measure_peak_rss(args.peak_rss, path))
            if args.cli:
                cli.append(measure_cli(args.process_bench, args.cli, path))
            py.append(measure_python(args.python, path))
            time.sleep(1)
        results[name] = {"file_bytes": os.path.getsize(path), "python": py, "joulecast": cpp,
                         "cli": cli}

        py_in, cpp_in = median_of(py, "inproc_s"), median_of(cpp, "inproc_s")
        cpp_warm = median_of(cpp, "warm_s")
        py_proc, cpp_proc = median_of(py, "process_s"), median_of(cpp, "process_s")
        print(f"\n{name} ({os.path.getsize(path) / 1e6:.1f} MB, {cpp[0]['nodes']} nodes, "
              f"{cpp[0]['unmodelled']} unmodelled)")
        row = "  {:34s} {:>11s} {:>11s} {:>11s} {:>11s}  {}"
        print(row.format("", "first", "warm", "process", "peak RSS", ""))
        print(row.format("python onnx.load + infer_shapes", f"{py_in * 1e3:.1f} ms", "-",
                         f"{py_proc * 1e3:.1f} ms",
                         f"{median_of(py, 'peak_rss_kb') / 1024:.1f} MB",
                         f"(import onnx {median_of(py, 'import_s') * 1e3:.0f} ms, "
                         f"load {median_of(py, 'load_s') * 1e3:.0f} ms, "
                         f"infer_shapes {median_of(py, 'infer_s') * 1e3:.0f} ms)"))
        print(row.format("joulecast LoadModel + ComputeCosts", f"{cpp_in * 1e3:.1f} ms",
                         f"{cpp_warm * 1e3:.1f} ms", f"{cpp_proc * 1e3:.1f} ms",
                         f"{median_of(cpp, 'peak_rss_kb') / 1024:.1f} MB", ""))
        if cli:
            print(row.format("joulecast analyze (CLI)", "-", "-",
                             f"{median_of(cli, 'process_s') * 1e3:.1f} ms",
                             f"{median_of(cli, 'peak_rss_kb') / 1024:.1f} MB", ""))
        print(f"  ratio python/joulecast: {py_in / cpp_in:.0f}x against the first analysis, "
              f"{py_in / cpp_warm:.0f}x warm, {py_proc / cpp_proc:.0f}x whole process")
        if cli:
            cli_proc, cli_rss = median_of(cli, "process_s"), median_of(cli, "peak_rss_kb")
            print(f"  python process / joulecast analyze process: {py_proc / cli_proc:.0f}x")
            if name == "vgg16":
                met = cli_proc <= 0.030 and cli_rss <= 32 * 1024
                print(f"  target (at most 30 ms and 32 MB): {cli_proc * 1e3:.1f} ms, "
                      f"{cli_rss / 1024:.1f} MB: {'met' if met else 'MISSED'}")
            if name == "resnet50":
                met = py_proc / cli_proc >= 50
                print(f"  target (at least 50x the Python process): {py_proc / cli_proc:.0f}x: "
                      f"{'met' if met else 'MISSED'}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
