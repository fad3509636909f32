// The scrambled Halton sequence: deterministic, inside the unit cube, scrambled by the seed, and
// as even as a plain Halton sequence.
#include "common/halton.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "common/splitmix64.h"

namespace joulecast {
namespace {

// Scrambled by a splitmix64 chain from `seed`, shifted when `shifted`.
ScrambledHalton Halton(int dims, uint64_t seed, bool shifted) {
  uint64_t state = seed;
  auto next = [&state] { return state = SplitMix64(state); };
  return ScrambledHalton(
      dims, [&next](uint64_t n) { return next() % n; },
      shifted ? ScrambledHalton::Uniform([&next] { return (next() >> 11) * 0x1.0p-53; }) : nullptr);
}

TEST(Halton, DeterministicAndInTheUnitCube) {
  for (bool shifted : {false, true}) {
    const ScrambledHalton a = Halton(8, 42, shifted), b = Halton(8, 42, shifted);
    const ScrambledHalton c = Halton(8, 43, shifted);
    bool differs = false;
    for (uint64_t i = 0; i < 500; ++i) {
      const std::vector<double> p = a.Point(i);
      ASSERT_EQ(p.size(), 8u);
      EXPECT_EQ(p, b.Point(i)) << i;
      for (double u : p) {
        EXPECT_GE(u, 0);
        EXPECT_LT(u, 1);
      }
      differs = differs || p != c.Point(i);
    }
    EXPECT_TRUE(differs) << "another seed must scramble differently";
  }
}

TEST(Halton, FirstBaseSquaredPointsStratifyEachAxis) {
  // Digit scrambling keeps van der Corput's property: the first b^2 points of the dimension with
  // base b fall one in each of b^2 equal intervals.
  const ScrambledHalton h = Halton(4, 9, false);
  const int bases[] = {2, 3, 5, 7};
  for (int d = 0; d < 4; ++d) {
    const int cells = bases[d] * bases[d];
    std::set<int> seen;
    // + 1e-9: 5/9 * 9 may round down.
    for (int i = 0; i < cells; ++i) seen.insert(static_cast<int>(h.Point(i)[d] * cells + 1e-9));
    EXPECT_EQ(static_cast<int>(seen.size()), cells) << "dimension " << d;
  }
}

}  // namespace
}  // namespace joulecast
