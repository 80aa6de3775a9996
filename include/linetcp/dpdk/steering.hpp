// Flow ownership across workers when the port cannot steer flows itself (TAP, memif, net_ring,
// or a NIC without RSS): every worker computes each received frame's owner and hands frames that
// belong to another worker over through a single-producer single-consumer rte_ring, counted.
//
// The owner of a TCP flow is fixed by the flow alone, so both directions agree: a client's flow
// belongs to the worker whose source-port range holds our port; a server's flow to the worker
// the tuple hashes to, under a secret key (a peer that knew the hash could aim every flow at one
// worker). ARP replies go to every worker (each keeps its own neighbour cache).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "linetcp/engine/four_tuple.hpp"

struct rte_mbuf;
struct rte_ring;

namespace linetcp::dpdk {

class Steering {
 public:
  static constexpr uint32_t kAll = UINT32_MAX;  // every worker (ARP replies)

  // `client_ports`: for a client, the first port of each worker's source-port range, in order
  // (empty for a server). `key`: the secret of a server's flow hash (random in real runs).
  // Creates workers * (workers - 1) rings of `ring_size` entries.
  Steering(uint32_t workers, std::vector<uint16_t> client_range_starts, uint16_t client_range_last,
           uint32_t ring_size, int socket, engine::TupleHashKey key);
  ~Steering();
  Steering(const Steering&) = delete;
  Steering& operator=(const Steering&) = delete;

  uint32_t workers() const { return workers_; }
  // The worker that owns this frame; `self` for anything that is not TCP/ARP-reply over IPv4.
  uint32_t owner(const rte_mbuf* m, uint32_t self) const;
  // The ring frames travel on from worker `from` to worker `to` (from != to).
  rte_ring* ring(uint32_t from, uint32_t to) const { return rings_[from * workers_ + to]; }

 private:
  uint32_t workers_;
  bool client_;
  engine::TupleHashKey key_;
  std::unique_ptr<uint8_t[]> port_owner_;  // client: local port -> worker
  std::vector<rte_ring*> rings_;
};

}  // namespace linetcp::dpdk
