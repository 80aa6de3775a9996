// The RFC 9293 §3.10 state machine: every state, every transition, opening, closing, RST and
// abort, with the exact segments at explicit virtual times.
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
constexpr uint32_t L = TcpHarness::kLocalIss;
constexpr uint32_t R = TcpHarness::kRemoteIss;

// --- opening -------------------------------------------------------------------------------

TEST(TcpState, PassiveOpenSendsSynAckFromSynReceived) {
  TcpHarness h;
  h.conn.open_passive(h.params, seg().seq(R).flags(kTcpSyn).window(1000).mss(1400).build(), SeqNum(L), h.now);
  EXPECT_EQ(h.conn.state(), State::kSynReceived);
  EXPECT_TRUE(h.conn.passive());
  // RFC9293 MUST-14
  h.expect_segment(out().flags(kTcpSyn | kTcpAck).seq(L).ack(R + 1).window(64000).mss(1460).ws(-1)
                       .sack_permitted(false).timestamps(false).len(0));
  h.expect_nothing();
  EXPECT_EQ(h.conn.send_mss(), 1400);
  EXPECT_FALSE(h.sink.established);
}

TEST(TcpState, PassiveOpenCompletesOnAck) {
  TcpHarness h;
  h.established_passive();
  EXPECT_TRUE(h.sink.established);
  EXPECT_EQ(h.conn.snd_una(), SeqNum(L + 1));
  EXPECT_EQ(h.conn.rcv_nxt(), SeqNum(R + 1));
  EXPECT_EQ(h.conn.snd_wnd(), TcpHarness::kPeerWindow);
}

TEST(TcpState, ActiveOpenSendsSynThenAck) {
  TcpHarness h;
  h.conn.open_active(h.params, SeqNum(L), h.now);
  // RFC9293 MUST-14
  h.expect_segment(out().flags(kTcpSyn).seq(L).mss(1460).ws(0).window(64000).len(0));
  h.expect_nothing();
  h.send(seg().seq(R).flags(kTcpSyn).ack(L + 1).window(5000).mss(1200));
  EXPECT_EQ(h.conn.state(), State::kEstablished);
  h.expect_segment(out().seq(L + 1).ack(R + 1).window(64000));
  EXPECT_TRUE(h.sink.established);
  EXPECT_EQ(h.conn.snd_wnd(), 5000u);
  EXPECT_EQ(h.conn.send_mss(), 1200);
}

TEST(TcpState, SynReceivedAnswersRetransmittedSyn) {
  TcpHarness h;
  h.syn_received();
  h.advance(Duration::millis(100));
  h.send(seg().seq(R).flags(kTcpSyn).window(1000));
  h.expect_segment(out().flags(kTcpSyn | kTcpAck).seq(L).ack(R + 1));
  EXPECT_EQ(h.conn.state(), State::kSynReceived);
}

TEST(TcpState, SynSentRstWithAcceptableAckIsRefused) {
  TcpHarness h;
  h.syn_sent();
  h.send(seg().flags(kTcpRst).seq(0).ack(L + 1));
  EXPECT_EQ(h.conn.state(), State::kClosed);
  // RFC9293 MUST-12
  ASSERT_TRUE(h.sink.closed);
  EXPECT_EQ(h.sink.reason, CloseReason::kRefused);
  h.expect_nothing();
}

TEST(TcpState, CloseInSynSentDeletesTheConnectionWithoutAFin) {
  // RFC 9293 §3.10.4, CLOSE in SYN-SENT: "Delete the TCB", queued data included. No FIN, no
  // retransmission of the SYN afterwards.
  TcpHarness h;
  h.syn_sent();
  h.app_send(100);
  h.app_close();
  EXPECT_EQ(h.conn.state(), State::kClosed);
  ASSERT_TRUE(h.sink.closed);
  EXPECT_EQ(h.sink.reason, CloseReason::kAborted);
  h.expect_nothing();
  EXPECT_TRUE(h.conn.next_deadline().is_never());
  h.advance(Duration::seconds(10));
  h.expect_nothing();
}

TEST(TcpState, SynSentIgnoresRstWithoutAck) {
  TcpHarness h;
  h.syn_sent();
  h.send(seg().flags(kTcpRst).seq(R));
  EXPECT_EQ(h.conn.state(), State::kSynSent);
  h.expect_nothing();
}

TEST(TcpState, SynSentUnacceptableAckGetsRst) {
  TcpHarness h;
  h.syn_sent();
  h.send(seg().seq(R).flags(kTcpSyn).ack(L + 7).window(1000));
  h.expect_segment(out().flags(kTcpRst).seq(L + 7));
  EXPECT_EQ(h.conn.state(), State::kSynSent);
  h.send(seg().seq(R).flags(kTcpSyn).ack(L).window(1000));  // SEG.ACK =< ISS
  h.expect_segment(out().flags(kTcpRst).seq(L));
  // ... and a bad ACK carrying RST is dropped silently.
  h.send(seg().seq(R).flags(kTcpRst).ack(L + 9));
  h.expect_nothing();
  EXPECT_EQ(h.conn.state(), State::kSynSent);
}

TEST(TcpState, SynSentDropsAckWithoutSyn) {
  TcpHarness h;
  h.syn_sent();
  h.send(seg().seq(R).ack(L + 1).window(1000));
  EXPECT_EQ(h.conn.state(), State::kSynSent);
  h.expect_nothing();
}

TEST(TcpState, SynAckCarryingDataDeliversIt) {
  TcpHarness h;
  h.syn_sent();
  h.send(seg().seq(R).flags(kTcpSyn | kTcpFin).ack(L + 1).window(1000).stream(0, 10));
  EXPECT_EQ(h.conn.state(), State::kCloseWait);
  EXPECT_EQ(h.sink.received, h.expected_received(0, 10));
  EXPECT_TRUE(h.sink.peer_fin);
  h.expect_segment(out().seq(L + 1).ack(R + 12));
}

// RFC 9293 §3.5 figure 7: both sides send SYN; each answers with SYN-ACK.
TEST(TcpState, SimultaneousOpenViaSynReceived) {
  TcpHarness h;
  h.syn_sent();
  // RFC9293 MUST-10
  h.send(seg().seq(R).flags(kTcpSyn).window(3000).mss(1460));
  EXPECT_EQ(h.conn.state(), State::kSynReceived);
  EXPECT_FALSE(h.conn.passive());
  h.expect_segment(out().flags(kTcpSyn | kTcpAck).seq(L).ack(R + 1).mss(1460));
  h.send(seg().seq(R).flags(kTcpSyn).ack(L + 1).window(3000).mss(1460));
  EXPECT_EQ(h.conn.state(), State::kEstablished);
  EXPECT_TRUE(h.sink.established);
  EXPECT_EQ(h.conn.snd_wnd(), 3000u);
  h.expect_nothing();
  // Data flows after it.
  h.app_send(100);
  h.expect_segment(out().flags(kTcpAck | kTcpPsh).seq(L + 1).ack(R + 1).len(100));
}

TEST(TcpState, SimultaneousOpenCompletesOnPlainAck) {
  TcpHarness h;
  h.syn_sent();
  h.send(seg().seq(R).flags(kTcpSyn).window(3000));
  h.expect_segment(out().flags(kTcpSyn | kTcpAck).seq(L).ack(R + 1));
  h.send(seg().seq(R + 1).ack(L + 1).window(3000));
  EXPECT_EQ(h.conn.state(), State::kEstablished);
}

TEST(TcpState, SynReceivedFromListenReturnsQuietlyOnRst) {
  TcpHarness h;
  h.syn_received();
  // RFC9293 MUST-11
  h.send(seg().flags(kTcpRst).seq(R + 1));
  EXPECT_EQ(h.conn.state(), State::kClosed);
  EXPECT_EQ(h.conn.close_reason(), CloseReason::kReset);  // the engine returns to LISTEN
  h.expect_nothing();
}

TEST(TcpState, SynReceivedFromSynSentIsRefusedOnRst) {
  TcpHarness h;
  h.syn_sent();
  h.send(seg().seq(R).flags(kTcpSyn).window(3000));
  h.expect_segment(out().flags(kTcpSyn | kTcpAck).seq(L).ack(R + 1));
  // RFC9293 MUST-11
  h.send(seg().flags(kTcpRst).seq(R + 1));
  EXPECT_EQ(h.conn.state(), State::kClosed);
  EXPECT_EQ(h.sink.reason, CloseReason::kRefused);
}

TEST(TcpState, SynReceivedUnacceptableAckGetsRst) {
  TcpHarness h;
  h.syn_received();
  h.send(seg().seq(R + 1).ack(L + 5).window(1000));
  h.expect_segment(out().flags(kTcpRst).seq(L + 5));
  EXPECT_EQ(h.conn.state(), State::kSynReceived);
}

TEST(TcpState, SynReceivedNewSynFromPassiveGoesBackToListen) {
  TcpHarness h;
  h.syn_received();
  h.send(seg().seq(R + 100).flags(kTcpSyn).window(1000));
  EXPECT_EQ(h.conn.state(), State::kClosed);
}

TEST(TcpState, CloseDuringHandshakeSendsFinOnceEstablished) {
  TcpHarness h;
  h.syn_received();
  h.app_close();
  h.send(seg().seq(R + 1).ack(L + 1).window(1000));
  EXPECT_EQ(h.conn.state(), State::kFinWait1);
  h.expect_segment(out().flags(kTcpAck | kTcpFin).seq(L + 1).ack(R + 1));
}

// --- closing -------------------------------------------------------------------------------

TEST(TcpState, ActiveCloseThroughFinWaitAndTimeWait) {
  TcpHarness h;
  h.time_wait();
  EXPECT_TRUE(h.sink.peer_fin);
  ASSERT_TRUE(h.sink.closed);  // the application is done at TIME-WAIT
  EXPECT_EQ(h.sink.reason, CloseReason::kNormal);
  EXPECT_TRUE(h.conn.time_wait_ready());
  // RFC9293 MUST-13
  h.advance(Duration::seconds(59));
  EXPECT_EQ(h.conn.state(), State::kTimeWait);
  h.advance(Duration::seconds(1));
  EXPECT_EQ(h.conn.state(), State::kClosed);
  EXPECT_EQ(h.sink.count(Event::Kind::kClosed), 1u);
  h.expect_nothing();
}

TEST(TcpState, TimeWaitAcksRetransmittedFinAndRestarts) {
  TcpHarness h;
  h.time_wait();
  h.advance(Duration::seconds(30));
  // RFC9293 MUST-13
  h.send(seg().seq(h.rseq - 1).ack(L + 2).window(1000).add_flags(kTcpFin));
  h.expect_segment(out().seq(L + 2).ack(h.rseq));
  h.advance(Duration::seconds(59));
  EXPECT_EQ(h.conn.state(), State::kTimeWait);
  h.advance(Duration::seconds(1));
  EXPECT_EQ(h.conn.state(), State::kClosed);
}

TEST(TcpState, TimeWaitIgnoresRst) {
  TcpHarness h;
  h.time_wait();
  h.send(seg().flags(kTcpRst).seq(h.rseq));
  EXPECT_EQ(h.conn.state(), State::kTimeWait);
  h.expect_nothing();
}

TEST(TcpState, FinWait1FinAndAckTogetherGoToTimeWait) {
  TcpHarness h;
  h.fin_wait_1();
  h.send(seg().seq(h.rseq).ack(L + 2).window(1000).add_flags(kTcpFin));
  EXPECT_EQ(h.conn.state(), State::kTimeWait);
  h.expect_segment(out().seq(L + 2).ack(R + 2));
}

TEST(TcpState, SimultaneousCloseViaClosing) {
  TcpHarness h;
  h.closing();
  h.send(seg().seq(h.rseq).ack(L + 2).window(1000));
  EXPECT_EQ(h.conn.state(), State::kTimeWait);
  h.expect_nothing();
}

TEST(TcpState, PassiveCloseThroughCloseWaitAndLastAck) {
  TcpHarness h;
  h.last_ack();
  EXPECT_FALSE(h.sink.closed);
  h.send(seg().seq(h.rseq).ack(L + 2).window(1000));
  EXPECT_EQ(h.conn.state(), State::kClosed);
  ASSERT_TRUE(h.sink.closed);
  EXPECT_EQ(h.sink.reason, CloseReason::kNormal);
  h.expect_nothing();
}

// RFC9293 MAY-1
TEST(TcpState, HalfCloseCloseWaitStillSends) {
  TcpHarness h;
  h.close_wait();
  h.app_send(300);
  h.expect_segment(out().flags(kTcpAck | kTcpPsh).seq(L + 1).ack(h.rseq).len(300).offset(0));
  h.send(seg().seq(h.rseq).ack(L + 301).window(1000));
  EXPECT_EQ(h.sink.acked_until, 300u);
  h.app_close();
  h.expect_segment(out().flags(kTcpAck | kTcpFin).seq(L + 301).ack(h.rseq));
  EXPECT_EQ(h.conn.state(), State::kLastAck);
}

TEST(TcpState, HalfCloseFinWait2StillReceives) {
  TcpHarness h;
  h.fin_wait_2();
  h.send(h.peer_data(500));
  h.send(h.peer_data(500));
  h.expect_segment(out().seq(L + 2).ack(h.rseq));  // second segment: ACK at once
  EXPECT_EQ(h.sink.received, h.expected_received(0, 1000));
  EXPECT_EQ(h.conn.state(), State::kFinWait2);
}

TEST(TcpState, DataThenFinInOneSegment) {
  TcpHarness h;
  h.established();
  h.send(h.peer_data(10).add_flags(kTcpFin));
  h.rseq += 1;
  EXPECT_EQ(h.conn.state(), State::kCloseWait);
  h.expect_segment(out().seq(L + 1).ack(h.rseq));
  EXPECT_EQ(h.sink.received.size(), 10u);
}

TEST(TcpState, CloseWaitCloseSendsQueuedDataThenFin) {
  TcpHarness h;
  h.close_wait();
  h.app_send(100);
  h.app_close();
  h.expect_segment(out().flags(kTcpAck | kTcpPsh | kTcpFin).seq(L + 1).len(100));
  h.expect_nothing();
}

TEST(TcpState, FinRetransmittedUntilAcked) {
  TcpHarness h;
  h.fin_wait_1();
  const Instant t0 = h.now;
  h.advance(Duration::seconds(1));
  // RTO is 200 ms (the handshake measured a zero RTT; RFC 6298 lower bound), then doubles.
  h.expect_segment(out().flags(kTcpAck | kTcpFin).seq(L + 1).ack(R + 1));
  EXPECT_EQ(h.last_time() - t0, Duration::millis(200));
  h.expect_segment(out().flags(kTcpAck | kTcpFin).seq(L + 1));
  EXPECT_EQ(h.last_time() - t0, Duration::millis(600));
  h.expect_nothing();
  h.send(seg().seq(h.rseq).ack(L + 2).window(1000));
  EXPECT_EQ(h.conn.state(), State::kFinWait2);
  h.advance(Duration::seconds(10));
  h.expect_nothing();
}

TEST(TcpState, LastAckRetransmitsFin) {
  TcpHarness h;
  h.last_ack();
  h.advance(Duration::millis(200));
  h.expect_segment(out().flags(kTcpAck | kTcpFin).seq(L + 1).ack(h.rseq));
  h.send(seg().seq(h.rseq).ack(L + 2).window(1000));
  EXPECT_EQ(h.conn.state(), State::kClosed);
}

TEST(TcpState, ClosingRetransmitsFinAndAcksPeerFinAgain) {
  TcpHarness h;
  h.closing();
  h.advance(Duration::millis(200));
  h.expect_segment(out().flags(kTcpAck | kTcpFin).seq(L + 1).ack(h.rseq));
  // The peer retransmits its FIN too: we ACK it.
  h.send(seg().seq(h.rseq - 1).ack(L + 1).window(1000).add_flags(kTcpFin));
  h.expect_segment(out().seq(L + 2).ack(h.rseq));
  EXPECT_EQ(h.conn.state(), State::kClosing);
}

TEST(TcpState, CloseInClosingStatesIsIgnored) {
  TcpHarness h;
  h.fin_wait_2();
  h.app_close();
  h.app_send(10);  // nothing may follow the FIN
  EXPECT_EQ(h.conn.state(), State::kFinWait2);
  h.expect_nothing();
}

// --- reset and abort -----------------------------------------------------------------------

TEST(TcpState, AbortSendsRstAndTellsApplication) {
  TcpHarness h;
  h.established();
  h.app_send(100);
  h.expect_segment(out().flags(kTcpAck | kTcpPsh).len(100));
  h.app_abort();
  EXPECT_EQ(h.conn.state(), State::kClosed);
  h.expect_segment(out().flags(kTcpRst).seq(L + 101));
  EXPECT_EQ(h.sink.reason, CloseReason::kAborted);
  h.expect_nothing();
  EXPECT_TRUE(h.conn.next_deadline().is_never());
}

TEST(TcpState, AbortInSynSentSendsNothing) {
  TcpHarness h;
  h.syn_sent();
  h.app_abort();
  EXPECT_EQ(h.conn.state(), State::kClosed);
  h.expect_nothing();
}

TEST(TcpState, AbortInEveryStateClosesIt) {
  for (int which = 0; which < 6; ++which) {
    TcpHarness h;
    switch (which) {
      case 0: h.syn_received(); break;
      case 1: h.fin_wait_1(); break;
      case 2: h.fin_wait_2(); break;
      case 3: h.close_wait(); break;
      case 4: h.closing(); break;
      case 5: h.last_ack(); break;
    }
    const bool rst = which <= 3;
    h.app_abort();
    EXPECT_EQ(h.conn.state(), State::kClosed) << which;
    if (rst) h.expect_segment(out().flags(kTcpRst));
    h.expect_nothing();
  }
}

TEST(TcpState, RstAtRcvNxtResetsEveryState) {
  for (int which = 0; which < 6; ++which) {
    TcpHarness h;
    switch (which) {
      case 0: h.established(); break;
      case 1: h.fin_wait_1(); break;
      case 2: h.fin_wait_2(); break;
      case 3: h.close_wait(); break;
      case 4: h.closing(); break;
      case 5: h.last_ack(); break;
    }
    h.send(seg().flags(kTcpRst).seq(h.rseq));
    EXPECT_EQ(h.conn.state(), State::kClosed) << which;
    // RFC9293 MUST-12
    EXPECT_EQ(h.sink.reason, CloseReason::kReset) << which;
    h.expect_nothing();
  }
}

TEST(TcpState, InWindowRstGetsChallengeAck) {
  TcpHarness h;
  h.established();
  h.send(seg().flags(kTcpRst).seq(h.rseq + 10));
  EXPECT_EQ(h.conn.state(), State::kEstablished);
  h.expect_segment(out().seq(L + 1).ack(h.rseq));
  EXPECT_EQ(h.counters.challenge_acks, 1u);
}

TEST(TcpState, OutOfWindowRstIsIgnored) {
  TcpHarness h;
  h.established();
  h.send(seg().flags(kTcpRst).seq(h.rseq + 100000));
  h.send(seg().flags(kTcpRst).seq(h.rseq - 1));
  EXPECT_EQ(h.conn.state(), State::kEstablished);
  h.expect_nothing();
  EXPECT_EQ(h.counters.resets_ignored, 2u);
}

// --- the synchronized states' segment checks ----------------------------------------------

TEST(TcpState, UnacceptableSegmentIsAnsweredWithAck) {
  TcpHarness h;
  h.established();
  h.send(seg().seq(h.rseq - 100).ack(L + 1).window(1000).stream(0, 50));  // old duplicate
  h.expect_segment(out().seq(L + 1).ack(h.rseq));
  h.send(seg().seq(h.rseq + 70000).ack(L + 1).window(1000).stream(0, 50));  // beyond the window
  h.expect_segment(out().seq(L + 1).ack(h.rseq));
  EXPECT_TRUE(h.sink.received.empty());
}

TEST(TcpState, SegmentWithoutAckIsDropped) {
  TcpHarness h;
  h.established();
  h.send(seg().seq(h.rseq).flags(0).window(1000).stream(0, 50));
  h.expect_nothing();
  EXPECT_TRUE(h.sink.received.empty());
}

TEST(TcpState, AckOfUnsentDataIsAnsweredAndDropped) {
  TcpHarness h;
  h.established();
  h.send(seg().seq(h.rseq).ack(L + 500).window(1000).stream(0, 50));
  h.expect_segment(out().seq(L + 1).ack(h.rseq));
  EXPECT_TRUE(h.sink.received.empty());
  EXPECT_EQ(h.counters.ack_of_unsent, 1u);
}

// --- wrap-around: sequence numbers crossing 2^32 in every state that moves data -----------

class TcpWrap : public ::testing::TestWithParam<int> {};

TEST_P(TcpWrap, DataCrossesTwoToTheThirtyTwo) {
  // Both ISNs a few hundred bytes below 2^32.
  TcpHarness h(plain_params(), 0xFFFFFE00u, 0xFFFFFF00u);
  const int which = GetParam();
  switch (which) {
    case 0: h.established_passive(); break;
    case 1: h.established_active(); break;
    case 2: h.close_wait(); break;   // we still send
    case 3: h.fin_wait_2(); break;   // we still receive
    case 4: h.fin_wait_1(); break;   // we still receive
  }
  const bool we_send = which <= 2;
  const bool we_receive = which != 2;
  const SeqNum snd0 = h.conn.snd_nxt();
  if (we_send) {
    h.app_send(3000);
    auto a = h.expect_segment(out().flags(kTcpAck).seq(snd0).len(1460).offset(0));
    auto b = h.expect_segment(out().flags(kTcpAck).seq(snd0 + 1460).len(1460).offset(1460));
    h.expect_nothing();  // Nagle holds the 80-byte tail while data is unacknowledged
    EXPECT_LT(b.seq.raw(), a.seq.raw());  // wrapped
    h.send(seg().seq(h.rseq).ack(snd0 + 2920).window(64000));
    EXPECT_EQ(h.sink.acked_until, 2920u);
    h.expect_segment(out().flags(kTcpAck | kTcpPsh).seq(snd0 + 2920).len(80).offset(2920));
    h.send(seg().seq(h.rseq).ack(snd0 + 3000).window(64000));
    EXPECT_EQ(h.sink.acked_until, 3000u);
    EXPECT_EQ(h.conn.snd_una(), snd0 + 3000);
  }
  if (we_receive) {
    const SeqNum r0 = h.rseq;
    for (int i = 0; i < 4; ++i) h.send(h.peer_data(1000));
    EXPECT_LT(h.rseq.raw(), r0.raw());  // wrapped
    h.expect_segment(out().ack(h.rseq));
    EXPECT_EQ(h.sink.received, h.expected_received(0, 4000));
    // An old segment from before the wrap is a duplicate.
    h.send(seg().seq(r0).ack(h.conn.snd_max()).window(64000).stream(0, 100));
    h.expect_segment(out().ack(h.rseq));
    EXPECT_EQ(h.sink.received.size(), 4000u);
  }
}
INSTANTIATE_TEST_SUITE_P(States, TcpWrap, ::testing::Range(0, 5));

TEST(TcpState, WrapFullLifecycle) {
  TcpHarness h(plain_params(), 0xFFFFFFFFu, 0xFFFFFFFEu);
  h.established_active();
  EXPECT_EQ(h.conn.snd_nxt(), SeqNum(0));
  h.app_send(10);
  h.expect_segment(out().flags(kTcpAck | kTcpPsh).seq(0u).ack(0xFFFFFFFFu).len(10));
  h.send(h.peer_data(5).ack(10u));
  EXPECT_EQ(h.rseq, SeqNum(4));
  h.app_close();
  h.expect_segment(out().flags(kTcpAck | kTcpFin).seq(10u).ack(4u));
  h.send(seg().seq(4u).ack(11u).window(1000).add_flags(kTcpFin));
  EXPECT_EQ(h.conn.state(), State::kTimeWait);
  h.expect_segment(out().seq(11u).ack(5u));
}

}  // namespace
}  // namespace linetcp::testing
