// Endpoint: one worker's whole TCP/IP stack, without DPDK. Ethernet frames go in with the time
// they arrived, frames come out when polled, and applications use socket-like calls.
//
// It demultiplexes 802.1Q, ARP, ICMP echo, IPv6 (NDP, ICMPv6 echo) and TCP over both; keeps the
// connection table, the timer wheel, the TIME_WAIT queue, the ARP and NDP caches, the remote IPv6
// address table and the source-port allocators; answers unknown tuples with RST; runs SYN cookies
// when the SYN backlog is full, and drops SYNs (the peer retries) while the connection table is full.
//
// Example: an echo server driven by hand (a test harness does exactly this):
//
//   struct Echo : engine::App { ... on_data: keep bytes, ep.send(id, n); fill_payload: copy ... };
//   engine::Endpoint ep(config);
//   Echo echo;
//   ep.listen(7, echo);
//   for (;;) {
//     ep.input(frame, now);                 // for each frame received
//     ep.advance(now);                      // timers and TIME_WAIT expiry
//     ep.poll_output(sink, now, 32);        // frames to transmit
//     sleep_until(ep.next_deadline());      // or poll again
//   }
//
// A client does `ConnId id = ep.connect(server_ip, 80, app, now)` and writes in on_open().
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "linetcp/base/compiler.hpp"
#include "linetcp/base/intrusive_list.hpp"
#include "linetcp/base/time.hpp"
#include "linetcp/engine/app.hpp"
#include "linetcp/engine/conn_table.hpp"
#include "linetcp/engine/four_tuple.hpp"
#include "linetcp/engine/neighbor.hpp"
#include "linetcp/engine/peer_table.hpp"
#include "linetcp/engine/port_allocator.hpp"
#include "linetcp/engine/time_wait_queue.hpp"
#include "linetcp/engine/timer_wheel.hpp"
#include "linetcp/tcp/isn.hpp"
#include "linetcp/tcp/tcp_connection.hpp"
#include "linetcp/wire/ethernet.hpp"
#include "linetcp/wire/frame_template.hpp"
#include "linetcp/wire/ipv4.hpp"
#include "linetcp/wire/ipv6.hpp"
#include "linetcp/wire/tcp_header.hpp"

namespace linetcp::engine {

// A static route: destinations in `to` go through `via` (on one of our subnets).
struct Route4 {
  wire::Ipv4Prefix to;
  wire::Ipv4Addr via;
};
struct Route6 {
  wire::Ipv6Prefix to;
  wire::Ipv6Addr via;
};

struct EndpointConfig {
  wire::MacAddr mac;
  wire::Ipv4Addr address;
  uint8_t prefix_length = 24;
  wire::Ipv4Addr gateway;  // 0.0.0.0: none (only on-link destinations are reachable)
  uint16_t mtu = 1500;
  uint8_t ttl = 64;  // MUST-49
  uint8_t tos = 0;   // MUST-48: DSCP/ECN byte of everything we send
  uint32_t max_connections = 65536;
  // Connections with their full TCP state (512 bytes each) at once; 0: max_connections.
  // Fewer: when the full states run out, the connection idle the longest (ESTABLISHED, nothing in
  // flight, no timer) is parked in its 112-byte record and brought back by its next segment or
  // application call. Holding millions of idle connections then costs ~125 bytes each.
  uint32_t full_state_connections = 0;
  uint32_t syn_backlog = 4096;  // connections in SYN-RECEIVED at once
  bool syn_cookies = true;
  uint32_t time_wait_capacity = 65536;
  base::Duration time_wait = base::Duration::seconds(60);  // 2*MSL (MUST-13)
  uint32_t ooo_chunks = 8192;  // out-of-order store shared by all connections
  uint32_t neighbor_capacity = 1024;
  base::Duration arp_timeout = base::Duration::seconds(300);
  uint16_t ephemeral_first = 10000;  // source ports for connect()
  uint16_t ephemeral_last = 60999;
  // More local addresses for connect() (a client's source range), taken in turn, each with the
  // whole ephemeral port range; ARP and IPv4 input accept them all. 0.0.0.0: `address` alone.
  wire::Ipv4Addr source_first;
  wire::Ipv4Addr source_last;
  // More IPv4 addresses with their prefixes, on other subnets (or the same): answered in ARP,
  // accepting connections, on-link for their subnets, and the source of connections to them.
  std::vector<wire::Ipv4Prefix> addresses;
  // IPv6 (all optional): our addresses with their prefixes, on one or several subnets; a
  // link-local address (fe80::/64 from the MAC) is added for NDP. Empty: IPv6 is not spoken.
  std::vector<wire::Ipv6Prefix> addresses6;
  wire::Ipv6Addr gateway6;  // "::": none
  // Neighbours known in advance (a gateway's MAC from the config): never resolved, never expire.
  wire::MacAddr gateway_mac;   // zero: resolve `gateway` by ARP
  wire::MacAddr gateway6_mac;  // zero: resolve `gateway6` by NDP
  // Static routes, longest prefix first wins; `gateway` / `gateway6` are the default routes.
  std::vector<Route4> routes;
  std::vector<Route6> routes6;
  // Remote IPv6 addresses held at once (Ipv6PeerTable); 0: max_connections + time_wait_capacity.
  uint32_t ipv6_peers = 0;
  // 802.1Q VLAN id of every frame (1..4094), 0: untagged. With vlan_tx_offload the port inserts
  // the tag (TxMeta::vlan_tci); with vlan_rx_stripped it strips tags and drops other VLANs.
  uint16_t vlan = 0;
  bool vlan_tx_offload = false;
  bool vlan_rx_stripped = false;
  bool verify_checksums = true;  // false when the port verified them (or for fuzzing)
  bool tx_checksum_offload = false;  // the frame sink's port computes IPv4 and TCP checksums
  std::array<uint64_t, 2> secret{0x243F6A8885A308D3ull, 0x13198A2E03707344ull};  // ISN/cookie key
  tcp::TcpParams tcp;  // defaults for listeners and connections without their own
};

// Every reason a frame is dropped or answered has a counter; names are reported as they are.
struct EndpointCounters {
  uint64_t frames_in = 0;
  uint64_t frames_out = 0;
  uint64_t eth_too_short = 0;
  uint64_t eth_not_for_us = 0;
  uint64_t eth_unknown_type = 0;
  uint64_t eth_vlan_other = 0;  // tagged for another VLAN, or untagged on a VLAN link
  uint64_t arp_in = 0;
  uint64_t arp_bad = 0;
  uint64_t arp_replies_out = 0;
  uint64_t arp_requests_out = 0;
  uint64_t arp_table_full = 0;
  uint64_t ipv4_bad_header = 0;
  uint64_t ipv4_bad_checksum = 0;
  uint64_t ipv4_fragments = 0;
  uint64_t ipv4_not_for_us = 0;
  uint64_t ipv4_unknown_protocol = 0;
  uint64_t ipv4_bad_source = 0;  // MUST-63: broadcast/multicast/our own source address
  uint64_t icmp_in = 0;
  uint64_t icmp_bad = 0;
  uint64_t icmp_echo_replies = 0;
  uint64_t icmp_errors_in = 0;  // unreachable, time exceeded, parameter problem: never abort (MUST-56)
  uint64_t icmp_source_quench = 0;  // MUST-55: discarded
  uint64_t ipv6_bad_header = 0;      // version, lengths, an extension header chain we refuse
  uint64_t ipv6_fragments = 0;       // we do not reassemble
  uint64_t ipv6_not_for_us = 0;
  uint64_t ipv6_unknown_protocol = 0;
  uint64_t ipv6_bad_source = 0;      // multicast, unspecified (for TCP) or our own source
  uint64_t ipv6_peers_full = 0;      // no slot left for one more remote IPv6 address
  uint64_t icmp6_in = 0;
  uint64_t icmp6_bad = 0;            // short or bad checksum
  uint64_t icmp6_echo_replies = 0;
  uint64_t icmp6_errors_in = 0;      // unreachable, too big, time exceeded, parameter problem
  uint64_t ndp_bad = 0;              // malformed NS/NA, hop limit not 255
  uint64_t ndp_advertisements_out = 0;
  uint64_t ndp_solicitations_out = 0;
  uint64_t ndp_table_full = 0;
  uint64_t tcp_bad_header = 0;
  uint64_t tcp_bad_checksum = 0;
  uint64_t tcp_bad_options = 0;
  uint64_t tcp_rst_sent_no_conn = 0;   // RST for a segment to no connection or listener
  uint64_t tcp_no_conn_dropped = 0;    // a RST to no connection: dropped silently
  uint64_t tcp_syn_fin = 0;            // SYN+FIN to a listener: dropped (a scan, never a real open)
  uint64_t conn_table_full = 0;
  uint64_t tcb_pool_full = 0;        // no full TCP state free nor idle to park: a SYN or segment dropped, a connect() refused
  uint64_t connections_parked = 0;   // idle connections moved to their compact record
  uint64_t connections_unparked = 0; // brought back into a full TCP state
  uint64_t app_calls_deferred = 0;   // an application call on a parked connection waited for a full state
  uint64_t syn_backlog_full = 0;
  uint64_t syn_cookies_sent = 0;
  uint64_t syn_cookies_accepted = 0;
  uint64_t syn_cookies_rejected = 0;
  uint64_t time_wait_full = 0;       // TIME_WAIT queue full: the connection kept its full slot
  uint64_t time_wait_hits = 0;       // segments that met a TIME_WAIT record
  uint64_t time_wait_reused = 0;     // new SYN accepted on a TIME_WAIT tuple (RFC 6191)
  uint64_t time_wait_rst_ignored = 0;  // RFC 1337
  uint64_t time_wait_rst_challenged = 0;  // an exact RST after our challenge ACK ended the record
  uint64_t ports_exhausted = 0;
  uint64_t control_queue_full = 0;   // ARP/ICMP/RST answers dropped: too many at once
  uint64_t tx_deferred = 0;          // the frame sink was full: output waits for the next poll (nothing lost)
  uint64_t arp_wait = 0;             // connections that waited for address resolution
  uint64_t connections_opened = 0;   // connect() calls that sent a SYN
  uint64_t connections_opened_ipv6 = 0;    // of which over IPv6
  uint64_t connections_accepted_ipv6 = 0;  // passive opens over IPv6 that reached ESTABLISHED
  uint64_t connections_accepted = 0; // passive opens that reached ESTABLISHED
  uint64_t connections_established = 0;  // active opens that reached ESTABLISHED
  uint64_t connections_closed = 0;   // slots released
  uint64_t connections_failed = 0;   // active opens that never reached ESTABLISHED
  uint64_t connections_reset = 0;    // closed by a RST from the peer
  uint64_t syn_received_closed = 0;  // passive opens freed before ESTABLISHED (RST, timeout, SYN)
  uint64_t connections_timed_out = 0;
};

// Where poll_output() writes frames: a DPDK TX batch, or a test's vector of frames.
struct TxMeta {
  bool checksum_offload = false;  // IPv4 and TCP checksums left for the port to fill in
  bool ipv6 = false;              // an IPv6 packet (no IP header checksum)
  uint8_t l2_len = 14;
  uint16_t vlan_tci = 0;  // non-zero: the port inserts this 802.1Q tag (hardware VLAN insert)
  uint8_t l3_len = 20;
  uint8_t l4_len = 0;  // TCP header with options
};
class FrameSink {
 public:
  // A buffer for one frame of up to mtu + 14 bytes, or an empty span when none is left.
  virtual std::span<uint8_t> alloc_frame() = 0;
  // The frame of `len` bytes in the buffer from the last alloc_frame() is complete; `len` 0
  // hands the buffer back unused.
  virtual void commit_frame(std::size_t len, const TxMeta& meta) = 0;

 protected:
  ~FrameSink() = default;
};

class Endpoint final : private tcp::ConnSink {
 public:
  explicit Endpoint(const EndpointConfig& config, base::Instant now = base::Instant());
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;
  ~Endpoint();

  // --- frames and time ---
  void input(std::span<const uint8_t> frame, base::Instant now);
  // Optional, for a burst: prefetches the connection-index bucket a TCP/IPv4 frame will need, so
  // that calling it for frame i + 1 before input(frame i) overlaps that cache miss.
  void prefetch_input(std::span<const uint8_t> frame) const;
  // Writes up to `max_frames` frames into `sink`; returns how many.
  std::size_t poll_output(FrameSink& sink, base::Instant now, std::size_t max_frames);
  // Runs due timers and TIME_WAIT expiry.
  void advance(base::Instant now);
  // When advance() next has work, or Instant::never(). Pending output is has_output()'s to say.
  base::Instant next_deadline() const;
  // Also true while parked connections wait for a full state and one can now be had: the
  // next poll_output() replays their calls.
  bool has_output() const {
    return !ready_.empty() || control_count_ > 0 ||
           (LINETCP_UNLIKELY(waiting_head_ != kNoRecord) && (!idle_.empty() || !tcbs_.full()));
  }

  // --- sockets ---
  // Passive open on `port` (MUST-42: one listener per port, independent of connections).
  bool listen(uint16_t port, App& app, const tcp::TcpParams* params = nullptr);
  void unlisten(uint16_t port);
  // Active open; kInvalidConn when no source port or connection slot is left (counted).
  // `local_port` 0 picks one from the ephemeral range. `local` (MUST-43) names one of our source
  // addresses; unset, the endpoint takes its source addresses in turn (MUST-44). Every segment of
  // the connection carries that address (MUST-45).
  ConnId connect(wire::Ipv4Addr remote, uint16_t remote_port, App& app, base::Instant now,
                 const tcp::TcpParams* params = nullptr, uint16_t local_port = 0,
                 wire::Ipv4Addr local = wire::Ipv4Addr{});
  // The same over IPv6: `local` unset takes our global IPv6 addresses in turn (or the link-local
  // one for a link-local peer). The connection announces an MSS of mtu - 60 and assumes 1220
  // when the peer announces none (MUST-15).
  ConnId connect(const wire::Ipv6Addr& remote, uint16_t remote_port, App& app, base::Instant now,
                 const tcp::TcpParams* params = nullptr, uint16_t local_port = 0,
                 const wire::Ipv6Addr& local = wire::Ipv6Addr{});
  // `bytes` more of the send stream are ready (the app will be asked for them by offset).
  void send(ConnId id, uint64_t bytes);
  void send_urgent(ConnId id);
  // Orderly close: FIN after the queued data (also "shutdown(SHUT_WR)": receiving continues).
  void close(ConnId id);
  // Reset now: RST to the peer, on_closed(kAborted) to the application.
  void abort(ConnId id);
  void hold(ConnId id, uint32_t bytes);
  void release(ConnId id, uint32_t bytes);
  void set_nodelay(ConnId id, bool on);
  void set_keepalive(ConnId id, bool on, base::Instant now);
  void set_user_timeout(ConnId id, base::Duration timeout);
  // connect() picks only source ports for which `filter(ctx, tuple)` holds: with RSS, the ports
  // whose replies the NIC delivers to this worker's queue. Null: any free port.
  using PortFilter = bool (*)(const void* ctx, const FourTuple& tuple);
  void set_port_filter(PortFilter filter, const void* ctx) {
    port_filter_ = filter;
    port_filter_ctx_ = ctx;
  }

  // --- inspection ---
  // The connection's TCP state; not for a parked connection (see parked()).
  const tcp::TcpConnection& connection(ConnId id) const { return tcbs_[records_[id].tcb].tcp; }
  const FourTuple& tuple(ConnId id) const { return records_[id].tuple; }
  bool is_ipv6(ConnId id) const { return engine::is_ipv6(records_[id].tuple); }
  // The addresses of an IPv6 connection (its tuple holds table indices).
  const wire::Ipv6Addr& local_ipv6(ConnId id) const { return local6_[records_[id].tuple.local_ip].addr; }
  const wire::Ipv6Addr& remote_ipv6(ConnId id) const { return peers_.addr(records_[id].tuple.remote_ip); }
  bool valid(ConnId id) const { return records_.in_use(id); }
  uint32_t capacity() const { return records_.capacity(); }
  uint32_t active_connections() const { return records_.size(); }
  // Parked connections (see EndpointConfig::full_state_connections) have no TcpConnection to inspect.
  bool parked(ConnId id) const { return (records_[id].flags & kParked) != 0; }
  uint32_t parked_connections() const { return records_.size() - tcbs_.size(); }
  uint32_t tcb_capacity() const { return tcbs_.capacity(); }
  uint32_t time_wait_count() const { return time_wait_.size(); }
  uint32_t ports_available() const;
  // Whether `a` is one of our addresses (the main one or the source range).
  bool is_local(wire::Ipv4Addr a) const {
    return a == config_.address || a.value - source_first_ <= source_span_ ||
           (LINETCP_UNLIKELY(!extra4_.empty()) && extra4_index(a) >= 0);
  }
  // Whether `a` is one of our IPv6 addresses, link-local included; its index, or -1.
  int local6_index(const wire::Ipv6Addr& a) const;
  uint32_t ipv6_peer_count() const { return peers_.size(); }
  const EndpointCounters& counters() const { return counters_; }
  const tcp::TcpCounters& tcp_counters() const { return tcp_counters_; }
  const EndpointConfig& config() const { return config_; }
  // Connections per TCP state, indexed by tcp::State.
  std::array<uint32_t, 11> state_histogram() const;
  // Memory the endpoint holds for connections, TIME_WAIT records and indexes (its own accounting).
  std::size_t memory_bytes() const;
  // The same accounting per entry: all bytes preallocated for one connection slot (its object in
  // the slab with the free-stack and bitmap share, and one index entry's share of the index) and
  // for one TIME_WAIT record (the record and one index entry's share).
  struct MemoryPerEntry {
    double connection = 0;       // everything preallocated per connection: records, full states, index
    double idle_connection = 0;  // one more idle (parked) connection: its record and index share
    double full_state_connection = 0;  // one connection in a full state: record, TCB slot, index share
    double time_wait = 0;
    double index_entry = 0;         // index (+ IPv6 peer table) bytes / entries it holds
    std::size_t conn_object = 0;    // sizeof a full state: TcpConnection + tuple, timer, links
    std::size_t conn_record = 0;    // sizeof a connection's record (its parked form)
    std::size_t tcp_connection = 0; // sizeof(tcp::TcpConnection)
    std::size_t time_wait_record = 0;
  };
  MemoryPerEntry memory_per_entry() const;

  // The connection index's hash of a tuple, keyed by the endpoint's secret (diagnostics, tests).
  uint32_t index_hash(const FourTuple& t) const { return index_.hash(t); }

 private:
  // A connection's full state, from a pool of full_state_connections. `tuple`, `app` and `active`
  // repeat its record's so that the hot paths read one object; timer.owner is its ConnId.
  struct alignas(64) Conn {
    tcp::TcpConnection tcp;
    FourTuple tuple;
    TimerNode timer;
    base::ListNode ready_link;  // on ready_ or arp_wait_
    base::ListNode idle_link;   // on idle_: parkable, a candidate to give its full state up
    base::Instant armed_for = base::Instant::never();
    uint8_t app = 0;
    bool opened = false;     // the application saw on_open()
    bool active = false;     // connect()ed: the source port came from ports_ (of its address)
    bool embryonic = false;  // counted in syn_received_ (passive, handshake not done)
    bool waiting_arp = false;  // on arp_wait_ rather than ready_
  };
  struct AppSlot {
    App* app;
    const tcp::TcpParams* params;
    // The same for IPv6 connections: MSS mtu - 60, 1220 assumed without the option (MUST-15).
    // Owned here so that every connection keeps one params pointer whatever its family.
    std::unique_ptr<tcp::TcpParams> params6;
  };
  struct Local6 {
    wire::Ipv6Addr addr;
    wire::Ipv6Prefix prefix;
    std::unique_ptr<PortAllocator> ports;  // for connect()
  };
  using ReadyList = base::IntrusiveList<Conn, &Conn::ready_link>;
  using IdleList = base::IntrusiveList<Conn, &Conn::idle_link>;

  // Every connection has a record; ConnId is its index, stable for the connection's life. The
  // index maps tuples to records. While expanded, `tcb` names its full state; while parked,
  // `parked` holds it, and application calls that need a full state when none can be had are
  // kept here (deferred_send, kDefer*) and replayed when one frees (the waiting list).
  struct ConnRecord {
    FourTuple tuple;
    uint32_t tcb = 0;
    uint32_t wait_next = 0;  // next on the waiting list (while kQueued)
    uint8_t app = 0;
    uint8_t flags = 0;
    uint16_t reserved = 0;
    uint32_t deferred_send_lo = 0, deferred_send_hi = 0;  // 4-byte aligned: the record stays 112 B
    tcp::ParkedTcb parked;
  };
  static_assert(sizeof(ConnRecord) == 112);
  static constexpr uint8_t kParked = 1, kActive = 2, kQueued = 4, kWaiting = 8, kDeferUrgent = 16,
                           kDeferClose = 32, kDeferAbort = 64, kDeferKeepalive = 128;
  static constexpr uint32_t kNoRecord = UINT32_MAX;

  // tcp::ConnSink, forwarded to the application of current_.
  void on_established() override;
  void on_data(std::span<const uint8_t> data) override;
  void on_urgent(uint64_t urgent_end) override;
  void on_acked(uint64_t acked_until) override;
  void on_peer_fin() override;
  void on_closed(tcp::CloseReason reason) override;

  void handle_arp(std::span<const uint8_t> payload, base::Instant now);
  void handle_ipv4(std::span<const uint8_t> packet, base::Instant now);
  void handle_icmp(const wire::Ipv4View& ip);
  void handle_tcp(const wire::Ipv4View& ip, base::Instant now);
  void handle_ipv6(std::span<const uint8_t> packet, base::Instant now);
  void handle_icmp6(const wire::Ipv6View& ip, base::Instant now);
  void handle_tcp6(const wire::Ipv6View& ip, int local, base::Instant now);
  // After the checksum: parse the TCP header and hand the segment to its connection, TIME_WAIT
  // record, listener or the RST path. `t` may have kPendingPeer as remote (IPv6 only).
  void handle_segment(const wire::TcpHeaderView& th, FourTuple t, base::Instant now);
  void handle_time_wait(uint32_t handle, const tcp::SegmentIn& seg, FourTuple& t,
                        base::Instant now, bool& pass_to_listener);
  void handle_listener(uint8_t app_slot, const tcp::SegmentIn& seg, const FourTuple& t, base::Instant now);
  void send_syn_cookie(const tcp::SegmentIn& syn, const FourTuple& t, const tcp::TcpParams& params,
                       base::Instant now);
  void send_reset_for(const tcp::SegmentIn& seg, const FourTuple& t);

  uint8_t app_slot(App& app, const tcp::TcpParams* params);
  const tcp::TcpParams& params_for(uint8_t slot, const FourTuple& t) const {
    return engine::is_ipv6(t) ? *apps_[slot].params6 : *apps_[slot].params;
  }
  // Takes a reference on the remote IPv6 address of `t` (interning the packet's source for
  // kPendingPeer); false when the peer table is full (counted).
  bool hold_peer(FourTuple& t);
  void release_peer(const FourTuple& t) {
    if (engine::is_ipv6(t)) peers_.release(t.remote_ip);
  }
  ConnId new_connection(FourTuple t, uint8_t app, base::Instant now);
  Conn& tcb(ConnId id) { return tcbs_[records_[id].tcb]; }
  // Gives record `id` (its tuple and app already set) the full state `slot`: the fields both a
  // new and an unparked connection start with. The caller sets `opened` and `active`.
  Conn& bind_tcb(ConnId id, uint32_t slot);
  // A full state for a new or unparked connection: a free one, or the one idle the longest,
  // parked for it. kInvalidConn when every one is busy (the caller counts what that costs).
  uint32_t take_tcb(base::Instant now);
  void park(Conn& c, base::Instant now);
  // The connection's full state, unparking it if needed; nullptr when none can be had.
  Conn* expand(ConnId id, base::Instant now);
  // For an application call: expand(), or nullptr after putting the record on the waiting list
  // (the caller records what it wanted in the record).
  Conn* expand_for_app(ConnId id);
  void replay_deferred(ConnId id, Conn& c);
  void serve_waiting();
  tcp::TupleKey key_of(const FourTuple& t) const;
  PortAllocator& ports_of(const FourTuple& t) {
    return engine::is_ipv6(t) ? *local6_[t.local_ip].ports : ports_of(t.local_ip);
  }
  const wire::Ipv6Addr& remote6(uint32_t slot) const {
    return slot == kPendingPeer ? input_src6_ : peers_.addr(slot);
  }
  ConnId connect_tuple(FourTuple t, bool any_local, uint32_t first_choice, uint32_t choices, App& app,
                       base::Instant now, const tcp::TcpParams* params);
  // The source address (a local-address index) that the round robin over `choices` addresses,
  // starting at index `first`, gives the next connection.
  uint32_t next_source(bool v6, uint32_t first, uint32_t choices) const {
    const uint32_t next = v6 ? next_source6_ : next_source_;
    return first + (next < choices ? next : 0);
  }
  // Starts loading what the next connect() after this one will probably touch first.
  void prefetch_next_connect(FourTuple t, bool any_local, uint32_t first, uint32_t choices);
  // After any event on a connection: free it, move it to TIME_WAIT, queue it for output, and
  // keep its timer right.
  void settle(Conn& c, base::Instant now, bool requeue = true);
  void settle(ConnId id, base::Instant now, bool requeue = true) { settle(tcb(id), now, requeue); }
  void free_connection(ConnId id, bool erase_index = true);
  void to_time_wait(ConnId id, base::Instant now);
  // What a live TIME_WAIT record holds goes back: its index entry, its port, its peer reference.
  void release_time_wait(const TimeWaitRecord& r);
  // Ends a live TIME_WAIT record before its time (expiry releases the others).
  void end_time_wait(uint32_t handle);
  // ConnIndex::KeyOf: the tuple held by the connection or TIME_WAIT record an index value names.
  static const FourTuple* index_key(const void* ctx, uint32_t value);
  void fire_timer(ConnId id, base::Instant now);
  // Quick ACKs while more than 7/8 of the full states are taken and idle connections park for
  // room: a delayed ACK would keep its connection's state from parking.
  tcp::TcpContext ctx() {
    return tcp::TcpContext{ooo_, tcp_counters_, parking_ && tcbs_.size() > tcbs_.capacity() - tcbs_.capacity() / 8};
  }
  wire::Ipv4Addr next_hop(wire::Ipv4Addr dst) const;
  wire::Ipv6Addr next_hop6(const wire::Ipv6Addr& dst) const;

  // Small frames the endpoint answers with (ARP, ICMP echo replies, RSTs, SYN-ACK cookies,
  // TIME_WAIT ACKs): built at once into a fixed ring, sent at the next poll_output().
  uint8_t* control_frame();  // nullptr when the ring is full (counted)
  void commit_control(std::size_t len);
  std::size_t write_tcp_frame(uint8_t* buf, const wire::MacAddr& dst_mac, const FourTuple& t,
                              const tcp::SegmentOut& seg, ConnId payload_owner, uint8_t app, bool offload,
                              TxMeta* meta);
  void queue_tcp_control(const FourTuple& t, const tcp::SegmentOut& seg);
  void queue_arp_request(wire::Ipv4Addr target);
  void queue_neighbor_solicitation(const wire::Ipv6Addr& target);
  // Writes Ethernet + IPv6 headers for an ICMPv6 message of `len` bytes already at f + 54.
  void commit_icmp6(uint8_t* f, const wire::MacAddr& dst_mac, const wire::Ipv6Addr& src,
                    const wire::Ipv6Addr& dst, std::size_t len, uint8_t hop_limit);
  // Copies queued control frames into `sink`; false when the sink ran out of buffers.
  bool drain_control(FrameSink& sink, std::size_t& sent, std::size_t max_frames);

  EndpointConfig config_;
  wire::Ipv4Prefix prefix_;
  // Ethernet header length of what we send: 14, or 18 with an 802.1Q tag written in software.
  std::size_t l2_len_;
  // The L2 and IPv4 headers of our TCP frames, prebuilt (same tag, TTL and TOS as write_l2() and
  // write_ipv4_header() would give them).
  wire::Ipv4FrameTemplate tcp_frame4_;
  std::size_t headers4() const { return l2_len_ + wire::kIpv4MinHeaderLen; }
  std::size_t headers6() const { return l2_len_ + wire::kIpv6HeaderLen; }
  std::size_t write_l2(uint8_t* p, const wire::MacAddr& dst, uint16_t ether_type) const;
  TxMeta tx_meta() const {
    TxMeta m;
    m.l2_len = static_cast<uint8_t>(l2_len_);
    if (config_.vlan_tx_offload) m.vlan_tci = config_.vlan;
    return m;
  }
  EndpointCounters counters_;
  tcp::TcpCounters tcp_counters_;
  tcp::ChunkPool ooo_;
  Slab<ConnRecord> records_;
  Slab<Conn> tcbs_;
  bool parking_;  // fewer full states than records: idle connections may be parked
  IdleList idle_;
  uint32_t waiting_head_ = kNoRecord, waiting_tail_ = kNoRecord;
  base::Instant now_;  // the latest time given to input(), advance() or poll_output(), for app calls
  ConnIndex index_;  // tuple -> ConnId, or TIME_WAIT handle | kTimeWaitBit
  TimerWheel wheel_;
  TimeWaitQueue time_wait_;
  NeighborCache neighbors_;
  Neighbor6Cache neighbors6_;
  std::vector<Local6> local6_;  // IPv6 tuples' local_ip indexes it; the link-local address first
  // local6_'s indexes in address order: every received IPv6 packet looks up its destination and
  // source, and address ranges make hundreds of local addresses (a binary search, not a scan).
  std::vector<uint32_t> local6_sorted_;
  // The distinct prefixes of local6_ (a range of addresses shares one): next_hop6() runs for
  // every connection with frames to send.
  std::vector<wire::Ipv6Prefix> onlink6_;
  uint32_t next_source6_ = 0;
  Ipv6PeerTable peers_;
  wire::Ipv6Addr input_src6_;  // source of the IPv6 packet being processed (kPendingPeer)
  static constexpr uint32_t kPendingPeer = kIpv6Tag - 1;  // "the packet's source", not interned
  PortAllocator& ports_of(uint32_t local_ip) {
    return local_ip - source_first_ <= source_span_ ? *ports_[local_ip - source_first_]
                                                    : *extra4_[extra4_index(wire::Ipv4Addr{local_ip})].ports;
  }
  struct Local4 {
    wire::Ipv4Prefix prefix;
    std::unique_ptr<PortAllocator> ports;
  };
  std::vector<Local4> extra4_;  // config.addresses; a handful, scanned linearly
  int extra4_index(wire::Ipv4Addr a) const {
    for (std::size_t i = 0; i < extra4_.size(); ++i)
      if (extra4_[i].prefix.addr == a) return static_cast<int>(i);
    return -1;
  }
  // The extra address whose subnet holds `a`, or -1.
  int extra4_subnet(wire::Ipv4Addr a) const {
    for (std::size_t i = 0; i < extra4_.size(); ++i)
      if (extra4_[i].prefix.contains(a)) return static_cast<int>(i);
    return -1;
  }
  uint32_t source_first_;  // the source range (just `address` when none is configured)
  uint32_t source_span_;   // last - first
  uint32_t next_source_ = 0;
  std::vector<std::unique_ptr<PortAllocator>> ports_;  // one per source address
  tcp::IsnGenerator isn_;
  tcp::SynCookies cookies_;
  ReadyList ready_;
  ReadyList arp_wait_;
  base::Instant arp_retry_at_ = base::Instant::never();
  std::vector<AppSlot> apps_;
  std::unique_ptr<uint8_t[]> listeners_;  // port -> app slot + 1 (0: no listener)
  uint32_t syn_received_ = 0;
  base::Instant last_cookie_sent_ = base::Instant::never();
  ConnId current_ = kInvalidConn;  // the connection whose ConnSink events are being delivered
  Conn* current_conn_ = nullptr;   // its full state
  // Makes a connection current_ for one scope (events nest: an application may act on another
  // connection from inside a callback).
  class CurrentScope {
   public:
    CurrentScope(Endpoint& ep, ConnId id, Conn& c) : ep_(ep), saved_id_(ep.current_), saved_conn_(ep.current_conn_) {
      ep.current_ = id;
      ep.current_conn_ = &c;
    }
    ~CurrentScope() {
      ep_.current_ = saved_id_;
      ep_.current_conn_ = saved_conn_;
    }
    CurrentScope(const CurrentScope&) = delete;
    CurrentScope& operator=(const CurrentScope&) = delete;

   private:
    Endpoint& ep_;
    ConnId saved_id_;
    Conn* saved_conn_;
  };
  wire::MacAddr reply_mac_;
  PortFilter port_filter_ = nullptr;
  const void* port_filter_ctx_ = nullptr;        // source MAC of the frame being processed: where answers go

  static constexpr uint32_t kTimeWaitBit = 0x80000000u;
  static constexpr uint32_t kControlSlots = 128;
  static constexpr uint32_t kControlFrameBytes = 1536;
  std::unique_ptr<uint8_t[]> control_buf_;
  std::array<uint16_t, kControlSlots> control_len_{};
  uint32_t control_head_ = 0;
  uint32_t control_count_ = 0;
};

}  // namespace linetcp::engine
