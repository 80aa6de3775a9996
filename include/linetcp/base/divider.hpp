// Division of 64-bit values by a divisor known only at run time, with a multiply and shifts
// instead of a DIV instruction (tens of cycles): for the timer wheel's tick arithmetic, which
// runs on every timer armed and every loop.
//
// The method is the one compilers use for constant divisors that need a 65-bit multiplier
// (Granlund & Montgomery, "Division by invariant integers using multiplication", 1994, §4;
// libdivide's "add" path): with l = ceil(log2 d) and m = floor(2^64 (2^l - d) / d) + 1,
// t = high64(m n) and n / d = (t + (n - t) / 2) >> (l - 1), exact for every 64-bit n.
// Powers of two are a plain shift.
#pragma once

#include <bit>
#include <cstdint>

namespace linetcp::base {

class Divider {
  __extension__ using U128 = unsigned __int128;  // GCC and Clang; __extension__ quiets -Wpedantic

 public:
  // d >= 1 (0 is taken as 1).
  explicit Divider(uint64_t d = 1) : divisor_(d == 0 ? 1 : d) {
    if (std::has_single_bit(divisor_)) {
      shift_ = static_cast<uint8_t>(std::countr_zero(divisor_));
      return;
    }
    const int l = 64 - std::countl_zero(divisor_);  // ceil(log2 d), d not a power of two
    const U128 one = 1;
    const U128 numerator = ((one << l) - divisor_) << 64;
    magic_ = static_cast<uint64_t>(numerator / divisor_) + 1;
    shift_ = static_cast<uint8_t>(l - 1);
  }

  uint64_t divisor() const { return divisor_; }

  uint64_t divide(uint64_t n) const {
    if (magic_ == 0) return n >> shift_;
    const uint64_t t = static_cast<uint64_t>((static_cast<U128>(magic_) * n) >> 64);
    return (t + ((n - t) >> 1)) >> shift_;
  }

  // ceil(n / d)
  uint64_t divide_up(uint64_t n) const {
    const uint64_t q = divide(n);
    return q + (q * divisor_ != n);
  }

 private:
  uint64_t divisor_;
  uint64_t magic_ = 0;  // 0: a power of two
  uint8_t shift_ = 0;
};

}  // namespace linetcp::base
