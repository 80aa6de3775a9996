// The receive side: in-order spans, out-of-order reassembly delivered in order, trimming to the
// window, duplicates, a FIN ahead of a hole, chunk-pool limits; and the Reassembly store itself.
#include <gtest/gtest.h>

#include "connection_harness.hpp"

namespace linetcp::testing {
namespace {

using tcp::kTcpAck;
using tcp::kTcpFin;
using tcp::Reassembly;
constexpr uint32_t L = TcpHarness::kLocalIss;

TEST(TcpReceive, InOrderSpansDeliveredAtOnce) {
  TcpHarness h;
  h.established();
  h.send(h.peer_data(100));
  h.send(h.peer_data(200));
  ASSERT_EQ(h.sink.count(Event::Kind::kData), 2u);
  EXPECT_EQ(h.sink.events[1].value, 100u);
  EXPECT_EQ(h.sink.events[2].value, 200u);
  EXPECT_EQ(h.sink.received, h.expected_received(0, 300));
  EXPECT_EQ(h.conn.bytes_received(), 300u);
}

TEST(TcpReceive, OutOfOrderHeldAndDeliveredInOrder) {
  TcpHarness h;
  h.established();
  const SeqNum r = h.rseq;
  h.send(seg().seq(r + 1000).ack(L + 1).window(64000).stream(1000, 500));
  h.expect_segment(out().ack(r));  // an immediate duplicate ACK (RFC 5681 §4.2)
  h.send(seg().seq(r + 500).ack(L + 1).window(64000).stream(500, 500));
  h.expect_segment(out().ack(r));
  EXPECT_TRUE(h.sink.received.empty());
  EXPECT_EQ(h.counters.out_of_order, 2u);
  h.send(seg().seq(r).ack(L + 1).window(64000).stream(0, 500));
  h.expect_segment(out().ack(r + 1500));  // the hole is filled: ACK at once
  EXPECT_EQ(h.sink.received, h.expected_received(0, 1500));
  EXPECT_EQ(h.pool.available(), h.pool.capacity());  // chunks returned
}

TEST(TcpReceive, OverlapsAndDuplicatesTrimmed) {
  TcpHarness h;
  h.established();
  const SeqNum r = h.rseq;
  h.send(seg().seq(r).ack(L + 1).window(64000).stream(0, 300));
  h.send(seg().seq(r + 200).ack(L + 1).window(64000).stream(200, 300));  // overlaps 100
  EXPECT_EQ(h.sink.received, h.expected_received(0, 500));
  h.send(seg().seq(r + 100).ack(L + 1).window(64000).stream(100, 200));  // all old
  EXPECT_EQ(h.counters.out_of_window, 1u);  // wholly old: unacceptable, answered with an ACK
  h.recv_all();
  // Out-of-order pieces overlapping each other and the next in-order one.
  h.send(seg().seq(r + 900).ack(L + 1).window(64000).stream(900, 300));
  h.send(seg().seq(r + 700).ack(L + 1).window(64000).stream(700, 300));
  h.send(seg().seq(r + 1100).ack(L + 1).window(64000).stream(1100, 100));
  h.send(seg().seq(r + 400).ack(L + 1).window(64000).stream(400, 400));
  EXPECT_EQ(h.sink.received, h.expected_received(0, 1200));
  EXPECT_EQ(h.conn.rcv_nxt(), r + 1200);
}

TEST(TcpReceive, DataBeyondWindowTrimmed) {
  tcp::TcpParams p = plain_params();
  p.rcv_buffer = 1000;
  TcpHarness h(p);
  h.established();
  h.send(h.peer_data(1500));
  EXPECT_EQ(h.sink.received.size(), 1000u);
  EXPECT_EQ(h.conn.rcv_nxt(), SeqNum(TcpHarness::kRemoteIss + 1001));
}

TEST(TcpReceive, FinAheadOfAHoleTakesEffectWhenFilled) {
  TcpHarness h;
  h.established();
  const SeqNum r = h.rseq;
  h.send(seg().seq(r + 100).ack(L + 1).window(64000).stream(100, 100).add_flags(kTcpFin));
  EXPECT_EQ(h.conn.state(), State::kEstablished);
  h.expect_segment(out().ack(r));
  h.send(seg().seq(r).ack(L + 1).window(64000).stream(0, 100));
  EXPECT_EQ(h.conn.state(), State::kCloseWait);
  EXPECT_TRUE(h.sink.peer_fin);
  h.expect_segment(out().ack(r + 201));
  EXPECT_EQ(h.sink.received, h.expected_received(0, 200));
}

TEST(TcpReceive, OutOfOrderStoreIsBounded) {
  tcp::TcpParams p = plain_params();
  p.max_ooo_chunks = 2;
  TcpHarness h(p);
  h.established();
  const SeqNum r = h.rseq;
  for (int i = 1; i <= 4; ++i) h.send(seg().seq(r + i * 1000).ack(L + 1).window(64000).stream(i * 1000, 500));
  EXPECT_EQ(h.counters.ooo_no_buffer, 2u);
  EXPECT_EQ(h.pool.available(), h.pool.capacity() - 2);
  h.conn.release_resources(h.ctx);
  EXPECT_EQ(h.pool.available(), h.pool.capacity());
}

TEST(TcpReassembly, MergesDrainsAndReportsSackBlocks) {
  tcp::ChunkPool pool(16);
  Reassembly r;
  const SeqNum base(0xFFFFFF00u);  // across the wrap
  std::vector<uint8_t> data = stream_bytes(0, 6000, 9);
  auto piece = [&](uint32_t off, uint32_t len) {
    return std::span<const uint8_t>(data.data() + off, len);
  };
  EXPECT_EQ(r.insert(pool, base + 3000, piece(3000, 1000), 16), Reassembly::Insert::kStored);
  EXPECT_EQ(r.insert(pool, base + 1000, piece(1000, 500), 16), Reassembly::Insert::kStored);
  EXPECT_EQ(r.insert(pool, base + 3200, piece(3200, 100), 16), Reassembly::Insert::kDuplicate);
  EXPECT_EQ(r.insert(pool, base + 1500, piece(1500, 1500), 16), Reassembly::Insert::kStored);  // bridges
  wire::SackBlock blocks[4];
  ASSERT_EQ(r.sack_blocks(pool, base + 1000, blocks, 4), 1);
  EXPECT_EQ(blocks[0], (wire::SackBlock{(base + 1000).raw(), (base + 4000).raw()}));
  EXPECT_EQ(r.insert(pool, base + 5000, piece(5000, 4000 > 1000 ? 1000 : 0), 16), Reassembly::Insert::kStored);
  ASSERT_EQ(r.sack_blocks(pool, base + 5000, blocks, 4), 2);
  EXPECT_EQ(blocks[0].left, (base + 5000).raw());  // the most recent first
  EXPECT_EQ(r.highest(pool), base + 6000);
  std::vector<uint8_t> got;
  SeqNum next = r.drain(pool, base + 1200, [&](std::span<const uint8_t> s) { got.insert(got.end(), s.begin(), s.end()); });
  EXPECT_EQ(next, base + 4000);
  EXPECT_EQ(got, std::vector<uint8_t>(data.begin() + 1200, data.begin() + 4000));
  r.clear(pool);
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(pool.available(), 16u);
}

}  // namespace
}  // namespace linetcp::testing
