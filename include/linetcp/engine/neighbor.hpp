// The neighbour caches: ARP (RFC 826) for IPv4 and NDP (RFC 4861) for IPv6, next hop -> MAC,
// with expiry; one template over the address type. A stale entry is still used while
// a fresh request goes out, so traffic never stalls on a refresh. Requests are rate limited per
// address. Fixed capacity, open addressing, no allocation after construction.
#pragma once

#include <cstdint>
#include <memory>

#include "linetcp/base/time.hpp"
#include "linetcp/wire/ethernet.hpp"
#include "linetcp/wire/ipv4.hpp"
#include "linetcp/wire/ipv6.hpp"

namespace linetcp::engine {

template <typename Addr>
class BasicNeighborCache {
 public:
  BasicNeighborCache(uint32_t capacity, base::Duration timeout,
                base::Duration request_interval = base::Duration::seconds(1));

  struct Lookup {
    const wire::MacAddr* mac = nullptr;  // null: unresolved
    bool send_request = false;           // an ARP request for this address is due now
  };
  // The MAC for `ip`, and whether to ask for it (unknown, or known but expired).
  Lookup lookup(const Addr& ip, base::Instant now);
  // Records what an ARP packet (or a neighbour advertisement) told us. Returns true if `ip` was unresolved before.
  bool learn(const Addr& ip, const wire::MacAddr& mac, base::Instant now);
  // A configured neighbour (a gateway's MAC given in the config): never expires.
  void set_static(const Addr& ip, const wire::MacAddr& mac);
  // Whether `ip` has an entry (resolved or being resolved); RFC 826 updates only those.
  bool known(const Addr& ip) const;
  uint32_t size() const { return size_; }
  uint32_t capacity() const { return capacity_; }
  uint64_t full_drops() const { return full_drops_; }

 private:
  enum class Kind : uint8_t { kEmpty, kIncomplete, kResolved, kStatic };
  struct Entry {
    Addr ip{};
    Kind kind = Kind::kEmpty;
    wire::MacAddr mac;
    base::Instant expires;
    base::Instant last_request;
  };
  Entry* find(const Addr& ip) const;
  Entry* find_or_insert(const Addr& ip, base::Instant now);

  std::unique_ptr<Entry[]> entries_;
  uint32_t capacity_;  // power of two
  uint32_t size_ = 0;
  uint64_t full_drops_ = 0;
  base::Duration timeout_;
  base::Duration request_interval_;
};

using NeighborCache = BasicNeighborCache<wire::Ipv4Addr>;   // ARP
using Neighbor6Cache = BasicNeighborCache<wire::Ipv6Addr>;  // NDP
extern template class BasicNeighborCache<wire::Ipv4Addr>;
extern template class BasicNeighborCache<wire::Ipv6Addr>;

}  // namespace linetcp::engine
