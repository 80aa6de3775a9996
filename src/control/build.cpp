// Configuration -> TCP parameters, endpoint settings and workloads.
#include "linetcp/control/build.hpp"

#include <random>

namespace linetcp::control {

using base::Duration;

tcp::TcpParams tcp_params(const Config& c) {
  const TcpConfig& t = c.tcp;
  tcp::TcpParams p;
  p.mss = static_cast<uint16_t>(t.mss);
  p.rto_initial = Duration::millis(t.rto_initial_ms);
  p.rto_min = Duration::millis(t.rto_min_ms);
  p.rto_max = Duration::millis(t.rto_max_ms);
  p.r1_retries = static_cast<uint8_t>(std::min<uint32_t>(t.r1_retries, 255));
  p.r2 = Duration::seconds(t.r2_s);
  p.r2_syn = Duration::seconds(t.r2_syn_s);
  p.delayed_ack = Duration::millis(t.delayed_ack_ms);
  p.nagle = t.nagle;
  p.keepalive = t.keepalive;
  p.keepalive_idle = Duration::seconds(t.keepalive_idle_s);
  p.keepalive_interval = Duration::seconds(t.keepalive_interval_s);
  p.keepalive_probes = static_cast<uint8_t>(std::min<uint32_t>(t.keepalive_probes, 255));
  p.congestion = t.congestion == CongestionControl::kCubic ? tcp::CongestionAlgorithm::kCubic
                                                           : tcp::CongestionAlgorithm::kNewReno;
  p.initial_window_segments = static_cast<uint8_t>(t.initial_window_segments);
  p.window_scale = static_cast<uint8_t>(t.window_scale);
  p.timestamps = t.timestamps;
  p.sack = t.sack;
  p.rcv_buffer = t.rcv_buffer;
  p.time_wait = Duration::nanos(static_cast<int64_t>(2 * t.msl_s * 1e9));
  return p;
}

engine::EndpointConfig endpoint_config(const Config& c, const wire::MacAddr& mac, bool tx_offload,
                                       uint32_t worker, uint32_t workers) {
  engine::EndpointConfig e;
  e.mac = mac;
  e.address = wire::Ipv4Addr{c.network.address_ip};
  e.prefix_length = c.network.prefix_len;
  if (c.network.gateway_ip) e.gateway = wire::Ipv4Addr{*c.network.gateway_ip};
  e.mtu = static_cast<uint16_t>(c.port.mtu);
  e.max_connections = c.tcp.max_connections;
  e.full_state_connections = c.tcp.full_state_connections;
  e.syn_backlog = c.tcp.syn_backlog;
  e.syn_cookies = c.tcp.syn_cookies;
  e.time_wait_capacity = c.tcp.time_wait_capacity;
  e.time_wait = Duration::nanos(static_cast<int64_t>(2 * c.tcp.msl_s * 1e9));
  e.arp_timeout = Duration::seconds(c.network.arp_timeout_s);
  // Corruption on transmit must reach the peer: a port that computes checksums after the bit
  // flip would hide it, so the endpoint computes them itself.
  e.tx_checksum_offload = tx_offload && c.port.impairment.tx.corrupt == 0;
  e.tcp = tcp_params(c);
  e.vlan = static_cast<uint16_t>(c.port.vlan);
  for (const auto& [a, len] : c.network.address_prefixes) e.addresses.push_back({wire::Ipv4Addr{a}, len});
  e.addresses6 = c.network.ipv6_prefixes;
  if (c.network.gateway6_ip) e.gateway6 = *c.network.gateway6_ip;
  if (c.network.gateway_mac_addr) e.gateway_mac = wire::MacAddr{*c.network.gateway_mac_addr};
  if (c.network.gateway6_mac_addr) e.gateway6_mac = wire::MacAddr{*c.network.gateway6_mac_addr};
  for (const NetworkConfig::Route& r : c.network.parsed_routes) {
    if (r.v6) e.routes6.push_back({r.prefix6, r.via6});
    else e.routes.push_back({wire::Ipv4Prefix{wire::Ipv4Addr{r.prefix4}, r.length}, wire::Ipv4Addr{r.via4}});
  }
  if (c.client) {
    // Each worker takes an equal share of the source ports.
    const uint32_t first = c.client->source_port_first, last = c.client->source_port_last;
    const uint32_t share = (last - first + 1) / workers;
    e.ephemeral_first = static_cast<uint16_t>(first + share * worker);
    e.ephemeral_last = static_cast<uint16_t>(worker + 1 == workers ? last : first + share * (worker + 1) - 1);
    if (!c.client->source_addresses.empty()) {
      e.source_first = wire::Ipv4Addr{c.client->source_address_first};
      e.source_last = wire::Ipv4Addr{c.client->source_address_last};
    }
  }
  std::random_device rd;
  e.secret = {(uint64_t{rd()} << 32) | rd(), (uint64_t{rd()} << 32) | rd()};  // MUST-9
  return e;
}

std::unique_ptr<app::Workload> make_workload(const Config& c, const tcp::TcpParams& params, uint32_t worker,
                                             uint32_t workers) {
  if (c.server) {
    app::ServerWorkloadOptions o;
    if (c.server->http) {
      const HttpServerConfig& h = *c.server->http;
      o.http_port = h.port;
      o.http.status = static_cast<uint16_t>(h.status);
      o.http.content_type = h.content_type;
      o.http.body = h.body;
      o.http.body_size = h.body_size;
      o.http.keepalive = h.keepalive;
      o.http.close_first = c.server->close_first;
    }
    if (c.server->echo) o.echo_port = c.server->echo->port;
    if (c.server->discard) o.discard_port = c.server->discard->port;
    return std::make_unique<app::ServerWorkload>(o, c.tcp.max_connections, params);
  }
  const ClientConfig& k = *c.client;
  app::LoadClientOptions o;
  o.protocol = k.protocol == ClientProtocol::kEcho      ? app::Protocol::kEcho
               : k.protocol == ClientProtocol::kDiscard ? app::Protocol::kDiscard
                                                        : app::Protocol::kHttp;
  o.target = wire::Ipv4Addr{k.target_ip};
  o.target_port = k.target_port;
  if (k.target_ip6 || !k.target_list.empty()) {
    // IPv6, or several servers: the target list (client.target first, weight 1).
    o.targets.push_back({k.target_ip6.has_value(), wire::Ipv4Addr{k.target_ip}, k.target_ip6.value_or(wire::Ipv6Addr{}),
                         k.target_port, 1});
    for (const ClientConfig::Target& t : k.target_list)
      o.targets.push_back({t.ip6.has_value(), wire::Ipv4Addr{t.ip}, t.ip6.value_or(wire::Ipv6Addr{}), t.port, t.weight});
  }
  const double share = 1.0 / workers;
  o.connections_per_second = static_cast<double>(k.connections_per_second) * share;
  o.ramp_up = Duration::nanos(static_cast<int64_t>(k.ramp_up_s * 1e9));
  o.concurrency = std::max<uint32_t>(1, (k.concurrency + workers - 1 - worker) / workers);
  o.requests_per_connection = k.requests_per_connection;
  o.request_rate = static_cast<double>(k.request_rate) * share;
  o.request_size = k.request_size;
  o.http_path = k.http_path;
  o.http_host = k.http_host;
  o.think_time = Duration::millis(k.think_time_ms);
  o.close_with_rst = k.close == CloseMode::kRst;
  o.params = &params;
  return std::make_unique<app::ClientWorkload>(o, c.tcp.max_connections);
}

}  // namespace linetcp::control
