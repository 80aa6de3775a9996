// Impairment (the port's impairment stage) on virtual time: each fault at its probability within
// statistical bounds, determinism for a seed, delay and jitter release times, reordering, the
// bounded hold queue, clone failures, corruption that the checksums catch, and draining.
#include "linetcp/engine/impairment.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>
#include <vector>

#include "endpoint_pair.hpp"
#include "linetcp/base/byte_order.hpp"
#include "linetcp/wire/checksum.hpp"
#include "linetcp/wire/ipv6.hpp"

namespace linetcp::engine {
namespace {

using base::Duration;
using base::Instant;

const Instant kT0 = Instant::from_ns(1'000'000'000);

// Frames are heap vectors whose first 8 bytes hold a serial number; the ops count what they do.
struct TestOps {
  using Frame = Impairment::Frame;
  uint64_t freed = 0;
  uint64_t clones = 0;
  bool fail_clone = false;
  std::vector<std::unique_ptr<std::vector<uint8_t>>> owned;

  Frame make(uint64_t serial, std::size_t size = 64) {
    owned.push_back(std::make_unique<std::vector<uint8_t>>(size));
    auto* v = owned.back().get();
    for (int i = 0; i < 8; ++i) (*v)[i] = static_cast<uint8_t>(serial >> (8 * i));
    return v;
  }
  static uint64_t serial(Frame f) {
    const auto& v = *static_cast<std::vector<uint8_t>*>(f);
    uint64_t s = 0;
    for (int i = 0; i < 8; ++i) s |= uint64_t{v[i]} << (8 * i);
    return s;
  }
  std::span<uint8_t> bytes(Frame f) { return *static_cast<std::vector<uint8_t>*>(f); }
  Frame clone(Frame f) {
    if (fail_clone) return nullptr;
    ++clones;
    owned.push_back(std::make_unique<std::vector<uint8_t>>(*static_cast<std::vector<uint8_t>*>(f)));
    return owned.back().get();
  }
  void free(Frame) { ++freed; }
};

// Runs `n` frames through `imp`, one every `gap`, releasing as time goes; returns the serials
// in the order they came out.
std::vector<uint64_t> run_frames(Impairment& imp, TestOps& ops, uint64_t n, Duration gap = Duration::micros(10),
                                 Instant start = kT0) {
  std::vector<uint64_t> order;
  Impairment::Frame out[2];
  Impairment::Frame rel[64];
  Instant now = start;
  for (uint64_t i = 0; i < n; ++i, now += gap) {
    for (unsigned k = imp.release(now, rel, 64), j = 0; j < k; ++j) order.push_back(TestOps::serial(rel[j]));
    const unsigned got = imp.admit(ops.make(i), now, out, ops);
    for (unsigned j = 0; j < got; ++j) order.push_back(TestOps::serial(out[j]));
  }
  // Let everything held come out.
  for (Instant end = now + Duration::seconds(1); imp.held() > 0 && now <= end; now += gap) {
    for (unsigned k = imp.release(now, rel, 64), j = 0; j < k; ++j) order.push_back(TestOps::serial(rel[j]));
  }
  return order;
}

// A binomial count within 5 standard deviations of n*p: a wrong probability fails, luck does not.
void expect_rate(uint64_t count, uint64_t n, double p) {
  const double mean = static_cast<double>(n) * p;
  const double sd = std::sqrt(static_cast<double>(n) * p * (1 - p));
  EXPECT_NEAR(static_cast<double>(count), mean, 5 * sd + 1) << "n " << n << " p " << p;
}

TEST(Impairment, OffPassesEverythingAtOnceInOrder) {
  ImpairmentProfile p;
  EXPECT_FALSE(p.enabled());
  Impairment imp(p, 1, 16);
  TestOps ops;
  const auto order = run_frames(imp, ops, 1000);
  ASSERT_EQ(order.size(), 1000u);
  for (uint64_t i = 0; i < order.size(); ++i) EXPECT_EQ(order[i], i);
  EXPECT_EQ(imp.counters().frames, 1000u);
  EXPECT_EQ(imp.counters().dropped + imp.counters().duplicated + imp.counters().delayed, 0u);
  EXPECT_EQ(ops.freed, 0u);
}

TEST(Impairment, DropsAtTheGivenRateAndFreesWhatItDrops) {
  ImpairmentProfile p;
  p.drop = 0.05;
  Impairment imp(p, 7, 16);
  TestOps ops;
  const uint64_t n = 100'000;
  const auto order = run_frames(imp, ops, n);
  expect_rate(imp.counters().dropped, n, 0.05);
  EXPECT_EQ(order.size() + imp.counters().dropped, n);
  EXPECT_EQ(ops.freed, imp.counters().dropped);
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));  // no reordering asked for
}

TEST(Impairment, DuplicatesFollowTheOriginal) {
  ImpairmentProfile p;
  p.duplicate = 0.02;
  Impairment imp(p, 3, 16);
  TestOps ops;
  const uint64_t n = 100'000;
  const auto order = run_frames(imp, ops, n);
  expect_rate(imp.counters().duplicated, n, 0.02);
  EXPECT_EQ(order.size(), n + imp.counters().duplicated);
  EXPECT_EQ(ops.clones, imp.counters().duplicated);
  uint64_t pairs = 0;
  for (std::size_t i = 1; i < order.size(); ++i) pairs += order[i] == order[i - 1];
  EXPECT_EQ(pairs, imp.counters().duplicated);
}

TEST(Impairment, CloneFailureIsCountedNotFatal) {
  ImpairmentProfile p;
  p.duplicate = 1.0;
  Impairment imp(p, 3, 16);
  TestOps ops;
  ops.fail_clone = true;
  const auto order = run_frames(imp, ops, 100);
  EXPECT_EQ(order.size(), 100u);
  EXPECT_EQ(imp.counters().no_buffer, 100u);
  EXPECT_EQ(imp.counters().duplicated, 0u);
}

TEST(Impairment, FixedDelayHoldsEachFrameExactlyThatLong) {
  ImpairmentProfile p;
  p.delay_us = 500;
  Impairment imp(p, 1, 64);
  TestOps ops;
  Impairment::Frame out[2], rel[8];
  EXPECT_EQ(imp.admit(ops.make(1), kT0, out, ops), 0u);
  EXPECT_EQ(imp.admit(ops.make(2), kT0 + Duration::micros(100), out, ops), 0u);
  EXPECT_EQ(imp.next_release(), kT0 + Duration::micros(500));
  EXPECT_EQ(imp.release(kT0 + Duration::micros(499), rel, 8), 0u);  // never early
  ASSERT_EQ(imp.release(kT0 + Duration::micros(500), rel, 8), 1u);
  EXPECT_EQ(TestOps::serial(rel[0]), 1u);
  EXPECT_EQ(imp.release(kT0 + Duration::micros(599), rel, 8), 0u);
  ASSERT_EQ(imp.release(kT0 + Duration::micros(600), rel, 8), 1u);
  EXPECT_EQ(TestOps::serial(rel[0]), 2u);
  EXPECT_EQ(imp.held(), 0u);
  EXPECT_EQ(imp.next_release(), Instant::never());
  EXPECT_EQ(imp.counters().delayed, 2u);
}

TEST(Impairment, JitterStaysWithinBoundsAndReordersSomeFrames) {
  ImpairmentProfile p;
  p.delay_us = 100;
  p.jitter_us = 200;
  Impairment imp(p, 11, 4096);
  TestOps ops;
  Impairment::Frame out[2], rel[4096];
  std::vector<Instant> sent(2000);
  Instant now = kT0;
  for (uint64_t i = 0; i < sent.size(); ++i, now += Duration::micros(10)) {
    sent[i] = now;
    EXPECT_EQ(imp.admit(ops.make(i), now, out, ops), 0u);
  }
  // Release microsecond by microsecond: each frame comes out 100..300 us after it went in.
  std::vector<uint64_t> order;
  for (Instant t = kT0; imp.held() > 0; t += Duration::micros(1)) {
    for (unsigned k = imp.release(t, rel, 4096), j = 0; j < k; ++j) {
      const uint64_t s = TestOps::serial(rel[j]);
      const Duration held = t - sent[s];
      EXPECT_GE(held, Duration::micros(100));
      EXPECT_LE(held, Duration::micros(301));  // +1: released on the next microsecond step
      order.push_back(s);
    }
  }
  EXPECT_EQ(order.size(), sent.size());
  EXPECT_FALSE(std::is_sorted(order.begin(), order.end()));  // jitter lets frames overtake
}

TEST(Impairment, ReorderedFramesAreOvertaken) {
  ImpairmentProfile p;
  p.reorder = 0.05;
  p.reorder_delay_us = 1000;
  Impairment imp(p, 5, 1024);
  TestOps ops;
  const uint64_t n = 20'000;
  const auto order = run_frames(imp, ops, n, Duration::micros(10));
  ASSERT_EQ(order.size(), n);
  expect_rate(imp.counters().reordered, n, 0.05);
  // Each reordered frame comes out after the ~100 frames sent in its 1 ms: count the frames
  // that arrive after a higher serial.
  uint64_t late = 0, max_seen = 0;
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (i > 0 && order[i] < max_seen) ++late;
    max_seen = std::max(max_seen, order[i]);
  }
  EXPECT_EQ(late, imp.counters().reordered);
  std::vector<uint64_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  for (uint64_t i = 0; i < n; ++i) ASSERT_EQ(sorted[i], i);  // nothing lost, nothing twice
}

TEST(Impairment, FullQueuePassesFramesAndCountsIt) {
  ImpairmentProfile p;
  p.delay_us = 1000;
  Impairment imp(p, 1, 4);
  TestOps ops;
  Impairment::Frame out[2];
  unsigned passed = 0;
  for (uint64_t i = 0; i < 10; ++i) passed += imp.admit(ops.make(i), kT0, out, ops);
  EXPECT_EQ(imp.held(), 4u);
  EXPECT_EQ(passed, 6u);
  EXPECT_EQ(imp.counters().queue_full, 6u);
  EXPECT_EQ(imp.counters().delayed, 4u);
  // At shutdown the held frames go back to their owner.
  uint64_t drained = 0;
  imp.drain([&](Impairment::Frame) { ++drained; });
  EXPECT_EQ(drained, 4u);
  EXPECT_EQ(imp.held(), 0u);
}

TEST(Impairment, BlackoutDropsEverythingFromItsInstantOn) {
  ImpairmentProfile p;
  p.blackout = kT0 + Duration::millis(1);
  EXPECT_TRUE(p.enabled());
  Impairment imp(p, 1, 16);
  TestOps ops;
  const auto order = run_frames(imp, ops, 200, Duration::micros(10));  // 2 ms of frames
  ASSERT_EQ(order.size(), 100u);  // the first millisecond's
  EXPECT_EQ(order.back(), 99u);
  EXPECT_EQ(imp.counters().dropped, 100u);
  EXPECT_EQ(ops.freed, 100u);
}

TEST(Impairment, SameSeedSameDecisionsOtherSeedOthers) {
  ImpairmentProfile p;
  p.drop = 0.1;
  p.duplicate = 0.1;
  p.reorder = 0.1;
  p.jitter_us = 50;
  auto run = [&](uint64_t seed) {
    Impairment imp(p, seed, 1024);
    TestOps ops;
    return run_frames(imp, ops, 5000);
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
}

// How many bits differ between two frames of one size, and the offset of the last differing byte.
std::pair<int, std::size_t> flipped_bits(const std::vector<uint8_t>& before, const std::vector<uint8_t>& after) {
  int bits = 0;
  std::size_t where = 0;
  for (std::size_t k = 0; k < after.size(); ++k) {
    bits += __builtin_popcount(after[k] ^ before[k]);
    if (after[k] != before[k]) where = k;
  }
  return {bits, where};
}

// RFC9293 MUST-2, MUST-3: every corrupted segment fails the receiver's checksum.
TEST(Impairment, CorruptionFlipsOneBitThatTheTcpChecksumCatches) {
  testing::TcpFrameSpec spec;
  spec.flags = wire::kTcpAck;
  spec.payload = std::vector<uint8_t>(100, 0x5a);
  const std::vector<uint8_t> clean = testing::make_tcp_frame(spec);
  ASSERT_TRUE(testing::parse_frame(clean).tcp_checksum_ok);
  Xoshiro256 rng(9);
  for (int i = 0; i < 2000; ++i) {
    std::vector<uint8_t> f = clean;
    ASSERT_TRUE(Impairment::corrupt_frame(f, rng));
    const auto [bits, where] = flipped_bits(clean, f);
    ASSERT_EQ(bits, 1);
    ASSERT_GE(where, 14u + 20u);                 // never the Ethernet or IPv4 header
    ASSERT_NE(where, 14u + 20u + 12u);           // never TCP's data offset
    const testing::ParsedFrame parsed = testing::parse_frame(f);
    ASSERT_TRUE(parsed.ok);
    ASSERT_FALSE(parsed.tcp_checksum_ok) << "flip at " << where;
  }
}

TEST(Impairment, CorruptionLeavesNonIpFramesAlone) {
  const auto arp = testing::make_arp_frame(1, wire::MacAddr::broadcast(), testing::kClientMac, testing::kClientIp,
                                           wire::MacAddr{}, testing::kServerIp);
  std::vector<uint8_t> f = arp;
  Xoshiro256 rng(1);
  EXPECT_FALSE(Impairment::corrupt_frame(f, rng));
  EXPECT_EQ(f, arp);
  std::vector<uint8_t> tiny(20, 0);
  EXPECT_FALSE(Impairment::corrupt_frame(tiny, rng));
}

// The same TCP segment in Ethernet + IPv6 (next header TCP), checksum correct.
std::vector<uint8_t> tcp_over_ipv6(const std::vector<uint8_t>& ipv4_frame) {
  const std::size_t l4 = 14 + 20;
  std::vector<uint8_t> seg(ipv4_frame.begin() + l4, ipv4_frame.end());
  const auto src = wire::Ipv6Addr::parse("fd00::2").value();
  const auto dst = wire::Ipv6Addr::parse("fd00::1").value();
  seg[16] = seg[17] = 0;
  base::store_be16(seg.data() + 16, wire::upper_checksum_ipv6(src.bytes.data(), dst.bytes.data(), wire::kIpProtoTcp, seg));
  std::vector<uint8_t> f(ipv4_frame.begin(), ipv4_frame.begin() + 14);
  f[12] = 0x86;
  f[13] = 0xdd;
  f.resize(14 + 40);
  wire::write_ipv6_header(f.data() + 14, src, dst, wire::kIpProtoTcp, static_cast<uint16_t>(seg.size()), 64);
  f.insert(f.end(), seg.begin(), seg.end());
  return f;
}
bool ipv6_tcp_checksum_ok(const std::vector<uint8_t>& f) {
  const std::span<const uint8_t> seg(f.data() + 14 + 40, f.size() - 14 - 40);
  return wire::upper_checksum_ipv6(f.data() + 14 + 8, f.data() + 14 + 24, wire::kIpProtoTcp, seg) == 0;
}

// RFC9293 MUST-2, MUST-3: over IPv6 too, every corrupted segment fails the receiver's checksum,
// and the flip is never in the IPv6 header or TCP's data offset.
TEST(Impairment, CorruptionOfIpv6FramesFlipsOneBitThatTheTcpChecksumCatches) {
  testing::TcpFrameSpec spec;
  spec.flags = wire::kTcpAck;
  spec.payload = std::vector<uint8_t>(100, 0xa5);
  const std::vector<uint8_t> clean = tcp_over_ipv6(testing::make_tcp_frame(spec));
  ASSERT_TRUE(ipv6_tcp_checksum_ok(clean));
  Xoshiro256 rng(11);
  for (int i = 0; i < 2000; ++i) {
    std::vector<uint8_t> f = clean;
    ASSERT_TRUE(Impairment::corrupt_frame(f, rng));
    const auto [bits, where] = flipped_bits(clean, f);
    ASSERT_EQ(bits, 1);
    ASSERT_GE(where, 14u + 40u);
    ASSERT_NE(where, 14u + 40u + 12u);
    ASSERT_FALSE(ipv6_tcp_checksum_ok(f)) << "flip at " << where;
  }
  // An extension header first: left alone (a flip there could be refused before the checksum).
  std::vector<uint8_t> ext = clean;
  ext[14 + 6] = 0;  // next header: hop-by-hop options
  EXPECT_FALSE(Impairment::corrupt_frame(ext, rng));
}

TEST(Impairment, CorruptionLooksPastAVlanTag) {
  testing::TcpFrameSpec spec;
  spec.flags = wire::kTcpAck;
  spec.payload = std::vector<uint8_t>(100, 0x3c);
  const std::vector<uint8_t> untagged = testing::make_tcp_frame(spec);
  std::vector<uint8_t> clean(untagged.begin(), untagged.begin() + 12);
  const uint8_t tag[4] = {0x81, 0x00, 0x00, 100};
  clean.insert(clean.end(), tag, tag + 4);
  clean.insert(clean.end(), untagged.begin() + 12, untagged.end());
  Xoshiro256 rng(12);
  for (int i = 0; i < 500; ++i) {
    std::vector<uint8_t> f = clean;
    ASSERT_TRUE(Impairment::corrupt_frame(f, rng));
    const auto [bits, where] = flipped_bits(clean, f);
    ASSERT_EQ(bits, 1);
    ASSERT_GE(where, 18u + 20u);  // never the tag, the Ethernet or the IPv4 header
    ASSERT_NE(where, 18u + 20u + 12u);
    std::vector<uint8_t> inner(f.begin(), f.begin() + 12);
    inner.insert(inner.end(), f.begin() + 16, f.end());
    const testing::ParsedFrame parsed = testing::parse_frame(inner);
    ASSERT_TRUE(parsed.ok);
    ASSERT_FALSE(parsed.tcp_checksum_ok) << "flip at " << where;
  }
}

TEST(Impairment, CorruptsAtTheGivenRate) {
  testing::TcpFrameSpec spec;
  spec.payload = std::vector<uint8_t>(10, 1);
  const std::vector<uint8_t> clean = testing::make_tcp_frame(spec);
  ImpairmentProfile p;
  p.corrupt = 0.01;
  Impairment imp(p, 21, 16);
  std::vector<std::vector<uint8_t>> frames(50'000, clean);
  TestOps ops;
  Impairment::Frame out[2];
  uint64_t bad = 0;
  for (auto& f : frames) {
    ASSERT_EQ(imp.admit(&f, kT0, out, ops), 1u);
    bad += f != clean;
  }
  EXPECT_EQ(bad, imp.counters().corrupted);
  expect_rate(bad, frames.size(), 0.01);
}

// The stage between two real Endpoints (virtual time): 5 % loss and 1 % corruption each way,
// decided by Impairment on the very frames the endpoints send. TCP repairs all of it: every
// byte of 1 MiB each way arrives once, in order, matching; every corrupted frame is refused by
// its checksum and counted (RFC9293 MUST-3); connections close normally.
TEST(ImpairmentEndToEnd, TcpDeliversEveryByteThroughLossAndCorruption) {
  using testing::Side;
  testing::PairOptions o;
  for (engine::EndpointConfig* c : {&o.client, &o.server}) {
    c->tcp.rto_initial = Duration::millis(20);
    c->tcp.rto_min = Duration::millis(5);
    c->tcp.delayed_ack = Duration::millis(1);
  }
  testing::EndpointPair pair(o);
  ImpairmentProfile p;
  p.drop = 0.05;
  p.corrupt = 0.01;
  Impairment to_server(p, 101, 16), to_client(p, 202, 16);
  // The frame handle is the frame itself; a drop is the filter returning false.
  struct VectorOps {
    std::span<uint8_t> bytes(Impairment::Frame f) { return *static_cast<std::vector<uint8_t>*>(f); }
    Impairment::Frame clone(Impairment::Frame) { return nullptr; }
    void free(Impairment::Frame) {}
  } ops;
  pair.filter = [&](Side from, std::vector<uint8_t>& frame) {
    Impairment::Frame out[2];
    return (from == Side::kClient ? to_server : to_client).admit(&frame, pair.now(), out, ops) == 1;
  };
  constexpr uint64_t kBytes = 1 << 20;
  testing::StreamApp client(Side::kClient, 7, 64, testing::StreamPlan{kBytes, true, true, kBytes});
  testing::StreamApp server(Side::kServer, 7, 64, testing::StreamPlan{kBytes, false, true, kBytes});
  ASSERT_TRUE(pair.server().listen(9, server));
  for (int i = 0; i < 2; ++i) ASSERT_NE(pair.client().connect(testing::kServerIp, 9, client, pair.now()), kInvalidConn);
  ASSERT_TRUE(pair.run_until([&] { return client.totals().closed == 2 && server.totals().closed == 2; },
                             Duration::seconds(60)))
      << client.totals().bytes_received << " / " << server.totals().bytes_received;
  EXPECT_EQ(client.totals().mismatches + server.totals().mismatches, 0u);
  EXPECT_EQ(client.totals().bytes_received, 2 * kBytes);
  EXPECT_EQ(server.totals().bytes_received, 2 * kBytes);
  EXPECT_EQ(client.totals().complete, 2u);
  EXPECT_EQ(server.totals().complete, 2u);
  EXPECT_GT(to_server.counters().dropped, to_server.counters().frames / 40);
  EXPECT_GT(to_client.counters().corrupted, 0u);
  EXPECT_EQ(pair.server().counters().tcp_bad_checksum, to_server.counters().corrupted);
  EXPECT_EQ(pair.client().counters().tcp_bad_checksum, to_client.counters().corrupted);
  EXPECT_GT(pair.client().tcp_counters().retransmits + pair.server().tcp_counters().retransmits, 0u);
}

}  // namespace
}  // namespace linetcp::engine
