#!/usr/bin/python3
"""Every report joulecast writes stays byte-identical unless a change means to move it.

Usage: golden_output_test.py JOULECAST SOURCE_DIR TORCHVISION_DIR [--update]

For each bundled model (models/*.json) and each torchvision export in TORCHVISION_DIR (224 px
and its 64/ folder) it runs `joulecast analyze` with the shipped profiles: the default profile
in every format (text, json, markdown, html), and the H200 profile in json at batch 64, fp32 and
bf16. The source folder and the export folder are replaced by <src> and <tv> in each output,
which is then compared by SHA-256 with tests/golden/outputs.json. A refactor must leave every
hash as it is; a change that means to move the numbers runs this script with --update and
commits the new file with it. Standard library only.
"""

import glob
import hashlib
import json
import os
import subprocess
import sys

GOLDEN = os.path.join("tests", "golden", "outputs.json")


def cases(src, tv):
    models = sorted(glob.glob(os.path.join(src, "models", "*.json")))
    models += sorted(glob.glob(os.path.join(tv, "*.onnx")))
    models += sorted(glob.glob(os.path.join(tv, "64", "*.onnx")))
    default = os.path.join(src, "data", "profiles", "default.json")
    h200 = os.path.join(src, "data", "profiles", "h200-nvml.json")
    for model in models:
        for fmt in ("text", "json", "markdown", "html"):
            yield model, fmt, ["--profile", default, "--format", fmt]
        for precision in ("fp32", "bf16"):
            yield model, "h200-b64-" + precision, ["--profile", h200, "--format", "json",
                                                    "--batch", "64", "--precision", precision]


def main():
    args = [a for a in sys.argv[1:] if a != "--update"]
    update = "--update" in sys.argv[1:]
    if len(args) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    joulecast, src, tv = (os.path.abspath(a) for a in args)
    onnx = glob.glob(os.path.join(tv, "*.onnx"))
    if len(onnx) < 14:
        print(f"FAIL: {tv} holds {len(onnx)} torchvision exports, expected 14 "
              "(the torchvision_export fixture makes them)", file=sys.stderr)
        return 1
    got = {}
    for model, label, flags in cases(src, tv):
        run = subprocess.run([joulecast, "analyze", model] + flags, capture_output=True)
        if run.returncode != 0:
            print(f"FAIL: analyze {model} {' '.join(flags)} exited {run.returncode}: "
                  f"{run.stderr.decode(errors='replace').strip()}", file=sys.stderr)
            return 1
        text = run.stdout.replace(tv.encode() + b"/", b"<tv>/").replace(src.encode() + b"/",
                                                                        b"<src>/")
        key = model.replace(tv + "/", "<tv>/").replace(src + "/", "<src>/") + " " + label
        got[key] = hashlib.sha256(text).hexdigest()
    path = os.path.join(src, GOLDEN)
    if update:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            json.dump(got, f, indent=1, sort_keys=True)
            f.write("\n")
        print(f"wrote {len(got)} hashes to {path}")
        return 0
    with open(path) as f:
        want = json.load(f)
    bad = [k for k in sorted(set(want) | set(got)) if want.get(k) != got.get(k)]
    for k in bad:
        print(f"FAIL: {k}: {'missing' if k not in got else 'new' if k not in want else 'changed'}",
              file=sys.stderr)
    if bad:
        print(f"{len(bad)} of {len(want)} outputs differ from {GOLDEN}; if the change means to "
              "move them, rerun with --update and commit the file", file=sys.stderr)
        return 1
    print(f"{len(got)} outputs identical to {GOLDEN}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
