// Interned remote IPv6 addresses: linear probing at most half full, deletion by backward shift
// (no tombstones, so lookups never slow down with churn).
#include "linetcp/engine/peer_table.hpp"

#include <algorithm>
#include <bit>

namespace linetcp::engine {

Ipv6PeerTable::Ipv6PeerTable(uint32_t capacity)
    : capacity_(std::min<uint32_t>(capacity, (1u << 24) - 2)), free_top_(capacity_) {
  addrs_ = std::make_unique<wire::Ipv6Addr[]>(capacity_);
  refs_ = std::make_unique<uint32_t[]>(capacity_);
  free_ = std::make_unique<uint32_t[]>(capacity_);
  for (uint32_t i = 0; i < capacity_; ++i) free_[i] = capacity_ - 1 - i;
  const uint32_t index_size = capacity_ == 0 ? 1 : std::bit_ceil(2 * capacity_);
  index_mask_ = index_size - 1;
  index_ = std::make_unique<uint32_t[]>(index_size);
  std::fill_n(index_.get(), index_size, kNone);
}

uint32_t Ipv6PeerTable::home(const wire::Ipv6Addr& a) const {
  uint64_t h = (uint64_t{a.fold()} << 32 | base::load_be32(a.bytes.data() + 12)) * 0x9E3779B97F4A7C15ull;
  return static_cast<uint32_t>(h >> 32) & index_mask_;
}

uint32_t Ipv6PeerTable::find(const wire::Ipv6Addr& a) const {
  if (size_ == 0) return kNone;
  for (uint32_t i = home(a);; i = (i + 1) & index_mask_) {
    const uint32_t s = index_[i];
    if (s == kNone) return kNone;
    if (addrs_[s] == a) return s;
  }
}

uint32_t Ipv6PeerTable::acquire(const wire::Ipv6Addr& a) {
  if (capacity_ == 0) return kNone;
  uint32_t i = home(a);
  for (;; i = (i + 1) & index_mask_) {
    const uint32_t s = index_[i];
    if (s == kNone) break;
    if (addrs_[s] == a) {
      ++refs_[s];
      return s;
    }
  }
  if (free_top_ == 0) return kNone;
  const uint32_t s = free_[--free_top_];
  addrs_[s] = a;
  refs_[s] = 1;
  index_[i] = s;
  ++size_;
  return s;
}

void Ipv6PeerTable::release(uint32_t slot) {
  if (refs_[slot] == 0 || --refs_[slot] > 0) return;
  // Find the index position of the slot, then close the gap: move back every later entry of the
  // run whose home lies cyclically at or before the hole.
  uint32_t hole = home(addrs_[slot]);
  while (index_[hole] != slot) hole = (hole + 1) & index_mask_;
  for (uint32_t j = (hole + 1) & index_mask_; index_[j] != kNone; j = (j + 1) & index_mask_) {
    const uint32_t h = home(addrs_[index_[j]]);
    // Entry at j may move to the hole if its home is not in (hole, j] cyclically.
    const bool home_in_between = hole <= j ? (h > hole && h <= j) : (h > hole || h <= j);
    if (!home_in_between) {
      index_[hole] = index_[j];
      hole = j;
    }
  }
  index_[hole] = kNone;
  free_[free_top_++] = slot;
  --size_;
}

}  // namespace linetcp::engine
