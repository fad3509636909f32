#!/usr/bin/env bash
# Builds joulecast against a CUDA libtorch on a GPU machine that has PyTorch (pip), the CUDA
# toolkit, CMake and ninja but no Debian packages: no libonnx/protobuf, no SQLite or zlib
# headers, no nlohmann-json, Eigen or GoogleTest. Result: build-gpu/cli/joulecast and beside it
# its libtorch back end libjoulecast-torch.so (keep the two together), without the ONNX front
# end (JSON architectures only), tests or benchmarks. docs/gpu.md has the whole recipe.
#
#   scripts/build-gpu.sh --fetch-deps   # on a Debian machine with apt: header-only dependencies
#                                       # from .deb files, unpacked into .gpudeps/ (git-ignored)
#   scripts/build-gpu.sh [cmake args]   # on the GPU machine, with .gpudeps/ copied there
#
# SQLite and zlib are linked against the GPU machine's own libsqlite3.so.0 and libz.so.1; where
# it has no libsqlite3.so.0, against the Debian one in .gpudeps/. libtorch is python3's
# (Torch_DIR overrides). BUILD_DIR overrides build-gpu.
set -euo pipefail
cd "$(dirname "$0")/.."
deps=$PWD/.gpudeps
usr=$deps/root/usr
build=${BUILD_DIR:-build-gpu}

if [[ ${1:-} == --fetch-deps ]]; then
  mkdir -p "$deps/debs" "$deps/root"
  (cd "$deps/debs" &&
     apt-get download nlohmann-json3-dev libeigen3-dev libsqlite3-dev zlib1g-dev libsqlite3-0)
  for deb in "$deps"/debs/*.deb; do dpkg -x "$deb" "$deps/root"; done
  # Only headers, CMake package files and libsqlite3.so.0 are used.
  rm -rf "$usr/share/doc" "$usr/share/man" "$usr"/lib/*/*.a
  exit 0
fi

if [[ ! -f $usr/include/sqlite3.h || ! -d $usr/include/eigen3 ]]; then
  echo "build-gpu.sh: no headers in $usr: run scripts/build-gpu.sh --fetch-deps on a Debian" \
       "machine and copy .gpudeps/ here" >&2
  exit 2
fi

# The path of a runtime library on this machine's loader path, or nothing.
system_lib() { ldconfig -p | awk -v name="$1" '$1 == name && /x86-64/ { print $NF; exit }'; }
sqlite=$(system_lib libsqlite3.so.0)
if [[ -z $sqlite ]]; then
  sqlite=$(echo "$usr"/lib/*/libsqlite3.so.0)
  echo "build-gpu.sh: no libsqlite3.so.0 on this machine; linking Debian's $sqlite" >&2
fi
zlib=$(system_lib libz.so.1)
if [[ -z $zlib ]]; then
  echo "build-gpu.sh: no libz.so.1 on this machine's loader path (ldconfig -p)" >&2
  exit 2
fi

if ! command -v nvcc >/dev/null && [[ -x /usr/local/cuda/bin/nvcc ]]; then
  export PATH=/usr/local/cuda/bin:$PATH  # libtorch's CMake package looks for the toolkit
fi
torch_dir=${Torch_DIR:-$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')/Torch}
generator=()
if command -v ninja >/dev/null; then generator=(-G Ninja); fi

cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DJOULECAST_WITH_ONNX=OFF -DJOULECAST_BUILD_TESTS=OFF -DJOULECAST_BUILD_BENCH=OFF \
  -DJOULECAST_WITH_TORCH=ON -DTorch_DIR="$torch_dir" \
  -DCMAKE_PREFIX_PATH="$usr" \
  -DSQLite3_INCLUDE_DIR="$usr/include" -DSQLite3_LIBRARY="$sqlite" \
  -DZLIB_INCLUDE_DIR="$usr/include" -DZLIB_LIBRARY="$zlib" \
  "$@"
cmake --build "$build" -j"$(nproc)"
echo "build-gpu.sh: built $build/cli/joulecast and $build/cli/libjoulecast-torch.so"
