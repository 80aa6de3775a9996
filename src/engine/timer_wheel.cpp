// TimerWheel: slot placement with round-up, unlinking and the bitmap scans (see header).
#include "linetcp/engine/timer_wheel.hpp"

#include <algorithm>

namespace linetcp::engine {

namespace {

constexpr uint32_t shift_of(uint32_t level) { return level * TimerWheel::kLevelShift; }

struct Placement {
  uint32_t level;
  uint64_t k;  // bucket number on that level: the slot fires at tick k << shift_of(level)
};

// The finest level whose window (the 64 buckets after the current one) holds tick `e`, with e
// rounded up to the level's granularity; beyond the last level's window, its farthest bucket.
Placement place(uint64_t e, uint64_t clk) {
  for (uint32_t level = 0; level < TimerWheel::kLevels; ++level) {
    const uint32_t s = shift_of(level);
    const uint64_t k = (e >> s) + ((e & ((uint64_t{1} << s) - 1)) != 0);  // round up, no overflow
    if (k - (clk >> s) <= TimerWheel::kSlotsPerLevel) return {level, k};
  }
  constexpr uint32_t last = TimerWheel::kLevels - 1;
  return {last, (clk >> shift_of(last)) + TimerWheel::kSlotsPerLevel};
}

uint16_t slot_id(Placement p) {
  constexpr uint32_t kSlots = TimerWheel::kSlotsPerLevel;
  return static_cast<uint16_t>(p.level * kSlots + (p.k & (kSlots - 1)));
}

}  // namespace

TimerWheel::TimerWheel(base::Instant start, base::Duration tick)
    : start_ns_(start.ns()),
      tick_ns_(static_cast<uint64_t>(std::max<int64_t>(1, tick.ns()))),
      per_tick_(tick_ns_),
      max_tick_((UINT64_MAX - 1 - start_ns_) / tick_ns_) {
  list_init(due_);
  for (List& s : slots_) list_init(s);
}

uint64_t TimerWheel::tick_of(base::Instant deadline) const {
  if (deadline.ns() <= start_ns_) return 0;
  const uint64_t d = deadline.ns() - start_ns_;
  return per_tick_.divide_up(d);
}

void TimerWheel::enqueue(TimerNode& n) {
  ++size_;
  if (n.expiry_tick <= clk_) {
    n.slot = kNoSlot;
    list_push(due_, n.link);
    return;
  }
  const Placement p = place(n.expiry_tick, clk_);
  n.slot = slot_id(p);
  list_push(slots_[n.slot], n.link);
  occupied_[p.level] |= uint64_t{1} << (p.k & (kSlotsPerLevel - 1));
}

void TimerWheel::unlink(TimerNode& n) {
  list_unlink(n.link);
  --size_;
  if (n.slot != kNoSlot && list_empty(slots_[n.slot])) {
    occupied_[n.slot / kSlotsPerLevel] &= ~(uint64_t{1} << (n.slot % kSlotsPerLevel));
  }
}

void TimerWheel::schedule(TimerNode& n, base::Instant deadline) {
  if (LINETCP_UNLIKELY(deadline.is_never())) {
    cancel(n);
    return;
  }
  const uint64_t e = tick_of(deadline);
  if (n.armed()) {
    // Same bucket as before (common when an RTO is pushed a little later): just update the tick.
    // Bucket cur + 64 is excluded: it shares its slot index with bucket cur, the one advance() may
    // be firing right now, whose nodes (on the firing list) still carry that slot number (and
    // advance() re-checks each node's tick before firing it anyway).
    if (n.slot != kNoSlot && e > clk_) {
      const Placement p = place(e, clk_);
      if (slot_id(p) == n.slot && p.k - (clk_ >> shift_of(p.level)) < kSlotsPerLevel) {
        n.expiry_tick = e;
        return;
      }
    }
    unlink(n);
  }
  n.expiry_tick = e;
  enqueue(n);
}

void TimerWheel::cancel(TimerNode& n) {
  if (n.armed()) unlink(n);
}

void TimerWheel::catch_up(base::Instant now) {
  if (now.ns() <= start_ns_) return;
  const uint64_t target = per_tick_.divide(now.ns() - start_ns_);
  if (target <= clk_) return;
  // Every slot before the next occupied one is empty, so the clock may stand just before it:
  // the invariant of advance() (slots with a tick <= clk_ are empty) holds, and nothing fires.
  const uint64_t next = next_slot_tick();
  clk_ = next > target ? target : next - 1;
}

uint64_t TimerWheel::next_slot_tick() const {
  uint64_t best = UINT64_MAX;
  for (uint32_t level = 0; level < kLevels; ++level) {
    const uint64_t occ = occupied_[level];
    if (occ == 0) continue;
    const uint32_t s = shift_of(level);
    const uint64_t cur = clk_ >> s;
    // Occupied buckets of this level are cur+1 .. cur+64: rotate so bit 0 is bucket cur+1.
    const uint64_t rot = std::rotr(occ, static_cast<int>((cur + 1) & (kSlotsPerLevel - 1)));
    const uint64_t k = cur + 1 + static_cast<uint64_t>(std::countr_zero(rot));
    best = std::min(best, k << s);
  }
  return best;
}

void TimerWheel::collect(List& out) {
  for (uint32_t level = 0; level < kLevels; ++level) {
    const uint32_t s = shift_of(level);
    // A level's buckets fall on multiples of its granularity; coarser ones are multiples of it.
    if (level > 0 && (clk_ & ((uint64_t{1} << s) - 1)) != 0) break;
    const uint32_t idx = static_cast<uint32_t>((clk_ >> s) & (kSlotsPerLevel - 1));
    const uint64_t bit = uint64_t{1} << idx;
    if ((occupied_[level] & bit) == 0) continue;
    occupied_[level] &= ~bit;
    list_splice(slots_[level * kSlotsPerLevel + idx], out);
  }
}

base::Instant TimerWheel::next_expiry() const {
  if (!list_empty(due_)) return base::Instant::from_ns(start_ns_ + clk_ * tick_ns_);
  const uint64_t t = next_slot_tick();
  if (t == UINT64_MAX) return base::Instant::never();
  // Saturate rather than wrap for deadlines near the end of time.
  if (t > max_tick_) return base::Instant::from_ns(UINT64_MAX - 1);
  return base::Instant::from_ns(start_ns_ + t * tick_ns_);
}

}  // namespace linetcp::engine
