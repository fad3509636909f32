"""Shared by bench/gpu's scripts: the held-out network list (heldout.json) and its entries.

An entry: {"name", "kind": "json"|"torchvision", "batch", "bf16": bool, and
  kind json:        "path" (repo-relative JSON architecture) or "arch" (the architecture inline);
  kind torchvision: "model" (a torchvision.models classifier) and "size" (input H = W, px);
  optional:         "measure_steps" (--steps for joulecast measure), "reference" (earlier
                    measurements of the same network, by precision)}.
Only the standard library here: the GPU machine's and the local Python both import it.
"""

import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def load(path):
    """The entries of a held-out list: a {"networks": [...]} document or a bare list."""
    with open(path) as f:
        doc = json.load(f)
    nets = doc["networks"] if isinstance(doc, dict) else doc
    names = [e["name"] for e in nets]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ValueError("%s: duplicate names %s" % (path, sorted(dup)))
    return nets


def select(nets, only=None, bf16_only=False, kind=None):
    out = []
    wanted = set(only.split(",")) if only else None
    for e in nets:
        if wanted is not None and e["name"] not in wanted:
            continue
        if bf16_only and not e.get("bf16"):
            continue
        if kind and e["kind"] != kind:
            continue
        out.append(e)
    return out


def arch_spec(entry):
    """The JSON architecture (a dict) of a kind-json entry."""
    if "arch" in entry:
        return entry["arch"]
    with open(os.path.join(ROOT, entry["path"])) as f:
        return json.load(f)


def arch_file(entry, folder):
    """A file joulecast can read for a kind-json entry: its path, or the inline arch written
    into folder/NAME.json (rewritten only when it changed)."""
    if "path" in entry:
        return os.path.join(ROOT, entry["path"])
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, safe(entry["name"]) + ".json")
    text = json.dumps(entry["arch"]) + "\n"
    try:
        with open(path) as f:
            if f.read() == text:
                return path
    except OSError:
        pass
    with open(path, "w") as f:
        f.write(text)
    return path


def input_shape(entry):
    """[C, H, W] of one sample."""
    if entry["kind"] == "torchvision":
        return [3, entry["size"], entry["size"]]
    return list(arch_spec(entry)["input"]["shape"])


def safe(name):
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
