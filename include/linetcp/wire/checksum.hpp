// The Internet checksum (RFC 1071) for IPv4, ICMP and TCP, computed in software where the port
// offers no checksum offload, and the pseudo-header sums that offload needs.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
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

// The two 16-bit halves of a 32-bit field, added: its share of a partial sum, computed from the
// value instead of read back from the bytes it was stored in.
constexpr uint32_t checksum_word32(uint32_t v) { return (v >> 16) + (v & 0xffff); }

// checksum_add() for a header: `len` a multiple of 4 and at most 60. Inline and scalar, because a
// call and a vector loop cost more than the handful of words a header has. The result is the
// same as checksum_add()'s (chaining rules included) for any `sum` below 2^31.
inline uint32_t checksum_add_words(const uint8_t* data, std::size_t len, uint32_t sum = 0) {
  uint64_t acc = 0;  // 32-bit words into 64 bits: no carry to propagate (see checksum.cpp)
  for (std::size_t i = 0; i < len; i += 4) {
    uint32_t v;
    std::memcpy(&v, data + i, sizeof v);
    acc += v;
  }
  acc = (acc & 0xffffffff) + (acc >> 32);
  acc = (acc & 0xffff) + (acc >> 16);
  acc = (acc & 0xffff) + (acc >> 16);
  acc = (acc & 0xffff) + (acc >> 16);
  auto folded = static_cast<uint16_t>(acc);
  if constexpr (std::endian::native == std::endian::little) {
    folded = static_cast<uint16_t>((folded >> 8) | (folded << 8));
  }
  return sum + folded;
}

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
