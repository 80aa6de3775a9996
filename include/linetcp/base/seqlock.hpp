// A single-writer seqlock: the worker publishes a snapshot of its counters without ever waiting;
// the main lcore copies it and retries if a write overlapped. No locks on the data path.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace linetcp::base {

template <typename T>
class SeqLock {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  void write(const T& value) {
    const uint64_t s = seq_.load(std::memory_order_relaxed);
    seq_.store(s + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    std::memcpy(static_cast<void*>(&value_), &value, sizeof(T));
    std::atomic_thread_fence(std::memory_order_release);
    seq_.store(s + 2, std::memory_order_relaxed);
  }
  // False if no consistent copy could be taken in `tries` attempts (a writer kept overlapping).
  bool read(T& out, int tries = 1000) const {
    for (int i = 0; i < tries; ++i) {
      const uint64_t before = seq_.load(std::memory_order_acquire);
      if (before & 1) continue;
      std::memcpy(static_cast<void*>(&out), &value_, sizeof(T));
      std::atomic_thread_fence(std::memory_order_acquire);
      if (seq_.load(std::memory_order_relaxed) == before) return true;
    }
    return false;
  }
  uint64_t version() const { return seq_.load(std::memory_order_acquire); }

 private:
  std::atomic<uint64_t> seq_{0};
  T value_{};
};

}  // namespace linetcp::base
