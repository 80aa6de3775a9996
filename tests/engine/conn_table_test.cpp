// Slab and ConnIndex: exact unit cases, a collision chain, and a randomised model test against
// std::unordered_map at high load, bulk lookups included.
#include "linetcp/engine/conn_table.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <random>
#include <unordered_map>
#include <vector>

namespace linetcp::engine {
namespace {

struct Counted {
  static inline int constructed = 0;
  Counted() { ++constructed; }
  uint64_t payload = 0;
};

TEST(Slab, HandsOutSlotsInOrderUntilFullThenRecovers) {
  Counted::constructed = 0;
  Slab<Counted> slab(4);
  EXPECT_EQ(Counted::constructed, 4);  // all constructed once, up front
  EXPECT_EQ(slab.capacity(), 4u);
  EXPECT_EQ(slab.size(), 0u);
  EXPECT_EQ(slab.alloc(), 0u);
  EXPECT_EQ(slab.alloc(), 1u);
  EXPECT_EQ(slab.alloc(), 2u);
  EXPECT_EQ(slab.alloc(), 3u);
  EXPECT_TRUE(slab.full());
  EXPECT_EQ(slab.alloc(), kInvalidConn);
  EXPECT_EQ(slab.alloc(), kInvalidConn);
  EXPECT_EQ(slab.size(), 4u);

  slab.free(2);
  EXPECT_FALSE(slab.in_use(2));
  EXPECT_EQ(slab.size(), 3u);
  EXPECT_EQ(slab.alloc(), 2u);  // recovers once a slot is free
  EXPECT_EQ(slab.alloc(), kInvalidConn);
  EXPECT_EQ(Counted::constructed, 4);  // nothing constructed after the constructor
}

TEST(Slab, ReusesTheMostRecentlyFreedSlotFirst) {
  Slab<int> slab(8);
  for (int i = 0; i < 8; ++i) ASSERT_EQ(slab.alloc(), static_cast<ConnId>(i));
  slab.free(5);
  slab.free(1);
  slab.free(6);
  EXPECT_EQ(slab.alloc(), 6u);
  EXPECT_EQ(slab.alloc(), 1u);
  EXPECT_EQ(slab.alloc(), 5u);
  EXPECT_EQ(slab.alloc(), kInvalidConn);
}

TEST(Slab, KeepsObjectsAndTracksUse) {
  Slab<Counted> slab(100);
  const ConnId a = slab.alloc();
  const ConnId b = slab.alloc();
  slab[a].payload = 11;
  slab[b].payload = 22;
  EXPECT_EQ(slab[a].payload, 11u);
  EXPECT_EQ(slab[b].payload, 22u);
  EXPECT_TRUE(slab.in_use(a));
  EXPECT_TRUE(slab.in_use(b));
  EXPECT_FALSE(slab.in_use(2));
  EXPECT_FALSE(slab.in_use(100));
  EXPECT_FALSE(slab.in_use(kInvalidConn));
  EXPECT_GE(slab.memory_bytes(), 100 * sizeof(Counted) + 100 * sizeof(uint32_t));
}

#ifdef NDEBUG
TEST(Slab, IgnoresDoubleFreeInRelease) {
  Slab<int> slab(2);
  const ConnId a = slab.alloc();
  slab.free(a);
  slab.free(a);  // would push the slot twice onto the free stack
  slab.free(7);
  EXPECT_EQ(slab.size(), 0u);
  EXPECT_EQ(slab.alloc(), 0u);
  EXPECT_EQ(slab.alloc(), 1u);
  EXPECT_EQ(slab.alloc(), kInvalidConn);
}
#endif

TEST(Slab, ChurnUntilFullManyTimes) {
  Slab<int> slab(1000);
  std::mt19937 rng(7);
  std::vector<ConnId> live;
  std::vector<bool> used(1000, false);
  for (int round = 0; round < 20; ++round) {
    for (;;) {
      const ConnId id = slab.alloc();
      if (id == kInvalidConn) break;
      ASSERT_LT(id, 1000u);
      ASSERT_FALSE(used[id]);
      used[id] = true;
      live.push_back(id);
    }
    ASSERT_EQ(live.size(), 1000u);
    ASSERT_EQ(slab.size(), 1000u);
    // Free a random half.
    std::shuffle(live.begin(), live.end(), rng);
    for (int i = 0; i < 500; ++i) {
      slab.free(live.back());
      used[live.back()] = false;
      live.pop_back();
    }
    ASSERT_EQ(slab.size(), 500u);
  }
}

FourTuple tuple(uint32_t remote_ip, uint16_t remote_port, uint16_t local_port = 80) {
  return FourTuple{0x0A000001, remote_ip, local_port, remote_port};
}

// The owners of the index's values: the index keeps no keys and asks these (ConnIndex::KeyOf),
// as the Endpoint asks its connections and TIME_WAIT records.
struct Owners {
  std::unordered_map<uint32_t, FourTuple> key_of_value;
  static const FourTuple* key_of(const void* ctx, uint32_t value) {
    const auto& m = static_cast<const Owners*>(ctx)->key_of_value;
    const auto it = m.find(value);
    return it == m.end() ? nullptr : &it->second;
  }
  ConnIndex index(uint32_t capacity, TupleHashKey key = {}) { return ConnIndex(capacity, &Owners::key_of, this, key); }
  bool insert(ConnIndex& index, const FourTuple& key, uint32_t value) {
    if (!index.insert(key, value)) return false;
    key_of_value[value] = key;
    return true;
  }
  bool erase(ConnIndex& index, const FourTuple& key) {
    const uint32_t value = index.find(key);
    if (!index.erase(key)) return false;
    key_of_value.erase(value);
    return true;
  }
};

TEST(ConnIndex, SizesBucketsForThreeQuarterLoad) {
  EXPECT_EQ(ConnIndex(0, &Owners::key_of, nullptr).bucket_count(), 1u);
  EXPECT_EQ(ConnIndex(1, &Owners::key_of, nullptr).bucket_count(), 1u);
  EXPECT_EQ(ConnIndex(6, &Owners::key_of, nullptr).bucket_count(), 1u);     // 6 of 8 slots = 0.75
  EXPECT_EQ(ConnIndex(7, &Owners::key_of, nullptr).bucket_count(), 2u);
  EXPECT_EQ(ConnIndex(1000, &Owners::key_of, nullptr).bucket_count(), 167u);  // 1334 slots -> 167 buckets
  EXPECT_EQ(ConnIndex(1536, &Owners::key_of, nullptr).bucket_count(), 256u);  // exactly 0.75 of 2048 slots
  EXPECT_EQ(ConnIndex(1537, &Owners::key_of, nullptr).bucket_count(), 257u);  // no rounding to 512
  const ConnIndex big(1'000'000, &Owners::key_of, nullptr);
  EXPECT_EQ(big.bucket_count(), 166'667u);
  EXPECT_EQ(big.memory_bytes(), sizeof(ConnIndex) + 166'667u * 64);
}

// The bucket count is the fewest for <= 75 % load at every capacity, not only at powers of two, so
// the index costs at most 64 B per 6 entries (10.7 B) plus one partly used bucket and its header.
TEST(ConnIndex, BucketCountIsMinimalAtEveryCapacity) {
  for (const uint32_t capacity : {1u, 5u, 6u, 7u, 100u, 1537u, 65'536u, 65'537u, 98'305u, 100'000u, 131'072u,
                                  140'000u, 196'609u, 1'000'000u, 1'048'577u}) {
    SCOPED_TRACE(capacity);
    const ConnIndex index(capacity, &Owners::key_of, nullptr);
    const uint64_t buckets = index.bucket_count();
    const uint64_t slots = buckets * ConnIndex::kSlotsPerBucket;
    EXPECT_LE(uint64_t{capacity} * 4, slots * 3);  // at most 75 % load when full
    if (buckets > 1) {
      EXPECT_GT(uint64_t{capacity} * 4, (slots - ConnIndex::kSlotsPerBucket) * 3);  // one fewer would not do
    }
    EXPECT_EQ(buckets, (uint64_t{capacity} + 5) / 6);
    EXPECT_EQ(index.memory_bytes(), sizeof(ConnIndex) + buckets * 64);
    const double per_entry = static_cast<double>(index.memory_bytes()) / capacity;
    EXPECT_LE(per_entry, (64.0 * static_cast<double>((capacity + 5) / 6) + sizeof(ConnIndex)) / capacity);
    if (capacity >= 65'536) {
      EXPECT_LT(per_entry, 10.7);
    }
    // Multiply-shift range reduction covers exactly [0, buckets): no modulo, no mask.
    EXPECT_EQ(index.home_bucket(0), 0u);
    EXPECT_EQ(index.home_bucket(0xFFFFFFFFu), buckets - 1);
    EXPECT_EQ(index.home_bucket(0x80000000u), buckets / 2);
  }
}

TEST(ConnIndex, InsertFindErase) {
  Owners owners;
  ConnIndex index = owners.index(100);
  const FourTuple a = tuple(0xC0A80001, 40000);
  const FourTuple b = tuple(0xC0A80001, 40001);
  EXPECT_EQ(index.find(a), kInvalidConn);
  EXPECT_TRUE(owners.insert(index, a, 7));
  EXPECT_FALSE(owners.insert(index, a, 8));  // already present: the old value stays
  EXPECT_TRUE(owners.insert(index, b, 0x80000003));  // e.g. a TIME_WAIT handle with the high bit set
  EXPECT_EQ(index.size(), 2u);
  EXPECT_EQ(index.find(a), 7u);
  EXPECT_EQ(index.find(b), 0x80000003u);
  EXPECT_EQ(index.find(tuple(0xC0A80001, 40002)), kInvalidConn);
  EXPECT_TRUE(owners.erase(index, a));
  EXPECT_FALSE(owners.erase(index, a));
  EXPECT_EQ(index.find(a), kInvalidConn);
  EXPECT_EQ(index.find(b), 0x80000003u);
  EXPECT_EQ(index.size(), 1u);
  EXPECT_FALSE(owners.insert(index, a, kInvalidConn));  // the "absent" value cannot be stored
  EXPECT_TRUE(index.validate());
}

TEST(ConnIndex, RefusesBeyondCapacityThenRecovers) {
  Owners owners;
  ConnIndex index = owners.index(10);
  for (uint16_t p = 0; p < 10; ++p) ASSERT_TRUE(owners.insert(index, tuple(1, p), p));
  EXPECT_FALSE(owners.insert(index, tuple(1, 10), 10));
  EXPECT_EQ(index.size(), 10u);
  EXPECT_TRUE(owners.erase(index, tuple(1, 3)));
  EXPECT_TRUE(owners.insert(index, tuple(1, 10), 10));
  for (uint16_t p = 0; p <= 10; ++p) EXPECT_EQ(index.find(tuple(1, p)), p == 3 ? kInvalidConn : p);
  EXPECT_TRUE(index.validate());
}

// Many keys with one home bucket: they overflow into the following buckets, and erasing from the
// middle of the chain keeps every other key reachable and the counts exact.
TEST(ConnIndex, CollisionChainAcrossBuckets) {
  Owners owners;
  ConnIndex index = owners.index(96);  // 128 slots, 16 buckets
  ASSERT_EQ(index.bucket_count(), 16u);
  std::vector<FourTuple> same_home;
  uint32_t home = 0;
  for (uint32_t port = 1; same_home.size() < 40; ++port) {
    const FourTuple t = tuple(0x0B000001, static_cast<uint16_t>(port));
    const uint32_t h = index.home_bucket(index.hash(t));
    if (port == 1) home = h;
    if (h == home) same_home.push_back(t);
  }
  for (uint32_t i = 0; i < same_home.size(); ++i) ASSERT_TRUE(owners.insert(index, same_home[i], i));
  EXPECT_TRUE(index.validate());
  for (uint32_t i = 0; i < same_home.size(); ++i) EXPECT_EQ(index.find(same_home[i]), i);
  // Erase every third, check the rest, reinsert with new values.
  for (uint32_t i = 0; i < same_home.size(); i += 3) EXPECT_TRUE(owners.erase(index, same_home[i]));
  EXPECT_TRUE(index.validate());
  for (uint32_t i = 0; i < same_home.size(); ++i) {
    EXPECT_EQ(index.find(same_home[i]), i % 3 == 0 ? kInvalidConn : i);
  }
  for (uint32_t i = 0; i < same_home.size(); i += 3) EXPECT_TRUE(owners.insert(index, same_home[i], 1000 + i));
  for (uint32_t i = 0; i < same_home.size(); ++i) {
    EXPECT_EQ(index.find(same_home[i]), i % 3 == 0 ? 1000 + i : i);
  }
  // Bulk agrees with single lookups on the chain.
  std::vector<uint32_t> out(same_home.size());
  index.find_bulk(same_home.data(), static_cast<uint32_t>(same_home.size()), out.data());
  for (uint32_t i = 0; i < same_home.size(); ++i) EXPECT_EQ(out[i], index.find(same_home[i]));
  for (const FourTuple& t : same_home) EXPECT_TRUE(owners.erase(index, t));
  EXPECT_EQ(index.size(), 0u);
  EXPECT_TRUE(index.validate());  // every overflow count back to zero: no residue, no tombstones
}

// A peer that knows the hash picks ports that all land in one bucket: with the unkeyed hash the
// 200 of them form one long probe chain. Under a secret key the same tuples scatter, and which
// tuples collide differs from key to key (the endpoint takes its key from the per-process secret).
TEST(ConnIndex, KeyedHashScattersTuplesChosenToCollideWithoutIt) {
  Owners owners;
  ConnIndex unkeyed = owners.index(6000);  // 1000 buckets
  std::vector<FourTuple> flood;
  for (uint32_t n = 0; flood.size() < 200 && n < 4'000'000; ++n) {  // about 200 000 tried
    const FourTuple t = tuple(0x0D000001 + (n >> 16), static_cast<uint16_t>(n));
    if (unkeyed.home_bucket(unkeyed.hash(t)) == 7) flood.push_back(t);
  }
  ASSERT_EQ(flood.size(), 200u);
  for (const TupleHashKey key : {TupleHashKey{0x243F6A8885A308D3ull, 0x13198A2E03707344ull},
                                 TupleHashKey{0xA4093822299F31D0ull, 0x082EFA98EC4E6C89ull}}) {
    Owners keyed_owners;
    ConnIndex keyed = keyed_owners.index(6000, key);
    std::unordered_map<uint32_t, uint32_t> per_bucket;
    uint32_t fullest = 0;
    for (const FourTuple& t : flood) fullest = std::max(fullest, ++per_bucket[keyed.home_bucket(keyed.hash(t))]);
    EXPECT_GE(per_bucket.size(), 150u);  // 200 balls in 1000 bins: ~182 bins expected
    EXPECT_LE(fullest, 4u);
    // Lookups work the same under any key.
    for (uint32_t i = 0; i < flood.size(); ++i) ASSERT_TRUE(keyed_owners.insert(keyed, flood[i], i));
    for (uint32_t i = 0; i < flood.size(); ++i) EXPECT_EQ(keyed.find(flood[i]), i);
    EXPECT_TRUE(keyed.validate());
  }
}

// Software steering gives a server's flow to the worker its keyed hash picks: flows chosen to
// land on worker 0 without the key spread over all workers with one.
TEST(FlowOwner, KeyedOwnersSpreadFlowsAimedAtOneWorker) {
  constexpr uint32_t kWorkers = 4;
  std::vector<FourTuple> aimed;
  for (uint32_t n = 0; aimed.size() < 400 && n < 100'000; ++n) {
    const FourTuple t = tuple(0x0D000001 + (n >> 16), static_cast<uint16_t>(n));
    if (flow_owner(t, kWorkers, {}) == 0) aimed.push_back(t);
  }
  ASSERT_EQ(aimed.size(), 400u);
  const TupleHashKey key{0xA4093822299F31D0ull, 0x082EFA98EC4E6C89ull};
  std::array<uint32_t, kWorkers> per_worker{};
  for (const FourTuple& t : aimed) {
    const uint32_t w = flow_owner(t, kWorkers, key);
    ASSERT_LT(w, kWorkers);
    EXPECT_EQ(flow_owner(t, kWorkers, key), w);  // both directions' frames agree: the same tuple
    ++per_worker[w];
    EXPECT_EQ(flow_owner(t, 1, key), 0u);
  }
  for (const uint32_t n : per_worker) {  // 100 expected each
    EXPECT_GE(n, 60u);
    EXPECT_LE(n, 140u);
  }
}

// `n` distinct keys (from 0x0C000001, ports counted up from `first_port`) whose home is `bucket`.
std::vector<FourTuple> keys_homed_at(const ConnIndex& index, uint32_t bucket, uint32_t n,
                                     uint32_t first_port) {
  std::vector<FourTuple> keys;
  for (uint32_t port = first_port; keys.size() < n; ++port) {
    const FourTuple t = tuple(0x0C000001, static_cast<uint16_t>(port), static_cast<uint16_t>(port >> 16));
    if (index.home_bucket(index.hash(t)) == bucket) keys.push_back(t);
  }
  return keys;
}

// A chain from the last bucket of a non-power-of-two index wraps to bucket 0 and on, past entries
// that live there at home: inserting, finding, missing, erasing from the middle and reinserting
// all follow the wrapped path, and the overflow counts stay exact.
TEST(ConnIndex, ProbingWrapsPastTheLastBucket) {
  Owners owners;
  ConnIndex index = owners.index(30);  // 5 buckets of 8 slots, 75 % full at capacity
  ASSERT_EQ(index.bucket_count(), 5u);
  const uint32_t last = index.bucket_count() - 1;
  // 4 keys at home in bucket 0, then 26 homed at the last bucket: 8 fill it, 4 go to bucket 0
  // (after the residents), 8 fill bucket 1 and 6 land in bucket 2.
  const std::vector<FourTuple> at_zero = keys_homed_at(index, 0, 4, 1);
  std::vector<FourTuple> at_last = keys_homed_at(index, last, 26 + 20, 1);
  std::vector<FourTuple> absent(at_last.begin() + 26, at_last.end());  // homed there too, not inserted
  at_last.resize(26);
  uint32_t value = 0;
  for (const FourTuple& t : at_zero) ASSERT_TRUE(owners.insert(index, t, value++));
  for (const FourTuple& t : at_last) ASSERT_TRUE(owners.insert(index, t, value++));
  EXPECT_EQ(index.size(), 30u);
  EXPECT_FALSE(owners.insert(index, absent[0], value));  // full at capacity
  EXPECT_TRUE(index.validate());
  auto check = [&] {
    for (const auto& [v, key] : owners.key_of_value) EXPECT_EQ(index.find(key), v);
    for (const FourTuple& t : absent) EXPECT_EQ(index.find(t), kInvalidConn);
    std::vector<FourTuple> all = at_zero;
    all.insert(all.end(), at_last.begin(), at_last.end());
    all.insert(all.end(), absent.begin(), absent.end());
    std::vector<uint32_t> out(all.size());
    index.find_bulk(all.data(), static_cast<uint32_t>(all.size()), out.data());
    for (uint32_t i = 0; i < all.size(); ++i) EXPECT_EQ(out[i], index.find(all[i]));
    EXPECT_TRUE(index.validate());
  };
  check();
  // Churn on the wrapped chain: erase from its start, middle and end (and a resident of bucket
  // 0), reinsert under new values, and now and then swap in a key that was absent.
  for (uint32_t round = 0; round < 50; ++round) {
    const uint32_t picks[] = {round % 26, (round * 7 + 3) % 26, 25 - round % 26};
    for (const uint32_t i : picks) {
      ASSERT_TRUE(owners.erase(index, at_last[i]));
      if (round % 5 == 0) std::swap(at_last[i], absent[round / 5 % absent.size()]);
      ASSERT_TRUE(owners.insert(index, at_last[i], value++));
    }
    const FourTuple& resident = at_zero[round % at_zero.size()];
    ASSERT_TRUE(owners.erase(index, resident));
    EXPECT_EQ(index.find(resident), kInvalidConn);
    ASSERT_TRUE(owners.insert(index, resident, value++));
    ASSERT_EQ(index.size(), 30u);
    check();
  }
  for (const FourTuple& t : at_last) ASSERT_TRUE(owners.erase(index, t));
  for (const FourTuple& t : at_zero) ASSERT_TRUE(owners.erase(index, t));
  EXPECT_EQ(index.size(), 0u);
  EXPECT_TRUE(index.validate());
}

// Random keys at exactly `capacity` entries in an index whose bucket count is not a power of two
// (1000 entries, 167 buckets): every step erases one entry and inserts a fresh key, so the index
// stays full; every entry is found, misses miss and the counts hold throughout.
TEST(ConnIndex, FullNonPowerOfTwoIndexChurns) {
  Owners owners;
  constexpr uint32_t kCapacity = 1000;
  ConnIndex index = owners.index(kCapacity);
  ASSERT_EQ(index.bucket_count(), 167u);
  std::mt19937_64 rng(5);
  // Present keys have a local address below 2^31, the misses one above: a miss is never present.
  auto random_tuple = [&](bool miss = false) {
    const uint32_t local = static_cast<uint32_t>(rng()) >> 1 | (miss ? 0x80000000u : 0);
    return FourTuple{local, static_cast<uint32_t>(rng()), static_cast<uint16_t>(rng()),
                     static_cast<uint16_t>(rng())};
  };
  std::vector<FourTuple> present;
  uint32_t value = 0;
  while (present.size() < kCapacity) {
    const FourTuple t = random_tuple();
    if (owners.insert(index, t, value)) {
      present.push_back(t);
      ++value;
    }
  }
  ASSERT_EQ(index.size(), kCapacity);
  ASSERT_FALSE(owners.insert(index, random_tuple(), value));  // full
  bool last_bucket_used = false;
  for (const FourTuple& t : present) last_bucket_used |= index.home_bucket(index.hash(t)) == 166;
  EXPECT_TRUE(last_bucket_used);
  for (uint32_t step = 0; step < 20'000; ++step) {
    const std::size_t i = rng() % present.size();
    ASSERT_TRUE(owners.erase(index, present[i]));
    FourTuple t = random_tuple();
    while (!owners.insert(index, t, value)) t = random_tuple();  // a duplicate is refused: try another
    present[i] = t;
    ++value;
    ASSERT_EQ(index.size(), kCapacity);
    if (step % 2'000 == 0) {
      for (const FourTuple& k : present) ASSERT_NE(index.find(k), kInvalidConn);
      for (uint32_t m = 0; m < 1000; ++m) ASSERT_EQ(index.find(random_tuple(true)), kInvalidConn);
      ASSERT_TRUE(index.validate()) << "step " << step;
    }
  }
  for (const auto& [v, key] : owners.key_of_value) ASSERT_EQ(index.find(key), v);
  std::vector<uint32_t> out(present.size());
  index.find_bulk(present.data(), static_cast<uint32_t>(present.size()), out.data());
  for (std::size_t i = 0; i < present.size(); ++i) ASSERT_EQ(out[i], index.find(present[i]));
  EXPECT_TRUE(index.validate());
}

// Every bucket's overflow count can be nonzero at once, each bucket passed by one live entry: a
// miss must stop after one lap instead of circling forever.
TEST(ConnIndex, MissStopsAfterOneLapWhenEveryBucketOverflowed) {
  Owners owners;
  ConnIndex index = owners.index(12);  // 2 buckets
  ASSERT_EQ(index.bucket_count(), 2u);
  const std::vector<FourTuple> at_zero = keys_homed_at(index, 0, 9, 1);
  const std::vector<FourTuple> at_one = keys_homed_at(index, 1, 8, 1);
  uint32_t value = 0;
  // The 9th key homed at 0 passes bucket 0; then bucket 0 empties and the 8th homed at 1 passes it.
  for (const FourTuple& t : at_zero) ASSERT_TRUE(owners.insert(index, t, value++));
  for (uint32_t i = 0; i < 8; ++i) ASSERT_TRUE(owners.erase(index, at_zero[i]));
  for (const FourTuple& t : at_one) ASSERT_TRUE(owners.insert(index, t, value++));
  ASSERT_EQ(index.size(), 9u);
  ASSERT_TRUE(index.validate());
  const std::vector<FourTuple> absent = keys_homed_at(index, 0, 1, 20'000);
  const std::vector<FourTuple> absent_one = keys_homed_at(index, 1, 1, 20'000);
  EXPECT_EQ(index.find(absent[0]), kInvalidConn);
  EXPECT_EQ(index.find(absent_one[0]), kInvalidConn);
  EXPECT_FALSE(owners.erase(index, absent[0]));
  EXPECT_FALSE(owners.erase(index, absent_one[0]));
  EXPECT_TRUE(owners.insert(index, absent[0], value++));
  EXPECT_EQ(index.find(at_zero[8]), 8u);
  for (uint32_t i = 0; i < 8; ++i) EXPECT_EQ(index.find(at_one[i]), 9 + i);
  EXPECT_TRUE(index.validate());
}

struct TupleHash {
  std::size_t operator()(const FourTuple& t) const { return hash_tuple(t); }
};

// Random insert / erase / find / find_bulk against std::unordered_map, with a key pool larger than
// the capacity so the index sits at (and bounces off) its full 75 % load. pool_size 0: 1.25 x capacity.
void run_model(uint32_t capacity, uint32_t ops, uint32_t seed, bool structured_keys, uint32_t pool_size = 0) {
  Owners owners;
  ConnIndex index = owners.index(capacity);
  std::unordered_map<FourTuple, uint32_t, TupleHash> model;
  std::mt19937_64 rng(seed);
  if (pool_size == 0) pool_size = capacity + capacity / 4;
  std::vector<FourTuple> pool(pool_size);
  for (uint32_t i = 0; i < pool_size; ++i) {
    if (structured_keys) {
      // A load balancer's view: few clients, consecutive ephemeral ports, one server port.
      pool[i] = FourTuple{0x0A000001, 0xC0A80000 + i / 28000, 80, static_cast<uint16_t>(1024 + i % 28000)};
    } else {
      pool[i] = FourTuple{static_cast<uint32_t>(rng()), static_cast<uint32_t>(rng()),
                          static_cast<uint16_t>(rng()), static_cast<uint16_t>(rng())};
    }
  }
  std::vector<FourTuple> burst(ConnIndex::kBulkGroup + 5);
  std::vector<uint32_t> out(burst.size());
  uint32_t next_value = 0;
  for (uint32_t op = 0; op < ops; ++op) {
    const uint32_t r = static_cast<uint32_t>(rng() % 100);
    const FourTuple& key = pool[rng() % pool_size];
    if (r < 55) {
      const uint32_t value = next_value++ & 0x7FFFFFFF;
      const bool expect = !model.contains(key) && model.size() < capacity;
      ASSERT_EQ(owners.insert(index, key, value), expect) << "op " << op;
      if (expect) model.emplace(key, value);
    } else if (r < 70) {
      ASSERT_EQ(owners.erase(index, key), model.erase(key) == 1) << "op " << op;
    } else if (r < 95) {
      const auto it = model.find(key);
      ASSERT_EQ(index.find(key), it == model.end() ? kInvalidConn : it->second) << "op " << op;
    } else {
      const uint32_t n = static_cast<uint32_t>(rng() % burst.size()) + 1;
      for (uint32_t i = 0; i < n; ++i) burst[i] = pool[rng() % pool_size];
      index.find_bulk(burst.data(), n, out.data());
      for (uint32_t i = 0; i < n; ++i) {
        const auto it = model.find(burst[i]);
        ASSERT_EQ(out[i], it == model.end() ? kInvalidConn : it->second) << "op " << op << " i " << i;
      }
    }
    ASSERT_EQ(index.size(), model.size());
    if (op % (ops / 8) == 0) {
      ASSERT_TRUE(index.validate()) << "op " << op;
    }
  }
  EXPECT_GE(model.size(), capacity * 9 / 10);  // it really ran near full
  for (const auto& [key, value] : model) ASSERT_EQ(index.find(key), value);
  for (const auto& [key, value] : model) ASSERT_TRUE(owners.erase(index, key));
  EXPECT_EQ(index.size(), 0u);
  EXPECT_TRUE(index.validate());
}

TEST(ConnIndex, ModelRandomKeysHighLoad) { run_model(50'000, 3'000'000, 1, false); }
TEST(ConnIndex, ModelStructuredKeysHighLoad) { run_model(100'000, 2'000'000, 2, true); }
TEST(ConnIndex, ModelTinyTable) { run_model(12, 200'000, 3, false); }
// 3 buckets, and a pool of 4 x capacity keys so that the set present varies enough to overflow the
// last bucket (and wrap) often; with the 1.25 x pool a tiny table may never overflow it.
TEST(ConnIndex, ModelThreeBucketTable) { run_model(17, 200'000, 4, false, 17 * 4); }

}  // namespace
}  // namespace linetcp::engine
