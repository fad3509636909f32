// A scrambled Halton sequence: the low-discrepancy design calibration samples layer
// configurations from, so that a few dozen points cover a kind's space evenly instead of
// clumping as random draws do, and are the same on every machine for the same seed.
#pragma once

#include <cstdint>
#include <vector>

namespace joulecast {

/// Points in [0, 1)^dims. Dimension d uses the d-th prime as its base, with the digits of each
/// base permuted by a fixed permutation drawn from `seed` (0 stays 0, so every point is a finite
/// sum). Deterministic across platforms: the permutations come from splitmix64, not <random>.
class ScrambledHalton {
 public:
  /// REQUIRES: 1 <= dims <= 32.
  ScrambledHalton(int dims, uint64_t seed);

  /// The point of `index` (0-based). Index 0 is the sequence's first point after the origin,
  /// which a plain Halton sequence would start with and which sits at every range's minimum.
  std::vector<double> Point(uint64_t index) const;

  int dims() const { return static_cast<int>(bases_.size()); }

 private:
  std::vector<int> bases_;
  std::vector<std::vector<int>> permutations_;  ///< Per dimension, a permutation of its digits.
};

/// splitmix64: a good 64-bit mix of `x`, for seeding and deterministic shuffles.
uint64_t SplitMix64(uint64_t x);

}  // namespace joulecast
