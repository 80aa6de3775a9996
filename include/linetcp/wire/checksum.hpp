// The Internet checksum (RFC 1071) for IPv4, ICMP and TCP, computed in software where the port
// offers no checksum offload, and the pseudo-header sums that offload needs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace linetcp::wire {

// Adds `len` bytes, read as big-endian 16-bit words, to the partial ones-complement sum `sum` and
// returns the new partial sum (not folded, not complemented). An odd trailing byte is the high
// byte of a word padded with zero. `data` needs no alignment.
//
// Chaining (passing one call's result as the next call's `sum`) is valid only when every piece
// but the last has an even length, i.e. each piece starts at an even offset of the whole: a piece
// that starts at an odd offset would have its bytes summed in the wrong half of each word.
uint32_t checksum_add(const uint8_t* data, std::size_t len, uint32_t sum = 0);

inline uint32_t checksum_add(std::span<const uint8_t> bytes, uint32_t sum = 0) {
  return checksum_add(bytes.data(), bytes.size(), sum);
}

// Folds a partial sum to 16 bits without complementing it. DPDK's checksum offload wants the
// pseudo-header sum in this form in the TCP checksum field.
inline uint16_t checksum_reduce(uint32_t sum) {
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

// Folds a partial sum and complements it: the value to put in a checksum field (host order,
// store it with base::store_be16). Over bytes that include a correct checksum field it gives 0.
inline uint16_t checksum_fold(uint32_t sum) { return static_cast<uint16_t>(~checksum_reduce(sum)); }

// Partial sum of the IPv4 pseudo header (RFC 9293 §3.1): addresses in host order, `l4_length`
// the length of the TCP (or UDP) header plus payload.
inline uint32_t pseudo_header_sum_ipv4(uint32_t src_ip, uint32_t dst_ip, uint8_t protocol,
                                       uint16_t l4_length) {
  return (src_ip >> 16) + (src_ip & 0xffff) + (dst_ip >> 16) + (dst_ip & 0xffff) + protocol +
         l4_length;
}

// Checksum of a TCP segment (header and payload) over IPv4, taking the checksum field as it is in
// the bytes. So over a received segment it returns 0 when the checksum is correct (MUST-3), and
// over a segment whose checksum field is zero it returns the value to store there (MUST-2).
uint16_t tcp_checksum_ipv4(uint32_t src_ip, uint32_t dst_ip, std::span<const uint8_t> tcp_segment);

}  // namespace linetcp::wire
