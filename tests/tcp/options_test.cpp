// Options as the connection uses them: MSS (RFC 9293 §3.7.1), window scale and timestamps with
// PAWS (RFC 7323), SACK-permitted (RFC 2018), and segments whose options were malformed.
#include <gtest/gtest.h>

#include "connection_harness.hpp"

namespace linetcp::testing {
namespace {

using tcp::kTcpAck;
using tcp::kTcpPsh;
using tcp::kTcpRst;
using tcp::kTcpSyn;
using tcp::TcpConnection;
constexpr uint32_t L = TcpHarness::kLocalIss;
constexpr uint32_t R = TcpHarness::kRemoteIss;

TEST(TcpOptions, SendMssDefaultsTo536WithoutOption) {
  TcpHarness h;
  // RFC9293 MUST-15
  h.conn.open_passive(h.params, seg().seq(R).flags(kTcpSyn).window(60000).build(), SeqNum(L), h.now);
  EXPECT_EQ(h.conn.send_mss(), 536);
  h.expect_segment(out().flags(kTcpSyn | kTcpAck).mss(1460));
  h.send(seg().seq(R + 1).ack(L + 1).window(60000));
  h.app_send(2000);
  h.expect_segment(out().seq(L + 1).len(536));
  h.expect_segment(out().seq(L + 537).len(536));
}

TEST(TcpOptions, EffectiveSendMssIsTheSmallerLessOptions) {
  // RFC9293 MUST-16
  tcp::TcpParams p = plain_params();
  p.mss = 1400;  // our MTU is smaller than the peer's
  TcpHarness h(p);
  h.conn.open_passive(h.params, seg().seq(R).flags(kTcpSyn).window(60000).mss(1460).build(), SeqNum(L), h.now);
  // RFC9293 MUST-67
  h.expect_segment(out().flags(kTcpSyn | kTcpAck).mss(1400));
  EXPECT_EQ(h.conn.send_mss(), 1400);
  // With timestamps, each segment's 12 option bytes come off the payload.
  tcp::TcpParams pt = plain_params();
  pt.timestamps = true;
  TcpHarness t(pt);
  t.conn.open_passive(t.params, seg().seq(R).flags(kTcpSyn).window(60000).mss(1000).ts(7, 0).build(), SeqNum(L), t.now);
  t.expect_segment(out().flags(kTcpSyn | kTcpAck).timestamps(true).ts_ecr(7));
  t.send(seg().seq(R + 1).ack(L + 1).window(60000).ts(8, TcpConnection::ts_clock(t.now)));
  t.app_send(3000);
  t.expect_segment(out().seq(L + 1).len(988).timestamps(true).ts_ecr(8));
}

TEST(TcpOptions, MssOnlyOnSyn) {
  TcpHarness h;
  h.established();
  h.app_send(10);
  auto s = h.expect_segment(out().flags(kTcpAck | kTcpPsh).len(10));
  // RFC9293 MUST-65
  EXPECT_FALSE(s.opts.has_mss);
  h.send(h.peer_data(10));
  h.advance(Duration::millis(40));
  auto a = h.expect_segment(out().ack(h.rseq));
  EXPECT_FALSE(a.opts.has_mss);
}

TEST(TcpOptions, TinyPeerMssStillMakesProgress) {
  TcpHarness h;
  h.conn.open_passive(h.params, seg().seq(R).flags(kTcpSyn).window(60000).mss(1).build(), SeqNum(L), h.now);
  EXPECT_GE(h.conn.send_mss(), 1);
  h.recv_all();
}

TEST(TcpOptions, WindowScaleNegotiatedBothWays) {
  tcp::TcpParams p = plain_params();
  p.window_scale = 7;
  p.rcv_buffer = 1 << 20;
  TcpHarness h(p);
  h.conn.open_passive(h.params, seg().seq(R).flags(kTcpSyn).window(65535).mss(1460).ws(2).build(), SeqNum(L), h.now);
  // The SYN-ACK's own window is never scaled.
  h.expect_segment(out().flags(kTcpSyn | kTcpAck).ws(7).window(65535));
  h.send(seg().seq(R + 1).ack(L + 1).window(1000));
  EXPECT_EQ(h.conn.snd_wnd(), 4000u);  // 1000 << 2
  EXPECT_EQ(h.conn.snd_window_shift(), 2);
  EXPECT_EQ(h.conn.rcv_window_shift(), 7);
  h.send(h.peer_data(100));
  h.advance(Duration::millis(40));
  h.expect_segment(out().ack(h.rseq).window(8192));  // 2^20 >> 7
}

TEST(TcpOptions, WindowIsUnsigned) {
  tcp::TcpParams p = plain_params();
  p.window_scale = 7;
  TcpHarness h(p);
  h.conn.open_passive(h.params, seg().seq(R).flags(kTcpSyn).window(65535).ws(14).build(), SeqNum(L), h.now);
  h.recv_all();
  // RFC9293 MUST-1
  // 0xFFFF is 65535, not -1; scaled by 2^14 it still fits the 32-bit window (REC-1).
  EXPECT_EQ(h.conn.snd_wnd(), 65535u);
  h.send(seg().seq(R + 1).ack(L + 1).window(0xFFFF));
  EXPECT_EQ(h.conn.snd_wnd(), 0xFFFFu << 14);
  h.app_send(30000);
  EXPECT_EQ(h.recv_all().size(), 10u);  // limited by cwnd, not by a negative window
}

TEST(TcpOptions, WindowScaleClampedTo14) {
  tcp::TcpParams p = plain_params();
  p.window_scale = 3;
  TcpHarness h(p);
  h.conn.open_passive(h.params, seg().seq(R).flags(kTcpSyn).window(65535).ws(15).build(), SeqNum(L), h.now);
  EXPECT_EQ(h.conn.snd_window_shift(), 14);
}

TEST(TcpOptions, NoWindowScaleWithoutPeerOption) {
  tcp::TcpParams p = plain_params();
  p.window_scale = 7;
  TcpHarness h(p);
  h.conn.open_passive(h.params, seg().seq(R).flags(kTcpSyn).window(65535).build(), SeqNum(L), h.now);
  h.expect_segment(out().flags(kTcpSyn | kTcpAck).ws(-1));
  EXPECT_EQ(h.conn.rcv_window_shift(), 0);
  EXPECT_EQ(h.conn.snd_window_shift(), 0);
}

TEST(TcpOptions, ActiveSynOffersEverythingEnabled) {
  tcp::TcpParams p = plain_params();
  p.timestamps = true;
  p.sack = true;
  p.window_scale = 5;
  TcpHarness h(p);
  h.conn.open_active(h.params, SeqNum(L), h.now);
  h.expect_segment(out().flags(kTcpSyn).ws(5).sack_permitted(true).ts_ecr(0).mss(1460));
  // The peer answers with none of them: none is used.
  h.send(seg().seq(R).flags(kTcpSyn).ack(L + 1).window(1000));
  EXPECT_FALSE(h.conn.timestamps_on());
  EXPECT_FALSE(h.conn.sack_on());
  EXPECT_EQ(h.conn.rcv_window_shift(), 0);
  h.expect_segment(out().seq(L + 1).timestamps(false));
}

class TcpTimestamps : public ::testing::Test {
 protected:
  void SetUp() override {
    tcp::TcpParams p = plain_params();
    p.timestamps = true;
    h = std::make_unique<TcpHarness>(p);
    h->conn.open_passive(h->params, seg().seq(R).flags(kTcpSyn).window(60000).mss(1460).ts(100, 0).build(),
                         SeqNum(L), h->now);
    h->expect_segment(out().flags(kTcpSyn | kTcpAck).ts_ecr(100));
    h->send(seg().seq(R + 1).ack(L + 1).window(60000).ts(101, TcpConnection::ts_clock(h->now)));
    h->rseq = SeqNum(R + 1);
    ASSERT_EQ(h->conn.state(), State::kEstablished);
  }
  std::unique_ptr<TcpHarness> h;
};

TEST_F(TcpTimestamps, EchoesNewestInSequenceTsval) {
  EXPECT_TRUE(h->conn.timestamps_on());
  EXPECT_EQ(h->conn.ts_recent(), 101u);
  h->send(h->peer_data(100).ts(150, 0));
  h->send(h->peer_data(100).ts(160, 0));
  h->expect_segment(out().ack(h->rseq).ts_ecr(150));  // RFC 7323 §4.3: the earliest unacked
  // An out-of-order segment's TSval is not recorded.
  h->send(seg().seq(h->rseq + 500).ack(L + 1).window(60000).stream(600, 100).ts(900, 0));
  h->expect_segment(out().ack(h->rseq).ts_ecr(150));
  // The next in-sequence segment updates it.
  h->send(h->peer_data(100).ts(170, 0));
  h->advance(Duration::millis(40));
  h->expect_segment(out().ack(h->rseq).ts_ecr(170));
}

TEST_F(TcpTimestamps, PawsDropsOldSegmentsAndAcks) {
  h->send(h->peer_data(100).ts(200, 0));
  // A segment with an older TSval (an old duplicate from a previous wrap) is dropped.
  h->send(seg().seq(h->rseq).ack(L + 1).window(60000).stream(100, 100).ts(150, 0));
  EXPECT_EQ(h->counters.paws_rejected, 1u);
  EXPECT_EQ(h->sink.received.size(), 100u);
  h->expect_segment(out().ack(h->rseq).ts_ecr(200));
  // RST is exempt from PAWS (RFC 7323 §5.3 R1).
  h->send(seg().flags(kTcpRst).seq(h->rseq).ts(1, 0));
  EXPECT_EQ(h->conn.state(), State::kClosed);
}

TEST_F(TcpTimestamps, TsvalWrapIsNotOld) {
  h->conn.on_segment(seg().seq(h->rseq).ack(L + 1).window(60000).stream(0, 10).ts(0x7FFFFFF0u, 0).build(),
                     h->now, h->ctx, h->sink);
  h->rseq += 10;
  h->send(seg().seq(h->rseq).ack(L + 1).window(60000).stream(10, 10).ts(0x80000010u, 0));
  h->send(seg().seq(h->rseq + 10).ack(L + 1).window(60000).stream(20, 10).ts(0x00000005u + 0x80000010u, 0));
  EXPECT_EQ(h->counters.paws_rejected, 0u);
  EXPECT_EQ(h->sink.received.size(), 30u);
}

TEST(TcpOptions, SackPermittedNegotiatedAndBlocksSent) {
  tcp::TcpParams p = plain_params();
  p.sack = true;
  TcpHarness h(p);
  h.conn.open_passive(h.params, seg().seq(R).flags(kTcpSyn).window(60000).sack_permitted().build(), SeqNum(L), h.now);
  h.expect_segment(out().flags(kTcpSyn | kTcpAck).sack_permitted(true));
  h.send(seg().seq(R + 1).ack(L + 1).window(60000));
  EXPECT_TRUE(h.conn.sack_on());
  h.send(seg().seq(R + 1001).ack(L + 1).window(60000).stream(1000, 500));
  h.expect_segment(out().ack(R + 1).sack({{R + 1001, R + 1501}}));
  h.send(seg().seq(R + 3001).ack(L + 1).window(60000).stream(3000, 500));
  // The block with the newest segment first (RFC 2018 §4).
  h.expect_segment(out().ack(R + 1).sack({{R + 3001, R + 3501}, {R + 1001, R + 1501}}));
  h.send(seg().seq(R + 1).ack(L + 1).window(60000).stream(0, 1000));
  h.expect_segment(out().ack(R + 1501).sack({{R + 3001, R + 3501}}));
  EXPECT_EQ(h.sink.received, h.expected_received(0, 1500));
}

TEST(TcpOptions, NoSackBlocksWithoutPermission) {
  tcp::TcpParams p = plain_params();
  p.sack = true;
  TcpHarness h(p);
  h.conn.open_passive(h.params, seg().seq(R).flags(kTcpSyn).window(60000).build(), SeqNum(L), h.now);
  h.expect_segment(out().flags(kTcpSyn | kTcpAck).sack_permitted(false));
  h.send(seg().seq(R + 1).ack(L + 1).window(60000));
  h.send(seg().seq(R + 1001).ack(L + 1).window(60000).stream(1000, 500));
  h.expect_segment(out().ack(R + 1).sack({}));
}

TEST(TcpOptions, OptionsAcceptedOnAnySegment) {
  tcp::TcpParams p = plain_params();
  p.timestamps = true;
  TcpHarness h(p);
  h.conn.open_passive(h.params, seg().seq(R).flags(kTcpSyn).window(60000).ts(5, 0).build(), SeqNum(L), h.now);
  h.recv_all();
  // RFC9293 MUST-5
  // An MSS option on a non-SYN segment is ignored, the timestamp in it is used.
  h.send(seg().seq(R + 1).ack(L + 1).window(60000).mss(100).ts(9, 0));
  EXPECT_EQ(h.conn.state(), State::kEstablished);
  EXPECT_EQ(h.conn.ts_recent(), 9u);
  EXPECT_EQ(h.conn.send_mss(), 536);
}

TEST(TcpOptions, MalformedOptionsStillProcessed) {
  TcpHarness h;
  h.established();
  // RFC9293 MUST-7
  // The wire parser stopped at an illegal length; the options before it and the segment stay.
  h.send(h.peer_data(100).malformed());
  EXPECT_EQ(h.counters.options_malformed, 1u);
  EXPECT_EQ(h.sink.received.size(), 100u);
  // RFC9293 MUST-6
  // Unknown options never reach the connection: a segment carrying only those has none set.
  h.send(h.peer_data(100));
  EXPECT_EQ(h.sink.received.size(), 200u);
  // A SYN with a malformed option list opens a connection with defaults.
  TcpHarness s;
  s.conn.open_passive(s.params, seg().seq(R).flags(kTcpSyn).window(60000).malformed().build(), SeqNum(L), s.now);
  s.expect_segment(out().flags(kTcpSyn | kTcpAck).ack(R + 1));
  EXPECT_EQ(s.conn.send_mss(), 536);
}

}  // namespace
}  // namespace linetcp::testing
