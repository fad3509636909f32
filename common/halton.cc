#include "common/halton.h"

#include <cassert>
#include <cmath>
#include <utility>

namespace joulecast {

namespace {

std::vector<int> FirstPrimes(int n) {
  std::vector<int> primes;
  for (int c = 2; static_cast<int>(primes.size()) < n; ++c) {
    bool prime = true;
    for (int p : primes) {
      if (p * p > c) break;
      if (c % p == 0) {
        prime = false;
        break;
      }
    }
    if (prime) primes.push_back(c);
  }
  return primes;
}

}  // namespace

ScrambledHalton::ScrambledHalton(int dims, const Below& below, const Uniform& shift)
    : bases_(FirstPrimes(dims)) {
  assert(dims >= 1);
  for (int base : bases_) {
    // Fisher-Yates over digits 1..base-1; digit 0 stays 0.
    std::vector<int> perm(base);
    for (int i = 0; i < base; ++i) perm[i] = i;
    for (int i = base - 1; i >= 2; --i) {
      int j = 1 + static_cast<int>(below(static_cast<uint64_t>(i)));
      std::swap(perm[i], perm[j]);
    }
    permutations_.push_back(std::move(perm));
    if (shift) shift_.push_back(shift());
  }
}

void ScrambledHalton::Point(uint64_t index, double* out) const {
  for (size_t d = 0; d < bases_.size(); ++d) {
    const auto base = static_cast<uint64_t>(bases_[d]);
    const double inv = 1.0 / static_cast<double>(base);
    double scale = inv, value = 0;
    for (uint64_t n = index + 1; n > 0; n /= base) {
      value += permutations_[d][n % base] * scale;
      scale *= inv;
    }
    if (!shift_.empty()) {
      value += shift_[d];
      if (value >= 1) value -= 1;
    }
    out[d] = value < 1.0 ? value : std::nextafter(1.0, 0.0);
  }
}

std::vector<double> ScrambledHalton::Point(uint64_t index) const {
  std::vector<double> u(bases_.size());
  Point(index, u.data());
  return u;
}

}  // namespace joulecast
