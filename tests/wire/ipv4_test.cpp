// Tests of IPv4 addresses, prefixes, the validating packet view (every error it reports) and the
// header builder, on a captured SYN.
#include "linetcp/wire/ipv4.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "linetcp/wire/checksum.hpp"

namespace linetcp::wire {
namespace {

// IPv4 + TCP of a Linux SYN 10.0.0.1 -> 10.0.0.2 (id 1c46, DF, TTL 64, header checksum 0a74).
const std::vector<uint8_t> kSynPacket = {
    0x45, 0x00, 0x00, 0x3c, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x06, 0x0a, 0x74, 0x0a, 0x00, 0x00,
    0x01, 0x0a, 0x00, 0x00, 0x02, 0xb2, 0x6e, 0x00, 0x50, 0x1a, 0x2b, 0x3c, 0x4d, 0x00, 0x00,
    0x00, 0x00, 0xa0, 0x02, 0xfa, 0xf0, 0x66, 0xef, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04,
    0x02, 0x08, 0x0a, 0x00, 0x05, 0xc8, 0xe1, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07};

void refresh_checksum(std::vector<uint8_t>& packet) {
  const std::size_t header_len = std::size_t{packet[0] & 0x0fu} * 4;
  packet[10] = packet[11] = 0;
  base::store_be16(&packet[10], checksum_fold(checksum_add(packet.data(), header_len)));
}

TEST(Ipv4AddrTest, ParsesAndPrints) {
  auto a = Ipv4Addr::parse("10.0.0.1");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->value, 0x0a000001u);
  EXPECT_EQ(a->to_string(), "10.0.0.1");
  EXPECT_EQ(Ipv4Addr::parse("255.255.255.255")->value, 0xffffffffu);
  EXPECT_EQ(Ipv4Addr::parse("0.0.0.0")->value, 0u);
  EXPECT_EQ((Ipv4Addr{0xc0a801c7}).to_string(), "192.168.1.199");
}

TEST(Ipv4AddrTest, RejectsMalformedText) {
  for (const char* bad : {"", "10.0.0", "10.0.0.1.", "10.0.0.256", "10.0.0.-1", "10..0.1",
                          "10.0.0.01", "a.b.c.d", "10.0.0.1 ", " 10.0.0.1", "1000.0.0.1",
                          "10.0.0.0001"}) {
    EXPECT_FALSE(Ipv4Addr::parse(bad)) << bad;
  }
}

TEST(Ipv4AddrTest, ClassificationAndOrder) {
  EXPECT_TRUE(Ipv4Addr::parse("224.0.0.1")->is_multicast());
  EXPECT_TRUE(Ipv4Addr::parse("239.255.255.255")->is_multicast());
  EXPECT_FALSE(Ipv4Addr::parse("223.255.255.255")->is_multicast());
  EXPECT_FALSE(Ipv4Addr::parse("240.0.0.0")->is_multicast());
  EXPECT_TRUE(Ipv4Addr::parse("255.255.255.255")->is_broadcast());
  EXPECT_FALSE(Ipv4Addr::parse("10.0.0.255")->is_broadcast());
  EXPECT_LT(*Ipv4Addr::parse("9.255.255.255"), *Ipv4Addr::parse("10.0.0.0"));
  EXPECT_EQ(*Ipv4Addr::parse("10.0.0.1"), (Ipv4Addr{0x0a000001}));
}

TEST(Ipv4PrefixTest, ParsesContainsAndBroadcast) {
  auto p = Ipv4Prefix::parse("10.1.2.3/24");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->addr.value, 0x0a010203u);  // host bits kept
  EXPECT_EQ(p->length, 24);
  EXPECT_EQ(p->mask(), 0xffffff00u);
  EXPECT_EQ(p->network().to_string(), "10.1.2.0");
  EXPECT_EQ(p->directed_broadcast().to_string(), "10.1.2.255");
  EXPECT_TRUE(p->contains(*Ipv4Addr::parse("10.1.2.200")));
  EXPECT_FALSE(p->contains(*Ipv4Addr::parse("10.1.3.1")));
  EXPECT_EQ(p->to_string(), "10.1.2.3/24");
}

TEST(Ipv4PrefixTest, EdgeLengths) {
  auto all = Ipv4Prefix::parse("0.0.0.0/0");
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(all->mask(), 0u);
  EXPECT_TRUE(all->contains(*Ipv4Addr::parse("203.0.113.9")));
  EXPECT_EQ(all->directed_broadcast().value, 0xffffffffu);
  auto host = Ipv4Prefix::parse("192.0.2.7/32");
  ASSERT_TRUE(host.has_value());
  EXPECT_EQ(host->mask(), 0xffffffffu);
  EXPECT_TRUE(host->contains(*Ipv4Addr::parse("192.0.2.7")));
  EXPECT_FALSE(host->contains(*Ipv4Addr::parse("192.0.2.6")));
  EXPECT_EQ(host->directed_broadcast().to_string(), "192.0.2.7");
  EXPECT_EQ(Ipv4Prefix::parse("172.16.0.1/12")->mask(), 0xfff00000u);
}

TEST(Ipv4PrefixTest, RejectsMalformedText) {
  for (const char* bad : {"10.0.0.1", "10.0.0.1/", "10.0.0.1/33", "10.0.0.1/024", "10.0.0.1/2a",
                          "10.0.0/8", "/8", "10.0.0.1/8/8", "10.0.0.1/-1"}) {
    EXPECT_FALSE(Ipv4Prefix::parse(bad)) << bad;
  }
}

TEST(Ipv4ViewTest, ParsesCapturedSyn) {
  Ipv4View ip;
  ASSERT_EQ(Ipv4View::parse(kSynPacket, ip), Ipv4Error::kOk);
  EXPECT_EQ(ip.src().to_string(), "10.0.0.1");
  EXPECT_EQ(ip.dst().to_string(), "10.0.0.2");
  EXPECT_EQ(ip.protocol(), kIpProtoTcp);
  EXPECT_EQ(ip.ttl(), 64);
  EXPECT_EQ(ip.tos(), 0);
  EXPECT_EQ(ip.header_length(), 20u);
  EXPECT_EQ(ip.total_length(), 60);
  EXPECT_EQ(ip.id(), 0x1c46);
  EXPECT_TRUE(ip.dont_fragment());
  EXPECT_FALSE(ip.more_fragments());
  EXPECT_EQ(ip.fragment_offset(), 0);
  EXPECT_EQ(ip.header_checksum(), 0x0a74);
  EXPECT_TRUE(ip.options().empty());
  EXPECT_EQ(ip.payload().size(), 40u);
  EXPECT_EQ(ip.payload().data(), kSynPacket.data() + 20);
}

TEST(Ipv4ViewTest, EthernetPaddingIsTrimmed) {
  // A 40-byte datagram (bare ACK) in a minimum 60-byte frame carries 6 bytes of padding.
  std::vector<uint8_t> packet(46, 0xee);
  write_ipv4_header(packet.data(), Ipv4Addr{0x0a000001}, Ipv4Addr{0x0a000002}, kIpProtoTcp, 20, 64, 7);
  Ipv4View ip;
  ASSERT_EQ(Ipv4View::parse(packet, ip), Ipv4Error::kOk);
  EXPECT_EQ(ip.total_length(), 40);
  EXPECT_EQ(ip.payload().size(), 20u);
  EXPECT_EQ(ip.datagram().size(), 40u);
}

TEST(Ipv4ViewTest, OptionsAreExposedAndSkipped) {
  // RFC9293 MUST-50: a header with IP options (here a 4-byte Router Alert) still yields the TCP
  // payload after them; the options are only exposed, never interpreted.
  std::vector<uint8_t> packet(24 + 8, 0);
  packet[0] = 0x46;
  base::store_be16(&packet[2], 32);
  packet[8] = 1;
  packet[9] = kIpProtoTcp;
  packet[20] = 0x94;
  packet[21] = 0x04;
  packet[24] = 0xab;
  refresh_checksum(packet);
  Ipv4View ip;
  ASSERT_EQ(Ipv4View::parse(packet, ip), Ipv4Error::kOk);
  EXPECT_EQ(ip.header_length(), 24u);
  ASSERT_EQ(ip.options().size(), 4u);
  EXPECT_EQ(ip.options()[0], 0x94);
  ASSERT_EQ(ip.payload().size(), 8u);
  EXPECT_EQ(ip.payload()[0], 0xab);
}

TEST(Ipv4ViewTest, TooShort) {
  Ipv4View ip;
  EXPECT_EQ(Ipv4View::parse(std::span(kSynPacket).first(19), ip), Ipv4Error::kTooShort);
  EXPECT_EQ(Ipv4View::parse({}, ip), Ipv4Error::kTooShort);
}

TEST(Ipv4ViewTest, BadVersion) {
  auto packet = kSynPacket;
  packet[0] = 0x65;  // IPv6's version with an IPv4 IHL
  refresh_checksum(packet);
  Ipv4View ip;
  EXPECT_EQ(Ipv4View::parse(packet, ip), Ipv4Error::kBadVersion);
}

TEST(Ipv4ViewTest, BadHeaderLength) {
  Ipv4View ip;
  auto packet = kSynPacket;
  packet[0] = 0x44;  // IHL 4 < 5
  EXPECT_EQ(Ipv4View::parse(packet, ip), Ipv4Error::kBadHeaderLength);
  packet[0] = 0x4f;  // 60-byte header in a 24-byte buffer
  EXPECT_EQ(Ipv4View::parse(std::span(packet).first(24), ip), Ipv4Error::kBadHeaderLength);
}

TEST(Ipv4ViewTest, BadTotalLength) {
  Ipv4View ip;
  auto packet = kSynPacket;
  base::store_be16(&packet[2], 61);  // one byte more than the buffer
  refresh_checksum(packet);
  EXPECT_EQ(Ipv4View::parse(packet, ip), Ipv4Error::kBadTotalLength);
  base::store_be16(&packet[2], 19);  // less than the header
  refresh_checksum(packet);
  EXPECT_EQ(Ipv4View::parse(packet, ip), Ipv4Error::kBadTotalLength);
  base::store_be16(&packet[2], 20);  // header only: legal, empty payload
  refresh_checksum(packet);
  ASSERT_EQ(Ipv4View::parse(packet, ip), Ipv4Error::kOk);
  EXPECT_TRUE(ip.payload().empty());
}

TEST(Ipv4ViewTest, BadChecksum) {
  auto packet = kSynPacket;
  packet[8] = 63;  // TTL changed without updating the checksum
  Ipv4View ip;
  EXPECT_EQ(Ipv4View::parse(packet, ip), Ipv4Error::kBadChecksum);
  // Offloaded (already verified by the NIC): the caller skips the check.
  EXPECT_EQ(Ipv4View::parse(packet, ip, false), Ipv4Error::kOk);
  EXPECT_EQ(ip.ttl(), 63);
}

TEST(Ipv4ViewTest, Fragments) {
  Ipv4View ip;
  auto packet = kSynPacket;
  base::store_be16(&packet[6], 0x2000);  // MF, offset 0: first fragment
  refresh_checksum(packet);
  EXPECT_EQ(Ipv4View::parse(packet, ip), Ipv4Error::kFragment);
  EXPECT_EQ(ip.id(), 0x1c46);  // the view is filled for the caller's counters
  EXPECT_TRUE(ip.more_fragments());
  base::store_be16(&packet[6], 0x0001);  // last fragment at offset 8
  refresh_checksum(packet);
  EXPECT_EQ(Ipv4View::parse(packet, ip), Ipv4Error::kFragment);
  EXPECT_EQ(ip.fragment_offset(), 1);
  base::store_be16(&packet[6], 0x0000);  // DF clear, not a fragment
  refresh_checksum(packet);
  EXPECT_EQ(Ipv4View::parse(packet, ip), Ipv4Error::kOk);
  EXPECT_FALSE(ip.dont_fragment());
}

TEST(Ipv4ViewTest, ErrorNames) {
  EXPECT_STREQ(to_string(Ipv4Error::kOk), "ok");
  EXPECT_STREQ(to_string(Ipv4Error::kTooShort), "too_short");
  EXPECT_STREQ(to_string(Ipv4Error::kBadVersion), "bad_version");
  EXPECT_STREQ(to_string(Ipv4Error::kBadHeaderLength), "bad_header_length");
  EXPECT_STREQ(to_string(Ipv4Error::kBadTotalLength), "bad_total_length");
  EXPECT_STREQ(to_string(Ipv4Error::kBadChecksum), "bad_checksum");
  EXPECT_STREQ(to_string(Ipv4Error::kFragment), "fragment");
}

TEST(Ipv4BuilderTest, ReproducesCapturedHeader) {
  uint8_t header[20];
  std::memset(header, 0xcc, sizeof header);
  write_ipv4_header(header, *Ipv4Addr::parse("10.0.0.1"), *Ipv4Addr::parse("10.0.0.2"),
                    kIpProtoTcp, 40, 64, 0x1c46);
  EXPECT_EQ(std::memcmp(header, kSynPacket.data(), sizeof header), 0);
}

TEST(Ipv4BuilderTest, ChecksumFromTheValuesVerifies) {
  // The builder sums the field values instead of the stored bytes; over the bytes the header
  // must still verify, whatever the fields.
  uint32_t x = 0x9e3779b9;
  for (int round = 0; round < 1000; ++round) {
    x = x * 1664525 + 1013904223;
    uint8_t header[20];
    const bool df = round % 2 == 0;
    write_ipv4_header(header, Ipv4Addr{round == 0 ? 0xffffffff : x}, Ipv4Addr{~x}, static_cast<uint8_t>(x >> 3),
                      static_cast<uint16_t>(round == 0 ? 0xffff - 20 : x % 1480), static_cast<uint8_t>(x >> 11),
                      static_cast<uint16_t>(x >> 16), static_cast<uint8_t>(x >> 24), df, true);
    ASSERT_EQ(checksum_fold(checksum_add(header, sizeof header)), 0) << round;
  }
}

TEST(Ipv4BuilderTest, OptionsOfTheBuilder) {
  std::vector<uint8_t> packet(20 + 3);
  write_ipv4_header(packet.data(), Ipv4Addr{0xc0000201}, Ipv4Addr{0xc0000202}, kIpProtoIcmp, 3, 255,
                    0xbeef, 0x10, false, false);
  EXPECT_EQ(packet[10], 0);  // checksum left for the NIC
  EXPECT_EQ(packet[11], 0);
  EXPECT_EQ(packet[6], 0);   // no DF
  Ipv4View ip;
  EXPECT_EQ(Ipv4View::parse(packet, ip), Ipv4Error::kBadChecksum);
  ASSERT_EQ(Ipv4View::parse(packet, ip, false), Ipv4Error::kOk);
  EXPECT_EQ(ip.tos(), 0x10);
  EXPECT_EQ(ip.ttl(), 255);
  EXPECT_EQ(ip.id(), 0xbeef);
  EXPECT_EQ(ip.protocol(), kIpProtoIcmp);
  EXPECT_EQ(ip.total_length(), 23);
  EXPECT_FALSE(ip.dont_fragment());
}

}  // namespace
}  // namespace linetcp::wire
