// ARP packet validation and the ARP builder.
#include "linetcp/wire/arp.hpp"

#include <cstring>

namespace linetcp::wire {

std::optional<ArpView> ArpView::parse(std::span<const uint8_t> packet) {
  if (packet.size() < kArpLen) return std::nullopt;
  const uint8_t* p = packet.data();
  if (base::load_be16(p) != kArpHtypeEthernet || base::load_be16(p + 2) != kEtherTypeIpv4 ||
      p[4] != kMacLen || p[5] != 4) {
    return std::nullopt;
  }
  return ArpView(p);
}

void write_arp(uint8_t* p, uint16_t op, const MacAddr& sender_mac, Ipv4Addr sender_ip,
               const MacAddr& target_mac, Ipv4Addr target_ip) {
  base::store_be16(p, kArpHtypeEthernet);
  base::store_be16(p + 2, kEtherTypeIpv4);
  p[4] = kMacLen;
  p[5] = 4;
  base::store_be16(p + 6, op);
  std::memcpy(p + 8, sender_mac.bytes.data(), kMacLen);
  base::store_be32(p + 14, sender_ip.value);
  std::memcpy(p + 18, target_mac.bytes.data(), kMacLen);
  base::store_be32(p + 24, target_ip.value);
}

}  // namespace linetcp::wire
