// TimeWaitQueue: the ring operations that are not on the per-packet path.
#include "linetcp/engine/time_wait_queue.hpp"

namespace linetcp::engine {

TimeWaitQueue::TimeWaitQueue(uint32_t capacity)
    : ring_(std::make_unique<TimeWaitRecord[]>(capacity)), capacity_(capacity) {}

uint32_t TimeWaitQueue::push_full(const TimeWaitRecord& rec, uint64_t expiry_ms) {
  if (LINETCP_UNLIKELY(count_ == capacity_)) return kInvalidConn;
  uint32_t tail = head_ + count_;
  if (tail >= capacity_) tail -= capacity_;
  TimeWaitRecord& r = ring_[tail];
  r = rec;
  r.flags = static_cast<uint8_t>(r.flags | TimeWaitRecord::kLive);
  if (count_ != 0 && expiry_ms < newest_expiry_ms_) {
    r.expiry_ms = static_cast<uint32_t>(newest_expiry_ms_);  // keep FIFO order == expiry order
  } else {
    r.expiry_ms = static_cast<uint32_t>(expiry_ms);
    newest_expiry_ms_ = expiry_ms;
  }
  ++count_;
  ++live_;
  return tail;
}

TimeWaitRecord* TimeWaitQueue::get(uint32_t handle) {
  if (!holds(handle) || !ring_[handle].live()) return nullptr;
  return &ring_[handle];
}

const TimeWaitRecord* TimeWaitQueue::get(uint32_t handle) const {
  if (!holds(handle) || !ring_[handle].live()) return nullptr;
  return &ring_[handle];
}

void TimeWaitQueue::kill(uint32_t handle) {
  TimeWaitRecord* r = get(handle);
  if (r == nullptr) return;
  r->flags = static_cast<uint8_t>(r->flags & ~TimeWaitRecord::kLive);
  --live_;
  if (!expiring_) drop_dead_front();
}

base::Instant TimeWaitQueue::next_expiry() const {
  if (count_ == 0) return base::Instant::never();
  // The front is live (invariant) and no later than the newest: rebuild its full value.
  const uint32_t behind = static_cast<uint32_t>(newest_expiry_ms_) - ring_[head_].expiry_ms;
  return base::Instant::from_ns((newest_expiry_ms_ - behind) * 1'000'000);
}

}  // namespace linetcp::engine
