// A connection's identity on one endpoint: local and remote IPv4 address and port (host order),
// and ConnId, the index of the connection's record, which names it everywhere inside one worker.
//
// IPv6 connections use the same 12 bytes, so that IPv4 connections, TIME_WAIT records and the
// index keep their size and their code: local_ip holds an index into the endpoint's table of
// local IPv6 addresses and remote_ip a slot of its interned remote IPv6 addresses
// (Ipv6PeerTable). Both lie below 2^24, i.e. in 0.0.0.0/8, which is never a local IPv4 address
// (configuration refuses it), so `local_ip < kIpv6Tag` tells the families apart with one compare.
// A tagged tuple costs one predictable branch where frames are built, instead of 24 more bytes
// in every connection and every TIME_WAIT record.
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

inline constexpr uint32_t kIpv6Tag = 1u << 24;
inline constexpr bool is_ipv6(const FourTuple& t) { return t.local_ip < kIpv6Tag; }

// The secret of the connection index's hash (ConnIndex): with a known hash function, a peer
// that picks its addresses and ports could aim all of its connections at one bucket and make
// every lookup walk a long probe chain. {0, 0} (tests) is the unkeyed hash.
struct TupleHashKey {
  uint64_t a = 0;
  uint64_t b = 0;
};

// A fast, well-mixed 32-bit hash of the tuple for the connection index (not for RSS). The key is
// folded in before the multiplications, so which tuples collide depends on it. This is a cheap
// keyed mix, not a PRF (SipHash would cost more than the rest of a lookup): it takes guessing
// the key away from an attacker, not a determined cryptanalysis.
inline uint32_t hash_tuple(const FourTuple& t, TupleHashKey key = {}) {
  const uint64_t a = ((uint64_t{t.local_ip} << 32) | t.remote_ip) ^ key.a;
  const uint64_t b = ((uint64_t{t.local_port} << 16) | t.remote_port) ^ key.b;
  uint64_t h = a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull) * 0xC2B2AE3D27D4EB4Full;
  h ^= h >> 29;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 32;
  return static_cast<uint32_t>(h);
}

// The worker, of `workers`, that owns a server's flow when frames are steered in software: the
// keyed hash, mapped onto [0, workers) by multiply-shift (no division).
inline uint32_t flow_owner(const FourTuple& t, uint32_t workers, TupleHashKey key) {
  return static_cast<uint32_t>((uint64_t{hash_tuple(t, key)} * workers) >> 32);
}

}  // namespace linetcp::engine
