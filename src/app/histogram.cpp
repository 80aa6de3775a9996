// Histogram quantiles and interval differences.
#include "linetcp/app/histogram.hpp"

#include <algorithm>
#include <cmath>

namespace linetcp::app {

Histogram Histogram::since(const Histogram& earlier) const {
  Histogram d;
  for (uint32_t i = 0; i < kBuckets; ++i) {
    d.counts_[i] = counts_[i] - earlier.counts_[i];
    if (d.counts_[i]) {
      d.max_ = std::max(d.max_, upper_of(i));
      d.min_ = std::min(d.min_, upper_of(i));
    }
  }
  d.total_ = total_ - earlier.total_;
  d.sum_ = sum_ - earlier.sum_;
  if (d.total_) d.max_ = std::min(d.max_, max_);
  return d;
}

uint64_t Histogram::quantile(double q) const {
  if (total_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  const uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * static_cast<double>(total_))));
  uint64_t seen = 0;
  for (uint32_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(upper_of(i), max());
  }
  return max();
}

}  // namespace linetcp::app
