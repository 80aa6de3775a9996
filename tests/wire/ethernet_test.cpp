// Tests of MAC addresses and the Ethernet header view and builder.
#include "linetcp/wire/ethernet.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstring>

namespace linetcp::wire {
namespace {

TEST(MacAddrTest, ParsesAndPrints) {
  auto mac = MacAddr::parse("02:1A:b3:00:ff:09");
  ASSERT_TRUE(mac.has_value());
  EXPECT_EQ(mac->bytes, (std::array<uint8_t, 6>{0x02, 0x1a, 0xb3, 0x00, 0xff, 0x09}));
  EXPECT_EQ(mac->to_string(), "02:1a:b3:00:ff:09");
  EXPECT_EQ(MacAddr::parse("02-1a-b3-00-ff-09"), mac);
}

TEST(MacAddrTest, RejectsMalformedText) {
  EXPECT_FALSE(MacAddr::parse(""));
  EXPECT_FALSE(MacAddr::parse("02:1a:b3:00:ff"));        // five groups
  EXPECT_FALSE(MacAddr::parse("02:1a:b3:00:ff:09:"));    // trailing separator
  EXPECT_FALSE(MacAddr::parse("02:1a:b3:00:ff:0g"));     // not hex
  EXPECT_FALSE(MacAddr::parse("02:1a-b3:00:ff:09"));     // mixed separators
  EXPECT_FALSE(MacAddr::parse("2:1a:b3:00:ff:099"));     // group widths
  EXPECT_FALSE(MacAddr::parse("02.1a.b3.00.ff.09"));     // separator
}

TEST(MacAddrTest, Classification) {
  constexpr MacAddr bcast = MacAddr::broadcast();
  static_assert(bcast.is_broadcast());
  EXPECT_EQ(bcast.to_string(), "ff:ff:ff:ff:ff:ff");
  EXPECT_TRUE(bcast.is_multicast());
  const MacAddr mcast = *MacAddr::parse("01:00:5e:00:00:01");
  EXPECT_TRUE(mcast.is_multicast());
  EXPECT_FALSE(mcast.is_broadcast());
  const MacAddr unicast = *MacAddr::parse("02:00:00:00:00:01");
  EXPECT_FALSE(unicast.is_multicast());
  EXPECT_FALSE(unicast.is_broadcast());
  EXPECT_FALSE(unicast == mcast);
  EXPECT_TRUE(MacAddr{}.is_zero());
}

TEST(EthernetViewTest, ParsesHeader) {
  const uint8_t frame[] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00,
                           0x00, 0x01, 0x08, 0x06, 0xde, 0xad};
  auto eth = EthernetView::parse(frame);
  ASSERT_TRUE(eth.has_value());
  EXPECT_EQ(eth->dst().to_string(), "02:00:00:00:00:02");
  EXPECT_EQ(eth->src().to_string(), "02:00:00:00:00:01");
  EXPECT_EQ(eth->ether_type(), kEtherTypeArp);
  ASSERT_EQ(eth->payload().size(), 2u);
  EXPECT_EQ(eth->payload().data(), frame + 14);
  EXPECT_EQ(eth->payload()[0], 0xde);
}

TEST(EthernetViewTest, HeaderOnlyAndTooShort) {
  const uint8_t frame[14] = {};
  auto eth = EthernetView::parse(frame);
  ASSERT_TRUE(eth.has_value());
  EXPECT_TRUE(eth->payload().empty());
  EXPECT_FALSE(EthernetView::parse(std::span<const uint8_t>(frame, 13)));
  EXPECT_FALSE(EthernetView::parse({}));
}

TEST(EthernetViewTest, BuildThenParse) {
  uint8_t frame[kEthHeaderLen];
  const MacAddr src = *MacAddr::parse("52:54:00:12:34:56");
  write_ethernet(frame, MacAddr::broadcast(), src, kEtherTypeIpv6);
  const uint8_t expected[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54,
                              0x00, 0x12, 0x34, 0x56, 0x86, 0xdd};
  EXPECT_EQ(std::memcmp(frame, expected, sizeof expected), 0);
  auto eth = EthernetView::parse(frame);
  ASSERT_TRUE(eth.has_value());
  EXPECT_TRUE(eth->dst().is_broadcast());
  EXPECT_EQ(eth->src(), src);
  EXPECT_EQ(eth->ether_type(), kEtherTypeIpv6);
}

}  // namespace
}  // namespace linetcp::wire
