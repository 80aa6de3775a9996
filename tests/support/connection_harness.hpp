// Test harness for one TcpConnection, smoltcp style: a segment builder, a recording sink, a
// virtual clock, a deterministic application send stream, helpers that send a segment and
// expect the exact reply, fixtures that build every state from the previous one, and a lossy
// in-memory link joining two connections for randomised property tests.
#pragma once

#include <cstdint>
#include <deque>
#include <initializer_list>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "linetcp/base/time.hpp"
#include "linetcp/tcp/tcp_connection.hpp"

namespace linetcp::testing {

using base::Duration;
using base::Instant;
using tcp::SegmentIn;
using tcp::SegmentOut;
using tcp::SeqNum;
using tcp::State;

// The deterministic byte at offset `i` of a send stream; `salt` tells streams apart.
inline uint8_t stream_byte(uint64_t i, uint8_t salt = 0) {
  const uint64_t x = (i + salt * 0x9E3779B97F4A7C15ull) * 0xD6E8FEB86659FD93ull;
  return static_cast<uint8_t>((x >> 32) ^ (x >> 56) ^ salt);
}
std::vector<uint8_t> stream_bytes(uint64_t offset, uint32_t len, uint8_t salt = 0);

// Builds a SegmentIn (what the peer sends us). Keeps the payload it points to.
class SegBuilder {
 public:
  SegBuilder& seq(uint32_t v) { s_.seq = SeqNum(v); return *this; }
  SegBuilder& seq(SeqNum v) { s_.seq = v; return *this; }
  SegBuilder& ack(uint32_t v) { s_.ack = SeqNum(v); s_.flags |= tcp::kTcpAck; return *this; }
  SegBuilder& ack(SeqNum v) { s_.ack = v; s_.flags |= tcp::kTcpAck; return *this; }
  SegBuilder& flags(uint8_t f) { s_.flags = f; return *this; }
  SegBuilder& add_flags(uint8_t f) { s_.flags |= f; return *this; }
  SegBuilder& window(uint16_t w) { s_.window = w; return *this; }
  SegBuilder& urgent(uint16_t u) { s_.urgent = u; s_.flags |= tcp::kTcpUrg; return *this; }
  SegBuilder& payload(std::vector<uint8_t> p) { payload_ = std::move(p); return *this; }
  SegBuilder& payload(const std::string& p) { payload_.assign(p.begin(), p.end()); return *this; }
  // `len` bytes of the peer's stream (salt 1) from `offset`.
  SegBuilder& stream(uint64_t offset, uint32_t len) { payload_ = stream_bytes(offset, len, 1); return *this; }
  SegBuilder& mss(uint16_t m) { s_.opts.has_mss = true; s_.opts.mss = m; return *this; }
  SegBuilder& ws(uint8_t shift) { s_.opts.has_window_scale = true; s_.opts.window_scale = shift; return *this; }
  SegBuilder& sack_permitted() { s_.opts.sack_permitted = true; return *this; }
  SegBuilder& ts(uint32_t val, uint32_t ecr) {
    s_.opts.has_timestamps = true;
    s_.opts.ts_val = val;
    s_.opts.ts_ecr = ecr;
    return *this;
  }
  SegBuilder& sack(std::initializer_list<std::pair<uint32_t, uint32_t>> blocks);
  SegBuilder& malformed() { s_.options_malformed = true; return *this; }
  SegmentIn build() const {
    SegmentIn s = s_;
    s.payload = std::span<const uint8_t>(payload_.data(), payload_.size());
    return s;
  }

 private:
  SegmentIn s_;
  std::vector<uint8_t> payload_;
};
inline SegBuilder seg() { return SegBuilder(); }

// What we expect the connection to send; unset fields are not checked (flags always are).
struct Expect {
  std::optional<uint32_t> seq_, ack_, len_, urgent_;
  std::optional<uint16_t> window_;
  std::optional<uint64_t> offset_;
  std::optional<uint16_t> mss_;
  std::optional<int> ws_;  // -1: must be absent
  std::optional<bool> sack_permitted_, timestamps_;
  std::optional<uint32_t> ts_ecr_;
  std::optional<std::vector<wire::SackBlock>> sack_;
  uint8_t flags_ = tcp::kTcpAck;

  Expect& seq(uint32_t v) { seq_ = v; return *this; }
  Expect& seq(SeqNum v) { seq_ = v.raw(); return *this; }
  Expect& ack(uint32_t v) { ack_ = v; return *this; }
  Expect& ack(SeqNum v) { ack_ = v.raw(); return *this; }
  Expect& flags(uint8_t f) { flags_ = f; return *this; }
  Expect& window(uint16_t w) { window_ = w; return *this; }
  Expect& len(uint32_t l) { len_ = l; return *this; }
  Expect& offset(uint64_t o) { offset_ = o; return *this; }
  Expect& urgent(uint16_t u) { urgent_ = u; return *this; }
  Expect& mss(uint16_t m) { mss_ = m; return *this; }
  Expect& ws(int shift) { ws_ = shift; return *this; }
  Expect& sack_permitted(bool b) { sack_permitted_ = b; return *this; }
  Expect& timestamps(bool b) { timestamps_ = b; return *this; }
  Expect& ts_ecr(uint32_t e) { timestamps_ = true; ts_ecr_ = e; return *this; }
  Expect& sack(std::vector<wire::SackBlock> b) { sack_ = std::move(b); return *this; }
};
inline Expect out() { return Expect(); }

struct Event {
  enum class Kind { kEstablished, kData, kUrgent, kAcked, kPeerFin, kClosed };
  Kind kind;
  uint64_t value = 0;  // data length, urgent end, acked_until
  tcp::CloseReason reason = tcp::CloseReason::kNormal;
};

class RecordingSink final : public tcp::ConnSink {
 public:
  void on_established() override { events.push_back({Event::Kind::kEstablished}); established = true; }
  void on_data(std::span<const uint8_t> d) override {
    events.push_back({Event::Kind::kData, d.size()});
    received.insert(received.end(), d.begin(), d.end());
  }
  void on_urgent(uint64_t end) override { events.push_back({Event::Kind::kUrgent, end}); urgent_end = end; }
  void on_acked(uint64_t until) override { events.push_back({Event::Kind::kAcked, until}); acked_until = until; }
  void on_peer_fin() override { events.push_back({Event::Kind::kPeerFin}); peer_fin = true; }
  void on_closed(tcp::CloseReason r) override {
    events.push_back({Event::Kind::kClosed, 0, r});
    closed = true;
    reason = r;
  }
  size_t count(Event::Kind k) const;

  std::vector<Event> events;
  std::vector<uint8_t> received;
  bool established = false, peer_fin = false, closed = false;
  uint64_t acked_until = 0;
  uint64_t urgent_end = 0;
  tcp::CloseReason reason = tcp::CloseReason::kNormal;
};

// Parameters most tests start from: no window scaling, timestamps or SACK, so windows and
// options stay easy to read; tests that need them switch them on.
tcp::TcpParams plain_params();

class TcpHarness {
 public:
  // Our ISN (the connection's) and the peer's, chosen near 2^32 by wrap tests.
  static constexpr uint32_t kLocalIss = 1000;
  static constexpr uint32_t kRemoteIss = 5000;
  static constexpr uint16_t kPeerWindow = 64000;

  explicit TcpHarness(tcp::TcpParams p = plain_params(), uint32_t local_iss = kLocalIss,
                      uint32_t remote_iss = kRemoteIss);

  // Delivers a segment at the current time.
  void send(const SegBuilder& b);
  void send(const SegmentIn& s);
  // The next segment the connection sends at the current time (after any the timers produced).
  std::optional<SegmentOut> recv();
  std::vector<SegmentOut> recv_all();
  // Asserts the next segment matches `e` and returns it.
  SegmentOut expect_segment(const Expect& e, const char* file = __builtin_FILE(),
                            int line = __builtin_LINE());
  void expect_nothing(const char* file = __builtin_FILE(), int line = __builtin_LINE());
  // Moves the clock on by `d`, running on_timer at each deadline on the way and collecting what
  // the connection sends then (the engine polls after every timer).
  void advance(Duration d);
  // The time the last segment returned by recv() left.
  Instant last_time() const { return last_time_; }
  // The payload bytes of a segment we sent, from the app stream.
  static std::vector<uint8_t> payload_of(const SegmentOut& s);
  // Application calls.
  void app_send(uint64_t n) { conn.send(n); }
  void app_close() { conn.close(sink); }
  void app_abort() { conn.abort(ctx, sink); }
  // The peer's ACK of everything we sent so far.
  SegBuilder peer_ack() const { return seg().seq(rseq).ack(conn.snd_max()).window(peer_window); }
  // The peer's `len` stream bytes at rseq (advances rseq, roff).
  SegBuilder peer_data(uint32_t len);
  std::vector<uint8_t> expected_received(uint64_t from, uint64_t len) const { return stream_bytes(from, static_cast<uint32_t>(len), 1); }

  // --- fixtures, each from the previous one ---
  void syn_received();        // open_passive on the peer's SYN, SYN-ACK out
  void established_passive(); // + the peer's ACK
  void syn_sent();            // open_active, SYN out
  void established_active();  // + SYN-ACK in, ACK out
  void established() { established_passive(); }
  void fin_wait_1();  // established; close(); FIN out
  void fin_wait_2();  // + ACK of the FIN
  void closing();     // fin_wait_1 + the peer's FIN (not acknowledging ours); ACK out
  void time_wait();   // fin_wait_2 + the peer's FIN; ACK out
  void close_wait();  // established + the peer's FIN; ACK out
  void last_ack();    // close_wait; close(); FIN out

  tcp::TcpParams params;
  tcp::ChunkPool pool{512};
  tcp::TcpCounters counters;
  tcp::TcpContext ctx{pool, counters};
  RecordingSink sink;
  tcp::TcpConnection conn;
  Instant now = Instant::from_ns(10'000'000'000ull);
  uint32_t local_iss, remote_iss;
  SeqNum rseq;  // the peer's next sequence number
  uint64_t roff = 0;  // the peer's next stream offset
  uint16_t peer_window = kPeerWindow;

 private:
  std::deque<std::pair<Instant, SegmentOut>> queued_;
  Instant last_time_;
};

// Two connections joined by an in-memory link that loses, reorders and duplicates segments
// (seeded), each with an application that sends a deterministic stream and checks every byte.
struct LinkFaults {
  double loss = 0.0;
  double duplicate = 0.0;
  double reorder = 0.0;  // probability a segment is delayed by extra jitter
  Duration delay = Duration::millis(10);
  Duration jitter = Duration::millis(20);
};

class LinkedPair {
 public:
  struct Side {
    explicit Side(uint8_t s) : salt(s) {}
    tcp::ChunkPool pool{1024};
    tcp::TcpCounters counters;
    tcp::TcpContext ctx{pool, counters};
    RecordingSink sink;
    tcp::TcpConnection conn;
    uint8_t salt;
    uint64_t to_send = 0;  // stream bytes the app will send
    bool closed_app = false;
  };

  LinkedPair(const tcp::TcpParams& a, const tcp::TcpParams& b, LinkFaults f, uint64_t seed);
  // Runs the whole exchange: handshake, a_bytes A->B and b_bytes B->A, then both close.
  // Returns false if it did not finish before `limit` virtual time.
  bool run(uint64_t a_bytes, uint64_t b_bytes, Duration limit);
  // Request and response: `rounds` times, A sends `request` bytes, B answers `response` bytes
  // once it has the whole request, and A waits `think` after the whole response before the next
  // request (long enough for delayed ACKs: both sides go idle between rounds). Then both close.
  bool run_rounds(uint32_t rounds, uint32_t request, uint32_t response, Duration think, Duration limit);

  Side a{2}, b{3};
  Instant now = Instant::from_ns(1'000'000'000ull);
  uint64_t delivered = 0, dropped = 0, duplicated = 0;
  bool trace = false;  // print every delivered segment (debugging a failing seed)
  // Whenever a side is parkable(), park it and bring it back into a fresh TcpConnection object
  // (as the engine does when it evicts an idle connection and a segment comes for it).
  bool park_idle = false;
  uint64_t parks = 0;
  // With log_wire, every segment either side emitted, with its time: runs with and without
  // parking compare it.
  bool log_wire = false;
  std::vector<std::string> wire_log;

 private:
  struct InFlight {
    Instant at;
    uint64_t order;
    bool to_b;
    SegmentOut seg;
    std::vector<uint8_t> payload;
  };
  void pump(Side& from, bool to_b);
  void deliver(const InFlight& f);
  void log_segment(const SegmentOut& s, bool to_b);
  // Delivers what is due at the next event and runs due timers; false when nothing is left.
  bool step(Instant end);
  void maybe_park(Side& s, const tcp::TcpParams& p);

  tcp::TcpParams pa_, pb_;
  LinkFaults faults_;
  std::mt19937_64 rng_;
  std::vector<InFlight> flight_;
  uint64_t order_ = 0;
};

}  // namespace linetcp::testing
