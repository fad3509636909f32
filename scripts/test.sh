#!/usr/bin/env bash
# Installs what is missing, builds, runs the whole test suite with ctest, then runs each
# front end's fuzzer for a bounded time (FUZZ_SECONDS, default 60) on top of its seed corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
(cd build && ctest --output-on-failure -j"$(nproc)")
scripts/fuzz.sh "${FUZZ_SECONDS:-60}"
