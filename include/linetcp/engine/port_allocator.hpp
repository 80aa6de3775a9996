// Source ports for active opens, one allocator per local address: a FIFO ring of free ports, so a
// released port is reused as late as possible (its old tuple may still be in the peer's TIME_WAIT),
// and a position index so that a specific port can be taken out of the middle in O(1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "linetcp/base/compiler.hpp"

namespace linetcp::engine {

class PortAllocator {
 public:
  // The inclusive range [first, last]; port 0 is never handed out. A non-zero seed shuffles the
  // initial order (RFC 6056 style randomisation); seed 0 hands out first, first + 1, ...
  PortAllocator(uint16_t first, uint16_t last, uint64_t seed = 0);
  PortAllocator(const PortAllocator&) = delete;
  PortAllocator& operator=(const PortAllocator&) = delete;

  // The least recently released free port, or 0 when none is left.
  uint16_t acquire();
  // Takes `port` if it is in range and free.
  bool acquire_specific(uint16_t port);
  // The first free port (in FIFO order) that satisfies pred(port), trying at most `max_tries`
  // ports; the rejected ones go to the back of the ring. For RSS steering: pick a port whose
  // reply hashes to this worker's queue. 0 when none matched.
  template <typename Pred>
  uint16_t acquire_if(Pred&& pred, uint32_t max_tries);
  // The port acquire() would hand out next, or 0 when none is free; takes nothing.
  uint16_t peek() const { return count_ != 0 ? ring_[head_] : 0; }
  // Returns a port taken by acquire*(); anything else (out of range, already free) is ignored.
  void release(uint16_t port);

  // Starts loading what release(port) will touch.
  void prefetch(uint16_t port) const {
    if (in_range(port)) base::prefetch_read(&pos_[port - first_]);
  }
  bool in_use(uint16_t port) const { return in_range(port) && pos_[port - first_] == kTaken; }
  uint32_t available() const { return count_; }
  uint32_t range_size() const { return size_; }
  uint16_t first() const { return first_; }
  uint16_t last() const { return static_cast<uint16_t>(first_ + size_ - 1); }
  std::size_t memory_bytes() const {
    return sizeof(*this) + std::size_t{size_} * (sizeof(uint16_t) + sizeof(uint32_t));
  }

 private:
  static constexpr uint32_t kTaken = UINT32_MAX;

  bool in_range(uint16_t port) const { return port >= first_ && uint32_t{port} - first_ < size_; }
  uint32_t wrap(uint32_t i) const { return i >= size_ ? i - size_ : i; }
  uint16_t pop_front();
  void push_back(uint16_t port);

  std::unique_ptr<uint16_t[]> ring_;  // free ports, oldest at ring_[head_]
  std::unique_ptr<uint32_t[]> pos_;   // per port: its index in ring_, or kTaken
  uint16_t first_;
  uint32_t size_;
  uint32_t head_ = 0;
  uint32_t count_ = 0;
};

template <typename Pred>
uint16_t PortAllocator::acquire_if(Pred&& pred, uint32_t max_tries) {
  for (uint32_t i = 0; i < max_tries && count_ != 0; ++i) {
    const uint16_t port = pop_front();
    if (pred(port)) return port;
    push_back(port);
  }
  return 0;
}

}  // namespace linetcp::engine
