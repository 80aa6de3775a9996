// Toeplitz hashing for RSS (Microsoft RSS specification; the same computation as rte_softrss).
#include "linetcp/engine/rss.hpp"

#include "linetcp/base/byte_order.hpp"

namespace linetcp::engine {

uint32_t toeplitz_hash(std::span<const uint8_t> key, std::span<const uint8_t> input) {
  // For every set input bit (most significant first), XOR in the 32 key bits that start at that
  // bit position. `window` holds those 32 bits, shifted left one bit per input bit.
  uint32_t hash = 0;
  uint32_t window = base::load_be32(key.data());
  std::size_t next_key_byte = 4;
  for (uint8_t byte : input) {
    const uint8_t incoming = next_key_byte < key.size() ? key[next_key_byte++] : 0;
    for (int bit = 7; bit >= 0; --bit) {
      if (byte & (1u << bit)) hash ^= window;
      window = (window << 1) | ((incoming >> bit) & 1u);
    }
  }
  return hash;
}

uint32_t rss_hash_ipv4_tcp(std::span<const uint8_t> key, uint32_t src_ip, uint32_t dst_ip, uint16_t src_port,
                           uint16_t dst_port) {
  uint8_t in[12];
  base::store_be32(in, src_ip);
  base::store_be32(in + 4, dst_ip);
  base::store_be16(in + 8, src_port);
  base::store_be16(in + 10, dst_port);
  return toeplitz_hash(key, in);
}

}  // namespace linetcp::engine
