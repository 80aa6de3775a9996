// ICMPv6 (RFC 4443) and Neighbor Discovery (RFC 4861): a checksum-verifying view, the echo reply,
// and neighbour solicitation / advertisement with their link-layer address options.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "linetcp/base/byte_order.hpp"
#include "linetcp/wire/ethernet.hpp"
#include "linetcp/wire/ipv6.hpp"

namespace linetcp::wire {

inline constexpr std::size_t kIcmpv6HeaderLen = 8;
inline constexpr uint8_t kIcmpv6DestUnreachable = 1;
inline constexpr uint8_t kIcmpv6PacketTooBig = 2;
inline constexpr uint8_t kIcmpv6TimeExceeded = 3;
inline constexpr uint8_t kIcmpv6ParamProblem = 4;
inline constexpr uint8_t kIcmpv6EchoRequest = 128;
inline constexpr uint8_t kIcmpv6EchoReply = 129;
inline constexpr uint8_t kIcmpv6RouterSolicitation = 133;
inline constexpr uint8_t kIcmpv6RouterAdvertisement = 134;
inline constexpr uint8_t kIcmpv6NeighborSolicitation = 135;
inline constexpr uint8_t kIcmpv6NeighborAdvertisement = 136;
inline constexpr uint8_t kNdOptSourceLinkAddr = 1;
inline constexpr uint8_t kNdOptTargetLinkAddr = 2;
// NS or NA with one link-layer address option: 24 + 8 bytes.
inline constexpr std::size_t kNdMessageLen = 32;
inline constexpr uint8_t kNdHopLimit = 255;  // RFC 4861 §7.1.1: anything else was forwarded

class Icmpv6View {
 public:
  // nullopt if shorter than 8 bytes or, when asked, if the checksum (over the IPv6 pseudo header
  // of `ip` and the whole message) does not verify. `icmp` is the IPv6 upper-layer payload.
  static std::optional<Icmpv6View> parse(const Ipv6View& ip, bool verify_checksum = true);

  uint8_t type() const { return msg_[0]; }
  uint8_t code() const { return msg_[1]; }
  std::span<const uint8_t> message() const { return msg_; }

 private:
  explicit Icmpv6View(std::span<const uint8_t> msg) : msg_(msg) {}
  std::span<const uint8_t> msg_;
};

// A neighbour solicitation or advertisement (RFC 4861 §4.3, §4.4), validated per §7.1.1/§7.1.2:
// code 0, at least 24 bytes, the target not multicast, every option of non-zero length and
// inside the message. The caller checks the hop limit (255) and the addresses.
class NdView {
 public:
  static std::optional<NdView> parse(const Icmpv6View& icmp);

  uint8_t type() const { return msg_[0]; }
  Ipv6Addr target() const { return Ipv6Addr::from_bytes(msg_.data() + 8); }
  // NA flags (RFC 4861 §4.4).
  bool router() const { return (msg_[4] & 0x80) != 0; }
  bool solicited() const { return (msg_[4] & 0x40) != 0; }
  bool override_flag() const { return (msg_[4] & 0x20) != 0; }
  // The source (NS) or target (NA) link-layer address option, if present.
  std::optional<MacAddr> link_addr() const { return link_addr_; }

 private:
  explicit NdView(std::span<const uint8_t> msg) : msg_(msg) {}
  std::span<const uint8_t> msg_;
  std::optional<MacAddr> link_addr_;
};

// Writes the ICMPv6 echo reply to `request` at `dst` (same id, sequence and data, type 129, code
// 0) with its checksum for the addresses it will carry; returns its length. May be made in place.
std::size_t write_icmpv6_echo_reply(uint8_t* dst, const Icmpv6View& request, const Ipv6Addr& src_ip,
                                    const Ipv6Addr& dst_ip);

// Writes a neighbour solicitation for `target` with our source link-layer address option and
// its checksum for (src_ip, dst_ip); returns kNdMessageLen.
std::size_t write_neighbor_solicitation(uint8_t* p, const Ipv6Addr& target, const MacAddr& our_mac,
                                        const Ipv6Addr& src_ip, const Ipv6Addr& dst_ip);

// Writes a neighbour advertisement for `target` (our address) with the target link-layer address
// option, the Override flag, Solicited as asked, and its checksum; returns kNdMessageLen.
std::size_t write_neighbor_advertisement(uint8_t* p, const Ipv6Addr& target, const MacAddr& our_mac,
                                         bool solicited, const Ipv6Addr& src_ip, const Ipv6Addr& dst_ip);

}  // namespace linetcp::wire
