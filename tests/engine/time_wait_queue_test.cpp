// TimeWaitQueue: FIFO expiry, millisecond rounding and wrap-around, kill, a full ring, and a
// randomised model test against a std::deque.
#include "linetcp/engine/time_wait_queue.hpp"

#include <gtest/gtest.h>

#include <deque>
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

const Instant kT0 = Instant::from_ns(7'000'000'000'000);

TimeWaitRecord record(uint16_t remote_port, uint32_t snd_nxt = 1000) {
  TimeWaitRecord r;
  r.tuple = FourTuple{0x0A000001, 0x0A000002, 80, remote_port};
  r.snd_nxt = snd_nxt;
  r.rcv_nxt = 5000;
  r.ts_recent = 123456;
  r.rcv_wnd = 512;
  r.flags = TimeWaitRecord::kTimestamps;
  return r;
}

std::vector<uint16_t> expire_ports(TimeWaitQueue& q, Instant now) {
  std::vector<uint16_t> ports;
  q.expire(now, [&](TimeWaitRecord& r) { ports.push_back(r.tuple.remote_port); });
  return ports;
}

TEST(TimeWaitQueue, RecordIsCompact) { EXPECT_EQ(sizeof(TimeWaitRecord), 32u); }

TEST(TimeWaitQueue, ExpiresInFifoOrderAtItsTime) {
  TimeWaitQueue q(8);
  EXPECT_EQ(q.next_expiry(), Instant::never());
  const uint32_t a = q.push(record(1), kT0 + Duration::seconds(60));
  const uint32_t b = q.push(record(2), kT0 + Duration::seconds(61));
  const uint32_t c = q.push(record(3), kT0 + Duration::seconds(62));
  EXPECT_EQ(a, 0u);
  EXPECT_EQ(b, 1u);
  EXPECT_EQ(c, 2u);
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.next_expiry(), kT0 + Duration::seconds(60));

  ASSERT_NE(q.get(b), nullptr);
  EXPECT_EQ(q.get(b)->tuple.remote_port, 2);
  EXPECT_EQ(q.get(b)->snd_nxt, 1000u);
  EXPECT_EQ(q.get(b)->ts_recent, 123456u);
  EXPECT_TRUE(q.get(b)->timestamps());
  EXPECT_TRUE(q.get(b)->live());

  EXPECT_TRUE(expire_ports(q, kT0 + Duration::seconds(60) - Duration::nanos(1)).empty());
  EXPECT_EQ(expire_ports(q, kT0 + Duration::seconds(61)), (std::vector<uint16_t>{1, 2}));
  EXPECT_EQ(q.get(a), nullptr);
  EXPECT_EQ(q.get(b), nullptr);
  EXPECT_EQ(q.size(), 1u);
  EXPECT_EQ(q.next_expiry(), kT0 + Duration::seconds(62));
  EXPECT_EQ(expire_ports(q, kT0 + Duration::seconds(100)), (std::vector<uint16_t>{3}));
  EXPECT_EQ(q.size(), 0u);
  EXPECT_EQ(q.occupied(), 0u);
  EXPECT_EQ(q.next_expiry(), Instant::never());
}

TEST(TimeWaitQueue, ExpiryRoundsUpToTheMillisecond) {
  TimeWaitQueue q(2);
  q.push(record(1), kT0 + Duration::micros(1500));  // 1.5 ms -> 2 ms
  EXPECT_EQ(q.next_expiry(), kT0 + Duration::millis(2));
  EXPECT_TRUE(expire_ports(q, kT0 + Duration::micros(1999)).empty());
  EXPECT_EQ(expire_ports(q, kT0 + Duration::millis(2)).size(), 1u);
}

TEST(TimeWaitQueue, KillSkipsTheRecord) {
  TimeWaitQueue q(8);
  const uint32_t a = q.push(record(1), kT0 + Duration::seconds(1));
  const uint32_t b = q.push(record(2), kT0 + Duration::seconds(2));
  const uint32_t c = q.push(record(3), kT0 + Duration::seconds(3));
  q.kill(b);
  EXPECT_EQ(q.get(b), nullptr);
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(q.occupied(), 3u);  // its slot waits until it reaches the front
  q.kill(b);                    // twice is harmless
  EXPECT_EQ(q.size(), 2u);
  q.kill(a);  // killing the front frees it and the dead one behind it at once
  EXPECT_EQ(q.occupied(), 1u);
  EXPECT_EQ(q.next_expiry(), kT0 + Duration::seconds(3));
  EXPECT_EQ(expire_ports(q, kT0 + Duration::seconds(10)), (std::vector<uint16_t>{3}));
  EXPECT_EQ(q.get(c), nullptr);
  q.kill(c);  // already expired: ignored
  q.kill(77);  // out of range: ignored
  EXPECT_EQ(q.size(), 0u);
}

TEST(TimeWaitQueue, FullRingRefusesThenWrapsAround) {
  TimeWaitQueue q(3);
  EXPECT_EQ(q.push(record(1), kT0 + Duration::seconds(1)), 0u);
  EXPECT_EQ(q.push(record(2), kT0 + Duration::seconds(2)), 1u);
  EXPECT_EQ(q.push(record(3), kT0 + Duration::seconds(3)), 2u);
  EXPECT_TRUE(q.full());
  EXPECT_EQ(q.push(record(4), kT0 + Duration::seconds(4)), kInvalidConn);
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(expire_ports(q, kT0 + Duration::seconds(1)), (std::vector<uint16_t>{1}));
  EXPECT_EQ(q.push(record(4), kT0 + Duration::seconds(4)), 0u);  // reuses the freed slot
  EXPECT_EQ(q.get(0)->tuple.remote_port, 4);
  EXPECT_EQ(q.get(1)->tuple.remote_port, 2);
  EXPECT_EQ(expire_ports(q, kT0 + Duration::seconds(10)), (std::vector<uint16_t>{2, 3, 4}));
}

TEST(TimeWaitQueue, EarlierExpiryIsRaisedToKeepFifoOrder) {
  TimeWaitQueue q(4);
  q.push(record(1), kT0 + Duration::seconds(60));
  const uint32_t h = q.push(record(2), kT0 + Duration::seconds(30));
  EXPECT_EQ(q.get(h)->expiry_ms, TimeWaitRecord::compact_ms(kT0 + Duration::seconds(60)));
  EXPECT_TRUE(expire_ports(q, kT0 + Duration::seconds(59)).empty());
  EXPECT_EQ(expire_ports(q, kT0 + Duration::seconds(60)), (std::vector<uint16_t>{1, 2}));
}

TEST(TimeWaitQueue, CompactMillisecondsWrapAround) {
  // 2^32 ms after the epoch the 32-bit value wraps: a record across the wrap still works.
  const Instant near_wrap = Instant::from_ns((uint64_t{1} << 32) * 1'000'000 - 5'000'000);
  TimeWaitQueue q(4);
  q.expire(near_wrap, [](TimeWaitRecord&) {});  // gives the queue its 64-bit reference
  TimeWaitRecord r = record(1);
  r.set_expiry(near_wrap + Duration::millis(10));
  EXPECT_EQ(r.expiry_ms, 5u);
  q.push(r);
  EXPECT_EQ(q.next_expiry(), near_wrap + Duration::millis(10));
  EXPECT_FALSE(q.get(0)->due(near_wrap + Duration::millis(9)));
  EXPECT_TRUE(q.get(0)->due(near_wrap + Duration::millis(10)));
  EXPECT_TRUE(expire_ports(q, near_wrap + Duration::millis(9)).empty());
  EXPECT_EQ(expire_ports(q, near_wrap + Duration::millis(10)).size(), 1u);
}

TEST(TimeWaitQueue, CallbackMayKillAndPush) {
  TimeWaitQueue q(4);
  q.push(record(1), kT0 + Duration::seconds(1));
  const uint32_t b = q.push(record(2), kT0 + Duration::seconds(1));
  q.push(record(3), kT0 + Duration::seconds(1));
  std::vector<uint16_t> ports;
  const std::size_t n = q.expire(kT0 + Duration::seconds(1), [&](TimeWaitRecord& r) {
    ports.push_back(r.tuple.remote_port);
    if (r.tuple.remote_port == 1) {
      q.kill(0);  // itself
      q.kill(b);  // the next one
      q.push(record(9), kT0 + Duration::seconds(5));
    }
  });
  EXPECT_EQ(n, 2u);
  EXPECT_EQ(ports, (std::vector<uint16_t>{1, 3}));
  EXPECT_EQ(q.size(), 1u);
  EXPECT_EQ(q.next_expiry(), kT0 + Duration::seconds(5));
}

TEST(TimeWaitQueue, ModelAgainstDeque) {
  struct Ref {
    uint32_t handle;
    uint16_t port;
    Instant expiry;
    bool live;
  };
  constexpr uint32_t kCap = 1000;
  TimeWaitQueue q(kCap);
  std::deque<Ref> ref;
  std::mt19937_64 rng(11);
  Instant now = kT0;
  Instant newest = kT0;
  uint32_t live = 0;
  uint16_t next_port = 0;
  for (int op = 0; op < 300'000; ++op) {
    const uint64_t r = rng() % 10;
    if (r < 5) {
      // Mostly now + 2 MSL, sometimes a little earlier (raised to the newest by the queue).
      Instant expiry = now + Duration::micros(static_cast<int64_t>(60'000'000 - rng() % 5'000));
      const uint32_t h = q.push(record(next_port), expiry);
      if (ref.size() == kCap) {
        ASSERT_EQ(h, kInvalidConn);
        continue;
      }
      ASSERT_NE(h, kInvalidConn);
      const Instant rounded = Instant::from_ns(TimeWaitRecord::compact_ms(expiry) * uint64_t{1'000'000});
      newest = ref.empty() ? rounded : base::max(newest, rounded);
      ref.push_back({h, next_port++, newest, true});
      ++live;
    } else if (r < 7) {
      if (ref.empty()) continue;
      Ref& victim = ref[rng() % ref.size()];
      q.kill(victim.handle);
      if (victim.live) --live;
      victim.live = false;
      while (!ref.empty() && !ref.front().live) ref.pop_front();
    } else {
      now += Duration::micros(static_cast<int64_t>(rng() % 400'000));
      std::vector<uint16_t> expected;
      while (!ref.empty() && (ref.front().expiry <= now || !ref.front().live)) {
        if (ref.front().live) {
          expected.push_back(ref.front().port);
          --live;
        }
        ref.pop_front();
      }
      ASSERT_EQ(expire_ports(q, now), expected);
    }
    ASSERT_EQ(q.size(), live);
    ASSERT_EQ(q.occupied(), ref.size());
    ASSERT_EQ(q.next_expiry(), ref.empty() ? Instant::never() : ref.front().expiry);
    for (int k = 0; k < 2 && !ref.empty(); ++k) {
      const Ref& probe = ref[rng() % ref.size()];
      const TimeWaitRecord* rec = q.get(probe.handle);
      if (probe.live) {
        ASSERT_NE(rec, nullptr);
        ASSERT_EQ(rec->tuple.remote_port, probe.port);
      } else {
        ASSERT_EQ(rec, nullptr);
      }
    }
  }
}

}  // namespace
}  // namespace linetcp::engine
