// Per-connection memory: prints the engine's own accounting (Endpoint::memory_per_entry) as JSON:
// at the default sizes, and "parked": 10^6 connections of which 65536 in full TCP state, where an
// idle connection costs its record and index share. With --hold N, opens N idle connections
// between two in-memory Endpoints (a client with up to 256 source addresses and a server, no
// DPDK; --full-states F full TCP states each, default 65536, 0 for one per connection) and reports how many
// it holds, how long that took and the process's peak RSS. --connections C and/or --time-wait T
// add the accounting for an Endpoint with those table sizes, e.g. sizes just past a power of two.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "linetcp/engine/endpoint.hpp"

using namespace linetcp;
using base::Duration;
using base::Instant;

namespace {

// An application that does nothing: connections stay open and idle.
struct Idle final : engine::App {
  uint64_t opened = 0;
  void on_open(engine::Endpoint&, engine::ConnId) override { ++opened; }
  void fill_payload(engine::Endpoint&, engine::ConnId, uint64_t, std::span<uint8_t>) override {}
};

class Wire final : public engine::FrameSink {
 public:
  Wire() : buf_(kFrames * kFrameBytes) {}
  std::span<uint8_t> alloc_frame() override {
    if (count_ == kFrames) return {};
    return {buf_.data() + count_ * kFrameBytes, kFrameBytes};
  }
  void commit_frame(std::size_t len, const engine::TxMeta&) override {
    if (len) len_[count_++] = static_cast<uint16_t>(len);
  }
  void deliver(engine::Endpoint& to, Instant now) {
    for (std::size_t i = 0; i < count_; ++i) to.input({buf_.data() + i * kFrameBytes, len_[i]}, now);
    count_ = 0;
  }

 private:
  static constexpr std::size_t kFrames = 4096;
  static constexpr std::size_t kFrameBytes = 128;  // handshake frames only
  std::vector<uint8_t> buf_;
  uint16_t len_[kFrames]{};
  std::size_t count_ = 0;
};

long peak_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss * 1024L;
}

nlohmann::json per_entry(const engine::Endpoint& ep) {
  const auto m = ep.memory_per_entry();
  return {{"bytes_per_conn", m.connection},
          {"bytes_per_idle_conn", m.idle_connection},
          {"bytes_per_full_state_conn", m.full_state_connection},
          {"sizeof_conn_record", m.conn_record},
          {"full_state_connections", ep.tcb_capacity()},
          {"bytes_per_time_wait", m.time_wait},
          {"index_bytes_per_entry", m.index_entry},
          {"sizeof_conn_slot", m.conn_object},
          {"sizeof_tcp_connection", m.tcp_connection},
          {"sizeof_time_wait_record", m.time_wait_record},
          {"endpoint_bytes", ep.memory_bytes()},
          {"max_connections", ep.capacity()}};
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t hold = 0;
  uint32_t connections = 0, time_wait = 0;  // 0: the default size
  uint32_t full_states = 65536;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--hold") == 0 && i + 1 < argc) {
      hold = std::strtoull(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--connections") == 0 && i + 1 < argc) {
      connections = static_cast<uint32_t>(std::strtoul(argv[++i], nullptr, 10));
    } else if (std::strcmp(argv[i], "--full-states") == 0 && i + 1 < argc) {
      full_states = static_cast<uint32_t>(std::strtoul(argv[++i], nullptr, 10));
    } else if (std::strcmp(argv[i], "--time-wait") == 0 && i + 1 < argc) {
      time_wait = static_cast<uint32_t>(std::strtoul(argv[++i], nullptr, 10));
    } else {
      std::fprintf(stderr, "usage: linetcp_memory [--hold N [--full-states F]] [--connections C] [--time-wait T]\n");
      return 2;
    }
  }
  Instant now = Instant::from_ns(1'000'000'000);
  engine::EndpointConfig base;  // defaults: 65536 connections, 65536 TIME_WAIT records
  nlohmann::json out;
  {
    engine::Endpoint ep(base, now);
    out["defaults"] = per_entry(ep);
  }
  {
    engine::EndpointConfig parked = base;
    parked.max_connections = 1'000'000;
    parked.full_state_connections = 65536;
    engine::Endpoint ep(parked, now);
    out["parked"] = per_entry(ep);
  }
  if (connections != 0 || time_wait != 0) {
    engine::EndpointConfig sized = base;
    if (connections != 0) sized.max_connections = connections;
    if (time_wait != 0) sized.time_wait_capacity = time_wait;
    engine::Endpoint ep(sized, now);
    out["sized"] = per_entry(ep);
    out["sized"]["time_wait_capacity"] = sized.time_wait_capacity;
  }
  if (hold > 0) {
    const auto max = static_cast<uint32_t>(hold + 1024);
    engine::EndpointConfig sc = base, cc = base;
    sc.mac = wire::MacAddr{{2, 0, 0, 0, 0, 1}};
    sc.address = wire::Ipv4Addr{0x0A000001};
    sc.prefix_length = 8;
    cc.mac = wire::MacAddr{{2, 0, 0, 0, 0, 2}};
    cc.address = wire::Ipv4Addr{0x0A000002};
    cc.prefix_length = 8;
    cc.ephemeral_first = 10000;
    cc.ephemeral_last = 60999;
    const uint64_t per_address = cc.ephemeral_last - cc.ephemeral_first + 1;
    const uint64_t addresses = std::min<uint64_t>(256, (hold + per_address - 1) / per_address);
    cc.source_first = wire::Ipv4Addr{0x0A000100};
    cc.source_last = wire::Ipv4Addr{static_cast<uint32_t>(0x0A000100 + addresses - 1)};
    for (auto* c : {&sc, &cc}) {
      c->max_connections = max;
      c->full_state_connections = std::min(full_states, max);
      c->time_wait_capacity = 1024;
      c->syn_backlog = max;  // no SYN cookies: every handshake keeps its state
      c->tcp.rcv_buffer = 64 * 1024;
    }
    const long rss0 = peak_rss_bytes();
    const auto t0 = std::chrono::steady_clock::now();
    auto server = std::make_unique<engine::Endpoint>(sc, now);
    auto client = std::make_unique<engine::Endpoint>(cc, now);
    const long rss_tables = peak_rss_bytes();
    Idle server_app, client_app;
    server->listen(80, server_app);
    auto wire_cs = std::make_unique<Wire>();
    auto wire_sc = std::make_unique<Wire>();
    auto exchange = [&](Duration step) {
      now += step;
      for (int round = 0; round < 64; ++round) {
        while (client->has_output() && client->poll_output(*wire_cs, now, 4096) > 0) wire_cs->deliver(*server, now);
        while (server->has_output() && server->poll_output(*wire_sc, now, 4096) > 0) wire_sc->deliver(*client, now);
        if (!client->has_output() && !server->has_output()) break;
      }
      if (client->next_deadline() <= now) client->advance(now);
      if (server->next_deadline() <= now) server->advance(now);
    };
    uint64_t refused = 0;
    for (uint64_t i = 0; i < hold; ++i) {
      // Every full TCP state busy with a handshake (a peer's address still being resolved, say):
      // let virtual time run until one is idle again, as a paced load client would wait.
      bool opened = false;
      for (int wait = 0; wait < 3000 && !opened; ++wait) {
        opened = client->connect(wire::Ipv4Addr{0x0A000001}, 80, client_app, now) != engine::kInvalidConn;
        if (!opened) exchange(Duration::millis(1));
      }
      if (!opened) ++refused;
      if ((i & 1023) == 1023) exchange(Duration::micros(10));
    }
    // Let ARP retries (1 s) and SYN retransmissions run in virtual time until every connection
    // is established or 60 virtual seconds pass.
    for (int i = 0; i < 6000 && client_app.opened < hold - refused; ++i) exchange(Duration::millis(10));
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const long rss1 = peak_rss_bytes();
    out["hold"] = {{"requested", hold},
                   {"established_client", client_app.opened},
                   {"established_server", server_app.opened},
                   {"client_active", client->active_connections()},
                   {"server_active", server->active_connections()},
                   {"connect_refused", refused},
                   {"source_addresses", addresses},
                   {"full_state_connections", client->tcb_capacity()},
                   {"client_parked", client->parked_connections()},
                   {"server_parked", server->parked_connections()},
                   {"server_counters",
                    {{"syn_backlog_full", server->counters().syn_backlog_full},
                     {"syn_cookies_sent", server->counters().syn_cookies_sent},
                     {"control_queue_full", server->counters().control_queue_full},
                     {"conn_table_full", server->counters().conn_table_full},
                     {"tcb_pool_full", server->counters().tcb_pool_full},
                     {"connections_parked", server->counters().connections_parked},
                     {"arp_wait", server->counters().arp_wait}}},
                   {"client_counters",
                    {{"ports_exhausted", client->counters().ports_exhausted},
                     {"control_queue_full", client->counters().control_queue_full},
                     {"arp_wait", client->counters().arp_wait},
                     {"tcb_pool_full", client->counters().tcb_pool_full},
                     {"connections_parked", client->counters().connections_parked},
                     {"syn_retransmits", client->tcp_counters().syn_retransmits}}},
                   {"seconds", secs},
                   {"client", per_entry(*client)},
                   {"server", per_entry(*server)},
                   {"peak_rss_bytes", rss1},
                   {"rss_before_bytes", rss0},
                   {"rss_after_tables_bytes", rss_tables},
                   {"rss_bytes_per_conn_both_sides",
                    static_cast<double>(rss1 - rss0) / static_cast<double>(std::max<uint64_t>(1, client_app.opened))}};
  }
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}
