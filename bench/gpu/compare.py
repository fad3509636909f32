#!/usr/bin/python3
"""Compares joulecast's predicted training step against what a GPU run measured (bench/gpu/run.sh).

Reads torch_loop.jsonl (plain PyTorch: the ground truth) and measure.jsonl (`joulecast measure`)
from a run's output folder, predicts every network with this machine's joulecast
(`analyze MODEL --profile P --batch B --format json`; torchvision models are exported to ONNX
into --cache first, with scripts/export_torchvision.py), and prints markdown: one row per
network and precision (measured: mean of the repeats, min-max; predicted; errors), then a
summary per reference (torch_loop, joulecast measure) and precision: mean absolute error, the
largest, the share within 10% and 25%, and the MACs-proportional baseline (energy = k x training
MACs per step, k fitted on these same networks to minimise the squared relative error: an
optimistic baseline) with the ratio of the two errors.

  /usr/bin/python3 bench/gpu/compare.py --dir OUTDIR [--profile OUTDIR/h200-nvml-quick.json] \\
      [--joulecast build/cli/joulecast] [--md FILE] [--json FILE]

Needs /usr/bin/python3 with torch, torchvision and onnx for the exports, and the ONNX-enabled
joulecast (the default CPU build).
"""

import argparse
import json
import math
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import heldout_lib  # noqa: E402

ROOT = heldout_lib.ROOT


def read_jsonl(path):
    rows = []
    if not path or not os.path.exists(path):
        return rows
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rows.append(json.loads(line))
            except ValueError:
                print("compare: %s:%d: not JSON, skipped" % (path, n), file=sys.stderr)
    return rows


def get(d, *keys):
    for k in keys:
        if not isinstance(d, dict) or k not in d or d[k] is None:
            return None
        d = d[k]
    return d


def mean(xs):
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


def rel(pred, meas):
    if pred is None or meas is None or meas <= 0:
        return None
    return pred / meas - 1


def f_num(v, unit="", digits=3):
    if v is None:
        return "n/a"
    if v == 0:
        return "0" + unit
    a = abs(v)
    if a >= 100:
        s = "%.0f" % v
    else:
        s = "%.*g" % (digits, v)
    return s + unit


def f_j(v):
    return "n/a" if v is None else (f_num(v * 1e3, " mJ") if abs(v) < 1 else f_num(v, " J"))


def f_ms(v):
    return "n/a" if v is None else f_num(v * 1e3, " ms")


def f_pct(v):
    return "n/a" if v is None else "%+.0f%%" % (v * 100)


def f_range(lo, hi, fn):
    if lo is None or hi is None:
        return ""
    return " (%s-%s)" % (fn(lo), fn(hi)) if lo != hi else ""


class Joulecast:
    def __init__(self, path, profile):
        self.path = path
        self.profile = profile
        self._help = None
        self.cache = {}

    def supports_precision(self):
        if self._help is None:
            try:
                r = subprocess.run([self.path, "analyze", "--help"], capture_output=True,
                                   text=True, timeout=60)
                self._help = r.stdout + r.stderr
            except (OSError, subprocess.TimeoutExpired):
                self._help = ""
        return "--precision" in self._help

    def analyze(self, model, batch, precision):
        extra = []
        if precision != "fp32" and self.supports_precision():
            extra = ["--precision", precision]
        key = (model, batch, tuple(extra))
        if key in self.cache:
            return self.cache[key]
        cmd = [self.path, "analyze", model, "--profile", self.profile, "--batch", str(batch),
               "--format", "json", *extra]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
            rep = json.loads(r.stdout) if r.returncode == 0 else None
            err = None if rep is not None else (r.stderr.strip()[-300:] or "rc %d" % r.returncode)
        except (OSError, ValueError, subprocess.TimeoutExpired) as e:
            rep, err = None, str(e)[:300]
        out = {"report": rep, "error": err, "precision_flag": bool(extra)}
        self.cache[key] = out
        return out


def training_macs(rep, batch):
    pb = get(rep, "per_batch")
    if pb and all(get(pb, k) is not None for k in ("macs_fwd", "macs_bwd_input", "macs_bwd_weight")):
        return pb["macs_fwd"] + pb["macs_bwd_input"] + pb["macs_bwd_weight"]
    ps = get(rep, "per_sample")
    if ps and all(get(ps, k) is not None for k in ("macs_fwd", "macs_bwd_input", "macs_bwd_weight")):
        return (ps["macs_fwd"] + ps["macs_bwd_input"] + ps["macs_bwd_weight"]) * batch
    m = get(rep, "model", "macs")
    return None if m is None else 3 * m * batch


def export_onnx(entries, cache, python):
    """Exports the torchvision entries missing from cache/SIZE/, one call per size."""
    by_size = {}
    for e in entries:
        if e["kind"] == "torchvision":
            by_size.setdefault(e["size"], set()).add(e["model"])
    for size, models in sorted(by_size.items()):
        folder = os.path.join(cache, str(size))
        missing = sorted(m for m in models if not os.path.exists(os.path.join(folder, m + ".onnx")))
        if not missing:
            continue
        cmd = [python, os.path.join(ROOT, "scripts", "export_torchvision.py"), folder,
               "--models", ",".join(missing), "--size", str(size)]
        print("compare: exporting %s at %d px to %s" % (", ".join(missing), size, folder),
              file=sys.stderr, flush=True)
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            print("compare: export failed (rc %d): %s" % (r.returncode, r.stderr.strip()[-800:]),
                  file=sys.stderr)


def model_file(entry, cache):
    if entry["kind"] == "json":
        return heldout_lib.arch_file(entry, os.path.join(cache, "json"))
    path = os.path.join(cache, str(entry["size"]), entry["model"] + ".onnx")
    return path if os.path.exists(path) else None


def fit_k(xs, ys):
    """k minimising sum((k x / y - 1)^2): k = sum(x/y) / sum((x/y)^2)."""
    r = [x / y for x, y in zip(xs, ys)]
    d = sum(v * v for v in r)
    return sum(r) / d if d > 0 else None


def summarise(rows, meas_key, label):
    """Summary lines for rows with a measured energy under meas_key and a prediction."""
    ok = [r for r in rows if get(r, meas_key, "energy_j") and get(r, "pred", "energy_j") is not None]
    if not ok:
        tr = [abs(e) for e in (rel(get(r, "pred", "time_s"), get(r, meas_key, "time_s"))
                               for r in rows) if e is not None]
        if not tr:
            return ["- %s: no network with both a measurement and a prediction" % label], None
        return ["- %s: no measured energy; time, %d networks: mean absolute error %.1f%%, max "
                "%.1f%%, within 10%%: %d/%d" % (label, len(tr), 100 * sum(tr) / len(tr),
                                                 100 * max(tr), sum(e <= 0.1 for e in tr),
                                                 len(tr))], {"n": 0, "time_n": len(tr),
                                                             "time_mape": sum(tr) / len(tr)}
    errs = [rel(r["pred"]["energy_j"], r[meas_key]["energy_j"]) for r in ok]
    abs_e = [abs(e) for e in errs]
    n = len(ok)
    terrs = [abs(e) for e in (rel(get(r, "pred", "time_s"), get(r, meas_key, "time_s")) for r in ok)
             if e is not None]
    s = {"n": n, "mape": sum(abs_e) / n, "max": max(abs_e), "bias": sum(errs) / n,
         "within10": sum(e <= 0.10 for e in abs_e) / n, "within25": sum(e <= 0.25 for e in abs_e) / n,
         "time_mape": sum(terrs) / len(terrs) if terrs else None,
         "time_within10": sum(e <= 0.10 for e in terrs) / len(terrs) if terrs else None}
    worst = max(ok, key=lambda r: abs(rel(r["pred"]["energy_j"], r[meas_key]["energy_j"])))
    lines = ["- %s, %d networks: energy mean absolute error **%.1f%%** (mean signed %+.1f%%), "
             "max %.1f%% (%s), within 10%%: %d/%d, within 25%%: %d/%d; time mean absolute error %s,"
             " within 10%%: %s" % (
                 label, n, s["mape"] * 100, s["bias"] * 100, s["max"] * 100, worst["name"],
                 round(s["within10"] * n), n, round(s["within25"] * n), n,
                 "n/a" if s["time_mape"] is None else "%.1f%%" % (s["time_mape"] * 100),
                 "n/a" if s["time_within10"] is None else "%d/%d" % (
                     round(s["time_within10"] * len(terrs)), len(terrs)))]
    base = [r for r in ok if r.get("train_macs")]
    if len(base) >= 2:
        xs = [r["train_macs"] for r in base]
        ys = [r[meas_key]["energy_j"] for r in base]
        k = fit_k(xs, ys)
        b_err = [abs(k * x / y - 1) for x, y in zip(xs, ys)]
        j_err = [abs(rel(r["pred"]["energy_j"], r[meas_key]["energy_j"])) for r in base]
        s.update(baseline_k_j_per_gmac=k * 1e9, baseline_mape=sum(b_err) / len(b_err),
                 baseline_max=max(b_err), joulecast_mape_same=sum(j_err) / len(j_err))
        ratio = s["joulecast_mape_same"] / s["baseline_mape"] if s["baseline_mape"] > 0 else None
        s["ratio"] = ratio
        lines.append("  - MACs-proportional baseline (k = %.4g J per training GMAC, fitted on these "
                     "%d networks): mean absolute error %.1f%%, max %.1f%%; joulecast %.1f%% on the "
                     "same networks: ratio joulecast/baseline **%s**" % (
                         k * 1e9, len(base), s["baseline_mape"] * 100, s["baseline_max"] * 100,
                         s["joulecast_mape_same"] * 100,
                         "n/a" if ratio is None else "%.2f" % ratio))
    else:
        lines.append("  - MACs-proportional baseline: n/a (fewer than 2 networks with MACs)")
    return lines, s


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", help="a run's output folder (torch_loop.jsonl, measure.jsonl)")
    ap.add_argument("--torch-loop", help="default DIR/torch_loop.jsonl")
    ap.add_argument("--measure", help="default DIR/measure.jsonl")
    ap.add_argument("--profile", help="default DIR/h200-nvml-quick.json, else "
                                      "data/profiles/default.json")
    ap.add_argument("--joulecast", default=os.path.join(ROOT, "build", "cli", "joulecast"))
    ap.add_argument("--heldout", default=os.path.join(heldout_lib.HERE, "heldout.json"))
    ap.add_argument("--cache", default=os.path.join(heldout_lib.HERE, "onnx-cache"),
                    help="ONNX exports and inline architectures (git-ignored)")
    ap.add_argument("--python", default="/usr/bin/python3", help="for the ONNX exports")
    ap.add_argument("--md", help="also write the markdown here")
    ap.add_argument("--json", help="also write every row and summary as JSON here")
    args = ap.parse_args()

    tl_path = args.torch_loop or (args.dir and os.path.join(args.dir, "torch_loop.jsonl"))
    me_path = args.measure or (args.dir and os.path.join(args.dir, "measure.jsonl"))
    profile = args.profile
    if not profile:
        cand = args.dir and os.path.join(args.dir, "h200-nvml-quick.json")
        profile = cand if cand and os.path.exists(cand) else \
            os.path.join(ROOT, "data", "profiles", "default.json")
    if not os.path.exists(args.joulecast):
        sys.exit("compare: no joulecast at %s" % args.joulecast)

    entries = {e["name"]: e for e in heldout_lib.load(args.heldout)}
    tl_rows = read_jsonl(tl_path)
    hosts = [r for r in tl_rows if r.get("type") == "host"]
    torch_m, torch_err = {}, {}
    for r in tl_rows:
        if r.get("type") != "network":
            continue
        key = (r["name"], r.get("precision", "fp32"))
        if r.get("error"):
            torch_err[key] = r["error"]
            continue
        reps = r.get("repeats") or []
        es = [x.get("energy_j_per_step") for x in reps]
        ts = [x.get("time_s_per_step") for x in reps]
        ps = [x.get("power_w") for x in reps]
        es_ok = [e for e in es if e is not None]
        torch_m[key] = {"energy_j": mean(es), "time_s": mean(ts), "power_w": mean(ps),
                        "energy_min": min(es_ok) if es_ok else None,
                        "energy_max": max(es_ok) if es_ok else None,
                        "time_min": min(ts) if ts else None, "time_max": max(ts) if ts else None,
                        "steps": [x.get("steps") for x in reps], "batch": r.get("batch")}
        torch_err.pop(key, None)
    meas_m, meas_err = {}, {}
    for r in read_jsonl(me_path):
        key = (r.get("name"), r.get("precision", "fp32"))
        res = r.get("result")
        if not res:
            meas_err[key] = r.get("error") or ("rc %s: %s" % (r.get("rc"),
                                                              (r.get("stderr") or "")[-200:]))
            continue
        meas_m[key] = {"energy_j": get(res, "measurement", "per_step", "energy_j"),
                       "time_s": get(res, "measurement", "per_step", "time_s"),
                       "steps": get(res, "steps"), "meter": get(res, "meter", "kind"),
                       "batch": r.get("batch")}
        meas_err.pop(key, None)

    keys = sorted(set(torch_m) | set(meas_m) | set(torch_err) | set(meas_err),
                  key=lambda k: (k[1] != "fp32", k[1],
                                 list(entries).index(k[0]) if k[0] in entries else 1 << 30, k[0]))
    export_onnx([entries[n] for n, _ in keys if n in entries], args.cache, args.python)
    jc = Joulecast(args.joulecast, profile)

    rows = []
    for name, prec in keys:
        e = entries.get(name)
        row = {"name": name, "precision": prec, "kind": e["kind"] if e else None,
               "batch": e["batch"] if e else (get(torch_m, (name, prec), "batch")),
               "torch": torch_m.get((name, prec)), "measure": meas_m.get((name, prec)),
               "torch_error": torch_err.get((name, prec)),
               "measure_error": meas_err.get((name, prec)),
               "reference": get(e, "reference", prec) if e else None,
               "pred": None, "pred_error": None, "train_macs": None}
        model = model_file(e, args.cache) if e else None
        if model is None:
            row["pred_error"] = "no model file" if e else "not in the held-out list"
        else:
            a = jc.analyze(model, row["batch"], prec)
            rep = a["report"]
            if rep is None:
                row["pred_error"] = a["error"]
            else:
                row["pred"] = {"energy_j": get(rep, "prediction", "per_step", "energy_j"),
                               "time_s": get(rep, "prediction", "per_step", "time_s"),
                               "energy_j_low": get(rep, "prediction", "per_step", "energy_j_low"),
                               "energy_j_high": get(rep, "prediction", "per_step", "energy_j_high"),
                               "precision_flag": a["precision_flag"]}
                row["train_macs"] = training_macs(rep, row["batch"])
        rows.append(row)

    out = []
    prof = {}
    try:
        with open(profile) as f:
            prof = json.load(f)
    except (OSError, ValueError):
        pass
    out.append("# joulecast on the GPU: predicted against measured\n")
    for h in hosts[:1]:
        out.append("Run: %s, %s (driver %s), torch %s, CPU %s x %s; idle board power %s W "
                   "(NVML counter over %s s).\n" % (
                       h.get("time"), h.get("gpu") or h.get("device"), h.get("driver", "n/a"),
                       h.get("torch"), h.get("cpu_model"), h.get("cpu_count"),
                       f_num(h.get("idle_power_w")), h.get("idle_s", "n/a")))
    hw = get(prof, "hardware") or {}
    out.append("Profile: `%s` (created %s, device %s, meter %s, hardware %s); joulecast `%s`.\n" % (
        os.path.relpath(profile, os.getcwd()), get(prof, "created") or "n/a",
        get(prof, "device") or "n/a", get(prof, "meter", "kind") or "n/a",
        ", ".join("%s %s" % (k, v) for k, v in hw.items() if not isinstance(v, (dict, list)))
        or "n/a", os.path.relpath(args.joulecast, os.getcwd())))
    if any(r["precision"] != "fp32" for r in rows):
        out.append("bf16 rows are predicted %s.\n" % (
            "with `analyze --precision bf16`" if jc.supports_precision() else
            "as fp32 (this joulecast's `analyze` has no `--precision`)"))
    out.append("Measured energy and time per training step: torch_loop = plain PyTorch (mean of "
               "the repeats, min-max), measure = `joulecast measure`; errors are predicted / "
               "measured - 1. earlier = the same network on an H200 before "
               "(../shared/data/gpu-h200).\n")
    out.append("| network | prec | B | torch_loop energy | time | W | measure energy | time | "
               "predicted energy | time | err E vs torch | err t vs torch | err E vs measure | "
               "measure vs torch | earlier energy (drift) |")
    out.append("|" + " --- |" * 15)
    for r in rows:
        t, m, p = r["torch"] or {}, r["measure"] or {}, r["pred"] or {}
        ref = r["reference"] or {}
        notes = []
        if r["torch_error"]:
            notes.append("torch_loop: " + r["torch_error"][:80])
        if r["measure_error"] and r["kind"] == "json":
            notes.append("measure: " + r["measure_error"][:80].replace("\n", " "))
        if r["pred_error"]:
            notes.append("analyze: " + r["pred_error"][:80].replace("\n", " "))
        out.append("| %s%s | %s | %s | %s%s | %s%s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |"
                   % (r["name"], (" (" + "; ".join(notes).replace("|", "/") + ")") if notes else "",
                      r["precision"], r["batch"],
                      f_j(t.get("energy_j")), f_range(t.get("energy_min"), t.get("energy_max"), f_j),
                      f_ms(t.get("time_s")), f_range(t.get("time_min"), t.get("time_max"), f_ms),
                      f_num(t.get("power_w")), f_j(m.get("energy_j")), f_ms(m.get("time_s")),
                      f_j(p.get("energy_j")), f_ms(p.get("time_s")),
                      f_pct(rel(p.get("energy_j"), t.get("energy_j"))),
                      f_pct(rel(p.get("time_s"), t.get("time_s"))),
                      f_pct(rel(p.get("energy_j"), m.get("energy_j"))),
                      f_pct(rel(m.get("energy_j"), t.get("energy_j"))),
                      "n/a" if not ref else "%s (%s)" % (
                          f_j(ref.get("energy_j_per_step")),
                          f_pct(rel(t.get("energy_j"), ref.get("energy_j_per_step"))))))
    out.append("")
    out.append("## Summary\n")
    summaries = {}
    for prec in sorted({r["precision"] for r in rows}, key=lambda p: (p != "fp32", p)):
        sub = [r for r in rows if r["precision"] == prec]
        for meas_key, label in (("torch", "vs torch_loop"), ("measure", "vs joulecast measure")):
            for group, members in (("all", sub),
                                   ("torchvision", [r for r in sub if r["kind"] == "torchvision"]),
                                   ("json", [r for r in sub if r["kind"] == "json"])):
                if group != "all" and (meas_key == "measure" or not members or
                                       len(members) == len(sub)):
                    continue
                lines, s = summarise(members, meas_key, "%s %s%s" % (
                    prec, label, "" if group == "all" else ", " + group + " only"))
                if s is None and group != "all":
                    continue
                out.extend(lines)
                summaries["%s/%s/%s" % (prec, meas_key, group)] = s
        both = [r for r in sub if get(r, "torch", "energy_j") and get(r, "measure", "energy_j")]
        if both:
            d = [abs(rel(r["measure"]["energy_j"], r["torch"]["energy_j"])) for r in both]
            dt = [abs(rel(r["measure"]["time_s"], r["torch"]["time_s"])) for r in both
                  if get(r, "measure", "time_s") and get(r, "torch", "time_s")]
            out.append("- %s joulecast measure vs torch_loop, %d networks: energy differs by %.1f%% "
                       "on average (max %.1f%%), time by %s" % (
                           prec, len(both), 100 * sum(d) / len(d), 100 * max(d),
                           "%.1f%%" % (100 * sum(dt) / len(dt)) if dt else "n/a"))
        drift = [r for r in sub if get(r, "torch", "energy_j") and
                 get(r, "reference", "energy_j_per_step")]
        if drift:
            d = [rel(r["torch"]["energy_j"], r["reference"]["energy_j_per_step"]) for r in drift]
            out.append("- %s torch_loop now vs the earlier H200 session, %d networks: energy %+.1f%% "
                       "on average (mean absolute %.1f%%)" % (
                           prec, len(drift), 100 * sum(d) / len(d),
                           100 * sum(abs(x) for x in d) / len(d)))
    text = "\n".join(out) + "\n"
    sys.stdout.write(text)
    if args.md:
        with open(args.md, "w") as f:
            f.write(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"profile": profile, "rows": rows, "summary": summaries, "hosts": hosts}, f,
                      indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
