#!/usr/bin/env bash
# Builds the libFuzzer targets with clang in build-fuzz/ and runs each front end's fuzzer for
# SECONDS (default 60) on a seed corpus: small ONNX models made on the spot, and models/*.json.
# A crash stops the script with libFuzzer's report and the crashing input in build-fuzz/.
# Usage: scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DJOULECAST_FUZZ=ON -DJOULECAST_WITH_TORCH=OFF -DJOULECAST_BUILD_TESTS=OFF \
  -DJOULECAST_BUILD_BENCH=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target onnx_fuzzer json_fuzzer
mkdir -p build-fuzz/corpus/onnx build-fuzz/corpus/json
/usr/bin/python3 scripts/make_fuzz_seeds.py build-fuzz/corpus/onnx
cp models/*.json build-fuzz/corpus/json/
for f in onnx json; do
  echo "fuzzing the $f front end for ${seconds}s"
  (cd build-fuzz && "fuzz/${f}_fuzzer" -max_total_time="$seconds" -max_len=65536 \
     -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 "corpus/$f" 2>&1 | tail -n 4)
done
