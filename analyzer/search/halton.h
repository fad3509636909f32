// A scrambled Halton sequence: low-discrepancy points in the unit cube, for the random
// strategy's `halton` sampler and BO's candidate set. (calibrate/ has its own; the analyzer may
// not include it.)
#pragma once

#include <cstdint>
#include <vector>

namespace joulecast::search {

/// Points in [0, 1)^dims. Dimension d uses the d-th prime as its base with its digits permuted
/// by a permutation drawn from `seed` (0 stays 0), and the whole sequence is shifted modulo 1 by
/// a vector drawn from `seed` (a Cranley-Patterson rotation), so different seeds give different,
/// equally even, point sets. Deterministic across platforms.
class ScrambledHalton {
 public:
  /// REQUIRES: dims >= 1.
  ScrambledHalton(int dims, uint64_t seed);

  /// The point of `index` (0-based; the origin, index 0 of a plain Halton sequence, is skipped).
  std::vector<double> Point(uint64_t index) const;
  /// The same, written into `out` (dims values).
  void Point(uint64_t index, double* out) const;

  int dims() const { return static_cast<int>(bases_.size()); }

 private:
  std::vector<int> bases_;
  std::vector<std::vector<int>> permutations_;  ///< Per dimension, a permutation of its digits.
  std::vector<double> shift_;                   ///< Per dimension, in [0, 1).
};

}  // namespace joulecast::search
