// The Ethernet (+ 802.1Q) and IPv4 headers of every TCP frame an endpoint sends, prebuilt once:
// a frame is a fixed-size copy plus five patched fields, and the IPv4 checksum starts from a sum
// precomputed over the fields that never change.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "linetcp/base/byte_order.hpp"
#include "linetcp/wire/checksum.hpp"
#include "linetcp/wire/ethernet.hpp"
#include "linetcp/wire/ipv4.hpp"
#include "linetcp/wire/vlan.hpp"

namespace linetcp::wire {

class Ipv4FrameTemplate {
 public:
  Ipv4FrameTemplate() = default;

  // `vlan_tci` 0: untagged; otherwise the 802.1Q tag written in software. The datagrams carry
  // `protocol`, with identification 0 and DF set when `dont_fragment`.
  Ipv4FrameTemplate(const MacAddr& src, uint16_t vlan_tci, uint8_t protocol, uint8_t ttl, uint8_t tos,
                    bool dont_fragment) {
    uint8_t* p = bytes_.data();
    if (vlan_tci == 0) {
      write_ethernet(p, MacAddr{}, src, kEtherTypeIpv4);
      l2_len_ = kEthHeaderLen;
    } else {
      write_ethernet(p, MacAddr{}, src, kEtherTypeVlan);
      write_vlan_tag(p + kEthHeaderLen, vlan_tci, kEtherTypeIpv4);
      l2_len_ = kEthHeaderLen + 4;
    }
    // Addresses, total length and checksum are left zero: write() fills them.
    write_ipv4_header(p + l2_len_, Ipv4Addr{0}, Ipv4Addr{0}, protocol, 0, ttl, 0, tos, dont_fragment, false);
    base::store_be16(p + l2_len_ + 2, 0);
    constant_sum_ = checksum_add_words(p + l2_len_, kIpv4MinHeaderLen);
  }

  std::size_t l2_len() const { return l2_len_; }
  std::size_t headers_len() const { return l2_len_ + kIpv4MinHeaderLen; }

  // Writes both headers at `frame` for a datagram carrying `payload_length` bytes. The IPv4
  // checksum is left zero when `ip_checksum` is false (checksum offload wants it so). Returns the
  // partial sum of the two addresses, the part of a TCP or UDP pseudo header they make up.
  uint32_t write(uint8_t* frame, const MacAddr& dst, uint32_t src_ip, uint32_t dst_ip, uint16_t payload_length,
                 bool ip_checksum) const {
    // Exactly the headers' 34 or 38 bytes, as two fixed-size copies that overlap: what follows
    // the headers may already be written.
    const std::size_t len = headers_len();
    std::memcpy(frame, bytes_.data(), 32);
    std::memcpy(frame + len - 16, bytes_.data() + len - 16, 16);
    std::memcpy(frame, dst.bytes.data(), kMacLen);
    uint8_t* ip = frame + l2_len_;
    const auto total_length = static_cast<uint16_t>(kIpv4MinHeaderLen + payload_length);
    base::store_be16(ip + 2, total_length);
    base::store_be32(ip + 12, src_ip);
    base::store_be32(ip + 16, dst_ip);
    const uint32_t addresses = checksum_word32(src_ip) + checksum_word32(dst_ip);
    if (ip_checksum) base::store_be16(ip + 10, checksum_fold(constant_sum_ + total_length + addresses));
    return addresses;
  }

 private:
  std::array<uint8_t, kEthHeaderLen + 4 + kIpv4MinHeaderLen> bytes_{};
  uint32_t constant_sum_ = 0;
  std::size_t l2_len_ = kEthHeaderLen;
};

}  // namespace linetcp::wire
