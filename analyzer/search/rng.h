// Seeded random numbers that are the same on every platform (the strategies must propose the same
// points for the same seed and history everywhere): splitmix64, not <random>'s distributions.
#pragma once

#include <cmath>
#include <cstdint>

#include "common/halton.h"
#include "common/splitmix64.h"

namespace joulecast::search {

/// A seed for stream `stream` of `seed` (distinct streams are independent).
inline uint64_t MixSeed(uint64_t seed, uint64_t stream) {
  return SplitMix64(SplitMix64(seed) ^ (stream * 0xd1b54a32d192ed03ULL));
}

/// A small deterministic generator (splitmix64 stream).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(SplitMix64(seed)) {}
  /// 64 random bits.
  uint64_t Next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  /// Uniform integer in [0, n). REQUIRES: n > 0.
  uint64_t Below(uint64_t n) {
    // Rejection keeps it exactly uniform.
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t r;
    do {
      r = Next();
    } while (r >= limit);
    return r % n;
  }
  /// Standard normal (Box-Muller).
  double Normal() {
    double u1 = Uniform(), u2 = Uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    return std::sqrt(-2 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  uint64_t state_;
};

/// The search's scrambled Halton sequence for `seed` (the random strategy's `halton` sampler,
/// BO's candidates): digit permutations and shifts drawn from an Rng.
inline ScrambledHalton SeededHalton(int dims, uint64_t seed) {
  Rng rng(MixSeed(seed, 0x48616c746f6eULL));
  return ScrambledHalton(
      dims, [&rng](uint64_t n) { return rng.Below(n); }, [&rng] { return rng.Uniform(); });
}

}  // namespace joulecast::search
