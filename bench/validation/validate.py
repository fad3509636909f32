#!/usr/bin/python3
"""Validates joulecast's predicted training energy against measured training of networks the
calibration never saw, and against two one-constant baselines.

For every held-out network (networks.json beside this script): `joulecast analyze --profile P
--format json` predicts the energy of one training step at the network's batch; `joulecast
measure --format json` trains it for real and measures the step, `--repeats` times, of which the
lowest counts: on a shared machine other work only ever adds to a process's CPU time and energy,
so the lowest repeat is the closest to the network's own cost (every repeat is kept in
results.json). The baselines are energy proportional to training MACs (forward and both
backward passes) and to parameters x batch, each with the one constant that minimises the
squared relative error over the calibration's own measured networks (every whole network the
calibration database holds), so that all three predictors learn from the same data.

Writes results.json and validation.md (a table for docs/validation.md) into --out, and prints
the table. Needs the libtorch build of joulecast, /usr/bin/python3 with torch, torchvision and
onnx (Debian's python3-torchvision, python3-onnx) for the torchvision exports.

Usage:
  bench/validation/validate.py --joulecast build/cli/joulecast \\
      --analyzer build-nt/cli/joulecast --profile data/profiles/default.json \\
      --db data/profiles/default.json.db --out out/validation
  ... --measured docs/validation/results-cpu-run1.json   # predict again, measure nothing
"""

import argparse
import json
import math
import os
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit("validate: %s failed (exit %d): %s" % (" ".join(cmd), r.returncode,
                                                         r.stderr.strip()[-2000:]))
    return r.stdout


def analyze(jc, model, batch, profile, extra=()):
    """The analysis JSON of `model` at `batch`, predicted with `profile`."""
    out = run([jc, "analyze", model, "--batch", str(batch), "--profile", profile,
               "--format", "json", *extra])
    return json.loads(out)


def training_macs(report):
    pb = report["per_batch"]
    return pb["macs_fwd"] + pb["macs_bwd_input"] + pb["macs_bwd_weight"]


def measure(jc, model, batch, threads, steps, repeats, extra=()):
    energies, times = [], []
    for r in range(repeats):
        out = run([jc, "measure", model, "--batch", str(batch), "--threads", str(threads),
                   "--steps", str(steps), "--warmup", "3", "--format", "json",
                   "--seed", str(r + 1), *extra])
        m = json.loads(out)
        energies.append(m["measurement"]["per_step"]["energy_j"])
        times.append(m["measurement"]["per_step"]["time_s"])
    return min(energies), min(times), energies, m


def fit_constant(xs, ys):
    """c minimising sum((c x / y - 1)^2): c = sum(x/y) / sum((x/y)^2)."""
    r = [x / y for x, y in zip(xs, ys) if y > 0 and x > 0]
    return sum(r) / sum(v * v for v in r)


def calibration_networks(jc, db, tmp):
    # `jc` should be a build without libtorch: it starts in ~20 ms against ~0.7 s, and this
    # analyzes every calibration network (hundreds).
    """(training MACs, params x batch, measured energy per step) of every calibration network."""
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    rows = con.execute("SELECT json, batch, b FROM timings WHERE design = 'network' "
                       "AND precision = 'fp32'").fetchall()
    con.close()
    out = []
    path = os.path.join(tmp, "cal.json")
    for net, batch, e in rows:
        with open(path, "w") as f:
            f.write(net)
        rep = json.loads(run([jc, "analyze", path, "--batch", str(batch), "--format", "json"]))
        out.append((training_macs(rep), rep["model"]["params"] * batch, e))
    return out


def family(tmp, name, **fields):
    path = os.path.join(tmp, name + ".json")
    doc = dict(fields)
    doc["name"] = name
    with open(path, "w") as f:
        json.dump(doc, f)
    return path


def held_out(args, tmp):
    """[(name, group, model path, batch, extra flags)]."""
    with open(os.path.join(HERE, "networks.json")) as f:
        spec = json.load(f)
    nets = []
    for n in spec["json"]:
        nets.append((n["name"], n["group"], os.path.join(ROOT, n["path"]), n["batch"], []))
    for n in spec["families"]:
        doc = {k: v for k, v in n.items() if k not in ("name", "group", "batch")}
        nets.append((n["name"], n["group"], family(tmp, n["name"], **doc), n["batch"], []))
    tv = spec["torchvision"]
    export_dir = os.path.join(args.out, "torchvision64")
    run(["/usr/bin/python3", os.path.join(ROOT, "scripts", "export_torchvision.py"), export_dir,
         "--size", str(tv["size"]), "--if-stale", "--models",
         ",".join(m["model"] for m in tv["models"])])
    for m in tv["models"]:
        nets.append((m["model"] + "@%dpx" % tv["size"], "torchvision",
                     os.path.join(export_dir, m["model"] + ".onnx"), m["batch"], []))
    if args.only:
        keep = set(args.only.split(","))
        nets = [n for n in nets if n[0] in keep]
    return nets


def errors(pairs):
    """MAPE, RMSPE and share within +-10% of [(predicted, measured)]."""
    rel = [(p - m) / m for p, m in pairs]
    return {"mape": sum(abs(r) for r in rel) / len(rel),
            "rmspe": math.sqrt(sum(r * r for r in rel) / len(rel)),
            "within_10": sum(abs(r) <= 0.10 for r in rel) / len(rel)}


def pct(x, signed=False):
    return ("%+.1f%%" if signed else "%.1f%%") % (100 * x)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--joulecast", required=True, help="a joulecast built with libtorch")
    ap.add_argument("--analyzer", help="a joulecast for the analyses; a build without libtorch "
                    "starts much faster (default: --joulecast)")
    ap.add_argument("--profile", required=True)
    ap.add_argument("--db", required=True, help="the calibration database of --profile")
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--only", help="comma-separated network names (default: all)")
    ap.add_argument("--measured", help="a results.json of an earlier run on this machine: take "
                    "its measurements instead of measuring again (to re-check a profile refitted "
                    "from the same calibration, say)")
    args = ap.parse_args()
    jc = os.path.abspath(args.joulecast)
    an = os.path.abspath(args.analyzer or args.joulecast)
    os.makedirs(args.out, exist_ok=True)
    started = time.time()
    earlier, m = None, {}
    if args.measured:
        with open(args.measured) as f:
            previous = json.load(f)
        earlier = {r["name"]: r for r in previous["networks"]}
        m = {"meter": previous["meta"].get("meter", {})}
    with tempfile.TemporaryDirectory() as tmp:
        cal = calibration_networks(an, args.db, tmp)
        c_macs = fit_constant([m for m, _, _ in cal], [e for _, _, e in cal])
        c_params = fit_constant([p for _, p, _ in cal], [e for _, _, e in cal])
        results = []
        for name, group, path, batch, extra in held_out(args, tmp):
            rep = analyze(an, path, batch, args.profile, extra)
            pred = rep["prediction"]["per_step"]
            if earlier is not None:
                if name not in earlier:
                    sys.exit("validate: %s has no measurement of %s" % (args.measured, name))
                old = earlier[name]
                e, t, all_e = old["measured_j"], old["measured_time_s"], old["measured_repeats_j"]
            else:
                e, t, all_e, m = measure(jc, path, batch, args.threads, args.steps, args.repeats,
                                         extra)
            row = {"name": name, "group": group, "batch": batch, "measured_j": e,
                   "measured_repeats_j": all_e, "measured_time_s": t,
                   "predicted_j": pred["energy_j"], "predicted_low_j": pred["energy_j_low"],
                   "predicted_high_j": pred["energy_j_high"], "predicted_time_s": pred["time_s"],
                   "macs_baseline_j": c_macs * training_macs(rep),
                   "params_baseline_j": c_params * rep["model"]["params"] * batch,
                   "by_kind_share": {k: v["share"] for k, v in rep["prediction"]["by_kind"].items()
                                     if v["share"] > 0},
                   "substituted": rep["prediction"].get("substituted_models", [])}
            results.append(row)
            print("%-22s batch %3d  measured %.4g J  predicted %.4g J (%s)  MACs %s  params %s"
                  % (name, batch, e, row["predicted_j"], pct(row["predicted_j"] / e - 1, True),
                     pct(row["macs_baseline_j"] / e - 1, True),
                     pct(row["params_baseline_j"] / e - 1, True)), flush=True)
    summary = {k: errors([(r[k], r["measured_j"]) for r in results])
               for k in ("predicted_j", "macs_baseline_j", "params_baseline_j")}
    summary["time"] = errors([(r["predicted_time_s"], r["measured_time_s"]) for r in results])
    meta = {"profile": args.profile, "db": args.db, "threads": args.threads, "steps": args.steps,
            "repeats": args.repeats, "calibration_networks": len(cal),
            "macs_constant_j": c_macs, "params_constant_j": c_params,
            "meter": m.get("meter", {}), "elapsed_s": time.time() - started}
    if args.measured:
        meta["measured_from"] = args.measured
        for k in ("threads", "steps", "repeats"):
            meta[k] = previous["meta"].get(k)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"meta": meta, "networks": results, "summary": summary}, f, indent=2)
    lines = ["| network | batch | measured J/step | joulecast | error | MACs baseline | params baseline |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        e = r["measured_j"]
        lines.append("| %s | %d | %.4g | %.4g | %s | %s | %s |" % (
            r["name"], r["batch"], e, r["predicted_j"], pct(r["predicted_j"] / e - 1, True),
            pct(r["macs_baseline_j"] / e - 1, True), pct(r["params_baseline_j"] / e - 1, True)))
    lines += ["", "| predictor | MAPE | RMSPE | within ±10% |", "|---|---:|---:|---:|"]
    for k, label in (("predicted_j", "joulecast (profile)"), ("macs_baseline_j", "energy ∝ MACs"),
                     ("params_baseline_j", "energy ∝ parameters × batch")):
        s = summary[k]
        lines.append("| %s | %s | %s | %s |" % (label, pct(s["mape"]), pct(s["rmspe"]),
                                                 pct(s["within_10"])))
    s = summary["time"]
    lines.append("| joulecast, step time | %s | %s | %s |" % (pct(s["mape"]), pct(s["rmspe"]),
                                                           pct(s["within_10"])))
    ratio = summary["macs_baseline_j"]["mape"] / max(summary["predicted_j"]["mape"], 1e-12)
    lines += ["", "MACs baseline MAPE / joulecast MAPE = %.1fx; %d networks, %d calibration "
              "networks for the baselines' constants; %.0f s." % (
                  ratio, len(results), len(cal), meta["elapsed_s"])]
    table = "\n".join(lines) + "\n"
    with open(os.path.join(args.out, "validation.md"), "w") as f:
        f.write(table)
    print(table)


if __name__ == "__main__":
    main()
