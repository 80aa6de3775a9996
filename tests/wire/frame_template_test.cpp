// Tests of the prebuilt Ethernet + IPv4 headers: the same bytes as the field-by-field builders,
// tagged and untagged, a checksum that verifies, and nothing written past the headers.
#include "linetcp/wire/frame_template.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstring>

#include "linetcp/wire/checksum.hpp"
#include "linetcp/wire/ethernet.hpp"
#include "linetcp/wire/ipv4.hpp"
#include "linetcp/wire/vlan.hpp"

namespace linetcp::wire {
namespace {

const MacAddr kSrc{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
const MacAddr kDst{{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};

// What write() must produce, built the slow way.
std::array<uint8_t, 64> reference(uint16_t vlan, uint32_t src, uint32_t dst, uint16_t payload, bool checksum) {
  std::array<uint8_t, 64> f{};
  f.fill(0xee);
  std::size_t l2 = kEthHeaderLen;
  if (vlan == 0) {
    write_ethernet(f.data(), kDst, kSrc, kEtherTypeIpv4);
  } else {
    write_ethernet(f.data(), kDst, kSrc, kEtherTypeVlan);
    write_vlan_tag(f.data() + kEthHeaderLen, vlan, kEtherTypeIpv4);
    l2 += 4;
  }
  write_ipv4_header(f.data() + l2, Ipv4Addr{src}, Ipv4Addr{dst}, kIpProtoTcp, payload, 64, 0, 0x28, true, checksum);
  return f;
}

TEST(Ipv4FrameTemplateTest, SameBytesAsTheBuildersAndNothingPastThem) {
  for (const uint16_t vlan : {uint16_t{0}, uint16_t{0x0064}, uint16_t{0xefff}}) {
    const Ipv4FrameTemplate t(kSrc, vlan, kIpProtoTcp, 64, 0x28, true);
    EXPECT_EQ(t.l2_len(), vlan == 0 ? 14u : 18u);
    EXPECT_EQ(t.headers_len(), t.l2_len() + 20);
    uint32_t x = 12345;
    for (int round = 0; round < 300; ++round) {
      x = x * 1664525 + 1013904223;
      const uint32_t src = round == 0 ? 0xffffffff : x;
      const uint32_t dst = round == 0 ? 0xffffffff : x * 2654435761u;
      const auto payload = static_cast<uint16_t>(round == 0 ? 0xffff - 20 : x % 1481);
      for (const bool checksum : {true, false}) {
        std::array<uint8_t, 64> f{};
        f.fill(0xee);  // whatever follows the headers (a TCP header) must survive
        const uint32_t addresses = t.write(f.data(), kDst, src, dst, payload, checksum);
        ASSERT_EQ(f, reference(vlan, src, dst, payload, checksum)) << vlan << " " << round;
        EXPECT_EQ(addresses, checksum_word32(src) + checksum_word32(dst));
        if (checksum) {
          EXPECT_EQ(checksum_fold(checksum_add(f.data() + t.l2_len(), 20)), 0);
        }
      }
    }
  }
}

}  // namespace
}  // namespace linetcp::wire
