// The load client's target list: IPv4 and IPv6 servers mixed in one run, new connections shared
// by weight (smooth weighted round robin), every response counted and no errors.
#include <gtest/gtest.h>

#include "endpoint_pair.hpp"
#include "linetcp/app/load_client.hpp"
#include "linetcp/app/servers.hpp"

namespace linetcp::testing {
namespace {

using app::LoadClient;
using app::LoadClientOptions;

TEST(LoadTargets, Ipv4AndIpv6TargetsShareConnectionsByWeight) {
  PairOptions po;
  po.client.addresses6 = {*wire::Ipv6Prefix::parse("2001:db8::2/64")};
  po.server.addresses6 = {*wire::Ipv6Prefix::parse("2001:db8::1/64")};
  EndpointPair pair(po);
  app::HttpServer http(app::HttpServerOptions{}, 1024);
  ASSERT_TRUE(pair.server().listen(80, http));
  ASSERT_TRUE(pair.server().listen(8080, http));
  LoadClientOptions o;
  o.protocol = app::Protocol::kHttp;
  o.concurrency = 8;
  o.requests_per_connection = 1;
  o.http_host = "t";
  // Weights 1 : 3 : 4 over IPv4:80, IPv6:80, IPv6:8080.
  o.targets = {{false, kServerIp, {}, 80, 1},
               {true, {}, *wire::Ipv6Addr::parse("2001:db8::1"), 80, 3},
               {true, {}, *wire::Ipv6Addr::parse("2001:db8::1"), 8080, 4}};
  LoadClient lc(o, pair.client().capacity());
  lc.start(pair.now());
  pair.on_tick = [&](Instant now) {
    lc.set_time(now);
    if (lc.next_deadline() <= now) lc.poll(pair.client(), now);
  };
  pair.extra_deadline = [&] { return lc.next_deadline(); };
  ASSERT_TRUE(pair.run_until([&] { return lc.counters().responses >= 800; }, Duration::seconds(60)));
  lc.stop(pair.client(), pair.now());
  ASSERT_TRUE(pair.run_until([&] { return lc.active() == 0 && pair.server().active_connections() == 0; }));
  const app::ClientCounters& c = lc.counters();
  EXPECT_EQ(c.errors(), 0u);
  EXPECT_EQ(c.status_2xx, c.responses);
  const auto& ec = pair.client().counters();
  const double v6 = static_cast<double>(ec.connections_opened_ipv6) / static_cast<double>(ec.connections_opened);
  // Smooth weighted round robin is exact per round of 8: 7 of every 8 over IPv6.
  EXPECT_NEAR(v6, 7.0 / 8.0, 0.01) << ec.connections_opened_ipv6 << " of " << ec.connections_opened;
  EXPECT_EQ(pair.server().counters().connections_accepted_ipv6, ec.connections_opened_ipv6);
}

}  // namespace
}  // namespace linetcp::testing
