// ConnIndex lookups at 10^4 and 10^6 entries: single hit, single miss, and bulk (32) with
// prefetch, over keys in random order so the large table really misses the cache; the same
// lookups through DPDK's rte_hash (rte_hash_lookup, rte_hash_lookup_bulk) as the baseline.
// ConnIndex keeps no keys: a hit also reads the key from its owner (here an array in insertion
// order, as the Endpoint's connection slab), a line the engine reads right after anyway.
#include <benchmark/benchmark.h>
#include <rte_hash.h>
#include <rte_lcore.h>

#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "bench_util.hpp"
#include "linetcp/engine/conn_table.hpp"

namespace linetcp::engine {
namespace {

struct Fixture {
  std::vector<FourTuple> owners;  // owners[value]: the key the index resolves a value to
  std::unique_ptr<ConnIndex> index;
  std::vector<FourTuple> hits;    // present keys, shuffled
  std::vector<FourTuple> misses;  // absent keys
  rte_hash* rte = nullptr;        // the same keys in an rte_hash (built on first use)
};

// Built once per size: benchmark functions run several times while calibrating.
const Fixture& fixture(uint32_t n) {
  static std::map<uint32_t, std::unique_ptr<Fixture>> cache;
  auto& f = cache[n];
  if (f) return *f;
  f = std::make_unique<Fixture>();
  f->index = std::make_unique<ConnIndex>(
      n,
      [](const void* ctx, uint32_t value) -> const FourTuple* {
        const auto& owners = *static_cast<const std::vector<FourTuple>*>(ctx);
        return value < owners.size() ? &owners[value] : nullptr;
      },
      &f->owners);
  std::mt19937_64 rng(n);
  auto random_tuple = [&] {
    // A server's view: its own address and port, clients from a /16 with ephemeral ports.
    return FourTuple{0x0A000001, 0xC0A80000 | static_cast<uint32_t>(rng() & 0xFFFF), 80,
                     static_cast<uint16_t>(1024 + rng() % 64512)};
  };
  while (f->hits.size() < n) {
    const FourTuple t = random_tuple();
    if (f->index->insert(t, static_cast<uint32_t>(f->hits.size()))) {
      f->hits.push_back(t);
      f->owners.push_back(t);
    }
  }
  while (f->misses.size() < std::min<uint32_t>(n, 1'000'000)) {
    const FourTuple t = random_tuple();
    if (f->index->find(t) == kInvalidConn) f->misses.push_back(t);
  }
  std::shuffle(f->hits.begin(), f->hits.end(), rng);
  return *f;
}

void BM_ConnIndexFindHit(benchmark::State& state) {
  const Fixture& f = fixture(static_cast<uint32_t>(state.range(0)));
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.index->find(f.hits[i]));
    if (++i == f.hits.size()) i = 0;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  bench::set_cycles(state, static_cast<double>(state.iterations()));
  state.counters["bytes_per_entry"] =
      static_cast<double>(f.index->memory_bytes()) / static_cast<double>(f.index->size());
}

void BM_ConnIndexFindMiss(benchmark::State& state) {
  const Fixture& f = fixture(static_cast<uint32_t>(state.range(0)));
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.index->find(f.misses[i]));
    if (++i == f.misses.size()) i = 0;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  bench::set_cycles(state, static_cast<double>(state.iterations()));
}

// One iteration = one burst of 32 lookups; items/s counts lookups.
void BM_ConnIndexFindBulk32(benchmark::State& state) {
  const Fixture& f = fixture(static_cast<uint32_t>(state.range(0)));
  constexpr uint32_t kBurst = 32;
  uint32_t out[kBurst];
  std::size_t i = 0;
  for (auto _ : state) {
    f.index->find_bulk(&f.hits[i], kBurst, out);
    benchmark::DoNotOptimize(out);
    i += kBurst;
    if (i + kBurst > f.hits.size()) i = 0;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBurst);
  bench::set_cycles(state, static_cast<double>(state.iterations()) * kBurst);
}

// The same 32 lookups one by one, for comparison with the bulk path.
void BM_ConnIndexFindSingle32(benchmark::State& state) {
  const Fixture& f = fixture(static_cast<uint32_t>(state.range(0)));
  constexpr uint32_t kBurst = 32;
  uint32_t out[kBurst];
  std::size_t i = 0;
  for (auto _ : state) {
    for (uint32_t k = 0; k < kBurst; ++k) out[k] = f.index->find(f.hits[i + k]);
    benchmark::DoNotOptimize(out);
    i += kBurst;
    if (i + kBurst > f.hits.size()) i = 0;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBurst);
  bench::set_cycles(state, static_cast<double>(state.iterations()) * kBurst);
}

// Connection churn: erase one entry and insert it back.
void BM_ConnIndexEraseInsert(benchmark::State& state) {
  const Fixture& f = fixture(static_cast<uint32_t>(state.range(0)));
  std::size_t i = 0;
  for (auto _ : state) {
    f.index->erase(f.hits[i]);
    f.index->insert(f.hits[i], static_cast<uint32_t>(i));
    if (++i == f.hits.size()) i = 0;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  bench::set_cycles(state, static_cast<double>(state.iterations()));
}

// --- baseline: rte_hash (cuckoo, CRC32 hash, 8-entry buckets), the same keys ---

rte_hash* rte_table(uint32_t n) {
  auto& f = const_cast<Fixture&>(fixture(n));
  if (f.rte) return f.rte;
  bench::ensure_eal();
  const std::string name = "bench_" + std::to_string(n);
  rte_hash_parameters p{};
  p.name = name.c_str();
  p.entries = n + n / 4;  // cuckoo tables need some slack to take every key
  p.key_len = sizeof(FourTuple);
  p.socket_id = static_cast<int>(rte_socket_id());
  f.rte = rte_hash_create(&p);
  if (!f.rte) {
    std::fprintf(stderr, "rte_hash_create(%u) failed\n", n);
    std::exit(1);
  }
  for (std::size_t i = 0; i < f.hits.size(); ++i)
    if (rte_hash_add_key_data(f.rte, &f.hits[i], reinterpret_cast<void*>(i + 1)) < 0) {
      std::fprintf(stderr, "rte_hash_add_key_data failed at %zu of %u\n", i, n);
      std::exit(1);
    }
  return f.rte;
}

void BM_RteHashLookupHit(benchmark::State& state) {
  const auto n = static_cast<uint32_t>(state.range(0));
  rte_hash* h = rte_table(n);
  const Fixture& f = fixture(n);
  std::size_t i = 0;
  void* data = nullptr;
  for (auto _ : state) {
    benchmark::DoNotOptimize(rte_hash_lookup_data(h, &f.hits[i], &data));
    benchmark::DoNotOptimize(data);
    if (++i == f.hits.size()) i = 0;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  bench::set_cycles(state, static_cast<double>(state.iterations()));
}

void BM_RteHashLookupMiss(benchmark::State& state) {
  const auto n = static_cast<uint32_t>(state.range(0));
  rte_hash* h = rte_table(n);
  const Fixture& f = fixture(n);
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(rte_hash_lookup(h, &f.misses[i]));
    if (++i == f.misses.size()) i = 0;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  bench::set_cycles(state, static_cast<double>(state.iterations()));
}

// rte_hash_lookup_bulk: 32 keys per call (its maximum burst is 64), positions out.
void BM_RteHashLookupBulk32(benchmark::State& state) {
  const auto n = static_cast<uint32_t>(state.range(0));
  rte_hash* h = rte_table(n);
  const Fixture& f = fixture(n);
  constexpr uint32_t kBurst = 32;
  const void* keys[kBurst];
  int32_t positions[kBurst];
  std::size_t i = 0;
  for (auto _ : state) {
    for (uint32_t k = 0; k < kBurst; ++k) keys[k] = &f.hits[i + k];
    rte_hash_lookup_bulk(h, keys, kBurst, positions);
    benchmark::DoNotOptimize(positions);
    i += kBurst;
    if (i + kBurst > f.hits.size()) i = 0;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBurst);
  bench::set_cycles(state, static_cast<double>(state.iterations()) * kBurst);
}

BENCHMARK(BM_RteHashLookupHit)->Arg(10'000)->Arg(1'000'000);
BENCHMARK(BM_RteHashLookupMiss)->Arg(10'000)->Arg(1'000'000);
BENCHMARK(BM_RteHashLookupBulk32)->Arg(10'000)->Arg(1'000'000);

BENCHMARK(BM_ConnIndexFindHit)->Arg(10'000)->Arg(1'000'000);
BENCHMARK(BM_ConnIndexFindMiss)->Arg(10'000)->Arg(1'000'000);
BENCHMARK(BM_ConnIndexFindBulk32)->Arg(10'000)->Arg(1'000'000);
BENCHMARK(BM_ConnIndexFindSingle32)->Arg(10'000)->Arg(1'000'000);
BENCHMARK(BM_ConnIndexEraseInsert)->Arg(10'000)->Arg(1'000'000);

}  // namespace
}  // namespace linetcp::engine
