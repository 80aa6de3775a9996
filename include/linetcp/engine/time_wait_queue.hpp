// TIME_WAIT as compact records in a FIFO ring: every record lives the same 2*MSL, so insertion
// order is expiry order and expiry only ever looks at the front. A connection entering TIME_WAIT
// frees its full state and keeps only what RFC 9293 / RFC 7323 / RFC 6191 need to answer the peer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

#include "linetcp/base/compiler.hpp"
#include "linetcp/base/time.hpp"
#include "linetcp/engine/four_tuple.hpp"

namespace linetcp::engine {

// 32 bytes. The expiry is stored as a 32-bit millisecond count (ceil(ns / 10^6) of the Instant,
// modulo 2^32) and compared with serial arithmetic: it wraps every 49.7 days, which is harmless
// because records live seconds and are compared only with each other and with a recent `now`.
// Rounding up to the millisecond keeps expiry never early and at most 1 ms late.
struct TimeWaitRecord {
  static constexpr uint8_t kLive = 1u << 0;        // not yet expired nor killed
  static constexpr uint8_t kTimestamps = 1u << 1;  // RFC 7323 timestamps were in use
  static constexpr uint8_t kSack = 1u << 2;        // SACK was permitted (for the ACKs we send)
  // We answered a SYN with a challenge ACK (RFC 5961 §4): a RST at exactly rcv_nxt may now end
  // the record, since that is how a peer holding a half-open connection on the tuple replies.
  static constexpr uint8_t kChallenged = 1u << 3;

  FourTuple tuple;
  uint32_t snd_nxt = 0;    // our next sequence number: the ACK we send for a retransmitted FIN
  uint32_t rcv_nxt = 0;    // the peer's next sequence number: window check, new-SYN ISN check
  uint32_t ts_recent = 0;  // peer's last TSval, for PAWS and RFC 6191 reuse of the tuple
  uint32_t expiry_ms = 0;  // see above; set with set_expiry() or push(record, expiry)
  uint16_t rcv_wnd = 0;    // the window field (already scaled) we advertise in TIME_WAIT ACKs
  uint8_t flags = 0;
  uint8_t rcv_wscale = 0;  // our window scale shift, to interpret rcv_wnd

  bool live() const { return (flags & kLive) != 0; }
  bool timestamps() const { return (flags & kTimestamps) != 0; }

  static uint32_t compact_ms(base::Instant t) {
    return static_cast<uint32_t>(t.ns() / 1'000'000 + (t.ns() % 1'000'000 != 0));
  }
  void set_expiry(base::Instant t) { expiry_ms = compact_ms(t); }
  // Whether this record is due at `now`: expiry <= now in wrap-around millisecond arithmetic.
  bool due(base::Instant now) const {
    return static_cast<int32_t>(static_cast<uint32_t>(now.ns() / 1'000'000) - expiry_ms) >= 0;
  }
};
static_assert(sizeof(TimeWaitRecord) <= 48);
static_assert(sizeof(TimeWaitRecord) == 32);

class TimeWaitQueue {
 public:
  explicit TimeWaitQueue(uint32_t capacity);
  TimeWaitQueue(const TimeWaitQueue&) = delete;
  TimeWaitQueue& operator=(const TimeWaitQueue&) = delete;

  // Appends a copy (marked live) and returns its handle, stable until the record expires or is
  // killed; kInvalidConn when the ring is full (the caller counts it and drops the state).
  // An expiry earlier than the newest record's is raised to it: FIFO order must be expiry order,
  // and late is allowed where early is not.
  // The first form takes rec.expiry_ms as set by the caller; the second sets it from `expiry`.
  uint32_t push(const TimeWaitRecord& rec) { return push_full(rec, widen(rec.expiry_ms)); }
  uint32_t push(const TimeWaitRecord& rec, base::Instant expiry) {
    TimeWaitRecord r = rec;
    r.set_expiry(expiry);
    return push_full(r, ceil_ms(expiry));
  }

  // The live record behind `handle`, or nullptr (out of range, expired, or killed).
  TimeWaitRecord* get(uint32_t handle);
  const TimeWaitRecord* get(uint32_t handle) const;

  // Ends a record early (a new SYN reused the tuple, or the endpoint is reset). It never reaches
  // on_expire; its ring slot is reclaimed when it reaches the front.
  void kill(uint32_t handle);

  // Calls on_expire(TimeWaitRecord&) for every live record due at `now`, in FIFO order, then
  // frees it (the record stays valid during the call). Returns how many were reported.
  // prefetch(const TimeWaitRecord&) is called for the record kPrefetchAhead places behind the
  // one being expired, if it is due too: expiring touches memory the record points into (the
  // index bucket, the port's slot), and loading it a few records early overlaps those misses.
  static constexpr uint32_t kPrefetchAhead = 8;
  template <typename F, typename P>
  std::size_t expire(base::Instant now, F&& on_expire, P&& prefetch);
  template <typename F>
  std::size_t expire(base::Instant now, F&& on_expire) {
    return expire(now, std::forward<F>(on_expire), [](const TimeWaitRecord&) {});
  }

  // The front record's expiry, or Instant::never() when empty.
  base::Instant next_expiry() const;

  uint32_t size() const { return live_; }        // live records
  uint32_t occupied() const { return count_; }   // ring slots in use (live and killed)
  uint32_t capacity() const { return capacity_; }
  bool full() const { return count_ == capacity_; }
  std::size_t memory_bytes() const { return sizeof(*this) + std::size_t{capacity_} * sizeof(TimeWaitRecord); }

 private:
  bool holds(uint32_t handle) const {
    if (handle >= capacity_ || count_ == 0) return false;
    const uint32_t offset = handle >= head_ ? handle - head_ : handle + capacity_ - head_;
    return offset < count_;
  }
  void pop_front() {
    head_ = head_ + 1 == capacity_ ? 0 : head_ + 1;
    --count_;
  }
  static uint64_t ceil_ms(base::Instant t) { return t.ns() / 1'000'000 + (t.ns() % 1'000'000 != 0); }
  // The full millisecond count nearest to the reference whose low 32 bits are `ms`.
  uint64_t widen(uint32_t ms) const {
    const int32_t diff = static_cast<int32_t>(ms - static_cast<uint32_t>(newest_expiry_ms_));
    return newest_expiry_ms_ + static_cast<uint64_t>(static_cast<int64_t>(diff));
  }
  uint32_t push_full(const TimeWaitRecord& rec, uint64_t expiry_ms);
  // Keeps the invariant: the front record is live, or the ring is empty.
  void drop_dead_front() {
    while (count_ != 0 && !ring_[head_].live()) pop_front();
  }

  std::unique_ptr<TimeWaitRecord[]> ring_;
  uint32_t capacity_;
  uint32_t head_ = 0;   // oldest record
  uint32_t count_ = 0;  // ring slots in use
  uint32_t live_ = 0;
  bool expiring_ = false;
  // The newest record's expiry as a full 64-bit millisecond count (when the ring is empty: the
  // last `now` seen by expire()). next_expiry() rebuilds the front's Instant from it and the
  // small, non-negative 32-bit difference; push(rec) widens rec.expiry_ms around it.
  uint64_t newest_expiry_ms_ = 0;
};

template <typename F, typename P>
std::size_t TimeWaitQueue::expire(base::Instant now, F&& on_expire, P&& prefetch) {
  std::size_t n = 0;
  drop_dead_front();
  // While expiring, kill() leaves the ring alone so that the front stays where this loop put it.
  expiring_ = true;
  auto prefetch_if_due = [&](uint32_t i) {
    if (i >= capacity_) i -= capacity_;
    if (ring_[i].live() && ring_[i].due(now)) prefetch(static_cast<const TimeWaitRecord&>(ring_[i]));
  };
  // The first records of a batch are not reached by the look-ahead below: prefetch them here.
  if (count_ != 0 && ring_[head_].due(now)) {
    for (uint32_t k = 0; k < kPrefetchAhead && k < count_; ++k) prefetch_if_due(head_ + k);
  }
  while (count_ != 0 && ring_[head_].due(now)) {
    TimeWaitRecord& rec = ring_[head_];
    if (count_ > kPrefetchAhead) prefetch_if_due(head_ + kPrefetchAhead);
    ++n;
    on_expire(rec);
    if (rec.live()) {  // the callback may have killed it already
      rec.flags = static_cast<uint8_t>(rec.flags & ~TimeWaitRecord::kLive);
      --live_;
    }
    pop_front();
    drop_dead_front();
  }
  expiring_ = false;
  if (count_ == 0) newest_expiry_ms_ = now.ns() / 1'000'000;
  return n;
}

}  // namespace linetcp::engine
