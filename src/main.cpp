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
#include <random>
#include <thread>

#include "linetcp/control/build.hpp"
#include "linetcp/control/config.hpp"
#include "linetcp/control/stats.hpp"
#include "linetcp/dpdk/flood.hpp"
#include "linetcp/dpdk/port.hpp"
#include "linetcp/dpdk/steering.hpp"
#include "linetcp/dpdk/telemetry.hpp"
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

// One role's run: its port, its workers (each with an endpoint and a workload) and its control.
class Side {
 public:
  Side(const control::Config& config, double duration_s, uint32_t capture_frames = 0)
      : config_(config), duration_s_(duration_s) {
    const uint32_t n = config.dpdk.workers;
    epoch_ns_ = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
    for (uint32_t i = 0; capture_frames > 0 && i < n; ++i)
      captures_.push_back(std::make_unique<control::Capture>(capture_frames, config.dpdk.mbuf_data_room));
    port_ = std::make_unique<dpdk::Port>(config.port, config.dpdk, static_cast<uint16_t>(n));
    params_ = control::tcp_params(config);
    // Each worker's endpoint settings (a client's source-port share among them).
    std::vector<engine::EndpointConfig> endpoints;
    std::vector<uint16_t> port_starts;
    for (uint32_t i = 0; i < n; ++i) {
      endpoints.push_back(control::endpoint_config(config, port_->mac(), port_->caps().tx_checksum, i, n));
      endpoints.back().vlan_tx_offload = port_->caps().vlan_insert;
      endpoints.back().vlan_rx_stripped = port_->caps().vlan_strip;
      if (config.client) port_starts.push_back(endpoints.back().ephemeral_first);
    }
    // With several workers on a port that cannot steer, frames that reach the wrong worker are
    // handed to their owner. With RSS (symmetric key) the NIC steers, and clients choose ports.
    const bool hardware_steering = n > 1 && port_->rss_map().has_value();
    if (n > 1 && !hardware_steering) {
      std::random_device rd;
      const engine::TupleHashKey key{(uint64_t{rd()} << 32) | rd(), (uint64_t{rd()} << 32) | rd()};
      steering_ = std::make_unique<dpdk::Steering>(n, port_starts,
                                                   config.client ? config.client->source_port_last : 0, 4096,
                                                   static_cast<int>(rte_socket_id()), key);
      spdlog::info("{} workers: flows steered in software", n);
    }
    rss_filters_.resize(n);
    for (uint32_t i = 0; i < n; ++i) {
      workers_.push_back(std::make_unique<dpdk::Worker>(i, *port_, static_cast<uint16_t>(i), endpoints[i],
                                                        control::make_workload(config, params_, i, n),
                                                        config.dpdk, steering_.get(),
                                                        captures_.empty() ? nullptr : captures_[i].get()));
      if (hardware_steering && config.client) {
        rss_filters_[i] = {&*port_->rss_map(), static_cast<uint16_t>(i)};
        workers_[i]->endpoint().set_port_filter(&RssFilter::accept, &rss_filters_[i]);
      }
    }
    if (hardware_steering) spdlog::info("{} workers: flows steered by the port's RSS (symmetric key)", n);
    spdlog::info("{}: {} worker(s), address {}/{}, {}", control::to_string(config.role), n,
                 config.network.address.substr(0, config.network.address.find('/')), config.network.prefix_len,
                 duration_s > 0 ? fmt::format("for {:.1f} s", duration_s) : std::string("until SIGINT/SIGTERM"));
    port_->log_link();
    controller_ = std::make_unique<Controller>(config, workers_, port_->id(), duration_s);
  }

  // Starts workers [first, n) on the given lcores (taken from the front of `lcores`).
  void launch(std::size_t first, std::vector<unsigned>& lcores) {
    args_.resize(workers_.size());
    for (std::size_t i = first; i < workers_.size(); ++i) {
      args_[i] = {workers_[i].get(), kGrace};
      rte_eal_remote_launch(worker_main, &args_[i], lcores.front());
      lcores.erase(lcores.begin());
    }
  }
  // Runs worker 0 on the calling (main) lcore, with this side's control work in between.
  void run_worker0_here(const std::function<bool()>& peer_busy = {}) {
    workers_[0]->run(g_stop_workers, kGrace, [&] { return controller_->tick(); }, peer_busy);
  }
  // Connections the workers hold (any state but TIME_WAIT), as last published (every 50 ms).
  uint32_t open_connections() const {
    uint32_t open = 0;
    control::WorkerStats s;
    for (const auto& w : workers_) {
      if (!w->snapshot(s)) return UINT32_MAX;  // a write in progress: ask again
      open += s.active_connections;
    }
    return open;
  }
  Controller& controller() { return *controller_; }
  // What the /linetcp/* telemetry commands read for this side.
  dpdk::TelemetrySource telemetry() {
    return {std::string(control::to_string(config_.role)),
            [this](nlohmann::json* per_worker) { return controller_->collect(per_worker); },
            control::to_json(config_)};
  }
  std::size_t workers() const { return workers_.size(); }

  // The frames --capture kept, as one pcap file.
  void write_capture(const std::string& path) const {
    if (path.empty() || captures_.empty()) return;
    std::vector<const control::Capture*> all;
    std::size_t frames = 0;
    for (const auto& c : captures_) {
      all.push_back(c.get());
      frames += c->count();
    }
    control::Capture::write_pcap(path, all, epoch_ns_);
    spdlog::info("capture: {} frames written to {}", frames, path);
  }

  // The human summary on stdout, and the JSON report if asked for.
  void finish(const std::string& report_path) {
    port_->log_link();
    const double secs = controller_->measured();
    nlohmann::json per_worker = nlohmann::json::array();
    const control::WorkerStats total = controller_->collect(&per_worker);
    std::printf("\n%s", control::summary_text(config_, total, secs).c_str());
    std::fflush(stdout);
    if (!report_path.empty()) {
      std::ofstream out(report_path);
      out << control::make_report(config_, total, secs, controller_->status().series(), per_worker).dump(2) << "\n";
      if (!out) throw std::runtime_error("--report: cannot write " + report_path);
      spdlog::info("report written to {}", report_path);
    }
  }
  // Frees everything before rte_eal_cleanup(); returns the mbufs that never came back.
  uint32_t close() {
    controller_.reset();
    workers_.clear();
    steering_.reset();
    return port_->stop();
  }

 private:
  static constexpr base::Duration kGrace = base::Duration::seconds(5);
  const control::Config& config_;
  double duration_s_;
  std::unique_ptr<dpdk::Port> port_;
  tcp::TcpParams params_;
  std::unique_ptr<dpdk::Steering> steering_;
  std::vector<std::unique_ptr<dpdk::Worker>> workers_;
  std::vector<RssFilter> rss_filters_;
  std::vector<LaunchArg> args_;
  std::unique_ptr<Controller> controller_;
  std::vector<std::unique_ptr<control::Capture>> captures_;
  uint64_t epoch_ns_ = 0;
};

std::vector<unsigned> worker_lcores() {
  std::vector<unsigned> lcores;
  unsigned lcore = 0;
  RTE_LCORE_FOREACH_WORKER(lcore) lcores.push_back(lcore);
  return lcores;
}

// After the run: keep the port open, not polling, until a signal or `seconds` pass. memif in DPDK
// 22.11 can crash a process that polls while its peer disconnects (the PMD unmaps the rings under
// the burst); a peer that stops first while we linger is safe. Tests and the demo use it.
void linger(double seconds) {
  if (seconds <= 0) return;
  g_signalled.store(false);
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!g_signalled.load() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

int run(const control::Config& config, const std::vector<std::string>& eal_args, double duration_s,
        const std::string& report_path, const std::string& capture_path, uint32_t capture_frames,
        double linger_s) {
  dpdk::eal_init(eal_args);
  const uint32_t n = config.dpdk.workers;
  std::vector<unsigned> lcores = worker_lcores();
  // Workers run on the worker lcores; with exactly one lcore per worker the main lcore runs
  // worker 0 too and does its control work in between (status once a second costs microseconds).
  const bool main_runs_worker = lcores.size() + 1 == n;
  if (!main_runs_worker && lcores.size() < n)
    throw std::runtime_error("dpdk.workers = " + std::to_string(n) + " needs " + std::to_string(n) +
                             " lcores (or one more for control); EAL has " + std::to_string(lcores.size() + 1) +
                             " (set -l / --lcores in [dpdk] eal)");
  Side side(config, duration_s, capture_path.empty() ? 0 : capture_frames);
  dpdk::telemetry_publish({side.telemetry()});
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  side.launch(main_runs_worker ? 1 : 0, lcores);
  if (main_runs_worker) {
    side.run_worker0_here();
  } else {
    while (side.controller().tick()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  g_stop_workers.store(true);
  rte_eal_mp_wait_lcore();
  dpdk::telemetry_withdraw();
  side.finish(report_path);
  side.write_capture(capture_path);
  linger(linger_s);
  const uint32_t leaked = side.close();
  dpdk::eal_cleanup();
  return leaked == 0 ? 0 : 1;
}

// Client and server in one process, joined by two rings made into ports (no NIC, no hugepages
// needed): the server's worker on the first worker lcore, the client's on the main lcore.
int run_pair(const control::Config& server, const control::Config& client, const std::vector<std::string>& eal_args,
             double duration_s, const std::string& server_report, const std::string& client_report,
             unsigned ring_size) {
  dpdk::eal_init(eal_args);
  std::vector<unsigned> lcores = worker_lcores();
  if (lcores.empty()) throw std::runtime_error("pair needs two lcores (e.g. -l 0,1): one for each side");
  if (server.dpdk.workers != 1 || client.dpdk.workers != 1)
    throw std::runtime_error("dpdk.workers: pair runs one worker per side");
  dpdk::make_ring_pair("server", "client", ring_size, static_cast<int>(rte_socket_id()));
  Side server_side(server, 0);
  Side client_side(client, duration_s);
  dpdk::telemetry_publish({server_side.telemetry(), client_side.telemetry()});
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  server_side.launch(0, lcores);
  // The client keeps answering while the server holds connections: a FIN retransmitted after the
  // client's ACK was lost, or a SYN-ACK to an old duplicate SYN, still gets its ACK or RST when
  // the client's own TIME_WAIT records are gone (bounded by the closing grace).
  client_side.run_worker0_here([&] { return server_side.open_connections() > 0; });
  // When the grace ran out first, the server still takes the client's last ACKs before it stops.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  g_stop_workers.store(true);
  rte_eal_mp_wait_lcore();
  dpdk::telemetry_withdraw();
  server_side.finish(server_report);
  client_side.finish(client_report);
  dpdk::drain_ring_pair();
  const uint32_t leaked = server_side.close() + client_side.close();
  dpdk::eal_cleanup();
  return leaked == 0 ? 0 : 1;
}

// `linetcp flood`: SYNs with spoofed sources at a server, for testing its defences.
int run_flood_command(const dpdk::FloodConfig& fc, const std::vector<std::string>& eal_args,
                      const std::string& report_path) {
  dpdk::eal_init(eal_args);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  const dpdk::FloodResult r = dpdk::run_flood(fc, g_signalled);
  std::printf("\nflood: %llu SYNs in %.2f s = %.0f SYN/s; TX queue full %llu times, pool empty %llu times; "
              "in: %llu frames, %llu SYN-ACK, %llu RST\n",
              static_cast<unsigned long long>(r.syns_sent), r.seconds, r.rate(),
              static_cast<unsigned long long>(r.tx_refused), static_cast<unsigned long long>(r.mbuf_exhausted),
              static_cast<unsigned long long>(r.frames_in), static_cast<unsigned long long>(r.syn_acks_in),
              static_cast<unsigned long long>(r.rsts_in));
  if (!report_path.empty()) {
    const nlohmann::json j = {{"role", "flood"},
                              {"target", fc.target.to_string() + ":" + std::to_string(fc.target_port)},
                              {"seconds", r.seconds},
                              {"syns_sent", r.syns_sent},
                              {"syns_per_second", r.rate()},
                              {"tx_queue_full", r.tx_refused},
                              {"mbuf_exhausted", r.mbuf_exhausted},
                              {"frames_in", r.frames_in},
                              {"syn_acks_in", r.syn_acks_in},
                              {"rsts_in", r.rsts_in},
                              {"mbufs_leaked", r.mbufs_leaked}};
    std::ofstream out(report_path);
    out << j.dump(2) << "\n";
    if (!out) throw std::runtime_error("--report: cannot write " + report_path);
  }
  dpdk::eal_cleanup();
  return r.mbufs_leaked == 0 && r.syns_sent > 0 ? 0 : 1;
}

// "A.B.C.D-E.F.G.H" or one address; "P-Q" or one port.
bool parse_ip_range(const std::string& text, wire::Ipv4Addr& first, wire::Ipv4Addr& last) {
  const auto dash = text.find('-');
  const auto a = wire::Ipv4Addr::parse(text.substr(0, dash));
  const auto b = dash == std::string::npos ? a : wire::Ipv4Addr::parse(text.substr(dash + 1));
  if (!a || !b || *b < *a) return false;
  first = *a;
  last = *b;
  return true;
}
bool parse_port_range(const std::string& text, uint16_t& first, uint16_t& last) {
  unsigned a = 0, b = 0;
  char tail = 0;
  const int n = std::sscanf(text.c_str(), "%u-%u%c", &a, &b, &tail);
  if (n == 1) b = a;
  if ((n != 1 && n != 2) || a == 0 || b > 65535 || b < a) return false;
  first = static_cast<uint16_t>(a);
  last = static_cast<uint16_t>(b);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"linetcp: a userspace TCP/IP endpoint on DPDK that load-tests servers and answers load"};
  cli.require_subcommand(1);
  std::string config_path, server_config_path, client_config_path;
  std::vector<std::string> overrides, server_overrides, client_overrides;
  double duration_s = -1;
  std::string report_path, server_report_path, capture_path;
  uint32_t capture_frames = 10000;
  double linger_s = 0;
  std::string log_level;
  std::vector<std::string> eal_extra;
  auto common = [&](CLI::App* sub) {
    sub->add_option("--set", overrides, "override a config key: section.key=value (repeatable)");
    sub->add_option("--duration", duration_s, "seconds to run (client: overrides client.duration_s)");
    sub->add_option("--log-level", log_level, "trace|debug|info|warn|error|off (overrides log.level)");
    sub->add_option("eal", eal_extra, "EAL arguments, after --");
  };
  for (const char* name : {"server", "client"}) {
    CLI::App* sub = cli.add_subcommand(name, std::string("run as the ") + name);
    sub->add_option("--config,-c", config_path, "TOML configuration file")->required();
    sub->add_option("--report", report_path, "write the JSON report to this file at exit");
    sub->add_option("--capture", capture_path, "write the first frames of the run (both ways) to this pcap file");
    sub->add_option("--capture-frames", capture_frames, "how many frames --capture keeps per worker (default 10000)")
        ->check(CLI::Range(1u, 10'000'000u));
    sub->add_option("--linger", linger_s,
                    "after the run and its report, keep the port open (not polling) up to this many seconds, "
                    "until SIGINT/SIGTERM: lets a memif peer stop first");
    common(sub);
  }
  CLI::App* pair = cli.add_subcommand(
      "pair", "a client and a server in one process, joined by a ring pair (no NIC, no hugepages needed)");
  pair->add_option("--server-config", server_config_path, "the server's TOML configuration")->required();
  pair->add_option("--client-config", client_config_path, "the client's TOML configuration")->required();
  pair->add_option("--server-set", server_overrides, "override a server config key (repeatable)");
  pair->add_option("--client-set", client_overrides, "override a client config key (repeatable)");
  pair->add_option("--report", report_path, "the client's JSON report");
  pair->add_option("--server-report", server_report_path, "the server's JSON report");
  unsigned ring_size = 8192;
  pair->add_option("--ring-size", ring_size,
                   "frames each direction of the wire holds (a power of 2, default 8192; small: TX queue full)")
      ->check(CLI::IsMember({64u, 128u, 256u, 512u, 1024u, 2048u, 4096u, 8192u, 16384u, 32768u, 65536u}));
  common(pair);
  dpdk::FloodConfig flood;
  std::string flood_target, flood_mac, flood_sources = "10.99.0.1-10.99.255.254", flood_ports = "1024-65535",
                                       flood_arp_source;
  CLI::App* flood_cmd = cli.add_subcommand(
      "flood", "send SYNs with spoofed source addresses and ports at a server (tests SYN cookies and limits)");
  flood_cmd->add_option("--device", flood.device, "the DPDK port (a vdev named after --, or a PCI address)")
      ->required();
  flood_cmd->add_option("--target", flood_target, "the server: IP:PORT")->required();
  flood_cmd->add_option("--target-mac", flood_mac, "the server's MAC (default: asked with ARP)");
  flood_cmd->add_option("--sources", flood_sources, "spoofed source addresses, FIRST-LAST (default 10.99.0.1-10.99.255.254)");
  flood_cmd->add_option("--source-ports", flood_ports, "spoofed source ports, FIRST-LAST (default 1024-65535)");
  flood_cmd->add_option("--arp-source", flood_arp_source, "the address ARP asks from (default: the first source)");
  flood_cmd->add_option("--rate", flood.rate, "SYNs per second (default 0: as fast as the port takes them)")
      ->check(CLI::NonNegativeNumber);
  flood_cmd->add_option("--duration", flood.duration_s, "seconds to send (default 5)")->check(CLI::PositiveNumber);
  flood_cmd->add_option("--mbufs", flood.mbufs, "mbufs in the pool (default 8191)")->check(CLI::Range(1023u, 1u << 24));
  flood_cmd->add_option("--report", report_path, "write a JSON summary to this file");
  flood_cmd->add_option("eal", eal_extra, "EAL arguments, after -- (default -l 0 --no-huge --no-shconf -m 256 --no-pci)");
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = cli.exit(e);
    return rc == 0 ? 0 : 2;
  }
  if (!log_level.empty()) overrides.push_back("log.level=" + log_level);
  spdlog::set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");

  if (cli.got_subcommand("pair")) {
    control::Config server, client;
    // The two ports are the ring pair's; EAL comes from the command line (after --).
    std::vector<std::string> s_over = overrides, c_over = overrides;
    s_over.insert(s_over.end(), server_overrides.begin(), server_overrides.end());
    c_over.insert(c_over.end(), client_overrides.begin(), client_overrides.end());
    s_over.push_back("port.device=net_ring_server");  // the names rte_eth_from_rings gives them
    c_over.push_back("port.device=net_ring_client");
    try {
      server = control::load_config(server_config_path, s_over, control::Role::kServer);
      client = control::load_config(client_config_path, c_over, control::Role::kClient);
    } catch (const control::ConfigError& e) {
      std::fprintf(stderr, "linetcp: %s\n", e.what());
      return 2;
    }
    spdlog::set_level(spdlog_level(client.log.level));
    if (duration_s < 0) duration_s = client.client->duration_s;
    std::vector<std::string> eal = eal_extra;
    if (eal.empty()) eal = {"-l", "0,1", "--no-huge", "--no-shconf", "-m", "512", "--no-pci"};
    try {
      return run_pair(server, client, eal, duration_s, server_report_path, report_path, ring_size);
    } catch (const std::exception& e) {
      spdlog::error("{}", e.what());
      return 1;
    }
  }

  if (cli.got_subcommand("flood")) {
    const auto colon = flood_target.rfind(':');
    const auto target = wire::Ipv4Addr::parse(flood_target.substr(0, colon));
    uint16_t tport = 0, tport_last = 0;
    bool ok = target && colon != std::string::npos &&
              parse_port_range(flood_target.substr(colon + 1), tport, tport_last) && tport == tport_last;
    const char* what = "--target: IP:PORT";
    if (ok) {
      flood.target = *target;
      flood.target_port = tport;
      what = "--sources: FIRST-LAST IPv4 addresses";
      ok = parse_ip_range(flood_sources, flood.source_first, flood.source_last);
    }
    if (ok) {
      what = "--source-ports: FIRST-LAST, 1..65535";
      ok = parse_port_range(flood_ports, flood.sport_first, flood.sport_last);
    }
    if (ok && !flood_mac.empty()) {
      what = "--target-mac: aa:bb:cc:dd:ee:ff";
      flood.target_mac = wire::MacAddr::parse(flood_mac);
      ok = flood.target_mac.has_value();
    }
    if (ok && !flood_arp_source.empty()) {
      what = "--arp-source: an IPv4 address";
      const auto a = wire::Ipv4Addr::parse(flood_arp_source);
      ok = a.has_value();
      if (a) flood.arp_source = *a;
    }
    if (!ok) {
      std::fprintf(stderr, "linetcp flood: %s expected\n", what);
      return 2;
    }
    spdlog::set_level(spdlog::level::info);
    std::vector<std::string> eal = eal_extra;
    if (eal.empty()) eal = {"-l", "0", "--no-huge", "--no-shconf", "-m", "256", "--no-pci"};
    try {
      return run_flood_command(flood, eal, report_path);
    } catch (const std::exception& e) {
      spdlog::error("{}", e.what());
      return 1;
    }
  }

  const control::Role role = cli.got_subcommand("server") ? control::Role::kServer : control::Role::kClient;
  control::Config config;
  try {
    config = control::load_config(config_path, overrides, role);
  } catch (const control::ConfigError& e) {
    std::fprintf(stderr, "linetcp: %s\n", e.what());
    return 2;
  }
  spdlog::set_level(spdlog_level(config.log.level));
  if (role == control::Role::kClient && duration_s < 0) duration_s = config.client->duration_s;

  std::vector<std::string> eal = config.dpdk.eal;
  eal.insert(eal.end(), eal_extra.begin(), eal_extra.end());
  try {
    return run(config, eal, duration_s, report_path, capture_path, capture_frames, linger_s);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
}
