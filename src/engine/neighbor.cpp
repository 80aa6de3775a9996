// ARP cache: linear probing over a power-of-two table; entries are only ever overwritten (an
// expired one is reused for a new address), so no tombstones are needed.
#include "linetcp/engine/neighbor.hpp"

#include <bit>

namespace linetcp::engine {

namespace {
uint32_t mix(uint32_t ip) { return (ip * 0x9E3779B1u) ^ (ip >> 16); }
constexpr uint32_t kMaxProbe = 16;
}  // namespace

NeighborCache::NeighborCache(uint32_t capacity, base::Duration timeout, base::Duration request_interval)
    : capacity_(std::bit_ceil(capacity < 16 ? 16u : capacity)),
      timeout_(timeout),
      request_interval_(request_interval) {
  entries_ = std::make_unique<Entry[]>(capacity_);
}

NeighborCache::Entry* NeighborCache::find(uint32_t ip) const {
  const uint32_t mask = capacity_ - 1;
  for (uint32_t i = 0, slot = mix(ip) & mask; i < kMaxProbe; ++i, slot = (slot + 1) & mask) {
    Entry& e = entries_[slot];
    if (e.kind == Kind::kEmpty) return nullptr;
    if (e.ip == ip) return &e;
  }
  return nullptr;
}

NeighborCache::Entry* NeighborCache::find_or_insert(uint32_t ip, base::Instant now) {
  const uint32_t mask = capacity_ - 1;
  Entry* reusable = nullptr;
  for (uint32_t i = 0, slot = mix(ip) & mask; i < kMaxProbe; ++i, slot = (slot + 1) & mask) {
    Entry& e = entries_[slot];
    if (e.kind == Kind::kEmpty) {
      Entry* target = reusable ? reusable : &e;
      if (!reusable) ++size_;
      *target = Entry{ip, Kind::kIncomplete, {}, now, base::Instant()};
      return target;
    }
    if (e.ip == ip) return &e;
    // An expired dynamic entry may be replaced by a new address.
    if (!reusable && e.kind != Kind::kStatic && now >= e.expires + timeout_) reusable = &e;
  }
  if (reusable) {
    *reusable = Entry{ip, Kind::kIncomplete, {}, now, base::Instant()};
    return reusable;
  }
  ++full_drops_;
  return nullptr;
}

NeighborCache::Lookup NeighborCache::lookup(wire::Ipv4Addr ip, base::Instant now) {
  Lookup r;
  Entry* e = find(ip.value);
  if (!e) e = find_or_insert(ip.value, now);
  if (!e) return r;  // table full: counted; the caller retries later
  if (e->kind == Kind::kResolved || e->kind == Kind::kStatic) r.mac = &e->mac;
  const bool fresh = e->kind == Kind::kStatic || (e->kind == Kind::kResolved && now < e->expires);
  if (!fresh && (e->last_request == base::Instant() || now - e->last_request >= request_interval_)) {
    e->last_request = now;
    r.send_request = true;
  }
  return r;
}

bool NeighborCache::learn(wire::Ipv4Addr ip, const wire::MacAddr& mac, base::Instant now) {
  Entry* e = find_or_insert(ip.value, now);
  if (!e || e->kind == Kind::kStatic) return false;
  const bool was_unresolved = e->kind != Kind::kResolved;
  e->kind = Kind::kResolved;
  e->mac = mac;
  e->expires = now + timeout_;
  e->last_request = base::Instant();
  return was_unresolved;
}

void NeighborCache::set_static(wire::Ipv4Addr ip, const wire::MacAddr& mac) {
  Entry* e = find_or_insert(ip.value, base::Instant());
  if (!e) return;
  e->kind = Kind::kStatic;
  e->mac = mac;
}

bool NeighborCache::known(wire::Ipv4Addr ip) const { return find(ip.value) != nullptr; }

}  // namespace linetcp::engine
