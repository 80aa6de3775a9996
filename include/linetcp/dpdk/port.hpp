// EAL start-up and one DPDK port: found by name (a vdev or a PCI address), one RX/TX queue pair
// per worker, a mempool per NUMA socket, checksum offloads when the port has them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "linetcp/control/config.hpp"
#include "linetcp/engine/impairment.hpp"
#include "linetcp/engine/rss.hpp"
#include "linetcp/wire/ethernet.hpp"

struct rte_mempool;
struct rte_eth_dev_info;

namespace linetcp::dpdk {

// Initialises the EAL with `args` (argv[0] is added). Throws std::runtime_error on failure.
void eal_init(const std::vector<std::string>& args);
void eal_cleanup();

// Two ethdev ports, net_ring_<a> and net_ring_<b>, over a pair of rings, each one's TX the other's RX: a wire
// inside one process (net_ring), for a client and a server without NIC or hugepages.
void make_ring_pair(const std::string& a, const std::string& b, unsigned ring_size, int socket);
// Frees the frames still on that wire (they belong to the other side's pool) once workers stop.
void drain_ring_pair();

struct PortCaps {
  bool rx_checksum = false;  // the port verifies IPv4/TCP checksums and says so per packet
  bool tx_checksum = false;  // the port computes IPv4 and TCP checksums
  bool rss = false;
  bool vlan_insert = false;  // port.vlan set and the port inserts 802.1Q tags itself
  bool vlan_strip = false;   // port.vlan set and the port strips tags (mbuf vlan_tci, checked by the worker)
  bool vlan_filter = false;  // ... and also drops other VLANs itself (best effort: the worker still checks)
};

class Port {
 public:
  Port(const control::PortConfig& port, const control::DpdkConfig& dpdk, uint16_t queues);
  ~Port();
  Port(const Port&) = delete;
  Port& operator=(const Port&) = delete;

  uint16_t id() const { return port_id_; }
  const wire::MacAddr& mac() const { return mac_; }
  const PortCaps& caps() const { return caps_; }
  rte_mempool* pool() const { return pool_; }
  // With RSS on several queues: the port's key and redirection table, so a client can choose
  // source ports whose replies come back to its own queue.
  const std::optional<engine::RssQueueMap>& rss_map() const { return rss_map_; }
  uint16_t queues() const { return queues_; }
  const std::string& name() const { return name_; }
  // [port.impairment]: what each worker's impairment stage does to this port's frames.
  const engine::ImpairmentConfig& impairment() const { return impairment_; }
  // Logs link state (the link may come up after start; TAP and memif report it late).
  void log_link() const;
  // Stops and closes the port and frees its pool; returns the mbufs still out (a leak).
  uint32_t stop();

 private:
  void read_rss(const rte_eth_dev_info& info);

  std::string name_;
  uint16_t port_id_ = 0;
  uint16_t queues_ = 1;
  wire::MacAddr mac_;
  PortCaps caps_;
  rte_mempool* pool_ = nullptr;
  std::optional<engine::RssQueueMap> rss_map_;
  engine::ImpairmentConfig impairment_;
  bool started_ = false;
};

}  // namespace linetcp::dpdk
