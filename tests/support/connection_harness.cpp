// Connection harness and lossy link for the tcp layer's tests (see connection_harness.hpp).
#include "connection_harness.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

namespace linetcp::testing {

using tcp::kTcpAck;
using tcp::kTcpFin;
using tcp::kTcpSyn;

std::vector<uint8_t> stream_bytes(uint64_t offset, uint32_t len, uint8_t salt) {
  std::vector<uint8_t> v(len);
  for (uint32_t i = 0; i < len; ++i) v[i] = stream_byte(offset + i, salt);
  return v;
}

SegBuilder& SegBuilder::sack(std::initializer_list<std::pair<uint32_t, uint32_t>> blocks) {
  s_.opts.sack_count = 0;
  for (const auto& [l, r] : blocks) s_.opts.sack[s_.opts.sack_count++] = {l, r};
  return *this;
}

size_t RecordingSink::count(Event::Kind k) const {
  return static_cast<size_t>(std::count_if(events.begin(), events.end(), [k](const Event& e) { return e.kind == k; }));
}

tcp::TcpParams plain_params() {
  tcp::TcpParams p;
  p.mss = 1460;
  p.window_scale = 0;
  p.timestamps = false;
  p.sack = false;
  p.rcv_buffer = 64000;
  return p;
}

TcpHarness::TcpHarness(tcp::TcpParams p, uint32_t liss, uint32_t riss)
    : params(p), local_iss(liss), remote_iss(riss), rseq(riss) {}

void TcpHarness::send(const SegBuilder& b) { send(b.build()); }
void TcpHarness::send(const SegmentIn& s) { conn.on_segment(s, now, ctx, sink); }

std::optional<SegmentOut> TcpHarness::recv() {
  if (!queued_.empty()) {
    auto [t, s] = queued_.front();
    queued_.pop_front();
    last_time_ = t;
    return s;
  }
  SegmentOut s;
  if (conn.poll_output(now, s, ctx)) {
    last_time_ = now;
    return s;
  }
  return std::nullopt;
}

std::vector<SegmentOut> TcpHarness::recv_all() {
  std::vector<SegmentOut> v;
  while (auto s = recv()) v.push_back(*s);
  return v;
}

SegmentOut TcpHarness::expect_segment(const Expect& e, const char* file, int line) {
  ::testing::ScopedTrace trace(file, line, "expect_segment");
  auto got = recv();
  if (!got) {
    ADD_FAILURE() << "expected a segment, got nothing (state " << tcp::to_string(conn.state()) << ")";
    return SegmentOut{};
  }
  const SegmentOut& s = *got;
  EXPECT_EQ(static_cast<int>(s.flags), static_cast<int>(e.flags_)) << "flags";
  if (e.seq_) { EXPECT_EQ(s.seq.raw(), *e.seq_) << "seq"; }
  if (e.ack_ && (s.flags & kTcpAck)) { EXPECT_EQ(s.ack.raw(), *e.ack_) << "ack"; }
  if (e.window_) { EXPECT_EQ(s.window, *e.window_) << "window"; }
  if (e.len_) { EXPECT_EQ(s.payload_len, *e.len_) << "payload length"; }
  if (e.offset_) { EXPECT_EQ(s.payload_offset, *e.offset_) << "payload offset"; }
  if (e.urgent_) { EXPECT_EQ(s.urgent, *e.urgent_) << "urgent pointer"; }
  if (e.mss_) {
    EXPECT_TRUE(s.opts.has_mss) << "MSS option";
    EXPECT_EQ(s.opts.mss, *e.mss_) << "MSS";
  }
  if (e.ws_) {
    if (*e.ws_ < 0) {
      EXPECT_FALSE(s.opts.has_window_scale) << "window scale option";
    } else {
      EXPECT_TRUE(s.opts.has_window_scale) << "window scale option";
      EXPECT_EQ(s.opts.window_scale, *e.ws_) << "window scale";
    }
  }
  if (e.sack_permitted_) { EXPECT_EQ(s.opts.sack_permitted, *e.sack_permitted_) << "SACK permitted"; }
  if (e.timestamps_) { EXPECT_EQ(s.opts.has_timestamps, *e.timestamps_) << "timestamps"; }
  if (e.ts_ecr_) { EXPECT_EQ(s.opts.ts_ecr, *e.ts_ecr_) << "TSecr"; }
  if (e.sack_) {
    EXPECT_EQ(s.opts.sack_count, e.sack_->size()) << "SACK block count";
    for (size_t i = 0; i < std::min<size_t>(s.opts.sack_count, e.sack_->size()); ++i) {
      EXPECT_EQ(s.opts.sack[i], (*e.sack_)[i]) << "SACK block " << i << ": got [" << s.opts.sack[i].left
                                                << "," << s.opts.sack[i].right << ")";
    }
  }
  // Payload bytes always come from the app stream at the right offset.
  if (s.payload_len > 0 && (s.flags & kTcpAck)) {
    const uint64_t expected_offset = static_cast<uint64_t>(s.seq - conn.iss()) - 1;
    EXPECT_EQ(s.payload_offset, expected_offset) << "payload offset vs seq";
  }
  return s;
}

void TcpHarness::expect_nothing(const char* file, int line) {
  ::testing::ScopedTrace trace(file, line, "expect_nothing");
  auto got = recv();
  if (got)
    ADD_FAILURE() << "expected nothing, got flags=0x" << std::hex << int(got->flags) << std::dec
                  << " seq=" << got->seq.raw() << " ack=" << got->ack.raw() << " len=" << got->payload_len;
}

void TcpHarness::advance(Duration d) {
  const Instant target = now + d;
  // The engine polls a connection after every input; do it here for what is already due.
  {
    SegmentOut s;
    while (conn.poll_output(now, s, ctx)) queued_.emplace_back(now, s);
  }
  for (int guard = 0; guard < 100000; ++guard) {
    const Instant dl = conn.next_deadline();
    if (dl > target) break;
    if (dl > now) now = dl;
    conn.on_timer(now, ctx, sink);
    SegmentOut s;
    while (conn.poll_output(now, s, ctx)) queued_.emplace_back(now, s);
  }
  now = target;
}

std::vector<uint8_t> TcpHarness::payload_of(const SegmentOut& s) {
  return stream_bytes(s.payload_offset, s.payload_len, 0);
}

SegBuilder TcpHarness::peer_data(uint32_t len) {
  SegBuilder b = seg().seq(rseq).ack(conn.snd_max()).window(peer_window).stream(roff, len);
  rseq += len;
  roff += len;
  return b;
}

// ---------------------------------------------------------------------------------------------
// Fixtures

void TcpHarness::syn_received() {
  conn.open_passive(params, seg().seq(remote_iss).flags(kTcpSyn).window(peer_window).mss(1460).build(),
                    SeqNum(local_iss), now);
  rseq = SeqNum(remote_iss) + 1;
  expect_segment(out().flags(kTcpSyn | kTcpAck).seq(local_iss).ack(rseq).mss(params.mss));
  EXPECT_EQ(conn.state(), State::kSynReceived);
}

void TcpHarness::established_passive() {
  syn_received();
  send(seg().seq(rseq).ack(local_iss + 1).window(peer_window));
  expect_nothing();
  EXPECT_EQ(conn.state(), State::kEstablished);
}

void TcpHarness::syn_sent() {
  conn.open_active(params, SeqNum(local_iss), now);
  expect_segment(out().flags(kTcpSyn).seq(local_iss).mss(params.mss));
  EXPECT_EQ(conn.state(), State::kSynSent);
}

void TcpHarness::established_active() {
  syn_sent();
  send(seg().seq(remote_iss).flags(kTcpSyn).ack(local_iss + 1).window(peer_window).mss(1460));
  rseq = SeqNum(remote_iss) + 1;
  expect_segment(out().seq(local_iss + 1).ack(rseq));
  EXPECT_EQ(conn.state(), State::kEstablished);
}

void TcpHarness::fin_wait_1() {
  established();
  app_close();
  expect_segment(out().flags(kTcpAck | kTcpFin).seq(conn.snd_nxt()).ack(rseq));
  EXPECT_EQ(conn.state(), State::kFinWait1);
}

void TcpHarness::fin_wait_2() {
  fin_wait_1();
  send(seg().seq(rseq).ack(conn.snd_max()).window(peer_window));
  expect_nothing();
  EXPECT_EQ(conn.state(), State::kFinWait2);
}

void TcpHarness::closing() {
  fin_wait_1();
  send(seg().seq(rseq).ack(conn.snd_una()).window(peer_window).add_flags(kTcpFin));
  rseq += 1;
  expect_segment(out().seq(conn.snd_max()).ack(rseq));
  EXPECT_EQ(conn.state(), State::kClosing);
}

void TcpHarness::time_wait() {
  fin_wait_2();
  send(seg().seq(rseq).ack(conn.snd_max()).window(peer_window).add_flags(kTcpFin));
  rseq += 1;
  expect_segment(out().seq(conn.snd_max()).ack(rseq));
  EXPECT_EQ(conn.state(), State::kTimeWait);
}

void TcpHarness::close_wait() {
  established();
  send(seg().seq(rseq).ack(conn.snd_max()).window(peer_window).add_flags(kTcpFin));
  rseq += 1;
  expect_segment(out().seq(conn.snd_max()).ack(rseq));
  EXPECT_EQ(conn.state(), State::kCloseWait);
}

void TcpHarness::last_ack() {
  close_wait();
  app_close();
  expect_segment(out().flags(kTcpAck | kTcpFin).seq(conn.snd_nxt()).ack(rseq));
  EXPECT_EQ(conn.state(), State::kLastAck);
}

// ---------------------------------------------------------------------------------------------
// Linked pair

LinkedPair::LinkedPair(const tcp::TcpParams& pa, const tcp::TcpParams& pb, LinkFaults f, uint64_t seed)
    : pa_(pa), pb_(pb), faults_(f), rng_(seed) {}

void LinkedPair::pump(Side& from, bool to_b) {
  SegmentOut s;
  std::uniform_real_distribution<double> u(0.0, 1.0);
  while (from.conn.poll_output(now, s, from.ctx)) {
    if (log_wire) log_segment(s, to_b);
    if (u(rng_) < faults_.loss) {
      ++dropped;
      continue;
    }
    const int copies = u(rng_) < faults_.duplicate ? 2 : 1;
    duplicated += copies - 1;
    for (int c = 0; c < copies; ++c) {
      Duration d = faults_.delay;
      if (u(rng_) < faults_.reorder)
        d += Duration::nanos(static_cast<int64_t>(u(rng_) * static_cast<double>(faults_.jitter.ns())));
      InFlight f{now + d, order_++, to_b, s, {}};
      if (s.payload_len) f.payload = stream_bytes(s.payload_offset, s.payload_len, from.salt);
      flight_.push_back(std::move(f));
    }
  }
}

void LinkedPair::log_segment(const SegmentOut& s, bool to_b) {
  char line[160];
  std::snprintf(line, sizeof line, "%llu %c seq=%u ack=%u fl=%02x win=%u len=%u off=%llu tsv=%u tse=%u sack=%u",
                static_cast<unsigned long long>(now.ns()), to_b ? 'A' : 'B', s.seq.raw(), s.ack.raw(), s.flags,
                s.window, s.payload_len, static_cast<unsigned long long>(s.payload_offset), s.opts.ts_val,
                s.opts.ts_ecr, static_cast<unsigned>(s.opts.sack_count));
  wire_log.emplace_back(line);
}

void LinkedPair::deliver(const InFlight& f) {
  Side& to = f.to_b ? b : a;
  SegmentIn in;
  in.seq = f.seg.seq;
  in.ack = f.seg.ack;
  in.flags = f.seg.flags;
  in.window = f.seg.window;
  in.urgent = f.seg.urgent;
  in.opts = f.seg.opts;
  in.payload = std::span<const uint8_t>(f.payload.data(), f.payload.size());
  ++delivered;
  if (trace)
    std::printf("%9.3f %s seq=%u ack=%u fl=%02x win=%u len=%u | A %s una=%u nxt=%u max=%u rcv=%u | B %s una=%u nxt=%u max=%u rcv=%u\n",
                static_cast<double>(now.ns()) / 1e9, f.to_b ? "A->B" : "B->A", in.seq.raw(), in.ack.raw(), in.flags,
                in.window, static_cast<unsigned>(in.payload.size()), tcp::to_string(a.conn.state()),
                a.conn.snd_una().raw(), a.conn.snd_nxt().raw(), a.conn.snd_max().raw(), a.conn.rcv_nxt().raw(),
                tcp::to_string(b.conn.state()), b.conn.snd_una().raw(), b.conn.snd_nxt().raw(),
                b.conn.snd_max().raw(), b.conn.rcv_nxt().raw());
  if (f.to_b && b.conn.state() == State::kClosed && !b.sink.established && !b.sink.closed) {
    // The listener: a SYN opens the passive side (the engine's job in real life).
    if (in.flags == kTcpSyn) b.conn.open_passive(pb_, in, SeqNum(0xFFFFF000u), now);
    return;
  }
  to.conn.on_segment(in, now, to.ctx, to.sink);
}

bool LinkedPair::run(uint64_t a_bytes, uint64_t b_bytes, Duration limit) {
  a.to_send = a_bytes;
  b.to_send = b_bytes;
  const Instant end = now + limit;
  a.conn.open_active(pa_, SeqNum(0xFFFFFF00u), now);
  bool a_queued = false, b_queued = false;
  while (now < end) {
    if (a.sink.established && !a_queued) {
      a.conn.send(a.to_send);
      a.conn.close(a.sink);  // the FIN follows the data
      a_queued = true;
    }
    if (b.sink.established && !b_queued) {
      b.conn.send(b.to_send);
      b_queued = true;
    }
    if (b_queued && b.sink.peer_fin && !b.closed_app) {
      b.conn.close(b.sink);  // B closes once A is done: CLOSE-WAIT -> LAST-ACK
      b.closed_app = true;
    }
    pump(a, true);
    pump(b, false);
    const auto finished = [](const Side& s) {
      return s.conn.state() == State::kClosed || s.conn.state() == State::kTimeWait;
    };
    if (a_queued && b_queued && finished(a) && finished(b) && flight_.empty()) return true;
    if (!step(end)) return finished(a) && finished(b);
  }
  return false;
}

bool LinkedPair::step(Instant end) {
  Instant next = base::min(a.conn.next_deadline(), b.conn.next_deadline());
  for (const auto& f : flight_) next = base::min(next, f.at);
  if (next.is_never()) return false;
  if (next > now) now = std::min(next, end);
  // Deliver what is due, in arrival order.
  std::sort(flight_.begin(), flight_.end(),
            [](const InFlight& x, const InFlight& y) { return x.at != y.at ? x.at < y.at : x.order < y.order; });
  size_t n = 0;
  while (n < flight_.size() && flight_[n].at <= now) ++n;
  std::vector<InFlight> due(std::make_move_iterator(flight_.begin()), std::make_move_iterator(flight_.begin() + static_cast<long>(n)));
  flight_.erase(flight_.begin(), flight_.begin() + static_cast<long>(n));
  for (const auto& f : due) deliver(f);
  if (a.conn.next_deadline() <= now) a.conn.on_timer(now, a.ctx, a.sink);
  if (b.conn.next_deadline() <= now) b.conn.on_timer(now, b.ctx, b.sink);
  if (park_idle) {
    maybe_park(a, pa_);
    maybe_park(b, pb_);
  }
  return true;
}

void LinkedPair::maybe_park(Side& s, const tcp::TcpParams& p) {
  if (!s.conn.parkable()) return;
  tcp::ParkedTcb parked;
  s.conn.park(parked, now);
  s.conn = tcp::TcpConnection();  // the engine hands another slot back: nothing survives but `parked`
  s.conn.unpark(p, parked, now);
  ++parks;
}

bool LinkedPair::run_rounds(uint32_t rounds, uint32_t request, uint32_t response, Duration think, Duration limit) {
  const Instant end = now + limit;
  a.conn.open_active(pa_, SeqNum(0xFFFFFF00u), now);
  uint32_t round = 0;           // requests A has sent
  uint32_t answered = 0;        // responses B has queued
  Instant next_request = Instant::never();
  bool closed = false;
  while (now < end) {
    if (a.sink.established && round == 0 && next_request.is_never()) next_request = now;
    // A's next request once the whole previous response is in and `think` has passed.
    if (round < rounds && !next_request.is_never() && now >= next_request) {
      a.conn.send(request);
      ++round;
      next_request = Instant::never();
    }
    if (b.sink.established && answered < round && b.sink.received.size() >= uint64_t{request} * (answered + 1)) {
      b.conn.send(response);
      ++answered;
    }
    if (round > 0 && next_request.is_never() && a.sink.received.size() >= uint64_t{response} * round) {
      if (round == rounds && !closed) {
        a.conn.close(a.sink);
        closed = true;
      } else if (round < rounds) {
        next_request = now + think;
      }
    }
    if (closed && b.sink.peer_fin && !b.closed_app) {
      b.conn.close(b.sink);
      b.closed_app = true;
    }
    pump(a, true);
    pump(b, false);
    const auto finished = [](const Side& s) {
      return s.conn.state() == State::kClosed || s.conn.state() == State::kTimeWait;
    };
    if (closed && finished(a) && finished(b) && flight_.empty()) return true;
    // A timer of the application's own (the think time) is an event too.
    if (!next_request.is_never() && next_request > now) {
      Instant next = base::min(a.conn.next_deadline(), b.conn.next_deadline());
      for (const auto& f : flight_) next = base::min(next, f.at);
      if (next_request < next) {
        now = next_request;
        continue;
      }
    }
    if (!step(end)) return finished(a) && finished(b);
  }
  return false;
}

}  // namespace linetcp::testing
