// rte_telemetry commands, so that dpdk-telemetry.py (or any client of the telemetry socket) can
// look inside a running linetcp: /linetcp/stats (every counter), /linetcp/workers (per worker),
// /linetcp/conns (connections by TCP state) and /linetcp/config (the effective configuration).
// The callbacks run on DPDK's telemetry thread and read the workers' published snapshots.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "linetcp/control/stats.hpp"

namespace linetcp::dpdk {

struct TelemetrySource {
  std::string role;  // "server" or "client": the key each command reports this side under
  // The sum of the side's worker snapshots, and one object per worker into `per_worker`.
  std::function<control::WorkerStats(nlohmann::json* per_worker)> collect;
  nlohmann::json config;
};

// Registers the commands (once per process) and makes them report `sources` from now on.
void telemetry_publish(std::vector<TelemetrySource> sources);
// The run is over: the commands answer with an empty object.
void telemetry_withdraw();

}  // namespace linetcp::dpdk
