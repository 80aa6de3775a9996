// Security: ISNs (RFC 6528; MUST-8, MUST-9), SYN cookies (RFC 4987), the connection opened from
// a cookie, RFC 5961 challenge ACKs with their rate limit, and ACK validation.
#include <gtest/gtest.h>

#include "connection_harness.hpp"
#include "linetcp/tcp/isn.hpp"

namespace linetcp::testing {
namespace {

using tcp::CookieOptions;
using tcp::IsnGenerator;
using tcp::kTcpAck;
using tcp::kTcpFin;
using tcp::kTcpRst;
using tcp::kTcpSyn;
using tcp::SynCookies;
using tcp::TupleKey;
constexpr uint32_t L = TcpHarness::kLocalIss;
constexpr uint32_t R = TcpHarness::kRemoteIss;
const std::array<uint64_t, 2> kKey = {0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};
const TupleKey kTuple{0x0a000001, 0x0a000002, 80, 40000};

TEST(TcpIsn, SipHashReferenceVectors) {
  uint8_t msg[15];
  for (uint8_t i = 0; i < 15; ++i) msg[i] = i;
  EXPECT_EQ(tcp::siphash24(kKey, msg, 0), 0x726fdb47dd0e0e31ull);
  EXPECT_EQ(tcp::siphash24(kKey, msg, 15), 0xa129ca6149be45e5ull);
}

TEST(TcpIsn, ClockDrivenAndKeyed) {
  IsnGenerator g(kKey);
  const Instant t0 = Instant::from_ns(1'000'000'000);
  // RFC9293 MUST-8
  // The clock component moves one per 4 microseconds.
  EXPECT_EQ(g.isn(kTuple, t0 + Duration::micros(400)) - g.isn(kTuple, t0), 100);
  EXPECT_EQ(g.isn(kTuple, t0 + Duration::seconds(1)) - g.isn(kTuple, t0), 250000);
  // RFC9293 MUST-9
  // Another secret, or another tuple, gives an unrelated ISN.
  IsnGenerator other({1, 2});
  EXPECT_NE(other.isn(kTuple, t0), g.isn(kTuple, t0));
  TupleKey t2 = kTuple;
  t2.remote_port = 40001;
  EXPECT_NE(g.isn(t2, t0) - g.isn(kTuple, t0), 0);
}

TEST(TcpCookie, EncodesOptionsAndChecks) {
  SynCookies c(kKey);
  const Instant t0 = Instant::from_ns(5'000'000'000'000ull);
  const SeqNum peer_isn(0xDEADBEEF);
  CookieOptions o{1460, 7, true, true};
  const SeqNum cookie = c.make(kTuple, peer_isn, o, t0);
  auto got = c.check(kTuple, peer_isn, cookie, t0 + Duration::seconds(10));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->mss, 1460);
  EXPECT_TRUE(got->window_scale_ok);
  EXPECT_EQ(got->window_scale, 7);
  EXPECT_TRUE(got->sack_permitted);
  // The MSS is rounded down to the table; no window scale, no SACK.
  const SeqNum c2 = c.make(kTuple, peer_isn, CookieOptions{1300 + 50, 0, false, false}, t0);
  got = c.check(kTuple, peer_isn, c2, t0);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->mss, 1300);
  EXPECT_FALSE(got->window_scale_ok);
  EXPECT_FALSE(got->sack_permitted);
  // Still good after a bit over two minutes ... expired after more than three.
  EXPECT_TRUE(c.check(kTuple, peer_isn, cookie, t0 + Duration::seconds(120)).has_value());
  EXPECT_FALSE(c.check(kTuple, peer_isn, cookie, t0 + Duration::seconds(200)).has_value());
  // Forged: any bit flipped, another tuple, another peer ISN.
  for (int bit = 0; bit < 32; ++bit)
    EXPECT_FALSE(c.check(kTuple, peer_isn, SeqNum(cookie.raw() ^ (1u << bit)), t0).has_value()) << bit;
  TupleKey t2 = kTuple;
  t2.remote_ip ^= 1;
  EXPECT_FALSE(c.check(t2, peer_isn, cookie, t0).has_value());
  EXPECT_FALSE(c.check(kTuple, peer_isn + 1, cookie, t0).has_value());
  EXPECT_FALSE(SynCookies({9, 9}).check(kTuple, peer_isn, cookie, t0).has_value());
}

TEST(TcpCookie, ConnectionOpensFromCookie) {
  tcp::TcpParams p = plain_params();
  p.window_scale = 7;
  p.sack = true;
  p.timestamps = true;
  TcpHarness h(p);
  tcp::TcpConnection::CookieState cs{SeqNum(L), SeqNum(R), 1300, true, 2, true};
  h.conn.open_from_cookie(h.params, cs, seg().seq(R + 1).ack(L + 1).window(1000).ts(77, 5).stream(0, 100).build(),
                          h.now, h.ctx, h.sink);
  EXPECT_EQ(h.conn.state(), State::kEstablished);
  EXPECT_TRUE(h.sink.established);
  EXPECT_EQ(h.conn.send_mss(), 1300);
  EXPECT_EQ(h.conn.snd_wnd(), 4000u);  // 1000 << 2
  EXPECT_EQ(h.conn.rcv_window_shift(), 7);
  EXPECT_TRUE(h.conn.sack_on());
  EXPECT_TRUE(h.conn.timestamps_on());
  EXPECT_EQ(h.sink.received, h.expected_received(0, 100));
  h.advance(Duration::millis(40));
  h.expect_segment(out().seq(L + 1).ack(R + 101).ts_ecr(77));
  h.app_send(10);
  h.expect_segment(out().flags(kTcpAck | tcp::kTcpPsh).seq(L + 1).len(10));
}

TEST(TcpRfc5961, SynInSynchronizedStateGetsChallengeAck) {
  TcpHarness h;
  h.established();
  h.send(seg().seq(h.rseq + 5).flags(kTcpSyn).window(1000));
  EXPECT_EQ(h.conn.state(), State::kEstablished);
  h.expect_segment(out().seq(L + 1).ack(h.rseq));
  h.send(seg().seq(h.rseq).flags(kTcpSyn).window(1000));  // even at RCV.NXT
  h.expect_segment(out().seq(L + 1).ack(h.rseq));
  EXPECT_EQ(h.conn.state(), State::kEstablished);
}

TEST(TcpRfc5961, ChallengeAcksAreRateLimited) {
  TcpHarness h;
  h.established();
  int acks = 0;
  for (int i = 0; i < 30; ++i) {
    h.send(seg().flags(kTcpRst).seq(h.rseq + 1 + i));
    acks += static_cast<int>(h.recv_all().size());
  }
  EXPECT_EQ(acks, 10);
  EXPECT_EQ(h.counters.challenge_acks_limited, 20u);
  h.advance(Duration::seconds(1));
  h.send(seg().seq(h.rseq).flags(kTcpSyn).window(1000));
  EXPECT_EQ(h.recv_all().size(), 1u);
}

TEST(TcpRfc5961, AckTooOldIsDropped) {
  TcpHarness h;
  h.established();
  // SEG.ACK < SND.UNA - MAX.SND.WND: a blind injection. ACK it, drop its data.
  h.send(seg().seq(h.rseq).ack(L + 1 - 70000).window(1000).stream(0, 10));
  h.expect_segment(out().seq(L + 1).ack(h.rseq));
  EXPECT_TRUE(h.sink.received.empty());
  EXPECT_EQ(h.counters.old_ack, 1u);
  // An old ACK within the window is fine: its data is taken.
  h.send(seg().seq(h.rseq).ack(L - 100).window(1000).stream(0, 10));
  EXPECT_EQ(h.sink.received.size(), 10u);
  EXPECT_EQ(h.conn.snd_wnd(), TcpHarness::kPeerWindow);  // an old ACK does not move the window
}

}  // namespace
}  // namespace linetcp::testing
