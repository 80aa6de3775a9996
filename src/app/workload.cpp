// Server workload: the configured responders, each listening on its port.
#include "linetcp/app/workload.hpp"

namespace linetcp::app {

ServerWorkload::ServerWorkload(const ServerWorkloadOptions& o, uint32_t max_connections, const tcp::TcpParams& tcp)
    : options_(o) {
  if (o.http_port) http_ = std::make_unique<HttpServer>(o.http, max_connections);
  if (o.echo_port) {
    echo_ = std::make_unique<EchoServer>(max_connections, o.echo_rings, o.echo_ring_bytes);
    echo_params_ = echo_->params(tcp);
  }
  if (o.discard_port) discard_ = std::make_unique<DiscardServer>();
}

void ServerWorkload::start(engine::Endpoint& ep, base::Instant) {
  if (http_) ep.listen(*options_.http_port, *http_);
  if (echo_) ep.listen(*options_.echo_port, *echo_, &echo_params_);
  if (discard_) ep.listen(*options_.discard_port, *discard_);
}

ClientWorkload::ClientWorkload(const LoadClientOptions& options, uint32_t max_connections)
    : client_(options, max_connections) {}

}  // namespace linetcp::app
