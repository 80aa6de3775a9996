// The TCP header (RFC 9293 §3.1): a view over a received segment and the builder of the header
// we send. Options are tcp_options.hpp's business; checksums need the IP addresses (checksum.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "linetcp/base/byte_order.hpp"
#include "linetcp/wire/tcp_options.hpp"

namespace linetcp::wire {

inline constexpr uint8_t kTcpFin = 0x01;
inline constexpr uint8_t kTcpSyn = 0x02;
inline constexpr uint8_t kTcpRst = 0x04;
inline constexpr uint8_t kTcpPsh = 0x08;
inline constexpr uint8_t kTcpAck = 0x10;
inline constexpr uint8_t kTcpUrg = 0x20;
inline constexpr uint8_t kTcpEce = 0x40;
inline constexpr uint8_t kTcpCwr = 0x80;
inline constexpr std::size_t kTcpMinHeaderLen = 20;
inline constexpr std::size_t kTcpMaxHeaderLen = 60;
inline constexpr std::size_t kTcpChecksumOffset = 16;

enum class TcpError : uint8_t {
  kOk,
  kTooShort,       // fewer than 20 bytes
  kBadDataOffset,  // data offset < 5, or the header it gives runs past the segment
  kBadChecksum,    // from verify_tcp_checksum_ipv4(), never from TcpHeaderView::parse()
};

const char* to_string(TcpError e);

class TcpHeaderView {
 public:
  TcpHeaderView() = default;

  // Checks the data offset and fills `out` (left unchanged on error). No checksum check: that
  // needs the IP addresses, see verify_tcp_checksum_ipv4().
  static TcpError parse(std::span<const uint8_t> segment, TcpHeaderView& out);

  uint16_t src_port() const { return base::load_be16(p()); }
  uint16_t dst_port() const { return base::load_be16(p() + 2); }
  uint32_t seq() const { return base::load_be32(p() + 4); }
  uint32_t ack() const { return base::load_be32(p() + 8); }
  std::size_t data_offset_bytes() const { return static_cast<std::size_t>(p()[12] >> 4) * 4; }
  // The eight flag bits CWR..FIN; the reserved bits (and the historic NS bit) are not included.
  uint8_t flags() const { return p()[13]; }
  bool has(uint8_t flag_bits) const { return (flags() & flag_bits) == flag_bits; }
  uint16_t window() const { return base::load_be16(p() + 14); }  // unscaled
  uint16_t checksum() const { return base::load_be16(p() + kTcpChecksumOffset); }
  uint16_t urgent_pointer() const { return base::load_be16(p() + 18); }
  std::span<const uint8_t> options() const {
    return segment_.subspan(kTcpMinHeaderLen, data_offset_bytes() - kTcpMinHeaderLen);
  }
  std::span<const uint8_t> payload() const { return segment_.subspan(data_offset_bytes()); }
  std::span<const uint8_t> segment() const { return segment_; }

 private:
  const uint8_t* p() const { return segment_.data(); }
  std::span<const uint8_t> segment_;
};

struct TcpHeaderFields {
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint8_t flags = 0;
  uint16_t window = 0;
  uint16_t urgent = 0;
};

// Writes the 20-byte header and `opts` at `p` (room for kTcpMaxHeaderLen bytes needed), sets the
// data offset, leaves the checksum field zero, and returns the header length.
std::size_t write_tcp_header(uint8_t* p, const TcpHeaderFields& f, const TcpOptions& opts);

struct TcpHeaderWritten {
  std::size_t length;  // header and options, bytes
  uint32_t sum;        // partial checksum of those bytes (checksum field zero), not folded
};

// write_tcp_header(), and the header's partial checksum computed from the field values: add the
// pseudo header and the payload to it for the segment's checksum, without summing the header's
// bytes again (a header template's precomputed sum, field by field).
TcpHeaderWritten write_tcp_header_summed(uint8_t* p, const TcpHeaderFields& f, const TcpOptions& opts);

inline void set_tcp_checksum(uint8_t* tcp_header, uint16_t checksum) {
  base::store_be16(tcp_header + kTcpChecksumOffset, checksum);
}

// Computes and stores the checksum of a whole segment (header + payload, contiguous) over IPv4,
// whatever its checksum field held before (MUST-2).
void fill_tcp_checksum_ipv4(uint8_t* tcp_segment, std::size_t length, uint32_t src_ip,
                            uint32_t dst_ip);

// Stores the pseudo-header sum, folded and not complemented, as checksum offload expects it in
// the field (for TSO pass l4_length 0: the NIC adds each segment's length itself).
void set_tcp_offload_pseudo_checksum_ipv4(uint8_t* tcp_header, uint32_t src_ip, uint32_t dst_ip,
                                          uint16_t l4_length);

// kOk if the segment's checksum verifies over IPv4, kBadChecksum otherwise (MUST-3). A segment
// whose data offset is valid has its header summed inline and only its payload by checksum_add().
TcpError verify_tcp_checksum_ipv4(uint32_t src_ip, uint32_t dst_ip,
                                  std::span<const uint8_t> tcp_segment);

}  // namespace linetcp::wire
