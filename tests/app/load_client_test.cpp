// The load client's pacing of new connections: at most LoadClient::kOpensPerPoll connects per
// poll, the rest at the following polls, and the connection rate's credit is kept, not lost.
#include <gtest/gtest.h>

#include <string>

#include "endpoint_pair.hpp"
#include "linetcp/app/load_client.hpp"
#include "linetcp/app/servers.hpp"

namespace linetcp::testing {
namespace {

using app::LoadClient;
using app::LoadClientOptions;

LoadClientOptions http_options(uint64_t concurrency) {
  // Copied from a std::string: assigning the literal here trips GCC 12's -Wrestrict false
  // positive at -O3 (the release build's -Werror).
  static const std::string kHost = "t";
  LoadClientOptions o;
  o.protocol = app::Protocol::kHttp;
  o.concurrency = concurrency;
  o.requests_per_connection = 0;
  o.http_host = kHost;
  o.target = kServerIp;
  o.target_port = 80;
  return o;
}

TEST(LoadClientPacing, OpensAtMostABurstPerPollAndTheRestAtTheNextPolls) {
  EndpointPair pair;
  app::HttpServer http(app::HttpServerOptions{}, 1024);
  ASSERT_TRUE(pair.server().listen(80, http));
  constexpr uint64_t kConcurrency = 100;
  LoadClient lc(http_options(kConcurrency), pair.client().capacity());
  lc.start(pair.now());
  for (uint64_t polls = 1; polls <= 4; ++polls) {
    lc.set_time(pair.now());
    ASSERT_LE(lc.next_deadline(), pair.now()) << "below the concurrency, the client wants the next poll at once";
    lc.poll(pair.client(), pair.now());
    EXPECT_EQ(lc.counters().connections_started, std::min(kConcurrency, polls * LoadClient::kOpensPerPoll));
  }
  EXPECT_EQ(lc.active(), kConcurrency);
  lc.set_time(pair.now());
  EXPECT_GT(lc.next_deadline(), pair.now()) << "at the concurrency, nothing more to open";
}

TEST(LoadClientPacing, ConnectionRateCreditIsKeptAcrossTheBurstLimit) {
  EndpointPair pair;
  app::HttpServer http(app::HttpServerOptions{}, 1024);
  ASSERT_TRUE(pair.server().listen(80, http));
  LoadClientOptions o = http_options(1000);
  o.connections_per_second = 100'000;  // 100 per millisecond: over three bursts' worth per poll
  LoadClient lc(o, pair.client().capacity());
  const Instant t0 = pair.now();
  lc.start(t0);
  // Polls 1 ms apart: each earns 100 connects of credit and may spend at most one burst of it.
  Instant t = t0;
  for (int i = 0; i < 3; ++i) {
    t = t + Duration::millis(1);
    lc.set_time(t);
    lc.poll(pair.client(), t);
  }
  EXPECT_EQ(lc.counters().connections_started, 3 * LoadClient::kOpensPerPoll);
  // Polls without time passing spend the saved credit (300 earned in all) a burst at a time.
  for (int i = 0; i < 20; ++i) lc.poll(pair.client(), t);
  EXPECT_EQ(lc.counters().connections_started, 300u);
}

}  // namespace
}  // namespace linetcp::testing
