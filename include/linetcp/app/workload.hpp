// What one worker runs on its Endpoint: the server responders, or the load client. The worker
// loop only knows this interface; main builds the workload from the configuration.
#pragma once

#include <memory>
#include <optional>

#include "linetcp/app/load_client.hpp"
#include "linetcp/app/servers.hpp"
#include "linetcp/base/time.hpp"
#include "linetcp/engine/endpoint.hpp"

namespace linetcp::app {

class Workload {
 public:
  virtual ~Workload() = default;
  virtual void start(engine::Endpoint& ep, base::Instant now) = 0;
  // Every loop iteration, before input: the iteration's time.
  virtual void set_time(base::Instant) {}
  // When next_deadline() has passed.
  virtual void poll(engine::Endpoint&, base::Instant) {}
  virtual base::Instant next_deadline() const { return base::Instant::never(); }
  // The end of the run: close what is open. finished() tells when nothing is left to wait for.
  virtual void stop(engine::Endpoint&, base::Instant) {}
  virtual bool finished() const { return true; }

  virtual const ServerCounters* http() const { return nullptr; }
  virtual const ServerCounters* echo() const { return nullptr; }
  virtual const ServerCounters* discard() const { return nullptr; }
  virtual const LoadClient* client() const { return nullptr; }
};

struct ServerWorkloadOptions {
  std::optional<uint16_t> http_port;
  HttpServerOptions http;
  std::optional<uint16_t> echo_port;
  uint32_t echo_rings = 1024;
  uint32_t echo_ring_bytes = 64 * 1024;
  std::optional<uint16_t> discard_port;
};

class ServerWorkload final : public Workload {
 public:
  ServerWorkload(const ServerWorkloadOptions& options, uint32_t max_connections, const tcp::TcpParams& tcp);
  void start(engine::Endpoint& ep, base::Instant now) override;
  const ServerCounters* http() const override { return http_ ? &http_->counters() : nullptr; }
  const ServerCounters* echo() const override { return echo_ ? &echo_->counters() : nullptr; }
  const ServerCounters* discard() const override { return discard_ ? &discard_->counters() : nullptr; }

 private:
  ServerWorkloadOptions options_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<EchoServer> echo_;
  std::unique_ptr<DiscardServer> discard_;
  tcp::TcpParams echo_params_;
};

class ClientWorkload final : public Workload {
 public:
  ClientWorkload(const LoadClientOptions& options, uint32_t max_connections);
  void start(engine::Endpoint&, base::Instant now) override { client_.start(now); }
  void set_time(base::Instant now) override { client_.set_time(now); }
  void poll(engine::Endpoint& ep, base::Instant now) override { client_.poll(ep, now); }
  base::Instant next_deadline() const override { return client_.next_deadline(); }
  void stop(engine::Endpoint& ep, base::Instant now) override { client_.stop(ep, now); }
  bool finished() const override { return client_.stopping() && client_.active() == 0; }
  const LoadClient* client() const override { return &client_; }

 private:
  LoadClient client_;
};

}  // namespace linetcp::app
