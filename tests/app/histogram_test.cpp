// Histogram: bucket edges, quantiles within 1 % of a sorted reference for random data, merge and
// since (interval between snapshots).
#include "linetcp/app/histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace linetcp::app {
namespace {

// The value at quantile q of sorted data, by the same rank rule (ceil(q * n), at least 1).
uint64_t reference(const std::vector<uint64_t>& sorted, double q) {
  const auto rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * static_cast<double>(sorted.size()))));
  return sorted[rank - 1];
}

std::vector<uint64_t> random_latencies(uint64_t seed, std::size_t n) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> exp10(0.0, 10.0);  // 1 ns .. 10 s, log-uniform
  std::vector<uint64_t> v(n);
  for (auto& x : v) x = static_cast<uint64_t>(std::pow(10.0, exp10(rng)));
  return v;
}

constexpr double kQuantiles[] = {0.0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 0.9999, 1.0};

TEST(Histogram, EmptyIsAllZero) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.quantile(0.5), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.mean(), 0.0);
}

TEST(Histogram, BucketEdgesBoundTheRelativeError) {
  uint32_t last = 0;
  for (uint64_t v = 0; v < (uint64_t{1} << 40); v = v < 1000 ? v + 1 : v + v / 97) {
    const uint32_t i = Histogram::index_of(v);
    ASSERT_LT(i, Histogram::kBuckets);
    ASSERT_GE(i, last) << v;  // monotonic
    last = i;
    const uint64_t up = Histogram::upper_of(i);
    ASSERT_GE(up, v) << v;
    ASSERT_LE(static_cast<double>(up - v), static_cast<double>(v) / 128.0) << v;
    if (v < 256) {
      ASSERT_EQ(up, v);  // exact below 256 ns
    }
  }
  EXPECT_EQ(Histogram::index_of(uint64_t{1} << 41), Histogram::kBuckets - 1);
  EXPECT_EQ(Histogram::index_of(UINT64_MAX), Histogram::kBuckets - 1);
}

TEST(Histogram, QuantilesWithinOnePercentOfSortedReference) {
  for (uint64_t seed : {1u, 2u, 3u}) {
    std::vector<uint64_t> v = random_latencies(seed, 100'000);
    Histogram h;
    for (uint64_t x : v) h.record(x);
    std::sort(v.begin(), v.end());
    EXPECT_EQ(h.count(), v.size());
    EXPECT_EQ(h.min(), v.front());
    EXPECT_EQ(h.max(), v.back());
    double sum = 0;
    for (uint64_t x : v) sum += static_cast<double>(x);
    EXPECT_NEAR(h.mean(), sum / static_cast<double>(v.size()), 1e-6 * h.mean());
    for (double q : kQuantiles) {
      const auto want = static_cast<double>(reference(v, q));
      const auto got = static_cast<double>(h.quantile(q));
      EXPECT_GE(got, want) << "q=" << q;  // the bucket's upper edge: never below
      EXPECT_LE(got - want, 0.01 * want) << "q=" << q << " seed " << seed;
    }
  }
}

TEST(Histogram, SmallValuesAreExact) {
  Histogram h;
  for (uint64_t x = 1; x <= 200; ++x) h.record(x);
  EXPECT_EQ(h.quantile(0.5), 100u);
  EXPECT_EQ(h.quantile(0.99), 198u);
  EXPECT_EQ(h.quantile(1.0), 200u);
  EXPECT_EQ(h.quantile(0.0), 1u);
  EXPECT_EQ(h.quantile(-1.0), 1u);  // clamped
  EXPECT_EQ(h.quantile(2.0), 200u);
}

TEST(Histogram, MergeEqualsRecordingEverythingInOne) {
  const std::vector<uint64_t> a = random_latencies(10, 30'000), b = random_latencies(11, 50'000);
  Histogram ha, hb, all;
  for (uint64_t x : a) {
    ha.record(x);
    all.record(x);
  }
  for (uint64_t x : b) {
    hb.record(x);
    all.record(x);
  }
  ha.merge(hb);
  EXPECT_EQ(ha.count(), all.count());
  EXPECT_EQ(ha.min(), all.min());
  EXPECT_EQ(ha.max(), all.max());
  EXPECT_DOUBLE_EQ(ha.mean(), all.mean());
  for (double q : kQuantiles) EXPECT_EQ(ha.quantile(q), all.quantile(q)) << q;
  // Merging an empty histogram changes nothing, also min().
  Histogram empty;
  ha.merge(empty);
  EXPECT_EQ(ha.min(), all.min());
  EXPECT_EQ(ha.count(), all.count());
}

TEST(Histogram, SinceGivesTheInterval) {
  const std::vector<uint64_t> first = random_latencies(20, 20'000);
  std::vector<uint64_t> second = random_latencies(21, 40'000);
  for (uint64_t& x : second) x = x / 10 + 5;  // a different distribution in the interval
  Histogram cumulative, interval_only;
  for (uint64_t x : first) cumulative.record(x);
  const Histogram snapshot = cumulative;
  for (uint64_t x : second) {
    cumulative.record(x);
    interval_only.record(x);
  }
  const Histogram d = cumulative.since(snapshot);
  EXPECT_EQ(d.count(), second.size());
  EXPECT_DOUBLE_EQ(d.mean(), interval_only.mean());
  for (double q : {0.0, 0.1, 0.5, 0.9, 0.99})
    EXPECT_EQ(d.quantile(q), interval_only.quantile(q)) << q;
  // Max and min come from bucket edges: within the bucket error of the true ones.
  EXPECT_GE(d.max(), interval_only.max());
  EXPECT_LE(static_cast<double>(d.max() - interval_only.max()), interval_only.max() / 128.0);
  EXPECT_GE(d.min(), interval_only.min());
  EXPECT_LE(static_cast<double>(d.min() - interval_only.min()), interval_only.min() / 128.0);
  // Nothing new: an empty interval.
  const Histogram none = cumulative.since(cumulative);
  EXPECT_EQ(none.count(), 0u);
  EXPECT_EQ(none.quantile(0.5), 0u);
  EXPECT_EQ(none.max(), 0u);
}

}  // namespace
}  // namespace linetcp::app
