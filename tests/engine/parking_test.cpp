// Parking in the engine: with fewer full TCP states than connections (full_state_connections), idle
// connections give theirs up and get one back on their next segment or application call, and
// application calls made while every full state is busy wait and are replayed in order. Every
// byte is checked against the deterministic streams, on a clean link and on a lossy one.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "endpoint_pair.hpp"
#include "linetcp/engine/endpoint.hpp"

namespace linetcp::testing {
namespace {

using engine::ConnId;
using engine::kInvalidConn;

// Request and response rounds on many connections. The client side sends `request` bytes when
// the test asks; the server answers each whole request with `response` bytes. Both check every
// byte against the peer's stream (seeded by the client's port and the direction).
class RoundsApp final : public engine::App {
 public:
  RoundsApp(Side side, uint32_t capacity, uint64_t request, uint64_t response)
      : side_(side), request_(request), response_(response), conns_(capacity) {}

  void on_open(engine::Endpoint&, ConnId id) override {
    conns_[id] = Conn{};
    conns_[id].open = true;
    ++opened;
  }
  void on_data(engine::Endpoint& ep, ConnId id, std::span<const uint8_t> data) override {
    Conn& c = conns_[id];
    const Side peer = side_ == Side::kClient ? Side::kServer : Side::kClient;
    if (first_stream_mismatch(seed(ep, id, peer), c.received, data) >= 0) ++mismatches;
    c.received += data.size();
    bytes_received += data.size();
    if (side_ == Side::kServer) {
      const uint64_t whole = c.received / request_;
      for (; c.answered < whole; ++c.answered) ep.send(id, response_);
    }
  }
  void on_peer_closed(engine::Endpoint& ep, ConnId id) override {
    if (side_ == Side::kServer) ep.close(id);
  }
  void on_closed(engine::Endpoint&, ConnId id, tcp::CloseReason reason) override {
    conns_[id].open = false;
    ++closed;
    if (reason == tcp::CloseReason::kNormal) ++closed_normal;
    if (reason == tcp::CloseReason::kAborted) ++closed_aborted;
    if (reason == tcp::CloseReason::kReset) ++closed_reset;
  }
  void fill_payload(engine::Endpoint& ep, ConnId id, uint64_t offset, std::span<uint8_t> dst) override {
    fill_stream(seed(ep, id, side_), offset, dst);
  }

  // Client: one more request on `id`.
  void request(engine::Endpoint& ep, ConnId id) {
    ep.send(id, request_);
    ++conns_[id].requests;
  }
  bool answered(ConnId id) const { return conns_[id].received == conns_[id].requests * response_; }
  bool open(ConnId id) const { return conns_[id].open; }
  uint64_t received(ConnId id) const { return conns_[id].received; }

  uint64_t opened = 0, closed = 0, closed_normal = 0, closed_aborted = 0, closed_reset = 0;
  uint64_t bytes_received = 0, mismatches = 0;

 private:
  struct Conn {
    bool open = false;
    uint64_t received = 0, requests = 0, answered = 0;
  };
  static uint64_t seed(engine::Endpoint& ep, ConnId id, Side sender) {
    const engine::FourTuple& t = ep.tuple(id);
    const uint16_t client_port = ep.config().address == kClientIp ? t.local_port : t.remote_port;
    return StreamApp::stream_seed(7, client_port, sender);
  }
  Side side_;
  uint64_t request_, response_;
  std::vector<Conn> conns_;
};

constexpr uint32_t kCapacity = 1024;

PairOptions parking_pair(uint32_t client_full_states, uint32_t server_full_states) {
  PairOptions o;
  for (engine::EndpointConfig* c : {&o.client, &o.server}) {
    c->max_connections = kCapacity;
    c->syn_backlog = kCapacity;
    c->time_wait = Duration::millis(500);
    // Twice the delayed ACK: a clean link sees no spurious timeout as long as the timer wheel
    // places the delayed ACK exactly (TimerWheel::catch_up after idle spells: with the wheel's
    // clock lagging, it fired up to 8 ms late and this needed 50 ms).
    c->tcp.rto_initial = Duration::millis(100);
    c->tcp.rto_min = Duration::millis(10);
    c->tcp.delayed_ack = Duration::millis(5);
  }
  o.client.full_state_connections = client_full_states;
  o.server.full_state_connections = server_full_states;
  return o;
}

// A pair with the round-trip applications on both sides, the server listening on port 80.
struct ParkingPair {
  ParkingPair(const PairOptions& o, uint64_t request, uint64_t response)
      : pair(o), client(Side::kClient, kCapacity, request, response), server(Side::kServer, kCapacity, request, response) {
    EXPECT_TRUE(pair.server().listen(80, server));
  }
  EndpointPair pair;
  RoundsApp client, server;
};

// Opens `n` connections, at most `batch` handshakes at once (each needs a full state).
std::vector<ConnId> open_connections(EndpointPair& pair, RoundsApp& client, uint32_t n, uint32_t batch) {
  std::vector<ConnId> ids;
  while (ids.size() < n) {
    const uint64_t before = client.opened;
    uint32_t started = 0;
    for (; started < batch && ids.size() < n; ++started) {
      const ConnId id = pair.client().connect(kServerIp, 80, client, pair.now());
      EXPECT_NE(id, kInvalidConn) << "connection " << ids.size() << " pool full " << pair.client().counters().tcb_pool_full
                                  << " table full " << pair.client().counters().conn_table_full << " ports "
                                  << pair.client().counters().ports_exhausted;
      if (id == kInvalidConn) return ids;
      ids.push_back(id);
    }
    if (!pair.run_until([&] { return client.opened == before + started; }, Duration::seconds(30))) {
      ADD_FAILURE() << "handshakes did not finish: " << client.opened << " of " << before + started;
      return ids;
    }
    pair.run_for(Duration::millis(20));  // delayed ACKs out: the new connections go idle
  }
  return ids;
}

// Runs `rounds` rounds: each round sends one request on every connection, in a shuffled order,
// `wave` at a time, and waits for all the answers (and then `pause`, to let delayed ACKs go).
void run_rounds(EndpointPair& pair, RoundsApp& client, const std::vector<ConnId>& ids, int rounds, uint32_t wave,
                uint64_t seed, Duration pause = Duration::zero()) {
  std::mt19937_64 rng(seed);
  std::vector<ConnId> order = ids;
  for (int round = 0; round < rounds; ++round) {
    std::shuffle(order.begin(), order.end(), rng);
    for (size_t i = 0; i < order.size(); i += wave) {
      const size_t end = std::min(order.size(), i + wave);
      for (size_t k = i; k < end; ++k) client.request(pair.client(), order[k]);
      ASSERT_TRUE(pair.run_until(
          [&] {
            for (size_t k = i; k < end; ++k)
              if (!client.answered(order[k])) return false;
            return true;
          },
          Duration::seconds(60)))
          << "round " << round << " wave at " << i << " client: parked " << pair.client().counters().connections_parked
          << " unparked " << pair.client().counters().connections_unparked << " pool_full "
          << pair.client().counters().tcb_pool_full << " deferred " << pair.client().counters().app_calls_deferred
          << " | server: parked " << pair.server().counters().connections_parked << " unparked "
          << pair.server().counters().connections_unparked << " pool_full " << pair.server().counters().tcb_pool_full
          << " full states " << pair.client().parked_connections() << "/" << pair.server().parked_connections();
      if (pause > Duration::zero()) pair.run_for(pause);
    }
    pair.run_for(Duration::millis(20));
  }
}

void close_all(EndpointPair& pair, RoundsApp& client, RoundsApp& server, const std::vector<ConnId>& ids) {
  for (ConnId id : ids) pair.client().close(id);
  ASSERT_TRUE(pair.run_until(
      [&] {
        return client.closed == ids.size() && server.closed == ids.size() &&
               pair.client().active_connections() == 0 && pair.server().active_connections() == 0;
      },
      Duration::seconds(60)))
      << "client closed " << client.closed << " server " << server.closed << " active "
      << pair.client().active_connections() << "/" << pair.server().active_connections();
}

TEST(EndpointParking, FourHundredConnectionsShareSixteenFullStatesOnEachSide) {
  ParkingPair p(parking_pair(16, 16), 300, 5000);
  auto& [pair, client, server] = p;
  EXPECT_EQ(pair.client().tcb_capacity(), 16u);

  const std::vector<ConnId> ids = open_connections(pair, client, 400, 8);
  ASSERT_EQ(ids.size(), 400u);
  // All but the 16 most recent gave their full states up, and are still ESTABLISHED.
  EXPECT_GE(pair.client().parked_connections(), 384u);
  EXPECT_GE(pair.server().parked_connections(), 384u);
  EXPECT_EQ(pair.client().state_histogram()[static_cast<size_t>(tcp::State::kEstablished)], 400u);
  EXPECT_EQ(pair.server().state_histogram()[static_cast<size_t>(tcp::State::kEstablished)], 400u);

  // Requests 8 at a time, each wave once the previous one went idle: each request unparks a
  // client connection, which unparks its server side; the answer goes back on it. No segment is
  // lost to parking.
  run_rounds(pair, client, ids, 2, 8, 1, Duration::millis(20));
  EXPECT_EQ(client.mismatches + server.mismatches, 0u);
  EXPECT_EQ(client.bytes_received, 400u * 2 * 5000);
  EXPECT_EQ(server.bytes_received, 400u * 2 * 300);
  const auto& cc = pair.client().counters();
  const auto& sc = pair.server().counters();
  EXPECT_GE(cc.connections_unparked, 2u * 400 - 16);
  EXPECT_GE(sc.connections_unparked, 2u * 400 - 16);
  EXPECT_GE(cc.connections_parked, cc.connections_unparked);
  EXPECT_EQ(cc.tcb_pool_full + sc.tcb_pool_full, 0u);
  EXPECT_EQ(pair.client().tcp_counters().retransmits + pair.server().tcp_counters().retransmits, 0u)
      << "a clean link: parking must cost no segment";

  // With the full states short, data is ACKed at once (TcpContext::quick_ack): a delayed ACK would
  // keep the connection's state from parking for 5 ms here (40 ms by default).
  EXPECT_GT(pair.client().tcp_counters().quick_acks, 0u);
  // So waves can follow back to back: each wave's connections are idle, and park, as soon as
  // their answers are in, and no request waits for a full state. Nothing is lost.
  run_rounds(pair, client, ids, 1, 8, 2);
  EXPECT_EQ(client.mismatches + server.mismatches, 0u);
  EXPECT_EQ(client.bytes_received, 400u * 3 * 5000);
  EXPECT_EQ(server.bytes_received, 400u * 3 * 300);
  EXPECT_EQ(cc.app_calls_deferred, 0u);

  close_all(pair, client, server, ids);
  EXPECT_EQ(client.closed_normal, 400u);
  EXPECT_EQ(server.closed_normal, 400u);
}

TEST(EndpointParking, CallsOnParkedConnectionsWaitWhileEveryFullStateIsBusyAndLoseNothing) {
  // Four full states on the client and 64 connections: a wave of 32 requests finds the first
  // four busy and the other 28 calls wait; they go out as full states free up.
  ParkingPair p(parking_pair(4, 0), 2000, 3000);
  auto& [pair, client, server] = p;
  const std::vector<ConnId> ids = open_connections(pair, client, 64, 4);
  ASSERT_EQ(ids.size(), 64u);
  // Two rounds, 32 requests at a time: most wait for a full state and are replayed in order.
  for (int i = 0; i < 2; ++i) run_rounds(pair, client, ids, 1, 32, 10 + static_cast<uint64_t>(i));
  EXPECT_GT(pair.client().counters().app_calls_deferred, 20u);
  EXPECT_EQ(client.mismatches + server.mismatches, 0u);
  EXPECT_EQ(client.bytes_received, 64u * 2 * 3000);

  // close() and abort() wait too: half close, a quarter abort, after a request each.
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i % 4 == 3) continue;
    client.request(pair.client(), ids[i]);
    if (i % 4 == 2) pair.client().abort(ids[i]);
    else pair.client().close(ids[i]);
  }
  EXPECT_TRUE(pair.run_until([&] { return client.closed == 48; }, Duration::seconds(30))) << client.closed;
  EXPECT_EQ(client.closed_aborted, 16u);
  EXPECT_EQ(client.closed_normal, 32u);
  // The closed ones' requests were all answered before their FIN (abort drops what was left).
  for (size_t i = 0; i < ids.size(); i += 4) EXPECT_EQ(client.received(ids[i]), 3u * 3000) << i;
  for (size_t i = 3; i < ids.size(); i += 4) EXPECT_TRUE(client.open(ids[i]));
  EXPECT_EQ(client.mismatches + server.mismatches, 0u);
  std::vector<ConnId> rest;
  for (size_t i = 3; i < ids.size(); i += 4) rest.push_back(ids[i]);
  for (ConnId id : rest) pair.client().close(id);
  EXPECT_TRUE(pair.run_until(
      [&] { return client.closed == 64 && server.closed == 64 && pair.client().active_connections() == 0; },
      Duration::seconds(60)));
  EXPECT_EQ(server.closed_reset, 16u);
}

TEST(EndpointParking, ASegmentThatFindsNoFullStateIsDroppedCountedAndRetransmitted) {
  // One full state on the server: a request for a second parked connection arrives while the
  // first one's answer is still unacknowledged.
  ParkingPair p(parking_pair(0, 1), 400, 30000);
  auto& [pair, client, server] = p;
  const std::vector<ConnId> ids = open_connections(pair, client, 2, 1);
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(pair.server().parked_connections(), 1u);
  client.request(pair.client(), ids[0]);
  client.request(pair.client(), ids[1]);
  ASSERT_TRUE(pair.run_until([&] { return client.answered(ids[0]) && client.answered(ids[1]); },
                             Duration::seconds(30)));
  EXPECT_GT(pair.server().counters().tcb_pool_full, 0u);
  EXPECT_GT(pair.client().tcp_counters().retransmits, 0u) << "the dropped request went again";
  EXPECT_EQ(client.mismatches + server.mismatches, 0u);
  close_all(pair, client, server, ids);
  EXPECT_EQ(client.closed_normal, 2u);
}

TEST(EndpointParking, AParkedConnectionTakesOptionsAndKeepAliveWithoutLosingThem) {
  ParkingPair p(parking_pair(2, 0), 100, 100);
  auto& [pair, client, server] = p;
  const std::vector<ConnId> ids = open_connections(pair, client, 6, 2);
  ASSERT_EQ(ids.size(), 6u);
  const ConnId id = ids[0];
  ASSERT_TRUE(pair.client().parked(id));
  pair.client().set_nodelay(id, true);
  pair.client().set_user_timeout(id, Duration::seconds(42));
  EXPECT_TRUE(pair.client().parked(id)) << "options are kept in the parked form";
  // Keep-alive needs a timer: the connection comes back and stays (it is no longer parkable).
  pair.client().set_keepalive(id, true, pair.now());
  EXPECT_FALSE(pair.client().parked(id));
  EXPECT_TRUE(pair.client().connection(id).nodelay()) << "kept while parked";
  EXPECT_EQ(pair.client().connection(id).user_timeout(), Duration::seconds(42));
  // Park the others by using them; the keep-alive connection keeps its full state.
  run_rounds(pair, client, {ids[1], ids[2], ids[3], ids[4], ids[5]}, 2, 1, 3);
  EXPECT_FALSE(pair.client().parked(id));
  // Two hours of idle later (plus the timer wheel's rounding at that range, about 4 minutes)
  // the keep-alive probes find the peer alive (it answers them).
  const uint64_t probes = pair.client().tcp_counters().keepalive_probes;
  pair.run_for(Duration::seconds(7800));
  EXPECT_GT(pair.client().tcp_counters().keepalive_probes, probes);
  EXPECT_TRUE(client.open(id));
  run_rounds(pair, client, {id}, 1, 1, 4);
  EXPECT_EQ(client.mismatches + server.mismatches, 0u);
  close_all(pair, client, server, ids);
}

TEST(EndpointParking, ParkedConnectionsSurviveALossyLink) {
  PairOptions o = parking_pair(8, 8);
  FrameFaults f;
  f.drop = 0.05;
  f.duplicate = 0.02;
  f.reorder = 0.05;
  f.reorder_frames = 3;
  f.reorder_hold = Duration::millis(1);
  f.delay = Duration::micros(200);
  o.to_server = f;
  o.to_client = f;
  o.seed = 77;
  ParkingPair p(o, 700, 9000);
  auto& [pair, client, server] = p;
  const std::vector<ConnId> ids = open_connections(pair, client, 100, 4);
  ASSERT_EQ(ids.size(), 100u);
  run_rounds(pair, client, ids, 3, 12, 5);
  EXPECT_EQ(client.mismatches + server.mismatches, 0u);
  EXPECT_EQ(client.bytes_received, 100u * 3 * 9000);
  EXPECT_EQ(server.bytes_received, 100u * 3 * 700);
  EXPECT_GT(pair.client().counters().connections_unparked, 100u);
  EXPECT_GT(pair.server().counters().connections_unparked, 100u);
  close_all(pair, client, server, ids);
  EXPECT_EQ(client.closed_normal, 100u);
  EXPECT_EQ(server.closed_normal, 100u);
}

// The memory target of issue 6: an idle connection beyond the full states costs its record and
// its index share, from the endpoint's own accounting.
TEST(EndpointParking, AnIdleConnectionCostsAtMost128Bytes) {
  for (uint32_t records : {100'000u, 1'000'003u}) {
    engine::EndpointConfig c = pair_config(Side::kClient);
    c.max_connections = records;
    c.full_state_connections = 65536;
    c.time_wait_capacity = 65536;
    const engine::Endpoint ep(c);
    const auto m = ep.memory_per_entry();
    EXPECT_LE(m.idle_connection, 128.0) << records;
    EXPECT_EQ(m.conn_record, 112u);
    EXPECT_GT(m.full_state_connection, m.idle_connection + static_cast<double>(m.conn_object));
    EXPECT_NEAR(m.connection * records, m.idle_connection * records + (m.full_state_connection - m.idle_connection) * 65536,
                records * 1e-9 + 1.0);
  }
}

}  // namespace
}  // namespace linetcp::testing
