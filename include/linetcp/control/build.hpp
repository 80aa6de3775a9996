// From the configuration to the objects a worker runs: endpoint settings, TCP parameters and the
// workload, with the client's load split evenly across workers.
#pragma once

#include <memory>

#include "linetcp/app/workload.hpp"
#include "linetcp/control/config.hpp"
#include "linetcp/engine/endpoint.hpp"

namespace linetcp::control {

tcp::TcpParams tcp_params(const Config& config);
engine::EndpointConfig endpoint_config(const Config& config, const wire::MacAddr& mac, bool tx_checksum_offload,
                                       uint32_t worker, uint32_t workers);
// `params` must outlive the workload (the client's connections point at it).
std::unique_ptr<app::Workload> make_workload(const Config& config, const tcp::TcpParams& params,
                                             uint32_t worker, uint32_t workers);

}  // namespace linetcp::control
