// ConnIndex: bucketized open addressing with 16-bit tags and exact overflow counts (see header).
#include "linetcp/engine/conn_table.hpp"

#include <algorithm>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace linetcp::engine {

namespace {

// The fewest buckets (at least one) whose slots hold `capacity` entries at no more than 3/4 load:
// ceil(capacity / 6) for 8 slots per bucket.
uint32_t bucket_count_for(uint32_t capacity) {
  const uint64_t per_bucket = ConnIndex::kSlotsPerBucket * 3 / 4;
  static_assert(ConnIndex::kSlotsPerBucket * 3 % 4 == 0);
  return static_cast<uint32_t>(std::max<uint64_t>(1, (uint64_t{capacity} + per_bucket - 1) / per_bucket));
}

}  // namespace

ConnIndex::ConnIndex(uint32_t capacity, KeyOf key_of, const void* ctx, TupleHashKey hash_key)
    : key_of_(key_of), ctx_(ctx), hash_key_(hash_key), bucket_count_(bucket_count_for(capacity)), capacity_(capacity) {
  // make_unique<T[]> value-initialises: tags, counts and masks start at zero (all empty).
  buckets_ = std::make_unique<Bucket[]>(bucket_count_);
}

std::size_t ConnIndex::memory_bytes() const {
  return sizeof(*this) + std::size_t{bucket_count_} * sizeof(Bucket);
}

uint32_t ConnIndex::match(const Bucket& b, uint16_t tag) {
#if defined(__SSE2__)
  const __m128i tags = _mm_load_si128(reinterpret_cast<const __m128i*>(b.tags));
  const __m128i eq = _mm_cmpeq_epi16(tags, _mm_set1_epi16(static_cast<short>(tag)));
  // movemask gives two bits per 16-bit lane; keep the even ones and compress them to one per slot.
  uint32_t bytes = static_cast<uint32_t>(_mm_movemask_epi8(eq)) & 0x5555u;
  bytes = (bytes | (bytes >> 1)) & 0x3333u;
  bytes = (bytes | (bytes >> 2)) & 0x0F0Fu;
  bytes = (bytes | (bytes >> 4)) & 0x00FFu;
  return bytes & b.occupied;
#else
  uint32_t bits = 0;
  for (uint32_t i = 0; i < kSlotsPerBucket; ++i) bits |= uint32_t{b.tags[i] == tag} << i;
  return bits & b.occupied;
#endif
}

uint32_t ConnIndex::find_hashed(const FourTuple& key, uint32_t h) const {
  const uint16_t tag = tag_of(h);
  const uint32_t home = home_bucket(h);
  uint32_t b = home;
  for (;;) {
    const Bucket& bucket = buckets_[b];
    for (uint32_t m = match(bucket, tag); m != 0; m &= m - 1) {
      const uint32_t value = bucket.values[std::countr_zero(m)];
      if (LINETCP_LIKELY(key_is(value, key))) return value;
    }
    if (LINETCP_LIKELY(bucket.overflow == 0)) return kInvalidConn;
    b = next(b);
    // One lap at most: every bucket can have a nonzero count at once (each passed by one live
    // entry; easy in a table of a few buckets), and no entry sits a lap away from its home.
    if (LINETCP_UNLIKELY(b == home)) return kInvalidConn;
  }
}

void ConnIndex::find_bulk(const FourTuple* keys, uint32_t n, uint32_t* out) const {
  uint32_t hashes[kBulkGroup];
  for (uint32_t base = 0; base < n; base += kBulkGroup) {
    const uint32_t count = std::min(kBulkGroup, n - base);
    // Stage 1: hash and prefetch the home buckets.
    for (uint32_t i = 0; i < count; ++i) {
      hashes[i] = hash(keys[base + i]);
      base::prefetch_read(&buckets_[home_bucket(hashes[i])]);
    }
    // Stage 2: match tags in the (now arriving) buckets and prefetch the first candidate's key.
    for (uint32_t i = 0; i < count; ++i) {
      const Bucket& bucket = buckets_[home_bucket(hashes[i])];
      const uint32_t m = match(bucket, tag_of(hashes[i]));
      if (m != 0) {
        if (const FourTuple* k = key_of_(ctx_, bucket.values[std::countr_zero(m)])) base::prefetch_read(k);
      }
    }
    // Stage 3: the full lookup, now mostly from cache.
    for (uint32_t i = 0; i < count; ++i) out[base + i] = find_hashed(keys[base + i], hashes[i]);
  }
}

bool ConnIndex::insert(const FourTuple& key, uint32_t value) {
  if (LINETCP_UNLIKELY(value == kInvalidConn)) return false;
  const uint32_t h = hash(key);
  if (find_hashed(key, h) != kInvalidConn) return false;
  if (LINETCP_UNLIKELY(size_ >= capacity_)) return false;
  // Load <= 3/4 guarantees a bucket with a free slot on the way; count every full one passed.
  uint32_t b = home_bucket(h);
  while (buckets_[b].occupied == 0xFF) {
    ++buckets_[b].overflow;
    b = next(b);
  }
  Bucket& bucket = buckets_[b];
  const uint32_t slot = static_cast<uint32_t>(std::countr_one(bucket.occupied));
  bucket.tags[slot] = tag_of(h);
  bucket.occupied = static_cast<uint8_t>(bucket.occupied | (1u << slot));
  bucket.values[slot] = value;
  ++size_;
  return true;
}

bool ConnIndex::erase(const FourTuple& key) {
  const uint32_t h = hash(key);
  const uint16_t tag = tag_of(h);
  const uint32_t home = home_bucket(h);
  uint32_t b = home;
  for (;;) {
    Bucket& bucket = buckets_[b];
    for (uint32_t m = match(bucket, tag); m != 0; m &= m - 1) {
      const uint32_t slot = static_cast<uint32_t>(std::countr_zero(m));
      if (key_is(bucket.values[slot], key)) {
        bucket.occupied = static_cast<uint8_t>(bucket.occupied & ~(1u << slot));
        // Undo the overflow counts that this entry's insertion added on its probe path.
        for (uint32_t p = home; p != b; p = next(p)) --buckets_[p].overflow;
        --size_;
        return true;
      }
    }
    if (bucket.overflow == 0) return false;
    b = next(b);
    if (b == home) return false;  // one lap at most, as in find_hashed
  }
}

bool ConnIndex::validate() const {
  const uint32_t n = bucket_count_;
  auto expected = std::make_unique<uint32_t[]>(n);  // value-initialised to zero
  uint32_t entries = 0;
  for (uint32_t b = 0; b < n; ++b) {
    for (uint32_t m = buckets_[b].occupied; m != 0; m &= m - 1) {
      const uint32_t slot = static_cast<uint32_t>(std::countr_zero(m));
      const uint32_t value = buckets_[b].values[slot];
      const FourTuple* key = key_of_(ctx_, value);
      if (key == nullptr || value == kInvalidConn) return false;
      const uint32_t h = hash(*key);
      if (buckets_[b].tags[slot] != tag_of(h)) return false;
      for (uint32_t p = home_bucket(h); p != b; p = next(p)) ++expected[p];
      ++entries;
    }
  }
  if (entries != size_) return false;
  for (uint32_t b = 0; b < n; ++b) {
    if (expected[b] != buckets_[b].overflow) return false;
  }
  return true;
}

}  // namespace linetcp::engine
