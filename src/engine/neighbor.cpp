// Neighbour caches (ARP and NDP): linear probing over a power-of-two table; entries are only ever overwritten (an
// expired one is reused for a new address), so no tombstones are needed.
#include "linetcp/engine/neighbor.hpp"

#include <bit>

namespace linetcp::engine {

namespace {
uint32_t mix(uint32_t ip) { return (ip * 0x9E3779B1u) ^ (ip >> 16); }
uint32_t mix(const wire::Ipv4Addr& ip) { return mix(ip.value); }
uint32_t mix(const wire::Ipv6Addr& ip) { return mix(ip.fold()); }
constexpr uint32_t kMaxProbe = 16;
}  // namespace

template <typename Addr>
BasicNeighborCache<Addr>::BasicNeighborCache(uint32_t capacity, base::Duration timeout, base::Duration request_interval)
    : capacity_(std::bit_ceil(capacity < 16 ? 16u : capacity)),
      timeout_(timeout),
      request_interval_(request_interval) {
  entries_ = std::make_unique<Entry[]>(capacity_);
}

template <typename Addr>
typename BasicNeighborCache<Addr>::Entry* BasicNeighborCache<Addr>::find(const Addr& ip) const {
  const uint32_t mask = capacity_ - 1;
  for (uint32_t i = 0, slot = mix(ip) & mask; i < kMaxProbe; ++i, slot = (slot + 1) & mask) {
    Entry& e = entries_[slot];
    if (e.kind == Kind::kEmpty) return nullptr;
    if (e.ip == ip) return &e;
  }
  return nullptr;
}

template <typename Addr>
typename BasicNeighborCache<Addr>::Entry* BasicNeighborCache<Addr>::find_or_insert(const Addr& ip, base::Instant now) {
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

template <typename Addr>
typename BasicNeighborCache<Addr>::Lookup BasicNeighborCache<Addr>::lookup(const Addr& ip, base::Instant now) {
  Lookup r;
  Entry* e = find(ip);
  if (!e) e = find_or_insert(ip, now);
  if (!e) return r;  // table full: counted; the caller retries later
  if (e->kind == Kind::kResolved || e->kind == Kind::kStatic) r.mac = &e->mac;
  const bool fresh = e->kind == Kind::kStatic || (e->kind == Kind::kResolved && now < e->expires);
  if (!fresh && (e->last_request == base::Instant() || now - e->last_request >= request_interval_)) {
    e->last_request = now;
    r.send_request = true;
  }
  return r;
}

template <typename Addr>
bool BasicNeighborCache<Addr>::learn(const Addr& ip, const wire::MacAddr& mac, base::Instant now) {
  Entry* e = find_or_insert(ip, now);
  if (!e || e->kind == Kind::kStatic) return false;
  const bool was_unresolved = e->kind != Kind::kResolved;
  e->kind = Kind::kResolved;
  e->mac = mac;
  e->expires = now + timeout_;
  e->last_request = base::Instant();
  return was_unresolved;
}

template <typename Addr>
void BasicNeighborCache<Addr>::set_static(const Addr& ip, const wire::MacAddr& mac) {
  Entry* e = find_or_insert(ip, base::Instant());
  if (!e) return;
  e->kind = Kind::kStatic;
  e->mac = mac;
}

template <typename Addr>
bool BasicNeighborCache<Addr>::known(const Addr& ip) const { return find(ip) != nullptr; }

template class BasicNeighborCache<wire::Ipv4Addr>;
template class BasicNeighborCache<wire::Ipv6Addr>;

}  // namespace linetcp::engine
