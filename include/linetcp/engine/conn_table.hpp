// The connection table of one worker: preallocated slabs (the connection records, ConnId = slot
// index, and the pool of full TCP states)
// and an open-addressing index FourTuple -> 32-bit id with short tags and bulk, prefetched lookup.
#pragma once

#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "linetcp/base/compiler.hpp"
#include "linetcp/engine/four_tuple.hpp"

namespace linetcp::engine {

// A fixed array of `capacity` T, all constructed once up front, and a LIFO stack of free slot
// indices: the most recently freed slot is reused first because its lines are likely still in
// cache. alloc() hands back the slot as its last owner left it; the caller resets what it needs.
template <typename T>
class Slab {
 public:
  explicit Slab(uint32_t capacity)
      : items_(std::make_unique<T[]>(capacity)),
        free_(std::make_unique<uint32_t[]>(capacity)),
        used_(std::make_unique<uint64_t[]>((capacity + 63) / 64)),
        capacity_(capacity),
        free_top_(capacity) {
    // Stack top = index 0, so a fresh slab hands out 0, 1, 2, ... in order.
    for (uint32_t i = 0; i < capacity; ++i) free_[i] = capacity - 1 - i;
    for (uint32_t w = 0; w < (capacity + 63) / 64; ++w) used_[w] = 0;
  }
  Slab(const Slab&) = delete;
  Slab& operator=(const Slab&) = delete;

  // kInvalidConn when every slot is in use: the caller counts that as a drop.
  ConnId alloc() {
    if (LINETCP_UNLIKELY(free_top_ == 0)) return kInvalidConn;
    const uint32_t id = free_[--free_top_];
    used_[id >> 6] |= uint64_t{1} << (id & 63);
    return id;
  }

  // Freeing a slot that is not in use is a caller bug: asserted in debug, ignored in release so a
  // double free cannot corrupt the free stack.
  void free(ConnId id) {
    assert(in_use(id));
    if (LINETCP_UNLIKELY(!in_use(id))) return;
    used_[id >> 6] &= ~(uint64_t{1} << (id & 63));
    free_[free_top_++] = id;
  }

  T& operator[](ConnId id) { return items_[id]; }
  const T& operator[](ConnId id) const { return items_[id]; }

  bool in_use(ConnId id) const {
    return id < capacity_ && (used_[id >> 6] >> (id & 63) & 1) != 0;
  }
  uint32_t size() const { return capacity_ - free_top_; }
  uint32_t capacity() const { return capacity_; }
  bool full() const { return free_top_ == 0; }

  // Every byte this slab holds: the objects, the free stack and the in-use bitmap.
  std::size_t memory_bytes() const {
    return sizeof(*this) + std::size_t{capacity_} * sizeof(T) + std::size_t{capacity_} * sizeof(uint32_t) +
           std::size_t{(capacity_ + 63) / 64} * sizeof(uint64_t);
  }

 private:
  std::unique_ptr<T[]> items_;
  std::unique_ptr<uint32_t[]> free_;   // stack of free slot indices, top at free_[free_top_ - 1]
  std::unique_ptr<uint64_t[]> used_;   // one bit per slot: in use
  uint32_t capacity_;
  uint32_t free_top_;
};

// Open-addressing hash index FourTuple -> 32-bit value (a ConnId, or any id the caller encodes,
// e.g. a TIME_WAIT handle with a high bit set).
//
// The index stores no keys: each value's owner (the connection, the TIME_WAIT record) already
// holds its tuple, and the caller's KeyOf resolves a value to it. Storing the 12-byte tuple a
// second time cost 16 of the 20 bytes per slot; a hit reads the owner's line right after anyway.
//
// Layout (F14 / Swiss-table family): buckets of 8 slots, one 64-byte cache line each: 8 16-bit
// tags taken from the hash, the 8 values, an occupancy mask and an overflow count. A miss
// compares 8 tags at once and usually touches that one line only; a hit touches it and the
// owner's line. Home bucket = (hash * buckets) >> 32, multiply-shift range reduction: no division
// and any bucket count, decided by the hash's high bits; tag = the low 16 bits. The hashes of one
// bucket span 2^32 / buckets consecutive values, so up to 2^16 buckets its tags are uniform and
// independent of it; beyond, about 32 - log2(buckets) tag bits stay free: still a false-tag rate
// below 1e-3 per bucket at 10^6 entries.
//
// Probing is linear over buckets. Deletion keeps no tombstones: each bucket counts how many
// entries were displaced past it (their home bucket was full). insert() increments the count of
// every full bucket it passes, erase() decrements the same path, and a lookup stops at the first
// bucket whose count is zero, or back at its home after one lap (with a few buckets, all the counts
// can be nonzero at once). The counts are exact, so after any sequence of inserts and erases
// a miss probes exactly as far as the entries present require: churn never degrades the table
// and it never needs a rehash (unlike tombstones), and erase moves nothing (unlike backward shift,
// which also does not fit buckets with a per-bucket occupancy mask well).
//
// Sizing: the fewest buckets whose slots hold `capacity` at <= 75 % load, not rounded to a power
// of two (which would make the index's share per entry swing between 10.7 and 21.3 B with the
// configured capacity); insert() refuses beyond `capacity` entries, so a probe always finds a
// free slot. Probing wraps from the last bucket to the first.
class ConnIndex {
 public:
  static constexpr uint32_t kSlotsPerBucket = 8;
  // The tuple that `value` stands for, or nullptr when it stands for none (then it never matches).
  using KeyOf = const FourTuple* (*)(const void* ctx, uint32_t value);

  // `hash_key`: the secret of the tuple hash (see TupleHashKey); the endpoint derives it from its
  // per-process secret.
  ConnIndex(uint32_t capacity, KeyOf key_of, const void* ctx, TupleHashKey hash_key = {});
  ConnIndex(const ConnIndex&) = delete;
  ConnIndex& operator=(const ConnIndex&) = delete;

  // The value stored for `key`, or kInvalidConn.
  uint32_t find(const FourTuple& key) const { return find_hashed(key, hash(key)); }

  // out[i] = find(keys[i]) for a burst: hash every key and prefetch its bucket, then match tags
  // and prefetch the first candidate's key (its owner), then compare keys, so the memory latency
  // of the burst overlaps instead of adding up (DPDK l3fwd style). Any n; groups of kBulkGroup.
  static constexpr uint32_t kBulkGroup = 32;
  void find_bulk(const FourTuple* keys, uint32_t n, uint32_t* out) const;

  // False if `key` is already present or the index holds `capacity` entries. The value
  // kInvalidConn is reserved (it means "absent" to find) and refused too.
  bool insert(const FourTuple& key, uint32_t value);
  // False if `key` is absent. The entry is found through its owner's key, so erase it while
  // key_of still resolves its value (before the owner is freed or killed).
  bool erase(const FourTuple& key);

  uint32_t size() const { return size_; }
  uint32_t capacity() const { return capacity_; }
  uint32_t bucket_count() const { return bucket_count_; }
  std::size_t memory_bytes() const;

  // Recomputes every bucket's overflow count and the size from the entries and compares them
  // with the stored ones: O(buckets), for tests and debug checks.
  bool validate() const;

  // Hashing is public so that a caller who already computed it (once per packet) can reuse it.
  uint32_t hash(const FourTuple& key) const { return hash_tuple(key, hash_key_); }
  uint32_t find_hashed(const FourTuple& key, uint32_t h) const;
  // Starts loading the home bucket of `key`, for a lookup that comes a little later.
  void prefetch(const FourTuple& key) const { base::prefetch_read(&buckets_[home_bucket(hash(key))]); }
  // The bucket where the probe for `hash` starts, in [0, bucket_count()) (public for the tests that
  // build collision chains).
  uint32_t home_bucket(uint32_t h) const {
    return static_cast<uint32_t>((uint64_t{h} * bucket_count_) >> 32);
  }

 private:
  struct alignas(64) Bucket {
    uint16_t tags[kSlotsPerBucket];
    uint32_t values[kSlotsPerBucket];
    uint32_t overflow;  // entries whose probe passed this bucket because it was full
    uint8_t occupied;   // bit i: slot i holds an entry
  };
  static_assert(sizeof(Bucket) == 64);

  static uint16_t tag_of(uint32_t h) { return static_cast<uint16_t>(h); }
  uint32_t next(uint32_t b) const { return b + 1 == bucket_count_ ? 0 : b + 1; }
  // Bit i set where the bucket's slot i is occupied and has tag `tag`.
  static uint32_t match(const Bucket& b, uint16_t tag);
  bool key_is(uint32_t value, const FourTuple& key) const {
    const FourTuple* k = key_of_(ctx_, value);
    return k != nullptr && *k == key;
  }

  std::unique_ptr<Bucket[]> buckets_;
  KeyOf key_of_;
  const void* ctx_;
  TupleHashKey hash_key_;
  uint32_t bucket_count_;
  uint32_t capacity_;
  uint32_t size_ = 0;
};

}  // namespace linetcp::engine
