// Parking: an idle ESTABLISHED connection held as a ParkedTcb and brought back must behave exactly
// as if it had never left its full TCB: the same segments, the same bytes, the same state.
#include <gtest/gtest.h>

#include "connection_harness.hpp"

namespace linetcp::testing {
namespace {

tcp::TcpParams variant(bool ts, bool sack, uint8_t wscale, tcp::CongestionAlgorithm cc) {
  tcp::TcpParams p;
  p.timestamps = ts;
  p.sack = sack;
  p.window_scale = wscale;
  p.congestion = cc;
  p.r2 = Duration::seconds(600);
  return p;
}

// Lets the connection send everything queued and acknowledges it all (Nagle holds the last
// small segment until the first ACK).
void send_and_ack(TcpHarness& h, uint64_t bytes) {
  h.app_send(bytes);
  for (int round = 0; round < 100 && h.conn.send_queued() > 0; ++round) {
    h.recv_all();
    h.send(h.peer_ack());
  }
  ASSERT_EQ(h.conn.send_queued(), 0u);
}

void expect_same_connection(const tcp::TcpConnection& x, const tcp::TcpConnection& y) {
  EXPECT_EQ(x.state(), y.state());
  EXPECT_EQ(x.snd_una(), y.snd_una());
  EXPECT_EQ(x.snd_nxt(), y.snd_nxt());
  EXPECT_EQ(x.snd_max(), y.snd_max());
  EXPECT_EQ(x.snd_wnd(), y.snd_wnd());
  EXPECT_EQ(x.rcv_nxt(), y.rcv_nxt());
  EXPECT_EQ(x.rcv_wnd(), y.rcv_wnd());
  EXPECT_EQ(x.iss(), y.iss());
  EXPECT_EQ(x.irs(), y.irs());
  EXPECT_EQ(x.cwnd(), y.cwnd());
  EXPECT_EQ(x.ssthresh(), y.ssthresh());
  EXPECT_EQ(x.send_mss(), y.send_mss());
  EXPECT_EQ(x.timestamps_on(), y.timestamps_on());
  EXPECT_EQ(x.sack_on(), y.sack_on());
  EXPECT_EQ(x.snd_window_shift(), y.snd_window_shift());
  EXPECT_EQ(x.rcv_window_shift(), y.rcv_window_shift());
  EXPECT_EQ(x.ts_recent(), y.ts_recent());
  EXPECT_EQ(x.rto(), y.rto());
  EXPECT_EQ(x.rtt().srtt(), y.rtt().srtt());
  EXPECT_EQ(x.rtt().rttvar(), y.rtt().rttvar());
  EXPECT_EQ(x.bytes_acked(), y.bytes_acked());
  EXPECT_EQ(x.bytes_received(), y.bytes_received());
  EXPECT_EQ(x.send_queued(), y.send_queued());
  EXPECT_EQ(x.passive(), y.passive());
  EXPECT_EQ(x.nodelay(), y.nodelay());
  EXPECT_EQ(x.interactive(), y.interactive());
  EXPECT_EQ(x.user_timeout(), y.user_timeout());
  EXPECT_EQ(x.next_deadline(), y.next_deadline());
  EXPECT_EQ(x.wants_output(), y.wants_output());
}

// Parks h's connection and brings it back into a fresh object, which must equal the original.
tcp::TcpConnection parked_and_back(const TcpHarness& h) {
  tcp::ParkedTcb p;
  h.conn.park(p, h.now);
  tcp::TcpConnection back;
  back.unpark(h.params, p, h.now);
  expect_same_connection(h.conn, back);
  return back;
}

TEST(TcpPark, AnIdleConnectionComesBackWithEveryVariable) {
  TcpHarness h(variant(true, true, 7, tcp::CongestionAlgorithm::kNewReno));
  h.established();
  // Data both ways, everything acknowledged: idle.
  send_and_ack(h, 3000);
  h.send(h.peer_data(700));
  h.advance(Duration::millis(50));  // the delayed ACK goes out
  h.recv_all();
  h.conn.set_nodelay(true);
  h.conn.set_user_timeout(Duration::seconds(42));
  ASSERT_TRUE(h.conn.parkable());
  EXPECT_TRUE(parked_and_back(h).parkable());
}

TEST(TcpPark, AnInteractiveConnectionComesBackInteractive) {
  // It answered a request with data: its next pushed request still waits for the response
  // (delayed ACK), parked or not.
  TcpHarness h(variant(true, true, 7, tcp::CongestionAlgorithm::kNewReno));
  h.established();
  h.send(h.peer_data(100).flags(tcp::kTcpAck | tcp::kTcpPsh));
  h.app_send(50);
  h.recv_all();
  h.send(seg().seq(h.rseq).ack(TcpHarness::kLocalIss + 51));
  ASSERT_TRUE(h.conn.interactive());
  ASSERT_TRUE(h.conn.parkable());
  EXPECT_TRUE(parked_and_back(h).interactive());
}

TEST(TcpPark, StreamOffsetsComeBackAcrossSequenceWrapAndAbove4GiB) {
  // The parked form keeps only the upper halves of the stream offsets; the lower come from the
  // sequence numbers, here on both sides of 2^32.
  TcpHarness h(variant(true, true, 7, tcp::CongestionAlgorithm::kNewReno), 0xFFFFFF00u, 0xFFFFFE00u);
  h.established();
  send_and_ack(h, 3000);
  h.send(h.peer_data(1000));
  h.advance(Duration::millis(50));
  h.recv_all();
  ASSERT_TRUE(h.conn.parkable());
  tcp::ParkedTcb p;
  h.conn.park(p, h.now);
  EXPECT_EQ(p.snd_offset_hi, 0u);
  tcp::TcpConnection back;
  back.unpark(h.params, p, h.now);
  EXPECT_EQ(back.bytes_acked(), 3000u);
  EXPECT_EQ(back.bytes_received(), 1000u);
  expect_same_connection(h.conn, back);
  // The same connection 4 GiB later in each direction (the sequence numbers are the same).
  p.snd_offset_hi = 1;
  p.rcv_offset_hi = 1;
  back.unpark(h.params, p, h.now);
  EXPECT_EQ(back.bytes_acked(), (1ull << 32) + 3000);
  EXPECT_EQ(back.bytes_received(), (1ull << 32) + 1000);
  tcp::ParkedTcb again;
  back.park(again, h.now);
  EXPECT_EQ(again.snd_offset_hi, 1u);
  EXPECT_EQ(again.rcv_offset_hi, 1u);
}

TEST(TcpPark, BusyConnectionsAreNotParkable) {
  TcpHarness h(variant(true, true, 7, tcp::CongestionAlgorithm::kNewReno));
  h.syn_sent();
  EXPECT_FALSE(h.conn.parkable()) << "SYN-SENT";
  TcpHarness e(variant(true, true, 7, tcp::CongestionAlgorithm::kNewReno));
  e.established();
  e.recv_all();
  EXPECT_TRUE(e.conn.parkable());
  e.app_send(100);
  EXPECT_FALSE(e.conn.parkable()) << "data queued";
  e.recv_all();
  EXPECT_FALSE(e.conn.parkable()) << "data in flight";
  e.send(e.peer_ack());
  EXPECT_TRUE(e.conn.parkable());
  e.send(e.peer_data(10));
  EXPECT_FALSE(e.conn.parkable()) << "an ACK owed";
  e.advance(Duration::millis(50));
  e.recv_all();
  EXPECT_TRUE(e.conn.parkable());
  e.conn.hold(10);
  EXPECT_FALSE(e.conn.parkable()) << "received data held";
  e.conn.release(10);
  e.recv_all();
  e.conn.set_keepalive(true, e.now);
  EXPECT_FALSE(e.conn.parkable()) << "keep-alive timer";
  e.conn.set_keepalive(false, e.now);
  EXPECT_TRUE(e.conn.parkable());
  e.app_close();
  EXPECT_FALSE(e.conn.parkable()) << "FIN queued";
}

// The strong check: a request/response exchange where both sides are parked and brought back
// into fresh objects every time they go idle emits exactly the segments of the same exchange
// without parking, timestamps and windows included, and delivers every byte.
struct RoundsCase {
  const char* name;
  tcp::TcpParams params;
};

class TcpParkRounds : public ::testing::TestWithParam<int> {};

const RoundsCase kCases[] = {
    {"plain", variant(false, false, 0, tcp::CongestionAlgorithm::kNewReno)},
    {"ts+sack+ws", variant(true, true, 7, tcp::CongestionAlgorithm::kNewReno)},
    {"cubic", variant(true, true, 4, tcp::CongestionAlgorithm::kCubic)},
};

TEST_P(TcpParkRounds, ParkingChangesNoSegment) {
  const RoundsCase& c = kCases[GetParam()];
  SCOPED_TRACE(c.name);
  const LinkFaults clean{0, 0, 0, Duration::millis(2), Duration::zero()};
  LinkedPair plain(c.params, c.params, clean, 1);
  LinkedPair parked(c.params, c.params, clean, 1);
  parked.park_idle = true;
  plain.log_wire = parked.log_wire = true;
  ASSERT_TRUE(plain.run_rounds(40, 300, 20000, Duration::millis(100), Duration::seconds(60)));
  ASSERT_TRUE(parked.run_rounds(40, 300, 20000, Duration::millis(100), Duration::seconds(60)));
  EXPECT_GE(parked.parks, 40u) << "both sides go idle every round";
  EXPECT_EQ(plain.parks, 0u);
  ASSERT_GT(plain.wire_log.size(), 40u * 4) << "the exchange was logged";
  ASSERT_EQ(parked.wire_log.size(), plain.wire_log.size());
  for (size_t i = 0; i < plain.wire_log.size(); ++i) ASSERT_EQ(parked.wire_log[i], plain.wire_log[i]) << "segment " << i;
  for (const LinkedPair* pair : {&plain, &parked}) {
    EXPECT_EQ(pair->b.sink.received.size(), 40u * 300);
    EXPECT_EQ(pair->a.sink.received.size(), 40u * 20000);
    for (size_t i = 0; i < pair->b.sink.received.size(); ++i)
      ASSERT_EQ(pair->b.sink.received[i], stream_byte(i, pair->a.salt)) << "A->B byte " << i;
    for (size_t i = 0; i < pair->a.sink.received.size(); ++i)
      ASSERT_EQ(pair->a.sink.received[i], stream_byte(i, pair->b.salt)) << "B->A byte " << i;
  }
}

TEST_P(TcpParkRounds, ParkedConnectionsSurviveALossyLink) {
  // With losses the windows grow differently after an unpark (CUBIC's epoch and NewReno's byte
  // counter start again), so the segments may differ; every byte must still arrive, in order.
  const RoundsCase& c = kCases[GetParam()];
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    SCOPED_TRACE(::testing::Message() << c.name << " seed " << seed);
    LinkFaults f;
    f.loss = 0.05;
    f.duplicate = 0.02;
    f.reorder = 0.2;
    f.delay = Duration::millis(5);
    f.jitter = Duration::millis(10);
    LinkedPair pair(c.params, c.params, f, seed * 31 + static_cast<uint64_t>(GetParam()));
    pair.park_idle = true;
    ASSERT_TRUE(pair.run_rounds(20, 500, 30000, Duration::millis(300), Duration::seconds(600)));
    EXPECT_GT(pair.parks, 0u);
    ASSERT_EQ(pair.b.sink.received.size(), 20u * 500);
    ASSERT_EQ(pair.a.sink.received.size(), 20u * 30000);
    for (size_t i = 0; i < pair.a.sink.received.size(); ++i)
      ASSERT_EQ(pair.a.sink.received[i], stream_byte(i, pair.b.salt)) << "B->A byte " << i;
    for (size_t i = 0; i < pair.b.sink.received.size(); ++i)
      ASSERT_EQ(pair.b.sink.received[i], stream_byte(i, pair.a.salt)) << "A->B byte " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, TcpParkRounds, ::testing::Range(0, 3));

}  // namespace
}  // namespace linetcp::testing
