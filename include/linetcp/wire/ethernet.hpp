// Ethernet II frames: MAC addresses, a view over a received frame's header, and its builder.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "linetcp/base/byte_order.hpp"

namespace linetcp::wire {

inline constexpr std::size_t kEthHeaderLen = 14;
inline constexpr std::size_t kMacLen = 6;
inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr uint16_t kEtherTypeArp = 0x0806;
inline constexpr uint16_t kEtherTypeVlan = 0x8100;
inline constexpr uint16_t kEtherTypeIpv6 = 0x86DD;

struct MacAddr {
  std::array<uint8_t, kMacLen> bytes{};

  // "aa:bb:cc:dd:ee:ff" (either case, '-' also accepted as separator); nullopt otherwise.
  static std::optional<MacAddr> parse(std::string_view text);
  static constexpr MacAddr broadcast() { return MacAddr{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}; }
  static MacAddr from_bytes(const uint8_t* p) {
    MacAddr m;
    for (std::size_t i = 0; i < kMacLen; ++i) m.bytes[i] = p[i];
    return m;
  }

  std::string to_string() const;  // lower-case "aa:bb:cc:dd:ee:ff"
  constexpr bool is_broadcast() const { return *this == broadcast(); }
  // Group bit set. Broadcast is a multicast address too.
  constexpr bool is_multicast() const { return (bytes[0] & 0x01) != 0; }
  constexpr bool is_zero() const { return *this == MacAddr{}; }
  constexpr bool operator==(const MacAddr&) const = default;
};

class EthernetView {
 public:
  // nullopt if the frame is shorter than an Ethernet header.
  static std::optional<EthernetView> parse(std::span<const uint8_t> frame) {
    if (frame.size() < kEthHeaderLen) return std::nullopt;
    return EthernetView(frame);
  }

  MacAddr dst() const { return MacAddr::from_bytes(frame_.data()); }
  MacAddr src() const { return MacAddr::from_bytes(frame_.data() + 6); }
  // Raw EtherType: a VLAN tag shows up as kEtherTypeVlan (ports strip tags in hardware).
  uint16_t ether_type() const { return base::load_be16(frame_.data() + 12); }
  std::span<const uint8_t> payload() const { return frame_.subspan(kEthHeaderLen); }
  std::span<const uint8_t> frame() const { return frame_; }

 private:
  explicit EthernetView(std::span<const uint8_t> frame) : frame_(frame) {}
  std::span<const uint8_t> frame_;
};

// Writes a 14-byte Ethernet II header at `p`.
void write_ethernet(uint8_t* p, const MacAddr& dst, const MacAddr& src, uint16_t ether_type);

}  // namespace linetcp::wire
