#!/usr/bin/python3
"""A scaled reproduction of the paper's RQ1 and RQ2 with `joulecast` (issue 5, bench/paper/).

Yarally et al., CAIN 2023, trained DensePolyNN, DenseLinearNN and SimpleCNN on Fashion-MNIST
(25 epochs of 60,000 images, batch 512, on a GPU) with grid, random and Bayesian-optimisation (GP,
probability of improvement) search over Adam's learning rate, beta1 and beta2, 64 trials each.
This script runs the same comparison scaled to a small CPU, with `joulecast search`'s built-in
libtorch trainer, and adds what joulecast can do that the paper could not:

  share     the predicted energy share of each layer kind (conv, linear, ...) for SimpleCNN,
            SimpleCNN2 (no ReLU) and DensePolyNN at the paper's batch (`joulecast analyze`);
  rq1       grid vs random vs BO (pi) per network and seed, and for each strategy the cumulative
            training energy spent until its best-so-far accuracy is within 1 accuracy point of
            the best any strategy found for that network and seed (the paper's measure);
  depth     SimpleCNN with 1..4 conv blocks trained once each: accuracy against energy, and how
            much the cheapest network within 1 point of the best accuracy saves;
  aware     BO with the paper's acquisition (pi) against the energy-aware ei-per-joule on a space
            where the architecture (and so the energy) varies: energy spent for the same accuracy.

Everything goes under --out: one study database per search (run the script again to resume
them: `--trials N` means N in the study), each search's `--format json` report, results.json
and results.md. Standard library only. Energies are what the trainer's meter read; on a machine
without RAPL or NVML that is joulecast's estimate meter (CPU time x watts), which the results say.

Example (the run in docs/paper-reproduction.md):
  nice -n 5 /usr/bin/python3 bench/paper/reproduce.py --joulecast /tmp/jc-paper/joulecast \\
      --out /tmp/jc-paper/out --seeds 1,2 --stop-at 09:42
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
import time

PAPER_BATCH = 512
PAPER_SAMPLES = 60000
PAPER_EPOCHS = 25
# The paper's networks were built with 4 conv blocks and 7 linear layers (../shared/paper/README.md).
PAPER_CONV = 4
PAPER_LINEAR = 7
WITHIN = 0.01  # one accuracy point, as the paper's README measures it

# The paper's RQ1 on Fashion-MNIST, 3 parameters (../shared/paper/README.md): trials and
# cumulative energy (J, GPU) until within 1 point of the best any strategy found; None = never.
PAPER_FM3 = {
    "DensePolyNN": {"random": None, "grid": None, "bo": (5, 1030)},
    "DenseLinearNN": {"random": (23, 6014), "grid": None, "bo": (4, 1034)},
    "SimpleCNN": {"random": (16, 18596), "grid": (20, 23551), "bo": (13, 14979)},
}


def log(msg):
    print(f"[{datetime.datetime.utcnow():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


def past(stop_at):
    """True when the UTC wall clock is at or past HH:MM (today)."""
    if not stop_at:
        return False
    now = datetime.datetime.utcnow()
    h, m = (int(x) for x in stop_at.split(":"))
    return (now.hour, now.minute) >= (h, m)


def write_json(path, doc):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def architecture(family, nr_conv=PAPER_CONV, nr_linear=PAPER_LINEAR):
    return {"family": family, "nr_conv_layers": nr_conv, "nr_linear_layers": nr_linear,
            "input": {"shape": [1, 28, 28]}, "classes": 10}


class Runner:
    def __init__(self, args):
        self.args = args
        self.out = os.path.abspath(args.out)
        for sub in ("spaces", "studies", "reports"):
            os.makedirs(os.path.join(self.out, sub), exist_ok=True)
        self.training = {"dataset": "fashion-mnist", "epochs": args.epochs,
                         "batch_size": args.batch, "train_samples": args.train_samples,
                         "validation_samples": args.validation_samples}

    def space(self, name, arch, parameters, training_extra=None):
        training = dict(self.training)
        training.update(training_extra or {})
        path = os.path.join(self.out, "spaces", name + ".json")
        write_json(path, {"architecture": arch, "parameters": parameters, "training": training})
        return path

    def search(self, space, study, strategy, trials, seed, extra=()):
        """Runs (or resumes) one study and returns its joulecast.search/1 report."""
        db = os.path.join(self.out, "studies", study + ".db")
        report = os.path.join(self.out, "reports", study + ".json")
        cmd = [self.args.joulecast, "search", space, "--strategy", strategy,
               "--trials", str(trials), "--seed", str(seed), "--study", db,
               "--threads", str(self.args.threads), "--format", "json", "-o", report]
        cmd += list(extra)
        if self.args.profile:
            cmd += ["--profile", self.args.profile]
        log("run: " + " ".join(cmd))
        t0 = time.monotonic()
        proc = subprocess.run(cmd, stderr=subprocess.PIPE, text=True)
        for line in proc.stderr.splitlines():
            if " done:" in line or "failed" in line or "error" in line.lower():
                log("  " + line)
        if proc.returncode != 0:
            raise RuntimeError(f"{study}: joulecast search exited {proc.returncode}: "
                               f"{proc.stderr.strip().splitlines()[-1:]}")
        log(f"  {study}: {time.monotonic() - t0:.0f} s")
        with open(report) as f:
            return json.load(f)

    def analyze(self, arch_path_or_doc, batch, samples, epochs):
        if isinstance(arch_path_or_doc, dict):
            path = os.path.join(self.out, "spaces",
                                "arch-%s-%d-%d.json" % (arch_path_or_doc["family"],
                                                        arch_path_or_doc["nr_conv_layers"],
                                                        arch_path_or_doc["nr_linear_layers"]))
            write_json(path, arch_path_or_doc)
        else:
            path = arch_path_or_doc
        cmd = [self.args.joulecast, "analyze", path, "--batch", str(batch), "--samples",
               str(samples), "--epochs", str(epochs), "--format", "json"]
        if self.args.profile:
            cmd += ["--profile", self.args.profile]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              check=True)
        return json.loads(proc.stdout)


def done_trials(report):
    return [t for t in report["trials"] if t["status"] == "done"]


def energy_to_reach(report, target):
    """Walks the trials in order: (trials, cumulative energy J) when best-so-far first reaches
    target, else None. Failed trials count as trials; their energy is unknown and counts 0."""
    spent = 0.0
    best = -1.0
    for i, t in enumerate(report["trials"], start=1):
        spent += t["energy_j"] or 0.0
        if t["status"] == "done":
            best = max(best, t["accuracy"])
        if best >= target - 1e-12:
            return {"trials": i, "energy_j": spent}
    return None


def part_share(r, results):
    """Predicted energy share per layer kind at the paper's batch (RQ2)."""
    rows = []
    for label, arch in [
        ("SimpleCNN (shipped: 2 conv, 3 linear)", architecture("SimpleCNN", 2, 3)),
        ("SimpleCNN2 (shipped: 2 conv, 3 linear)", architecture("SimpleCNN2", 2, 3)),
        ("DensePolyNN (shipped: 3 linear)", architecture("DensePolyNN", 2, 3)),
        ("SimpleCNN (paper: 4 conv, 7 linear)", architecture("SimpleCNN")),
        ("SimpleCNN2 (paper: 4 conv, 7 linear)", architecture("SimpleCNN2")),
        ("DensePolyNN (paper: 7 linear)", architecture("DensePolyNN")),
    ]:
        doc = r.analyze(arch, PAPER_BATCH, PAPER_SAMPLES, PAPER_EPOCHS)
        pred = doc["prediction"]
        share = {k: v["share"] for k, v in pred["by_kind"].items() if v["share"] > 0}
        total_e = sum(v["energy_j"] for v in pred["by_kind"].values())
        overhead = pred["optimizer_and_overhead"]["energy_j"]
        share["optimizer+overhead"] = overhead / (total_e + overhead) if total_e + overhead else 0
        total_macs = sum(v["macs"] for v in doc["by_kind"].values()) or 1
        macs = {k: v["macs"] / total_macs for k, v in doc["by_kind"].items() if v["macs"]}
        rows.append({"network": label, "architecture": arch, "share": share,
                     "params": doc["model"]["params"],
                     "step_energy_j": pred["per_step"]["energy_j"],
                     "run_energy_j": pred["total"]["energy_j"],
                     "meter": pred["profile"]["meter"]["kind"],
                     "profile": pred["profile"]["source"],
                     "macs_share": macs})
        log(f"share {label}: " + ", ".join(f"{k} {v:.1%}" for k, v in share.items()))
    results["share"] = {"batch": PAPER_BATCH, "samples": PAPER_SAMPLES, "epochs": PAPER_EPOCHS,
                        "rows": rows}


def rq1_parameters():
    return {"learning_rate": {"type": "float", "low": 1e-5, "high": 1e-1, "log": True},
            "beta1": {"type": "float", "low": 0.1, "high": 0.99},
            "beta2": {"type": "float", "low": 0.8, "high": 0.999}}


def strategy_options(strategy, args):
    if strategy == "grid":
        return ["--grid-points", str(args.grid_points)]
    if strategy == "bo":
        return ["--acquisition", "pi", "--initial-trials", str(args.initial_trials),
                "--candidates", str(args.candidates)]
    return []


def part_rq1(r, results, network, seeds, stop_at):
    args = r.args
    space = r.space("rq1-" + network, architecture(network), rq1_parameters())
    blocks = results.setdefault("rq1", {}).setdefault(network, {})
    for seed in seeds:
        if past(stop_at):
            log(f"rq1 {network} seed {seed}: skipped, past --stop-at {stop_at}")
            continue
        reports = {}
        for strategy in ("grid", "random", "bo"):
            reports[strategy] = r.search(space, f"rq1-{network}-{strategy}-s{seed}", strategy,
                                         args.trials, seed, strategy_options(strategy, args))
        best = max((t["accuracy"] for rep in reports.values() for t in done_trials(rep)),
                   default=None)
        block = {"best_accuracy": best, "strategies": {}}
        for strategy, rep in reports.items():
            done = done_trials(rep)
            block["strategies"][strategy] = {
                "trials": len(rep["trials"]),
                "failed": rep["counts"]["failed"],
                "best_accuracy": max((t["accuracy"] for t in done), default=None),
                "energy_spent_j": rep["energy_spent_j"],
                "mean_trial_energy_j": rep["energy_spent_j"] / max(1, len(done)),
                "mean_predicted_j": (sum(t["predicted_energy_j"] or 0 for t in done)
                                     / max(1, len(done))),
                "reach": energy_to_reach(rep, best) if best is not None else None,
                "meter": rep["profile"]["meter"] if rep.get("profile") else None,
                "curve": [[t["number"], t["accuracy"], t["energy_j"]] for t in rep["trials"]],
            }
        blocks[str(seed)] = block
        log(f"rq1 {network} seed {seed}: best {best:.4f}; " + "; ".join(
            f"{s} {b['reach']}" for s, b in block["strategies"].items()))


def part_depth(r, results, seeds, stop_at):
    """SimpleCNN with 1..4 conv blocks at one fixed, sensible Adam setting."""
    args = r.args
    params = {"nr_conv": {"type": "int", "low": 1, "high": 4}}
    space = r.space("depth-SimpleCNN", architecture("SimpleCNN", "$nr_conv", PAPER_LINEAR), params,
                    {"learning_rate": args.depth_lr, "beta1": 0.9, "beta2": 0.999})
    runs = {}
    for seed in seeds:
        if past(stop_at):
            log(f"depth seed {seed}: skipped, past --stop-at {stop_at}")
            continue
        rep = r.search(space, f"depth-SimpleCNN-s{seed}", "grid", 4, seed)
        runs[str(seed)] = {str(t["params"]["nr_conv"]): {"accuracy": t["accuracy"],
                                                          "energy_j": t["energy_j"],
                                                          "predicted_energy_j":
                                                              t["predicted_energy_j"]}
                           for t in done_trials(rep)}
    rows = []
    for depth in range(1, 5):
        arch = architecture("SimpleCNN", depth, PAPER_LINEAR)
        doc = r.analyze(arch, PAPER_BATCH, PAPER_SAMPLES, PAPER_EPOCHS)
        per_seed = [runs[s][str(depth)] for s in runs if str(depth) in runs[s]]
        n = max(1, len(per_seed))
        rows.append({
            "nr_conv": depth,
            "params": doc["model"]["params"],
            "macs_per_sample": doc["model"]["macs"],
            "paper_scale_predicted_j": doc["prediction"]["total"]["energy_j"],
            "accuracy": (sum(p["accuracy"] for p in per_seed) / n) if per_seed else None,
            "accuracy_per_seed": [p["accuracy"] for p in per_seed],
            "energy_j": (sum(p["energy_j"] for p in per_seed) / n) if per_seed else None,
            "predicted_energy_j": (sum(p["predicted_energy_j"] or 0 for p in per_seed) / n)
            if per_seed else None,
        })
    have = [x for x in rows if x["accuracy"] is not None]
    summary = None
    if have:
        best = max(have, key=lambda x: x["accuracy"])
        ok = [x for x in have if x["accuracy"] >= best["accuracy"] - WITHIN]
        cheapest = min(ok, key=lambda x: x["paper_scale_predicted_j"])
        costliest = max(have, key=lambda x: x["paper_scale_predicted_j"])
        summary = {
            "most_accurate": best["nr_conv"], "cheapest_within_1pt": cheapest["nr_conv"],
            "saving_vs_most_accurate": 1 - cheapest["paper_scale_predicted_j"]
            / best["paper_scale_predicted_j"],
            "saving_vs_costliest": 1 - cheapest["paper_scale_predicted_j"]
            / costliest["paper_scale_predicted_j"],
            "measured_saving_vs_most_accurate": (1 - cheapest["energy_j"] / best["energy_j"])
            if best["energy_j"] else None,
        }
    results["depth"] = {"learning_rate": args.depth_lr, "seeds": sorted(runs), "rows": rows,
                        "summary": summary}
    log(f"depth: {summary}")


def part_aware(r, results, seeds, stop_at):
    """BO (pi, the paper's) against ei-per-joule where the energy varies with the architecture."""
    args = r.args
    params = rq1_parameters()
    params["nr_conv"] = {"type": "int", "low": 1, "high": 4}
    params["nr_lin"] = {"type": "int", "low": 1, "high": PAPER_LINEAR}
    space = r.space("aware-SimpleCNN", architecture("SimpleCNN", "$nr_conv", "$nr_lin"), params)
    blocks = {}
    for seed in seeds:
        if past(stop_at):
            log(f"aware seed {seed}: skipped, past --stop-at {stop_at}")
            continue
        reps = {}
        for acq in ("pi", "ei-per-joule"):
            reps[acq] = r.search(space, f"aware-SimpleCNN-{acq}-s{seed}", "bo", args.aware_trials,
                                 seed, ["--acquisition", acq, "--initial-trials",
                                        str(args.initial_trials), "--candidates",
                                        str(args.candidates)])
        best = max(t["accuracy"] for rep in reps.values() for t in done_trials(rep))
        block = {"best_accuracy": best, "acquisitions": {}}
        for acq, rep in reps.items():
            done = done_trials(rep)
            block["acquisitions"][acq] = {
                "trials": len(rep["trials"]),
                "best_accuracy": max((t["accuracy"] for t in done), default=None),
                "energy_spent_j": rep["energy_spent_j"],
                "predicted_spent_j": sum(t["predicted_energy_j"] or 0 for t in done),
                "reach": energy_to_reach(rep, best),
                "curve": [[t["number"], t["accuracy"], t["energy_j"],
                           t["params"].get("nr_conv"), t["params"].get("nr_lin")]
                          for t in rep["trials"]],
            }
        blocks[str(seed)] = block
        log(f"aware seed {seed}: best {best:.4f}; " + "; ".join(
            f"{a} {b['reach']} spent {b['energy_spent_j']:.1f} J"
            for a, b in block["acquisitions"].items()))
    results["aware"] = {"trials": args.aware_trials, "blocks": blocks}


def fmt_reach(reach):
    if not reach:
        return "-"
    return f"{reach['trials']} ({reach['energy_j']:.1f} J)"


def mean_trial_energy_j(block):
    """The mean energy of a trial of an rq1 block, over its strategies."""
    s = block["strategies"].values()
    return sum(x["mean_trial_energy_j"] for x in s) / len(s)


def md_table(header, rows):
    """A markdown table of `header`'s cells and one line per row of cells, then a blank line."""
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines + [""]


def markdown(results):
    out = []
    meta = results["meta"]
    out.append(f"# Scaled reproduction of the paper's RQ1/RQ2 ({meta['finished_utc']})\n")
    out.append(f"Scale: {meta['scale']}. Meter: {meta.get('meter', 'see reports')}.\n")
    if "share" in results:
        out.append("## Predicted energy share by layer kind (batch 512, paper scale)\n")
        kinds = ["conv", "linear", "norm", "relu", "pool", "optimizer+overhead"]
        out += md_table(
            ["network", *kinds, "run energy (predicted)"],
            ([row["network"], *(f"{row['share'].get(k, 0):.1%}" for k in kinds),
              f"{row['run_energy_j'] / 1000:.1f} kJ"] for row in results["share"]["rows"]))
    if "rq1" in results:
        out.append("## RQ1: trials (cumulative energy) until within 1 point of the best\n")
        strategies = ("grid", "random", "bo")
        blocks = [(net, seed, b) for net, by_seed in results["rq1"].items()
                  for seed, b in by_seed.items()]
        out += md_table(
            ["network", "seed", "best acc", "grid", "random", "BO (pi)", "energy/trial"],
            ([net, seed, f"{b['best_accuracy']:.2%}",
              *(fmt_reach(b["strategies"][k]["reach"]) for k in strategies),
              f"{mean_trial_energy_j(b):.1f} J"] for net, seed, b in blocks))
        out.append("Best accuracy per strategy:\n")
        out += md_table(
            ["network", "seed", "grid", "random", "BO (pi)"],
            ([net, seed, *(f"{b['strategies'][k]['best_accuracy']:.2%}" for k in strategies)]
             for net, seed, b in blocks))
    if "depth" in results:
        d = results["depth"]
        out.append(f"## Depth: SimpleCNN, 7 linear layers, Adam lr {d['learning_rate']} "
                   f"(seeds {', '.join(d['seeds'])})\n")
        out += md_table(
            ["conv blocks", "params", "accuracy (mean)", "per seed", "energy/trial",
             "predicted at paper scale"],
            ([row["nr_conv"], row["params"],
              f"{row['accuracy']:.2%}" if row["accuracy"] is not None else "-",
              ", ".join(f"{a:.2%}" for a in row["accuracy_per_seed"]),
              f"{row['energy_j']:.1f} J" if row["energy_j"] is not None else "-",
              f"{row['paper_scale_predicted_j'] / 1000:.1f} kJ"] for row in d["rows"]))
        if d["summary"]:
            s = d["summary"]
            out.append(f"Most accurate: {s['most_accurate']} conv blocks; cheapest within 1 point: "
                       f"{s['cheapest_within_1pt']}, saving {s['saving_vs_most_accurate']:.1%} of "
                       f"the most accurate one's predicted energy and "
                       f"{s['saving_vs_costliest']:.1%} of the costliest's.\n")
    if "aware" in results and results["aware"]["blocks"]:
        out.append("## Energy-aware BO: ei-per-joule against the paper's pi\n")
        out += md_table(
            ["seed", "best acc", "acquisition", "best", "trials (energy) to within 1 pt",
             "energy spent"],
            ([seed, f"{b['best_accuracy']:.2%}", acq, f"{a['best_accuracy']:.2%}",
              fmt_reach(a["reach"]), f"{a['energy_spent_j']:.1f} J"]
             for seed, b in results["aware"]["blocks"].items()
             for acq, a in b["acquisitions"].items()))
    out.append("## Parts' wall times\n")
    for k, v in results["meta"]["part_seconds"].items():
        out.append(f"- {k}: {v:.0f} s")
    skipped = results["meta"].get("skipped")
    if skipped:
        out.append("\nSkipped (past --stop-at): " + ", ".join(skipped))
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--joulecast", default="build/cli/joulecast",
                    help="the joulecast binary (a libtorch build, with `search`)")
    ap.add_argument("--out", default="bench/paper/out", help="output folder")
    ap.add_argument("--profile", default=None, help="profile (default: joulecast's default)")
    ap.add_argument("--parts", default="share,rq1:SimpleCNN,depth,aware,rq1:DenseLinearNN,"
                    "rq1:DensePolyNN", help="parts, in order")
    ap.add_argument("--seeds", default="1,2")
    ap.add_argument("--trials", type=int, default=10, help="trials per rq1 search")
    ap.add_argument("--aware-trials", type=int, default=12)
    ap.add_argument("--grid-points", type=int, default=3)
    ap.add_argument("--initial-trials", type=int, default=3)
    ap.add_argument("--candidates", type=int, default=2000)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--train-samples", type=int, default=2000)
    ap.add_argument("--validation-samples", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--depth-lr", type=float, default=1e-3)
    ap.add_argument("--stop-at", default=None,
                    help="UTC HH:MM: start no search at or after it (its part is reported skipped)")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]

    r = Runner(args)
    results = {"meta": {
        "started_utc": datetime.datetime.utcnow().isoformat(timespec="seconds") + "Z",
        "command": " ".join(sys.argv), "joulecast": args.joulecast, "seeds": seeds,
        "scale": (f"Fashion-MNIST, {args.train_samples} train / {args.validation_samples} "
                  f"validation images, {args.epochs} epoch(s), batch {args.batch}, "
                  f"{args.threads} libtorch thread(s), {args.trials} trials per rq1 search, "
                  f"seeds {args.seeds}"),
        "part_seconds": {}, "skipped": []}}
    results_path = os.path.join(r.out, "results.json")
    for part in args.parts.split(","):
        if past(args.stop_at):
            log(f"{part}: skipped, past --stop-at {args.stop_at}")
            results["meta"]["skipped"].append(part)
            continue
        log(f"part {part}")
        t0 = time.monotonic()
        if part == "share":
            part_share(r, results)
        elif part.startswith("rq1:"):
            part_rq1(r, results, part[4:], seeds, args.stop_at)
        elif part == "depth":
            part_depth(r, results, seeds, args.stop_at)
        elif part == "aware":
            part_aware(r, results, seeds, args.stop_at)
        else:
            sys.exit(f"reproduce.py: unknown part '{part}'")
        results["meta"]["part_seconds"][part] = time.monotonic() - t0
        log(f"part {part}: {results['meta']['part_seconds'][part]:.0f} s")
        # Written after every part so an interrupted run still leaves its results.
        results["meta"]["finished_utc"] = datetime.datetime.utcnow().isoformat(
            timespec="seconds") + "Z"
        meters = {b["meter"]["kind"] if isinstance(b.get("meter"), dict) else b.get("meter")
                  for net in results.get("rq1", {}).values() for blk in net.values()
                  for b in blk["strategies"].values()}
        results["meta"]["meter"] = ", ".join(sorted(str(m) for m in meters)) or None
        write_json(results_path, results)
        with open(os.path.join(r.out, "results.md"), "w") as f:
            f.write(markdown(results))
    log(f"wrote {results_path} and results.md")


if __name__ == "__main__":
    main()
