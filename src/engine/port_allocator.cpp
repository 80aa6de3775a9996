// PortAllocator: the free-port ring and its position index.
#include "linetcp/engine/port_allocator.hpp"

#include <utility>

namespace linetcp::engine {

PortAllocator::PortAllocator(uint16_t first, uint16_t last, uint64_t seed)
    : first_(first == 0 ? uint16_t{1} : first),
      size_(last >= first_ ? uint32_t{last} - first_ + 1 : 0) {
  ring_ = std::make_unique<uint16_t[]>(size_);
  pos_ = std::make_unique<uint32_t[]>(size_);
  for (uint32_t i = 0; i < size_; ++i) ring_[i] = static_cast<uint16_t>(first_ + i);
  if (seed != 0) {
    // Fisher-Yates with splitmix64: cheap, and only the starting order needs to be unpredictable.
    uint64_t x = seed;
    for (uint32_t i = size_; i > 1; --i) {
      x += 0x9E3779B97F4A7C15ull;
      uint64_t z = x;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      z ^= z >> 31;
      std::swap(ring_[i - 1], ring_[z % i]);
    }
  }
  for (uint32_t i = 0; i < size_; ++i) pos_[ring_[i] - first_] = i;
  count_ = size_;
}

uint16_t PortAllocator::pop_front() {
  const uint16_t port = ring_[head_];
  pos_[port - first_] = kTaken;
  head_ = wrap(head_ + 1);
  --count_;
  return port;
}

void PortAllocator::push_back(uint16_t port) {
  const uint32_t tail = wrap(head_ + count_);
  ring_[tail] = port;
  pos_[port - first_] = tail;
  ++count_;
}

uint16_t PortAllocator::acquire() {
  if (count_ == 0) return 0;
  return pop_front();
}

bool PortAllocator::acquire_specific(uint16_t port) {
  if (!in_range(port) || pos_[port - first_] == kTaken) return false;
  // Move the head port into the wanted port's place, then pop the head.
  const uint32_t at = pos_[port - first_];
  const uint16_t head_port = ring_[head_];
  ring_[at] = head_port;
  pos_[head_port - first_] = at;
  ring_[head_] = port;
  pos_[port - first_] = head_;
  pop_front();
  return true;
}

void PortAllocator::release(uint16_t port) {
  if (!in_range(port) || pos_[port - first_] != kTaken) return;
  push_back(port);
}

}  // namespace linetcp::engine
