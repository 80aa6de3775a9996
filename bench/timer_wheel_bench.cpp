// TimerWheel costs: schedule + cancel (the common TCP case), re-arm of an armed timer, and
// advance() in steady state and across a long jump, with 10^4 .. 10^7 timers armed; DPDK's
// rte_timer (a skip list per lcore) doing the same as the baseline.
#include <benchmark/benchmark.h>
#include <rte_cycles.h>
#include <rte_lcore.h>
#include <rte_timer.h>

#include <map>
#include <memory>
#include <random>
#include <vector>

#include "bench_util.hpp"
#include "linetcp/engine/timer_wheel.hpp"

namespace linetcp::engine {
namespace {

using base::Duration;
using base::Instant;

const Instant kStart = Instant::from_ns(1'000'000'000);

// RTO-like delays: 200 ms .. 3 s, in nanoseconds, pre-drawn.
std::vector<int64_t> delays(std::size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int64_t> d(n);
  for (auto& x : d) x = 200'000'000 + static_cast<int64_t>(rng() % 2'800'000'000);
  return d;
}

// `background` timers armed, then schedule one more and cancel it.
void BM_TimerScheduleCancel(benchmark::State& state) {
  const auto background = static_cast<std::size_t>(state.range(0));
  TimerWheel wheel(kStart);
  std::vector<TimerNode> nodes(background);
  const auto d = delays(4096, 1);
  for (std::size_t i = 0; i < background; ++i) {
    wheel.schedule(nodes[i], kStart + Duration::nanos(d[i % d.size()]));
  }
  TimerNode n;
  std::size_t i = 0;
  for (auto _ : state) {
    wheel.schedule(n, kStart + Duration::nanos(d[i++ & 4095]));
    wheel.cancel(n);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  bench::set_cycles(state, static_cast<double>(state.iterations()));
}

// Moving an armed timer, as every ACK does to the RTO: mostly a different slot.
void BM_TimerReschedule(benchmark::State& state) {
  const auto count = static_cast<std::size_t>(state.range(0));
  TimerWheel wheel(kStart);
  std::vector<TimerNode> nodes(count);
  const auto d = delays(4096, 2);
  for (std::size_t i = 0; i < count; ++i) wheel.schedule(nodes[i], kStart + Duration::nanos(d[i & 4095]));
  std::size_t i = 0;
  for (auto _ : state) {
    wheel.schedule(nodes[i % count], kStart + Duration::nanos(d[(i * 7) & 4095]));
    ++i;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  bench::set_cycles(state, static_cast<double>(state.iterations()));
}

// Steady state: N timers, each re-armed 200 ms .. 3 s ahead when it fires; one iteration is one
// 1 ms tick. Reports the time per advance and per fired timer.
void BM_TimerAdvanceSteady(benchmark::State& state) {
  const auto count = static_cast<std::size_t>(state.range(0));
  TimerWheel wheel(kStart);
  std::vector<TimerNode> nodes(count);
  const auto d = delays(65536, 3);
  for (std::size_t i = 0; i < count; ++i) wheel.schedule(nodes[i], kStart + Duration::nanos(d[i & 65535]));
  Instant now = kStart;
  std::size_t k = 0;
  std::size_t fired = 0;
  auto rearm = [&](TimerNode& n) { wheel.schedule(n, now + Duration::nanos(d[k++ & 65535])); };
  // Warm up past the first wave so the distribution is steady.
  for (int t = 0; t < 3000; ++t) {
    now += Duration::millis(1);
    wheel.advance(now, rearm);
  }
  for (auto _ : state) {
    now += Duration::millis(1);
    fired += wheel.advance(now, rearm);
  }
  state.counters["fired_per_tick"] = static_cast<double>(fired) / static_cast<double>(state.iterations());
  state.SetItemsProcessed(static_cast<int64_t>(fired));
  bench::set_cycles(state, static_cast<double>(fired));  // per fired timer, advance cost included
}

// An idle wheel with N timers far away (minutes .. hours): advance() by 1 ms must cost nothing
// in proportion to N (bitmaps, no slot walking).
void BM_TimerAdvanceIdle(benchmark::State& state) {
  const auto count = static_cast<std::size_t>(state.range(0));
  TimerWheel wheel(kStart);
  std::vector<TimerNode> nodes(count);
  std::mt19937_64 rng(4);
  for (auto& n : nodes) {
    wheel.schedule(n, kStart + Duration::seconds(600 + static_cast<int64_t>(rng() % 7200)));
  }
  Instant now = kStart;
  std::size_t fired = 0;
  for (auto _ : state) {
    now += Duration::millis(1);
    fired += wheel.advance(now, [](TimerNode&) {});
  }
  benchmark::DoNotOptimize(fired);
  bench::set_cycles(state, static_cast<double>(state.iterations()));  // per advance()
}

// Fire everything: N timers spread over 2 hours, one advance() jumps 3 hours. Time per timer.
void BM_TimerAdvanceJumpFireAll(benchmark::State& state) {
  const auto count = static_cast<std::size_t>(state.range(0));
  std::vector<TimerNode> nodes(count);
  std::mt19937_64 rng(5);
  std::vector<int64_t> d(count);
  for (auto& x : d) x = static_cast<int64_t>(rng() % 7'200'000'000'000);
  std::size_t fired = 0;
  for (auto _ : state) {
    state.PauseTiming();
    TimerWheel wheel(kStart);
    for (std::size_t i = 0; i < count; ++i) wheel.schedule(nodes[i], kStart + Duration::nanos(d[i]));
    state.ResumeTiming();
    fired += wheel.advance(kStart + Duration::seconds(3 * 3600), [](TimerNode&) {});
  }
  state.SetItemsProcessed(static_cast<int64_t>(fired));
  bench::set_cycles(state, static_cast<double>(fired));
}

// --- baseline: rte_timer, same delays in TSC cycles. rte_timer_manage() reads the real clock,
// so there is no steady-state or idle advance with virtual time; fire-all arms every timer
// already due and measures one rte_timer_manage(). ---

void rte_timer_setup() {
  static const bool ok = [] {
    bench::ensure_eal();
    rte_timer_subsystem_init();
    return true;
  }();
  (void)ok;
}

uint64_t ns_to_cycles(int64_t ns) {
  return static_cast<uint64_t>(static_cast<double>(ns) * static_cast<double>(rte_get_timer_hz()) / 1e9);
}

void noop_timer(rte_timer*, void*) {}

// Background timers per size, armed once and kept (arming 10^7 rte_timers takes seconds, and
// Google Benchmark calls a benchmark function several times): shared by reset/stop and reschedule.
std::map<std::size_t, std::unique_ptr<std::vector<rte_timer>>>& rte_background_cache() {
  static std::map<std::size_t, std::unique_ptr<std::vector<rte_timer>>> cache;
  return cache;
}
std::vector<rte_timer>& rte_background(std::size_t n) {
  auto& t = rte_background_cache()[n];
  if (t) return *t;
  t = std::make_unique<std::vector<rte_timer>>(n);
  const auto d = delays(4096, 1);
  for (std::size_t i = 0; i < n; ++i) {
    rte_timer_init(&(*t)[i]);
    rte_timer_reset(&(*t)[i], ns_to_cycles(d[i % d.size()]), SINGLE, rte_lcore_id(), noop_timer, nullptr);
  }
  return *t;
}
void rte_background_clear() {
  for (auto& [n, t] : rte_background_cache())
    for (auto& x : *t) rte_timer_stop(&x);
  rte_background_cache().clear();
}

void BM_RteTimerResetStop(benchmark::State& state) {
  rte_timer_setup();
  const unsigned lcore = rte_lcore_id();
  rte_background(static_cast<std::size_t>(state.range(0)));
  const auto d = delays(4096, 1);
  rte_timer t;
  rte_timer_init(&t);
  std::size_t i = 0;
  for (auto _ : state) {
    rte_timer_reset(&t, ns_to_cycles(d[i++ & 4095]), SINGLE, lcore, noop_timer, nullptr);
    rte_timer_stop(&t);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  bench::set_cycles(state, static_cast<double>(state.iterations()));
}

void BM_RteTimerReschedule(benchmark::State& state) {
  rte_timer_setup();
  const auto count = static_cast<std::size_t>(state.range(0));
  const unsigned lcore = rte_lcore_id();
  std::vector<rte_timer>& timers = rte_background(count);
  const auto d = delays(4096, 2);
  std::size_t i = 0;
  for (auto _ : state) {
    rte_timer_reset(&timers[i % count], ns_to_cycles(d[(i * 7) & 4095]), SINGLE, lcore, noop_timer, nullptr);
    ++i;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  bench::set_cycles(state, static_cast<double>(state.iterations()));
}

void BM_RteTimerManageFireAll(benchmark::State& state) {
  rte_timer_setup();
  rte_background_clear();  // only this benchmark's timers may be on the lcore's list
  const auto count = static_cast<std::size_t>(state.range(0));
  const unsigned lcore = rte_lcore_id();
  std::vector<rte_timer> timers(count);
  std::size_t fired = 0;
  for (auto _ : state) {
    state.PauseTiming();
    for (auto& t : timers) {
      rte_timer_init(&t);
      rte_timer_reset(&t, 0, SINGLE, lcore, noop_timer, nullptr);
    }
    state.ResumeTiming();
    rte_timer_manage();
    fired += count;
  }
  state.SetItemsProcessed(static_cast<int64_t>(fired));
  bench::set_cycles(state, static_cast<double>(fired));
}

BENCHMARK(BM_TimerScheduleCancel)->Arg(10'000)->Arg(1'000'000)->Arg(10'000'000);
BENCHMARK(BM_TimerReschedule)->Arg(10'000)->Arg(1'000'000)->Arg(10'000'000);
BENCHMARK(BM_TimerAdvanceSteady)->Arg(10'000)->Arg(100'000)->Arg(1'000'000)->Arg(10'000'000);
BENCHMARK(BM_TimerAdvanceIdle)->Arg(10'000)->Arg(1'000'000)->Arg(10'000'000);
BENCHMARK(BM_TimerAdvanceJumpFireAll)->Arg(10'000)->Arg(100'000)->Arg(1'000'000);
BENCHMARK(BM_RteTimerResetStop)->Arg(10'000)->Arg(1'000'000)->Arg(10'000'000);
BENCHMARK(BM_RteTimerReschedule)->Arg(10'000)->Arg(1'000'000)->Arg(10'000'000);
BENCHMARK(BM_RteTimerManageFireAll)->Arg(10'000)->Arg(100'000)->Arg(1'000'000);

}  // namespace
}  // namespace linetcp::engine
