// The load client's pacing of new connections: at most LoadClient::kOpensPerPoll connects per
// poll, the rest at the following polls, the connection rate's credit is kept, not lost, and a
// slot freed by a close is refilled at the next poll.
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

TEST(LoadClientPacing, AClosedConnectionsSlotIsRefilledWithoutWaitingForTheIdlePoll) {
  // One connection at a time, one request each, over a 50 us link: a connection takes about seven
  // one-way trips (handshake, request, response, FIN, FIN, ACK). Its successor must start as soon
  // as it closes; the client used to wait for its 1 ms idle poll, which capped short connections
  // at concurrency / 1 ms (10 connections: 9.2 k/s over memif, 413 k/s once fixed).
  EndpointPair pair;
  app::HttpServer http(app::HttpServerOptions{}, 1024);
  ASSERT_TRUE(pair.server().listen(80, http));
  LoadClientOptions o = http_options(1);
  o.requests_per_connection = 1;
  LoadClient lc(o, pair.client().capacity());
  lc.start(pair.now());
  bool due_after_close = true;
  uint64_t closed_seen = 0;
  pair.on_tick = [&](Instant now) {
    lc.set_time(now);
    if (lc.counters().connections_closed != closed_seen) {
      closed_seen = lc.counters().connections_closed;
      due_after_close = due_after_close && lc.next_deadline() <= now;
    }
    if (lc.next_deadline() <= now) lc.poll(pair.client(), now);
  };
  pair.extra_deadline = [&] { return lc.next_deadline(); };
  const Instant t0 = pair.now();
  constexpr uint64_t kConnections = 20;
  ASSERT_TRUE(pair.run_until([&] { return lc.counters().connections_closed >= kConnections; }, Duration::seconds(5)));
  EXPECT_TRUE(due_after_close) << "a close must make the next poll due at once";
  const int64_t per_connection_us = (pair.now() - t0).ns() / static_cast<int64_t>(kConnections) / 1000;
  EXPECT_LT(per_connection_us, 600) << "about 7 x 50 us per connection, not 1 ms more";
  EXPECT_EQ(lc.counters().errors(), 0u);
  EXPECT_EQ(lc.counters().responses, lc.counters().connections_closed);
}

}  // namespace
}  // namespace linetcp::testing
