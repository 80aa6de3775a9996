// base::Divider against the DIV instruction: every divisor class (1, powers of two, small odd,
// the timer wheel's 10^6, near 2^63 and 2^64) and dividends at the edges (0, multiples and their
// neighbours, UINT64_MAX) plus random ones.
#include "linetcp/base/divider.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

namespace linetcp::base {
namespace {

std::vector<uint64_t> divisors() {
  std::vector<uint64_t> d = {1, 2, 3, 5, 6, 7, 10, 641, 1000, 1'000'000, 1'048'576, 999'999'937,
                             1'000'000'000, (uint64_t{1} << 32) - 1, (uint64_t{1} << 32) + 1,
                             (uint64_t{1} << 63) - 1, uint64_t{1} << 63, (uint64_t{1} << 63) + 1,
                             UINT64_MAX - 1, UINT64_MAX};
  std::mt19937_64 rng(42);
  for (int i = 0; i < 200; ++i) d.push_back(rng() >> (rng() % 64) | 1);
  for (int i = 0; i < 50; ++i) d.push_back(rng() >> (rng() % 64) & ~uint64_t{1});
  return d;
}

TEST(Divider, MatchesDivisionForEdgeAndRandomDividends) {
  std::mt19937_64 rng(7);
  for (const uint64_t d : divisors()) {
    if (d == 0) continue;
    const Divider div(d);
    std::vector<uint64_t> ns = {0, 1, d - 1, d, d + 1, UINT64_MAX, UINT64_MAX - 1, UINT64_MAX / d * d,
                                UINT64_MAX / d * d - 1, uint64_t{1} << 63};
    for (uint64_t k : {2ull, 3ull, 1000ull, 1ull << 20}) {
      if (d <= UINT64_MAX / k) {
        ns.push_back(d * k);
        ns.push_back(d * k - 1);
        ns.push_back(d * k + 1);
      }
    }
    for (int i = 0; i < 2000; ++i) ns.push_back(rng() >> (rng() % 64));
    for (const uint64_t n : ns) {
      ASSERT_EQ(div.divide(n), n / d) << n << " / " << d;
      ASSERT_EQ(div.divide_up(n), n / d + (n % d != 0)) << "ceil " << n << " / " << d;
    }
  }
}

TEST(Divider, ZeroIsTakenAsOne) {
  const Divider div(0);
  EXPECT_EQ(div.divisor(), 1u);
  EXPECT_EQ(div.divide(12345), 12345u);
}

}  // namespace
}  // namespace linetcp::base
