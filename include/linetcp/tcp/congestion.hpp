// Congestion control behind one small interface: NewReno (RFC 5681, RFC 6582) and CUBIC
// (RFC 9438). A value type with the algorithm chosen per connection, no virtual calls and no
// allocation, so it sits inside the connection's state.
#pragma once

#include <cstdint>

#include "linetcp/base/time.hpp"

namespace linetcp::tcp {

enum class CongestionAlgorithm : uint8_t { kNewReno, kCubic };

class CongestionControl {
 public:
  void init(CongestionAlgorithm algo, uint32_t mss, uint32_t initial_window_segments);

  // RFC 6928 initial window, or the algorithm's choice; in bytes.
  uint32_t cwnd() const { return cwnd_; }
  uint32_t ssthresh() const { return ssthresh_; }
  CongestionAlgorithm algorithm() const { return algo_; }
  bool in_slow_start() const { return cwnd_ < ssthresh_; }

  // New data acknowledged outside loss recovery. `srtt` feeds CUBIC's TCP-friendly region.
  void on_ack(uint32_t acked_bytes, base::Instant now, base::Duration srtt);
  // Loss detected by duplicate ACKs or SACK: enter recovery with `flight_size` bytes out.
  void on_fast_loss(uint32_t flight_size, base::Instant now);
  // Retransmission timeout: back to one segment (RFC 5681 (4)).
  void on_timeout(uint32_t flight_size, base::Instant now);
  // Leaving fast recovery (RFC 6582 step 3: deflate to ssthresh, bounded by what is in flight).
  void on_recovery_exit(uint32_t flight_size);
  // A spurious or restarted idle connection may reset the window (RFC 5681 §4.1).
  void on_idle_restart(uint32_t flight_size);
  void set_mss(uint32_t mss) { mss_ = mss; }
  // A parked connection's window: its cwnd, ssthresh and CUBIC's W_max. The CUBIC epoch starts
  // again at the next ACK, as after any idle period (on_idle_restart).
  float cubic_w_max() const { return w_max_; }
  void restore(CongestionAlgorithm algo, uint32_t mss, uint32_t cwnd, uint32_t ssthresh, float w_max) {
    algo_ = algo;
    mss_ = mss;
    cwnd_ = cwnd;
    ssthresh_ = ssthresh;
    bytes_acked_ = 0;
    w_max_ = w_max;
    k_ = 0;
    epoch_start_ = base::Instant::never();
  }

 private:
  void cubic_on_ack(uint32_t acked_bytes, base::Instant now, base::Duration srtt);

  CongestionAlgorithm algo_ = CongestionAlgorithm::kNewReno;
  uint32_t mss_ = 536;
  uint32_t cwnd_ = 0;
  uint32_t ssthresh_ = UINT32_MAX;
  uint32_t bytes_acked_ = 0;  // appropriate byte counting in congestion avoidance (RFC 3465)
  // CUBIC state, in segments and seconds as RFC 9438 writes them, kept as float: the arithmetic
  // happens once per ACK, not per byte.
  float w_max_ = 0;
  float k_ = 0;
  float w_est_ = 0;
  base::Instant epoch_start_ = base::Instant::never();
};

}  // namespace linetcp::tcp
