// A connection's identity on one endpoint: local and remote IPv4 address and port (host order),
// and ConnId, the slot index that names a connection everywhere inside one worker.
#pragma once

#include <cstddef>
#include <cstdint>

namespace linetcp::engine {

using ConnId = uint32_t;
inline constexpr ConnId kInvalidConn = UINT32_MAX;

struct FourTuple {
  uint32_t local_ip = 0;
  uint32_t remote_ip = 0;
  uint16_t local_port = 0;
  uint16_t remote_port = 0;
  bool operator==(const FourTuple&) const = default;
};
static_assert(sizeof(FourTuple) == 12);

// A fast, well-mixed 32-bit hash of the tuple for the connection index (not for RSS).
inline uint32_t hash_tuple(const FourTuple& t) {
  uint64_t a = (uint64_t{t.local_ip} << 32) | t.remote_ip;
  uint64_t b = (uint64_t{t.local_port} << 16) | t.remote_port;
  uint64_t h = a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull) * 0xC2B2AE3D27D4EB4Full;
  h ^= h >> 29;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 32;
  return static_cast<uint32_t>(h);
}

}  // namespace linetcp::engine
