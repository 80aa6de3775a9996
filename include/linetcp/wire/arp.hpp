// ARP (RFC 826) for Ethernet and IPv4 only: a view over a received packet and its builder.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "linetcp/base/byte_order.hpp"
#include "linetcp/wire/ethernet.hpp"
#include "linetcp/wire/ipv4.hpp"

namespace linetcp::wire {

inline constexpr std::size_t kArpLen = 28;
inline constexpr uint16_t kArpRequest = 1;
inline constexpr uint16_t kArpReply = 2;
inline constexpr uint16_t kArpHtypeEthernet = 1;

class ArpView {
 public:
  // nullopt unless it is an Ethernet/IPv4 ARP packet (htype 1, ptype 0x0800, hlen 6, plen 4) of
  // at least 28 bytes. The operation is not checked: callers ignore ops they do not handle.
  static std::optional<ArpView> parse(std::span<const uint8_t> packet);

  uint16_t op() const { return base::load_be16(p_ + 6); }
  MacAddr sender_mac() const { return MacAddr::from_bytes(p_ + 8); }
  Ipv4Addr sender_ip() const { return Ipv4Addr{base::load_be32(p_ + 14)}; }
  MacAddr target_mac() const { return MacAddr::from_bytes(p_ + 18); }
  Ipv4Addr target_ip() const { return Ipv4Addr{base::load_be32(p_ + 24)}; }

 private:
  explicit ArpView(const uint8_t* p) : p_(p) {}
  const uint8_t* p_;
};

// Writes a 28-byte Ethernet/IPv4 ARP packet at `p`.
void write_arp(uint8_t* p, uint16_t op, const MacAddr& sender_mac, Ipv4Addr sender_ip,
               const MacAddr& target_mac, Ipv4Addr target_ip);

}  // namespace linetcp::wire
