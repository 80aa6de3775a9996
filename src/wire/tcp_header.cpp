// TCP header validation, the header builder and the checksum conveniences.
#include "linetcp/wire/tcp_header.hpp"

#include "linetcp/base/compiler.hpp"
#include "linetcp/wire/checksum.hpp"
#include "linetcp/wire/ipv4.hpp"

namespace linetcp::wire {

const char* to_string(TcpError e) {
  switch (e) {
    case TcpError::kOk: return "ok";
    case TcpError::kTooShort: return "too_short";
    case TcpError::kBadDataOffset: return "bad_data_offset";
    case TcpError::kBadChecksum: return "bad_checksum";
  }
  return "unknown";
}

TcpError TcpHeaderView::parse(std::span<const uint8_t> segment, TcpHeaderView& out) {
  if (LINETCP_UNLIKELY(segment.size() < kTcpMinHeaderLen)) return TcpError::kTooShort;
  const std::size_t header_len = static_cast<std::size_t>(segment[12] >> 4) * 4;
  if (LINETCP_UNLIKELY(header_len < kTcpMinHeaderLen || header_len > segment.size())) {
    return TcpError::kBadDataOffset;
  }
  out.segment_ = segment;
  return TcpError::kOk;
}

TcpHeaderWritten write_tcp_header_summed(uint8_t* p, const TcpHeaderFields& f, const TcpOptions& opts) {
  uint32_t options_sum;
  const std::size_t header_len = kTcpMinHeaderLen + write_tcp_options(opts, p + kTcpMinHeaderLen, &options_sum);
  const auto offset_flags = static_cast<uint16_t>(((header_len / 4) << 12) | f.flags);
  base::store_be16(p, f.src_port);
  base::store_be16(p + 2, f.dst_port);
  base::store_be32(p + 4, f.seq);
  base::store_be32(p + 8, f.ack);
  base::store_be16(p + 12, offset_flags);
  base::store_be16(p + 14, f.window);
  base::store_be16(p + kTcpChecksumOffset, 0);
  base::store_be16(p + 18, f.urgent);
  const uint32_t sum = uint32_t{f.src_port} + f.dst_port + checksum_word32(f.seq) + checksum_word32(f.ack) +
                       offset_flags + f.window + f.urgent + options_sum;
  return {header_len, sum};
}

std::size_t write_tcp_header(uint8_t* p, const TcpHeaderFields& f, const TcpOptions& opts) {
  return write_tcp_header_summed(p, f, opts).length;
}

void fill_tcp_checksum_ipv4(uint8_t* tcp_segment, std::size_t length, uint32_t src_ip,
                            uint32_t dst_ip) {
  set_tcp_checksum(tcp_segment, 0);
  set_tcp_checksum(tcp_segment, tcp_checksum_ipv4(src_ip, dst_ip, {tcp_segment, length}));
}

void set_tcp_offload_pseudo_checksum_ipv4(uint8_t* tcp_header, uint32_t src_ip, uint32_t dst_ip,
                                          uint16_t l4_length) {
  set_tcp_checksum(tcp_header,
                   checksum_reduce(pseudo_header_sum_ipv4(src_ip, dst_ip, kIpProtoTcp, l4_length)));
}

TcpError verify_tcp_checksum_ipv4(uint32_t src_ip, uint32_t dst_ip,
                                  std::span<const uint8_t> tcp_segment) {
  const std::size_t size = tcp_segment.size();
  const std::size_t header_len = size >= kTcpMinHeaderLen ? static_cast<std::size_t>(tcp_segment[12] >> 4) * 4 : 0;
  if (LINETCP_UNLIKELY(header_len < kTcpMinHeaderLen || header_len > size)) {
    return tcp_checksum_ipv4(src_ip, dst_ip, tcp_segment) == 0 ? TcpError::kOk : TcpError::kBadChecksum;
  }
  // Most segments we receive are bare ACKs: their whole sum is the inline header loop.
  uint32_t sum = pseudo_header_sum_ipv4(src_ip, dst_ip, kIpProtoTcp, static_cast<uint16_t>(size));
  sum = checksum_add_words(tcp_segment.data(), header_len, sum);
  if (size > header_len) sum = checksum_add(tcp_segment.data() + header_len, size - header_len, sum);
  return checksum_fold(sum) == 0 ? TcpError::kOk : TcpError::kBadChecksum;
}

}  // namespace linetcp::wire
