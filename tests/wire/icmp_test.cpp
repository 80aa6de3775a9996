// Tests of the ICMP view and the echo reply builder.
#include "linetcp/wire/icmp.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace linetcp::wire {
namespace {

// Echo request id 0x1234 seq 1 with 9 bytes of data "abcdefghi" (odd length), checksum eb34.
const std::vector<uint8_t> kEchoRequest = {0x08, 0x00, 0xeb, 0x34, 0x12, 0x34, 0x00, 0x01, 0x61,
                                           0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69};

TEST(IcmpTest, ParsesEchoRequest) {
  auto icmp = IcmpView::parse(kEchoRequest);
  ASSERT_TRUE(icmp.has_value());
  EXPECT_EQ(icmp->type(), kIcmpEchoRequest);
  EXPECT_EQ(icmp->code(), 0);
  EXPECT_EQ(icmp->checksum(), 0xeb34);
  EXPECT_EQ(icmp->rest_of_header(), 0x12340001u);
  EXPECT_EQ(icmp->echo_id(), 0x1234);
  EXPECT_EQ(icmp->echo_seq(), 1);
  ASSERT_EQ(icmp->body().size(), 9u);
  EXPECT_EQ(icmp->body()[8], 'i');
}

TEST(IcmpTest, RejectsShortAndBadChecksum) {
  EXPECT_FALSE(IcmpView::parse(std::span(kEchoRequest).first(7)));
  auto bad = kEchoRequest;
  bad[16] = 'j';  // the last, odd byte is covered by the checksum
  EXPECT_FALSE(IcmpView::parse(bad));
  EXPECT_TRUE(IcmpView::parse(bad, false));
}

TEST(IcmpTest, HeaderOnlyMessage) {
  // Source quench with an empty body: 8 bytes, checksum over them.
  const std::vector<uint8_t> quench = {0x04, 0x00, 0xfb, 0xff, 0x00, 0x00, 0x00, 0x00};
  auto icmp = IcmpView::parse(quench);
  ASSERT_TRUE(icmp.has_value());
  EXPECT_EQ(icmp->type(), kIcmpSourceQuench);
  EXPECT_TRUE(icmp->body().empty());
}

TEST(IcmpTest, EchoReply) {
  auto request = IcmpView::parse(kEchoRequest);
  ASSERT_TRUE(request.has_value());
  std::vector<uint8_t> reply(64, 0xcc);
  ASSERT_EQ(write_icmp_echo_reply(reply.data(), *request), kEchoRequest.size());
  const std::vector<uint8_t> expected = {0x00, 0x00, 0xf3, 0x34, 0x12, 0x34, 0x00, 0x01, 0x61,
                                         0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69};
  reply.resize(expected.size());
  EXPECT_EQ(reply, expected);
  auto parsed = IcmpView::parse(reply);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->type(), kIcmpEchoReply);
}

TEST(IcmpTest, EchoReplyInPlace) {
  auto packet = kEchoRequest;
  auto request = IcmpView::parse(packet);
  ASSERT_TRUE(request.has_value());
  ASSERT_EQ(write_icmp_echo_reply(packet.data(), *request), packet.size());
  EXPECT_EQ(packet[0], kIcmpEchoReply);
  EXPECT_EQ(packet[2], 0xf3);
  EXPECT_EQ(packet[3], 0x34);
  EXPECT_EQ(packet[16], 'i');
}

}  // namespace
}  // namespace linetcp::wire
