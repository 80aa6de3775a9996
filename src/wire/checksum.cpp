// The Internet checksum: a ones-complement sum of 32-bit words in a 64-bit accumulator (vectorized).
#include "linetcp/wire/checksum.hpp"

#include <bit>
#include <cstring>

namespace linetcp::wire {
namespace {

// Ones-complement addition: the carry out of bit 63 wraps around into bit 0, which is what makes
// a sum of 64-bit words congruent (mod 0xffff) to the sum of its 16-bit words.
inline uint64_t add_carry(uint64_t acc, uint64_t v) {
  acc += v;
  return acc + (acc < v ? 1 : 0);
}

inline uint32_t fold64_to_32(uint64_t acc) {
  acc = (acc & 0xffffffff) + (acc >> 32);
  acc = (acc & 0xffffffff) + (acc >> 32);
  return static_cast<uint32_t>(acc);
}

}  // namespace

uint32_t checksum_add(const uint8_t* data, std::size_t len, uint32_t sum) {
  // Words are summed in the machine's byte order and the folded result is swapped once at the
  // end: the ones-complement sum commutes with byte swapping (RFC 1071 §2(B)).
  // 32-bit words into a 64-bit accumulator: no carry to propagate (2^32 words would be needed to
  // overflow), so the additions are independent and the compiler vectorizes the loop (AVX2:
  // widen 8 words to 64 bits and add, 32 bytes per step). 2^32 = 1 (mod 0xffff) makes the
  // folded sum equal to the sum of 16-bit words.
  uint64_t acc = 0;
  const uint8_t* p = data;
  const std::size_t words = len / 4;
  for (std::size_t i = 0; i < words; ++i) {
    uint32_t v;
    std::memcpy(&v, p + 4 * i, sizeof v);
    acc += v;
  }
  p += words * 4;
  len &= 3;
  if (len >= 2) {
    uint16_t v;
    std::memcpy(&v, p, sizeof v);
    acc = add_carry(acc, v);
    p += 2;
    len -= 2;
  }
  if (len == 1) {
    // The odd byte is the high (first) byte of a zero-padded word: in memory order it sits at the
    // lower address, i.e. the low byte of a little-endian word.
    acc = add_carry(acc, std::endian::native == std::endian::little ? uint64_t{p[0]}
                                                                      : uint64_t{p[0]} << 8);
  }
  uint16_t folded = checksum_reduce(fold64_to_32(acc));
  if constexpr (std::endian::native == std::endian::little) {
    folded = static_cast<uint16_t>((folded >> 8) | (folded << 8));
  }
  // Adding in 64 bits and folding keeps a caller's sum near UINT32_MAX from losing its carry.
  return fold64_to_32(uint64_t{sum} + folded);
}

uint16_t tcp_checksum_ipv4(uint32_t src_ip, uint32_t dst_ip, std::span<const uint8_t> tcp_segment) {
  constexpr uint8_t kProtoTcp = 6;  // kIpProtoTcp, not included to keep checksum below ipv4
  uint32_t sum =
      pseudo_header_sum_ipv4(src_ip, dst_ip, kProtoTcp, static_cast<uint16_t>(tcp_segment.size()));
  return checksum_fold(checksum_add(tcp_segment.data(), tcp_segment.size(), sum));
}

}  // namespace linetcp::wire
