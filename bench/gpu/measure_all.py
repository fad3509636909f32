#!/usr/bin/env python3
"""`joulecast measure` over the JSON-architecture networks of a held-out list, as JSONL.

One line per network, appended to --out: {"name", "batch", "cmd", "rc", "seconds", "stderr"
(its tail), "result" (the parsed `--format json` output, or null)}. Inline architectures are
written to --arch-dir first. torchvision entries are skipped (the GPU build has no ONNX).

  python3 bench/gpu/measure_all.py --joulecast build-gpu/cli/joulecast --device cuda \\
      --meter nvml --out out/measure.jsonl [bench/gpu/heldout.json] [-- extra measure flags]
"""

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import heldout_lib  # noqa: E402


def main():
    argv = sys.argv[1:]
    extra = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("networks", nargs="?", default=os.path.join(heldout_lib.HERE, "heldout.json"))
    ap.add_argument("--joulecast", required=True)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--meter", default="nvml")
    ap.add_argument("--steps", type=int, default=200,
                    help="--steps when an entry has no measure_steps (default 200)")
    ap.add_argument("--max-steps", type=int, default=0,
                    help="cap on every entry's steps (0: none; small for a CPU dry run)")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--timeout-s", type=float, default=60, help="per network")
    ap.add_argument("--deadline-s", type=float, default=0,
                    help="skip the networks left after this many seconds (0: none)")
    ap.add_argument("--only", help="comma-separated names")
    ap.add_argument("--bf16-only", action="store_true",
                    help="only the networks marked \"bf16\": true")
    ap.add_argument("--precision", default="fp32",
                    help="passed as --precision when not fp32 (if `measure --help` lists it)")
    ap.add_argument("--arch-dir", default="/tmp/joulecast-heldout-archs")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)

    start = time.monotonic()
    nets = heldout_lib.select(heldout_lib.load(args.networks), args.only, args.bf16_only,
                              kind="json")
    if args.precision != "fp32":
        try:
            h = subprocess.run([args.joulecast, "measure", "--help"], capture_output=True,
                               text=True, timeout=60)
            helptext = h.stdout + h.stderr
        except (OSError, subprocess.TimeoutExpired) as x:
            helptext = str(x)
        if "--precision" not in helptext:
            print("measure_all: %s measure has no --precision; nothing measured in %s" % (
                args.joulecast, args.precision), flush=True)
            return 0
        extra = ["--precision", args.precision] + extra
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    failed = 0
    with open(args.out, "a") as out:
        for e in nets:
            steps = e.get("measure_steps", args.steps)
            if args.max_steps:
                steps = min(steps, args.max_steps)
            cmd = [args.joulecast, "measure", heldout_lib.arch_file(e, args.arch_dir),
                   "--device", args.device, "--meter", args.meter, "--batch", str(e["batch"]),
                   "--steps", str(steps), "--warmup", str(args.warmup), "--format", "json",
                   *extra]
            rec = {"name": e["name"], "batch": e["batch"], "precision": args.precision,
                   "cmd": cmd}
            if args.deadline_s and time.monotonic() - start > args.deadline_s:
                rec.update(rc=None, error="skipped: past --deadline-s", result=None)
                out.write(json.dumps(rec) + "\n")
                print("%-18s skipped (deadline)" % e["name"], flush=True)
                continue
            t0 = time.monotonic()
            # A network started near the deadline stops 10 s after it, before run.sh's step
            # timeout (the deadline + 15 s) kills this script: its record is still written.
            timeout = args.timeout_s
            if args.deadline_s:
                timeout = min(timeout, max(5.0, args.deadline_s + 10 - (t0 - start)))
            try:
                r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
                rc, so, se = r.returncode, r.stdout, r.stderr
            except subprocess.TimeoutExpired as x:
                rc, so, se = "timeout", "", (x.stderr or b"").decode(errors="replace") \
                    if isinstance(x.stderr, bytes) else (x.stderr or "")
            rec["rc"] = rc
            rec["seconds"] = round(time.monotonic() - t0, 3)
            rec["stderr"] = se[-1500:]
            try:
                rec["result"] = json.loads(so) if rc == 0 else None
            except ValueError:
                rec["result"] = None
                rec["stdout"] = so[-1500:]
            out.write(json.dumps(rec) + "\n")
            out.flush()
            m = (rec["result"] or {}).get("measurement", {}).get("per_step", {})
            if rec["result"] is None:
                failed += 1
                print("%-18s FAILED rc=%s %s" % (e["name"], rc, se.strip()[-300:]), flush=True)
            else:
                print("%-18s %s B=%-4d %s steps, %.4g ms/step, %.4g J/step (%.1f s)" % (
                    e["name"], args.precision, e["batch"], rec["result"].get("steps"),
                    m.get("time_s", float("nan")) * 1e3, m.get("energy_j", float("nan")),
                    rec["seconds"]), flush=True)
    print("measure_all: %d networks, %d failed, %.1f s" % (len(nets), failed,
                                                          time.monotonic() - start), flush=True)
    return 1 if nets and failed == len(nets) else 0


if __name__ == "__main__":
    sys.exit(main())
