// The impairment stage: PRNG, release-time heap, corruption of one bit of an IPv4 or IPv6 payload.
#include "linetcp/engine/impairment.hpp"

#include <algorithm>

#include "linetcp/base/byte_order.hpp"
#include "linetcp/wire/ethernet.hpp"
#include "linetcp/wire/ipv4.hpp"
#include "linetcp/wire/ipv6.hpp"
#include "linetcp/wire/vlan.hpp"

namespace linetcp::engine {

using base::Duration;
using base::Instant;

namespace {
uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

Xoshiro256::Xoshiro256(uint64_t seed) {
  for (uint64_t& s : s_) s = splitmix64(seed);
}

uint64_t Xoshiro256::next() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

Impairment::Impairment(const ImpairmentProfile& profile, uint64_t seed, uint32_t capacity)
    : profile_(profile), rng_(seed), capacity_(capacity) {
  held_.reserve(capacity_);
}

namespace {
// std::push_heap/pop_heap build a max-heap: "greater" puts the earliest release on top.
struct Later {
  template <class H>
  bool operator()(const H& a, const H& b) const {
    return a.due != b.due ? a.due > b.due : a.order > b.order;
  }
};
}  // namespace

bool Impairment::schedule(Frame frame, Instant now, Frame* out, unsigned& n) {
  Duration hold = Duration::micros(profile_.delay_us);
  if (profile_.jitter_us > 0) hold += Duration::nanos(static_cast<int64_t>(rng_.upto(profile_.jitter_us * 1000ull)));
  const bool delayed = hold > Duration::zero();
  if (coin(profile_.reorder)) {
    hold += Duration::micros(profile_.reorder_delay_us);
    ++counters_.reordered;
  }
  if (hold == Duration::zero()) {
    out[n++] = frame;
    return true;
  }
  if (held_.size() >= capacity_) {
    // Better late than never: the frame goes now, and the run shows it did.
    ++counters_.queue_full;
    out[n++] = frame;
    return true;
  }
  if (delayed) ++counters_.delayed;
  held_.push_back({now + hold, order_++, frame});
  std::push_heap(held_.begin(), held_.end(), Later{});
  return false;
}

unsigned Impairment::release(Instant now, Frame* out, unsigned max) {
  unsigned n = 0;
  while (n < max && !held_.empty() && held_.front().due <= now) {
    std::pop_heap(held_.begin(), held_.end(), Later{});
    out[n++] = held_.back().frame;
    held_.pop_back();
  }
  return n;
}

bool Impairment::corrupt_frame(std::span<uint8_t> f, Xoshiro256& rng) {
  using namespace wire;
  // One 802.1Q tag may sit between the MAC addresses and the EtherType.
  std::size_t l3 = kEthHeaderLen;
  if (f.size() >= kEthHeaderLen + kVlanTagLen && base::load_be16(f.data() + 12) == kEtherTypeVlan) l3 += kVlanTagLen;
  if (f.size() < l3) return false;
  const uint16_t ether_type = base::load_be16(f.data() + l3 - 2);
  const uint8_t* ip = f.data() + l3;
  std::size_t begin = 0;  // the upper-layer message: [begin, end)
  std::size_t end = 0;
  uint8_t protocol = 0;
  if (ether_type == kEtherTypeIpv4) {
    if (f.size() < l3 + kIpv4MinHeaderLen || (ip[0] >> 4) != 4) return false;
    const std::size_t ihl = std::size_t{ip[0] & 0x0fu} * 4;
    if (ihl < kIpv4MinHeaderLen) return false;
    begin = l3 + ihl;
    end = std::min(f.size(), l3 + base::load_be16(ip + 2));
    protocol = ip[9];
  } else if (ether_type == kEtherTypeIpv6) {
    if (f.size() < l3 + kIpv6HeaderLen || (ip[0] >> 4) != 6) return false;
    protocol = ip[6];
    // Only messages right after the fixed header whose checksum covers them all: a flip in an
    // extension header could be refused as a bad header before any checksum is looked at.
    if (protocol != kIpProtoTcp && protocol != kIpProtoUdp && protocol != kIpProtoIcmpv6) return false;
    begin = l3 + kIpv6HeaderLen;
    end = std::min(f.size(), begin + base::load_be16(ip + 4));
  } else {
    return false;  // ARP and the rest have no checksum to catch it
  }
  // Only the payload: a flipped header bit might be refused as a bad header (or land as an
  // address that is not ours) before any checksum is looked at.
  if (end <= begin) return false;
  const uint64_t r = rng.next();
  std::size_t at = begin + static_cast<std::size_t>((r >> 3) % (end - begin));
  // Nor TCP's data offset (byte 12): a bad one is refused as a bad header, not a bad checksum.
  if (protocol == kIpProtoTcp && at == begin + 12) ++at;  // the flags byte: within any TCP header
  f[at] = static_cast<uint8_t>(f[at] ^ (1u << (r & 7)));
  return true;
}

}  // namespace linetcp::engine
