// The configuration of linetcp: a TOML file (plus `--set key=value` overrides) validated strictly
// into typed structs. Every key, default and range is documented in config/*.toml.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "linetcp/wire/ipv6.hpp"
#include "linetcp/engine/impairment.hpp"

namespace linetcp::control {

// Which side this process plays; decides whether [server] or [client] is allowed.
enum class Role { kServer, kClient };

std::string_view to_string(Role role);

// A configuration that cannot be used. what() is one line: the file, the dotted key, the reason
// (and the `--set` override when the value came from one), e.g.
//   config/server-tap.toml: tcp.msll_s: unknown key (did you mean 'tcp.msl_s'?)
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An IPv4 address in host byte order, with the text it was written as.
struct Ipv4Text {
  std::string text;   // "10.0.0.1"
  uint32_t addr = 0;  // 0x0a000001
};

// [dpdk]: EAL and memory.
struct DpdkConfig {
  std::vector<std::string> eal;       // EAL arguments; the caller appends command-line ones
  uint32_t mbufs = 16383;             // mbufs per pool (1023..16M)
  uint32_t mbuf_cache = 256;          // per-lcore mempool cache (0..512)
  uint32_t mbuf_data_room = 2048;     // frame bytes per mbuf, headroom not included (1024..65535)
  uint32_t workers = 1;               // worker lcores (1..128)
  uint32_t rx_burst = 32;             // (1..512)
  uint32_t tx_burst = 32;             // (1..512)
};

// [port]: the DPDK port.
struct PortConfig {
  std::string device;                 // required: vdev name ("net_tap0") or PCI address
  uint32_t rx_descriptors = 1024;     // (64..16384)
  uint32_t tx_descriptors = 1024;     // (64..16384)
  uint32_t mtu = 1500;                // (576..9000)
  bool promiscuous = false;
  std::string mac;                    // "" = the port's own MAC
  std::optional<std::array<uint8_t, 6>> mac_addr;  // parsed `mac`, set when mac != ""
  bool checksum_offload = true;
  uint32_t vlan = 0;                  // 802.1Q VLAN id of every frame (1..4094); 0 = untagged
  engine::ImpairmentConfig impairment;  // [port.impairment]: faults on purpose (off by default)
};

// [network]: our IPv4 identity.
struct NetworkConfig {
  std::string address;                // required: "10.77.0.2/24" as written
  uint32_t address_ip = 0;            // host order
  uint8_t prefix_len = 0;             // 1..32
  std::string gateway;                // "" = none
  std::optional<uint32_t> gateway_ip; // host order, set when gateway != ""
  uint32_t arp_timeout_s = 300;       // (1..86400)
  std::vector<std::string> addresses; // more IPv4 addresses "10.2.0.2/24", on other subnets too
  std::vector<std::pair<uint32_t, uint8_t>> address_prefixes;  // parsed: address, prefix length
  std::vector<std::string> ipv6;      // "2001:db8::2/64", "2001:db8::10-2001:db8::4f/64" as written (256 in all)
  std::vector<wire::Ipv6Prefix> ipv6_prefixes;  // parsed, ranges expanded: one per address
  std::string gateway6;               // "" = none; link-local or inside one of `ipv6`
  std::optional<wire::Ipv6Addr> gateway6_ip;
  std::string gateway_mac;            // "" = resolve network.gateway by ARP
  std::string gateway6_mac;           // "" = resolve network.gateway6 by NDP
  std::optional<std::array<uint8_t, 6>> gateway_mac_addr, gateway6_mac_addr;
  // "PREFIX via ADDRESS", IPv4 or IPv6: static routes, the next hop on one of our subnets.
  std::vector<std::string> routes;
  struct Route {
    bool v6 = false;
    uint32_t prefix4 = 0, via4 = 0;
    wire::Ipv6Prefix prefix6;
    wire::Ipv6Addr via6;
    uint8_t length = 0;
  };
  std::vector<Route> parsed_routes;

  uint32_t netmask() const { return prefix_len == 0 ? 0 : ~uint32_t{0} << (32 - prefix_len); }
};

enum class CongestionControl { kNewReno, kCubic };

// [tcp]: the protocol (RFC 9293, 6298, 5681, 7323, 2018).
struct TcpConfig {
  uint32_t mss = 1460;                // (88..9000), at most port.mtu - 40
  double msl_s = 30.0;                // (0.001..600); TIME_WAIT lasts 2*MSL
  uint32_t rto_min_ms = 200;          // (1..60000)
  uint32_t rto_initial_ms = 1000;     // (1..60000)
  uint32_t rto_max_ms = 120000;       // (60000..3600000), RFC 6298 2.5
  uint32_t r1_retries = 3;            // (1..255) retransmissions before telling the app
  uint32_t r2_s = 100;                // (1..86400) give up on a data segment after this long
  uint32_t r2_syn_s = 180;            // (180..86400) give up on a SYN (MUST-23: >= 3 minutes)
  uint32_t delayed_ack_ms = 40;       // (0..499), MUST-40: < 0.5 s; 0 = ACK at once
  bool nagle = true;
  bool keepalive = false;
  uint32_t keepalive_idle_s = 7200;   // (1..604800), MUST-28 default 2 h
  uint32_t keepalive_interval_s = 75; // (1..86400)
  uint32_t keepalive_probes = 9;      // (1..255)
  CongestionControl congestion = CongestionControl::kNewReno;  // "newreno" | "cubic"
  uint32_t initial_window_segments = 10;  // (1..64)
  uint32_t window_scale = 7;          // (0..14)
  bool timestamps = true;
  bool sack = true;
  uint32_t rcv_buffer = 262144;       // bytes (4096..1G)
  uint32_t max_connections = 65536;   // (1..64M)
  // Connections in full TCP state at once (0..64M, 0: max_connections); idle ESTABLISHED ones
  // beyond it are parked in 112-byte records (engine::EndpointConfig::full_state_connections).
  uint32_t full_state_connections = 0;
  uint32_t syn_backlog = 4096;        // (1..1M)
  bool syn_cookies = true;
  uint32_t time_wait_capacity = 65536;  // (1..64M)
};

// [server.http]
struct HttpServerConfig {
  uint16_t port = 80;
  std::string body = "linetcp\n";     // the response body, unless body_size is set
  std::optional<uint64_t> body_size;  // (0..1G) a generated body of this many bytes
  bool keepalive = true;
  uint32_t status = 200;              // (100..599)
  std::string content_type = "text/plain";
};

struct EchoServerConfig { uint16_t port = 7; };
struct DiscardServerConfig { uint16_t port = 9; };

// [server]: present exactly when role == server, with at least one of http/echo/discard.
struct ServerConfig {
  bool close_first = false;           // we close first (true) or wait for the client's FIN
  std::optional<HttpServerConfig> http;
  std::optional<EchoServerConfig> echo;
  std::optional<DiscardServerConfig> discard;
};

enum class ClientProtocol { kHttp, kEcho, kDiscard };
enum class CloseMode { kFin, kRst };

// [client]: present exactly when role == client.
struct ClientConfig {
  ClientProtocol protocol = ClientProtocol::kHttp;  // required
  std::string target;                 // required, "10.0.0.1:80" as written
  uint32_t target_ip = 0;             // host order (IPv4 targets)
  std::optional<wire::Ipv6Addr> target_ip6;  // set for "[2001:db8::1]:80"
  std::vector<std::string> targets;   // more servers, "ADDRESS:PORT[ weight=N]" as written
  struct Target {
    uint32_t ip = 0;                     // IPv4, host order (when ip6 is unset)
    std::optional<wire::Ipv6Addr> ip6;
    uint16_t port = 0;
    uint32_t weight = 1;
  };
  std::vector<Target> target_list;     // parsed `targets`
  uint16_t target_port = 0;
  std::string source_ports = "10000-60000";
  uint16_t source_port_first = 10000;
  uint16_t source_port_last = 60000;
  std::string source_addresses;        // "" = network.address only; else "first-last" in its subnet
  uint32_t source_address_first = 0;   // resolved range, host order (network.address when "")
  uint32_t source_address_last = 0;
  uint64_t connections_per_second = 0;  // 0 = as fast as concurrency allows
  double ramp_up_s = 0.0;             // (0..86400)
  uint32_t concurrency = 100;         // (1..64M), at most the number of source ports
  uint64_t requests_per_connection = 1;  // 0 = unlimited (keep-alive until the end)
  uint64_t request_rate = 0;          // requests/s; 0 = closed loop
  uint64_t request_size = 0;          // bytes; http: 0 = GET, > 0 = POST with that body
  std::string http_path = "/";
  std::string http_host;              // resolved: "" in the file = the target
  uint64_t response_size = 0;         // echo: expected bytes back (0 = request_size)
  uint32_t think_time_ms = 0;         // (0..3600000)
  CloseMode close = CloseMode::kFin;
  double duration_s = 10.0;           // (0.1..86400)
};

// [status]
struct StatusConfig {
  double interval_s = 1.0;            // 0 = no live status line, else 0.1..3600
};

enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError, kOff };

// [log]
struct LogConfig {
  LogLevel level = LogLevel::kInfo;
};

struct Config {
  Role role = Role::kServer;
  std::string source;                 // the file it was loaded from
  DpdkConfig dpdk;
  PortConfig port;
  NetworkConfig network;
  TcpConfig tcp;
  std::optional<ServerConfig> server;  // set iff role == kServer
  std::optional<ClientConfig> client;  // set iff role == kClient
  StatusConfig status;
  LogConfig log;
};

// Reads `path`, applies `overrides` ("section.key=value", the value parsed as a TOML value and
// taken as a plain string when it is not one), validates. Throws ConfigError.
Config load_config(const std::string& path, const std::vector<std::string>& overrides, Role role);

// The same from TOML text; `source_name` stands for the file in messages.
Config parse_config(std::string_view toml_text, const std::string& source_name,
                    const std::vector<std::string>& overrides, Role role);

// The effective configuration with the file's key names (defaults filled in), for the report.
nlohmann::json to_json(const Config& config);
// The same as TOML text; loading it back gives the same Config.
std::string to_toml(const Config& config);

// Every key the schema knows, dotted ("tcp.mss"), tables included ("server.http").
const std::vector<std::string_view>& known_config_keys();

std::string_view to_string(CongestionControl c);
std::string_view to_string(ClientProtocol p);
std::string_view to_string(CloseMode m);
std::string_view to_string(LogLevel l);

}  // namespace linetcp::control
