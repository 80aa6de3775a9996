// IPv4 (RFC 791): addresses and prefixes, a validating view over a received packet, and the
// builder of the 20-byte header we send (no options, no fragmentation).
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "linetcp/base/byte_order.hpp"

namespace linetcp::wire {

inline constexpr std::size_t kIpv4MinHeaderLen = 20;
inline constexpr std::size_t kIpv4MaxHeaderLen = 60;
inline constexpr uint8_t kIpProtoIcmp = 1;
inline constexpr uint8_t kIpProtoTcp = 6;
inline constexpr uint8_t kIpProtoUdp = 17;

struct Ipv4Addr {
  uint32_t value = 0;  // host order: 10.0.0.1 is 0x0a000001

  // Dotted quad, four decimal octets 0..255 without leading zeros (which some parsers read as
  // octal); nullopt otherwise.
  static std::optional<Ipv4Addr> parse(std::string_view text);
  std::string to_string() const;
  constexpr bool is_multicast() const { return (value >> 28) == 0xe; }  // 224.0.0.0/4
  constexpr bool is_broadcast() const { return value == 0xffffffff; }   // limited broadcast only
  constexpr bool is_unspecified() const { return value == 0; }
  constexpr auto operator<=>(const Ipv4Addr&) const = default;
};

struct Ipv4Prefix {
  Ipv4Addr addr;       // as written: an interface address keeps its host bits
  uint8_t length = 0;  // 0..32

  // "10.0.0.1/24"; the "/length" part is required.
  static std::optional<Ipv4Prefix> parse(std::string_view text);
  std::string to_string() const;
  constexpr uint32_t mask() const {
    return length == 0 ? 0 : ~uint32_t{0} << (32 - (length > 32 ? 32 : length));
  }
  constexpr bool contains(Ipv4Addr a) const { return (a.value & mask()) == (addr.value & mask()); }
  constexpr Ipv4Addr network() const { return Ipv4Addr{addr.value & mask()}; }
  constexpr Ipv4Addr directed_broadcast() const { return Ipv4Addr{addr.value | ~mask()}; }
  constexpr bool operator==(const Ipv4Prefix&) const = default;
};

enum class Ipv4Error : uint8_t {
  kOk,
  kTooShort,         // fewer than 20 bytes
  kBadVersion,       // version field is not 4
  kBadHeaderLength,  // IHL < 5, or the header runs past the buffer
  kBadTotalLength,   // total length < header length, or > the buffer
  kBadChecksum,      // header checksum does not verify
  kFragment,         // MF set or fragment offset != 0: we do not reassemble
};

const char* to_string(Ipv4Error e);

class Ipv4View {
 public:
  Ipv4View() = default;

  // Validates `packet` (what follows the Ethernet header, possibly with Ethernet padding after
  // the IP datagram) and fills `out`. On kFragment `out` is filled too, so that the caller can
  // count or answer it; on any other error `out` is left unchanged.
  static Ipv4Error parse(std::span<const uint8_t> packet, Ipv4View& out, bool verify_checksum = true);

  Ipv4Addr src() const { return Ipv4Addr{base::load_be32(p() + 12)}; }
  Ipv4Addr dst() const { return Ipv4Addr{base::load_be32(p() + 16)}; }
  uint8_t protocol() const { return p()[9]; }
  uint8_t ttl() const { return p()[8]; }
  uint8_t tos() const { return p()[1]; }
  std::size_t header_length() const { return std::size_t{p()[0] & 0x0fu} * 4; }
  uint16_t total_length() const { return base::load_be16(p() + 2); }
  uint16_t id() const { return base::load_be16(p() + 4); }
  bool dont_fragment() const { return (p()[6] & 0x40) != 0; }
  bool more_fragments() const { return (p()[6] & 0x20) != 0; }
  uint16_t fragment_offset() const { return base::load_be16(p() + 6) & 0x1fff; }  // 8-byte units
  uint16_t header_checksum() const { return base::load_be16(p() + 10); }
  // IP options, if any: TCP ignores them (RFC 9293 MUST-50).
  std::span<const uint8_t> options() const {
    return datagram_.subspan(kIpv4MinHeaderLen, header_length() - kIpv4MinHeaderLen);
  }
  // The transport payload, trimmed to total_length() (Ethernet padding excluded).
  std::span<const uint8_t> payload() const { return datagram_.subspan(header_length()); }
  std::span<const uint8_t> header() const { return datagram_.first(header_length()); }
  // Header and payload, trimmed to total_length().
  std::span<const uint8_t> datagram() const { return datagram_; }

 private:
  const uint8_t* p() const { return datagram_.data(); }
  std::span<const uint8_t> datagram_;
};

// Writes a 20-byte IPv4 header at `p`: no options, total length 20 + payload_length. With
// compute_checksum false the checksum field is left zero, as checksum offload wants it.
void write_ipv4_header(uint8_t* p, Ipv4Addr src, Ipv4Addr dst, uint8_t protocol,
                       uint16_t payload_length, uint8_t ttl, uint16_t id, uint8_t tos = 0,
                       bool dont_fragment = true, bool compute_checksum = true);

}  // namespace linetcp::wire
