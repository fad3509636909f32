#!/usr/bin/env bash
# Installs the Debian 12 packages joulecast needs to build and test, skipping those present.
# Run as root (or with sudo). Usage: scripts/install-deps.sh
set -euo pipefail

packages=(
  build-essential cmake git
  libonnx-dev libprotobuf-dev protobuf-compiler   # ONNX front end
  nlohmann-json3-dev                              # JSON front end, reports, profiles
  libtorch-dev zlib1g-dev dataset-fashion-mnist   # calibrate: training, Fashion-MNIST
  libeigen3-dev libsqlite3-dev                    # calibrate: fitting, measurement store
  libgtest-dev libbenchmark-dev                   # tests, benchmarks
  python3-torch python3-torchvision python3-onnx  # real torchvision models exported for tests
  python3-yaml                                    # tests/ci_example_test.py reads the workflow
  clang libclang-rt-14-dev                        # libFuzzer targets
  chromium                                        # renders the HTML report in tests (headless)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing: ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
  "${missing[@]}" >/dev/null
