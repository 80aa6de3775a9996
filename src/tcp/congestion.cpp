// NewReno and CUBIC window arithmetic (RFC 5681, RFC 6582, RFC 9438).
#include "linetcp/tcp/congestion.hpp"

#include <algorithm>
#include <cmath>

namespace linetcp::tcp {

namespace {
constexpr float kCubicC = 0.4f;      // RFC 9438 §5.1
constexpr float kCubicBeta = 0.7f;   // RFC 9438 §4.6
// Reno-equivalent additive increase for CUBIC's TCP-friendly region: 3(1-b)/(1+b).
constexpr float kCubicAlpha = 3.0f * (1.0f - kCubicBeta) / (1.0f + kCubicBeta);
}  // namespace

void CongestionControl::init(CongestionAlgorithm algo, uint32_t mss, uint32_t iw_segments) {
  algo_ = algo;
  mss_ = mss;
  // RFC 6928 caps IW at min(10*MSS, max(2*MSS, 14600)); a configured smaller IW is honoured.
  const uint32_t rfc_cap = std::min(10 * mss, std::max(2 * mss, 14600u));
  cwnd_ = std::min(iw_segments * mss, std::max(rfc_cap, mss));
  ssthresh_ = UINT32_MAX;
  bytes_acked_ = 0;
  w_max_ = 0;
  k_ = 0;
  epoch_start_ = base::Instant::never();
}

void CongestionControl::on_ack(uint32_t acked, base::Instant now, base::Duration srtt) {
  if (cwnd_ < ssthresh_) {
    // Slow start, RFC 5681 (2) with L = 2*SMSS byte counting (RFC 3465).
    cwnd_ += std::min(acked, 2 * mss_);
    return;
  }
  if (algo_ == CongestionAlgorithm::kCubic) {
    cubic_on_ack(acked, now, srtt);
    return;
  }
  // Congestion avoidance: one SMSS per window of acknowledged bytes (RFC 5681 (3)).
  bytes_acked_ += acked;
  if (bytes_acked_ >= cwnd_) {
    bytes_acked_ -= cwnd_;
    cwnd_ += mss_;
  }
}

void CongestionControl::cubic_on_ack(uint32_t acked, base::Instant now, base::Duration srtt) {
  const float mss = static_cast<float>(mss_);
  const float cwnd_seg = static_cast<float>(cwnd_) / mss;
  if (epoch_start_.is_never()) {
    epoch_start_ = now;
    if (w_max_ < cwnd_seg) {
      // No loss seen yet (or the window grew past it): start from the current window.
      w_max_ = cwnd_seg;
      k_ = 0;
    } else {
      k_ = std::cbrt((w_max_ - cwnd_seg) / kCubicC);  // RFC 9438 (2)
    }
    w_est_ = cwnd_seg;
  }
  const float t = static_cast<float>((now - epoch_start_).seconds_f() + srtt.seconds_f());
  const float w_cubic = kCubicC * (t - k_) * (t - k_) * (t - k_) + w_max_;  // RFC 9438 (1)
  // TCP-friendly estimate, RFC 9438 (4): grows alpha segments per window of acked bytes.
  w_est_ += kCubicAlpha * (static_cast<float>(acked) / mss) / cwnd_seg;
  float target = std::max(w_cubic, w_est_);
  // Never more than 1.5x per RTT (RFC 9438 §4.2), and never shrink on an ACK.
  target = std::min(target, cwnd_seg * 1.5f);
  if (target > cwnd_seg) {
    const float inc = (target - cwnd_seg) / cwnd_seg * static_cast<float>(acked);
    cwnd_ += std::max<uint32_t>(1, static_cast<uint32_t>(inc));
  }
}

void CongestionControl::on_fast_loss(uint32_t flight_size, base::Instant) {
  if (algo_ == CongestionAlgorithm::kCubic) {
    const float cwnd_seg = static_cast<float>(cwnd_) / static_cast<float>(mss_);
    // Fast convergence, RFC 9438 §4.7.
    w_max_ = cwnd_seg < w_max_ ? cwnd_seg * (1.0f + kCubicBeta) / 2.0f : cwnd_seg;
    ssthresh_ = std::max(static_cast<uint32_t>(static_cast<float>(cwnd_) * kCubicBeta), 2 * mss_);
    epoch_start_ = base::Instant::never();
  } else {
    ssthresh_ = std::max(flight_size / 2, 2 * mss_);  // RFC 5681 (4)
  }
  cwnd_ = ssthresh_;
  bytes_acked_ = 0;
}

void CongestionControl::on_timeout(uint32_t flight_size, base::Instant now) {
  on_fast_loss(flight_size, now);
  cwnd_ = mss_;  // loss window, RFC 5681 (5)
}

void CongestionControl::on_recovery_exit(uint32_t flight_size) {
  // RFC 6582 §3.2 step 3, option (1): min(ssthresh, FlightSize + SMSS).
  cwnd_ = std::max(std::min(ssthresh_, flight_size + mss_), mss_);
}

void CongestionControl::on_idle_restart(uint32_t) {
  const uint32_t rw = std::min(10 * mss_, std::max(2 * mss_, 14600u));
  cwnd_ = std::min(cwnd_, rw);
  epoch_start_ = base::Instant::never();
}

}  // namespace linetcp::tcp
