// Property tests: two connections joined by a seeded lossy, reordering, duplicating link move
// data both ways and close; every byte is checked against the senders' deterministic streams.
#include <gtest/gtest.h>

#include "connection_harness.hpp"

namespace linetcp::testing {
namespace {

struct Variant {
  const char* name;
  bool timestamps, sack;
  uint8_t window_scale;
  tcp::CongestionAlgorithm cc;
  uint16_t mss;
  uint32_t rcv_buffer;
};

tcp::TcpParams params_for(const Variant& v) {
  tcp::TcpParams p;
  p.timestamps = v.timestamps;
  p.sack = v.sack;
  p.window_scale = v.window_scale;
  p.congestion = v.cc;
  p.mss = v.mss;
  p.rcv_buffer = v.rcv_buffer;
  p.r2 = Duration::seconds(600);  // a bad seed may lose many in a row; do not give up
  return p;
}

void expect_stream(const std::vector<uint8_t>& got, uint64_t len, uint8_t salt, const char* dir) {
  EXPECT_EQ(got.size(), len) << dir;
  for (size_t i = 0; i < std::min<size_t>(got.size(), len); ++i) {
    if (got[i] != stream_byte(i, salt)) {
      ADD_FAILURE() << dir << ": first wrong byte at offset " << i;
      return;
    }
  }
}

void run_pair(const Variant& v, uint64_t seed, LinkFaults f, uint64_t a_bytes, uint64_t b_bytes) {
  SCOPED_TRACE(::testing::Message() << v.name << " seed " << seed);
  const tcp::TcpParams p = params_for(v);
  LinkedPair pair(p, p, f, seed);
  const bool done = pair.run(a_bytes, b_bytes, Duration::seconds(3000));
  ASSERT_TRUE(done) << "A " << tcp::to_string(pair.a.conn.state()) << " B " << tcp::to_string(pair.b.conn.state())
                    << " A got " << pair.a.sink.received.size() << " B got " << pair.b.sink.received.size();
  expect_stream(pair.b.sink.received, a_bytes, pair.a.salt, "A->B");
  expect_stream(pair.a.sink.received, b_bytes, pair.b.salt, "B->A");
  EXPECT_EQ(pair.a.sink.acked_until, a_bytes);
  EXPECT_EQ(pair.b.sink.acked_until, b_bytes);
  EXPECT_EQ(pair.a.sink.reason, tcp::CloseReason::kNormal);
  EXPECT_EQ(pair.b.sink.reason, tcp::CloseReason::kNormal);
  EXPECT_TRUE(pair.a.sink.peer_fin);
  EXPECT_TRUE(pair.b.sink.peer_fin);
  EXPECT_EQ(pair.a.counters.resets_out + pair.b.counters.resets_out, 0u);
}

const Variant kVariants[] = {
    {"plain", false, false, 0, tcp::CongestionAlgorithm::kNewReno, 1460, 64000},
    {"ts+sack+ws", true, true, 7, tcp::CongestionAlgorithm::kNewReno, 1460, 256 * 1024},
    {"cubic", true, true, 4, tcp::CongestionAlgorithm::kCubic, 1460, 128 * 1024},
    {"small-mss", false, true, 0, tcp::CongestionAlgorithm::kNewReno, 300, 8000},
};

class TcpLink : public ::testing::TestWithParam<int> {};

TEST_P(TcpLink, CleanLinkTransfersBothWays) {
  const Variant& v = kVariants[GetParam()];
  run_pair(v, 1, LinkFaults{0, 0, 0, Duration::millis(5), Duration::zero()}, 300000, 200000);
}

TEST_P(TcpLink, LossyReorderingDuplicatingLink) {
  const Variant& v = kVariants[GetParam()];
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    LinkFaults f;
    f.loss = 0.02 + 0.01 * static_cast<double>(seed % 4);
    f.duplicate = 0.02;
    f.reorder = 0.2;
    f.delay = Duration::millis(5 + static_cast<int64_t>(seed % 3) * 10);
    f.jitter = Duration::millis(15);
    run_pair(v, seed * 7919 + static_cast<uint64_t>(GetParam()), f, 60000 + seed * 1111, 30000 + seed * 777);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

TEST_P(TcpLink, HeavyLoss) {
  const Variant& v = kVariants[GetParam()];
  for (uint64_t seed = 100; seed < 140; ++seed) {
    LinkFaults f;
    f.loss = 0.15;
    f.duplicate = 0.05;
    f.reorder = 0.3;
    run_pair(v, seed, f, 20000, 20000);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, TcpLink, ::testing::Range(0, 4));

}  // namespace
}  // namespace linetcp::testing
