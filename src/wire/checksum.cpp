// The Internet checksum: a ones-complement sum taken 8 bytes at a time in 64-bit registers.
#include "linetcp/wire/checksum.hpp"

#include <bit>
#include <cstring>

namespace linetcp::wire {
namespace {

inline uint64_t load_u64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

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
  uint64_t acc = 0;
  const uint8_t* p = data;
  while (len >= 32) {
    acc = add_carry(acc, load_u64(p));
    acc = add_carry(acc, load_u64(p + 8));
    acc = add_carry(acc, load_u64(p + 16));
    acc = add_carry(acc, load_u64(p + 24));
    p += 32;
    len -= 32;
  }
  while (len >= 8) {
    acc = add_carry(acc, load_u64(p));
    p += 8;
    len -= 8;
  }
  if (len >= 4) {
    uint32_t v;
    std::memcpy(&v, p, sizeof v);
    acc = add_carry(acc, v);
    p += 4;
    len -= 4;
  }
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
