// Application payload generation: fill_pattern (the bulk/echo byte stream) against the
// per-byte pattern_byte() loop it replaced (a division by 26 per byte).
#include <benchmark/benchmark.h>

#include <vector>

#include "bench_util.hpp"
#include "linetcp/app/servers.hpp"

namespace linetcp::app {
namespace {

void BM_FillPattern(benchmark::State& state) {
  std::vector<uint8_t> buf(static_cast<std::size_t>(state.range(0)));
  uint64_t offset = 12345;
  for (auto _ : state) {
    fill_pattern(offset, buf);
    benchmark::DoNotOptimize(buf.data());
    offset += buf.size();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * buf.size()));
  bench::set_cycles(state, static_cast<double>(state.iterations()));
}

void BM_PatternBytePerByte(benchmark::State& state) {
  std::vector<uint8_t> buf(static_cast<std::size_t>(state.range(0)));
  uint64_t offset = 12345;
  for (auto _ : state) {
    for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = pattern_byte(offset + i);
    benchmark::DoNotOptimize(buf.data());
    offset += buf.size();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * buf.size()));
  bench::set_cycles(state, static_cast<double>(state.iterations()));
}

BENCHMARK(BM_FillPattern)->Arg(1448);
BENCHMARK(BM_PatternBytePerByte)->Arg(1448);

}  // namespace
}  // namespace linetcp::app
