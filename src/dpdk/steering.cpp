// Software flow steering: owner computation and the handoff rings.
#include "linetcp/dpdk/steering.hpp"

#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <stdexcept>

#include "linetcp/base/byte_order.hpp"
#include "linetcp/engine/four_tuple.hpp"
#include "linetcp/wire/arp.hpp"
#include "linetcp/wire/ethernet.hpp"
#include "linetcp/wire/ipv4.hpp"

namespace linetcp::dpdk {

Steering::Steering(uint32_t workers, std::vector<uint16_t> starts, uint16_t last, uint32_t ring_size, int socket,
                   engine::TupleHashKey key)
    : workers_(workers), client_(!starts.empty()), key_(key), rings_(std::size_t{workers} * workers, nullptr) {
  if (client_) {
    port_owner_ = std::make_unique<uint8_t[]>(65536);
    for (uint32_t w = 0; w < starts.size(); ++w) {
      const uint32_t end = w + 1 < starts.size() ? starts[w + 1] : uint32_t{last} + 1;
      for (uint32_t p = starts[w]; p < end; ++p) port_owner_[p] = static_cast<uint8_t>(w);
    }
  }
  static uint32_t instance = 0;
  ++instance;
  for (uint32_t from = 0; from < workers; ++from) {
    for (uint32_t to = 0; to < workers; ++to) {
      if (from == to) continue;
      const std::string name = "ltcp_h" + std::to_string(instance) + "_" + std::to_string(from) + "_" + std::to_string(to);
      rte_ring* r = rte_ring_create(name.c_str(), ring_size, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
      if (!r) throw std::runtime_error("cannot create handoff ring " + name + ": " + rte_strerror(rte_errno));
      rings_[from * workers + to] = r;
    }
  }
}

Steering::~Steering() {
  for (rte_ring* r : rings_) {
    if (!r) continue;
    void* m;
    while (rte_ring_dequeue(r, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
    rte_ring_free(r);
  }
}

uint32_t Steering::owner(const rte_mbuf* m, uint32_t self) const {
  const uint8_t* p = rte_pktmbuf_mtod(m, const uint8_t*);
  const uint32_t len = m->data_len;
  if (len < wire::kEthHeaderLen + 20) return self;
  const uint16_t type = base::load_be16(p + 12);
  const uint8_t* ip = p + wire::kEthHeaderLen;
  if (type == wire::kEtherTypeArp) {
    // Requests are answered by whoever gets them; replies teach every worker's cache.
    return base::load_be16(ip + 6) == wire::kArpReply ? kAll : self;
  }
  if (type == wire::kEtherTypeIpv6) {
    // Neighbour advertisements teach every worker's cache, like ARP replies; TCP without
    // extension headers goes to its owner; anything else stays (the endpoint sorts it out).
    if (len < wire::kEthHeaderLen + 40 + 20) return self;
    if (ip[6] == 58 && ip[40] == 136) return kAll;
    if (ip[6] != wire::kIpProtoTcp) return self;
    const uint8_t* tcp = ip + 40;
    const uint16_t local_port = base::load_be16(tcp + 2);
    if (client_) return port_owner_[local_port];
    uint32_t folded_src = 0, folded_dst = 0;
    for (int i = 0; i < 16; i += 4) {
      folded_src ^= base::load_be32(ip + 8 + i);
      folded_dst ^= base::load_be32(ip + 24 + i);
    }
    return engine::flow_owner(engine::FourTuple{folded_dst, folded_src, local_port, base::load_be16(tcp)}, workers_, key_);
  }
  if (type != wire::kEtherTypeIpv4 || ip[9] != wire::kIpProtoTcp) return self;
  const uint32_t ihl = (ip[0] & 0x0fu) * 4;
  if (len < wire::kEthHeaderLen + ihl + 4) return self;  // the endpoint counts it as malformed
  const uint8_t* tcp = ip + ihl;
  const uint16_t remote_port = base::load_be16(tcp);
  const uint16_t local_port = base::load_be16(tcp + 2);
  if (client_) return port_owner_[local_port];
  return engine::flow_owner(engine::FourTuple{base::load_be32(ip + 16), base::load_be32(ip + 12), local_port, remote_port},
                            workers_, key_);
}

}  // namespace linetcp::dpdk
