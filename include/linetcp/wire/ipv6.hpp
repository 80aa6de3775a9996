// IPv6 (RFC 8200): addresses and prefixes, a validating view over a received packet that skips
// extension headers (a bounded number), the 40-byte header builder, and the IPv6 pseudo-header
// sum for TCP and ICMPv6 checksums.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "linetcp/base/byte_order.hpp"
#include "linetcp/wire/ethernet.hpp"

namespace linetcp::wire {

inline constexpr std::size_t kIpv6HeaderLen = 40;
inline constexpr uint8_t kIpProtoHopByHop = 0;
inline constexpr uint8_t kIpProtoRouting = 43;
inline constexpr uint8_t kIpProtoFragment = 44;
inline constexpr uint8_t kIpProtoEsp = 50;
inline constexpr uint8_t kIpProtoAh = 51;
inline constexpr uint8_t kIpProtoIcmpv6 = 58;
inline constexpr uint8_t kIpProtoNoNext = 59;
inline constexpr uint8_t kIpProtoDestOpts = 60;
// Extension headers skipped before giving up: real traffic has one or two; a chain of hundreds
// is an attack on the parser (RFC 8200 §4 sets no limit; RFC 7112 wants the chain in one frame).
inline constexpr int kIpv6MaxExtensionHeaders = 8;

struct Ipv6Addr {
  std::array<uint8_t, 16> bytes{};  // network order, as on the wire

  // RFC 4291 §2.2 text: eight groups of up to four hex digits, one "::" for a run of zero groups,
  // an embedded dotted quad as the last 32 bits. nullopt otherwise.
  static std::optional<Ipv6Addr> parse(std::string_view text);
  static Ipv6Addr from_bytes(const uint8_t* p) {
    Ipv6Addr a;
    std::memcpy(a.bytes.data(), p, 16);
    return a;
  }
  // RFC 5952 canonical text: lower case, longest zero run (of two or more groups) as "::".
  std::string to_string() const;

  bool is_unspecified() const { return *this == Ipv6Addr{}; }
  bool is_multicast() const { return bytes[0] == 0xff; }
  bool is_link_local() const { return bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0x80; }
  bool is_loopback() const {
    Ipv6Addr l;
    l.bytes[15] = 1;
    return *this == l;
  }
  bool is_v4_mapped() const {
    static constexpr uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return std::memcmp(bytes.data(), kPrefix, 12) == 0;
  }
  // ff02::1:ffXX:XXXX, the solicited-node multicast group of this address (RFC 4291 §2.7.1).
  Ipv6Addr solicited_node() const {
    Ipv6Addr m;
    m.bytes[0] = 0xff;
    m.bytes[1] = 0x02;
    m.bytes[11] = 0x01;
    m.bytes[12] = 0xff;
    m.bytes[13] = bytes[13];
    m.bytes[14] = bytes[14];
    m.bytes[15] = bytes[15];
    return m;
  }
  // 33:33 + the low 32 bits: the Ethernet group a multicast address maps to (RFC 2464 §7).
  MacAddr multicast_mac() const {
    return MacAddr{{0x33, 0x33, bytes[12], bytes[13], bytes[14], bytes[15]}};
  }
  // fe80::/64 with the modified EUI-64 interface id of `mac` (RFC 4291 appendix A).
  static Ipv6Addr link_local_from_mac(const MacAddr& mac);
  // The four 32-bit words xor-ed together: a cheap fold for hashing (not unique).
  uint32_t fold() const {
    return base::load_be32(bytes.data()) ^ base::load_be32(bytes.data() + 4) ^
           base::load_be32(bytes.data() + 8) ^ base::load_be32(bytes.data() + 12);
  }
  auto operator<=>(const Ipv6Addr&) const = default;
};

inline const Ipv6Addr kIpv6AllNodes = [] {
  Ipv6Addr a;
  a.bytes[0] = 0xff;
  a.bytes[1] = 0x02;
  a.bytes[15] = 0x01;
  return a;
}();

struct Ipv6Prefix {
  Ipv6Addr addr;  // as written: an interface address keeps its host bits
  uint8_t length = 0;  // 0..128

  // "2001:db8::2/64"; the "/length" part is required.
  static std::optional<Ipv6Prefix> parse(std::string_view text);
  std::string to_string() const;
  bool contains(const Ipv6Addr& a) const;
  bool operator==(const Ipv6Prefix&) const = default;
};

enum class Ipv6Error : uint8_t {
  kOk,
  kTooShort,          // fewer than 40 bytes
  kBadVersion,        // version field is not 6
  kBadPayloadLength,  // payload length runs past the buffer (jumbograms are not supported)
  kBadExtension,      // an extension header runs past the payload, or the chain is too long
  kFragment,          // a Fragment header: we do not reassemble
};

const char* to_string(Ipv6Error e);

class Ipv6View {
 public:
  Ipv6View() = default;

  // Validates `packet` (what follows the Ethernet header, possibly with Ethernet padding after
  // the datagram), skips Hop-by-Hop, Routing and Destination Options headers (at most
  // kIpv6MaxExtensionHeaders), and fills `out` with the upper-layer protocol and payload. On any
  // error `out` is left unchanged.
  static Ipv6Error parse(std::span<const uint8_t> packet, Ipv6View& out);

  Ipv6Addr src() const { return Ipv6Addr::from_bytes(header_ + 8); }
  Ipv6Addr dst() const { return Ipv6Addr::from_bytes(header_ + 24); }
  const uint8_t* src_bytes() const { return header_ + 8; }
  const uint8_t* dst_bytes() const { return header_ + 24; }
  uint8_t hop_limit() const { return header_[7]; }
  uint8_t traffic_class() const {
    return static_cast<uint8_t>(((header_[0] & 0x0f) << 4) | (header_[1] >> 4));
  }
  // The upper-layer protocol after any extension headers (kIpProtoTcp, kIpProtoIcmpv6, ...).
  uint8_t protocol() const { return protocol_; }
  // The upper-layer payload, trimmed to the payload length (Ethernet padding excluded).
  std::span<const uint8_t> payload() const { return payload_; }
  // How many bytes of extension headers were skipped.
  std::size_t extension_length() const { return extension_length_; }

 private:
  const uint8_t* header_ = nullptr;
  std::span<const uint8_t> payload_;
  std::size_t extension_length_ = 0;
  uint8_t protocol_ = 0;
};

// Writes a 40-byte IPv6 header at `p`, no extension headers.
void write_ipv6_header(uint8_t* p, const Ipv6Addr& src, const Ipv6Addr& dst, uint8_t next_header,
                       uint16_t payload_length, uint8_t hop_limit, uint8_t traffic_class = 0);

// Partial sum of the IPv6 pseudo header (RFC 8200 §8.1): both addresses, the upper-layer
// length (32 bits) and the next header (32 bits). Not folded, not complemented.
uint32_t pseudo_header_sum_ipv6(const uint8_t* src16, const uint8_t* dst16, uint8_t next_header,
                                uint32_t upper_length);

// Checksum of an upper-layer message (TCP segment, ICMPv6 message) over IPv6, taking the checksum
// field as it is: 0 over a received message whose checksum is right, the value to store over one
// whose checksum field is zero (as tcp_checksum_ipv4).
uint16_t upper_checksum_ipv6(const uint8_t* src16, const uint8_t* dst16, uint8_t next_header,
                             std::span<const uint8_t> message);

}  // namespace linetcp::wire
