// A scrambled Halton sequence: low-discrepancy points in the unit cube, which cover it evenly
// where random draws clump. The search samples its random strategy's `halton` points and BO's
// candidate sets from it (analyzer/search/rng.h, SeededHalton), calibration its layer designs
// (calibrate/calibration/layer_design.cc).
//
// The scrambling is drawn by the caller, through `below` and `shift`, from its own seeded
// generator: each user keeps drawing, for a seed, the points it has always drawn.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace joulecast {

/// Points in [0, 1)^dims. Dimension d uses the d-th prime as its base, with its digits permuted
/// (0 stays 0, so every point is a finite sum), and optionally shifted modulo 1 (a
/// Cranley-Patterson rotation), so different seeds give different, equally even, point sets.
class ScrambledHalton {
 public:
  /// A uniform integer in [0, n); n >= 1.
  using Below = std::function<uint64_t(uint64_t n)>;
  /// A uniform number in [0, 1).
  using Uniform = std::function<double()>;

  /// Per dimension, in order: a Fisher-Yates shuffle of the digits 1..base-1 drawn by `below`,
  /// then, when `shift` is given, that dimension's shift. Both are only called here.
  /// REQUIRES: dims >= 1.
  ScrambledHalton(int dims, const Below& below, const Uniform& shift = nullptr);

  /// The point of `index` (0-based; the origin, index 0 of a plain Halton sequence and the
  /// minimum of every range, is skipped).
  std::vector<double> Point(uint64_t index) const;
  /// The same, written into `out` (dims values).
  void Point(uint64_t index, double* out) const;

  /// How many coordinates a point has.
  int dims() const { return static_cast<int>(bases_.size()); }

 private:
  std::vector<int> bases_;
  std::vector<std::vector<int>> permutations_;  ///< Per dimension, a permutation of its digits.
  std::vector<double> shift_;                   ///< Per dimension, in [0, 1); empty for none.
};

}  // namespace joulecast
