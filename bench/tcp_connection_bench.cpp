// TcpConnection's established path without the engine: two connections joined by hand, segments
// per second for one-way data with the receiver's ACKs (bulk) and for request/response where
// every segment carries data and an ACK (ping-pong), plus the handshake alone. "in cycles" are
// TSC cycles spent in on_segment() alone, read around each call (the read costs ~20 cycles).
#include <benchmark/benchmark.h>
#include <x86intrin.h>

#include <array>
#include <cstdint>

#include "bench_util.hpp"
#include "linetcp/tcp/tcp_connection.hpp"

namespace linetcp::tcp {
namespace {

using base::Duration;
using base::Instant;

struct NullSink final : ConnSink {
  uint64_t bytes = 0;
  void on_established() override {}
  void on_data(std::span<const uint8_t> d) override { bytes += d.size(); }
  void on_urgent(uint64_t) override {}
  void on_acked(uint64_t) override {}
  void on_peer_fin() override {}
  void on_closed(CloseReason) override {}
};

// One side: the connection, its context and sink.
struct Side {
  TcpConnection conn;
  ChunkPool ooo{64};
  TcpCounters counters;
  NullSink sink;
  TcpContext ctx() { return TcpContext{ooo, counters}; }
};

// What the peer receives for `out`: payload bytes come from a fixed buffer (content is irrelevant).
SegmentIn to_in(const SegmentOut& out) {
  static std::array<uint8_t, 65536> payload{};
  SegmentIn in;
  in.seq = out.seq;
  in.ack = out.ack;
  in.flags = out.flags;
  in.window = out.window;
  in.urgent = out.urgent;
  in.opts = out.opts;
  in.payload = std::span<const uint8_t>(payload.data(), out.payload_len);
  return in;
}

struct Pair {
  TcpParams params;
  Side a, b;  // a: active opener
  Instant now = Instant::from_ns(1'000'000'000);
  uint64_t in_cycles = 0;  // cycles inside on_segment()
  uint64_t segments = 0;   // segments delivered

  // Delivers everything `from` has to send to `to`; returns the number of segments.
  int flush(Side& from, Side& to) {
    int n = 0;
    SegmentOut out;
    auto cx = from.ctx();
    while (from.conn.poll_output(now, out, cx)) {
      const SegmentIn in = to_in(out);
      auto tcx = to.ctx();
      const uint64_t t0 = __rdtsc();
      to.conn.on_segment(in, now, tcx, to.sink);
      in_cycles += __rdtsc() - t0;
      ++n;
    }
    segments += static_cast<uint64_t>(n);
    return n;
  }

  void handshake() {
    auto acx = a.ctx();
    a.conn.open_active(params, SeqNum(1000), now);
    SegmentOut syn;
    a.conn.poll_output(now, syn, acx);
    b.conn.open_passive(params, to_in(syn), SeqNum(500000), now);
    flush(b, a);  // SYN-ACK
    flush(a, b);  // ACK
  }
};

void set_segment_counters(benchmark::State& state, const Pair& p) {
  state.SetItemsProcessed(static_cast<int64_t>(p.segments));
  bench::set_cycles(state, static_cast<double>(p.segments));
  state.counters["in cycles/seg"] = static_cast<double>(p.in_cycles) / static_cast<double>(p.segments);
}

// One-way data, one MSS per send(): data segments a -> b, ACKs b -> a (every second segment).
void BM_TcpBulkDataAndAcks(benchmark::State& state) {
  Pair p;
  p.handshake();
  if (p.a.conn.state() != State::kEstablished || p.b.conn.state() != State::kEstablished) {
    state.SkipWithError("handshake failed");
    return;
  }
  const uint32_t mss = p.a.conn.send_mss();
  for (auto _ : state) {
    p.now += Duration::nanos(200);
    p.a.conn.send(mss);
    p.flush(p.a, p.b);
    p.flush(p.b, p.a);
  }
  set_segment_counters(state, p);
  state.counters["bytes_in"] = static_cast<double>(p.b.sink.bytes);
}

// Request/response with piggybacked ACKs: 100 bytes each way, no Nagle; every segment is data+ACK.
void BM_TcpPingPongDataAck(benchmark::State& state) {
  Pair p;
  p.params.nagle = false;
  p.handshake();
  for (auto _ : state) {
    p.now += Duration::nanos(500);
    p.a.conn.send(100);
    p.flush(p.a, p.b);
    p.b.conn.send(100);
    p.flush(p.b, p.a);
  }
  set_segment_counters(state, p);
}

// The three-way handshake on fresh connections (state only; no engine, no tables).
void BM_TcpHandshake(benchmark::State& state) {
  uint64_t n = 0;
  for (auto _ : state) {
    Pair p;
    p.handshake();
    benchmark::DoNotOptimize(p.b.conn.state());
    ++n;
  }
  state.SetItemsProcessed(static_cast<int64_t>(n));
  bench::set_cycles(state, static_cast<double>(n));
}

BENCHMARK(BM_TcpBulkDataAndAcks);
BENCHMARK(BM_TcpPingPongDataAck);
BENCHMARK(BM_TcpHandshake);

}  // namespace
}  // namespace linetcp::tcp
