// Retransmission timeout estimation, RFC 6298: SRTT/RTTVAR smoothing, the RTO bounds, and
// exponential backoff. Karn's algorithm (MUST-18) is the caller's duty: it only samples
// segments that were not retransmitted, or uses timestamps, which are unambiguous.
#pragma once

#include <algorithm>
#include <cstdint>

#include "linetcp/base/time.hpp"

namespace linetcp::tcp {

class RttEstimator {
 public:
  RttEstimator() = default;
  RttEstimator(base::Duration initial, base::Duration min, base::Duration max)
      : rto_(initial), min_(min), max_(max) {}

  void sample(base::Duration r) {
    if (r < base::Duration::zero()) return;
    if (!has_sample_) {
      srtt_ = r;  // (2.2)
      rttvar_ = r / 2;
      has_sample_ = true;
    } else {
      // (2.3) beta = 1/4, alpha = 1/8
      const base::Duration err = srtt_ > r ? srtt_ - r : r - srtt_;
      rttvar_ = (rttvar_ * 3 + err) / 4;
      srtt_ = (srtt_ * 7 + r) / 8;
    }
    // G (clock granularity) is one nanosecond here, so max(G, K*RTTVAR) is K*RTTVAR.
    rto_ = std::clamp(srtt_ + rttvar_ * 4, min_, max_);
    backoff_ = 0;
  }
  // Brings back a parked estimator: the same SRTT and RTTVAR (when it had a sample) and backoff.
  void restore(bool has_sample, base::Duration srtt, base::Duration rttvar, uint8_t backoff) {
    if (has_sample) {
      srtt_ = srtt;
      rttvar_ = rttvar;
      has_sample_ = true;
      rto_ = std::clamp(srtt_ + rttvar_ * 4, min_, max_);
    }
    backoff_ = backoff;
  }
  // (5.5) double the timer on expiry, bounded by the maximum.
  void back_off() {
    if (backoff_ < 16) ++backoff_;
  }
  void reset_backoff() { backoff_ = 0; }
  base::Duration rto() const {
    base::Duration r = rto_;
    for (uint8_t i = 0; i < backoff_ && r < max_; ++i) r = r * 2;
    return std::min(r, max_);
  }
  base::Duration srtt() const { return srtt_; }
  base::Duration rttvar() const { return rttvar_; }
  bool has_sample() const { return has_sample_; }
  uint8_t backoff() const { return backoff_; }

 private:
  base::Duration srtt_;
  base::Duration rttvar_;
  base::Duration rto_ = base::Duration::seconds(1);
  base::Duration min_ = base::Duration::millis(200);
  base::Duration max_ = base::Duration::seconds(120);
  uint8_t backoff_ = 0;
  bool has_sample_ = false;
};

}  // namespace linetcp::tcp
