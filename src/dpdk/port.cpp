// EAL initialisation and port bring-up (configure, queues, mempool, offloads, start, stop).
#include "linetcp/dpdk/port.hpp"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_pdump.h>
#include <rte_ring.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <spdlog/spdlog.h>

#include <stdexcept>

namespace linetcp::dpdk {

void eal_init(const std::vector<std::string>& args) {
  std::vector<std::string> owned;
  owned.reserve(args.size() + 1);
  owned.push_back("linetcp");
  owned.insert(owned.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : owned) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (rte_eal_init(static_cast<int>(owned.size()), argv.data()) < 0)
    throw std::runtime_error(std::string("EAL initialisation failed: ") + rte_strerror(rte_errno) +
                             " (EAL arguments come from [dpdk] eal and after --)");
  // dpdk-dumpcap (a secondary process) can capture our ports. It needs DPDK's multi-process
  // support: not with --in-memory or --no-shconf, where this says so and goes on.
  if (rte_pdump_init() == 0) {
    spdlog::info("capture: dpdk-dumpcap --file-prefix=<this run's prefix> -i <port> can attach");
  } else {
    spdlog::debug("capture: rte_pdump unavailable ({}); use --capture FILE", rte_strerror(rte_errno));
  }
}

void eal_cleanup() {
  rte_pdump_uninit();
  rte_eal_cleanup();
}

namespace {
std::vector<rte_ring*> g_pair_rings;  // the wire of `linetcp pair`, drained before the pools go
}  // namespace

void drain_ring_pair() {
  for (rte_ring* r : g_pair_rings) {
    void* m;
    while (rte_ring_dequeue(r, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
  }
}

void make_ring_pair(const std::string& a, const std::string& b, unsigned ring_size, int socket) {
  rte_ring* a_to_b = rte_ring_create((a + "_tx").c_str(), ring_size, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
  rte_ring* b_to_a = rte_ring_create((b + "_tx").c_str(), ring_size, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
  if (!a_to_b || !b_to_a) throw std::runtime_error(std::string("ring pair: ") + rte_strerror(rte_errno));
  g_pair_rings = {a_to_b, b_to_a};
  if (rte_eth_from_rings(a.c_str(), &b_to_a, 1, &a_to_b, 1, static_cast<unsigned>(socket)) < 0 ||
      rte_eth_from_rings(b.c_str(), &a_to_b, 1, &b_to_a, 1, static_cast<unsigned>(socket)) < 0)
    throw std::runtime_error(std::string("ring pair: cannot create the ports: ") + rte_strerror(rte_errno));
}

namespace {
uint16_t find_port(const std::string& name) {
  uint16_t id = 0;
  if (rte_eth_dev_get_port_by_name(name.c_str(), &id) == 0) return id;
  std::string known;
  uint16_t p = 0;
  RTE_ETH_FOREACH_DEV(p) {
    char n[RTE_ETH_NAME_MAX_LEN];
    if (rte_eth_dev_get_name_by_port(p, n) == 0) known += (known.empty() ? "" : ", ") + std::string(n);
  }
  throw std::runtime_error("port.device: no DPDK port named '" + name + "' (ports: " +
                           (known.empty() ? "none; is the vdev or PCI device in [dpdk] eal?" : known) + ")");
}
}  // namespace

Port::Port(const control::PortConfig& pc, const control::DpdkConfig& dc, uint16_t queues)
    : name_(pc.device), queues_(queues), impairment_(pc.impairment) {
  port_id_ = find_port(pc.device);
  rte_eth_dev_info info{};
  if (rte_eth_dev_info_get(port_id_, &info) != 0) throw std::runtime_error("port " + name_ + ": no device info");
  if (queues > info.max_rx_queues || queues > info.max_tx_queues)
    throw std::runtime_error("dpdk.workers: port " + name_ + " has at most " +
                             std::to_string(std::min(info.max_rx_queues, info.max_tx_queues)) +
                             " queue pairs, " + std::to_string(queues) + " workers asked for");

  const int socket = rte_eth_dev_socket_id(port_id_) < 0 ? static_cast<int>(rte_socket_id())
                                                          : rte_eth_dev_socket_id(port_id_);
  const std::string pool_name = "linetcp_p" + std::to_string(port_id_) + "_s" + std::to_string(socket);
  pool_ = rte_pktmbuf_pool_create(pool_name.c_str(), dc.mbufs, dc.mbuf_cache, 0,
                                  static_cast<uint16_t>(dc.mbuf_data_room + RTE_PKTMBUF_HEADROOM), socket);
  if (!pool_)
    throw std::runtime_error("dpdk.mbufs: cannot create a pool of " + std::to_string(dc.mbufs) + " mbufs: " +
                             rte_strerror(rte_errno) + " (too little hugepage memory? try fewer mbufs)");

  rte_eth_conf conf{};
  conf.rxmode.mtu = pc.mtu;
  if (pc.checksum_offload) {
    const uint64_t rx_ck = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM;
    const uint64_t tx_ck = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
    caps_.rx_checksum = (info.rx_offload_capa & rx_ck) == rx_ck;
    caps_.tx_checksum = (info.tx_offload_capa & tx_ck) == tx_ck;
    if (caps_.rx_checksum) conf.rxmode.offloads |= rx_ck;
    if (caps_.tx_checksum) conf.txmode.offloads |= tx_ck;
  }
  // 802.1Q: the port inserts our tag where it can. Where it strips tags, the tag's id is in the
  // mbuf (vlan_tci) and the worker checks it against ours, since a stripped frame no longer shows
  // the engine which VLAN it came from; elsewhere the engine parses tags in software.
  if (pc.vlan != 0 && (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_VLAN_INSERT) != 0) {
    caps_.vlan_insert = true;
    conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_VLAN_INSERT;
  }
  if (pc.vlan != 0 && (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_VLAN_STRIP) != 0) {
    caps_.vlan_strip = true;
    conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_VLAN_STRIP;
    // The filter only saves the worker work; it is enabled after start, where it may still fail.
    if ((info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_VLAN_FILTER) != 0)
      conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_VLAN_FILTER;
  }
  // The symmetric key puts both directions of a flow on one queue (a server sees its flows on the
  // queue they arrived at; a client can predict where replies land).
  std::array<uint8_t, 40> key = engine::kSymmetricRssKey;
  if (queues > 1 && (info.flow_type_rss_offloads & RTE_ETH_RSS_NONFRAG_IPV4_TCP) != 0) {
    caps_.rss = true;
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_hf = info.flow_type_rss_offloads & (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP);
    if (info.hash_key_size == key.size()) {
      conf.rx_adv_conf.rss_conf.rss_key = key.data();
      conf.rx_adv_conf.rss_conf.rss_key_len = static_cast<uint8_t>(key.size());
    }
  }
  int rc = rte_eth_dev_configure(port_id_, queues, queues, &conf);
  if (rc != 0) throw std::runtime_error("port " + name_ + ": configure failed: " + rte_strerror(-rc));
  uint16_t rxd = static_cast<uint16_t>(pc.rx_descriptors), txd = static_cast<uint16_t>(pc.tx_descriptors);
  rte_eth_dev_adjust_nb_rx_tx_desc(port_id_, &rxd, &txd);
  for (uint16_t q = 0; q < queues; ++q) {
    rte_eth_rxconf rxc = info.default_rxconf;
    rxc.offloads = conf.rxmode.offloads;
    rc = rte_eth_rx_queue_setup(port_id_, q, rxd, static_cast<unsigned>(socket), &rxc, pool_);
    if (rc != 0) throw std::runtime_error("port " + name_ + ": RX queue setup failed: " + rte_strerror(-rc));
    rte_eth_txconf txc = info.default_txconf;
    txc.offloads = conf.txmode.offloads;
    rc = rte_eth_tx_queue_setup(port_id_, q, txd, static_cast<unsigned>(socket), &txc);
    if (rc != 0) throw std::runtime_error("port " + name_ + ": TX queue setup failed: " + rte_strerror(-rc));
  }
  rc = rte_eth_dev_start(port_id_);
  if (rc != 0) throw std::runtime_error("port " + name_ + ": start failed: " + rte_strerror(-rc));
  started_ = true;
  if ((conf.rxmode.offloads & RTE_ETH_RX_OFFLOAD_VLAN_FILTER) != 0) {
    rc = rte_eth_dev_vlan_filter(port_id_, pc.vlan, 1);
    caps_.vlan_filter = rc == 0;
    if (rc != 0) {
      // A filter on with an empty table would drop our VLAN too: turn it off again.
      const int mask = rte_eth_dev_get_vlan_offload(port_id_);
      if (mask >= 0) rte_eth_dev_set_vlan_offload(port_id_, mask & ~RTE_ETH_VLAN_FILTER_OFFLOAD);
      spdlog::info("port {}: VLAN filter for {} refused ({}); other VLANs are dropped in software", name_, pc.vlan,
                   rte_strerror(-rc));
    }
  }
  if (pc.promiscuous) rte_eth_promiscuous_enable(port_id_);
  if (pc.mac_addr) {
    rte_ether_addr a;
    std::copy(pc.mac_addr->begin(), pc.mac_addr->end(), a.addr_bytes);
    if (rte_eth_dev_default_mac_addr_set(port_id_, &a) != 0)
      spdlog::warn("port {}: cannot set MAC {}; using the port's own", name_, pc.mac);
  }
  if (caps_.rss) read_rss(info);
  rte_ether_addr a;
  rte_eth_macaddr_get(port_id_, &a);
  mac_ = wire::MacAddr::from_bytes(a.addr_bytes);
  spdlog::info("port {} (id {}, driver {}): MAC {}, {} queue pair(s), {} RX / {} TX descriptors, MTU {}",
               name_, port_id_, info.driver_name ? info.driver_name : "?", mac_.to_string(), queues, rxd, txd,
               pc.mtu);
  spdlog::info("port {}: offloads RX checksum {}, TX checksum {}, RSS {}; pool {} mbufs of {} bytes", name_,
               caps_.rx_checksum ? "on" : "off", caps_.tx_checksum ? "on" : "off", caps_.rss ? "on" : "off",
               dc.mbufs, dc.mbuf_data_room);
  if (pc.vlan != 0)
    spdlog::info("port {}: VLAN {}: insert {}, strip {}, filter {}", name_, pc.vlan,
                 caps_.vlan_insert ? "hardware" : "software", caps_.vlan_strip ? "hardware" : "software",
                 caps_.vlan_filter ? "hardware" : "software");
  if (impairment_.enabled()) {
    auto line = [](const engine::ImpairmentProfile& p) {
      return fmt::format("drop {} duplicate {} reorder {} (+{} us) corrupt {} delay {} us jitter {} us", p.drop,
                         p.duplicate, p.reorder, p.reorder_delay_us, p.corrupt, p.delay_us, p.jitter_us);
    };
    spdlog::warn("port {}: IMPAIRMENT ON (seed {}, {} frames held at most per direction): rx {}; tx {}", name_,
                 impairment_.seed, impairment_.queue, line(impairment_.rx), line(impairment_.tx));
  }
}

void Port::read_rss(const rte_eth_dev_info& info) {
  // The key in use (ours, or the NIC's own if it has another key size) and the redirection table.
  std::vector<uint8_t> key(info.hash_key_size ? info.hash_key_size : 40);
  rte_eth_rss_conf rc{};
  rc.rss_key = key.data();
  rc.rss_key_len = static_cast<uint8_t>(key.size());
  const uint16_t reta_size = info.reta_size;
  if (rte_eth_dev_rss_hash_conf_get(port_id_, &rc) != 0 || reta_size == 0 || (reta_size & (reta_size - 1)) != 0) {
    spdlog::warn("port {}: cannot read its RSS key and redirection table; flows are steered in software", name_);
    return;
  }
  std::vector<rte_eth_rss_reta_entry64> conf(reta_size / RTE_ETH_RETA_GROUP_SIZE + 1);
  for (auto& c : conf) c.mask = ~uint64_t{0};
  if (rte_eth_dev_rss_reta_query(port_id_, conf.data(), reta_size) != 0) {
    spdlog::warn("port {}: cannot read its RSS redirection table; flows are steered in software", name_);
    return;
  }
  std::vector<uint16_t> reta(reta_size);
  for (uint16_t i = 0; i < reta_size; ++i)
    reta[i] = conf[i / RTE_ETH_RETA_GROUP_SIZE].reta[i % RTE_ETH_RETA_GROUP_SIZE];
  rss_map_.emplace(std::move(key), std::move(reta));
  spdlog::info("port {}: RSS over {} queues, redirection table of {} entries", name_, queues_, reta_size);
}

void Port::log_link() const {
  rte_eth_link link{};
  if (rte_eth_link_get_nowait(port_id_, &link) != 0) return;
  spdlog::info("port {}: link {}, {} Mb/s, {} duplex", name_, link.link_status ? "up" : "down", link.link_speed,
               link.link_duplex ? "full" : "half");
}

uint32_t Port::stop() {
  if (started_) {
    started_ = false;
    rte_eth_dev_stop(port_id_);
    rte_eth_dev_close(port_id_);  // returns the mbufs the RX descriptors held
  }
  // Leak accounting: with the workers gone and the port closed, every mbuf must be back.
  uint32_t leaked = 0;
  if (pool_) {
    leaked = rte_mempool_in_use_count(pool_);
    if (leaked) spdlog::error("port {}: {} mbufs were not returned to the pool", name_, leaked);
    // The pool goes with the port, and before rte_eal_cleanup() (which unmaps its memory).
    rte_mempool_free(pool_);
    pool_ = nullptr;
  }
  return leaked;
}

Port::~Port() { stop(); }

}  // namespace linetcp::dpdk
