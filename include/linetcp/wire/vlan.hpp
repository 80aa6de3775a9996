// IEEE 802.1Q VLAN tags: a view over the 4 bytes that follow the MAC addresses of a tagged frame
// (after EtherType 0x8100) and their builder.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "linetcp/base/byte_order.hpp"

namespace linetcp::wire {

inline constexpr std::size_t kVlanTagLen = 4;

class VlanView {
 public:
  // `payload` is what follows the 14-byte Ethernet header of a frame whose EtherType is 0x8100:
  // the tag control information, the inner EtherType, then the inner payload. nullopt if shorter
  // than the tag.
  static std::optional<VlanView> parse(std::span<const uint8_t> payload) {
    if (payload.size() < kVlanTagLen) return std::nullopt;
    return VlanView(payload);
  }

  uint16_t tci() const { return base::load_be16(p_.data()); }
  uint16_t vlan_id() const { return tci() & 0x0fff; }  // 0: priority-tagged only
  uint8_t priority() const { return static_cast<uint8_t>(tci() >> 13); }
  bool drop_eligible() const { return (tci() & 0x1000) != 0; }
  uint16_t inner_type() const { return base::load_be16(p_.data() + 2); }
  std::span<const uint8_t> inner_payload() const { return p_.subspan(kVlanTagLen); }

 private:
  explicit VlanView(std::span<const uint8_t> p) : p_(p) {}
  std::span<const uint8_t> p_;
};

// Writes the 4 bytes of a tag at `p` (right after an Ethernet header whose EtherType is 0x8100).
inline void write_vlan_tag(uint8_t* p, uint16_t tci, uint16_t inner_type) {
  base::store_be16(p, tci);
  base::store_be16(p + 2, inner_type);
}

}  // namespace linetcp::wire
