// Flow control and the timers around it: zero-window probing and the persist timer, shrinking
// windows, SWS avoidance on both sides, delayed ACKs, Nagle, keep-alive, urgent data and PSH.
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
using tcp::kTcpUrg;
constexpr uint32_t L = TcpHarness::kLocalIss;

// --- zero window and persist ---------------------------------------------------------------

TEST(TcpFlow, ZeroWindowProbedUntilItOpens) {
  TcpHarness h;
  h.established();
  h.send(seg().seq(h.rseq).ack(L + 1).window(0));
  h.app_send(1460);
  h.expect_nothing();
  const Instant t0 = h.now;
  h.advance(Duration::millis(200));
  // RFC9293 MUST-36
  h.expect_segment(out().seq(L + 1).len(1).offset(0));  // one new octet beyond the window
  EXPECT_EQ(h.last_time() - t0, Duration::millis(200));
  h.send(seg().seq(h.rseq).ack(L + 1).window(0));  // not taken
  h.advance(Duration::millis(600));
  // RFC9293 MUST-35
  h.expect_segment(out().seq(L + 1).len(1));  // the same octet again, backed off
  EXPECT_EQ(h.last_time() - t0, Duration::millis(400));
  h.expect_segment(out().seq(L + 1).len(1));
  EXPECT_EQ(h.last_time() - t0, Duration::millis(800));
  h.expect_nothing();
  h.send(seg().seq(h.rseq).ack(L + 1).window(10000));  // open
  h.expect_segment(out().flags(kTcpAck | kTcpPsh).seq(L + 1).len(1460).offset(0));
  h.send(seg().seq(h.rseq).ack(L + 1461).window(10000));
  EXPECT_EQ(h.sink.acked_until, 1460u);
  EXPECT_TRUE(h.conn.next_deadline().is_never());
}

TEST(TcpFlow, ProbeOctetTakenByPeer) {
  TcpHarness h;
  h.established();
  h.send(seg().seq(h.rseq).ack(L + 1).window(0));
  h.app_send(100);
  h.advance(Duration::millis(200));
  h.expect_segment(out().seq(L + 1).len(1));
  h.send(seg().seq(h.rseq).ack(L + 2).window(0));  // taken, still closed
  EXPECT_EQ(h.sink.acked_until, 1u);
  h.send(seg().seq(h.rseq).ack(L + 2).window(1000));
  h.expect_segment(out().flags(kTcpAck | kTcpPsh).seq(L + 2).len(99).offset(1));
}

TEST(TcpFlow, ZeroWindowMayStayClosedIndefinitely) {
  TcpHarness h;
  h.established();
  h.send(seg().seq(h.rseq).ack(L + 1).window(0));
  h.app_send(1000);
  // RFC9293 MUST-37
  for (int minute = 0; minute < 120; ++minute) {
    h.advance(Duration::seconds(60));
    for (const auto& s : h.recv_all()) {
      EXPECT_EQ(s.payload_len, 1u);
      h.send(seg().seq(h.rseq).ack(s.seq).window(0));  // answered, window still zero
    }
  }
  EXPECT_EQ(h.conn.state(), State::kEstablished);
  EXPECT_GT(h.counters.zero_window_probes, 100u);
  EXPECT_EQ(h.counters.r2_timeouts, 0u);
}

TEST(TcpFlow, ShrunkWindowIsNotALossAndDoesNotTimeOut) {
  TcpHarness h;
  h.established();
  h.app_send(2920);
  h.expect_segment(out().seq(L + 1).len(1460));
  h.expect_segment(out().flags(kTcpAck | kTcpPsh).seq(L + 1461).len(1460));
  // The peer takes the first segment and shrinks its window to nothing: the second lies
  // beyond the right edge (SHLD-14 says it should not, MUST-34 says cope).
  // RFC9293 MUST-34
  h.send(seg().seq(h.rseq).ack(L + 1461).window(0));
  h.app_send(100);
  h.expect_nothing();  // no new data into a shrunk window
  h.advance(Duration::seconds(600));  // far past R2 (100 s)
  EXPECT_EQ(h.conn.state(), State::kEstablished);
  auto probes = h.recv_all();
  ASSERT_FALSE(probes.empty());
  for (const auto& p : probes) EXPECT_EQ(p.seq, SeqNum(L + 1461));
  EXPECT_EQ(probes.front().payload_len, 1u);
  h.send(seg().seq(h.rseq).ack(L + 1461).window(20000));
  h.expect_segment(out().seq(L + 1461).len(1460).offset(1460));
  h.expect_nothing();  // Nagle
  h.send(seg().seq(h.rseq).ack(L + 2921).window(20000));
  h.expect_segment(out().flags(kTcpAck | kTcpPsh).seq(L + 2921).len(100));
}

// --- silly window syndrome -------------------------------------------------------------------

TEST(TcpFlow, SenderSwsAvoidance) {
  TcpHarness h;
  h.established();  // the peer has offered 64000
  h.send(seg().seq(h.rseq).ack(L + 1).window(2000));
  h.app_send(4380);
  // RFC9293 MUST-38
  h.expect_segment(out().seq(L + 1).len(1460));
  h.expect_nothing();  // 540 usable: less than an MSS and less than half the largest window
  h.send(seg().seq(h.rseq).ack(L + 1461).window(2000));
  h.expect_segment(out().seq(L + 1461).len(1460));
  h.expect_nothing();
  h.send(seg().seq(h.rseq).ack(L + 2921).window(64000));
  h.expect_segment(out().flags(kTcpAck | kTcpPsh).seq(L + 2921).len(1460));
}

TEST(TcpFlow, SenderSwsOverrideTimeout) {
  TcpHarness h;
  h.established();
  h.send(seg().seq(h.rseq).ack(L + 1).window(500));
  h.app_send(1460);
  h.expect_nothing();
  h.advance(Duration::millis(200));
  // RFC9293 MUST-38
  h.expect_segment(out().seq(L + 1).len(500));
}

TEST(TcpFlow, ReceiverSwsAvoidance) {
  TcpHarness h;
  h.established();
  for (int i = 0; i < 5; ++i) h.send(h.peer_data(2000));
  h.conn.hold(10000);  // the application keeps it all for now
  h.expect_segment(out().ack(h.rseq).window(54000));
  // RFC9293 MUST-39
  h.conn.release(100);  // too little to move the right edge
  h.send(h.peer_data(1000));
  h.advance(Duration::millis(40));
  h.expect_segment(out().ack(h.rseq).window(53000));
  h.conn.release(1400);  // 1500 in all: at least an MSS
  h.send(h.peer_data(1000));
  h.advance(Duration::millis(40));
  h.expect_segment(out().ack(h.rseq).window(55500));
}

TEST(TcpFlow, ClosedReceiveWindowReopensWithUpdate) {
  TcpHarness h;
  h.established();
  for (int i = 0; i < 40; ++i) h.send(h.peer_data(1600));
  h.conn.hold(64000);
  h.expect_segment(out().ack(h.rseq).window(0));
  // More data into the closed window is dropped and answered.
  h.send(seg().seq(h.rseq).ack(L + 1).window(1000).stream(64000, 100));
  h.expect_segment(out().ack(h.rseq).window(0));
  EXPECT_EQ(h.sink.received.size(), 64000u);
  h.conn.release(500);
  h.expect_nothing();  // not worth an update
  h.conn.release(1000);
  // RFC9293 MUST-39
  h.expect_segment(out().ack(h.rseq).window(1500));
  h.conn.release(62500);
  h.expect_segment(out().ack(h.rseq).window(64000));
}

TEST(TcpFlow, RightEdgeNeverMovesLeft) {
  TcpHarness h;
  h.established();
  SeqNum edge = h.rseq + 64000;
  for (int i = 0; i < 30; ++i) {
    h.send(h.peer_data(1000));
    h.conn.hold(1000);
    for (const auto& s : h.recv_all()) {
      const SeqNum e = s.ack + s.window;
      EXPECT_GE(e, edge);
      edge = e;
    }
    h.advance(Duration::millis(40));
    for (const auto& s : h.recv_all()) {
      const SeqNum e = s.ack + s.window;
      EXPECT_GE(e, edge);
      edge = e;
    }
  }
}

// --- delayed ACK -----------------------------------------------------------------------------

TEST(TcpFlow, DelayedAckUnderHalfASecond) {
  TcpHarness h;
  h.established();
  h.send(h.peer_data(100));
  h.expect_nothing();
  const Instant t0 = h.now;
  h.advance(Duration::millis(500));
  // RFC9293 MUST-40
  h.expect_segment(out().seq(L + 1).ack(h.rseq));
  EXPECT_LT(h.last_time() - t0, Duration::millis(500));
  EXPECT_EQ(h.last_time() - t0, h.params.delayed_ack);
}

TEST(TcpFlow, AckEverySecondFullSegment) {
  TcpHarness h;
  h.established();
  // RFC9293 MUST-58
  h.send(h.peer_data(1460));
  h.expect_nothing();
  h.send(h.peer_data(1460));
  h.expect_segment(out().ack(h.rseq));
  h.send(h.peer_data(1460));
  h.expect_nothing();
  h.advance(Duration::millis(40));
  h.expect_segment(out().ack(h.rseq));
}

TEST(TcpFlow, OneAckForABurst) {
  TcpHarness h;
  h.established();
  // RFC9293 MUST-59
  // Five segments arrive in one receive burst before output is polled: one ACK for all.
  for (int i = 0; i < 5; ++i) h.send(h.peer_data(1000));
  h.expect_segment(out().ack(h.rseq));
  h.expect_nothing();
}

TEST(TcpFlow, DataPiggybacksTheAck) {
  TcpHarness h;
  h.established();
  h.send(h.peer_data(100));
  h.app_send(50);
  h.expect_segment(out().flags(kTcpAck | kTcpPsh).ack(h.rseq).len(50));
  h.advance(Duration::millis(100));
  h.expect_nothing();  // the delayed ACK was satisfied
}

TEST(TcpFlow, PushedSegmentOnAOneWayConnectionIsAckedAtOnce) {
  // A bulk upload's last segment of a write: the sender has nothing more (PSH) and we send no
  // data, so no response would carry a delayed ACK. It goes at once (Linux does the same outside
  // pingpong mode); a segment without PSH still waits. RFC9293 SHLD-18 permits either.
  TcpHarness h;
  h.established();
  h.send(h.peer_data(1460));
  h.send(h.peer_data(1460));
  h.expect_segment(out().flags(kTcpAck).ack(h.rseq).len(0));  // every second segment
  h.send(h.peer_data(1120).flags(kTcpAck | kTcpPsh));  // alone, the end of the write
  h.expect_segment(out().flags(kTcpAck).ack(h.rseq).len(0));
  EXPECT_EQ(h.counters.pushed_acks, 1u);
  h.send(h.peer_data(1460));  // alone, not pushed: more is coming, so it waits
  h.expect_nothing();
  const Instant t0 = h.now;
  h.advance(Duration::millis(100));
  h.expect_segment(out().flags(kTcpAck).ack(h.rseq).len(0));
  EXPECT_EQ(h.last_time() - t0, h.params.delayed_ack);
  EXPECT_EQ(h.counters.pushed_acks, 1u);
}

TEST(TcpFlow, RequestResponsePeerKeepsItsDelayedAckUntilTheTimerFiresAlone) {
  TcpHarness h;
  h.established();
  // A request, answered at once: the response carries the ACK, and from then on we are
  // answering (interactive), so the next pushed request waits for our response or the timer.
  h.send(h.peer_data(100).flags(kTcpAck | kTcpPsh));
  h.app_send(50);
  h.expect_segment(out().flags(kTcpAck | kTcpPsh).ack(h.rseq).len(50));
  h.send(seg().seq(h.rseq).ack(L + 51));
  h.send(h.peer_data(100).flags(kTcpAck | kTcpPsh));
  h.expect_nothing();
  const Instant t0 = h.now;
  h.advance(Duration::millis(100));
  // RFC9293 MUST-40
  h.expect_segment(out().flags(kTcpAck).ack(h.rseq).len(0));  // no response came: the timer sent it
  EXPECT_EQ(h.last_time() - t0, h.params.delayed_ack);
  // The ACK had to go alone: not interactive any more, the next pushed segment is ACKed at once.
  h.send(h.peer_data(100).flags(kTcpAck | kTcpPsh));
  h.expect_segment(out().flags(kTcpAck).ack(h.rseq).len(0));
  EXPECT_EQ(h.counters.pushed_acks, 2u);  // the first request and the last segment
}

// --- Nagle -----------------------------------------------------------------------------------

TEST(TcpFlow, NagleOnByDefaultAndSwitchable) {
  TcpHarness h;
  h.established();
  EXPECT_TRUE(h.params.nagle);
  h.app_send(100);
  h.expect_segment(out().flags(kTcpAck | kTcpPsh).seq(L + 1).len(100));
  h.app_send(100);
  h.expect_nothing();  // a small segment waits while data is unacknowledged
  h.app_send(100);
  h.expect_nothing();
  h.send(seg().seq(h.rseq).ack(L + 101).window(64000));
  h.expect_segment(out().flags(kTcpAck | kTcpPsh).seq(L + 101).len(200));  // coalesced
  // RFC9293 MUST-17
  h.conn.set_nodelay(true);
  h.app_send(10);
  h.expect_segment(out().flags(kTcpAck | kTcpPsh).seq(L + 301).len(10));
  h.app_send(10);
  h.expect_segment(out().flags(kTcpAck | kTcpPsh).seq(L + 311).len(10));
}

TEST(TcpFlow, NagleOffFromParams) {
  tcp::TcpParams p = plain_params();
  p.nagle = false;
  TcpHarness h(p);
  h.established();
  h.app_send(10);
  h.expect_segment(out().flags(kTcpAck | kTcpPsh).len(10));
  h.app_send(10);
  h.expect_segment(out().flags(kTcpAck | kTcpPsh).len(10));
}

// --- PSH -------------------------------------------------------------------------------------

TEST(TcpFlow, PshOnLastSegmentOfQueuedData) {
  TcpHarness h;
  h.established();
  h.app_send(2920);
  // RFC9293 MUST-61
  h.expect_segment(out().flags(kTcpAck).len(1460));
  h.expect_segment(out().flags(kTcpAck | kTcpPsh).len(1460));
  // RFC9293 MUST-60
  // Data goes out without any push call: nothing is held back indefinitely.
  h.send(seg().seq(h.rseq).ack(L + 2921).window(64000));
  h.app_send(1);
  h.expect_segment(out().flags(kTcpAck | kTcpPsh).len(1));
}

// --- keep-alive ------------------------------------------------------------------------------

TEST(TcpFlow, KeepaliveOffByDefault) {
  TcpHarness h;
  h.established();
  // RFC9293 MUST-25
  EXPECT_FALSE(h.params.keepalive);
  EXPECT_TRUE(h.conn.next_deadline().is_never());
  h.advance(Duration::seconds(3 * 3600));
  h.expect_nothing();
}

TEST(TcpFlow, KeepaliveOnRequestAfterTwoHours) {
  TcpHarness h;
  h.established();
  // RFC9293 MUST-24
  h.conn.set_keepalive(true, h.now);
  // RFC9293 MUST-28
  EXPECT_GE(h.params.keepalive_idle, Duration::seconds(7200));
  const Instant t0 = h.now;
  h.advance(Duration::seconds(7199));
  h.expect_nothing();
  h.advance(Duration::seconds(1));
  // SEG.SEQ = SND.NXT - 1, no data: the peer must answer with an ACK.
  h.expect_segment(out().seq(L).ack(h.rseq).len(0));
  EXPECT_EQ(h.last_time() - t0, Duration::seconds(7200));
  h.send(seg().seq(h.rseq).ack(L + 1).window(64000));
  h.advance(Duration::seconds(7199));
  h.expect_nothing();
  h.advance(Duration::seconds(1));
  h.expect_segment(out().seq(L).len(0));
}

TEST(TcpFlow, KeepaliveOnlyWhenIdleAndConfigurable) {
  tcp::TcpParams p = plain_params();
  p.keepalive = true;  // on for every connection of this profile
  // RFC9293 MUST-27
  p.keepalive_idle = Duration::seconds(10);
  TcpHarness h(p);
  h.established();
  // RFC9293 MUST-26
  for (int i = 0; i < 4; ++i) {
    h.advance(Duration::seconds(5));
    h.send(h.peer_data(10));
    h.advance(Duration::millis(40));
    h.expect_segment(out().seq(L + 1).ack(h.rseq));  // delayed ACKs only
  }
  h.advance(Duration::seconds(10));
  h.expect_segment(out().seq(L).len(0));  // idle now: a probe
}

TEST(TcpFlow, KeepaliveToleratesLostAcksThenGivesUp) {
  tcp::TcpParams p = plain_params();
  p.keepalive = true;
  p.keepalive_idle = Duration::seconds(100);
  p.keepalive_interval = Duration::seconds(10);
  p.keepalive_probes = 3;
  TcpHarness h(p);
  h.established();
  h.advance(Duration::seconds(120));
  // RFC9293 MUST-29
  EXPECT_EQ(h.recv_all().size(), 3u);  // at 100, 110, 120 s: one lost ACK does not kill it
  EXPECT_EQ(h.conn.state(), State::kEstablished);
  h.send(seg().seq(h.rseq).ack(L + 1).window(64000));  // an answer: start over
  h.advance(Duration::seconds(125));
  EXPECT_EQ(h.recv_all().size(), 3u);
  EXPECT_EQ(h.conn.state(), State::kEstablished);
  h.advance(Duration::seconds(10));
  EXPECT_EQ(h.conn.state(), State::kClosed);
  EXPECT_EQ(h.sink.reason, CloseReason::kKeepaliveTimeout);
  h.expect_segment(out().flags(kTcpRst));
}

// --- urgent data -----------------------------------------------------------------------------

TEST(TcpFlow, UrgentPointerSent) {
  TcpHarness h;
  h.conn.set_nodelay(true);
  h.established();
  h.app_send(100);
  // RFC9293 MUST-30
  h.conn.send_urgent();
  // RFC9293 MUST-62
  h.expect_segment(out().flags(kTcpAck | kTcpPsh | kTcpUrg).seq(L + 1).len(100).urgent(100));
  h.send(seg().seq(h.rseq).ack(L + 101).window(64000));
  h.app_send(10);
  h.expect_segment(out().flags(kTcpAck | kTcpPsh).seq(L + 101).len(10).urgent(0));
}

TEST(TcpFlow, UrgentDataOfAnyLength) {
  TcpHarness h;
  h.established();
  h.send(seg().seq(h.rseq).ack(L + 1).window(65535));
  h.app_send(100000);
  h.conn.send_urgent();
  // RFC9293 MUST-31
  auto first = h.expect_segment(out().flags(kTcpAck | kTcpUrg).seq(L + 1).len(1460));
  EXPECT_EQ(first.urgent, 65535);  // saturated; it moves on with each segment
  uint64_t sent = 1460;
  while (sent < 100000) {
    h.send(seg().seq(h.rseq).ack(h.conn.snd_max()).window(65535));
    for (const auto& s : h.recv_all()) {
      ASSERT_TRUE(s.flags & kTcpUrg);
      EXPECT_EQ(s.urgent, std::min<uint64_t>(100000 - s.payload_offset, 65535));
      sent = s.payload_offset + s.payload_len;
    }
  }
}

TEST(TcpFlow, UrgentDataReported) {
  TcpHarness h;
  h.established();
  h.send(h.peer_data(100));
  // RFC9293 MUST-32
  h.send(h.peer_data(100).urgent(50));
  ASSERT_EQ(h.sink.count(Event::Kind::kUrgent), 1u);
  // RFC9293 MUST-33
  EXPECT_EQ(h.sink.urgent_end, 150u);  // receive-stream offset of the first non-urgent octet
  EXPECT_EQ(h.sink.received.size(), 200u);
  h.send(h.peer_data(100).urgent(0));  // the same pointer again: nothing new
  EXPECT_EQ(h.sink.count(Event::Kind::kUrgent), 1u);
}

TEST(TcpFlow, RstAckAndUrgentProcessedWithZeroWindow) {
  TcpHarness h;
  h.established();
  for (int i = 0; i < 40; ++i) h.send(h.peer_data(1600));
  h.conn.hold(64000);
  h.recv_all();
  EXPECT_EQ(h.conn.rcv_wnd(), 0u);
  h.app_send(100);
  h.recv_all();
  // RFC9293 MUST-66
  h.send(seg().seq(h.rseq).ack(L + 101).window(64000).urgent(500).stream(64000, 10));
  EXPECT_EQ(h.sink.acked_until, 100u);  // ACK processed
  EXPECT_EQ(h.sink.count(Event::Kind::kUrgent), 1u);
  EXPECT_EQ(h.sink.received.size(), 64000u);  // text trimmed
  h.send(seg().flags(kTcpRst).seq(h.rseq));
  EXPECT_EQ(h.conn.state(), State::kClosed);
}

}  // namespace
}  // namespace linetcp::testing
