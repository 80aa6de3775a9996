// TSC -> base::Instant: one rdtsc per loop iteration, converted with a multiply and a shift
// (no division on the data path).
#pragma once

#include <rte_cycles.h>

#include <cstdint>

__extension__ typedef unsigned __int128 linetcp_u128;  // GCC/Clang 128-bit, for the scale

#include "linetcp/base/time.hpp"

namespace linetcp::dpdk {

class TscClock {
 public:
  TscClock() : start_(rte_get_tsc_cycles()) {
    const uint64_t hz = rte_get_tsc_hz();
    mult_ = static_cast<uint64_t>((static_cast<linetcp_u128>(1'000'000'000) << 32) / hz);
  }
  base::Instant now() const {
    const uint64_t cycles = rte_get_tsc_cycles() - start_;
    return base::Instant::from_ns(static_cast<uint64_t>((static_cast<linetcp_u128>(cycles) * mult_) >> 32));
  }

 private:
  uint64_t start_;
  uint64_t mult_;  // nanoseconds per cycle, 32.32 fixed point
};

}  // namespace linetcp::dpdk
