#!/usr/bin/env bash
# The main job on the shipped defaults: install what is missing, build, and analyze a bundled
# model: the paper's SimpleCNN, whose "training" object is the paper's run (25 epochs of the
# 60,000 Fashion-MNIST training images at batch 512, Adam), so the prediction is that run's.
# Usage: scripts/run.sh [MODEL [analyze options]]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
if [ $# -eq 0 ]; then
  set -- models/simplecnn.json
fi
build/cli/joulecast analyze "$@"
