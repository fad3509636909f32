#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) in build-fuzz/ and runs each front
# end's fuzzer for SECONDS (default 60) on its seed corpus: small ONNX models written by
# fuzz/make_onnx_seeds.py and the architectures in models/. A crash stops the script with
# libFuzzer's report and leaves the crashing input in build-fuzz/.
# Usage: scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DJOULECAST_FUZZ=ON -DJOULECAST_WITH_TORCH=OFF -DJOULECAST_BUILD_TESTS=OFF \
  -DJOULECAST_BUILD_BENCH=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz_seeds onnx_fuzzer json_fuzzer
for f in onnx json; do
  echo "fuzzing the $f front end for ${seconds}s"
  (cd build-fuzz && "fuzz/${f}_fuzzer" -max_total_time="$seconds" -timeout=10 \
     -rss_limit_mb=2048 -print_final_stats=1 "fuzz/corpus/$f" 2>&1 | tail -n 6)
done
