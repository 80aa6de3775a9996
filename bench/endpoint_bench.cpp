// Two Endpoints joined in memory, no DPDK: an HTTP LoadClient against an HttpServer in one
// thread with a virtual clock. Measures whole transactions through both stacks (frames built,
// checksummed, parsed, demultiplexed): handshake + request + response + close per connection,
// and keep-alive requests. cycles/op are for both sides together.
#include <benchmark/benchmark.h>

#include <cstring>
#include <memory>
#include <vector>

#include "bench_util.hpp"
#include "linetcp/app/load_client.hpp"
#include "linetcp/app/servers.hpp"
#include "linetcp/engine/endpoint.hpp"

namespace linetcp::engine {
namespace {

using base::Duration;
using base::Instant;

// Frames written by one endpoint, read by the other at the next step.
class Wire final : public FrameSink {
 public:
  Wire() : buf_(kFrames * kFrameBytes) {}
  std::span<uint8_t> alloc_frame() override {
    if (count_ == kFrames) return {};
    return {buf_.data() + count_ * kFrameBytes, kFrameBytes};
  }
  void commit_frame(std::size_t len, const TxMeta&) override {
    if (len) len_[count_++] = static_cast<uint16_t>(len);
  }
  // With `prefetch`, the next frame's index bucket is prefetched before each input(), as the
  // DPDK worker does over an RX burst.
  void deliver(Endpoint& to, Instant now, bool prefetch) {
    for (std::size_t i = 0; i < count_; ++i) {
      if (prefetch && i + 1 < count_) to.prefetch_input({buf_.data() + (i + 1) * kFrameBytes, len_[i + 1]});
      to.input({buf_.data() + i * kFrameBytes, len_[i]}, now);
    }
    count_ = 0;
  }

 private:
  static constexpr std::size_t kFrames = 1024;
  static constexpr std::size_t kFrameBytes = 1536;
  std::vector<uint8_t> buf_;
  uint16_t len_[kFrames]{};
  std::size_t count_ = 0;
};

EndpointConfig side(uint32_t ip, uint8_t mac_last, bool offload) {
  EndpointConfig c;
  c.mac = wire::MacAddr{{2, 0, 0, 0, 0, mac_last}};
  c.address = wire::Ipv4Addr{ip};
  c.max_connections = 1 << 16;
  c.time_wait_capacity = 1 << 17;
  c.time_wait = Duration::millis(2);  // virtual time: keep the TIME_WAIT population small
  c.verify_checksums = !offload;
  c.tx_checksum_offload = offload;
  return c;
}

// range(0): concurrency; range(1): requests per connection (0: keep-alive); range(2): 1 = checksum
// offload (none computed or verified, as with a NIC that does it), 0 = software checksums (memif);
// range(3): 1 = prefetch the next frame's index bucket (Endpoint::prefetch_input).
void BM_EndpointHttp(benchmark::State& state) {
  const auto concurrency = static_cast<uint32_t>(state.range(0));
  const auto requests = static_cast<uint64_t>(state.range(1));
  const bool offload = state.range(2) != 0;
  const bool prefetch = state.range(3) != 0;
  Instant now = Instant::from_ns(1'000'000'000);
  auto server_ep = std::make_unique<Endpoint>(side(0x0A000001, 1, offload), now);
  auto client_ep = std::make_unique<Endpoint>(side(0x0A000002, 2, offload), now);
  app::HttpServer server(app::HttpServerOptions{}, server_ep->capacity());
  server_ep->listen(80, server);
  app::LoadClientOptions o;
  o.target = wire::Ipv4Addr{0x0A000001};
  o.concurrency = concurrency;
  o.requests_per_connection = requests;
  app::LoadClient client(o, client_ep->capacity());
  client.start(now);
  auto wire_cs = std::make_unique<Wire>();
  auto wire_sc = std::make_unique<Wire>();

  auto step = [&] {
    now += Duration::micros(1);
    client.set_time(now);
    if (client.next_deadline() <= now) client.poll(*client_ep, now);
    if (client_ep->next_deadline() <= now) client_ep->advance(now);
    if (server_ep->next_deadline() <= now) server_ep->advance(now);
    while (client_ep->has_output() && client_ep->poll_output(*wire_cs, now, 512) > 0) {
    }
    wire_cs->deliver(*server_ep, now, prefetch);
    while (server_ep->has_output() && server_ep->poll_output(*wire_sc, now, 512) > 0) {
    }
    wire_sc->deliver(*client_ep, now, prefetch);
  };
  for (uint32_t i = 0; i < 2000 + 20 * concurrency; ++i) step();  // ARP, the first wave of connections
  const uint64_t r0 = client.counters().responses;
  const uint64_t c0 = client.counters().connections_closed;
  for (auto _ : state) step();
  const double responses = static_cast<double>(client.counters().responses - r0);
  const double closed = static_cast<double>(client.counters().connections_closed - c0);
  const double items = requests == 0 ? responses : closed;
  state.SetItemsProcessed(static_cast<int64_t>(items));
  bench::set_cycles(state, items);
  state.counters["errors"] = static_cast<double>(client.counters().errors());
}

BENCHMARK(BM_EndpointHttp)
    ->ArgNames({"conc", "req_per_conn", "offload", "prefetch"})
    ->Args({1, 1, 0, 0})
    ->Args({100, 1, 0, 0})
    ->Args({100, 1, 0, 1})
    ->Args({100, 1, 1, 0})
    ->Args({100, 0, 0, 0})
    ->Args({1000, 0, 0, 0})
    ->Args({1000, 0, 0, 1})
    ->Args({10000, 1, 0, 0})
    ->Args({10000, 1, 0, 1});

}  // namespace
}  // namespace linetcp::engine
