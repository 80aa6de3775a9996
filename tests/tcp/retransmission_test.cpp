// Retransmission: RFC 6298 RTO with Karn's algorithm and backoff, SYN retransmission, R1/R2
// (RFC 9293 §3.8.3) with a per-connection R2, and the RttEstimator arithmetic.
#include <gtest/gtest.h>

#include "connection_harness.hpp"

namespace linetcp::testing {
namespace {

using tcp::CloseReason;
using tcp::kTcpAck;
using tcp::kTcpFin;
using tcp::kTcpPsh;
using tcp::kTcpRst;
using tcp::kTcpSyn;
using tcp::RttEstimator;
constexpr uint32_t L = TcpHarness::kLocalIss;
constexpr uint32_t R = TcpHarness::kRemoteIss;

TEST(TcpRtt, Rfc6298Arithmetic) {
  RttEstimator r(Duration::seconds(1), Duration::millis(200), Duration::seconds(120));
  EXPECT_EQ(r.rto(), Duration::seconds(1));  // (2.1)
  r.sample(Duration::millis(100));            // (2.2)
  EXPECT_EQ(r.srtt(), Duration::millis(100));
  EXPECT_EQ(r.rttvar(), Duration::millis(50));
  EXPECT_EQ(r.rto(), Duration::millis(300));
  r.sample(Duration::millis(200));  // (2.3)
  EXPECT_EQ(r.rttvar(), Duration::nanos((50'000'000 * 3 + 100'000'000) / 4));
  EXPECT_EQ(r.srtt(), Duration::nanos((100'000'000 * 7 + 200'000'000) / 8));
  // RFC9293 MUST-19
  const Duration base = r.rto();
  r.back_off();
  EXPECT_EQ(r.rto(), base * 2);
  r.back_off();
  EXPECT_EQ(r.rto(), base * 4);
  for (int i = 0; i < 20; ++i) r.back_off();
  EXPECT_EQ(r.rto(), Duration::seconds(120));  // (5.5) bounded
  r.sample(Duration::millis(1));
  EXPECT_EQ(r.backoff(), 0);  // a new sample clears the backoff
  RttEstimator fast(Duration::seconds(1), Duration::millis(200), Duration::seconds(120));
  fast.sample(Duration::millis(1));
  EXPECT_EQ(fast.rto(), Duration::millis(200));  // lower bound
}

TEST(TcpRetransmit, SynRetransmittedWithBackoffThenGivesUp) {
  TcpHarness h;
  h.syn_sent();
  const Instant t0 = h.now;
  h.advance(Duration::seconds(400));
  // RFC9293 MUST-22
  // 1, 2, 4, ... s; the first expiry is at t0 + 1 s, the last one R2 (180 s) after it.
  const int64_t expected[] = {1, 3, 7, 15, 31, 63, 127};
  for (int64_t t : expected) {
    h.expect_segment(out().flags(kTcpSyn).seq(L).mss(1460));
    EXPECT_EQ((h.last_time() - t0).ms(), t * 1000);
  }
  h.expect_nothing();  // no RST from SYN-SENT
  EXPECT_EQ(h.conn.state(), State::kClosed);
  // RFC9293 MUST-23
  EXPECT_GE(h.params.r2_syn, Duration::seconds(180));
  EXPECT_EQ(h.sink.reason, CloseReason::kTimeout);
  EXPECT_EQ(h.counters.syn_retransmits, 7u);
}

TEST(TcpRetransmit, SynAckRetransmitted) {
  TcpHarness h;
  h.syn_received();
  h.advance(Duration::millis(3500));
  h.expect_segment(out().flags(kTcpSyn | kTcpAck).seq(L).ack(R + 1));
  EXPECT_EQ(h.last_time() - (h.now - Duration::millis(3500)), Duration::seconds(1));
  h.expect_segment(out().flags(kTcpSyn | kTcpAck).seq(L).ack(R + 1));
  EXPECT_EQ(h.last_time() - (h.now - Duration::millis(3500)), Duration::seconds(3));
  h.expect_nothing();
  // The handshake completes; Karn: the retransmitted SYN-ACK is not timed.
  h.send(seg().seq(R + 1).ack(L + 1).window(1000));
  EXPECT_EQ(h.conn.state(), State::kEstablished);
  EXPECT_FALSE(h.conn.rtt().has_sample());
}

TEST(TcpRetransmit, DataRtoBacksOffAndCollapsesWindow) {
  TcpHarness h;
  h.established();
  h.app_send(3000);
  h.expect_segment(out().seq(L + 1).len(1460));
  h.expect_segment(out().seq(L + 1461).len(1460));
  h.expect_nothing();  // Nagle holds the 80-byte tail
  const Instant t0 = h.now;
  EXPECT_EQ(h.conn.rto(), Duration::millis(200));
  h.advance(Duration::millis(200));
  // RFC9293 MUST-19
  h.expect_segment(out().seq(L + 1).len(1460).offset(0));
  EXPECT_EQ(h.last_time() - t0, Duration::millis(200));
  EXPECT_EQ(h.conn.cwnd(), 1460u);  // loss window: one segment
  EXPECT_EQ(h.conn.ssthresh(), 2920u);
  h.expect_nothing();
  h.advance(Duration::millis(400));
  h.expect_segment(out().seq(L + 1).len(1460));
  EXPECT_EQ(h.last_time() - t0, Duration::millis(600));
  // The ACK of the first segment: slow start sends the next two.
  h.send(seg().seq(h.rseq).ack(L + 1461).window(64000));
  h.expect_segment(out().seq(L + 1461).len(1460));
  h.expect_nothing();
  EXPECT_EQ(h.counters.retransmits, 3u);
  h.send(seg().seq(h.rseq).ack(L + 2921).window(64000));
  h.expect_segment(out().flags(kTcpAck | kTcpPsh).seq(L + 2921).len(80));
}

TEST(TcpRetransmit, KarnIgnoresRetransmittedSegments) {
  TcpHarness h;
  // A handshake of 100 ms gives the first sample.
  h.conn.open_active(h.params, SeqNum(L), h.now);
  h.recv_all();
  h.now += Duration::millis(100);
  h.send(seg().seq(R).flags(kTcpSyn).ack(L + 1).window(64000).mss(1460));
  h.rseq = SeqNum(R + 1);
  h.recv_all();
  EXPECT_EQ(h.conn.rtt().srtt(), Duration::millis(100));
  EXPECT_EQ(h.conn.rto(), Duration::millis(300));
  h.app_send(100);
  h.expect_segment(out().flags(kTcpAck | kTcpPsh).len(100));
  h.advance(Duration::millis(300));
  h.expect_segment(out().flags(kTcpAck | kTcpPsh).len(100));
  // The ACK comes 5 ms after the retransmission: ambiguous, so no sample (MUST-18).
  h.advance(Duration::millis(5));
  // RFC9293 MUST-18
  h.send(seg().seq(h.rseq).ack(L + 101).window(64000));
  EXPECT_EQ(h.conn.rtt().srtt(), Duration::millis(100));
  EXPECT_EQ(h.conn.rto(), Duration::millis(300));  // backoff cleared by the new ACK
  // A fresh segment is timed again.
  h.app_send(100);
  h.expect_segment(out().flags(kTcpAck | kTcpPsh).len(100));
  h.advance(Duration::millis(20));
  h.send(seg().seq(h.rseq).ack(L + 201).window(64000));
  EXPECT_EQ(h.conn.rtt().srtt(), Duration::nanos((100'000'000ll * 7 + 20'000'000) / 8));
}

TEST(TcpRetransmit, TimerRestartsOnNewAck) {
  TcpHarness h;
  h.established();
  h.app_send(2920);
  h.recv_all();
  h.advance(Duration::millis(150));
  h.send(seg().seq(h.rseq).ack(L + 1461).window(64000));  // (5.3) restart the timer
  h.advance(Duration::millis(199));
  h.expect_nothing();
  h.advance(Duration::millis(1));
  h.expect_segment(out().flags(kTcpAck | kTcpPsh).seq(L + 1461).len(1460));
  h.send(seg().seq(h.rseq).ack(L + 2921).window(64000));  // (5.2) all acked: timer off
  EXPECT_TRUE(h.conn.next_deadline().is_never());
}

TEST(TcpRetransmit, R1AdviceThenR2Closes) {
  tcp::TcpParams p = plain_params();
  p.r2 = Duration::seconds(10);
  TcpHarness h(p);
  h.established();
  h.app_send(100);
  h.recv_all();
  h.advance(Duration::millis(200 + 400 + 800));
  // RFC9293 MUST-20
  EXPECT_EQ(h.counters.r1_exceeded, 1u);  // negative advice after R1 = 3 retransmissions
  EXPECT_EQ(h.conn.state(), State::kEstablished);
  h.advance(Duration::seconds(30));
  EXPECT_EQ(h.conn.state(), State::kClosed);
  EXPECT_EQ(h.sink.reason, CloseReason::kTimeout);
  EXPECT_EQ(h.counters.r2_timeouts, 1u);
  auto segs = h.recv_all();
  ASSERT_FALSE(segs.empty());
  EXPECT_EQ(segs.back().flags, kTcpRst);
}

TEST(TcpRetransmit, UserTimeoutIsPerConnection) {
  TcpHarness h;
  h.established();
  // RFC9293 MUST-21
  h.conn.set_user_timeout(Duration::seconds(2));
  h.app_send(100);
  h.recv_all();
  h.advance(Duration::seconds(5));
  EXPECT_EQ(h.conn.state(), State::kClosed);
  EXPECT_EQ(h.sink.reason, CloseReason::kTimeout);
  // Another connection with the same params keeps the default (100 s).
  TcpHarness o;
  o.established();
  o.app_send(100);
  o.recv_all();
  o.advance(Duration::seconds(60));
  EXPECT_EQ(o.conn.state(), State::kEstablished);
}

TEST(TcpRetransmit, AckResetsRetryCount) {
  tcp::TcpParams p = plain_params();
  p.r2 = Duration::seconds(3);
  TcpHarness h(p);
  h.established();
  for (int round = 0; round < 5; ++round) {
    h.app_send(100);
    h.recv_all();
    h.advance(Duration::millis(1400));  // three retransmissions, under R2
    h.recv_all();
    h.send(seg().seq(h.rseq).ack(h.conn.snd_max()).window(64000));
    EXPECT_EQ(h.conn.state(), State::kEstablished) << round;
  }
}

}  // namespace
}  // namespace linetcp::testing
