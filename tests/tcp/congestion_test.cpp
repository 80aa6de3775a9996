// Congestion control: RFC 6928 initial window, slow start and congestion avoidance (RFC 5681),
// NewReno fast retransmit and recovery (RFC 6582), SACK-based recovery (RFC 6675), CUBIC
// (RFC 9438) window growth.
#include <gtest/gtest.h>

#include "connection_harness.hpp"
#include "linetcp/tcp/congestion.hpp"

namespace linetcp::testing {
namespace {

using tcp::CongestionAlgorithm;
using tcp::CongestionControl;
using tcp::kTcpAck;
using tcp::kTcpPsh;
constexpr uint32_t L = TcpHarness::kLocalIss;

TEST(TcpCongestion, InitialWindowIsTenSegments) {
  TcpHarness h;
  h.established();
  EXPECT_EQ(h.conn.cwnd(), 14600u);  // RFC 6928: min(10*MSS, max(2*MSS, 14600))
  h.app_send(40000);
  for (uint32_t i = 0; i < 10; ++i) h.expect_segment(out().seq(L + 1 + i * 1460).len(1460));
  h.expect_nothing();
  // Slow start: an ACK of two segments opens room for four.
  h.send(seg().seq(h.rseq).ack(L + 1 + 2920).window(64000));
  EXPECT_EQ(h.conn.cwnd(), 14600u + 2920u);
  for (uint32_t i = 10; i < 14; ++i) h.expect_segment(out().seq(L + 1 + i * 1460).len(1460));
  h.expect_nothing();
}

TEST(TcpCongestion, CongestionAvoidanceAddsOneSegmentPerWindow) {
  CongestionControl cc;
  cc.init(CongestionAlgorithm::kNewReno, 1000, 10);
  cc.on_fast_loss(20000, base::Instant::from_ns(0));
  EXPECT_EQ(cc.ssthresh(), 10000u);
  EXPECT_EQ(cc.cwnd(), 10000u);
  EXPECT_FALSE(cc.in_slow_start());
  for (int i = 0; i < 9; ++i) cc.on_ack(1000, base::Instant::from_ns(0), Duration::millis(10));
  EXPECT_EQ(cc.cwnd(), 10000u);
  cc.on_ack(1000, base::Instant::from_ns(0), Duration::millis(10));
  EXPECT_EQ(cc.cwnd(), 11000u);
  // RFC9293 MUST-19
  cc.on_timeout(11000, base::Instant::from_ns(0));
  EXPECT_EQ(cc.cwnd(), 1000u);
  EXPECT_EQ(cc.ssthresh(), 5500u);
  EXPECT_TRUE(cc.in_slow_start());
}

TEST(TcpCongestion, NewRenoFastRetransmitAndPartialAcks) {
  TcpHarness h;
  h.established();
  h.app_send(14600);
  for (int i = 0; i < 10; ++i) h.recv();
  // Segments 1 and 3 are lost; the others raise duplicate ACKs.
  h.send(seg().seq(h.rseq).ack(L + 1).window(64000));
  h.send(seg().seq(h.rseq).ack(L + 1).window(64000));
  h.expect_nothing();
  h.send(seg().seq(h.rseq).ack(L + 1).window(64000));
  // Three duplicates: resend the first segment at once, whatever the pipe.
  h.expect_segment(out().seq(L + 1).len(1460).offset(0));
  EXPECT_TRUE(h.conn.in_recovery());
  EXPECT_EQ(h.conn.ssthresh(), 7300u);
  EXPECT_EQ(h.counters.fast_retransmits, 1u);
  for (int i = 0; i < 5; ++i) h.send(seg().seq(h.rseq).ack(L + 1).window(64000));
  h.expect_nothing();  // nothing new to send
  // A partial ACK up to the next hole: resend it (RFC 6582 step 4).
  h.send(seg().seq(h.rseq).ack(L + 2921).window(64000));
  h.expect_segment(out().seq(L + 2921).len(1460));
  EXPECT_TRUE(h.conn.in_recovery());
  h.send(seg().seq(h.rseq).ack(L + 14601).window(64000));
  EXPECT_FALSE(h.conn.in_recovery());
  EXPECT_EQ(h.conn.cwnd(), 1460u);  // min(ssthresh, FlightSize + SMSS) with nothing in flight
  EXPECT_EQ(h.counters.rto_expirations, 0u);
}

TEST(TcpCongestion, NoFastRetransmitBeforeThreeDuplicates) {
  TcpHarness h;
  h.established();
  h.app_send(14600);
  h.recv_all();
  h.send(seg().seq(h.rseq).ack(L + 1).window(64000));
  h.send(seg().seq(h.rseq).ack(L + 1).window(64000));
  // A window update is no duplicate.
  h.send(seg().seq(h.rseq).ack(L + 1).window(60000));
  h.expect_nothing();
  EXPECT_FALSE(h.conn.in_recovery());
}

class TcpSackRecovery : public ::testing::Test {
 protected:
  void SetUp() override {
    tcp::TcpParams p = plain_params();
    p.sack = true;
    h = std::make_unique<TcpHarness>(p);
    h->conn.open_passive(h->params, seg().seq(TcpHarness::kRemoteIss).flags(tcp::kTcpSyn).window(64000).mss(1460)
                                        .sack_permitted().build(), SeqNum(L), h->now);
    h->recv_all();
    h->rseq = SeqNum(TcpHarness::kRemoteIss + 1);
    h->send(seg().seq(h->rseq).ack(L + 1).window(64000));
    ASSERT_TRUE(h->conn.sack_on());
    h->app_send(14600);
    ASSERT_EQ(h->recv_all().size(), 10u);
  }
  SegBuilder dup() { return seg().seq(h->rseq).ack(L + 1).window(64000); }
  std::unique_ptr<TcpHarness> h;
};

TEST_F(TcpSackRecovery, RetransmitsOnlyTheHoles) {
  // Segment 0 and segment 3 are lost.
  const uint32_t s = L + 1;
  h->send(dup().sack({{s + 1460, s + 2920}}));
  h->send(dup().sack({{s + 1460, s + 4380}}));
  h->expect_nothing();
  h->send(dup().sack({{s + 5840, s + 7300}, {s + 1460, s + 4380}}));
  // More than DupThresh-1 segments SACKed above SND.UNA: the first hole is lost.
  h->expect_segment(out().seq(s).len(1460).offset(0));
  EXPECT_TRUE(h->conn.in_recovery());
  h->send(dup().sack({{s + 5840, s + 8760}, {s + 1460, s + 4380}}));
  h->expect_nothing();  // pipe (7300) is not below cwnd (7300) yet
  h->send(dup().sack({{s + 5840, s + 14600}, {s + 1460, s + 4380}}));
  // The pipe now leaves room: the second hole goes too, and nothing SACKed is resent.
  h->expect_segment(out().seq(s + 4380).len(1460).offset(4380));
  h->expect_nothing();
  h->send(seg().seq(h->rseq).ack(s + 4380).window(64000).sack({{s + 5840, s + 14600}}));
  h->expect_nothing();  // the hole was already resent
  h->send(seg().seq(h->rseq).ack(s + 14600).window(64000));
  EXPECT_FALSE(h->conn.in_recovery());
  EXPECT_EQ(h->counters.retransmits, 2u);
  EXPECT_EQ(h->sink.acked_until, 14600u);
}

TEST_F(TcpSackRecovery, BogusSackBlocksIgnored) {
  const uint32_t s = L + 1;
  // Beyond what was sent, below SND.UNA, empty: none of them counts.
  h->send(dup().sack({{s + 20000, s + 30000}, {s - 100, s}, {s + 3000, s + 3000}}));
  h->send(dup().sack({{s + 20000, s + 30000}}));
  EXPECT_FALSE(h->conn.in_recovery());
  h->send(dup());
  EXPECT_TRUE(h->conn.in_recovery());  // the third plain duplicate
}

TEST(TcpCongestion, CubicReducesByBetaAndGrowsBackConcave) {
  CongestionControl cc;
  const uint32_t mss = 1000;
  cc.init(CongestionAlgorithm::kCubic, mss, 10);
  // Grow in slow start to 100 segments, then a loss.
  base::Instant t = base::Instant::from_ns(1'000'000'000);
  while (cc.cwnd() < 100 * mss) cc.on_ack(mss, t, Duration::millis(100));
  const uint32_t before = cc.cwnd();
  cc.on_fast_loss(before, t);
  EXPECT_EQ(cc.cwnd(), static_cast<uint32_t>(static_cast<float>(before) * 0.7f));  // RFC 9438 beta
  // Then ACKs at a steady rate over simulated RTTs of 100 ms: the window climbs back towards
  // W_max, slower as it nears it (concave), never more than 1.5x per RTT.
  uint32_t last = cc.cwnd();
  uint32_t growth_early = 0, growth_late = 0;
  for (int rtt = 1; rtt <= 40; ++rtt) {
    t += Duration::millis(100);
    const uint32_t w = cc.cwnd();
    for (uint32_t i = 0; i < w / mss; ++i) cc.on_ack(mss, t, Duration::millis(100));
    EXPECT_LE(cc.cwnd(), w * 3 / 2 + mss);
    EXPECT_GE(cc.cwnd(), w);
    if (rtt == 2) growth_early = cc.cwnd() - last;
    if (rtt == 20) growth_late = cc.cwnd() - last;
    last = cc.cwnd();
  }
  EXPECT_GT(growth_early, growth_late);  // concave region: slowing down near W_max
  EXPECT_GT(cc.cwnd(), before * 9 / 10);  // back near where the loss happened
}

TEST(TcpCongestion, CubicConnectionStartsWithInitialWindow) {
  tcp::TcpParams p = plain_params();
  p.congestion = CongestionAlgorithm::kCubic;
  TcpHarness h(p);
  h.established();
  EXPECT_EQ(h.conn.cwnd(), 14600u);
}

TEST(TcpCongestion, IdleRestartResetsWindow) {
  TcpHarness h;
  h.established();
  h.app_send(14600);
  h.recv_all();
  h.send(seg().seq(h.rseq).ack(L + 14601).window(64000));
  EXPECT_EQ(h.conn.cwnd(), 14600u + 2920u);
  h.advance(Duration::seconds(5));  // idle for more than an RTO
  h.app_send(30000);
  EXPECT_EQ(h.recv_all().size(), 10u);
  EXPECT_EQ(h.conn.cwnd(), 14600u);
}

TEST(TcpCongestion, WindowDoesNotGrowWhileTheReceiverWindowLimitsTheSender) {
  // The peer offers 20 segments and ACKs each flight whole. cwnd is not what limits the sender,
  // so it grows only while it is under twice the flight (Linux's tcp_is_cwnd_limited in slow
  // start; RFC 7661's idea): a window that grew on every ACK (to 260 MB in a 3 s memif upload)
  // would let the sender burst that much into the network the moment the receiver opened up.
  TcpHarness h;
  h.established();
  constexpr uint32_t kOffer = 20 * 1460;
  h.send(seg().seq(h.rseq).ack(L + 1).window(kOffer));
  h.app_send(10'000'000);
  uint32_t acked = 0;
  for (int round = 0; round < 100; ++round) {
    for (const tcp::SegmentOut& s : h.recv_all()) acked = std::max(acked, (s.seq - SeqNum(L + 1)) + s.payload_len);
    h.send(seg().seq(h.rseq).ack(L + 1 + acked).window(kOffer));
  }
  EXPECT_GT(acked, 90u * kOffer) << "the sender kept the offered window full";
  EXPECT_LE(h.conn.cwnd(), 2 * kOffer + 2 * 1460) << "no growth past twice the flight";
  EXPECT_GE(h.conn.cwnd(), kOffer) << "it did grow while it was the limit";
}

TEST(TcpCongestion, WindowDoesNotGrowOnAnApplicationLimitedConnection) {
  // Request/response with 100-byte messages: one small segment in flight at a time never fills
  // the initial window, so the window stays as it started.
  TcpHarness h;
  h.established();
  for (int i = 0; i < 200; ++i) {
    h.app_send(100);
    ASSERT_EQ(h.recv_all().size(), 1u);
    h.send(h.peer_data(100).ack(L + 1 + 100 * static_cast<uint32_t>(i + 1)).flags(kTcpAck | kTcpPsh));
  }
  EXPECT_EQ(h.conn.cwnd(), 14600u);
}

}  // namespace
}  // namespace linetcp::testing
