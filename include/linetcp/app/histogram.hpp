// Latency histogram with bounded relative error (HDR style): values below 256 ns are counted
// exactly, larger ones in log-linear buckets of 128 per power of two (< 0.8 % error), up to
// 2^40 ns (about 18 minutes). Fixed size, no allocation when recording, mergeable across workers.
#pragma once

#include <array>
#include <bit>
#include <cstdint>

namespace linetcp::app {

class Histogram {
 public:
  static constexpr uint32_t kSubBits = 7;
  static constexpr uint32_t kSub = 1u << kSubBits;  // 128
  static constexpr uint32_t kMaxBits = 40;
  static constexpr uint32_t kBuckets = 2 * kSub + (kMaxBits - kSubBits - 1) * kSub;

  void record(uint64_t value_ns) {
    ++counts_[index_of(value_ns)];
    ++total_;
    if (value_ns > max_) max_ = value_ns;
    if (value_ns < min_) min_ = value_ns;
    sum_ += value_ns;
  }
  void merge(const Histogram& o) {
    for (uint32_t i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
    total_ += o.total_;
    sum_ += o.sum_;
    if (o.max_ > max_) max_ = o.max_;
    if (o.min_ < min_) min_ = o.min_;
  }
  // this - earlier (both cumulative): the interval between two snapshots. Max/min are
  // approximated by the highest/lowest non-empty bucket of the interval.
  Histogram since(const Histogram& earlier) const;

  uint64_t count() const { return total_; }
  uint64_t max() const { return total_ ? max_ : 0; }
  uint64_t min() const { return total_ ? min_ : 0; }
  double mean() const { return total_ ? static_cast<double>(sum_) / static_cast<double>(total_) : 0.0; }
  // The value at quantile q (0..1): the upper edge of the bucket holding it, never above max().
  uint64_t quantile(double q) const;

  static uint32_t index_of(uint64_t v) {
    if (v < 2 * kSub) return static_cast<uint32_t>(v);
    if (v >> kMaxBits) return kBuckets - 1;
    const uint32_t msb = 63 - static_cast<uint32_t>(std::countl_zero(v));  // >= kSubBits + 1
    const uint32_t shift = msb - kSubBits;
    return (shift + 1) * kSub + static_cast<uint32_t>((v >> shift) - kSub);
  }
  // The largest value that lands in bucket `i`.
  static uint64_t upper_of(uint32_t i) {
    if (i < 2 * kSub) return i;
    const uint32_t shift = i / kSub - 1;
    const uint64_t base = (uint64_t{i % kSub} + kSub) << shift;
    return base + ((uint64_t{1} << shift) - 1);
  }

 private:
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t total_ = 0;
  uint64_t sum_ = 0;
  uint64_t max_ = 0;
  uint64_t min_ = UINT64_MAX;
};

}  // namespace linetcp::app
