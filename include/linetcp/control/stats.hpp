// What the main lcore knows about the run: per-worker snapshots (published by the workers),
// their sum, the live status line, and the final human summary and JSON report.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "linetcp/app/histogram.hpp"
#include "linetcp/app/load_client.hpp"
#include "linetcp/app/servers.hpp"
#include "linetcp/control/config.hpp"
#include "linetcp/engine/endpoint.hpp"
#include "linetcp/engine/impairment.hpp"

namespace linetcp::control {

// The port's own view (the dpdk layer fills it from rte_eth_stats and its TX path).
struct PortCounters {
  uint64_t rx_packets = 0;
  uint64_t tx_packets = 0;
  uint64_t rx_bytes = 0;
  uint64_t tx_bytes = 0;
  uint64_t tx_queue_full = 0;   // times tx_burst left frames behind (kept and sent later)
  uint64_t mbuf_exhausted = 0;  // allocations that found the mempool empty
  uint64_t rx_oversized = 0;    // multi-segment frames (larger than one mbuf): dropped
  uint64_t tx_prepare_failed = 0;  // rte_eth_tx_prepare refused a frame (VLAN insert): dropped
  uint64_t rx_vlan_other = 0;   // the port strips tags: frames of another VLAN, or untagged, dropped
  uint64_t handoff_out = 0;     // frames handed to the worker that owns their flow
  uint64_t handoff_in = 0;      // frames other workers handed to this one
  uint64_t handoff_full = 0;    // a handoff ring was full: the frame was dropped
  // The port's own counters (rte_eth_stats), read by the main lcore, not by workers.
  uint64_t rx_missed = 0;       // frames the port dropped: RX ring full (we were too slow)
  uint64_t rx_no_mbuf = 0;      // frames the port dropped: no mbuf to receive into
  uint64_t rx_errors = 0;
  uint64_t tx_errors = 0;
};

struct WorkerStats {
  uint64_t loops = 0;
  // Gaps of at least kStallNs between two loop iterations: the worker did not run (the OS gave
  // its core away) or one iteration took that long. They explain a latency tail the stack did not
  // cause. stall_ns adds up the gaps; max_gap_ns is the longest gap of any kind.
  static constexpr uint64_t kStallNs = 100'000;
  uint64_t stalls = 0;
  uint64_t stall_ns = 0;
  uint64_t max_gap_ns = 0;
  uint32_t active_connections = 0;
  uint32_t time_wait = 0;
  uint32_t ports_available = 0;
  uint32_t client_active = 0;
  // Mbufs of the port's pool not in it (in rings, held, in flight), read by worker 0 when it
  // publishes: a gauge, for `scripts/soak` to see that it stays flat.
  uint32_t mbufs_in_use = 0;
  // Connections by TCP state (tcp::State order; TIME-WAIT counts the compact records), refreshed
  // about once a second: counting walks the connection table.
  std::array<uint32_t, 11> states{};
  PortCounters port;
  engine::EndpointCounters endpoint;
  tcp::TcpCounters tcp;
  app::ServerCounters http;
  app::ServerCounters echo;
  app::ServerCounters discard;
  app::ClientCounters client;
  engine::ImpairmentStats impairment;  // the port's impairment stage (zero when it is off)
  app::Histogram connect;
  app::Histogram first_byte;
  app::Histogram request;

  void add(const WorkerStats& o);
};

// Every named counter as "group.name": value; the report's `counters` object and the telemetry.
nlohmann::json counters_json(const WorkerStats& s);

// One line per interval, like dperf/wrk.
class StatusReporter {
 public:
  explicit StatusReporter(Role role) : role_(role) {}
  // Called once per interval with the cumulative totals; returns the status line and records
  // the interval for the report's series.
  std::string line(const WorkerStats& now, double elapsed_s);
  const nlohmann::json& series() const { return series_; }

 private:
  Role role_;
  WorkerStats prev_{};
  double prev_t_ = 0;
  nlohmann::json series_ = nlohmann::json::array();
};

// The final report: configuration, totals, rates, latency percentiles, series, counters.
// `workers`: one object per worker (index, connections, requests, handoffs), from per_worker().
nlohmann::json make_report(const Config& config, const WorkerStats& total, double elapsed_s,
                           const nlohmann::json& series, const nlohmann::json& workers);
nlohmann::json worker_json(Role role, uint32_t index, const WorkerStats& s);
// A short human summary of the same.
std::string summary_text(const Config& config, const WorkerStats& total, double elapsed_s);

}  // namespace linetcp::control
