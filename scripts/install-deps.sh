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
  libpq-dev pkg-config                            # search: PostgreSQL studies (libpq)
  postgresql                                      # tests: a throwaway server (initdb, pg_ctl, psql)
  slurm-wlm                                       # tests: a one-node Slurm runs a job array
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
# The tests start their own PostgreSQL and Slurm daemons: keep the packages' own services from
# starting (and from failing the install where no init system runs, as in containers).
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee /usr/sbin/policy-rc.d >/dev/null
  "${sudo_cmd[@]}" chmod 755 /usr/sbin/policy-rc.d
  trap '"${sudo_cmd[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
fi
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
  "${missing[@]}" >/dev/null
