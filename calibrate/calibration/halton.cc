#include "calibrate/calibration/halton.h"

#include <cassert>
#include <cmath>
#include <utility>

namespace joulecast {

namespace {

constexpr int kPrimes[] = {2,  3,  5,  7,  11, 13, 17, 19, 23, 29,  31,  37,  41,  43,  47,  53,
                           59, 61, 67, 71, 73, 79, 83, 89, 97, 101, 103, 107, 109, 113, 127, 131};

}  // namespace

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

ScrambledHalton::ScrambledHalton(int dims, uint64_t seed) {
  assert(dims >= 1 && dims <= static_cast<int>(sizeof kPrimes / sizeof kPrimes[0]));
  uint64_t state = SplitMix64(seed ^ 0x48616c746f6eULL);
  for (int d = 0; d < dims; ++d) {
    const int base = kPrimes[d];
    bases_.push_back(base);
    // Fisher-Yates over digits 1..base-1; digit 0 stays 0.
    std::vector<int> perm(base);
    for (int i = 0; i < base; ++i) perm[i] = i;
    for (int i = base - 1; i >= 2; --i) {
      state = SplitMix64(state);
      int j = 1 + static_cast<int>(state % static_cast<uint64_t>(i));
      std::swap(perm[i], perm[j]);
    }
    permutations_.push_back(std::move(perm));
  }
}

std::vector<double> ScrambledHalton::Point(uint64_t index) const {
  std::vector<double> u(bases_.size());
  for (size_t d = 0; d < bases_.size(); ++d) {
    const uint64_t base = static_cast<uint64_t>(bases_[d]);
    double scale = 1.0 / static_cast<double>(base);
    double value = 0;
    for (uint64_t n = index + 1; n > 0; n /= base) {
      value += permutations_[d][n % base] * scale;
      scale /= static_cast<double>(base);
    }
    u[d] = value < 1.0 ? value : std::nextafter(1.0, 0.0);
  }
  return u;
}

}  // namespace joulecast
