// SipHash-2-4, RFC 6528 initial sequence numbers and RFC 4987 SYN cookies.
#include "linetcp/tcp/isn.hpp"

#include <cstring>

namespace linetcp::tcp {

namespace {
inline uint64_t rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }
inline void sip_round(uint64_t& v0, uint64_t& v1, uint64_t& v2, uint64_t& v3) {
  v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);
  v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;
  v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;
  v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);
}
constexpr uint64_t kCookieStep = 64'000'000'000ull;  // 64 s per counter step
}  // namespace

uint64_t siphash24(const std::array<uint64_t, 2>& key, const uint8_t* data, std::size_t len) {
  uint64_t v0 = 0x736f6d6570736575ull ^ key[0];
  uint64_t v1 = 0x646f72616e646f6dull ^ key[1];
  uint64_t v2 = 0x6c7967656e657261ull ^ key[0];
  uint64_t v3 = 0x7465646279746573ull ^ key[1];
  const std::size_t whole = len & ~std::size_t{7};
  for (std::size_t i = 0; i < whole; i += 8) {
    uint64_t m;
    std::memcpy(&m, data + i, 8);
    v3 ^= m;
    sip_round(v0, v1, v2, v3);
    sip_round(v0, v1, v2, v3);
    v0 ^= m;
  }
  uint64_t b = static_cast<uint64_t>(len) << 56;
  for (std::size_t i = whole; i < len; ++i) b |= uint64_t{data[i]} << (8 * (i - whole));
  v3 ^= b;
  sip_round(v0, v1, v2, v3);
  sip_round(v0, v1, v2, v3);
  v0 ^= b;
  v2 ^= 0xff;
  for (int i = 0; i < 4; ++i) sip_round(v0, v1, v2, v3);
  return v0 ^ v1 ^ v2 ^ v3;
}

SeqNum IsnGenerator::isn(const TupleKey& t, base::Instant now) const {
  uint8_t buf[12];
  std::memcpy(buf, &t.local_ip, 4);
  std::memcpy(buf + 4, &t.remote_ip, 4);
  std::memcpy(buf + 8, &t.local_port, 2);
  std::memcpy(buf + 10, &t.remote_port, 2);
  const auto f = static_cast<uint32_t>(siphash24(key_, buf, sizeof buf));
  const auto m = static_cast<uint32_t>(now.ns() / 4000);  // 4 us ticks
  return SeqNum(m + f);
}

uint32_t SynCookies::mac(const TupleKey& t, SeqNum peer_isn, uint32_t counter, uint32_t bits) const {
  uint8_t buf[24];
  const uint32_t isn = peer_isn.raw();
  std::memcpy(buf, &t.local_ip, 4);
  std::memcpy(buf + 4, &t.remote_ip, 4);
  std::memcpy(buf + 8, &t.local_port, 2);
  std::memcpy(buf + 10, &t.remote_port, 2);
  std::memcpy(buf + 12, &isn, 4);
  std::memcpy(buf + 16, &counter, 4);
  std::memcpy(buf + 20, &bits, 4);
  return static_cast<uint32_t>(siphash24(key_, buf, sizeof buf)) & 0x7FFFF;
}

SeqNum SynCookies::make(const TupleKey& t, SeqNum peer_isn, const CookieOptions& o,
                        base::Instant now) const {
  uint32_t mss_index = 0;
  for (uint32_t i = 0; i < kMssTable.size(); ++i)
    if (kMssTable[i] <= o.mss) mss_index = i;  // the largest table value not above the peer's
  const uint32_t ws = o.window_scale_ok ? (o.window_scale > 14 ? 14u : o.window_scale) + 1u : 0u;
  const uint32_t bits = (mss_index << 24) | (ws << 20) | (o.sack_permitted ? 1u << 19 : 0u);
  const uint32_t counter = static_cast<uint32_t>(now.ns() / kCookieStep);
  return SeqNum(((counter & 0x1F) << 27) | bits | mac(t, peer_isn, counter, bits));
}

std::optional<CookieOptions> SynCookies::check(const TupleKey& t, SeqNum peer_isn, SeqNum cookie,
                                               base::Instant now) const {
  const uint32_t c = cookie.raw();
  const uint32_t bits = c & 0x07F80000;
  const uint32_t now_counter = static_cast<uint32_t>(now.ns() / kCookieStep);
  const uint32_t age = (now_counter - (c >> 27)) & 0x1F;
  if (age > 2) return std::nullopt;
  if (mac(t, peer_isn, now_counter - age, bits) != (c & 0x7FFFF)) return std::nullopt;
  CookieOptions o;
  o.mss = kMssTable[(c >> 24) & 7];
  const uint32_t ws = (c >> 20) & 0xF;
  o.window_scale_ok = ws != 0;
  o.window_scale = ws ? static_cast<uint8_t>(ws - 1) : 0;
  o.sack_permitted = (c >> 19) & 1;
  return o;
}

}  // namespace linetcp::tcp
