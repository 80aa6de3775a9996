// One worker's timers (RTO, delayed ACK, persist, keepalive): a hierarchical hashed timer wheel
// in the style of Linux kernel/time/timer.c, with one intrusive node per connection.
//
// Why this shape: TCP timers are armed and cancelled far more often than they fire (every ACK
// moves the RTO). So schedule and cancel are O(1) list operations, and expiry is allowed to be
// approximate as long as it is never early. Levels of 64 slots, each level 8x coarser than the
// one below (level n has granularity 8^n ticks). A timer goes to the finest level that can hold
// it and its expiry is rounded UP to that level's granularity, so it never fires early and fires
// late by less than one granularity, which is under 8/63 (about 1/8) of the delay for levels >= 1
// (a timer only lands on level n if it did not fit level n-1, i.e. its delay, counted from the
// last tick processed, exceeds 63 * 8^(n-1) ticks). Level 0 (delays up to 64 ticks) is exact.
// Since delays count from the last tick processed, a caller whose clock may have run ahead of
// it (an endpoint idle for a while) calls catch_up(now) before schedule().
// There is no cascading: a timer stays in its slot until it fires or is cancelled. An occupancy
// bitmap per level lets advance() and next_expiry() jump over empty slots instead of stepping
// tick by tick, so a jump of hours costs a few dozen bit operations.
//
// With 9 levels and a 1 ms tick the wheel covers about 12 days; a longer deadline is parked in the
// last level's farthest slot and re-parked when that slot comes due (still never early).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

#include "linetcp/base/compiler.hpp"
#include "linetcp/base/divider.hpp"
#include "linetcp/base/intrusive_list.hpp"
#include "linetcp/base/time.hpp"

namespace linetcp::engine {

// 32 bytes: the list link (16), the exact expiry tick (8), the owner (4), where it is linked (2).
struct TimerNode {
  base::ListNode link;
  uint64_t expiry_tick = 0;  // the deadline, in wheel ticks, rounded up (not the slot's tick)
  uint32_t owner = 0;        // the caller's id for the node, e.g. its ConnId
  uint16_t slot = 0;         // internal: level * 64 + index of the slot it is (or was, while
                             // on the firing list) linked in; kNoSlot on the due list
  uint16_t reserved = 0;

  bool armed() const { return link.linked(); }
};
static_assert(sizeof(TimerNode) == 32);

class TimerWheel {
 public:
  static constexpr uint32_t kLevelBits = 6;
  static constexpr uint32_t kSlotsPerLevel = 1u << kLevelBits;  // 64
  static constexpr uint32_t kLevelShift = 3;                   // each level 8x coarser
  static constexpr uint32_t kLevels = 9;
  static constexpr uint16_t kNoSlot = 0xFFFF;

  // Tick i covers [start + i * tick, start + (i + 1) * tick).
  explicit TimerWheel(base::Instant start, base::Duration tick = base::Duration::millis(1));
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  // Arms `n` to fire at the first advance(now) with now >= deadline (plus the level's rounding).
  // Re-schedules if armed. A deadline at or before the time of the last advance fires on the next
  // advance. Instant::never() cancels.
  void schedule(TimerNode& n, base::Instant deadline);
  void cancel(TimerNode& n);

  // Moves the wheel's clock up to `now` when that passes no occupied slot, firing nothing.
  // Call it before schedule() when the last advance() may be old (an idle endpoint): a deadline
  // is placed relative to the clock, so a short timer armed while the clock lags by more than 64
  // ticks would land on a coarse level and fire up to 8 ticks late. Costs a multiply when the
  // clock is current. Safe inside advance() callbacks: the slots it skips are empty.
  void catch_up(base::Instant now);

  // Fires every node whose rounded expiry is <= now: unlinks it, then calls on_expire(TimerNode&)
  // (which may schedule it again, or schedule or cancel any other node). Returns how many fired.
  // Nodes made due during the call by a callback (deadline <= now) fire on the next advance.
  template <typename F>
  std::size_t advance(base::Instant now, F&& on_expire);

  // The earliest instant at which advance() could fire something, or Instant::never(). Never
  // later than the real next firing (it may be earlier for deadlines beyond the wheel's range).
  base::Instant next_expiry() const;

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  base::Duration tick() const { return base::Duration::nanos(static_cast<int64_t>(tick_ns_)); }
  // The last tick processed by advance().
  uint64_t current_tick() const { return clk_; }
  // The deadline in ticks: ceil((deadline - start) / tick), 0 for anything before start.
  uint64_t tick_of(base::Instant deadline) const;

 private:
  using List = base::ListNode;  // circular, sentinel head; nodes are TimerNode::link

  static void list_init(List& head) { head.prev = head.next = &head; }
  static bool list_empty(const List& head) { return head.next == &head; }
  static void list_push(List& head, List& n) {
    n.next = &head;
    n.prev = head.prev;
    head.prev->next = &n;
    head.prev = &n;
  }
  static void list_unlink(List& n) {
    n.prev->next = n.next;
    n.next->prev = n.prev;
    n.prev = n.next = nullptr;
  }
  // Moves all of `from` to the end of `to`, leaving `from` empty.
  static void list_splice(List& from, List& to) {
    if (list_empty(from)) return;
    from.next->prev = to.prev;
    to.prev->next = from.next;
    from.prev->next = &to;
    to.prev = from.prev;
    list_init(from);
  }
  static TimerNode& node_of(List* l) {
    static_assert(offsetof(TimerNode, link) == 0);
    return *reinterpret_cast<TimerNode*>(l);
  }

  // Links an unlinked node with expiry_tick set, into a wheel slot or the due list.
  void enqueue(TimerNode& n);
  void unlink(TimerNode& n);
  // The tick of the earliest occupied slot after clk_, or UINT64_MAX.
  uint64_t next_slot_tick() const;
  // Moves every slot whose tick is clk_ to `out`.
  void collect(List& out);

  uint64_t start_ns_;
  uint64_t tick_ns_;
  base::Divider per_tick_;  // divides by tick_ns_ without a DIV (tick_of and advance run per segment)
  uint64_t max_tick_;       // the last tick whose start fits in an Instant (next_expiry saturates past it)
  uint64_t clk_ = 0;  // last processed tick: every slot with a tick <= clk_ is empty
  std::size_t size_ = 0;
  uint64_t occupied_[kLevels] = {};
  List due_;  // deadlines <= clk_ when scheduled: fire on the next advance
  List slots_[kLevels * kSlotsPerLevel];
};

template <typename F>
std::size_t TimerWheel::advance(base::Instant now, F&& on_expire) {
  std::size_t fired = 0;
  List firing;
  list_init(firing);
  // A callback may cancel() or schedule() a node still on `firing`: that just unlinks it from
  // here (see schedule() for why its stale slot number is harmless).
  auto fire_all = [&] {
    while (!list_empty(firing)) {
      TimerNode& n = node_of(firing.next);
      base::prefetch_write(n.link.next->next);  // the node after next: hide the pointer chase
      list_unlink(n.link);
      --size_;
      if (LINETCP_UNLIKELY(n.expiry_tick > clk_)) {
        enqueue(n);  // parked beyond the wheel's range and still not due: park again
        continue;
      }
      ++fired;
      on_expire(n);
    }
  };
  list_splice(due_, firing);
  fire_all();

  const uint64_t target = now.ns() <= start_ns_ ? 0 : per_tick_.divide(now.ns() - start_ns_);
  while (clk_ < target) {
    const uint64_t next = next_slot_tick();
    if (next > target) {
      clk_ = target;
      break;
    }
    clk_ = next;
    collect(firing);
    fire_all();
  }
  return fired;
}

}  // namespace linetcp::engine
