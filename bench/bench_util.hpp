// Shared helpers of the micro benchmarks: cycles per operation (TSC reference cycles) as a
// Google Benchmark counter, and a lazily started DPDK EAL for the rte_hash / rte_timer baselines.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>

namespace linetcp::bench {

// TSC ticks per second, measured once against the steady clock (about 20 ms).
double tsc_hz();

// Adds "cycles/op": TSC cycles per item, from the benchmark's own time measurement. TSC cycles are
// reference cycles: with turbo the core may run more of its own cycles in the same time.
inline void set_cycles(benchmark::State& state, double items) {
  state.counters["cycles/op"] =
      benchmark::Counter(items / tsc_hz(), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// Starts the EAL once (--no-huge, no PCI, 2 GiB of ordinary memory, a per-process file prefix).
// Only the rte_hash / rte_timer baselines call it.
void ensure_eal();

}  // namespace linetcp::bench
