// Virtual time for the whole stack: Instant (a point) and Duration (a span), in nanoseconds.
// The stack never reads a clock; the caller passes `now` in. The dpdk layer maps TSC to Instant.
#pragma once

#include <compare>
#include <cstdint>
#include <limits>

namespace linetcp::base {

class Duration {
 public:
  constexpr Duration() = default;
  static constexpr Duration nanos(int64_t n) { return Duration(n); }
  static constexpr Duration micros(int64_t n) { return Duration(n * 1'000); }
  static constexpr Duration millis(int64_t n) { return Duration(n * 1'000'000); }
  static constexpr Duration seconds(int64_t n) { return Duration(n * 1'000'000'000); }
  static constexpr Duration zero() { return Duration(0); }
  static constexpr Duration infinite() { return Duration(std::numeric_limits<int64_t>::max()); }

  constexpr int64_t ns() const { return ns_; }
  constexpr int64_t us() const { return ns_ / 1'000; }
  constexpr int64_t ms() const { return ns_ / 1'000'000; }
  constexpr double seconds_f() const { return static_cast<double>(ns_) / 1e9; }

  constexpr Duration operator+(Duration o) const { return Duration(ns_ + o.ns_); }
  constexpr Duration operator-(Duration o) const { return Duration(ns_ - o.ns_); }
  constexpr Duration operator*(int64_t k) const { return Duration(ns_ * k); }
  constexpr Duration operator/(int64_t k) const { return Duration(ns_ / k); }
  constexpr Duration& operator+=(Duration o) { ns_ += o.ns_; return *this; }
  constexpr Duration& operator-=(Duration o) { ns_ -= o.ns_; return *this; }
  constexpr auto operator<=>(const Duration&) const = default;

 private:
  constexpr explicit Duration(int64_t ns) : ns_(ns) {}
  int64_t ns_ = 0;
};

class Instant {
 public:
  constexpr Instant() = default;
  static constexpr Instant from_ns(uint64_t ns) { return Instant(ns); }
  // A point later than any real time: "no deadline".
  static constexpr Instant never() { return Instant(std::numeric_limits<uint64_t>::max()); }

  constexpr uint64_t ns() const { return ns_; }
  constexpr bool is_never() const { return ns_ == std::numeric_limits<uint64_t>::max(); }

  constexpr Instant operator+(Duration d) const {
    if (is_never() || d == Duration::infinite()) return never();
    return Instant(ns_ + static_cast<uint64_t>(d.ns()));
  }
  constexpr Instant operator-(Duration d) const { return Instant(ns_ - static_cast<uint64_t>(d.ns())); }
  constexpr Duration operator-(Instant o) const {
    return Duration::nanos(static_cast<int64_t>(ns_ - o.ns_));
  }
  constexpr Instant& operator+=(Duration d) { *this = *this + d; return *this; }
  constexpr auto operator<=>(const Instant&) const = default;

 private:
  constexpr explicit Instant(uint64_t ns) : ns_(ns) {}
  uint64_t ns_ = 0;
};

constexpr Instant min(Instant a, Instant b) { return a < b ? a : b; }
constexpr Instant max(Instant a, Instant b) { return a < b ? b : a; }

}  // namespace linetcp::base
