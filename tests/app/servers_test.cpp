// HttpServer, EchoServer, DiscardServer and LoadClient driven through two Endpoints on
// EndpointPair's link: exact HTTP response bytes (short, keep-alive, pipelined, HTTP/1.0, sized
// bodies), echo verified byte by byte, discard counted, LoadClient counters, and constant-rate
// scheduling in virtual time (requests leave at their scheduled instants, latency counts from the
// schedule).
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <span>
#include <string>

#include "endpoint_pair.hpp"
#include "linetcp/app/load_client.hpp"
#include "linetcp/app/servers.hpp"

namespace linetcp::testing {
namespace {

using app::HttpServer;
using app::HttpServerOptions;
using app::LoadClient;
using app::LoadClientOptions;
using app::Protocol;
using engine::ConnId;
using engine::Endpoint;
using engine::kInvalidConn;
using tcp::CloseReason;

// Sends `request` when it opens, keeps every byte received, closes when the peer does.
class RawClient final : public engine::App {
 public:
  explicit RawClient(std::string req, bool close_after_send = false)
      : request(std::move(req)), close_after_send_(close_after_send) {}
  void on_open(Endpoint& ep, ConnId id) override {
    if (!request.empty()) ep.send(id, request.size());
    if (close_after_send_) ep.close(id);
  }
  void on_data(Endpoint&, ConnId, std::span<const uint8_t> d) override { received.append(d.begin(), d.end()); }
  void on_peer_closed(Endpoint& ep, ConnId id) override {
    peer_closed = true;
    if (!close_after_send_) ep.close(id);
  }
  void on_closed(Endpoint&, ConnId, CloseReason r) override {
    closed = true;
    reason = r;
  }
  void fill_payload(Endpoint&, ConnId, uint64_t offset, std::span<uint8_t> dst) override {
    ASSERT_LE(offset + dst.size(), request.size());
    std::memcpy(dst.data(), request.data() + offset, dst.size());
  }
  // More request bytes on an open connection.
  void send_more(Endpoint& ep, ConnId id, const std::string& more) {
    request += more;
    ep.send(id, more.size());
  }

  std::string request;
  std::string received;
  bool peer_closed = false;
  bool closed = false;
  CloseReason reason = CloseReason::kNormal;

 private:
  bool close_after_send_;
};

const std::string kKeepHead =
    "HTTP/1.1 200 OK\r\nServer: linetcp\r\nContent-Type: text/plain\r\nContent-Length: 8\r\nConnection: keep-alive\r\n\r\n";
const std::string kCloseHead =
    "HTTP/1.1 200 OK\r\nServer: linetcp\r\nContent-Type: text/plain\r\nContent-Length: 8\r\nConnection: close\r\n\r\n";
const std::string kBody = "linetcp\n";

class ServersTest : public ::testing::Test {
 protected:
  bool run(const std::function<bool()>& pred, Duration max = Duration::seconds(30)) {
    return pair_.run_until(pred, max);
  }
  EndpointPair pair_;
};

TEST(PatternTest, FillPatternIsPatternByteAtEveryOffsetAndLength) {
  // The vector paths (16 and 32 bytes at a time, table rows per 128-byte block) against the
  // definition, over every start within two blocks, lengths across block and vector edges, and
  // offsets high enough for the >> 13 term and wrap-around of the 26 rows.
  std::vector<uint8_t> buf(1600);
  for (uint64_t base : {uint64_t{0}, uint64_t{12345}, uint64_t{1} << 20, (uint64_t{1} << 40) + 77}) {
    for (uint64_t start = 0; start < 256; ++start) {
      for (std::size_t len : {std::size_t{1}, std::size_t{15}, std::size_t{16}, std::size_t{31}, std::size_t{32},
                              std::size_t{33}, std::size_t{127}, std::size_t{128}, std::size_t{200}, std::size_t{1448},
                              std::size_t{1600}}) {
        const uint64_t offset = base + start;
        std::fill(buf.begin(), buf.end(), 0);
        app::fill_pattern(offset, std::span<uint8_t>(buf.data(), len));
        for (std::size_t i = 0; i < len; ++i)
          ASSERT_EQ(buf[i], app::pattern_byte(offset + i)) << "offset " << offset << " length " << len << " byte " << i;
        for (std::size_t i = len; i < buf.size(); ++i) ASSERT_EQ(buf[i], 0) << "wrote past the end, length " << len;
      }
    }
  }
}

TEST_F(ServersTest, HttpShortConnectionGetsTheExactResponseAndAClose) {
  HttpServer http(HttpServerOptions{}, 1024);
  ASSERT_TRUE(pair_.server().listen(80, http));
  RawClient client("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  ASSERT_NE(pair_.client().connect(kServerIp, 80, client, pair_.now()), kInvalidConn);
  ASSERT_TRUE(run([&] { return client.closed; }));
  EXPECT_EQ(client.received, kCloseHead + kBody);
  EXPECT_TRUE(client.peer_closed);  // the server closed after its response
  EXPECT_EQ(client.reason, CloseReason::kNormal);
  EXPECT_EQ(http.response_bytes(false), kCloseHead.size() + kBody.size());
  EXPECT_EQ(http.counters().connections, 1u);
  EXPECT_EQ(http.counters().requests, 1u);
  EXPECT_EQ(http.counters().responses, 1u);
  EXPECT_EQ(http.counters().bad_requests, 0u);
  ASSERT_TRUE(run([&] { return pair_.server().active_connections() == 0; }));
  // The server closed first: TIME_WAIT is on its side.
  EXPECT_EQ(pair_.server().time_wait_count(), 1u);
}

TEST_F(ServersTest, HttpKeepAliveAndPipelinedRequests) {
  HttpServer http(HttpServerOptions{}, 1024);
  ASSERT_TRUE(pair_.server().listen(80, http));
  const std::string get = "GET /a HTTP/1.1\r\nHost: t\r\n\r\n";
  RawClient client(get + get);  // two pipelined in one segment
  const ConnId id = pair_.client().connect(kServerIp, 80, client, pair_.now());
  const std::string keep = kKeepHead + kBody;
  ASSERT_TRUE(run([&] { return client.received.size() == 2 * keep.size(); }));
  pair_.run_for(Duration::millis(100));
  EXPECT_EQ(client.received, keep + keep);
  EXPECT_FALSE(client.peer_closed);  // keep-alive: the server waits for more
  // A third request on the same connection, split across two sends.
  client.send_more(pair_.client(), id, get.substr(0, 7));
  pair_.run_for(Duration::millis(10));
  client.send_more(pair_.client(), id, get.substr(7));
  ASSERT_TRUE(run([&] { return client.received.size() == 3 * keep.size(); }));
  EXPECT_EQ(client.received, keep + keep + keep);
  EXPECT_EQ(http.counters().requests, 3u);
  // The client closes; the server follows.
  pair_.client().close(id);
  ASSERT_TRUE(run([&] { return client.closed && pair_.server().active_connections() == 0; }));
  EXPECT_TRUE(client.peer_closed);
  EXPECT_EQ(client.received, keep + keep + keep);
  EXPECT_EQ(http.counters().connections, 1u);
}

TEST_F(ServersTest, Http10RequestGetsAClosingResponse) {
  HttpServer http(HttpServerOptions{}, 1024);
  ASSERT_TRUE(pair_.server().listen(80, http));
  RawClient client("GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\n\r\n");  // the second is never answered
  pair_.client().connect(kServerIp, 80, client, pair_.now());
  ASSERT_TRUE(run([&] { return client.closed; }));
  EXPECT_EQ(client.received, kCloseHead + kBody);
  EXPECT_EQ(http.counters().requests, 1u);
}

TEST_F(ServersTest, ServerWithoutKeepAliveClosesAfterEachResponse) {
  HttpServerOptions o;
  o.keepalive = false;
  o.body = "x";
  o.status = 404;
  HttpServer http(o, 1024);
  ASSERT_TRUE(pair_.server().listen(80, http));
  RawClient client("GET / HTTP/1.1\r\n\r\n");
  pair_.client().connect(kServerIp, 80, client, pair_.now());
  ASSERT_TRUE(run([&] { return client.closed; }));
  EXPECT_EQ(client.received,
            "HTTP/1.1 404 Not Found\r\nServer: linetcp\r\nContent-Type: text/plain\r\nContent-Length: 1\r\n"
            "Connection: close\r\n\r\nx");
}

TEST_F(ServersTest, BadRequestIsClosedWithoutAResponse) {
  HttpServer http(HttpServerOptions{}, 1024);
  ASSERT_TRUE(pair_.server().listen(80, http));
  RawClient client("BLAH\r\n\r\n");
  pair_.client().connect(kServerIp, 80, client, pair_.now());
  ASSERT_TRUE(run([&] { return client.closed; }));
  EXPECT_EQ(client.received, "");
  EXPECT_TRUE(client.peer_closed);
  EXPECT_EQ(http.counters().bad_requests, 1u);
  EXPECT_EQ(http.counters().responses, 0u);
}

class HttpBodySizeTest : public ServersTest, public ::testing::WithParamInterface<uint64_t> {};

TEST_P(HttpBodySizeTest, SizedBodyHasTheRightContentLengthAndBytes) {
  const uint64_t size = GetParam();
  HttpServerOptions o;
  o.body_size = size;
  o.content_type = "application/octet-stream";
  HttpServer http(o, 1024);
  ASSERT_TRUE(pair_.server().listen(80, http));
  RawClient client("GET /big HTTP/1.1\r\nConnection: close\r\n\r\n");
  pair_.client().connect(kServerIp, 80, client, pair_.now());
  ASSERT_TRUE(run([&] { return client.closed; }, Duration::seconds(60)));
  const std::string head = "HTTP/1.1 200 OK\r\nServer: linetcp\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
                           std::to_string(size) + "\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(client.received.size(), head.size() + size);
  EXPECT_EQ(client.received.substr(0, head.size()), head);
  uint64_t bad = 0;
  for (uint64_t i = 0; i < size; ++i)
    bad += static_cast<uint8_t>(client.received[head.size() + i]) != app::pattern_byte(i);
  EXPECT_EQ(bad, 0u);
  EXPECT_EQ(http.response_bytes(false), head.size() + size);
}

INSTANTIATE_TEST_SUITE_P(Sizes, HttpBodySizeTest, ::testing::Values(0u, 1024u, 1u << 20));

// Sends `total` bytes of a stream, checks the echo byte by byte, closes when all came back.
class EchoCheckClient final : public engine::App {
 public:
  explicit EchoCheckClient(uint64_t total) : total_(total) {}
  void on_open(Endpoint& ep, ConnId id) override { ep.send(id, total_); }
  void on_data(Endpoint& ep, ConnId id, std::span<const uint8_t> d) override {
    if (first_stream_mismatch(42, received, d) >= 0) ++mismatches;
    received += d.size();
    if (received == total_) ep.close(id);
  }
  void on_closed(Endpoint&, ConnId, CloseReason r) override {
    closed = true;
    reason = r;
  }
  void fill_payload(Endpoint&, ConnId, uint64_t offset, std::span<uint8_t> dst) override { fill_stream(42, offset, dst); }
  uint64_t received = 0;
  uint64_t mismatches = 0;
  bool closed = false;
  CloseReason reason = CloseReason::kAborted;

 private:
  uint64_t total_;
};

TEST(EchoServerTest, EchoesEveryByteThroughASmallRingOverALossyLink) {
  PairOptions o;
  o.to_server.drop = 0.02;
  o.to_client.drop = 0.02;
  o.to_server.reorder = 0.02;
  o.client.tcp.rto_min = Duration::millis(5);
  o.server.tcp.rto_min = Duration::millis(5);
  EndpointPair pair(o);
  app::EchoServer echo(1024, 4, 16 * 1024);  // 16 KiB per connection: back-pressure by hold()
  const tcp::TcpParams params = echo.params(pair.server().config().tcp);
  EXPECT_EQ(params.rcv_buffer, 16u * 1024);
  ASSERT_TRUE(pair.server().listen(7, echo, &params));
  EchoCheckClient a(500'000), b(123'457);
  pair.client().connect(kServerIp, 7, a, pair.now());
  pair.client().connect(kServerIp, 7, b, pair.now());
  ASSERT_TRUE(pair.run_until([&] { return a.closed && b.closed; }, Duration::seconds(120)));
  EXPECT_EQ(a.received, 500'000u);
  EXPECT_EQ(b.received, 123'457u);
  EXPECT_EQ(a.mismatches + b.mismatches, 0u);
  EXPECT_EQ(a.reason, CloseReason::kNormal);
  EXPECT_EQ(echo.counters().bytes_in, 623'457u);
  EXPECT_EQ(echo.counters().connections, 2u);
  EXPECT_GT(pair.link().stats(0).dropped, 0u);
}

TEST(EchoServerTest, NoFreeRingResetsTheConnection) {
  EndpointPair pair;
  app::EchoServer echo(1024, 1, 4096);
  const tcp::TcpParams params = echo.params(pair.server().config().tcp);
  ASSERT_TRUE(pair.server().listen(7, echo, &params));
  RawClient a("hello");  // stays open, holding the one ring
  const ConnId a_id = pair.client().connect(kServerIp, 7, a, pair.now());
  ASSERT_TRUE(pair.run_until([&] { return a.received == "hello"; }));
  EchoCheckClient b(100);
  pair.client().connect(kServerIp, 7, b, pair.now());
  ASSERT_TRUE(pair.run_until([&] { return b.closed; }));
  EXPECT_EQ(b.reason, CloseReason::kReset);
  EXPECT_EQ(b.received, 0u);
  EXPECT_EQ(echo.counters().no_buffer, 1u);
  pair.client().close(a_id);
  ASSERT_TRUE(pair.run_until([&] { return a.closed && pair.server().active_connections() == 0; }));
  // The ring is free again for the next connection.
  EchoCheckClient c(3000);
  pair.client().connect(kServerIp, 7, c, pair.now());
  ASSERT_TRUE(pair.run_until([&] { return c.closed; }));
  EXPECT_EQ(c.received, 3000u);
  EXPECT_EQ(c.mismatches, 0u);
}

TEST_F(ServersTest, DiscardCountsEveryByteAndClosesAfterThePeer) {
  app::DiscardServer discard;
  ASSERT_TRUE(pair_.server().listen(9, discard));
  RawClient client(std::string(1'000'000, 'd'), /*close_after_send=*/true);
  pair_.client().connect(kServerIp, 9, client, pair_.now());
  ASSERT_TRUE(run([&] { return client.closed && pair_.server().active_connections() == 0; }));
  EXPECT_EQ(discard.counters().bytes_in, 1'000'000u);
  EXPECT_EQ(discard.counters().connections, 1u);
  EXPECT_EQ(client.received, "");
  EXPECT_TRUE(client.peer_closed);
  EXPECT_EQ(client.reason, CloseReason::kNormal);
}

// ---------------------------------------------------------------------------------------------
// LoadClient

class LoadClientTest : public ::testing::Test {
 protected:
  explicit LoadClientTest(PairOptions o = PairOptions()) : pair_(o) {}
  // Drives `lc` from the pair's clock: set_time before input, poll when due.
  void attach(LoadClient& lc) {
    lc.start(pair_.now());
    pair_.on_tick = [&](Instant now) {
      lc.set_time(now);
      if (lc.next_deadline() <= now) lc.poll(pair_.client(), now);
    };
    pair_.extra_deadline = [&] { return lc.next_deadline(); };
  }
  // Stops the client and waits until every connection is closed on both sides.
  void stop_and_drain(LoadClient& lc) {
    lc.stop(pair_.client(), pair_.now());
    ASSERT_TRUE(pair_.run_until(
        [&] { return lc.active() == 0 && pair_.client().active_connections() == 0 && pair_.server().active_connections() == 0; },
        Duration::seconds(30)));
  }
  EndpointPair pair_;
};

TEST_F(LoadClientTest, HttpShortConnectionsCountersAgree) {
  HttpServer http(HttpServerOptions{}, 1024);
  ASSERT_TRUE(pair_.server().listen(80, http));
  LoadClientOptions o;
  o.protocol = Protocol::kHttp;
  o.target = kServerIp;
  o.target_port = 80;
  o.concurrency = 8;
  o.requests_per_connection = 1;
  o.http_host = "t";
  LoadClient lc(o, pair_.client().capacity());
  attach(lc);
  ASSERT_TRUE(pair_.run_until([&] { return lc.counters().responses >= 300; }, Duration::seconds(30)));
  stop_and_drain(lc);
  const app::ClientCounters& c = lc.counters();
  EXPECT_EQ(c.requests, c.responses);
  EXPECT_EQ(c.status_2xx, c.responses);
  EXPECT_EQ(c.errors(), 0u);
  EXPECT_EQ(c.connections_started, c.connections_established);
  EXPECT_EQ(c.connections_started, c.connections_closed);
  EXPECT_EQ(c.connect_no_port, 0u);
  EXPECT_EQ(http.counters().requests, c.requests);
  EXPECT_EQ(http.counters().connections, c.connections_established);
  EXPECT_EQ(c.bytes_sent, c.requests * lc.request_bytes());
  EXPECT_EQ(c.bytes_received, c.responses * http.response_bytes(true));
  EXPECT_EQ(lc.request_latency().count(), c.responses);
  EXPECT_EQ(lc.connect_latency().count(), c.connections_established);
  EXPECT_EQ(pair_.client().counters().connections_opened, c.connections_started);
  EXPECT_EQ(pair_.server().counters().connections_accepted, c.connections_started);
  // One request per connection: about one connection per response (those stopped mid-way excepted).
  EXPECT_GE(c.connections_started, c.responses);
  EXPECT_LE(c.connections_started, c.responses + o.concurrency);
}

TEST_F(LoadClientTest, NoRequestFollowsAConnectionCloseResponse) {
  // RFC 9112 §9.6: after "Connection: close" the client must not send another request on that
  // connection. A server without keep-alive answers every request so; with unlimited requests
  // per connection the client must still get exactly one response per connection, none lost.
  HttpServerOptions so;
  so.keepalive = false;
  HttpServer http(so, 1024);
  ASSERT_TRUE(pair_.server().listen(80, http));
  LoadClientOptions o;
  o.target = kServerIp;
  o.concurrency = 4;
  o.requests_per_connection = 0;
  LoadClient lc(o, pair_.client().capacity());
  attach(lc);
  ASSERT_TRUE(pair_.run_until([&] { return lc.counters().responses >= 200; }, Duration::seconds(30)));
  stop_and_drain(lc);
  const app::ClientCounters& c = lc.counters();
  EXPECT_EQ(c.incomplete, 0u);
  EXPECT_EQ(c.errors(), 0u);
  EXPECT_EQ(c.requests, c.responses);
  EXPECT_EQ(http.counters().requests, c.requests);  // nothing more reached the server
  EXPECT_GE(c.connections_established, c.responses);
  EXPECT_LE(c.connections_established, c.responses + o.concurrency);
}

// A server that resets every connection as soon as a request arrives.
class ResetOnRequestServer final : public engine::App {
 public:
  void on_data(Endpoint& ep, ConnId id, std::span<const uint8_t>) override {
    ++resets;
    ep.abort(id);
  }
  void fill_payload(Endpoint&, ConnId, uint64_t, std::span<uint8_t>) override {}
  uint64_t resets = 0;
};

TEST_F(LoadClientTest, AResetConnectionIsOneErrorNotTwo) {
  // The reset cuts off the outstanding response: that is the connection's one error, counted as
  // connections_reset, not once more as incomplete.
  ResetOnRequestServer server;
  ASSERT_TRUE(pair_.server().listen(80, server));
  LoadClientOptions o;
  o.target = kServerIp;
  o.concurrency = 4;
  o.requests_per_connection = 1;
  LoadClient lc(o, pair_.client().capacity());
  attach(lc);
  ASSERT_TRUE(pair_.run_until([&] { return lc.counters().connections_reset >= 50; }, Duration::seconds(30)));
  stop_and_drain(lc);
  const app::ClientCounters& c = lc.counters();
  EXPECT_EQ(c.responses, 0u);
  EXPECT_EQ(c.connections_reset, server.resets);
  // Connections the stop closed before the server saw their request end without a reset.
  EXPECT_LE(c.incomplete, o.concurrency);
  EXPECT_EQ(c.errors(), c.connections_reset + c.incomplete);
  EXPECT_LE(c.errors(), c.connections_established);
}

TEST_F(LoadClientTest, HttpKeepAliveReusesConnections) {
  HttpServer http(HttpServerOptions{}, 1024);
  ASSERT_TRUE(pair_.server().listen(80, http));
  LoadClientOptions o;
  o.target = kServerIp;
  o.concurrency = 4;
  o.requests_per_connection = 0;  // unlimited
  o.request_size = 100;           // POST bodies
  LoadClient lc(o, pair_.client().capacity());
  attach(lc);
  ASSERT_TRUE(pair_.run_until([&] { return lc.counters().responses >= 1000; }, Duration::seconds(30)));
  stop_and_drain(lc);
  const app::ClientCounters& c = lc.counters();
  EXPECT_EQ(c.connections_started, 4u);
  EXPECT_EQ(c.requests, c.responses);
  EXPECT_EQ(c.errors(), 0u);
  EXPECT_EQ(http.counters().requests, c.requests);
  EXPECT_EQ(http.counters().bytes_in, c.bytes_sent);
  EXPECT_EQ(lc.request_bytes(), std::string("POST / HTTP/1.1\r\nHost: \r\nUser-Agent: linetcp\r\nContent-Length: 100\r\n\r\n").size() + 100);
}

// A load client writing `size`-byte requests to an echo (port 7) or discard (port 9) server.
LoadClientOptions stream_options(Protocol protocol, uint64_t concurrency, uint64_t requests_per_connection,
                                 uint64_t size) {
  LoadClientOptions o;
  o.protocol = protocol;
  o.target = kServerIp;
  o.target_port = protocol == Protocol::kEcho ? 7 : 9;
  o.concurrency = concurrency;
  o.requests_per_connection = requests_per_connection;
  o.request_size = size;
  return o;
}

TEST_F(LoadClientTest, EchoRequestsAreVerified) {
  app::EchoServer echo(1024, 16, 64 * 1024);
  const tcp::TcpParams params = echo.params(pair_.server().config().tcp);
  ASSERT_TRUE(pair_.server().listen(7, echo, &params));
  LoadClient lc(stream_options(Protocol::kEcho, 4, 5, 3000), pair_.client().capacity());
  attach(lc);
  ASSERT_TRUE(pair_.run_until([&] { return lc.counters().responses >= 200; }, Duration::seconds(30)));
  stop_and_drain(lc);
  const app::ClientCounters& c = lc.counters();
  EXPECT_EQ(c.echo_mismatches, 0u);
  EXPECT_EQ(c.requests, c.responses);
  EXPECT_EQ(c.errors(), 0u);
  EXPECT_EQ(c.bytes_received, c.bytes_sent);
  EXPECT_EQ(echo.counters().bytes_in, c.bytes_sent);
}

// An echo server that gets one byte wrong: the byte at stream offset `bad_offset` of each
// connection comes back with its low bit flipped. The rest is echoed exactly.
class OneBadByteEchoServer final : public engine::App {
 public:
  explicit OneBadByteEchoServer(uint64_t bad_offset) : bad_offset_(bad_offset) {}
  void on_open(Endpoint&, ConnId id) override { streams_[id].clear(); }
  void on_data(Endpoint& ep, ConnId id, std::span<const uint8_t> data) override {
    std::vector<uint8_t>& s = streams_[id];
    s.insert(s.end(), data.begin(), data.end());
    ep.send(id, data.size());
  }
  void on_peer_closed(Endpoint& ep, ConnId id) override { ep.close(id); }
  void fill_payload(Endpoint&, ConnId id, uint64_t offset, std::span<uint8_t> dst) override {
    const std::vector<uint8_t>& s = streams_[id];
    std::memcpy(dst.data(), s.data() + offset, dst.size());
    if (bad_offset_ >= offset && bad_offset_ < offset + dst.size()) dst[bad_offset_ - offset] ^= 1;
  }

 private:
  uint64_t bad_offset_;
  std::map<ConnId, std::vector<uint8_t>> streams_;
};

TEST_F(LoadClientTest, AWrongEchoedByteIsAMismatch) {
  // One wrong byte in each connection's second response (offset 3000 + 777 of 3000-byte
  // requests), wherever the segments happen to split it: one mismatch per connection, counted
  // once for its response, and nothing else.
  OneBadByteEchoServer server(3000 + 777);
  ASSERT_TRUE(pair_.server().listen(7, server));
  const LoadClientOptions o = stream_options(Protocol::kEcho, 2, 3, 3000);
  LoadClient lc(o, pair_.client().capacity());
  attach(lc);
  ASSERT_TRUE(pair_.run_until([&] { return lc.counters().connections_closed >= 10; }, Duration::seconds(30)));
  const app::ClientCounters& c = lc.counters();
  // Each closed connection had its three responses, one of them wrong; the two still open may
  // have had their second response too.
  EXPECT_GE(c.echo_mismatches, c.connections_closed);
  EXPECT_LE(c.echo_mismatches, c.connections_closed + o.concurrency);
  EXPECT_GE(c.responses, 3 * c.connections_closed);
  EXPECT_EQ(c.connections_reset + c.connections_timed_out + c.incomplete, 0u);
  stop_and_drain(lc);
}

TEST_F(LoadClientTest, DiscardRequestsCompleteWhenAcknowledged) {
  app::DiscardServer discard;
  ASSERT_TRUE(pair_.server().listen(9, discard));
  LoadClient lc(stream_options(Protocol::kDiscard, 3, 3, 5000), pair_.client().capacity());
  attach(lc);
  ASSERT_TRUE(pair_.run_until([&] { return lc.counters().responses >= 90; }, Duration::seconds(30)));
  stop_and_drain(lc);
  const app::ClientCounters& c = lc.counters();
  EXPECT_EQ(c.requests, c.responses);
  EXPECT_EQ(c.errors(), 0u);
  EXPECT_EQ(discard.counters().bytes_in, c.bytes_sent);
  EXPECT_EQ(c.bytes_sent, c.requests * 5000);
  EXPECT_EQ(discard.counters().connections, c.connections_established);
}

TEST_F(LoadClientTest, AnUploadWaitsForNoDelayedAck) {
  // One connection writes 10 000 bytes (six full segments and a partial one), waits until they
  // are acknowledged, writes again. The discard server sends no data, so its ACK of each write's
  // pushed last segment must not wait for the delayed-ACK timer: that cost 40 ms per write
  // (and halved bulk throughput over memif) before the server ACKed pushed segments at once.
  app::DiscardServer discard;
  ASSERT_TRUE(pair_.server().listen(9, discard));
  LoadClient lc(stream_options(Protocol::kDiscard, 1, 0, 10000), pair_.client().capacity());
  attach(lc);
  ASSERT_TRUE(pair_.run_until([&] { return lc.counters().responses >= 1; }, Duration::seconds(5)));
  const Instant t0 = pair_.now();
  ASSERT_TRUE(pair_.run_until([&] { return lc.counters().responses >= 51; }, Duration::seconds(30)));
  const int64_t per_write_us = (pair_.now() - t0).ns() / 50 / 1000;
  EXPECT_LT(per_write_us, 2000) << "a few 50 us round trips per write, not a 40 ms delayed ACK";
  EXPECT_GE(pair_.server().tcp_counters().pushed_acks, 50u);
  stop_and_drain(lc);
  EXPECT_EQ(lc.counters().errors(), 0u);
  EXPECT_EQ(discard.counters().bytes_in, lc.counters().bytes_sent);
}

TEST_F(LoadClientTest, ConstantRateRequestsLeaveAtTheirScheduledTimes) {
  HttpServer http(HttpServerOptions{}, 1024);
  ASSERT_TRUE(pair_.server().listen(80, http));
  LoadClientOptions o;
  o.target = kServerIp;
  o.concurrency = 4;
  o.requests_per_connection = 0;
  o.request_rate = 300;  // every 3.333 ms: not a multiple of the client's idle poll
  LoadClient lc(o, pair_.client().capacity());
  // When each request's first byte leaves the client.
  std::vector<Instant> sent_at;
  pair_.filter = [&](Side from, std::vector<uint8_t>& f) {
    if (from == Side::kClient) {
      const ParsedFrame p = parse_frame(f);
      if (p.payload.size() >= 4 && std::memcmp(p.payload.data(), "GET ", 4) == 0) sent_at.push_back(pair_.now());
    }
    return true;
  };
  const Instant t0 = pair_.now();
  attach(lc);
  pair_.run_for(Duration::seconds(1));
  const Duration interval = Duration::nanos(static_cast<int64_t>(1e9 / 300));
  ASSERT_GE(sent_at.size(), 300u);
  ASSERT_LE(sent_at.size(), 301u);
  // The first is due at t0, before any connection is open: it waits for ARP and the handshake
  // (two round trips of 2 x 50 us) and its latency includes that wait. Every later one leaves
  // exactly on time.
  EXPECT_EQ(sent_at[0], t0 + Duration::micros(200));
  for (std::size_t k = 1; k < sent_at.size(); ++k)
    ASSERT_EQ(sent_at[k], t0 + interval * static_cast<int64_t>(k)) << "request " << k;
  // Latency from the schedule: one round trip for each, plus the handshake wait for the first.
  const app::Histogram& lat = lc.request_latency();
  EXPECT_EQ(lat.count(), lc.counters().responses);
  EXPECT_EQ(lat.min(), 100'000u);
  EXPECT_EQ(lat.max(), 300'000u);
  EXPECT_GE(lat.quantile(0.99), 100'000u);  // the bucket's upper edge, within 1 %
  EXPECT_LE(lat.quantile(0.99), 101'000u);
  EXPECT_EQ(lc.counters().schedule_backlog, 0u);
  EXPECT_EQ(lc.counters().connections_started, 4u);
  stop_and_drain(lc);
  EXPECT_EQ(lc.counters().requests, lc.counters().responses);
  EXPECT_EQ(lc.counters().errors(), 0u);
}

TEST_F(LoadClientTest, ConstantRateRequestsRotateOverEveryConnection) {
  // Paced requests go to the connection idle the longest (as wrk2's do), so every connection
  // carries its share. Taking the one idle the shortest would send nearly all of them on one
  // connection here: each response is back 100 us after its request, long before the next is due.
  HttpServer http(HttpServerOptions{}, 1024);
  ASSERT_TRUE(pair_.server().listen(80, http));
  LoadClientOptions o;
  o.target = kServerIp;
  o.concurrency = 8;
  o.requests_per_connection = 0;
  o.request_rate = 800;
  LoadClient lc(o, pair_.client().capacity());
  std::map<uint16_t, uint64_t> requests_by_port;
  pair_.filter = [&](Side from, std::vector<uint8_t>& f) {
    if (from == Side::kClient) {
      const ParsedFrame p = parse_frame(f);
      if (p.payload.size() >= 4 && std::memcmp(p.payload.data(), "GET ", 4) == 0) ++requests_by_port[p.src_port];
    }
    return true;
  };
  attach(lc);
  pair_.run_for(Duration::seconds(1));
  ASSERT_EQ(requests_by_port.size(), 8u);
  uint64_t least = UINT64_MAX, most = 0;
  for (const auto& [port, n] : requests_by_port) {
    least = std::min(least, n);
    most = std::max(most, n);
  }
  EXPECT_GE(least, 95u);  // 800 requests over 8 connections
  EXPECT_LE(most - least, 2u);
  stop_and_drain(lc);
  EXPECT_EQ(lc.counters().requests, lc.counters().responses);
  EXPECT_EQ(lc.counters().errors(), 0u);
  EXPECT_EQ(lc.counters().schedule_backlog, 0u);
}

TEST_F(LoadClientTest, ConstantRateSurvivesConnectionsClosingWhileIdle) {
  // The server closes every connection after its response, so each connection closes while it
  // waits idle for the next scheduled request, and its slot is reused by the next connection:
  // no request may go out twice on one connection or be lost.
  HttpServerOptions so;
  so.close_first = true;
  HttpServer http(so, 1024);
  ASSERT_TRUE(pair_.server().listen(80, http));
  LoadClientOptions o;
  o.target = kServerIp;
  o.concurrency = 8;
  o.requests_per_connection = 0;
  o.request_rate = 400;
  LoadClient lc(o, pair_.client().capacity());
  attach(lc);
  pair_.run_for(Duration::seconds(1));
  stop_and_drain(lc);
  const app::ClientCounters& c = lc.counters();
  EXPECT_GE(c.responses, 395u);
  EXPECT_EQ(c.requests, c.responses);
  EXPECT_EQ(c.errors(), 0u);
  EXPECT_EQ(http.counters().requests, c.requests);
  // At most one request per connection (the last few may end unused at the stop).
  EXPECT_LE(http.counters().requests, http.counters().connections);
  EXPECT_EQ(http.counters().bad_requests, 0u);
  EXPECT_EQ(c.schedule_backlog, 0u);
}

TEST_F(LoadClientTest, ConstantRateLatencyIncludesQueueingWhenTheServerIsSlow) {
  // One connection, 1000 requests/s, but a 2 ms round trip: requests queue behind each other,
  // and their latency, counted from the schedule, grows (no coordinated omission).
  PairOptions po;
  po.to_server.delay = Duration::millis(1);
  po.to_client.delay = Duration::millis(1);
  EndpointPair pair(po);
  HttpServer http(HttpServerOptions{}, 1024);
  ASSERT_TRUE(pair.server().listen(80, http));
  LoadClientOptions o;
  o.target = kServerIp;
  o.concurrency = 1;
  o.requests_per_connection = 0;
  o.request_rate = 1000;
  LoadClient lc(o, pair.client().capacity());
  lc.start(pair.now());
  pair.on_tick = [&](Instant now) {
    lc.set_time(now);
    if (lc.next_deadline() <= now) lc.poll(pair.client(), now);
  };
  pair.extra_deadline = [&] { return lc.next_deadline(); };
  pair.run_for(Duration::millis(100));
  // Request k (scheduled at k ms) leaves when request k-1 is answered, at 4 + 2k ms (ARP and the
  // handshake take the first 4 ms), and is answered at 6 + 2k ms: latency k + 6 ms. By 100 ms
  // requests 0..47 are answered, the last 53 ms after its scheduled time.
  EXPECT_EQ(lc.counters().responses, 48u);
  EXPECT_EQ(lc.request_latency().min(), 6'000'000u);
  EXPECT_EQ(lc.request_latency().max(), 53'000'000u);
}

}  // namespace
}  // namespace linetcp::testing
