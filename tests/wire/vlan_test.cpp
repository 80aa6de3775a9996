// 802.1Q tag view and builder.
#include "linetcp/wire/vlan.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "linetcp/wire/ethernet.hpp"

namespace linetcp::wire {
namespace {

TEST(VlanView, ReadsPriorityDropEligibleIdAndTheInnerFrame) {
  // PCP 5, DEI 1, VID 0xabc; inner IPv6; two payload bytes.
  const std::vector<uint8_t> p{0xba, 0xbc, 0x86, 0xdd, 0x11, 0x22};
  const auto v = VlanView::parse(p);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->tci(), 0xbabc);
  EXPECT_EQ(v->vlan_id(), 0xabc);
  EXPECT_EQ(v->priority(), 5);
  EXPECT_TRUE(v->drop_eligible());
  EXPECT_EQ(v->inner_type(), kEtherTypeIpv6);
  ASSERT_EQ(v->inner_payload().size(), 2u);
  EXPECT_EQ(v->inner_payload()[0], 0x11);
}

TEST(VlanView, ShorterThanTheTagIsRefused) {
  EXPECT_FALSE(VlanView::parse(std::vector<uint8_t>{0x00, 0x64, 0x08}));
  EXPECT_TRUE(VlanView::parse(std::vector<uint8_t>{0x00, 0x64, 0x08, 0x00}));  // an empty inner payload
}

TEST(VlanView, BuilderRoundTrips) {
  std::vector<uint8_t> f(kEthHeaderLen + kVlanTagLen);
  write_ethernet(f.data(), MacAddr::broadcast(), *MacAddr::parse("02:00:00:00:00:01"), kEtherTypeVlan);
  write_vlan_tag(f.data() + kEthHeaderLen, 100, kEtherTypeArp);
  EXPECT_EQ(std::vector<uint8_t>(f.begin() + 12, f.end()), (std::vector<uint8_t>{0x81, 0x00, 0x00, 0x64, 0x08, 0x06}));
  const auto eth = EthernetView::parse(f);
  ASSERT_TRUE(eth);
  EXPECT_EQ(eth->ether_type(), kEtherTypeVlan);
  const auto v = VlanView::parse(eth->payload());
  ASSERT_TRUE(v);
  EXPECT_EQ(v->vlan_id(), 100);
  EXPECT_EQ(v->priority(), 0);
  EXPECT_EQ(v->inner_type(), kEtherTypeArp);
}

}  // namespace
}  // namespace linetcp::wire
