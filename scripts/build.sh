#!/usr/bin/env bash
# Configures and builds joulecast in build/ (Release). Usage: scripts/build.sh [cmake options]
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build -j"$(nproc)"
