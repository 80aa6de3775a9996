// linetcp: config -> EAL -> port -> workers -> live status -> report.
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <thread>

#include "linetcp/control/build.hpp"
#include "linetcp/control/config.hpp"
#include "linetcp/control/stats.hpp"
#include "linetcp/dpdk/port.hpp"
#include "linetcp/dpdk/steering.hpp"
#include "linetcp/dpdk/worker.hpp"

using namespace linetcp;

namespace {

std::atomic<bool> g_signalled{false};
std::atomic<bool> g_stop_workers{false};

extern "C" void on_signal(int) { g_signalled.store(true); }

spdlog::level::level_enum spdlog_level(control::LogLevel l) {
  switch (l) {
    case control::LogLevel::kTrace: return spdlog::level::trace;
    case control::LogLevel::kDebug: return spdlog::level::debug;
    case control::LogLevel::kInfo: return spdlog::level::info;
    case control::LogLevel::kWarn: return spdlog::level::warn;
    case control::LogLevel::kError: return spdlog::level::err;
    case control::LogLevel::kOff: return spdlog::level::off;
  }
  return spdlog::level::info;
}

// A client worker keeps the source ports whose replies the NIC's RSS delivers to its own queue.
struct RssFilter {
  const engine::RssQueueMap* map;
  uint16_t queue;
  static bool accept(const void* ctx, const engine::FourTuple& t) {
    const auto* f = static_cast<const RssFilter*>(ctx);
    return f->map->reply_queue(t) == f->queue;
  }
};

struct LaunchArg {
  dpdk::Worker* worker;
  base::Duration grace;
};

int worker_main(void* arg) {
  auto* a = static_cast<LaunchArg*>(arg);
  a->worker->run(g_stop_workers, a->grace);
  return 0;
}

// The main lcore's control work: status lines at each interval, and the end of the run.
class Controller {
 public:
  Controller(const control::Config& config, std::vector<std::unique_ptr<dpdk::Worker>>& workers, uint16_t port,
             double duration_s)
      : config_(config), workers_(workers), port_(port), status_(config.role), duration_s_(duration_s),
        start_(std::chrono::steady_clock::now()), next_status_(config.status.interval_s) {}

  // Returns false when the run should end (duration reached or a signal came).
  bool tick() {
    const double t = elapsed();
    if (config_.status.interval_s > 0 && t >= next_status_) {
      const control::WorkerStats total = collect();
      std::printf("%s\n", status_.line(total, t).c_str());
      std::fflush(stdout);
      next_status_ += config_.status.interval_s;
    }
    if (g_signalled.load() || (duration_s_ > 0 && t >= duration_s_)) {
      if (end_s_ < 0) end_s_ = t;
      return false;
    }
    return true;
  }
  control::WorkerStats collect(nlohmann::json* per_worker = nullptr) const {
    control::WorkerStats total{};
    auto one = std::make_unique<control::WorkerStats>();
    for (const auto& w : workers_) {
      if (!w->snapshot(*one)) continue;
      total.add(*one);
      if (per_worker) per_worker->push_back(control::worker_json(config_.role, w->index(), *one));
    }
    // What the port itself dropped (not seen by any worker).
    rte_eth_stats es{};
    if (rte_eth_stats_get(port_, &es) == 0) {
      total.port.rx_missed = es.imissed;
      total.port.rx_no_mbuf = es.rx_nombuf;
      total.port.rx_errors = es.ierrors;
      total.port.tx_errors = es.oerrors;
    }
    return total;
  }
  double elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  // The measured span: up to the moment the run was told to end (closing time is not load).
  double measured() const { return end_s_ >= 0 ? end_s_ : elapsed(); }
  const control::StatusReporter& status() const { return status_; }

 private:
  const control::Config& config_;
  std::vector<std::unique_ptr<dpdk::Worker>>& workers_;
  uint16_t port_;
  control::StatusReporter status_;
  double duration_s_;
  std::chrono::steady_clock::time_point start_;
  double next_status_;
  double end_s_ = -1;
};

int run(const control::Config& config, std::vector<std::string> eal_args, double duration_s,
        const std::string& report_path) {
  dpdk::eal_init(eal_args);
  const uint32_t workers_wanted = config.dpdk.workers;
  const uint32_t worker_lcores = rte_lcore_count() - 1;
  // Workers run on the worker lcores; with exactly one lcore per worker the main lcore runs
  // worker 0 too and does its control work in between (status once a second costs microseconds).
  const bool main_runs_worker = worker_lcores + 1 == workers_wanted;
  if (!main_runs_worker && worker_lcores < workers_wanted)
    throw std::runtime_error("dpdk.workers = " + std::to_string(workers_wanted) + " needs " +
                             std::to_string(workers_wanted) + " lcores (or one more for control); EAL has " +
                             std::to_string(worker_lcores + 1) + " (set -l / --lcores in [dpdk] eal)");

  dpdk::Port port(config.port, config.dpdk, static_cast<uint16_t>(workers_wanted));
  const tcp::TcpParams params = control::tcp_params(config);
  // Each worker's endpoint settings (a client's source-port share among them).
  std::vector<engine::EndpointConfig> endpoints;
  std::vector<uint16_t> port_starts;
  for (uint32_t i = 0; i < workers_wanted; ++i) {
    endpoints.push_back(control::endpoint_config(config, port.mac(), port.caps().tx_checksum, i, workers_wanted));
    if (config.client) port_starts.push_back(endpoints.back().ephemeral_first);
  }
  // With several workers on a port that cannot steer, frames that reach the wrong worker are
  // handed to their owner. With RSS (symmetric key) the NIC steers, and clients choose ports.
  const bool hardware_steering = workers_wanted > 1 && port.rss_map().has_value();
  std::unique_ptr<dpdk::Steering> steering;
  if (workers_wanted > 1 && !hardware_steering) {
    steering = std::make_unique<dpdk::Steering>(workers_wanted, port_starts,
                                                config.client ? config.client->source_port_last : 0, 4096,
                                                static_cast<int>(rte_socket_id()));
    spdlog::info("{} workers: flows steered in software{} ", workers_wanted,
                 port.caps().rss ? " (the port's RSS spreads them; misdelivered frames are handed over)" : "");
  }
  std::vector<std::unique_ptr<dpdk::Worker>> workers;
  std::vector<RssFilter> rss_filters(workers_wanted);
  for (uint32_t i = 0; i < workers_wanted; ++i) {
    workers.push_back(std::make_unique<dpdk::Worker>(i, port, static_cast<uint16_t>(i), endpoints[i],
                                                     control::make_workload(config, params, i, workers_wanted),
                                                     config.dpdk, steering.get()));
    if (hardware_steering && config.client) {
      rss_filters[i] = {&*port.rss_map(), static_cast<uint16_t>(i)};
      workers[i]->endpoint().set_port_filter(&RssFilter::accept, &rss_filters[i]);
    }
  }
  if (hardware_steering) spdlog::info("{} workers: flows steered by the port's RSS (symmetric key)", workers_wanted);
  spdlog::info("{}: {} worker(s), address {}/{}, {}", control::to_string(config.role), workers_wanted,
               config.network.address.substr(0, config.network.address.find('/')), config.network.prefix_len,
               duration_s > 0 ? fmt::format("for {:.1f} s", duration_s) : std::string("until SIGINT/SIGTERM"));
  port.log_link();

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  Controller controller(config, workers, port.id(), duration_s);
  const base::Duration grace = base::Duration::seconds(5);

  std::vector<LaunchArg> args(workers.size());
  unsigned lcore = 0;
  std::size_t next = main_runs_worker ? 1 : 0;
  RTE_LCORE_FOREACH_WORKER(lcore) {
    if (next == workers.size()) break;
    args[next] = {workers[next].get(), grace};
    rte_eal_remote_launch(worker_main, &args[next], lcore);
    ++next;
  }
  if (main_runs_worker) {
    workers[0]->run(g_stop_workers, grace, [&] { return controller.tick(); });
    g_stop_workers.store(true);
  } else {
    while (controller.tick()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    g_stop_workers.store(true);
  }
  rte_eal_mp_wait_lcore();
  port.log_link();

  const double secs = controller.measured();
  nlohmann::json per_worker = nlohmann::json::array();
  const control::WorkerStats total = controller.collect(&per_worker);
  std::printf("\n%s", control::summary_text(config, total, secs).c_str());
  std::fflush(stdout);
  if (!report_path.empty()) {
    std::ofstream out(report_path);
    out << control::make_report(config, total, secs, controller.status().series(), per_worker).dump(2) << "\n";
    if (!out) throw std::runtime_error("--report: cannot write " + report_path);
    spdlog::info("report written to {}", report_path);
  }
  workers.clear();
  steering.reset();
  port.stop();
  dpdk::eal_cleanup();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"linetcp: a userspace TCP/IP endpoint on DPDK that load-tests servers and answers load"};
  cli.require_subcommand(1);
  std::string config_path;
  std::vector<std::string> overrides;
  double duration_s = -1;
  std::string report_path;
  std::string log_level;
  std::vector<std::string> eal_extra;
  for (const char* name : {"server", "client"}) {
    CLI::App* sub = cli.add_subcommand(name, std::string("run as the ") + name);
    sub->add_option("--config,-c", config_path, "TOML configuration file")->required();
    sub->add_option("--set", overrides, "override a config key: section.key=value (repeatable)");
    sub->add_option("--duration", duration_s, "seconds to run (client: overrides client.duration_s)");
    sub->add_option("--report", report_path, "write the JSON report to this file at exit");
    sub->add_option("--log-level", log_level, "trace|debug|info|warn|error|off (overrides log.level)");
    sub->add_option("eal", eal_extra, "EAL arguments, after --");
  }
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = cli.exit(e);
    return rc == 0 ? 0 : 2;
  }
  const control::Role role = cli.got_subcommand("server") ? control::Role::kServer : control::Role::kClient;
  if (!log_level.empty()) overrides.push_back("log.level=" + log_level);

  control::Config config;
  try {
    config = control::load_config(config_path, overrides, role);
  } catch (const control::ConfigError& e) {
    std::fprintf(stderr, "linetcp: %s\n", e.what());
    return 2;
  }
  spdlog::set_level(spdlog_level(config.log.level));
  spdlog::set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
  if (role == control::Role::kClient && duration_s < 0) duration_s = config.client->duration_s;

  std::vector<std::string> eal = config.dpdk.eal;
  eal.insert(eal.end(), eal_extra.begin(), eal_extra.end());
  try {
    return run(config, eal, duration_s, report_path);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
}
