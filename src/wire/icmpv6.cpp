// ICMPv6 message validation, the echo reply and the Neighbor Discovery builders.
#include "linetcp/wire/icmpv6.hpp"

#include <cstring>

#include "linetcp/wire/checksum.hpp"

namespace linetcp::wire {
namespace {

void fill_checksum(uint8_t* msg, std::size_t len, const Ipv6Addr& src, const Ipv6Addr& dst) {
  base::store_be16(msg + 2, 0);
  base::store_be16(msg + 2, upper_checksum_ipv6(src.bytes.data(), dst.bytes.data(), kIpProtoIcmpv6, {msg, len}));
}

std::size_t write_nd(uint8_t* p, uint8_t type, uint8_t flags, const Ipv6Addr& target, uint8_t option,
                     const MacAddr& mac, const Ipv6Addr& src, const Ipv6Addr& dst) {
  p[0] = type;
  p[1] = 0;
  p[4] = flags;
  p[5] = p[6] = p[7] = 0;
  std::memcpy(p + 8, target.bytes.data(), 16);
  p[24] = option;
  p[25] = 1;  // 8 bytes
  std::memcpy(p + 26, mac.bytes.data(), kMacLen);
  fill_checksum(p, kNdMessageLen, src, dst);
  return kNdMessageLen;
}

}  // namespace

std::optional<Icmpv6View> Icmpv6View::parse(const Ipv6View& ip, bool verify_checksum) {
  const std::span<const uint8_t> msg = ip.payload();
  if (msg.size() < kIcmpv6HeaderLen) return std::nullopt;
  // RFC 4443 §2.3: the checksum is mandatory and covers the pseudo header.
  if (verify_checksum && upper_checksum_ipv6(ip.src_bytes(), ip.dst_bytes(), kIpProtoIcmpv6, msg) != 0)
    return std::nullopt;
  return Icmpv6View(msg);
}

std::optional<NdView> NdView::parse(const Icmpv6View& icmp) {
  const std::span<const uint8_t> msg = icmp.message();
  if (icmp.code() != 0 || msg.size() < 24) return std::nullopt;
  if (icmp.type() != kIcmpv6NeighborSolicitation && icmp.type() != kIcmpv6NeighborAdvertisement)
    return std::nullopt;
  NdView v(msg);
  if (v.target().is_multicast()) return std::nullopt;
  const uint8_t wanted = icmp.type() == kIcmpv6NeighborSolicitation ? kNdOptSourceLinkAddr : kNdOptTargetLinkAddr;
  // Options: type, length in 8-byte units (0 is invalid, RFC 4861 §4.6), at most until the end.
  std::span<const uint8_t> opts = msg.subspan(24);
  while (!opts.empty()) {
    if (opts.size() < 2 || opts[1] == 0) return std::nullopt;
    const std::size_t len = std::size_t{opts[1]} * 8;
    if (len > opts.size()) return std::nullopt;
    if (opts[0] == wanted && len >= 8) v.link_addr_ = MacAddr::from_bytes(opts.data() + 2);
    opts = opts.subspan(len);
  }
  return v;
}

std::size_t write_icmpv6_echo_reply(uint8_t* dst, const Icmpv6View& request, const Ipv6Addr& src_ip,
                                    const Ipv6Addr& dst_ip) {
  const std::span<const uint8_t> msg = request.message();
  std::memmove(dst + 4, msg.data() + 4, msg.size() - 4);
  dst[0] = kIcmpv6EchoReply;
  dst[1] = 0;
  fill_checksum(dst, msg.size(), src_ip, dst_ip);
  return msg.size();
}

std::size_t write_neighbor_solicitation(uint8_t* p, const Ipv6Addr& target, const MacAddr& our_mac,
                                        const Ipv6Addr& src_ip, const Ipv6Addr& dst_ip) {
  return write_nd(p, kIcmpv6NeighborSolicitation, 0, target, kNdOptSourceLinkAddr, our_mac, src_ip, dst_ip);
}

std::size_t write_neighbor_advertisement(uint8_t* p, const Ipv6Addr& target, const MacAddr& our_mac,
                                         bool solicited, const Ipv6Addr& src_ip, const Ipv6Addr& dst_ip) {
  const uint8_t flags = static_cast<uint8_t>(0x20 | (solicited ? 0x40 : 0));  // Override, Solicited
  return write_nd(p, kIcmpv6NeighborAdvertisement, flags, target, kNdOptTargetLinkAddr, our_mac, src_ip, dst_ip);
}

}  // namespace linetcp::wire
