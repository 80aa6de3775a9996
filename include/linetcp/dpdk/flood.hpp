// `linetcp flood`: a SYN flood generator for testing a server's defences (SYN cookies, backlog
// and table limits). It sends SYNs with spoofed source addresses and ports on a DPDK port, as
// fast as the port takes them or at a set rate, and counts what comes back.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "linetcp/wire/ethernet.hpp"
#include "linetcp/wire/ipv4.hpp"

namespace linetcp::dpdk {

struct FloodConfig {
  std::string device;                    // DPDK port name (a vdev from the EAL arguments, or PCI)
  wire::Ipv4Addr target;                 // the server under test
  uint16_t target_port = 80;
  std::optional<wire::MacAddr> target_mac;  // unset: resolved with ARP (from `arp_source`)
  wire::Ipv4Addr source_first;           // spoofed sources, taken in turn
  wire::Ipv4Addr source_last;
  uint16_t sport_first = 1024;           // spoofed source ports, taken in turn per address
  uint16_t sport_last = 65535;
  wire::Ipv4Addr arp_source;             // the address ARP asks from (0: source_first)
  double rate = 0;                       // SYNs per second; 0: as fast as the port takes them
  double duration_s = 5;
  uint32_t mbufs = 8191;
  uint16_t burst = 32;
  uint64_t seed = 1;                     // initial sequence numbers come from it
  bool status = true;                    // a status line once a second
};

struct FloodResult {
  uint64_t syns_sent = 0;
  uint64_t tx_refused = 0;       // bursts the TX queue did not take whole (the rest waits, retried)
  uint64_t mbuf_exhausted = 0;   // bursts cut short by an empty pool
  uint64_t frames_in = 0;
  uint64_t syn_acks_in = 0;
  uint64_t rsts_in = 0;
  uint32_t mbufs_leaked = 0;     // mbufs not back in the pool after the port closed
  double seconds = 0;
  double rate() const { return seconds > 0 ? static_cast<double>(syns_sent) / seconds : 0; }
};

// Runs on the calling (main) lcore until `duration_s` passes or `stop` is set. The EAL must be
// initialised. Throws std::runtime_error when the port cannot start or ARP finds no answer.
FloodResult run_flood(const FloodConfig& config, const std::atomic<bool>& stop);

}  // namespace linetcp::dpdk
