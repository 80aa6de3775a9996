// Tests of the TOML configuration: the example files, defaults, every class of error (with the
// exact key in the message), `--set` overrides, and the JSON/TOML output.
#include "linetcp/control/config.hpp"
#include "linetcp/control/build.hpp"

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <toml++/toml.h>

namespace linetcp::control {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// The smallest valid server: the required keys and one service.
const char* const kServer = R"(
[port]
device = "net_ring0"
[network]
address = "10.0.0.2/24"
[server.http]
)";

// The smallest valid client.
const char* const kClient = R"(
[port]
device = "net_ring0"
[network]
address = "10.0.0.2/24"
[client]
protocol = "http"
target = "10.0.0.1:80"
)";

Config parse(const std::string& text, Role role, const std::vector<std::string>& overrides = {}) {
  return parse_config(text, "test.toml", overrides, role);
}

// The message of the ConfigError that parsing throws; fails the test when none is thrown.
std::string error_of(const std::string& text, Role role, const std::vector<std::string>& overrides = {}) {
  try {
    parse(text, role, overrides);
  } catch (const ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "not one line: " << msg;
    return msg;
  }
  ADD_FAILURE() << "no ConfigError for:\n" << text;
  return {};
}

std::string server_error(const std::string& extra, const std::vector<std::string>& overrides = {}) {
  return error_of(std::string(kServer) + extra, Role::kServer, overrides);
}

std::vector<std::filesystem::path> example_files() {
  std::vector<std::filesystem::path> files;
  // Tests run from the project root (meson's workdir, or by hand from /work/main).
  for (const auto& entry : std::filesystem::directory_iterator("config")) {
    if (entry.path().extension() == ".toml") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

Role role_of(const std::filesystem::path& file) {
  return file.filename().string().starts_with("client-") ? Role::kClient : Role::kServer;
}

void collect_keys(const toml::table& table, const std::string& prefix, std::set<std::string>& keys) {
  for (const auto& [k, node] : table) {
    const std::string path = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    keys.insert(path);
    if (node.is_table()) collect_keys(*node.as_table(), path, keys);
  }
}

// ---------------------------------------------------------------------------------------------
// The example files.

TEST(ConfigExamples, EveryExampleLoadsInItsRole) {
  const auto files = example_files();
  ASSERT_GE(files.size(), 5u);
  for (const auto& file : files) {
    const std::string name = file.filename().string();
    ASSERT_TRUE(name.starts_with("server-") || name.starts_with("client-")) << name;
    SCOPED_TRACE(name);
    Config c;
    ASSERT_NO_THROW(c = load_config(file.string(), {}, role_of(file))) << name;
    EXPECT_EQ(c.server.has_value(), role_of(file) == Role::kServer);
    EXPECT_EQ(c.client.has_value(), role_of(file) == Role::kClient);
  }
}

TEST(ConfigExamples, ExamplesTogetherShowEveryKey) {
  std::set<std::string> seen;
  for (const auto& file : example_files()) collect_keys(toml::parse_file(file.string()), "", seen);
  for (std::string_view key : known_config_keys()) {
    EXPECT_TRUE(seen.count(std::string(key))) << key << " is in no config/*.toml";
  }
}

TEST(ConfigExamples, ServerTap) {
  const Config c = load_config("config/server-tap.toml", {}, Role::kServer);
  EXPECT_EQ(c.source, "config/server-tap.toml");
  EXPECT_EQ(c.dpdk.eal, (std::vector<std::string>{"--in-memory", "--no-pci", "--vdev=net_tap0,iface=ltcp0"}));
  EXPECT_EQ(c.port.device, "net_tap0");
  EXPECT_EQ(c.network.address, "10.77.0.2/24");
  EXPECT_EQ(c.network.address_ip, 0x0a4d0002u);
  EXPECT_EQ(c.network.prefix_len, 24);
  EXPECT_EQ(c.network.netmask(), 0xffffff00u);
  ASSERT_TRUE(c.server->http && c.server->echo && c.server->discard);
  EXPECT_EQ(c.server->http->port, 80);
  EXPECT_EQ(c.server->echo->port, 7);
  EXPECT_EQ(c.server->discard->port, 9);
}

TEST(ConfigExamples, MemifPair) {
  const Config s = load_config("config/server-memif.toml", {}, Role::kServer);
  const Config c = load_config("config/client-memif.toml", {}, Role::kClient);
  EXPECT_EQ(s.port.device, "net_memif0");
  EXPECT_EQ(s.network.address_ip, 0x0a000001u);
  EXPECT_EQ(c.network.address_ip, 0x0a000002u);
  EXPECT_EQ(c.client->target_ip, s.network.address_ip);
  EXPECT_EQ(c.client->target_port, s.server->http->port);
  EXPECT_EQ(c.client->protocol, ClientProtocol::kHttp);
}

TEST(ConfigExamples, ServerPci) {
  const Config c = load_config("config/server-pci.toml", {}, Role::kServer);
  EXPECT_EQ(c.port.device, "0000:01:00.0");
  EXPECT_EQ(c.dpdk.workers, 2u);
  ASSERT_TRUE(c.network.gateway_ip);
  EXPECT_EQ(*c.network.gateway_ip, 0xc0a86401u);
  EXPECT_EQ(c.server->http->body_size, 1024u);
}

TEST(ConfigExamples, ClientTap) {
  const Config c = load_config("config/client-tap.toml", {}, Role::kClient);
  EXPECT_EQ(c.port.device, "net_tap1");
  EXPECT_EQ(c.network.address, "10.78.0.2/24");
  EXPECT_EQ(c.client->target, "10.78.0.1:80");
  EXPECT_EQ(c.client->target_ip, 0x0a4e0001u);
  EXPECT_EQ(c.client->target_port, 80);
  EXPECT_EQ(c.client->http_host, "10.78.0.1");
}

// ---------------------------------------------------------------------------------------------
// Defaults.

TEST(ConfigDefaults, Server) {
  const Config c = parse(kServer, Role::kServer);
  EXPECT_EQ(c.role, Role::kServer);
  EXPECT_EQ(c.source, "test.toml");
  EXPECT_TRUE(c.dpdk.eal.empty());
  EXPECT_EQ(c.dpdk.mbufs, 16383u);
  EXPECT_EQ(c.dpdk.mbuf_cache, 256u);
  EXPECT_EQ(c.dpdk.mbuf_data_room, 2048u);
  EXPECT_EQ(c.dpdk.workers, 1u);
  EXPECT_EQ(c.dpdk.rx_burst, 32u);
  EXPECT_EQ(c.dpdk.tx_burst, 32u);
  EXPECT_EQ(c.port.rx_descriptors, 1024u);
  EXPECT_EQ(c.port.tx_descriptors, 1024u);
  EXPECT_EQ(c.port.mtu, 1500u);
  EXPECT_FALSE(c.port.promiscuous);
  EXPECT_EQ(c.port.mac, "");
  EXPECT_FALSE(c.port.mac_addr);
  EXPECT_TRUE(c.port.checksum_offload);
  EXPECT_EQ(c.network.gateway, "");
  EXPECT_FALSE(c.network.gateway_ip);
  EXPECT_EQ(c.network.arp_timeout_s, 300u);
  EXPECT_EQ(c.tcp.mss, 1460u);
  EXPECT_DOUBLE_EQ(c.tcp.msl_s, 30.0);
  EXPECT_EQ(c.tcp.rto_min_ms, 200u);
  EXPECT_EQ(c.tcp.rto_initial_ms, 1000u);
  EXPECT_EQ(c.tcp.rto_max_ms, 120000u);
  EXPECT_EQ(c.tcp.r1_retries, 3u);
  EXPECT_EQ(c.tcp.r2_s, 100u);
  EXPECT_EQ(c.tcp.r2_syn_s, 180u);
  EXPECT_EQ(c.tcp.delayed_ack_ms, 40u);
  EXPECT_TRUE(c.tcp.nagle);
  EXPECT_FALSE(c.tcp.keepalive);
  EXPECT_EQ(c.tcp.keepalive_idle_s, 7200u);
  EXPECT_EQ(c.tcp.keepalive_interval_s, 75u);
  EXPECT_EQ(c.tcp.keepalive_probes, 9u);
  EXPECT_EQ(c.tcp.congestion, CongestionControl::kNewReno);
  EXPECT_EQ(c.tcp.initial_window_segments, 10u);
  EXPECT_EQ(c.tcp.window_scale, 7u);
  EXPECT_TRUE(c.tcp.timestamps);
  EXPECT_TRUE(c.tcp.sack);
  EXPECT_EQ(c.tcp.rcv_buffer, 262144u);
  EXPECT_EQ(c.tcp.max_connections, 65536u);
  EXPECT_EQ(c.tcp.syn_backlog, 4096u);
  EXPECT_TRUE(c.tcp.syn_cookies);
  EXPECT_EQ(c.tcp.time_wait_capacity, 65536u);
  ASSERT_TRUE(c.server);
  EXPECT_FALSE(c.client);
  EXPECT_FALSE(c.server->close_first);
  ASSERT_TRUE(c.server->http);
  EXPECT_EQ(c.server->http->port, 80);
  EXPECT_EQ(c.server->http->body, "linetcp\n");
  EXPECT_FALSE(c.server->http->body_size);
  EXPECT_TRUE(c.server->http->keepalive);
  EXPECT_EQ(c.server->http->status, 200u);
  EXPECT_EQ(c.server->http->content_type, "text/plain");
  EXPECT_FALSE(c.server->echo);
  EXPECT_FALSE(c.server->discard);
  EXPECT_DOUBLE_EQ(c.status.interval_s, 1.0);
  EXPECT_EQ(c.log.level, LogLevel::kInfo);
}

TEST(ConfigDefaults, EmptyServiceTablesTurnServicesOnWithTheirPorts) {
  const Config c = parse(std::string(kServer) + "[server.echo]\n[server.discard]\n", Role::kServer);
  ASSERT_TRUE(c.server->echo && c.server->discard);
  EXPECT_EQ(c.server->echo->port, 7);
  EXPECT_EQ(c.server->discard->port, 9);
}

TEST(ConfigDefaults, Client) {
  const Config c = parse(kClient, Role::kClient);
  EXPECT_EQ(c.role, Role::kClient);
  EXPECT_FALSE(c.server);
  ASSERT_TRUE(c.client);
  const ClientConfig& k = *c.client;
  EXPECT_EQ(k.protocol, ClientProtocol::kHttp);
  EXPECT_EQ(k.target_ip, 0x0a000001u);
  EXPECT_EQ(k.target_port, 80);
  EXPECT_EQ(k.source_ports, "10000-60000");
  EXPECT_EQ(k.source_port_first, 10000);
  EXPECT_EQ(k.source_port_last, 60000);
  EXPECT_EQ(k.connections_per_second, 0u);
  EXPECT_DOUBLE_EQ(k.ramp_up_s, 0.0);
  EXPECT_EQ(k.concurrency, 100u);
  EXPECT_EQ(k.requests_per_connection, 1u);
  EXPECT_EQ(k.request_rate, 0u);
  EXPECT_EQ(k.request_size, 0u);
  EXPECT_EQ(k.http_path, "/");
  EXPECT_EQ(k.http_host, "10.0.0.1");  // resolved from the target
  EXPECT_EQ(k.response_size, 0u);
  EXPECT_EQ(k.think_time_ms, 0u);
  EXPECT_EQ(k.close, CloseMode::kFin);
  EXPECT_DOUBLE_EQ(k.duration_s, 10.0);
}

TEST(ConfigDefaults, HttpHostKeepsANonDefaultPort) {
  const Config c = parse(kClient, Role::kClient, {"client.target=10.0.0.1:8080"});
  EXPECT_EQ(c.client->http_host, "10.0.0.1:8080");
  const Config d = parse(kClient, Role::kClient, {"client.http_host=example.test"});
  EXPECT_EQ(d.client->http_host, "example.test");
}

TEST(ConfigValues, ParsedAddressesAndEnums) {
  const Config c = parse(std::string(kServer) + R"(
[tcp]
congestion = "cubic"
msl_s = 1
[log]
level = "debug"
)",
                         Role::kServer, {"port.mac=02:AB:cd:00:00:01", "network.gateway=10.0.0.1"});
  ASSERT_TRUE(c.port.mac_addr);
  EXPECT_EQ(*c.port.mac_addr, (std::array<uint8_t, 6>{0x02, 0xab, 0xcd, 0, 0, 1}));
  EXPECT_EQ(c.network.gateway_ip, 0x0a000001u);
  EXPECT_EQ(c.tcp.congestion, CongestionControl::kCubic);
  EXPECT_DOUBLE_EQ(c.tcp.msl_s, 1.0);  // an integer is fine where a float is expected
  EXPECT_EQ(c.log.level, LogLevel::kDebug);
}

// ---------------------------------------------------------------------------------------------
// Errors: unknown keys.

TEST(ConfigErrors, UnknownTopLevelKey) {
  EXPECT_EQ(server_error("[tpc]\nmss = 1400\n"), "test.toml: tpc: unknown key (did you mean 'tcp'?)");
  EXPECT_EQ(server_error("colour = 1\n"), "test.toml: server.http.colour: unknown key");
  EXPECT_EQ(error_of("verbose = true\n" + std::string(kServer), Role::kServer), "test.toml: verbose: unknown key");
}

TEST(ConfigErrors, UnknownNestedKeyWithSuggestion) {
  EXPECT_EQ(server_error("[tcp]\nmsll_s = 1\n"), "test.toml: tcp.msll_s: unknown key (did you mean 'tcp.msl_s'?)");
  EXPECT_EQ(server_error("[tcp]\nwindow_sacle = 7\n"),
            "test.toml: tcp.window_sacle: unknown key (did you mean 'tcp.window_scale'?)");
  EXPECT_EQ(server_error("[tcp]\nMSS = 1400\n"), "test.toml: tcp.MSS: unknown key (did you mean 'tcp.mss'?)");
  EXPECT_EQ(server_error("bodyy = \"x\"\n"),
            "test.toml: server.http.bodyy: unknown key (did you mean 'server.http.body'?)");
  EXPECT_EQ(server_error("[tcp]\nzzzzzzzz = 1\n"), "test.toml: tcp.zzzzzzzz: unknown key");
}

TEST(ConfigErrors, UnknownKeyInTheWrongSectionSuggestsTheRightOne) {
  EXPECT_EQ(server_error("[network.x]\n"), "test.toml: network.x: unknown key");
  const std::string text = std::string(kServer) + "[dpdk]\nmtu = 1500\n";
  EXPECT_EQ(error_of(text, Role::kServer), "test.toml: dpdk.mtu: unknown key (did you mean 'port.mtu'?)");
}

TEST(ConfigErrors, SuggestionsForAKeyInTheWrongTable) {
  EXPECT_EQ(server_error("", {"server.port=80"}),
            "test.toml: server.port: unknown key (did you mean 'server.http.port'?) (from --set server.port=80)");
  EXPECT_EQ(error_of(kClient, Role::kClient, {"client.port=80"}),
            "test.toml: client.port: unknown key (from --set client.port=80)");
  EXPECT_EQ(error_of(kClient, Role::kClient, {"tcp.concurrency=80"}),
            "test.toml: tcp.concurrency: unknown key (did you mean 'client.concurrency'?) "
            "(from --set tcp.concurrency=80)");
  EXPECT_EQ(server_error("", {"network.mtu=1500"}),
            "test.toml: network.mtu: unknown key (did you mean 'port.mtu'?) (from --set network.mtu=1500)");
}

TEST(ConfigErrors, QuotedKeyWithADotIsNotADottedKey) {
  EXPECT_EQ(error_of("\"tcp.mss\" = 1400\n" + std::string(kServer), Role::kServer),
            "test.toml: \"tcp.mss\": unknown key");
}

TEST(ConfigErrors, UnknownServiceTable) {
  EXPECT_EQ(server_error("[server.htp]\n"),
            "test.toml: server.htp: unknown key (did you mean 'server.http'?)");
}

// Errors: types.

TEST(ConfigErrors, WrongTypes) {
  EXPECT_EQ(server_error("[tcp]\nmss = \"big\"\n"),
            "test.toml: tcp.mss: must be an integer from 88 to 9000, got \"big\"");
  EXPECT_EQ(server_error("[tcp]\nmss = 1460.0\n"),
            "test.toml: tcp.mss: must be an integer from 88 to 9000, got 1460.0");
  EXPECT_EQ(server_error("[tcp]\nnagle = 1\n"), "test.toml: tcp.nagle: must be true or false, got 1");
  EXPECT_EQ(server_error("[tcp]\nmsl_s = \"30s\"\n"),
            "test.toml: tcp.msl_s: must be a number from 0.001 to 600, got \"30s\"");
  EXPECT_EQ(server_error("[tcp]\ncongestion = \"reno\"\n"),
            "test.toml: tcp.congestion: must be one of \"newreno\", \"cubic\", got \"reno\"");
  EXPECT_EQ(server_error("[tcp]\ncongestion = 1\n"),
            "test.toml: tcp.congestion: must be one of \"newreno\", \"cubic\", got 1");
  EXPECT_EQ(server_error("[dpdk]\neal = \"--no-pci\"\n"),
            "test.toml: dpdk.eal: must be an array of strings, got \"--no-pci\"");
  EXPECT_EQ(server_error("[dpdk]\neal = [\"--no-pci\", 5]\n"), "test.toml: dpdk.eal[1]: must be a string, got 5");
  EXPECT_EQ(server_error("[log]\nlevel = \"verbose\"\n"),
            "test.toml: log.level: must be one of \"trace\", \"debug\", \"info\", \"warn\", \"error\", \"off\", "
            "got \"verbose\"");
  EXPECT_EQ(error_of("tcp = 5\n" + std::string(kServer), Role::kServer), "test.toml: tcp: must be a table, got 5");
  EXPECT_EQ(error_of("[[tcp]]\nmss = 1\n" + std::string(kServer), Role::kServer),
            "test.toml: tcp: must be a table, got an array");
  EXPECT_EQ(server_error("[port.mtu]\n"), "test.toml: port.mtu: must be an integer from 576 to 9000, got a table");
  EXPECT_EQ(server_error("content_type = 5\n"), "test.toml: server.http.content_type: must be a string, got 5");
}

// Errors: ranges.

TEST(ConfigErrors, OutOfRange) {
  EXPECT_EQ(server_error("[tcp]\nmss = 87\n"), "test.toml: tcp.mss: must be an integer from 88 to 9000, got 87");
  EXPECT_EQ(server_error("[tcp]\nmss = 9001\n"), "test.toml: tcp.mss: must be an integer from 88 to 9000, got 9001");
  EXPECT_EQ(server_error("[tcp]\nmsl_s = 0\n"), "test.toml: tcp.msl_s: must be a number from 0.001 to 600, got 0");
  EXPECT_EQ(server_error("[tcp]\nmsl_s = nan\n"),
            "test.toml: tcp.msl_s: must be a number from 0.001 to 600, got nan");
  EXPECT_EQ(server_error("[tcp]\ndelayed_ack_ms = 500\n"),
            "test.toml: tcp.delayed_ack_ms: must be an integer from 0 to 499, got 500");
  EXPECT_EQ(server_error("[tcp]\nr2_syn_s = 179\n"),
            "test.toml: tcp.r2_syn_s: must be an integer from 180 to 86400, got 179");
  EXPECT_EQ(server_error("[tcp]\nwindow_scale = 15\n"),
            "test.toml: tcp.window_scale: must be an integer from 0 to 14, got 15");
  EXPECT_EQ(server_error("[tcp]\nrto_max_ms = 59999\n"),
            "test.toml: tcp.rto_max_ms: must be an integer from 60000 to 3600000, got 59999");
  EXPECT_EQ(server_error("[dpdk]\nmbufs = -1\n"),
            "test.toml: dpdk.mbufs: must be an integer from 1023 to 16777216, got -1");
  EXPECT_EQ(server_error("[dpdk]\nworkers = 0\n"), "test.toml: dpdk.workers: must be an integer from 1 to 128, got 0");
  EXPECT_EQ(server_error("port = 65536\n"), "test.toml: server.http.port: must be an integer from 1 to 65535, got 65536");
  EXPECT_EQ(server_error("status = 600\n"), "test.toml: server.http.status: must be an integer from 100 to 599, got 600");
  EXPECT_EQ(server_error("[status]\ninterval_s = 0.05\n"),
            "test.toml: status.interval_s: must be 0 (off) or from 0.1 to 3600, got 0.05");
  EXPECT_EQ(error_of(std::string(kClient) + "duration_s = 0.01\n", Role::kClient),
            "test.toml: client.duration_s: must be a number from 0.1 to 86400, got 0.01");
}

TEST(ConfigClient, SourceAddresses) {
  const Config none = parse(kClient, Role::kClient);
  EXPECT_EQ(none.client->source_address_first, none.network.address_ip);
  EXPECT_EQ(none.client->source_address_last, none.network.address_ip);
  const Config range = parse(kClient, Role::kClient, {"client.source_addresses=10.0.0.20-10.0.0.29"});
  EXPECT_EQ(range.client->source_address_first, 0x0a000014u);
  EXPECT_EQ(range.client->source_address_last, 0x0a00001du);
  EXPECT_EQ(error_of(kClient, Role::kClient, {"client.source_addresses=10.0.0.20"}),
            "test.toml: client.source_addresses: not an address range first-last (like 10.0.0.2-10.0.0.9): "
            "\"10.0.0.20\" (from --set client.source_addresses=10.0.0.20)");
  EXPECT_EQ(error_of(kClient, Role::kClient, {"client.source_addresses=10.0.0.29-10.0.0.20"}),
            "test.toml: client.source_addresses: not an address range first-last (like 10.0.0.2-10.0.0.9): "
            "\"10.0.0.29-10.0.0.20\" (from --set client.source_addresses=10.0.0.29-10.0.0.20)");
  EXPECT_NE(error_of(kClient, Role::kClient, {"client.source_addresses=10.0.1.2-10.0.1.9"}).find("subnet"),
            std::string::npos);
  EXPECT_NE(error_of(kClient, Role::kClient, {"client.source_addresses=10.0.0.1-10.0.0.9"}).find("target"),
            std::string::npos);
}

TEST(ConfigErrors, CrossChecks) {
  EXPECT_EQ(server_error("[tcp]\nmss = 1461\n"),
            "test.toml: tcp.mss: 1461 does not fit in port.mtu 1500 (at most mtu - 40 = 1460)");
  EXPECT_EQ(server_error("", {"port.mtu=9000", "tcp.mss=8960"}),
            "test.toml: dpdk.mbuf_data_room: 2048 bytes cannot hold a frame of port.mtu 9000 (needs mtu + 18 = 9018)");
  EXPECT_NO_THROW(parse(kServer, Role::kServer, {"port.mtu=9000", "tcp.mss=8960", "dpdk.mbuf_data_room=9018"}));
  EXPECT_EQ(server_error("[tcp]\nrto_min_ms = 300\nrto_initial_ms = 250\n"),
            "test.toml: tcp.rto_initial_ms: must not be less than tcp.rto_min_ms (300), got 250");
  EXPECT_EQ(server_error("body = \"x\"\nbody_size = 100\n"),
            "test.toml: server.http.body_size: set server.http.body or server.http.body_size, not both");
  EXPECT_EQ(server_error("[server.echo]\nport = 80\n"), "test.toml: server.echo.port: 80 is already used by server.http.port");
  EXPECT_EQ(error_of(std::string(kClient) + "source_ports = \"10000-10009\"\n", Role::kClient),
            "test.toml: client.concurrency: 100 connections to one target need as many source address:port "
            "pairs; client.source_ports 10000-10009 (times client.source_addresses) gives 10");
  // Ten addresses times ten ports hold 100 connections.
  EXPECT_NO_THROW(parse(std::string(kClient) + "source_ports = \"10000-10009\"\n", Role::kClient,
                        {"client.source_addresses=10.0.0.20-10.0.0.29"}));
  EXPECT_EQ(error_of(kClient, Role::kClient, {"client.protocol=discard", "client.response_size=10"}),
            "test.toml: client.response_size: must be 0 with protocol \"discard\" (a discard server sends nothing "
            "back), got 10 (from --set client.response_size=10)");
  EXPECT_EQ(error_of(kClient, Role::kClient, {"tcp.max_connections=30", "dpdk.workers=3"}),
            "test.toml: client.concurrency: 100 is more than tcp.max_connections x dpdk.workers = 90");
  EXPECT_NO_THROW(parse(kClient, Role::kClient, {"tcp.max_connections=50", "dpdk.workers=2"}));
  // Full TCP states for at most the connections there are.
  EXPECT_EQ(error_of(kClient, Role::kClient, {"tcp.max_connections=200", "tcp.full_state_connections=300"}),
            "test.toml: tcp.full_state_connections: 300 is more than tcp.max_connections = 200 (0 means the same) "
            "(from --set tcp.full_state_connections=300)");
  const Config parked = parse(kClient, Role::kClient, {"tcp.max_connections=200", "tcp.full_state_connections=50"});
  EXPECT_EQ(parked.tcp.full_state_connections, 50u);
  EXPECT_EQ(endpoint_config(parked, wire::MacAddr{{2, 0, 0, 0, 0, 1}}, false, 0, 1).full_state_connections, 50u);
}

// Errors: required keys and sections.

TEST(ConfigErrors, MissingRequiredKeys) {
  EXPECT_EQ(error_of("[network]\naddress = \"10.0.0.2/24\"\n[server.http]\n", Role::kServer),
            "test.toml: port.device: missing required key");
  EXPECT_EQ(error_of("[port]\nmtu = 1500\n[network]\naddress = \"10.0.0.2/24\"\n[server.http]\n", Role::kServer),
            "test.toml: port.device: missing required key");
  EXPECT_EQ(error_of("[port]\ndevice = \"\"\n[network]\naddress = \"10.0.0.2/24\"\n[server.http]\n", Role::kServer),
            "test.toml: port.device: must not be empty");
  EXPECT_EQ(error_of("[port]\ndevice = \"net_ring0\"\n[server.http]\n", Role::kServer),
            "test.toml: network.address: missing required key");
  EXPECT_EQ(error_of("[port]\ndevice = \"x\"\n[network]\naddress = \"10.0.0.2/24\"\n[client]\ntarget = \"10.0.0.1:80\"\n",
                     Role::kClient),
            "test.toml: client.protocol: missing required key");
  EXPECT_EQ(error_of("[port]\ndevice = \"x\"\n[network]\naddress = \"10.0.0.2/24\"\n[client]\nprotocol = \"echo\"\n",
                     Role::kClient),
            "test.toml: client.target: missing required key");
}

TEST(ConfigErrors, MissingRoleSection) {
  const std::string base = "[port]\ndevice = \"x\"\n[network]\naddress = \"10.0.0.2/24\"\n";
  EXPECT_EQ(error_of(base, Role::kServer),
            "test.toml: server: missing required section (with at least one of [server.http], [server.echo], "
            "[server.discard])");
  EXPECT_EQ(error_of(base + "[server]\nclose_first = true\n", Role::kServer),
            "test.toml: server: needs at least one of [server.http], [server.echo], [server.discard]");
  EXPECT_EQ(error_of(base, Role::kClient), "test.toml: client: missing required section");
}

TEST(ConfigErrors, SectionOfTheOtherRole) {
  EXPECT_EQ(error_of(kServer, Role::kClient),
            "test.toml: server: only allowed when running as server (this is a client configuration)");
  EXPECT_EQ(error_of(kClient, Role::kServer),
            "test.toml: client: only allowed when running as client (this is a server configuration)");
  // The role error wins over errors inside the section.
  EXPECT_EQ(error_of(std::string(kServer) + "bogus = 1\n", Role::kClient),
            "test.toml: server: only allowed when running as server (this is a client configuration)");
}

// Errors: addresses.

TEST(ConfigErrors, BadAddresses) {
  EXPECT_EQ(server_error("", {"network.address=10.0.0.300/24"}),
            "test.toml: network.address: not an IPv4 address with prefix (like 10.0.0.2/24): \"10.0.0.300/24\" "
            "(from --set network.address=10.0.0.300/24)");
  for (const char* bad : {"10.0.0.2", "10.0.0.2/33", "10.0.0/24", "10.0.0.2/", "010.0.0.2/24", "10.0.0.2/24x",
                          "a.b.c.d/24", " 10.0.0.2/24", "10.0.0.2/024"}) {
    EXPECT_THAT(server_error("", {std::string("network.address=\"") + bad + "\""}),
                StartsWith("test.toml: network.address: not an IPv4 address with prefix (like 10.0.0.2/24): "))
        << bad;
  }
  EXPECT_THAT(server_error("", {"network.address=10.0.0.2/0"}),
              StartsWith("test.toml: network.address: the prefix length must be 1 to 32"));
  EXPECT_THAT(server_error("", {"network.address=10.0.0.0/24"}),
              StartsWith("test.toml: network.address: the network or broadcast address of its prefix"));
  EXPECT_THAT(server_error("", {"network.address=10.0.0.255/24"}),
              StartsWith("test.toml: network.address: the network or broadcast address of its prefix"));
  EXPECT_NO_THROW(parse(kServer, Role::kServer, {"network.address=10.0.0.1/31"}));
  EXPECT_NO_THROW(parse(kServer, Role::kServer, {"network.address=10.0.0.7/32"}));
  EXPECT_THAT(server_error("", {"network.address=127.0.0.1/8"}), StartsWith("test.toml: network.address: not a unicast"));
  EXPECT_THAT(server_error("", {"network.address=224.0.0.1/24"}), StartsWith("test.toml: network.address: not a unicast"));
  EXPECT_EQ(server_error("", {"network.gateway=10.0.1.1"}),
            "test.toml: network.gateway: \"10.0.1.1\" is outside network.address 10.0.0.2/24 "
            "(from --set network.gateway=10.0.1.1)");
  EXPECT_THAT(server_error("", {"network.gateway=10.0.0.2"}), StartsWith("test.toml: network.gateway: is our own address"));
  EXPECT_THAT(server_error("", {"network.gateway=10.0.0.256"}),
              StartsWith("test.toml: network.gateway: not an IPv4 address (like 10.0.0.1): \"10.0.0.256\""));
  EXPECT_THAT(server_error("", {"port.mac=02:00:00:00:00"}),
              StartsWith("test.toml: port.mac: not a MAC address (like 02:00:00:00:00:01): \"02:00:00:00:00\""));
  EXPECT_THAT(server_error("", {"port.mac=02-00-00-00-00-01"}), StartsWith("test.toml: port.mac: not a MAC address"));
  EXPECT_THAT(server_error("", {"port.mac=01:00:5e:00:00:01"}), StartsWith("test.toml: port.mac: a multicast MAC"));
  EXPECT_THAT(server_error("", {"port.mac=00:00:00:00:00:00"}), StartsWith("test.toml: port.mac: the zero MAC"));
}

TEST(ConfigErrors, BadClientTargetsAndRanges) {
  for (const char* bad : {"10.0.0.1", "10.0.0.1:", "10.0.0.1:0", "10.0.0.1:65536", "host:80", "10.0.0.1:80:1"}) {
    EXPECT_THAT(error_of(kClient, Role::kClient, {std::string("client.target=") + bad}),
                StartsWith("test.toml: client.target: not an IPv4 address and port (like 10.0.0.1:80): "))
        << bad;
  }
  EXPECT_THAT(error_of(kClient, Role::kClient, {"client.target=10.0.0.2:80"}),
              StartsWith("test.toml: client.target: is our own network.address"));
  for (const char* bad : {"1000", "0-10", "100-99", "1-65536", "a-b", "-", "10-"}) {
    EXPECT_THAT(error_of(kClient, Role::kClient, {std::string("client.source_ports=\"") + bad + "\""}),
                StartsWith("test.toml: client.source_ports: not a port range"))
        << bad;
  }
  EXPECT_THAT(error_of(kClient, Role::kClient, {"client.http_path=index.html"}),
              StartsWith("test.toml: client.http_path: must start with '/'"));
  EXPECT_THAT(error_of(kClient, Role::kClient, {"client.http_path=\"/a b\""}),
              StartsWith("test.toml: client.http_path: must start with '/'"));
  EXPECT_THAT(error_of(kClient, Role::kClient, {"client.http_host=\"a\\r\\nX: y\""}),
              StartsWith("test.toml: client.http_host: must hold no spaces or control characters, got \"a\\x0d\\nX: y\""));
  EXPECT_EQ(error_of(kClient, Role::kClient, {"client.close=abort"}),
            "test.toml: client.close: must be one of \"fin\", \"rst\", got \"abort\" (from --set client.close=abort)");
}

// Errors: syntax and files.

TEST(ConfigErrors, SyntaxErrorNamesLineAndColumn) {
  const std::string msg = error_of("[port]\ndevice = \"x\"\nmtu = = 1500\n", Role::kServer);
  EXPECT_THAT(msg, StartsWith("test.toml:3:"));
  EXPECT_THAT(msg, HasSubstr("TOML syntax error"));
  EXPECT_THAT(error_of("[port]\ndevice = \"x\"\n[port]\n", Role::kServer), StartsWith("test.toml:3:"));
  EXPECT_THAT(error_of("[tcp]\nmss = 1\nmss = 2\n", Role::kServer), StartsWith("test.toml:3:"));
}

TEST(ConfigErrors, FileThatCannotBeOpened) {
  try {
    load_config("config/no-such-file.toml", {}, Role::kServer);
    FAIL() << "no ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "config/no-such-file.toml: cannot open: No such file or directory");
  }
}

TEST(ConfigErrors, FileNameIsInMessages) {
  try {
    load_config("config/server-tap.toml", {"tcp.msll_s=1"}, Role::kServer);
    FAIL() << "no ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "config/server-tap.toml: tcp.msll_s: unknown key (did you mean 'tcp.msl_s'?) (from --set tcp.msll_s=1)");
  }
}

TEST(ConfigErrors, IsARuntimeError) {
  EXPECT_THROW(parse("", Role::kServer), std::runtime_error);
}

// ---------------------------------------------------------------------------------------------
// Overrides.

TEST(ConfigOverrides, SetAKeyTheFileLacks) {
  const Config c = parse(kServer, Role::kServer, {"tcp.mss=1400"});
  EXPECT_EQ(c.tcp.mss, 1400u);
}

TEST(ConfigOverrides, ReplaceAKeyTheFileHas) {
  const Config c = parse(std::string(kServer) + "port = 8080\n", Role::kServer, {"server.http.port=8081"});
  EXPECT_EQ(c.server->http->port, 8081);
}

TEST(ConfigOverrides, CreateNestedTables) {
  const Config c = parse(kServer, Role::kServer, {"server.echo.port=7007", "server.discard.port=9009"});
  ASSERT_TRUE(c.server->echo && c.server->discard);
  EXPECT_EQ(c.server->echo->port, 7007);
  EXPECT_EQ(c.server->discard->port, 9009);
  // A whole required section from overrides alone.
  const Config d = parse("", Role::kServer,
                         {"port.device=net_ring0", "network.address=10.0.0.2/24", "server.http.body_size=1000"});
  EXPECT_EQ(d.port.device, "net_ring0");
  EXPECT_EQ(d.server->http->body_size, 1000u);
}

TEST(ConfigOverrides, ValuesAreToml) {
  const Config c = parse(kServer, Role::kServer,
                         {"tcp.sack=false", "tcp.msl_s=0.5", "log.level=\"debug\"",
                          "dpdk.eal=[\"--no-huge\", \"-m\", \"512\"]", " tcp.rcv_buffer = 65536 ",
                          "server.echo={port = 70}"});
  EXPECT_FALSE(c.tcp.sack);
  EXPECT_DOUBLE_EQ(c.tcp.msl_s, 0.5);
  EXPECT_EQ(c.log.level, LogLevel::kDebug);
  EXPECT_EQ(c.dpdk.eal, (std::vector<std::string>{"--no-huge", "-m", "512"}));
  EXPECT_EQ(c.tcp.rcv_buffer, 65536u);
  ASSERT_TRUE(c.server->echo);
  EXPECT_EQ(c.server->echo->port, 70);
}

TEST(ConfigOverrides, PlainStringFallback) {
  const Config c = parse(kServer, Role::kServer,
                         {"network.address=10.1.2.3/16", "port.device=0000:03:00.0", "log.level=warn",
                          "tcp.congestion=cubic", "server.http.body=hello world"});
  EXPECT_EQ(c.network.address, "10.1.2.3/16");
  EXPECT_EQ(c.network.address_ip, 0x0a010203u);
  EXPECT_EQ(c.network.prefix_len, 16);
  EXPECT_EQ(c.port.device, "0000:03:00.0");
  EXPECT_EQ(c.log.level, LogLevel::kWarn);
  EXPECT_EQ(c.tcp.congestion, CongestionControl::kCubic);
  EXPECT_EQ(c.server->http->body, "hello world");
  const Config k = parse(kClient, Role::kClient, {"client.target=10.0.0.9:7", "client.source_ports=2000-3000"});
  EXPECT_EQ(k.client->target_ip, 0x0a000009u);
  EXPECT_EQ(k.client->target_port, 7);
  EXPECT_EQ(k.client->source_port_first, 2000);
  EXPECT_EQ(k.client->source_port_last, 3000);
}

TEST(ConfigOverrides, EmptyValueIsAnEmptyString) {
  EXPECT_EQ(server_error("", {"server.http.content_type="}),
            "test.toml: server.http.content_type: must be a non-empty header value without control characters, got "
            "\"\" (from --set server.http.content_type=)");
}

TEST(ConfigOverrides, AValueThatIsMoreThanOneTomlLineIsAString) {
  EXPECT_EQ(server_error("", {"tcp.mss=1\nport = 2"}),
            "test.toml: tcp.mss: must be an integer from 88 to 9000, got \"1\\nport = 2\" (from --set tcp.mss=1 port = 2)");
}

// Found by config_fuzz: a non-UTF-8 string reached the JSON report, which cannot print it.
TEST(ConfigOverrides, AValueThatIsNotUtf8IsRefused) {
  EXPECT_EQ(server_error("", {"server.http.body=a\x8b b"}),
            "test.toml: --set server.http.body=...: the value is not valid UTF-8");
  EXPECT_EQ(server_error("", {"server.http.body=\xc0\xaf"}),  // overlong '/'
            "test.toml: --set server.http.body=...: the value is not valid UTF-8");
  EXPECT_EQ(server_error("", {"server.http.body=\xed\xa0\x80"}),  // a surrogate
            "test.toml: --set server.http.body=...: the value is not valid UTF-8");
  EXPECT_EQ(server_error("", {"server.http.body=\xe2\x82"}),  // cut short
            "test.toml: --set server.http.body=...: the value is not valid UTF-8");
  const Config c = parse(kServer, Role::kServer, {"server.http.body=h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"});
  EXPECT_EQ(c.server->http->body, "h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
}

TEST(ConfigOverrides, LaterOverridesWin) {
  const Config c = parse(kServer, Role::kServer, {"tcp.mss=1000", "tcp.mss=1200"});
  EXPECT_EQ(c.tcp.mss, 1200u);
}

TEST(ConfigOverrides, TypeMismatchNamesTheOverride) {
  EXPECT_EQ(server_error("", {"tcp.mss=big"}),
            "test.toml: tcp.mss: must be an integer from 88 to 9000, got \"big\" (from --set tcp.mss=big)");
  EXPECT_EQ(server_error("", {"tcp.nagle=yes"}),
            "test.toml: tcp.nagle: must be true or false, got \"yes\" (from --set tcp.nagle=yes)");
  EXPECT_EQ(server_error("", {"dpdk.eal=[1]"}),
            "test.toml: dpdk.eal[0]: must be a string, got 1 (from --set dpdk.eal=[1])");
  EXPECT_EQ(server_error("", {"tcp=1"}), "test.toml: tcp: must be a table, got 1 (from --set tcp=1)");
  // An error in the file is not blamed on an unrelated override.
  EXPECT_EQ(server_error("[tcp]\nmss = 1\n", {"tcp.sack=false"}),
            "test.toml: tcp.mss: must be an integer from 88 to 9000, got 1");
}

TEST(ConfigOverrides, UnknownKeyNamesTheOverride) {
  EXPECT_EQ(server_error("", {"tcp.msll_s=1"}),
            "test.toml: tcp.msll_s: unknown key (did you mean 'tcp.msl_s'?) (from --set tcp.msll_s=1)");
  EXPECT_EQ(server_error("", {"foo.bar=1"}), "test.toml: foo: unknown key (from --set foo.bar=1)");
  EXPECT_EQ(error_of(kClient, Role::kClient, {"server.http.port=81"}),
            "test.toml: server: only allowed when running as server (this is a client configuration) "
            "(from --set server.http.port=81)");
}

TEST(ConfigOverrides, MalformedOverrides) {
  EXPECT_EQ(server_error("", {"tcp.mss"}), "test.toml: --set tcp.mss: expected section.key=value");
  EXPECT_EQ(server_error("", {"=5"}),
            "test.toml: --set =5: the key must be dotted names of letters, digits, '_' and '-' (like tcp.mss)");
  EXPECT_EQ(server_error("", {"tcp..mss=5"}),
            "test.toml: --set tcp..mss=5: the key must be dotted names of letters, digits, '_' and '-' (like tcp.mss)");
  EXPECT_EQ(server_error("", {"tcp.mss=1400", "tcp.mss.x=1"}),
            "test.toml: --set tcp.mss.x=1: 'tcp.mss' is not a table, it is 1400");
}

// ---------------------------------------------------------------------------------------------
// Output.

TEST(ConfigOutput, JsonHasTheFileKeys) {
  const Config c = load_config("config/server-tap.toml", {}, Role::kServer);
  const nlohmann::json j = to_json(c);
  EXPECT_EQ(j["tcp"]["mss"], 1460);
  EXPECT_EQ(j["tcp"]["congestion"], "newreno");
  EXPECT_EQ(j["network"]["address"], "10.77.0.2/24");
  EXPECT_EQ(j["server"]["http"]["body"], "linetcp\n");
  EXPECT_EQ(j["server"]["echo"]["port"], 7);
  EXPECT_FALSE(j.contains("client"));
  // Every leaf is a key of the schema.
  std::vector<std::pair<std::string, nlohmann::json>> stack{{"", j}};
  const auto& known = known_config_keys();
  while (!stack.empty()) {
    auto [prefix, node] = stack.back();
    stack.pop_back();
    for (const auto& [k, v] : node.items()) {
      const std::string path = prefix.empty() ? k : prefix + "." + k;
      EXPECT_NE(std::find(known.begin(), known.end(), path), known.end()) << path;
      if (v.is_object()) stack.emplace_back(path, v);
    }
  }
}

TEST(ConfigOutput, TomlRoundTrips) {
  for (const auto& file : example_files()) {
    SCOPED_TRACE(file.string());
    const Config c = load_config(file.string(), {}, role_of(file));
    const std::string text = to_toml(c);
    Config back;
    ASSERT_NO_THROW(back = parse_config(text, "round-trip.toml", {}, role_of(file))) << text;
    EXPECT_EQ(to_json(back), to_json(c)) << text;
  }
  const Config c = parse(kClient, Role::kClient, {"client.duration_s=0.1", "client.ramp_up_s=2.5"});
  EXPECT_EQ(to_json(parse_config(to_toml(c), "r.toml", {}, Role::kClient)), to_json(c));
}

TEST(ConfigOutput, Names) {
  EXPECT_EQ(to_string(Role::kServer), "server");
  EXPECT_EQ(to_string(Role::kClient), "client");
  EXPECT_EQ(to_string(ClientProtocol::kDiscard), "discard");
  EXPECT_EQ(to_string(CloseMode::kRst), "rst");
  EXPECT_EQ(to_string(LogLevel::kOff), "off");
  EXPECT_EQ(to_string(CongestionControl::kCubic), "cubic");
}

}  // namespace
}  // namespace linetcp::control
