// The world the endpoint fuzzer runs in: a server Endpoint (HTTP on 80, echo on 7, discard on 9)
// and a client Endpoint with a few connections to it, over IPv4 and IPv6 (so NDP too), joined by
// an in-memory link on a virtual clock, plus the invariants checked after every step. Shared by endpoint_fuzz.cpp (the
// libFuzzer harness) and endpoint_seeds.cpp (writes the seed corpus).
//
// Input: records "u16 wait_ms, u16 len, len bytes" (little-endian). The clock moves wait_ms
// forward (running the timers that fall due on the way), then the bytes go to an endpoint:
//   len & 0x3fff  the byte count;
//   len & 0x8000  to the client endpoint (else the server);
//   len & 0x4000  the bytes are application calls and link faults (pairs "op, arg", see
//                 run_commands) rather than a frame.
// After each record both endpoints advance, their output is exchanged until the link is quiet
// (bounded), and the invariants hold or the process aborts.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <span>
#include <vector>

#include "linetcp/app/servers.hpp"
#include "linetcp/engine/endpoint.hpp"
#include "linetcp/wire/arp.hpp"
#include "linetcp/wire/ethernet.hpp"
#include "linetcp/wire/ipv4.hpp"
#include "linetcp/wire/ipv6.hpp"
#include "linetcp/wire/tcp_header.hpp"

namespace linetcp::fuzz {

using base::Duration;
using base::Instant;
using engine::ConnId;
using engine::Endpoint;

inline constexpr wire::MacAddr kServerMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
inline constexpr wire::MacAddr kClientMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};
inline constexpr wire::Ipv4Addr kServerIp{0x0a000001};  // 10.0.0.1
inline constexpr wire::Ipv4Addr kClientIp{0x0a000002};  // 10.0.0.2
inline const wire::Ipv6Prefix kServer6 = *wire::Ipv6Prefix::parse("fd00::1/64");
inline const wire::Ipv6Prefix kClient6 = *wire::Ipv6Prefix::parse("fd00::2/64");
inline constexpr uint16_t kHttpPort = 80;
inline constexpr uint16_t kEchoPort = 7;
inline constexpr uint16_t kDiscardPort = 9;
inline constexpr uint16_t kToClient = 0x8000;
inline constexpr uint16_t kCommand = 0x4000;
inline constexpr uint16_t kLenMask = 0x3fff;

[[noreturn]] inline void fail(const char* what, long a = 0, long b = 0) {
  std::fprintf(stderr, "endpoint_fuzz: invariant violated: %s (%ld, %ld)\n", what, a, b);
  std::abort();
}
#define LTCP_FUZZ_CHECK(cond, ...) \
  do {                             \
    if (!(cond)) ::linetcp::fuzz::fail(#cond __VA_OPT__(, ) __VA_ARGS__); \
  } while (0)

// The client's application: sends a stream of HTTP requests (any offset can be regenerated),
// and checks what the stack asks of it: never bytes it did not queue, acks that only grow.
class FuzzClient final : public engine::App {
 public:
  static constexpr std::string_view kRequest = "GET / HTTP/1.1\r\nHost: fuzz\r\n\r\n";

  explicit FuzzClient(uint32_t capacity) : conns_(capacity) {}

  void opened(ConnId id) { conns_[id] = Conn{}; }  // call right after connect()
  void queue(Endpoint& ep, ConnId id, uint64_t bytes) {
    if (conns_[id].closed) return;  // a send after close is ignored by the stack
    conns_[id].queued += bytes;
    ep.send(id, bytes);
  }
  void close(Endpoint& ep, ConnId id) {
    conns_[id].closed = true;
    ep.close(id);
  }

  void on_open(Endpoint& ep, ConnId id) override { queue(ep, id, kRequest.size()); }
  void on_data(Endpoint&, ConnId id, std::span<const uint8_t> data) override {
    conns_[id].received += data.size();
  }
  void on_acked(Endpoint&, ConnId id, uint64_t acked_until) override {
    Conn& c = conns_[id];
    LTCP_FUZZ_CHECK(acked_until >= c.acked, static_cast<long>(acked_until), static_cast<long>(c.acked));
    LTCP_FUZZ_CHECK(acked_until <= c.queued, static_cast<long>(acked_until), static_cast<long>(c.queued));
    c.acked = acked_until;
  }
  void on_peer_closed(Endpoint& ep, ConnId id) override { close(ep, id); }
  void on_closed(Endpoint&, ConnId id, tcp::CloseReason) override { conns_[id].closed = true; }
  void fill_payload(Endpoint&, ConnId id, uint64_t offset, std::span<uint8_t> dst) override {
    const Conn& c = conns_[id];
    LTCP_FUZZ_CHECK(offset + dst.size() <= c.queued, static_cast<long>(offset + dst.size()),
                    static_cast<long>(c.queued));
    LTCP_FUZZ_CHECK(offset >= c.acked, static_cast<long>(offset), static_cast<long>(c.acked));
    // In runs of the request rather than byte by byte: this is the fuzzer's hottest loop, and
    // coverage tracing makes every compare in it costly.
    std::size_t at = static_cast<std::size_t>(offset % kRequest.size());
    for (std::size_t done = 0; done < dst.size();) {
      const std::size_t n = std::min(kRequest.size() - at, dst.size() - done);
      std::memcpy(dst.data() + done, kRequest.data() + at, n);
      done += n;
      at = 0;
    }
  }

 private:
  struct Conn {
    uint64_t queued = 0;
    uint64_t acked = 0;
    uint64_t received = 0;
    bool closed = false;
  };
  std::vector<Conn> conns_;
};

// Frames an endpoint wrote in one poll_output(), each checked to be well formed.
class CheckedSink final : public engine::FrameSink {
 public:
  static constexpr std::size_t kFrameBytes = 1514;
  static constexpr std::size_t kSlots = 64;

  // At most `budget` frames until reset() (a full TX ring: tx_deferred).
  void reset(std::size_t budget) {
    budget_ = budget;
    frames_.clear();
  }
  std::span<uint8_t> alloc_frame() override {
    LTCP_FUZZ_CHECK(!open_);
    if (frames_.size() >= budget_ || frames_.size() >= kSlots) return {};
    open_ = true;
    return {buf_[frames_.size()].data(), kFrameBytes};
  }
  void commit_frame(std::size_t len, const engine::TxMeta& meta) override {
    LTCP_FUZZ_CHECK(open_);
    open_ = false;
    if (len == 0) return;
    LTCP_FUZZ_CHECK(len <= kFrameBytes, static_cast<long>(len));
    LTCP_FUZZ_CHECK(!meta.checksum_offload);
    const std::span<const uint8_t> f(buf_[frames_.size()].data(), len);
    check_frame(f);
    frames_.push_back(f);
  }
  const std::vector<std::span<const uint8_t>>& frames() const { return frames_; }

  // What an endpoint sends is always well formed: correct lengths and checksums.
  static void check_frame(std::span<const uint8_t> f) {
    const auto eth = wire::EthernetView::parse(f);
    LTCP_FUZZ_CHECK(eth.has_value(), static_cast<long>(f.size()));
    if (eth->ether_type() == wire::kEtherTypeArp) {
      LTCP_FUZZ_CHECK(wire::ArpView::parse(eth->payload()).has_value());
      return;
    }
    if (eth->ether_type() == wire::kEtherTypeIpv6) {
      check_ipv6(eth->payload());
      return;
    }
    LTCP_FUZZ_CHECK(eth->ether_type() == wire::kEtherTypeIpv4, eth->ether_type());
    wire::Ipv4View ip;
    const wire::Ipv4Error e = wire::Ipv4View::parse(eth->payload(), ip, true);
    LTCP_FUZZ_CHECK(e == wire::Ipv4Error::kOk, static_cast<long>(e));
    LTCP_FUZZ_CHECK(ip.total_length() == eth->payload().size(), ip.total_length(),
                    static_cast<long>(eth->payload().size()));
    if (ip.protocol() == wire::kIpProtoTcp) {
      wire::TcpHeaderView th;
      LTCP_FUZZ_CHECK(wire::TcpHeaderView::parse(ip.payload(), th) == wire::TcpError::kOk);
      LTCP_FUZZ_CHECK(wire::verify_tcp_checksum_ipv4(ip.src().value, ip.dst().value, ip.payload()) ==
                      wire::TcpError::kOk);
      LTCP_FUZZ_CHECK(th.payload().size() <= 1460u, static_cast<long>(th.payload().size()));
    } else {
      LTCP_FUZZ_CHECK(ip.protocol() == wire::kIpProtoIcmp, ip.protocol());
    }
  }

  // IPv6: no extension headers from us, the payload length exact, TCP or ICMPv6 (NDP, errors,
  // echo replies) with a correct checksum.
  static void check_ipv6(std::span<const uint8_t> packet) {
    wire::Ipv6View ip;
    const wire::Ipv6Error e = wire::Ipv6View::parse(packet, ip);
    LTCP_FUZZ_CHECK(e == wire::Ipv6Error::kOk, static_cast<long>(e));
    LTCP_FUZZ_CHECK(ip.extension_length() == 0, static_cast<long>(ip.extension_length()));
    LTCP_FUZZ_CHECK(ip.payload().size() + wire::kIpv6HeaderLen == packet.size(), static_cast<long>(packet.size()));
    LTCP_FUZZ_CHECK(ip.protocol() == wire::kIpProtoTcp || ip.protocol() == wire::kIpProtoIcmpv6, ip.protocol());
    LTCP_FUZZ_CHECK(wire::upper_checksum_ipv6(ip.src_bytes(), ip.dst_bytes(), ip.protocol(), ip.payload()) == 0);
    if (ip.protocol() == wire::kIpProtoTcp) {
      wire::TcpHeaderView th;
      LTCP_FUZZ_CHECK(wire::TcpHeaderView::parse(ip.payload(), th) == wire::TcpError::kOk);
      LTCP_FUZZ_CHECK(th.payload().size() <= 1440u, static_cast<long>(th.payload().size()));
    }
  }

 private:
  std::array<std::array<uint8_t, kFrameBytes>, kSlots> buf_;  // not zeroed: every frame is written before it is read
  std::vector<std::span<const uint8_t>> frames_;
  std::size_t budget_ = kSlots;
  bool open_ = false;
};

inline engine::EndpointConfig fuzz_config(const wire::MacAddr& mac, wire::Ipv4Addr ip, const wire::Ipv6Prefix& ip6) {
  engine::EndpointConfig c;
  c.mac = mac;
  c.address = ip;
  c.prefix_length = 24;
  c.addresses6 = {ip6};
  c.max_connections = 8;  // small, so that a few SYNs fill the table, the backlog, TIME_WAIT
  c.full_state_connections = 6;  // and the full TCP states (6 set up): idle connections park and come back
  c.syn_backlog = 3;
  c.time_wait_capacity = 3;
  c.time_wait = Duration::seconds(4);
  c.ooo_chunks = 32;
  c.neighbor_capacity = 4;
  c.arp_timeout = Duration::seconds(30);
  c.ephemeral_first = 40000;
  c.ephemeral_last = 40015;
  c.verify_checksums = false;  // mutations must reach the state machine
  c.tcp.rcv_buffer = 16 * 1024;
  c.tcp.window_scale = 2;
  c.tcp.max_ooo_chunks = 8;
  c.tcp.r2 = Duration::seconds(20);
  c.tcp.r2_syn = Duration::seconds(30);
  c.tcp.keepalive_idle = Duration::seconds(10);
  c.tcp.keepalive_interval = Duration::seconds(2);
  c.tcp.keepalive_probes = 3;
  return c;
}

class World {
 public:
  static constexpr uint32_t kCapacity = 8;

  World()
      : now_(Instant::from_ns(1'000'000'000)),
        server_(fuzz_config(kServerMac, kServerIp, kServer6), now_),
        client_(fuzz_config(kClientMac, kClientIp, kClient6), now_),
        http_(app::HttpServerOptions{}, kCapacity),
        echo_(kCapacity, 2, 4096),
        echo_params_(echo_.params(server_.config().tcp)),
        client_app_(kCapacity) {
    server_.listen(kHttpPort, http_);
    server_.listen(kEchoPort, echo_, &echo_params_);
    server_.listen(kDiscardPort, discard_);
    for (uint16_t port : {kHttpPort, kHttpPort, kEchoPort, kDiscardPort}) connect(port);
    for (uint16_t port : {kHttpPort, kEchoPort}) connect6(port);
    settle_time();
    pump();
    check();
  }

  Endpoint& server() { return server_; }
  Endpoint& client() { return client_; }
  Instant now() const { return now_; }
  // Called with every frame the server sends (the seed generator reads SYN-ACKs from it).
  std::function<void(std::span<const uint8_t>)> on_server_frame;

  void run(const uint8_t* data, std::size_t size) {
    const uint8_t* p = data;
    const uint8_t* end = data + size;
    while (end - p >= 4) {
      const uint16_t wait_ms = static_cast<uint16_t>(p[0] | p[1] << 8);
      const uint16_t len_field = static_cast<uint16_t>(p[2] | p[3] << 8);
      p += 4;
      const std::size_t len = std::min<std::size_t>(len_field & kLenMask, static_cast<std::size_t>(end - p));
      step(wait_ms, len_field, std::span<const uint8_t>(p, len));
      p += len;
    }
  }

  void step(uint16_t wait_ms, uint16_t len_field, std::span<const uint8_t> bytes) {
    now_ += Duration::millis(wait_ms);
    settle_time();
    Endpoint& ep = (len_field & kToClient) ? client_ : server_;
    if (len_field & kCommand) run_commands(ep, bytes);
    else {
      ep.prefetch_input(bytes);  // a pure hint: must read nothing outside the frame
      ep.input(bytes, now_);
    }
    server_.advance(now_);
    client_.advance(now_);
    pump();
    check();
  }

 private:
  void connect(uint16_t port) {
    const ConnId id = client_.connect(kServerIp, port, client_app_, now_);
    if (id != engine::kInvalidConn) client_app_.opened(id);
  }
  void connect6(uint16_t port) {
    const ConnId id = client_.connect(kServer6.addr, port, client_app_, now_);
    if (id != engine::kInvalidConn) client_app_.opened(id);
  }

  // Timers that fall due before now_ run at their own time, with the link exchange after each,
  // as they would in a real run (bounded: a timer storm is not what we are after).
  void settle_time() {
    for (int i = 0; i < 64; ++i) {
      const Instant due = base::min(server_.next_deadline(), client_.next_deadline());
      if (due > now_) break;
      LTCP_FUZZ_CHECK(!due.is_never());
      server_.advance(due);
      client_.advance(due);
      pump(due);
      check();
    }
  }

  // Application calls, two bytes each: op, arg. The connection is arg % capacity (skipped when
  // that slot is not in use). Server connections belong to the server apps, so only calls those
  // apps tolerate are made on them. Ops 9-12 act on what this endpoint sends: a nearly full TX
  // ring, loss, duplication, reordering of its next frames.
  void run_commands(Endpoint& ep, std::span<const uint8_t> bytes) {
    const bool client = &ep == &client_;
    Link& link = client ? client_link_ : server_link_;
    for (std::size_t i = 0; i + 1 < bytes.size(); i += 2) {
      const uint8_t op = bytes[i] % 13;
      const uint8_t arg = bytes[i + 1];
      switch (op) {  // calls that need no connection
        case 0:  // client: connect to one of the server's ports (or a closed one), over IPv4 or IPv6
          if (client) {
            static constexpr uint16_t kPorts[4] = {kHttpPort, kEchoPort, kDiscardPort, 81};
            if (arg & 4) connect6(kPorts[arg % 4]);
            else connect(kPorts[arg % 4]);
          }
          continue;
        case 9: (client ? client_budget_ : server_budget_) = arg % 4; continue;  // a nearly full TX ring
        case 10: link.drop = arg & 15; continue;
        case 11: link.duplicate = arg & 15; continue;
        case 12: link.reverse = arg & 15; continue;
        default: break;
      }
      const ConnId id = arg % kCapacity;
      if (!ep.valid(id)) continue;
      switch (op) {
        case 1:
          if (client) client_app_.queue(ep, id, uint64_t{arg} * 16 + 1);
          break;
        case 2:
          if (client) client_app_.close(ep, id);
          else ep.close(id);
          break;
        case 3: ep.abort(id); break;
        case 4: ep.set_keepalive(id, arg & 1, now_); break;
        case 5: ep.hold(id, uint32_t{arg} * 64); break;
        case 6: ep.release(id, uint32_t{arg} * 64); break;
        case 7: ep.set_nodelay(id, arg & 1); break;
        case 8:
          if (client) ep.send_urgent(id);
          break;
      }
    }
  }


  // Exchanges output until neither endpoint has anything to send (or a bound is reached).
  void pump() { pump(now_); }
  void pump(Instant at) {
    for (int round = 0; round < 24; ++round) {
      server_sink_.reset(server_budget_);
      client_sink_.reset(client_budget_);
      const std::size_t ns = server_.poll_output(server_sink_, at, CheckedSink::kSlots);
      const std::size_t nc = client_.poll_output(client_sink_, at, CheckedSink::kSlots);
      LTCP_FUZZ_CHECK(ns == server_sink_.frames().size(), static_cast<long>(ns));
      LTCP_FUZZ_CHECK(nc == client_sink_.frames().size(), static_cast<long>(nc));
      server_budget_ = client_budget_ = CheckedSink::kSlots;
      if (ns == 0 && nc == 0) break;
      for (const auto& f : server_sink_.frames())
        if (on_server_frame) on_server_frame(f);
      deliver(server_sink_.frames(), server_link_, client_, at);
      deliver(client_sink_.frames(), client_link_, server_, at);
    }
  }

  // What the link does to the next frames one endpoint sends (set by commands 10-12).
  struct Link {
    uint8_t drop = 0;       // lose the next N frames
    uint8_t duplicate = 0;  // deliver the next N frames twice
    uint8_t reverse = 0;    // deliver the next N batches in reverse order
  };
  static void deliver(const std::vector<std::span<const uint8_t>>& frames, Link& link, Endpoint& to, Instant at) {
    if (frames.empty()) return;
    const bool reverse = link.reverse > 0;
    if (reverse) --link.reverse;
    for (std::size_t k = 0; k < frames.size(); ++k) {
      const auto& f = frames[reverse ? frames.size() - 1 - k : k];
      if (link.drop > 0) {
        --link.drop;
        continue;
      }
      to.input(f, at);
      if (link.duplicate > 0) {
        --link.duplicate;
        to.input(f, at);
      }
    }
  }

  static void check_endpoint(const Endpoint& ep) {
    LTCP_FUZZ_CHECK(ep.active_connections() <= ep.capacity(), ep.active_connections());
    LTCP_FUZZ_CHECK(ep.time_wait_count() <= ep.config().time_wait_capacity, ep.time_wait_count());
    uint32_t live = 0;
    LTCP_FUZZ_CHECK(ep.parked_connections() <= ep.active_connections(), ep.parked_connections());
    LTCP_FUZZ_CHECK(ep.active_connections() - ep.parked_connections() <= ep.tcb_capacity(),
                    ep.active_connections(), ep.parked_connections());
    for (ConnId id = 0; id < ep.capacity(); ++id) {
      if (!ep.valid(id)) continue;
      ++live;
      if (ep.parked(id)) continue;  // no full state to inspect (its record holds a ParkedTcb)
      const tcp::TcpConnection& c = ep.connection(id);
      const auto state = static_cast<unsigned>(c.state());
      LTCP_FUZZ_CHECK(state <= static_cast<unsigned>(tcp::State::kTimeWait), state);
      LTCP_FUZZ_CHECK(c.state() != tcp::State::kListen, id);
      LTCP_FUZZ_CHECK(c.snd_una() <= c.snd_nxt(), c.snd_una().raw(), c.snd_nxt().raw());
      LTCP_FUZZ_CHECK(c.snd_nxt() <= c.snd_max(), c.snd_nxt().raw(), c.snd_max().raw());
      // Sequence space in flight: at most the queued stream plus SYN and FIN.
      LTCP_FUZZ_CHECK(static_cast<uint64_t>(static_cast<uint32_t>(c.snd_max() - c.snd_una())) <= c.send_queued() + 2,
                      static_cast<long>(c.snd_max() - c.snd_una()), static_cast<long>(c.send_queued()));
      if (c.state() != tcp::State::kSynSent && c.state() != tcp::State::kClosed) {
        const uint64_t limit =
            std::max<uint64_t>(c.params().rcv_buffer, 65535) + (uint64_t{1} << c.rcv_window_shift());
        LTCP_FUZZ_CHECK(c.rcv_wnd() <= limit, static_cast<long>(c.rcv_wnd()), static_cast<long>(limit));
      }
      LTCP_FUZZ_CHECK(c.send_mss() > 0 && c.send_mss() <= 1460, c.send_mss());
      LTCP_FUZZ_CHECK(c.rcv_window_shift() <= 14 && c.snd_window_shift() <= 14, c.rcv_window_shift(),
                      c.snd_window_shift());
    }
    LTCP_FUZZ_CHECK(live == ep.active_connections(), live, ep.active_connections());
    const auto hist = ep.state_histogram();
    uint64_t total = 0;
    for (uint32_t n : hist) total += n;
    LTCP_FUZZ_CHECK(total == uint64_t{ep.active_connections()} + ep.time_wait_count(), static_cast<long>(total),
                    ep.active_connections());
    LTCP_FUZZ_CHECK(hist[static_cast<std::size_t>(tcp::State::kTimeWait)] >= ep.time_wait_count());
    LTCP_FUZZ_CHECK(ep.ports_available() <= uint32_t{ep.config().ephemeral_last} - ep.config().ephemeral_first + 1,
                    ep.ports_available());
  }
  void check() {
    check_endpoint(server_);
    check_endpoint(client_);
  }

  Instant now_;
  Endpoint server_;
  Endpoint client_;
  app::HttpServer http_;
  app::EchoServer echo_;
  tcp::TcpParams echo_params_;
  app::DiscardServer discard_;
  FuzzClient client_app_;
  CheckedSink server_sink_;
  CheckedSink client_sink_;
  Link server_link_;
  Link client_link_;
  std::size_t server_budget_ = CheckedSink::kSlots;
  std::size_t client_budget_ = CheckedSink::kSlots;
};

}  // namespace linetcp::fuzz
