// Remote IPv6 addresses, interned: each distinct address a connection or TIME_WAIT record talks
// to gets a small slot number with a reference count, so an IPv6 connection's FourTuple stays the
// 12 bytes of an IPv4 one (see four_tuple.hpp). A load client with one target holds one entry; a
// server holds one per distinct client address. Fixed capacity, no allocation after construction.
#pragma once

#include <cstdint>
#include <memory>

#include "linetcp/wire/ipv6.hpp"

namespace linetcp::engine {

class Ipv6PeerTable {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;
  // At most 2^24 - 2 entries: slot numbers live in the 24 low bits of FourTuple::remote_ip.
  explicit Ipv6PeerTable(uint32_t capacity);
  Ipv6PeerTable(const Ipv6PeerTable&) = delete;
  Ipv6PeerTable& operator=(const Ipv6PeerTable&) = delete;

  // The slot of `a`, or kNone.
  uint32_t find(const wire::Ipv6Addr& a) const;
  // The slot of `a` with one more reference, inserted if new; kNone when the table is full.
  uint32_t acquire(const wire::Ipv6Addr& a);
  void add_ref(uint32_t slot) { ++refs_[slot]; }
  // Drops one reference; the slot is freed with the last.
  void release(uint32_t slot);
  const wire::Ipv6Addr& addr(uint32_t slot) const { return addrs_[slot]; }
  uint32_t refs(uint32_t slot) const { return refs_[slot]; }
  uint32_t size() const { return size_; }
  uint32_t capacity() const { return capacity_; }
  std::size_t memory_bytes() const {
    return std::size_t{capacity_} * (sizeof(wire::Ipv6Addr) + 2 * sizeof(uint32_t)) +
           std::size_t{index_mask_ + 1} * sizeof(uint32_t);
  }

 private:
  uint32_t home(const wire::Ipv6Addr& a) const;

  std::unique_ptr<wire::Ipv6Addr[]> addrs_;
  std::unique_ptr<uint32_t[]> refs_;
  std::unique_ptr<uint32_t[]> free_;   // stack of free slots
  std::unique_ptr<uint32_t[]> index_;  // open addressing (linear probing), slot or kNone
  uint32_t capacity_;
  uint32_t index_mask_ = 0;
  uint32_t free_top_;
  uint32_t size_ = 0;
};

}  // namespace linetcp::engine
