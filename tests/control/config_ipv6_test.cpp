// Configuration of IPv6 addresses, gateways, static gateway MACs, routes, VLAN and target lists:
// accepted forms, what they build into the endpoint and workload, and one-line errors naming the
// key and the reason.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "linetcp/app/workload.hpp"
#include "linetcp/control/build.hpp"
#include "linetcp/control/config.hpp"

namespace linetcp::control {
namespace {

const char* const kClient = R"(
[port]
device = "net_ring0"
[network]
address = "10.0.0.2/24"
[client]
protocol = "http"
target = "10.0.0.1:80"
)";

Config parse(Role role, const std::vector<std::string>& overrides, const char* text = kClient) {
  return parse_config(text, "t.toml", overrides, role);
}

std::string error_of(const std::vector<std::string>& overrides) {
  try {
    parse(Role::kClient, overrides);
  } catch (const ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    return msg;
  }
  ADD_FAILURE() << "no error";
  return "";
}

TEST(ConfigIpv6, AddressesGatewaysRoutesAndVlanBuildIntoTheEndpoint) {
  const Config c = parse(Role::kClient, {
      R"(network.ipv6=["2001:db8::2/64", "2001:db8:1::2/48"])", R"(network.gateway6="fe80::1")",
      R"(network.gateway="10.0.0.1")", R"(network.gateway_mac="02:00:00:00:00:fe")",
      R"(network.routes=["192.168.0.0/16 via 10.0.0.254", "2001:db8:99::/48 via 2001:db8::fe"])",
      "port.vlan=100"});
  ASSERT_EQ(c.network.ipv6_prefixes.size(), 2u);
  const engine::EndpointConfig e = endpoint_config(c, wire::MacAddr{{2, 0, 0, 0, 0, 1}}, false, 0, 1);
  ASSERT_EQ(e.addresses6.size(), 2u);
  EXPECT_EQ(e.addresses6[1].to_string(), "2001:db8:1::2/48");
  EXPECT_EQ(e.gateway6.to_string(), "fe80::1");
  EXPECT_EQ(e.gateway_mac.to_string(), "02:00:00:00:00:fe");
  EXPECT_TRUE(e.gateway6_mac.is_zero());
  ASSERT_EQ(e.routes.size(), 1u);
  EXPECT_EQ(e.routes[0].to.to_string(), "192.168.0.0/16");
  EXPECT_EQ(e.routes[0].via.to_string(), "10.0.0.254");
  ASSERT_EQ(e.routes6.size(), 1u);
  EXPECT_EQ(e.routes6[0].to.to_string(), "2001:db8:99::/48");
  EXPECT_EQ(e.routes6[0].via.to_string(), "2001:db8::fe");
  EXPECT_EQ(e.vlan, 100);
  // The round trip keeps it all.
  EXPECT_EQ(to_json(parse_config(to_toml(c), "r.toml", {}, Role::kClient)), to_json(c));
}

TEST(ConfigIpv6, TargetsIpv6AndWeightedListsReachTheLoadClient) {
  const Config c = parse(Role::kClient, {R"(network.ipv6=["2001:db8::2/64"])", R"(client.target="[2001:db8::1]:8080")",
                                         R"(client.targets=["10.0.0.9:80 weight=3", "[2001:db8::7]:81"])"});
  ASSERT_TRUE(c.client->target_ip6);
  EXPECT_EQ(c.client->target_ip6->to_string(), "2001:db8::1");
  EXPECT_EQ(c.client->target_port, 8080);
  EXPECT_EQ(c.client->http_host, "[2001:db8::1]:8080");
  ASSERT_EQ(c.client->target_list.size(), 2u);
  EXPECT_EQ(c.client->target_list[0].ip, 0x0a000009u);
  EXPECT_EQ(c.client->target_list[0].weight, 3u);
  EXPECT_EQ(c.client->target_list[1].ip6->to_string(), "2001:db8::7");
  EXPECT_EQ(c.client->target_list[1].port, 81);
  EXPECT_EQ(to_json(parse_config(to_toml(c), "r.toml", {}, Role::kClient)), to_json(c));
  EXPECT_NE(error_of({R"(network.ipv6=["2001:db8::2/64"])", R"(client.target="[2001:db8::1]")"})
                .find("not an IPv6 address in brackets and a port"),
            std::string::npos);
}

TEST(ConfigIpv6, TargetRangesExpandToOneTargetPerAddressAndPort) {
  const Config c = parse(Role::kClient, {R"(network.ipv6=["2001:db8::2/64"])",
                                         R"(client.targets=["10.0.0.10-10.0.0.12:80-81 weight=2", "[2001:db8::9]:7-8"])"});
  ASSERT_EQ(c.client->target_list.size(), 8u);
  EXPECT_EQ(c.client->target_list[0].ip, 0x0a00000au);
  EXPECT_EQ(c.client->target_list[0].port, 80);
  EXPECT_EQ(c.client->target_list[1].port, 81);
  EXPECT_EQ(c.client->target_list[5].ip, 0x0a00000cu);
  EXPECT_EQ(c.client->target_list[5].weight, 2u);
  EXPECT_EQ(c.client->target_list[7].ip6->to_string(), "2001:db8::9");
  EXPECT_EQ(c.client->target_list[7].port, 8);
  EXPECT_NE(error_of({R"(client.targets=["10.0.0.12-10.0.0.10:80"])"}).find("must not end below its start"), std::string::npos);
  EXPECT_NE(error_of({R"(client.targets=["10.0.0.1-10.0.1.255:1-65535"])"}).find("more than 4096 targets"), std::string::npos);
  EXPECT_NE(error_of({R"(client.targets=["10.0.0.1-10.0.0.3:80"])"}).find("the range holds 10.0.0.2"), std::string::npos);
}

TEST(ConfigIpv6, MoreIpv4AddressesOnOtherSubnetsAndRoutesThroughThem) {
  const Config c = parse(Role::kServer, {R"(network.addresses=["10.9.0.1/24", "192.168.4.6/30"])",
                                         R"(network.routes=["172.16.0.0/12 via 10.9.0.254"])"},
                         "[port]\ndevice = \"net_ring0\"\n[network]\naddress = \"10.0.0.2/24\"\n[server.http]\n");
  const engine::EndpointConfig e = endpoint_config(c, wire::MacAddr{{2, 0, 0, 0, 0, 1}}, false, 0, 1);
  ASSERT_EQ(e.addresses.size(), 2u);
  EXPECT_EQ(e.addresses[0].to_string(), "10.9.0.1/24");
  EXPECT_EQ(e.addresses[1].to_string(), "192.168.4.6/30");
  EXPECT_EQ(e.routes.size(), 1u);
  EXPECT_NE(error_of({R"(network.addresses=["10.9.0.0/24"])"}).find("network.addresses[0]: not a unicast host address"),
            std::string::npos);
  EXPECT_NE(error_of({R"(network.addresses=["10.0.0.2/24"])"}).find("is network.address itself"), std::string::npos);
  EXPECT_NE(error_of({R"(network.addresses=["10.9.0.1"])"}).find("not an IPv4 address with prefix"), std::string::npos);
}

TEST(ConfigIpv6, MistakesAreNamedWithTheirReason) {
  const std::string v6 = R"(network.ipv6=["2001:db8::2/64"])";
  EXPECT_NE(error_of({R"(network.ipv6=["2001:db8::2"])"}).find("network.ipv6[0]: not an IPv6 address with prefix"),
            std::string::npos);
  EXPECT_NE(error_of({R"(network.ipv6=["ff02::1/64"])"}).find("not a unicast host address"), std::string::npos);
  EXPECT_NE(error_of({R"(network.ipv6=["2001:db8::2/64","2001:db8::2/64"])"}).find("appears twice"), std::string::npos);
  EXPECT_NE(error_of({R"(network.gateway6="fe80::1")"}).find("network.gateway6: needs network.ipv6"), std::string::npos);
  EXPECT_NE(error_of({v6, R"(network.gateway6="2001:db9::1")"}).find("neither link-local nor inside"), std::string::npos);
  EXPECT_NE(error_of({R"(network.gateway_mac="02:00:00:00:00:01")"}).find("given without its gateway"), std::string::npos);
  EXPECT_NE(error_of({R"(network.routes=["10.1.0.0/16 10.0.0.1"])"}).find("network.routes[0]: not \"PREFIX via ADDRESS\""),
            std::string::npos);
  EXPECT_NE(error_of({R"(network.routes=["10.1.0.0/16 via 10.9.0.1"])"}).find("not on a subnet of network.address or network.addresses"),
            std::string::npos);
  EXPECT_NE(error_of({v6, R"(network.routes=["2001:db8:5::/48 via 10.0.0.1"])"}).find("must be a unicast IPv6 address"),
            std::string::npos);
  EXPECT_NE(error_of({"port.vlan=4095"}).find("port.vlan"), std::string::npos);
  EXPECT_NE(error_of({R"(client.target="[2001:db8::1]:80")"}).find("needs network.ipv6 addresses"), std::string::npos);
  EXPECT_NE(error_of({v6, R"(client.target="[2001:db8::2]:80")"}).find("is our own address"), std::string::npos);
  EXPECT_NE(error_of({v6, R"(client.target="2001:db8::1:80")"}).find("client.target: not an IPv4 address and port"),
            std::string::npos);
  EXPECT_NE(error_of({R"(client.targets=["10.0.0.9:80 weight=0"])"}).find("client.targets[0]: the weight must be 1 to 1000"),
            std::string::npos);
}

// The whole one-line message of a mistake in the value that override `set` gave `key`.
std::string message(const std::string& key, const std::string& reason, const std::string& set) {
  return "t.toml: " + key + ": " + reason + " (from --set " + set + ")";
}

std::vector<std::string> addresses_of(const Config& c) {
  std::vector<std::string> out;
  for (const wire::Ipv6Prefix& p : c.network.ipv6_prefixes) out.push_back(p.to_string());
  return out;
}

TEST(ConfigIpv6, AddressRangesExpandToOneLocalAddressEach) {
  const Config c = parse(Role::kClient, {R"(network.ipv6=["2001:db8::2/64", "2001:db8::10-2001:db8::13/64",)"
                                         R"( "2001:db8:1::fffe-2001:db8:1::1:1/48", "2001:db8:2::7-2001:db8:2::7/64"])"});
  const std::vector<std::string> want = {"2001:db8::2/64",      "2001:db8::10/64",     "2001:db8::11/64",
                                         "2001:db8::12/64",     "2001:db8::13/64",     "2001:db8:1::fffe/48",
                                         "2001:db8:1::ffff/48", "2001:db8:1::1:0/48",  "2001:db8:1::1:1/48",
                                         "2001:db8:2::7/64"};
  EXPECT_EQ(addresses_of(c), want);
  EXPECT_EQ(c.network.ipv6.size(), 4u);  // as written
  // Every one is a local address of the endpoint (NDP, accepting, client sources in turn).
  const engine::EndpointConfig e = endpoint_config(c, wire::MacAddr{{2, 0, 0, 0, 0, 1}}, false, 0, 1);
  ASSERT_EQ(e.addresses6.size(), want.size());
  EXPECT_EQ(e.addresses6[7].to_string(), "2001:db8:1::1:0/48");
  // The round trip writes the ranges as ranges and expands them the same way again.
  const Config again = parse_config(to_toml(c), "r.toml", {}, Role::kClient);
  EXPECT_EQ(addresses_of(again), want);
  EXPECT_EQ(to_json(again), to_json(c));
  EXPECT_EQ(again.network.ipv6, c.network.ipv6);
}

TEST(ConfigIpv6, AddressRangesCarryAcrossTheHalvesAndStopAt256) {
  const Config c = parse(Role::kServer, {R"(network.ipv6=["2001:db8:0:1:ffff:ffff:ffff:fffe-2001:db8:0:2::1/48"])"},
                         "[port]\ndevice = \"net_ring0\"\n[network]\naddress = \"10.0.0.2/24\"\n[server.http]\n");
  EXPECT_EQ(addresses_of(c), (std::vector<std::string>{"2001:db8:0:1:ffff:ffff:ffff:fffe/48",
                                                        "2001:db8:0:1:ffff:ffff:ffff:ffff/48", "2001:db8:0:2::/48",
                                                        "2001:db8:0:2::1/48"}));
  // 256 in all is the most: one range of 255 and one single address fill it.
  const Config full = parse(Role::kClient, {R"(network.ipv6=["2001:db8::101-2001:db8::1ff/64", "2001:db8:5::1/64"])"});
  ASSERT_EQ(full.network.ipv6_prefixes.size(), 256u);
  EXPECT_EQ(full.network.ipv6_prefixes[254].to_string(), "2001:db8::1ff/64");
  const std::string over = R"(network.ipv6=["2001:db8::100-2001:db8::1ff/64", "2001:db8:5::1/64"])";
  EXPECT_EQ(error_of({over}), message("network.ipv6[1]", "more than 256 addresses in all: \"2001:db8:5::1/64\"", over));
}

TEST(ConfigIpv6, AddressRangeMistakesAreNamedWithTheirReason) {
  auto check = [](const std::string& value, const std::string& key, const std::string& reason) {
    const std::string set = "network.ipv6=" + value;
    EXPECT_EQ(error_of({set}), message(key, reason, set));
  };
  check(R"(["2001:db8::4f-2001:db8::10/64"])", "network.ipv6[0]",
        R"(a range must not end below its start: "2001:db8::4f-2001:db8::10/64")");
  check(R"(["2001:db8::10-2001:db9::1/64"])", "network.ipv6[0]",
        R"(the range ends outside its /64 prefix: "2001:db8::10-2001:db9::1/64")");
  check(R"(["2001:db8::1-2001:db8::ffff/64"])", "network.ipv6[0]",
        R"(more than 256 addresses in all: "2001:db8::1-2001:db8::ffff/64")");
  // Counts past 2^64 (the high halves adjacent with a wrap below, or further apart) are too many.
  check(R"(["2001:db8::1-2001:db8:0:1::/32"])", "network.ipv6[0]",
        R"(more than 256 addresses in all: "2001:db8::1-2001:db8:0:1::/32")");
  check(R"(["2001:db8::1-2001:db8:1::/32"])", "network.ipv6[0]",
        R"(more than 256 addresses in all: "2001:db8::1-2001:db8:1::/32")");
  check(R"(["10.0.0.5-2001:db8::10/64"])", "network.ipv6[0]",
        R"(both ends of a range must be IPv6 addresses: "10.0.0.5-2001:db8::10/64")");
  check(R"(["2001:db8::1-10.0.0.5/64"])", "network.ipv6[0]",
        R"(both ends of a range must be IPv6 addresses: "2001:db8::1-10.0.0.5/64")");
  check(R"(["2001:db8::1-2001:db8::5"])", "network.ipv6[0]",
        "not an IPv6 address with prefix (like 2001:db8::2/64) or range (like 2001:db8::10-2001:db8::4f/64): "
        R"("2001:db8::1-2001:db8::5")");
  check(R"(["2001:db8::1/64-2001:db8::5"])", "network.ipv6[0]",
        "not an IPv6 address with prefix (like 2001:db8::2/64) or range (like 2001:db8::10-2001:db8::4f/64): "
        R"("2001:db8::1/64-2001:db8::5")");
  check(R"(["::fffe:ffff:fffe-::ffff:0:1/64"])", "network.ipv6[0]",
        R"(not a unicast host address: "::fffe:ffff:fffe-::ffff:0:1/64")");
  check(R"(["2001:db8::11/64", "2001:db8::10-2001:db8::12/64"])", "network.ipv6[1]",
        R"(the range holds 2001:db8::11, listed before: "2001:db8::10-2001:db8::12/64")");
  check(R"(["2001:db8::10-2001:db8::12/64", "2001:db8::12/64"])", "network.ipv6[1]",
        R"(appears twice: "2001:db8::12/64")");
}

TEST(ConfigIpv6, TargetRangesOfIpv6AddressesExpandLikeIpv4Ones) {
  const Config c = parse(Role::kClient, {R"(network.ipv6=["2001:db8::2/64"])",
                                         R"(client.targets=["[2001:db8::fffe-2001:db8::1:0]:80-81 weight=2"])"});
  ASSERT_EQ(c.client->target_list.size(), 6u);
  const char* const want[] = {"2001:db8::fffe", "2001:db8::fffe", "2001:db8::ffff",
                              "2001:db8::ffff", "2001:db8::1:0",  "2001:db8::1:0"};
  for (std::size_t i = 0; i < 6; ++i) {
    ASSERT_TRUE(c.client->target_list[i].ip6) << i;
    EXPECT_EQ(c.client->target_list[i].ip6->to_string(), want[i]) << i;
    EXPECT_EQ(c.client->target_list[i].port, 80 + i % 2) << i;
    EXPECT_EQ(c.client->target_list[i].weight, 2u) << i;
  }
  const Config again = parse_config(to_toml(c), "r.toml", {}, Role::kClient);
  EXPECT_EQ(to_json(again), to_json(c));
  ASSERT_EQ(again.client->target_list.size(), 6u);
  EXPECT_EQ(again.client->target_list[5].ip6->to_string(), "2001:db8::1:0");
  // One target per address and port, 4096 in all at most.
  EXPECT_EQ(parse(Role::kClient, {R"(network.ipv6=["2001:db8::2/64"])",
                                  R"(client.targets=["[2001:db8:1::1-2001:db8:1::1000]:80"])"})
                .client->target_list.size(),
            4096u);
}

TEST(ConfigIpv6, TargetRangeMistakesAreNamedWithTheirReason) {
  const std::string v6 = R"(network.ipv6=["2001:db8::5/64"])";
  auto check = [&](const std::string& target, const std::string& reason) {
    const std::string set = "client.targets=[\"" + target + "\"]";
    EXPECT_EQ(error_of({v6, set}), message("client.targets[0]", reason + ": \"" + target + "\"", set));
  };
  check("[2001:db8::8-2001:db8::1]:80", "a range must not end below its start");
  check("[2001:db8::1-2001:db8::8]:81-80", "a range must not end below its start");
  check("[2001:db8:1::1-2001:db8:1::1001]:80", "more than 4096 targets in all");
  check("[2001:db8:1::1-2001:db8:2::1]:80", "more than 4096 targets in all");
  check("[2001:db8:1::1-2001:db8:1::801]:80-81 weight=3", "more than 4096 targets in all");
  check("[10.0.0.1-2001:db8::8]:80", "both ends of a range must be of one family");
  check("[2001:db8::8-10.0.0.1]:80", "both ends of a range must be of one family");
  check("10.0.0.1-[2001:db8::8]:80", "both ends of a range must be of one family");
  check("[2001:db8::1-2001:db8::8]:80", "the range holds 2001:db8::5, not a target");
  check("[2001:db8::1-2001:db8::8:80", "not ADDRESS:PORT");
}

}  // namespace
}  // namespace linetcp::control
