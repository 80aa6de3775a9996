// SYN flood generator: spoofed-source SYNs built with the wire/ builders, sent in bursts on one
// DPDK port, paced by the TSC (or as fast as the TX queue takes them); replies are counted.
#include "linetcp/dpdk/flood.hpp"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_pause.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "linetcp/base/byte_order.hpp"
#include "linetcp/dpdk/port.hpp"
#include "linetcp/wire/arp.hpp"
#include "linetcp/wire/tcp_header.hpp"
#include "linetcp/wire/tcp_options.hpp"

namespace linetcp::dpdk {

namespace {

constexpr uint16_t kMaxBurst = 64;
constexpr std::size_t kHeaders = wire::kEthHeaderLen + wire::kIpv4MinHeaderLen;

uint64_t splitmix64(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// What a Linux client's SYN carries, so that the server takes the full option path.
wire::TcpOptions syn_options() {
  wire::TcpOptions o;
  o.has_mss = true;
  o.mss = 1460;
  o.sack_permitted = true;
  o.has_timestamps = true;
  o.has_window_scale = true;
  o.window_scale = 7;
  return o;
}

// Counts SYN-ACKs and RSTs among received frames and frees them; returns the ARP sender's MAC
// when one of them is an ARP reply from `arp_from`.
std::optional<wire::MacAddr> drain_rx(uint16_t port, FloodResult& r, wire::Ipv4Addr arp_from) {
  rte_mbuf* rx[kMaxBurst];
  std::optional<wire::MacAddr> found;
  for (int rounds = 0; rounds < 4; ++rounds) {
    const uint16_t n = rte_eth_rx_burst(port, 0, rx, kMaxBurst);
    for (uint16_t i = 0; i < n; ++i) {
      const std::span<const uint8_t> f(rte_pktmbuf_mtod(rx[i], const uint8_t*), rx[i]->data_len);
      ++r.frames_in;
      const auto eth = wire::EthernetView::parse(f);
      if (!eth) continue;
      if (eth->ether_type() == wire::kEtherTypeArp) {
        const auto arp = wire::ArpView::parse(eth->payload());
        if (arp && arp->op() == wire::kArpReply && arp->sender_ip() == arp_from) found = arp->sender_mac();
        continue;
      }
      if (eth->ether_type() != wire::kEtherTypeIpv4) continue;
      wire::Ipv4View ip;
      if (wire::Ipv4View::parse(eth->payload(), ip, false) != wire::Ipv4Error::kOk) continue;
      if (ip.protocol() != wire::kIpProtoTcp || ip.payload().size() < wire::kTcpMinHeaderLen) continue;
      const uint8_t flags = ip.payload()[13];
      if ((flags & (wire::kTcpSyn | wire::kTcpAck)) == (wire::kTcpSyn | wire::kTcpAck)) ++r.syn_acks_in;
      if (flags & wire::kTcpRst) ++r.rsts_in;
    }
    if (n) rte_pktmbuf_free_bulk(rx, n);
    if (n < kMaxBurst) break;
  }
  return found;
}

wire::MacAddr resolve(const Port& port, const FloodConfig& c, wire::Ipv4Addr from, FloodResult& r,
                      const std::atomic<bool>& stop) {
  const uint64_t hz = rte_get_tsc_hz();
  const uint64_t give_up = rte_get_tsc_cycles() + 5 * hz;
  uint64_t next_request = 0;
  while (!stop.load(std::memory_order_relaxed) && rte_get_tsc_cycles() < give_up) {
    if (rte_get_tsc_cycles() >= next_request) {
      next_request = rte_get_tsc_cycles() + hz / 5;
      rte_mbuf* m = rte_pktmbuf_alloc(port.pool());
      if (m) {
        uint8_t* f = rte_pktmbuf_mtod(m, uint8_t*);
        wire::write_ethernet(f, wire::MacAddr::broadcast(), port.mac(), wire::kEtherTypeArp);
        wire::write_arp(f + wire::kEthHeaderLen, wire::kArpRequest, port.mac(), from, wire::MacAddr{}, c.target);
        m->data_len = m->pkt_len = 60;  // the minimum Ethernet frame, zero padded
        std::fill(f + wire::kEthHeaderLen + wire::kArpLen, f + 60, uint8_t{0});
        if (rte_eth_tx_burst(port.id(), 0, &m, 1) != 1) rte_pktmbuf_free(m);
      }
    }
    if (const auto mac = drain_rx(port.id(), r, c.target)) return *mac;
    rte_pause();
  }
  throw std::runtime_error("flood: no ARP answer from " + c.target.to_string() + " within 5 s (give --target-mac)");
}

}  // namespace

FloodResult run_flood(const FloodConfig& c, const std::atomic<bool>& stop) {
  if (c.source_last < c.source_first) throw std::runtime_error("flood: the source range is empty");
  if (c.sport_last < c.sport_first) throw std::runtime_error("flood: the source port range is empty");
  control::PortConfig pc;
  pc.device = c.device;
  pc.checksum_offload = false;  // every frame carries its own checksums
  control::DpdkConfig dc;
  dc.mbufs = c.mbufs;
  FloodResult r;
  Port port(pc, dc, 1);
  const wire::Ipv4Addr arp_from = c.arp_source.is_unspecified() ? c.source_first : c.arp_source;
  const wire::MacAddr dst_mac = c.target_mac ? *c.target_mac : resolve(port, c, arp_from, r, stop);
  spdlog::info("flood: {}:{} at {}, sources {}-{} ports {}-{}, {}", c.target.to_string(), c.target_port,
               dst_mac.to_string(), c.source_first.to_string(), c.source_last.to_string(), c.sport_first,
               c.sport_last, c.rate > 0 ? fmt::format("{:.0f} SYN/s", c.rate) : std::string("as fast as the port takes them"));

  const wire::TcpOptions opts = syn_options();
  const uint32_t addresses = c.source_last.value - c.source_first.value + 1;
  uint32_t next_addr = 0;
  uint16_t next_port = c.sport_first;
  uint16_t ip_id = 0;
  uint64_t rng = c.seed;
  const uint16_t burst = std::clamp<uint16_t>(c.burst, 1, kMaxBurst);

  const uint64_t hz = rte_get_tsc_hz();
  const uint64_t start = rte_get_tsc_cycles();
  const uint64_t end = start + static_cast<uint64_t>(c.duration_s * static_cast<double>(hz));
  uint64_t next_status = start + hz;
  uint64_t last_status_sent = 0;
  rte_mbuf* tx[kMaxBurst];
  uint16_t burst_n = 0;  // frames built in the last burst
  uint16_t pending = 0;  // of which the TX queue has not taken the last `pending` yet
  uint64_t now = start;
  while (!stop.load(std::memory_order_relaxed) && (now = rte_get_tsc_cycles()) < end) {
    // Frames the TX queue refused last time go first; none are built meanwhile.
    if (pending > 0) {
      const uint16_t sent = rte_eth_tx_burst(port.id(), 0, tx + (burst_n - pending), pending);
      r.syns_sent += sent;
      pending = static_cast<uint16_t>(pending - sent);
      if (pending > 0) {
        ++r.tx_refused;
        drain_rx(port.id(), r, c.target);
        continue;
      }
    }
    uint16_t n = burst;
    if (c.rate > 0) {
      // Paced: as many as the rate allows since the start, at most a burst at a time.
      const double due = c.rate * static_cast<double>(now - start) / static_cast<double>(hz);
      const double behind = due - static_cast<double>(r.syns_sent);
      n = behind <= 0 ? 0 : static_cast<uint16_t>(std::min<double>(behind, burst));
    }
    if (n > 0) {
      if (rte_pktmbuf_alloc_bulk(port.pool(), tx, n) != 0) {
        ++r.mbuf_exhausted;
        n = 0;
      }
    }
    for (uint16_t i = 0; i < n; ++i) {
      uint8_t* f = rte_pktmbuf_mtod(tx[i], uint8_t*);
      const wire::Ipv4Addr src{c.source_first.value + next_addr};
      const wire::TcpHeaderFields th{next_port, c.target_port, static_cast<uint32_t>(splitmix64(rng)), 0,
                                     wire::kTcpSyn, 64240, 0};
      // The next source: the next address, and after the last address the next port.
      if (++next_addr == addresses) {
        next_addr = 0;
        next_port = next_port == c.sport_last ? c.sport_first : static_cast<uint16_t>(next_port + 1);
      }
      wire::TcpOptions o = opts;
      o.ts_val = static_cast<uint32_t>(now >> 20);
      wire::write_ethernet(f, dst_mac, port.mac(), wire::kEtherTypeIpv4);
      const std::size_t l4 = wire::write_tcp_header(f + kHeaders, th, o);
      wire::write_ipv4_header(f + wire::kEthHeaderLen, src, c.target, wire::kIpProtoTcp, static_cast<uint16_t>(l4), 64,
                              ip_id++);
      wire::fill_tcp_checksum_ipv4(f + kHeaders, l4, src.value, c.target.value);
      tx[i]->data_len = static_cast<uint16_t>(kHeaders + l4);
      tx[i]->pkt_len = tx[i]->data_len;
    }
    if (n > 0) {
      const uint16_t sent = rte_eth_tx_burst(port.id(), 0, tx, n);
      r.syns_sent += sent;
      if (sent < n) {
        // The queue is full: the rest wait for the next turn (counted once per refusal).
        ++r.tx_refused;
        burst_n = n;
        pending = static_cast<uint16_t>(n - sent);
      }
    }
    drain_rx(port.id(), r, c.target);
    if (c.status && now >= next_status) {
      std::printf("[%5.1fs] syn/s %.0f sent %llu tx-full %llu no-mbuf %llu | in syn-ack %llu rst %llu\n",
                  static_cast<double>(now - start) / static_cast<double>(hz),
                  static_cast<double>(r.syns_sent - last_status_sent),
                  static_cast<unsigned long long>(r.syns_sent), static_cast<unsigned long long>(r.tx_refused),
                  static_cast<unsigned long long>(r.mbuf_exhausted), static_cast<unsigned long long>(r.syn_acks_in),
                  static_cast<unsigned long long>(r.rsts_in));
      std::fflush(stdout);
      last_status_sent = r.syns_sent;
      next_status += hz;
    }
  }
  if (pending > 0) rte_pktmbuf_free_bulk(tx + (burst_n - pending), pending);  // never sent
  r.seconds = static_cast<double>(rte_get_tsc_cycles() - start) / static_cast<double>(hz);
  // Replies still on their way.
  const uint64_t settle_until = rte_get_tsc_cycles() + hz / 5;
  while (rte_get_tsc_cycles() < settle_until) drain_rx(port.id(), r, c.target);
  r.mbufs_leaked = port.stop();
  return r;
}

}  // namespace linetcp::dpdk
