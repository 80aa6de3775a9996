// TimerWheel: exact cases for each level's rounding, past deadlines, cancel and re-arm from the
// callback, long jumps and out-of-range deadlines, and a randomised model test against a
// std::multimap of deadlines over millions of operations.
#include "linetcp/engine/timer_wheel.hpp"

#include <gtest/gtest.h>

#include <map>
#include <ostream>
#include <random>
#include <vector>

namespace linetcp::base {
// Readable failures: an Instant prints as nanoseconds.
inline void PrintTo(const Instant& t, std::ostream* os) { *os << t.ns() << " ns"; }
}  // namespace linetcp::base

namespace linetcp::engine {
namespace {

using base::Duration;
using base::Instant;

const Instant kStart = Instant::from_ns(1'000'000'000'000);  // an arbitrary, non-zero origin

Instant at_ms(int64_t ms) { return kStart + Duration::millis(ms); }

struct Fired {
  std::vector<uint32_t> owners;
  auto callback() {
    return [this](TimerNode& n) { owners.push_back(n.owner); };
  }
};

TEST(TimerWheel, NodeIsSmall) { EXPECT_EQ(sizeof(TimerNode), 32u); }

TEST(TimerWheel, Level0FiresExactlyAtTheDeadlineTick) {
  TimerWheel wheel(kStart);
  TimerNode n;
  n.owner = 5;
  wheel.schedule(n, at_ms(10));
  EXPECT_TRUE(n.armed());
  EXPECT_EQ(wheel.size(), 1u);
  EXPECT_EQ(wheel.next_expiry(), at_ms(10));
  Fired f;
  EXPECT_EQ(wheel.advance(at_ms(10) - Duration::nanos(1), f.callback()), 0u);
  EXPECT_EQ(wheel.advance(at_ms(10), f.callback()), 1u);
  EXPECT_EQ(f.owners, std::vector<uint32_t>{5});
  EXPECT_FALSE(n.armed());
  EXPECT_EQ(wheel.size(), 0u);
  EXPECT_EQ(wheel.next_expiry(), Instant::never());
  EXPECT_EQ(wheel.advance(at_ms(1000), f.callback()), 0u);  // exactly once
}

TEST(TimerWheel, SubTickDeadlineRoundsUpToTheNextTick) {
  TimerWheel wheel(kStart);
  TimerNode n;
  wheel.schedule(n, at_ms(3) + Duration::micros(1));  // 3.001 ms -> tick 4
  EXPECT_EQ(wheel.next_expiry(), at_ms(4));
  Fired f;
  EXPECT_EQ(wheel.advance(at_ms(4) - Duration::nanos(1), f.callback()), 0u);
  EXPECT_EQ(wheel.advance(at_ms(4), f.callback()), 1u);
}

// 1000 ticks away does not fit level 0 (64 ticks) nor level 1 (64 x 8); level 2 has granularity 64,
// so the timer fires at tick 1024: 24 ms late, never early.
TEST(TimerWheel, OuterLevelRoundsUpToItsGranularity) {
  TimerWheel wheel(kStart);
  TimerNode n;
  wheel.schedule(n, at_ms(1000));
  EXPECT_EQ(wheel.next_expiry(), at_ms(1024));
  Fired f;
  EXPECT_EQ(wheel.advance(at_ms(1000), f.callback()), 0u);
  EXPECT_EQ(wheel.advance(at_ms(1023), f.callback()), 0u);
  EXPECT_EQ(wheel.advance(at_ms(1024), f.callback()), 1u);
}

TEST(TimerWheel, Level1Boundary) {
  TimerWheel wheel(kStart);
  TimerNode a, b;
  wheel.schedule(a, at_ms(64));  // still level 0: exact
  wheel.schedule(b, at_ms(65));  // level 1, granularity 8: tick 72
  Fired f;
  EXPECT_EQ(wheel.advance(at_ms(64), f.callback()), 1u);
  EXPECT_EQ(wheel.next_expiry(), at_ms(72));
  EXPECT_EQ(wheel.advance(at_ms(71), f.callback()), 0u);
  EXPECT_EQ(wheel.advance(at_ms(72), f.callback()), 1u);
}

TEST(TimerWheel, PastDeadlineFiresOnTheNextAdvanceEvenWithoutTimeMoving) {
  TimerWheel wheel(kStart);
  Fired f;
  wheel.advance(at_ms(500), f.callback());
  TimerNode n;
  n.owner = 9;
  wheel.schedule(n, at_ms(100));
  EXPECT_EQ(wheel.next_expiry(), at_ms(500));  // due now
  EXPECT_EQ(wheel.advance(at_ms(500), f.callback()), 1u);
  EXPECT_EQ(f.owners, std::vector<uint32_t>{9});

  // At exactly the current time, and before the wheel's start.
  wheel.schedule(n, at_ms(500));
  EXPECT_EQ(wheel.advance(at_ms(500), f.callback()), 1u);
  wheel.schedule(n, kStart - Duration::seconds(5));
  EXPECT_EQ(wheel.advance(at_ms(500), f.callback()), 1u);
}

TEST(TimerWheel, CancelAndNeverDisarm) {
  TimerWheel wheel(kStart);
  TimerNode a, b, c;
  wheel.schedule(a, at_ms(5));
  wheel.schedule(b, at_ms(5000));
  wheel.schedule(c, at_ms(10));
  EXPECT_EQ(wheel.size(), 3u);
  wheel.cancel(a);
  wheel.cancel(a);  // harmless twice
  wheel.schedule(b, Instant::never());
  EXPECT_FALSE(a.armed());
  EXPECT_FALSE(b.armed());
  EXPECT_EQ(wheel.size(), 1u);
  EXPECT_EQ(wheel.next_expiry(), at_ms(10));
  Fired f;
  EXPECT_EQ(wheel.advance(at_ms(100'000), f.callback()), 1u);
  wheel.cancel(c);  // not armed any more
  EXPECT_EQ(wheel.size(), 0u);
}

TEST(TimerWheel, RescheduleMovesTheTimer) {
  TimerWheel wheel(kStart);
  TimerNode n;
  Fired f;
  wheel.schedule(n, at_ms(50));
  wheel.schedule(n, at_ms(20));  // earlier
  EXPECT_EQ(wheel.size(), 1u);
  EXPECT_EQ(wheel.advance(at_ms(20), f.callback()), 1u);
  wheel.schedule(n, at_ms(30));
  wheel.schedule(n, at_ms(31));  // same slot level, just later
  EXPECT_EQ(wheel.advance(at_ms(30), f.callback()), 0u);
  EXPECT_EQ(wheel.advance(at_ms(31), f.callback()), 1u);
  // Pushed later into the same level-2 bucket: the node keeps its slot but the tick moves.
  wheel.schedule(n, at_ms(1000));
  wheel.schedule(n, at_ms(1010));
  EXPECT_EQ(n.expiry_tick, wheel.tick_of(at_ms(1010)));
  EXPECT_EQ(wheel.advance(at_ms(1023), f.callback()), 0u);
  EXPECT_EQ(wheel.advance(at_ms(1024), f.callback()), 1u);
}

TEST(TimerWheel, CallbackMayRearmItselfAndCancelOthers) {
  TimerWheel wheel(kStart);
  TimerNode periodic, victim, other;
  periodic.owner = 1;
  victim.owner = 2;
  other.owner = 3;
  wheel.schedule(periodic, at_ms(10));
  wheel.schedule(victim, at_ms(10));  // same tick, fires after periodic
  wheel.schedule(other, at_ms(25));
  std::vector<uint32_t> order;
  Instant now;
  auto cb = [&](TimerNode& n) {
    order.push_back(n.owner);
    EXPECT_FALSE(n.armed());  // unlinked before the call
    if (n.owner == 1) {
      wheel.cancel(victim);
      wheel.schedule(n, now + Duration::millis(10));
    }
  };
  now = at_ms(10);
  EXPECT_EQ(wheel.advance(now, cb), 1u);
  EXPECT_FALSE(victim.armed());
  now = at_ms(30);
  EXPECT_EQ(wheel.advance(now, cb), 2u);  // periodic at 20, other at 25; periodic re-armed at 40
  EXPECT_EQ(order, (std::vector<uint32_t>{1, 1, 3}));
  EXPECT_EQ(wheel.next_expiry(), at_ms(40));
  // A callback that re-arms for a deadline already past does not loop: it fires next time.
  auto again = [&](TimerNode& n) { wheel.schedule(n, now - Duration::millis(1)); };
  now = at_ms(40);
  EXPECT_EQ(wheel.advance(now, again), 1u);
  EXPECT_EQ(wheel.advance(now, again), 1u);
  EXPECT_EQ(wheel.size(), 1u);
}

// b waits on the firing list of tick 10 when a's callback moves it to tick 74: bucket 10 + 64 has
// the same slot index as bucket 10, and b must really move there, not stay and fire now.
TEST(TimerWheel, RescheduleFromCallbackIntoTheSlotBeingFired) {
  TimerWheel wheel(kStart);
  TimerNode a, b;
  a.owner = 1;
  b.owner = 2;
  wheel.schedule(a, at_ms(10));
  wheel.schedule(b, at_ms(10));
  std::vector<uint32_t> order;
  auto cb = [&](TimerNode& n) {
    order.push_back(n.owner);
    if (n.owner == 1) wheel.schedule(b, at_ms(74));
  };
  EXPECT_EQ(wheel.advance(at_ms(10), cb), 1u);
  EXPECT_TRUE(b.armed());
  EXPECT_EQ(wheel.next_expiry(), at_ms(74));
  EXPECT_EQ(wheel.advance(at_ms(73), cb), 0u);
  EXPECT_EQ(wheel.advance(at_ms(74), cb), 1u);
  EXPECT_EQ(order, (std::vector<uint32_t>{1, 2}));
}

TEST(TimerWheel, LongJumpFiresEverythingInDeadlineBucketOrder) {
  TimerWheel wheel(kStart);
  std::vector<TimerNode> nodes(1000);
  for (uint32_t i = 0; i < nodes.size(); ++i) {
    nodes[i].owner = i;
    wheel.schedule(nodes[i], at_ms(int64_t{i} * 7'000 + 1));  // up to ~2 hours
  }
  std::vector<uint32_t> seen;
  const std::size_t fired =
      wheel.advance(kStart + Duration::seconds(3 * 3600), [&](TimerNode& n) { seen.push_back(n.owner); });
  EXPECT_EQ(fired, 1000u);
  ASSERT_EQ(seen.size(), 1000u);
  // Buckets fire in time order and keep insertion order inside, and the deadlines were inserted
  // in ascending order.
  for (uint32_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], i);
  EXPECT_EQ(wheel.size(), 0u);
  EXPECT_EQ(wheel.current_tick(), 3u * 3600 * 1000);
}

TEST(TimerWheel, BeyondTheWheelsRangeStillNeverEarly) {
  TimerWheel wheel(kStart);
  TimerNode n;
  const Instant deadline = kStart + Duration::seconds(30 * 24 * 3600);  // 30 days > ~12 days
  wheel.schedule(n, deadline);
  EXPECT_LE(wheel.next_expiry(), deadline);
  Fired f;
  Instant now = kStart;
  std::size_t fired = 0;
  // Follow next_expiry() as a worker would: it never skips past the firing.
  for (int guard = 0; guard < 100 && fired == 0; ++guard) {
    now = base::max(now, wheel.next_expiry());
    fired += wheel.advance(now, f.callback());
    EXPECT_TRUE(fired == 0 || now >= deadline);
  }
  EXPECT_EQ(fired, 1u);
  EXPECT_GE(now, deadline);
  EXPECT_LE(now - deadline, Duration::seconds(5 * 3600));  // the last level's granularity, 4.66 h
}

TEST(TimerWheel, CustomTick) {
  TimerWheel wheel(kStart, Duration::micros(10));
  TimerNode n;
  wheel.schedule(n, kStart + Duration::micros(95));  // tick 10 (9.5 rounded up)
  EXPECT_EQ(wheel.next_expiry(), kStart + Duration::micros(100));
  Fired f;
  EXPECT_EQ(wheel.advance(kStart + Duration::micros(99), f.callback()), 0u);
  EXPECT_EQ(wheel.advance(kStart + Duration::micros(100), f.callback()), 1u);
}

// The model: every node's state mirrored, deadlines in a multimap. Asserted for every firing:
// - never early: deadline <= now of the advance that fires it;
// - exactly once, and never after cancel: the model must have it armed;
// - lateness: with E = ceil((deadline - start) / tick) and C the wheel's tick when it was scheduled,
//   the node is in a bucket at tick B with B == E if E - C <= 64, else B - E < (E - C) * 8 / 63
//   (it missed the finer level, so the delay exceeds 63 x the finer granularity). So an earlier
//   advance (after scheduling) that reached tick T >= B must have fired it: we assert that the
//   previous advance's tick T < E + bound;
// and for every advance: next_expiry() taken before it is <= now if anything fires, and no later
// than the latest possible firing of the earliest deadline in the multimap; advancing exactly to
// next_expiry() fires something. At the end everything still armed fires.
struct ModelNode {
  TimerNode node;
  bool armed = false;
  Instant deadline;
  uint64_t sched_clk = 0;      // a lower bound of the wheel's tick when scheduled
  uint64_t sched_advance = 0;  // advances done (or in progress) when scheduled
  std::multimap<Instant, uint32_t>::iterator it;
};

TEST(TimerWheel, CatchUpPlacesAShortTimerExactlyAfterAnIdleSpell) {
  TimerWheel late(kStart);
  TimerWheel caught(kStart);
  Fired f;
  TimerNode a, b;
  // Nothing advanced either wheel for a second; a 5 ms timer is armed at 1000 ms.
  late.schedule(a, at_ms(1005));  // placed 1005 ticks out: level 2, rounded up to tick 1024
  caught.catch_up(at_ms(1000));
  EXPECT_EQ(caught.current_tick(), 1000u);
  caught.schedule(b, at_ms(1005));  // 5 ticks out: level 0, exact
  EXPECT_EQ(caught.advance(at_ms(1005) - Duration::nanos(1), f.callback()), 0u);
  EXPECT_EQ(caught.advance(at_ms(1005), f.callback()), 1u);
  EXPECT_EQ(late.advance(at_ms(1005), f.callback()), 0u);  // what catch_up() avoids: 19 ms late
  EXPECT_EQ(late.advance(at_ms(1024), f.callback()), 1u);
}

TEST(TimerWheel, CatchUpStopsBeforeAnOccupiedSlotAndFiresNothing) {
  TimerWheel wheel(kStart);
  Fired f;
  TimerNode a, b;
  a.owner = 1;
  b.owner = 2;
  wheel.schedule(a, at_ms(40));
  wheel.catch_up(at_ms(1000));
  EXPECT_EQ(wheel.current_tick(), 39u);  // just before a's slot
  EXPECT_TRUE(a.armed());
  wheel.catch_up(at_ms(10));  // backwards: nothing moves
  EXPECT_EQ(wheel.current_tick(), 39u);
  wheel.schedule(b, at_ms(45));
  EXPECT_EQ(wheel.advance(at_ms(44), f.callback()), 1u);
  EXPECT_EQ(f.owners, (std::vector<uint32_t>{1}));
  EXPECT_EQ(wheel.advance(at_ms(45), f.callback()), 1u);
  EXPECT_EQ(f.owners, (std::vector<uint32_t>{1, 2}));
}

TEST(TimerWheel, CatchUpInsideACallbackKeepsTheRestOfTheAdvance) {
  TimerWheel wheel(kStart);
  std::vector<uint32_t> fired;
  TimerNode a, b, c;
  a.owner = 1;
  b.owner = 2;
  c.owner = 3;
  wheel.schedule(a, at_ms(10));
  wheel.schedule(b, at_ms(700));  // level 2: rounded up to tick 704
  // a's callback catches the clock up toward the advance's target: it stops before b's slot, and
  // a timer armed there, 3 ticks on, is exact and still fires in this advance, after b.
  const std::size_t n = wheel.advance(at_ms(2000), [&](TimerNode& t) {
    fired.push_back(t.owner);
    if (t.owner == 1) {
      wheel.catch_up(at_ms(2000));
      EXPECT_EQ(wheel.current_tick(), 703u);
      wheel.schedule(c, at_ms(706));
    }
  });
  EXPECT_EQ(n, 3u);
  EXPECT_EQ(fired, (std::vector<uint32_t>{1, 2, 3}));
  EXPECT_EQ(wheel.current_tick(), 2000u);
  EXPECT_TRUE(wheel.empty());
}

TEST(TimerWheel, ModelMillionsOfOperations) {
  constexpr uint32_t kNodes = 4'000;
  constexpr uint64_t kTickNs = 1'000'000;
  const Instant start = Instant::from_ns(123'456'789);
  TimerWheel wheel(start);
  std::vector<ModelNode> nodes(kNodes);
  for (uint32_t i = 0; i < kNodes; ++i) nodes[i].node.owner = i;
  std::multimap<Instant, uint32_t> deadlines;
  std::mt19937_64 rng(42);

  Instant now = start;
  uint64_t advances = 0;
  uint64_t prev_tick = 0;  // the tick reached by the previous advance
  std::size_t total_fired = 0;
  std::size_t total_cancelled = 0;

  auto tick_floor = [&](Instant t) { return t <= start ? 0 : (t.ns() - start.ns()) / kTickNs; };
  auto tick_ceil = [&](Instant t) { return t <= start ? 0 : (t.ns() - start.ns() + kTickNs - 1) / kTickNs; };
  auto bound = [&](const ModelNode& m) {
    const uint64_t e = tick_ceil(m.deadline);
    if (e <= m.sched_clk + 64) return uint64_t{0};
    return ((e - m.sched_clk) * 8 + 62) / 63;  // ceil: B - E is strictly below the quotient
  };
  auto random_delay = [&]() -> int64_t {
    switch (rng() % 8) {
      case 0: return -static_cast<int64_t>(rng() % 50'000'000);       // already past
      case 1: case 2: return static_cast<int64_t>(rng() % 64'000'000);  // level 0
      case 3: case 4: return static_cast<int64_t>(rng() % 3'000'000'000);  // RTO-like
      case 5: return static_cast<int64_t>(rng() % 120'000'000'000);      // minutes
      case 6: return static_cast<int64_t>(rng() % 7'200'000'000'000);    // hours
      default: return static_cast<int64_t>(rng() % 1'000'000);           // sub-tick
    }
  };
  auto schedule = [&](uint32_t i, Instant deadline) {
    ModelNode& m = nodes[i];
    if (m.armed) deadlines.erase(m.it);
    // The clock may lag `now` (inside a callback, or after a catch-up step): sometimes catch it up.
    if (rng() % 2 == 0) wheel.catch_up(now);
    wheel.schedule(m.node, deadline);
    m.armed = true;
    m.deadline = deadline;
    m.sched_clk = prev_tick;
    m.sched_advance = advances;
    m.it = deadlines.emplace(deadline, i);
  };
  auto cancel = [&](uint32_t i) {
    ModelNode& m = nodes[i];
    if (m.armed) {
      deadlines.erase(m.it);
      m.armed = false;
      ++total_cancelled;
    }
    wheel.cancel(m.node);
  };
  auto on_expire = [&](TimerNode& n) {
    ModelNode& m = nodes[n.owner];
    ASSERT_TRUE(m.armed) << "fired twice or after cancel: " << n.owner;
    ASSERT_LE(m.deadline, now) << "early: " << n.owner;
    if (advances > m.sched_advance + 1) {
      // The previous advance came after scheduling and did not fire it.
      ASSERT_LT(prev_tick, tick_ceil(m.deadline) + bound(m)) << "late: " << n.owner;
    }
    ASSERT_FALSE(n.armed());
    deadlines.erase(m.it);
    m.armed = false;
    ++total_fired;
    // Re-entrancy: sometimes re-arm this node, sometimes touch another one.
    const uint64_t r = rng() % 16;
    if (r < 4) {
      schedule(n.owner, now + Duration::nanos(random_delay()));
    } else if (r == 4) {
      cancel(static_cast<uint32_t>(rng() % kNodes));
    } else if (r == 5) {
      schedule(static_cast<uint32_t>(rng() % kNodes), now + Duration::nanos(random_delay()));
    }
  };
  auto do_advance = [&](Instant to) {
    const Instant next = wheel.next_expiry();
    if (deadlines.empty()) {
      ASSERT_EQ(next, Instant::never());
    } else {
      const ModelNode& first = nodes[deadlines.begin()->second];
      // The earliest deadline fires at its bucket tick at the latest (or right away if past).
      // (A node made due by a catch-up reports the caught-up tick, at most now's.)
      const uint64_t latest_tick = std::max(tick_ceil(first.deadline) + bound(first), tick_floor(now));
      ASSERT_LE(next, start + Duration::nanos(static_cast<int64_t>(latest_tick * kTickNs)));
    }
    now = to;
    ++advances;
    const std::size_t before = total_fired;
    const std::size_t fired = wheel.advance(now, on_expire);
    ASSERT_EQ(fired, total_fired - before);
    if (fired > 0) {
      ASSERT_LE(next, now);
    }
    prev_tick = tick_floor(now);
    ASSERT_EQ(wheel.current_tick(), prev_tick);
    ASSERT_EQ(wheel.size(), deadlines.size());
  };

  constexpr uint32_t kOps = 4'000'000;
  for (uint32_t op = 0; op < kOps; ++op) {
    const uint64_t r = rng() % 100;
    if (r < 50) {
      // Sometimes time passes without an advance (an idle endpoint), so the clock lags `now`.
      if (rng() % 8 == 0) now = now + Duration::nanos(static_cast<int64_t>(rng() % 300'000'000));
      schedule(static_cast<uint32_t>(rng() % kNodes), now + Duration::nanos(random_delay()));
    } else if (r < 75) {
      cancel(static_cast<uint32_t>(rng() % kNodes));
    } else if (r < 97) {
      do_advance(now + Duration::nanos(static_cast<int64_t>(rng() % 3'000'000)));
    } else if (r < 98 || rng() % 16 != 0) {
      // Advance exactly to next_expiry(): something must fire there.
      const Instant next = wheel.next_expiry();
      if (!next.is_never()) {
        const std::size_t before = total_fired;
        do_advance(base::max(now, next));
        ASSERT_GT(total_fired, before) << "nothing at next_expiry, op " << op;
      }
    } else {
      do_advance(now + Duration::nanos(static_cast<int64_t>(rng() % 600'000'000'000)));  // up to 10 min
    }
    if (HasFatalFailure()) return;
  }
  // Drain: everything still armed fires once the clock passes every deadline.
  const std::size_t armed = deadlines.size();
  const std::size_t before = total_fired;
  while (!deadlines.empty()) {
    do_advance(now + Duration::seconds(3 * 3600));
    if (HasFatalFailure()) return;
  }
  EXPECT_GE(total_fired - before, armed);
  EXPECT_EQ(wheel.size(), 0u);
  EXPECT_EQ(wheel.next_expiry(), Instant::never());
  EXPECT_GT(total_fired, 1'000'000u);
  EXPECT_GT(total_cancelled, 100'000u);
}

}  // namespace
}  // namespace linetcp::engine
