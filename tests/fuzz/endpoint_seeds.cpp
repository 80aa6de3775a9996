// Writes the seed corpus of endpoint_fuzz: inputs (records, see endpoint_world.hpp) that take the
// server through ARP, ICMP, handshakes, data, SACK, FIN, RST, SYN cookies, TIME_WAIT and the
// application calls. Frames for the open connections carry their real sequence numbers: the
// world is deterministic (fixed ISN secret, virtual clock), so the generator runs the same world
// to read them. Usage: endpoint_seeds OUTPUT_DIR (scripts/fuzz --seeds regenerates
// tests/fuzz/corpus/endpoint).
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "endpoint_world.hpp"
#include "linetcp/wire/checksum.hpp"
#include "linetcp/wire/icmp.hpp"
#include "linetcp/wire/tcp_options.hpp"

namespace {

using namespace linetcp;
using namespace linetcp::fuzz;
using Bytes = std::vector<uint8_t>;

constexpr wire::MacAddr kOtherMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x03}};
constexpr wire::Ipv4Addr kOtherIp{0x0a000003};  // 10.0.0.3

struct Tcp {
  wire::MacAddr src_mac = kClientMac;
  wire::MacAddr dst_mac = kServerMac;
  wire::Ipv4Addr src = kClientIp;
  wire::Ipv4Addr dst = kServerIp;
  uint16_t sport = 0;
  uint16_t dport = kHttpPort;
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint8_t flags = wire::kTcpAck;
  uint16_t window = 4096;
  uint16_t urgent = 0;
  wire::TcpOptions opts;
  std::string payload;
};

Bytes tcp_frame(const Tcp& s) {
  Bytes f(14 + 20 + 60 + s.payload.size());
  uint8_t* ip = f.data() + 14;
  uint8_t* th = ip + 20;
  wire::write_ethernet(f.data(), s.dst_mac, s.src_mac, wire::kEtherTypeIpv4);
  const wire::TcpHeaderFields h{s.sport, s.dport, s.seq, s.ack, s.flags, s.window, s.urgent};
  const std::size_t hlen = wire::write_tcp_header(th, h, s.opts);
  std::memcpy(th + hlen, s.payload.data(), s.payload.size());
  const std::size_t l4 = hlen + s.payload.size();
  wire::write_ipv4_header(ip, s.src, s.dst, wire::kIpProtoTcp, static_cast<uint16_t>(l4), 64, 1);
  wire::fill_tcp_checksum_ipv4(th, l4, s.src.value, s.dst.value);
  f.resize(14 + 20 + l4);
  return f;
}

Bytes arp_request(const wire::MacAddr& mac, wire::Ipv4Addr ip, wire::Ipv4Addr target) {
  Bytes f(14 + wire::kArpLen);
  wire::write_ethernet(f.data(), wire::MacAddr::broadcast(), mac, wire::kEtherTypeArp);
  wire::write_arp(f.data() + 14, wire::kArpRequest, mac, ip, wire::MacAddr{}, target);
  return f;
}

Bytes icmp_echo(const std::string& body) {
  Bytes f(14 + 20 + 8 + body.size());
  wire::write_ethernet(f.data(), kServerMac, kClientMac, wire::kEtherTypeIpv4);
  wire::write_ipv4_header(f.data() + 14, kClientIp, kServerIp, wire::kIpProtoIcmp,
                          static_cast<uint16_t>(8 + body.size()), 64, 2);
  uint8_t* m = f.data() + 34;
  m[0] = wire::kIcmpEchoRequest;
  m[4] = 0x12;
  m[5] = 0x34;
  m[7] = 1;
  std::memcpy(m + 8, body.data(), body.size());
  base::store_be16(m + 2, wire::checksum_fold(wire::checksum_add(m, 8 + body.size())));
  return f;
}

wire::TcpOptions syn_options(uint32_t ts) {
  wire::TcpOptions o;
  o.has_mss = true;
  o.mss = 1460;
  o.has_window_scale = true;
  o.window_scale = 7;
  o.sack_permitted = true;
  o.has_timestamps = true;
  o.ts_val = ts;
  return o;
}

// One input under construction, with a world that has run every record added so far: frames for
// the open connections are built from the live state.
class Seed {
 public:
  Seed() {
    world_.on_server_frame = [this](std::span<const uint8_t> f) { last_server_.assign(f.begin(), f.end()); sniff(f); };
  }
  void frame(uint16_t wait_ms, const Bytes& f, bool to_client = false) {
    add(wait_ms, static_cast<uint16_t>(f.size() | (to_client ? kToClient : 0)), f);
  }
  void command(uint16_t wait_ms, std::initializer_list<uint8_t> ops, bool to_client = true) {
    add(wait_ms, static_cast<uint16_t>(ops.size() | kCommand | (to_client ? kToClient : 0)), Bytes(ops));
  }
  void wait(uint16_t ms) { add(ms, 0, {}); }

  // A segment from the client side of client connection `id`, with its current numbers.
  Tcp from_client(ConnId id) {
    const auto& c = world_.client().connection(id);
    Tcp t;
    t.sport = world_.client().tuple(id).local_port;
    t.dport = world_.client().tuple(id).remote_port;
    t.seq = c.snd_nxt().raw();
    t.ack = c.rcv_nxt().raw();
    if (c.timestamps_on()) {
      t.opts.has_timestamps = true;
      t.opts.ts_val = tcp::TcpConnection::ts_clock(world_.now()) + 1;
      t.opts.ts_ecr = c.ts_recent();
    }
    return t;
  }
  // The server's side of the tuple last seen in a SYN-ACK to `port`: its ISN.
  std::optional<uint32_t> syn_ack_seq(uint16_t port) const {
    for (auto it = syn_acks_.rbegin(); it != syn_acks_.rend(); ++it)
      if (it->first == port) return it->second;
    return std::nullopt;
  }
  Endpoint& client() { return world_.client(); }

  void write(const std::string& dir, const std::string& name) const {
    std::ofstream out(dir + "/" + name, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes_.data()), static_cast<std::streamsize>(bytes_.size()));
  }

 private:
  void add(uint16_t wait_ms, uint16_t len_field, const Bytes& b) {
    bytes_.push_back(static_cast<uint8_t>(wait_ms));
    bytes_.push_back(static_cast<uint8_t>(wait_ms >> 8));
    bytes_.push_back(static_cast<uint8_t>(len_field));
    bytes_.push_back(static_cast<uint8_t>(len_field >> 8));
    bytes_.insert(bytes_.end(), b.begin(), b.end());
    world_.step(wait_ms, len_field, b);
  }
  void sniff(std::span<const uint8_t> f) {
    if (f.size() < 54 || base::load_be16(f.data() + 12) != wire::kEtherTypeIpv4 || f[23] != wire::kIpProtoTcp)
      return;
    const uint8_t* th = f.data() + 34;
    if ((th[13] & (wire::kTcpSyn | wire::kTcpAck)) == (wire::kTcpSyn | wire::kTcpAck))
      syn_acks_.push_back({base::load_be16(th + 2), base::load_be32(th + 4)});
  }

  World world_;
  Bytes bytes_;
  Bytes last_server_;
  std::vector<std::pair<uint16_t, uint32_t>> syn_acks_;  // (destination port, ISN)
};

// Client connections after setup: 0, 1 HTTP; 2 echo; 3 discard; 4 HTTP and 5 echo over IPv6
// (ConnIds in connect order).
constexpr ConnId kHttp0 = 0, kHttp1 = 1, kEcho = 2, kDiscard = 3, kHttp6 = 4, kEcho6 = 5;
// The argument of "send" names the connection (arg % 8) and the amount (arg * 16 + 1 bytes):
// this one sends about 4 KB on connection `id`.
constexpr uint8_t big(ConnId id) { return static_cast<uint8_t>(248 + id); }

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  {  // The seeds assume the setup opened its six connections.
    World w;
    for (ConnId id : {kHttp0, kHttp1, kEcho, kDiscard, kHttp6, kEcho6}) {
      if (!w.client().valid(id) || w.client().connection(id).state() != tcp::State::kEstablished) {
        std::fprintf(stderr, "endpoint_seeds: client connection %u is not established after setup\n", id);
        return 1;
      }
    }
    std::printf("endpoint_seeds: setup: %u client and %u server connections\n", w.client().active_connections(),
                w.server().active_connections());
  }
  int written = 0;
  auto save = [&](const Seed& s, const char* name) {
    s.write(dir, name);
    ++written;
  };

  {  // Nothing but the setup, then a long quiet time: keep-alive, TIME_WAIT expiry, idle.
    Seed s;
    s.wait(0);
    s.wait(30000);
    save(s, "idle");
  }
  {  // ARP: a request from a new host, a gratuitous one, and a stray reply.
    Seed s;
    s.frame(0, arp_request(kOtherMac, kOtherIp, kServerIp));
    s.frame(10, arp_request(kClientMac, kClientIp, kClientIp));
    Bytes reply = arp_request(kOtherMac, kOtherIp, kServerIp);
    reply[14 + 7] = 2;
    s.frame(10, reply);
    save(s, "arp");
  }
  {  // ICMP echo.
    Seed s;
    s.frame(0, icmp_echo("ping ping ping"));
    save(s, "icmp_echo");
  }
  {  // A new peer: SYN with every option, the ACK, a request, FIN; then TIME_WAIT runs out.
    Seed s;
    s.frame(0, arp_request(kOtherMac, kOtherIp, kServerIp));
    Tcp syn;
    syn.src_mac = kOtherMac;
    syn.src = kOtherIp;
    syn.sport = 5555;
    syn.seq = 1000;
    syn.flags = wire::kTcpSyn;
    syn.opts = syn_options(500);
    s.frame(1, tcp_frame(syn));
    Tcp ack = syn;
    ack.flags = wire::kTcpAck;
    ack.seq = 1001;
    ack.ack = s.syn_ack_seq(5555).value_or(0) + 1;
    ack.opts = wire::TcpOptions{};
    ack.opts.has_timestamps = true;
    ack.opts.ts_val = 501;
    s.frame(1, tcp_frame(ack));
    Tcp req = ack;
    req.flags = wire::kTcpAck | wire::kTcpPsh;
    req.payload = "GET /x HTTP/1.1\r\nHost: a\r\n\r\nGET /y HTTP/1.0\r\n\r\n";
    req.opts.ts_val = 502;
    s.frame(1, tcp_frame(req));
    Tcp fin = req;
    fin.flags = wire::kTcpAck | wire::kTcpFin;
    fin.seq = req.seq + static_cast<uint32_t>(req.payload.size());
    fin.payload.clear();
    fin.opts.ts_val = 503;
    s.frame(50, tcp_frame(fin));
    s.wait(5000);
    save(s, "new_peer_http");
  }
  {  // SYN carrying data, SYN without options, a SYN to a closed port, a stray ACK and RST.
    Seed s;
    Tcp syn;
    syn.sport = 6000;
    syn.seq = 77;
    syn.flags = wire::kTcpSyn;
    syn.payload = "GET / HTTP/1.1\r\n\r\n";
    s.frame(0, tcp_frame(syn));
    Tcp bare;
    bare.sport = 6001;
    bare.seq = 0xfffffff0;
    bare.flags = wire::kTcpSyn;
    s.frame(0, tcp_frame(bare));
    Tcp closed = bare;
    closed.dport = 81;
    s.frame(0, tcp_frame(closed));
    Tcp stray;
    stray.sport = 6002;
    stray.seq = 5;
    stray.ack = 9;
    s.frame(0, tcp_frame(stray));
    stray.flags = wire::kTcpRst;
    s.frame(0, tcp_frame(stray));
    save(s, "syn_variants");
  }
  {  // A SYN flood from several ports: backlog and table fill, cookies go out; one comes back.
    Seed s;
    for (uint16_t i = 0; i < 8; ++i) {
      Tcp syn;
      syn.sport = static_cast<uint16_t>(7000 + i);
      syn.seq = 100000u * i;
      syn.flags = wire::kTcpSyn;
      syn.opts = syn_options(1000 + i);
      s.frame(0, tcp_frame(syn));
    }
    Tcp ack;
    ack.sport = 7007;
    ack.seq = 700001;
    ack.ack = s.syn_ack_seq(7007).value_or(0) + 1;
    ack.opts.has_timestamps = true;
    ack.opts.ts_val = 1008;
    ack.payload = "GET / HTTP/1.1\r\n\r\n";
    s.frame(1, tcp_frame(ack));
    s.wait(2000);
    save(s, "syn_flood_cookie");
  }
  {  // Pipelined requests and a request split over segments on an open HTTP connection.
    Seed s;
    Tcp a = s.from_client(kHttp0);
    a.payload = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nPOST /2 HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
    s.frame(1, tcp_frame(a));
    Tcp b = s.from_client(kHttp0);
    b.seq += static_cast<uint32_t>(a.payload.size());
    b.payload = "GET /3 HTT";
    s.frame(1, tcp_frame(b));
    b.seq += static_cast<uint32_t>(b.payload.size());
    b.payload = "P/1.1\r\nConnection: close\r\n\r\n";
    s.frame(1, tcp_frame(b));
    save(s, "http_pipelined");
  }
  {  // Out of order: a later segment first (SACK, reassembly), then the hole, then a FIN.
    Seed s;
    Tcp late = s.from_client(kDiscard);
    late.seq += 100;
    late.payload = std::string(200, 'b');
    s.frame(1, tcp_frame(late));
    Tcp later = late;
    later.seq += 400;
    later.payload = std::string(100, 'c');
    s.frame(1, tcp_frame(later));
    Tcp hole = s.from_client(kDiscard);
    hole.payload = std::string(100, 'a');
    s.frame(1, tcp_frame(hole));
    Tcp fin = s.from_client(kDiscard);
    fin.seq += 700;
    fin.flags = wire::kTcpAck | wire::kTcpFin;
    s.frame(1, tcp_frame(fin));
    save(s, "out_of_order_fin");
  }
  {  // Echo: the client sends a lot; then duplicate ACKs with SACK blocks and a zero window.
    Seed s;
    s.command(0, {1, big(kEcho), 1, big(kEcho), 1, big(kEcho), 1, big(kEcho)});
    Tcp dup = s.from_client(kEcho);
    dup.flags = wire::kTcpAck;
    dup.ack = s.client().connection(kEcho).rcv_nxt().raw() - 100;
    dup.opts.sack_count = 1;
    dup.opts.sack[0] = {dup.ack + 10, dup.ack + 50};
    s.frame(0, tcp_frame(dup));
    s.frame(0, tcp_frame(dup));
    s.frame(0, tcp_frame(dup));
    Tcp zero = s.from_client(kEcho);
    zero.window = 0;
    s.frame(0, tcp_frame(zero));
    s.wait(3000);
    save(s, "echo_sack_zero_window");
  }
  {  // The client sends data and urgent data, closes; the server side is aborted elsewhere.
    Seed s;
    s.command(0, {1, kHttp1, 8, kHttp1, 7, kHttp1, 2, kHttp1});
    s.command(5, {3, kDiscard, 0, 0, 0, 1, 0, 2, 0, 3});
    s.command(5, {4, kHttp0, 5, kHttp0, 6, kHttp0, 2, kEcho}, false);
    s.command(100, {9, 1, 1, kHttp0, 1, kHttp0}, false);
    s.wait(20000);
    save(s, "app_calls");
  }
  {  // Resets: an exact one, an in-window one (challenge ACK), one to the client; a SYN in the
     // synchronized state.
    Seed s;
    Tcp inwin = s.from_client(kHttp0);
    inwin.flags = wire::kTcpRst;
    inwin.seq += 10;
    s.frame(0, tcp_frame(inwin));
    Tcp exact = s.from_client(kHttp1);
    exact.flags = wire::kTcpRst;
    s.frame(0, tcp_frame(exact));
    Tcp syn = s.from_client(kEcho);
    syn.flags = wire::kTcpSyn;
    s.frame(0, tcp_frame(syn));
    Tcp to_client;
    to_client.src_mac = kServerMac;
    to_client.dst_mac = kClientMac;
    to_client.src = kServerIp;
    to_client.dst = kClientIp;
    to_client.sport = kDiscardPort;
    to_client.dport = s.client().tuple(kDiscard).local_port;
    to_client.seq = s.client().connection(kDiscard).rcv_nxt().raw();
    to_client.flags = wire::kTcpRst;
    s.frame(0, tcp_frame(to_client), true);
    save(s, "resets");
  }
  {  // Lost traffic: the client is silenced (a full TX ring), the server retransmits, RTO backs
     // off, the user timeout ends it.
    Seed s;
    s.command(0, {1, kHttp0, 9, 0});
    for (int i = 0; i < 8; ++i) s.command(3000, {9, 0});
    s.wait(30000);
    save(s, "retransmit_timeout");
  }
  {  // Loss on a bulk transfer: the first of a window is lost (SACK, fast retransmit), then a tail
     // loss (RTO).
    Seed s;
    s.command(0, {10, 1, 1, big(kDiscard), 1, big(kDiscard), 1, big(kDiscard), 1, big(kDiscard)});
    s.wait(50);
    s.command(0, {1, big(kDiscard), 10, 2});
    s.wait(1500);
    save(s, "loss_client");
  }
  {  // The server's echo is lost, duplicated and reordered.
    Seed s;
    s.command(0, {10, 2, 11, 1, 12, 3}, false);
    s.command(0, {1, big(kEcho), 1, 32 + kEcho});
    s.wait(300);
    s.wait(1500);
    save(s, "loss_server_echo");
  }
  {  // A segment with bad options: a zero-length option, a huge MSS, window scale 15.
    Seed s;
    Tcp syn;
    syn.sport = 6100;
    syn.seq = 1;
    syn.flags = wire::kTcpSyn;
    syn.opts.has_window_scale = true;
    syn.opts.window_scale = 15;
    syn.opts.has_mss = true;
    syn.opts.mss = 0;
    Bytes f = tcp_frame(syn);
    s.frame(0, f);
    Tcp data = s.from_client(kHttp0);
    data.payload = "GET";
    Bytes g = tcp_frame(data);
    g[34 + 12] = 0xf0;  // data offset 60: the options run into the payload
    s.frame(0, g);
    save(s, "bad_options");
  }
  {  // IPv6: requests and 4 KB of echo on the two IPv6 connections, a lossy link, then closes
     // and a new IPv6 connection (NDP, handshake, TIME_WAIT over IPv6).
    Seed s;
    s.command(0, {1, kHttp6, 1, big(kEcho6), 10, 1, 1, big(kEcho6)});
    s.wait(300);
    s.command(0, {2, kHttp6, 3, kEcho6, 0, 4});
    s.wait(300);
    s.wait(5000);
    save(s, "ipv6");
  }
  std::printf("endpoint_seeds: %d inputs in %s\n", written, dir.c_str());
  return 0;
}
