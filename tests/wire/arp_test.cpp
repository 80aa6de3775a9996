// Tests of the ARP view and builder on a captured who-has request.
#include "linetcp/wire/arp.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace linetcp::wire {
namespace {

// "Who has 10.0.0.2? Tell 10.0.0.1" from 52:54:00:12:34:56, as Linux sends it.
const std::vector<uint8_t> kRequest = {0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x52, 0x54,
                                       0x00, 0x12, 0x34, 0x56, 0x0a, 0x00, 0x00, 0x01, 0x00, 0x00,
                                       0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x02};

TEST(ArpTest, ParsesRequest) {
  auto arp = ArpView::parse(kRequest);
  ASSERT_TRUE(arp.has_value());
  EXPECT_EQ(arp->op(), kArpRequest);
  EXPECT_EQ(arp->sender_mac().to_string(), "52:54:00:12:34:56");
  EXPECT_EQ(arp->sender_ip().to_string(), "10.0.0.1");
  EXPECT_EQ(arp->target_mac(), MacAddr{});
  EXPECT_EQ(arp->target_ip().to_string(), "10.0.0.2");
}

TEST(ArpTest, EthernetPaddingAccepted) {
  auto padded = kRequest;
  padded.resize(46, 0);  // minimum frame payload
  EXPECT_TRUE(ArpView::parse(padded).has_value());
}

TEST(ArpTest, RejectsOtherProtocolsAndShortPackets) {
  EXPECT_FALSE(ArpView::parse(std::span(kRequest).first(27)));
  for (std::size_t at : {1u, 2u, 4u, 5u}) {  // htype, ptype, hlen, plen
    auto bad = kRequest;
    bad[at] ^= 0x01;
    EXPECT_FALSE(ArpView::parse(bad)) << "byte " << at;
  }
}

TEST(ArpTest, BuildReproducesRequestAndReplyRoundTrips) {
  uint8_t buf[kArpLen];
  write_arp(buf, kArpRequest, *MacAddr::parse("52:54:00:12:34:56"), Ipv4Addr{0x0a000001}, MacAddr{},
            Ipv4Addr{0x0a000002});
  EXPECT_EQ(std::memcmp(buf, kRequest.data(), kArpLen), 0);

  const MacAddr ours = *MacAddr::parse("02:00:00:00:00:02");
  write_arp(buf, kArpReply, ours, Ipv4Addr{0x0a000002}, *MacAddr::parse("52:54:00:12:34:56"),
            Ipv4Addr{0x0a000001});
  auto reply = ArpView::parse(buf);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->op(), kArpReply);
  EXPECT_EQ(reply->sender_mac(), ours);
  EXPECT_EQ(reply->sender_ip().value, 0x0a000002u);
  EXPECT_EQ(reply->target_mac().to_string(), "52:54:00:12:34:56");
  EXPECT_EQ(reply->target_ip().value, 0x0a000001u);
}

}  // namespace
}  // namespace linetcp::wire
