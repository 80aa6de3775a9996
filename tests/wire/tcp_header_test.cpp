// Tests of the TCP header view and builder: a captured Linux SYN parsed from the Ethernet frame
// up, every error, and build -> checksum -> parse round trips.
#include "linetcp/wire/tcp_header.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "linetcp/wire/checksum.hpp"
#include "linetcp/wire/ethernet.hpp"
#include "linetcp/wire/ipv4.hpp"

namespace linetcp::wire {
namespace {

// A whole frame: 02:00:00:00:00:01 -> 02:00:00:00:00:02, 10.0.0.1:45678 -> 10.0.0.2:80, SYN with
// MSS 1460, SACK-permitted, timestamps (TSval 0x5c8e1), NOP, window scale 7, as Linux sends it.
const std::vector<uint8_t> kSynFrame = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x45, 0x00,
    0x00, 0x3c, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x06, 0x0a, 0x74, 0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00,
    0x00, 0x02, 0xb2, 0x6e, 0x00, 0x50, 0x1a, 0x2b, 0x3c, 0x4d, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02,
    0xfa, 0xf0, 0x66, 0xef, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x05,
    0xc8, 0xe1, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07};
constexpr uint32_t kClientIp = 0x0a000001;
constexpr uint32_t kServerIp = 0x0a000002;

TEST(TcpHeaderTest, ParsesCapturedSynFromTheFrameUp) {
  auto eth = EthernetView::parse(kSynFrame);
  ASSERT_TRUE(eth.has_value());
  ASSERT_EQ(eth->ether_type(), kEtherTypeIpv4);
  Ipv4View ip;
  ASSERT_EQ(Ipv4View::parse(eth->payload(), ip), Ipv4Error::kOk);
  ASSERT_EQ(ip.protocol(), kIpProtoTcp);
  // RFC9293 MUST-3
  EXPECT_EQ(verify_tcp_checksum_ipv4(ip.src().value, ip.dst().value, ip.payload()), TcpError::kOk);

  TcpHeaderView tcp;
  ASSERT_EQ(TcpHeaderView::parse(ip.payload(), tcp), TcpError::kOk);
  EXPECT_EQ(tcp.src_port(), 45678);
  EXPECT_EQ(tcp.dst_port(), 80);
  EXPECT_EQ(tcp.seq(), 0x1a2b3c4du);
  EXPECT_EQ(tcp.ack(), 0u);
  EXPECT_EQ(tcp.data_offset_bytes(), 40u);
  EXPECT_EQ(tcp.flags(), kTcpSyn);
  EXPECT_TRUE(tcp.has(kTcpSyn));
  EXPECT_FALSE(tcp.has(kTcpSyn | kTcpAck));
  EXPECT_EQ(tcp.window(), 64240);
  EXPECT_EQ(tcp.checksum(), 0x66ef);
  EXPECT_EQ(tcp.urgent_pointer(), 0);
  EXPECT_EQ(tcp.options().size(), 20u);
  EXPECT_TRUE(tcp.payload().empty());

  // RFC9293 MUST-4: the options of a real SYN, all understood.
  TcpOptions opts;
  ASSERT_EQ(parse_tcp_options(tcp.options(), opts), OptionsParse::kOk);
  EXPECT_TRUE(opts.has_mss);
  EXPECT_EQ(opts.mss, 1460);
  EXPECT_TRUE(opts.sack_permitted);
  EXPECT_TRUE(opts.has_timestamps);
  EXPECT_EQ(opts.ts_val, 0x5c8e1u);
  EXPECT_EQ(opts.ts_ecr, 0u);
  EXPECT_TRUE(opts.has_window_scale);
  EXPECT_EQ(opts.window_scale, 7);
  EXPECT_EQ(opts.sack_count, 0);
}

TEST(TcpHeaderTest, TooShort) {
  TcpHeaderView tcp;
  const uint8_t bytes[19] = {};
  EXPECT_EQ(TcpHeaderView::parse(bytes, tcp), TcpError::kTooShort);
  EXPECT_EQ(TcpHeaderView::parse({}, tcp), TcpError::kTooShort);
}

TEST(TcpHeaderTest, BadDataOffset) {
  TcpHeaderView tcp;
  std::vector<uint8_t> seg(kSynFrame.begin() + 34, kSynFrame.end());
  seg[12] = 0x40;  // 16 bytes < 20
  EXPECT_EQ(TcpHeaderView::parse(seg, tcp), TcpError::kBadDataOffset);
  seg[12] = 0x00;
  EXPECT_EQ(TcpHeaderView::parse(seg, tcp), TcpError::kBadDataOffset);
  seg[12] = 0xb0;  // 44 bytes > 40 in the segment
  EXPECT_EQ(TcpHeaderView::parse(seg, tcp), TcpError::kBadDataOffset);
  seg[12] = 0xa0;
  EXPECT_EQ(TcpHeaderView::parse(seg, tcp), TcpError::kOk);
  // The header runs past a truncated segment.
  EXPECT_EQ(TcpHeaderView::parse(std::span(seg).first(39), tcp), TcpError::kBadDataOffset);
}

TEST(TcpHeaderTest, BadChecksum) {
  std::vector<uint8_t> seg(kSynFrame.begin() + 34, kSynFrame.end());
  // RFC9293 MUST-3: any flipped bit, header or pseudo header, fails the check.
  EXPECT_EQ(verify_tcp_checksum_ipv4(kClientIp, kServerIp, seg), TcpError::kOk);
  EXPECT_EQ(verify_tcp_checksum_ipv4(kClientIp, kServerIp + 1, seg), TcpError::kBadChecksum);
  seg[39] ^= 0x01;
  EXPECT_EQ(verify_tcp_checksum_ipv4(kClientIp, kServerIp, seg), TcpError::kBadChecksum);
}

TEST(TcpHeaderTest, ErrorNames) {
  EXPECT_STREQ(to_string(TcpError::kOk), "ok");
  EXPECT_STREQ(to_string(TcpError::kTooShort), "too_short");
  EXPECT_STREQ(to_string(TcpError::kBadDataOffset), "bad_data_offset");
  EXPECT_STREQ(to_string(TcpError::kBadChecksum), "bad_checksum");
}

TEST(TcpHeaderTest, BuilderReproducesCapturedSyn) {
  // RFC9293 MUST-2: built header + computed checksum == what Linux put on the wire.
  uint8_t seg[kTcpMaxHeaderLen];
  std::memset(seg, 0xcc, sizeof seg);
  TcpOptions opts;
  opts.has_mss = true;
  opts.mss = 1460;
  opts.sack_permitted = true;
  opts.has_timestamps = true;
  opts.ts_val = 0x5c8e1;
  opts.has_window_scale = true;
  opts.window_scale = 7;
  const TcpHeaderFields f{45678, 80, 0x1a2b3c4d, 0, kTcpSyn, 64240, 0};
  const std::size_t len = write_tcp_header(seg, f, opts);
  ASSERT_EQ(len, 40u);
  EXPECT_EQ(seg[16], 0);  // checksum field zeroed
  EXPECT_EQ(seg[17], 0);
  set_tcp_checksum(seg, tcp_checksum_ipv4(kClientIp, kServerIp, {seg, len}));
  // Our layout is Linux's for a SYN (MSS, SACK-permitted, timestamps, NOP, window scale), so the
  // whole header matches byte for byte, checksum included.
  EXPECT_EQ(std::memcmp(seg, kSynFrame.data() + 34, len), 0);
  TcpHeaderView tcp;
  ASSERT_EQ(TcpHeaderView::parse({seg, len}, tcp), TcpError::kOk);
  EXPECT_EQ(verify_tcp_checksum_ipv4(kClientIp, kServerIp, tcp.segment()), TcpError::kOk);
}

TEST(TcpHeaderTest, RoundTripWithPayload) {
  // A data segment with an odd-length payload, ACK|PSH, timestamps only.
  std::vector<uint8_t> seg(kTcpMaxHeaderLen + 5);
  TcpOptions opts;
  opts.has_timestamps = true;
  opts.ts_val = 0xdeadbeef;
  opts.ts_ecr = 0x01020304;
  const TcpHeaderFields f{80, 45678, 0xfffffff0, 0x1a2b3c4e, kTcpAck | kTcpPsh, 502, 0x1234};
  const std::size_t hlen = write_tcp_header(seg.data(), f, opts);
  ASSERT_EQ(hlen, 32u);
  std::memcpy(seg.data() + hlen, "hello", 5);
  seg.resize(hlen + 5);
  fill_tcp_checksum_ipv4(seg.data(), seg.size(), kServerIp, kClientIp);
  EXPECT_EQ(verify_tcp_checksum_ipv4(kServerIp, kClientIp, seg), TcpError::kOk);

  TcpHeaderView tcp;
  ASSERT_EQ(TcpHeaderView::parse(seg, tcp), TcpError::kOk);
  EXPECT_EQ(tcp.src_port(), 80);
  EXPECT_EQ(tcp.dst_port(), 45678);
  EXPECT_EQ(tcp.seq(), 0xfffffff0u);
  EXPECT_EQ(tcp.ack(), 0x1a2b3c4eu);
  EXPECT_EQ(tcp.flags(), kTcpAck | kTcpPsh);
  EXPECT_EQ(tcp.window(), 502);
  EXPECT_EQ(tcp.urgent_pointer(), 0x1234);
  EXPECT_EQ(tcp.data_offset_bytes(), 32u);
  ASSERT_EQ(tcp.payload().size(), 5u);
  EXPECT_EQ(std::memcmp(tcp.payload().data(), "hello", 5), 0);
  // A stale checksum is replaced, not added to.
  fill_tcp_checksum_ipv4(seg.data(), seg.size(), kServerIp, kClientIp);
  EXPECT_EQ(verify_tcp_checksum_ipv4(kServerIp, kClientIp, seg), TcpError::kOk);
}

TEST(TcpHeaderTest, AllFlagBits) {
  uint8_t seg[kTcpMaxHeaderLen];
  const uint8_t all = kTcpFin | kTcpSyn | kTcpRst | kTcpPsh | kTcpAck | kTcpUrg | kTcpEce | kTcpCwr;
  EXPECT_EQ(all, 0xff);
  EXPECT_EQ(write_tcp_header(seg, {1, 2, 3, 4, all, 5, 6}, TcpOptions{}), 20u);
  EXPECT_EQ(seg[12], 0x50);
  TcpHeaderView tcp;
  ASSERT_EQ(TcpHeaderView::parse({seg, 20}, tcp), TcpError::kOk);
  EXPECT_EQ(tcp.flags(), 0xff);
  EXPECT_TRUE(tcp.options().empty());
}

TEST(TcpHeaderTest, SummedBuilderGivesTheSumOfItsBytes) {
  // write_tcp_header_summed() computes the header's share of the checksum from the field values;
  // it must equal the sum of the bytes it wrote, for extreme values and every option layout.
  std::mt19937 rng(11);
  for (int round = 0; round < 500; ++round) {
    TcpOptions o;
    o.has_mss = rng() & 1;
    o.mss = static_cast<uint16_t>(rng());
    o.sack_permitted = rng() & 1;
    o.has_timestamps = rng() & 1;
    o.ts_val = round == 0 ? 0xffffffff : static_cast<uint32_t>(rng());
    o.ts_ecr = static_cast<uint32_t>(rng());
    o.has_window_scale = rng() & 1;
    o.window_scale = static_cast<uint8_t>(rng() % 15);
    o.sack_count = static_cast<uint8_t>(rng() % 5);
    for (auto& b : o.sack) b = {static_cast<uint32_t>(rng()), static_cast<uint32_t>(rng())};
    const TcpHeaderFields f = round == 0 ? TcpHeaderFields{0xffff, 0xffff, 0xffffffff, 0xffffffff, 0xff, 0xffff, 0xffff}
                                         : TcpHeaderFields{static_cast<uint16_t>(rng()), static_cast<uint16_t>(rng()),
                                                           static_cast<uint32_t>(rng()), static_cast<uint32_t>(rng()),
                                                           static_cast<uint8_t>(rng()), static_cast<uint16_t>(rng()),
                                                           static_cast<uint16_t>(rng())};
    uint8_t seg[kTcpMaxHeaderLen];
    std::memset(seg, 0xcc, sizeof seg);
    const TcpHeaderWritten w = write_tcp_header_summed(seg, f, o);
    ASSERT_EQ(w.length, write_tcp_header(seg, f, o)) << round;
    ASSERT_EQ(checksum_fold(w.sum), checksum_fold(checksum_add(seg, w.length))) << round;
  }
}

TEST(TcpHeaderTest, VerifyAgreesWithTheFullSumForAnyDataOffset) {
  // RFC9293 MUST-3: verify_tcp_checksum_ipv4() sums the header inline and the payload apart. A
  // segment whose data offset is garbage (too small, or past the end) takes the plain path; every
  // segment, right or wrong, must get the verdict of the one-piece sum.
  std::mt19937 rng(5);
  for (int round = 0; round < 2000; ++round) {
    std::vector<uint8_t> seg(rng() % 90);
    for (auto& b : seg) b = static_cast<uint8_t>(rng());
    const uint32_t src = static_cast<uint32_t>(rng());
    const uint32_t dst = static_cast<uint32_t>(rng());
    if (seg.size() >= kTcpMinHeaderLen && round % 2 == 0) {
      // Half of them carry their right checksum, so both verdicts are exercised.
      seg[16] = seg[17] = 0;
      set_tcp_checksum(seg.data(), tcp_checksum_ipv4(src, dst, seg));
    }
    const bool right = tcp_checksum_ipv4(src, dst, seg) == 0;
    ASSERT_EQ(verify_tcp_checksum_ipv4(src, dst, seg), right ? TcpError::kOk : TcpError::kBadChecksum)
        << round << " size " << seg.size();
  }
}

TEST(TcpHeaderTest, OffloadPseudoChecksum) {
  // The NIC completes the sum: pseudo-header sum (not complemented) in the field, then the
  // ones-complement sum over the segment, complemented, must be the full checksum.
  std::vector<uint8_t> seg(kSynFrame.begin() + 34, kSynFrame.end());
  set_tcp_offload_pseudo_checksum_ipv4(seg.data(), kClientIp, kServerIp,
                                       static_cast<uint16_t>(seg.size()));
  EXPECT_EQ(base::load_be16(seg.data() + 16), 0x1431);  // 0a00+0001+0a00+0002+0006+0028
  EXPECT_EQ(checksum_fold(checksum_add(seg.data(), seg.size())), 0x66ef);
}

}  // namespace
}  // namespace linetcp::wire
