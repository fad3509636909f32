// splitmix64: the 64-bit mix behind every seeded draw in joulecast (the search's generator, the
// calibration designs, both Halton scramblings), chosen over <random>'s distributions because
// it gives the same numbers on every platform.
#pragma once

#include <cstdint>

namespace joulecast {

/// A good 64-bit mix of `x`, for seeding and deterministic shuffles.
inline uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace joulecast
