// Helpers of the micro benchmarks: TSC frequency and the lazily started EAL (see bench_util.hpp).
#include "bench_util.hpp"

#include <rte_eal.h>
#include <x86intrin.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

namespace linetcp::bench {

double tsc_hz() {
  static const double hz = [] {
    using Clock = std::chrono::steady_clock;
    const auto t0 = Clock::now();
    const uint64_t c0 = __rdtsc();
    while (Clock::now() - t0 < std::chrono::milliseconds(20)) {
    }
    const uint64_t c1 = __rdtsc();
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    return static_cast<double>(c1 - c0) / s;
  }();
  return hz;
}

void ensure_eal() {
  static const bool ok = [] {
    const std::string prefix = "--file-prefix=ltcp-bench-" + std::to_string(getpid());
    const char* args[] = {"linetcp_bench", "-l", "0", "--no-huge", "--no-pci", "--no-shconf",
                          "-m", "3072", "--no-telemetry", "--log-level=error", prefix.c_str()};
    int argc = static_cast<int>(sizeof args / sizeof args[0]);
    if (rte_eal_init(argc, const_cast<char**>(args)) < 0) {
      std::fprintf(stderr, "rte_eal_init failed: the rte_* baselines cannot run\n");
      std::exit(1);
    }
    // Leave nothing behind: the EAL and its (empty) runtime directory go at exit.
    std::atexit([] {
      const std::string dir = rte_eal_get_runtime_dir();
      rte_eal_cleanup();
      rmdir(dir.c_str());
    });
    return true;
  }();
  (void)ok;
}

}  // namespace linetcp::bench
