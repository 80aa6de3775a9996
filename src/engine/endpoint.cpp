// Endpoint: frame demultiplexing (802.1Q, ARP, IPv4, ICMP, IPv6, NDP, ICMPv6, TCP), connection
// lifecycle (listen, connect, SYN cookies, TIME_WAIT), timers and frame building. See endpoint.hpp
// for the contract.
#include "linetcp/engine/endpoint.hpp"

#include <algorithm>
#include <cstring>

#include "linetcp/wire/arp.hpp"
#include "linetcp/wire/checksum.hpp"
#include "linetcp/wire/icmp.hpp"
#include "linetcp/wire/icmpv6.hpp"
#include "linetcp/wire/tcp_header.hpp"
#include "linetcp/wire/tcp_options.hpp"
#include "linetcp/wire/vlan.hpp"

namespace linetcp::engine {

using base::Duration;
using base::Instant;
using tcp::SegmentIn;
using tcp::SegmentOut;
using tcp::SeqNum;
using tcp::State;

namespace {
// A TIME_WAIT record whose source port came from our allocator (an active open).
constexpr uint8_t kTwPortOwned = 1u << 7;
// How long after sending a cookie we still check ACKs against cookies.
constexpr Duration kCookieWindow = Duration::seconds(128);
// How often connections waiting for address resolution try again.
constexpr Duration kArpRetry = Duration::seconds(1);
// Segments one connection may emit before the next ready connection gets its turn.
constexpr int kBurstPerConnection = 16;

}  // namespace

tcp::TupleKey Endpoint::key_of(const FourTuple& t) const {
  // IPv6: the ISN and the cookie must depend on the addresses themselves, not on the table slots
  // (a slot is reused for another peer, and a cookie's ACK may find none), so fold them.
  if (LINETCP_UNLIKELY(engine::is_ipv6(t)))
    return tcp::TupleKey{local6_[t.local_ip].addr.fold(), remote6(t.remote_ip).fold() ^ 0x6u, t.local_port,
                         t.remote_port};
  return tcp::TupleKey{t.local_ip, t.remote_ip, t.local_port, t.remote_port};
}

Endpoint::Endpoint(const EndpointConfig& config, Instant now)
    : config_(config),
      prefix_{config.address, config.prefix_length},
      l2_len_(config.vlan != 0 && !config.vlan_tx_offload ? wire::kEthHeaderLen + 4 : wire::kEthHeaderLen),
      tcp_frame4_(config.mac, l2_len_ == wire::kEthHeaderLen ? uint16_t{0} : config.vlan, wire::kIpProtoTcp,
                  config.ttl, config.tos, true),
      ooo_(config.ooo_chunks),
      records_(config.max_connections),
      tcbs_(config.full_state_connections != 0 ? std::min(config.full_state_connections, config.max_connections)
                                           : config.max_connections),
      parking_(tcbs_.capacity() < records_.capacity()),
      now_(now),
      index_(config.max_connections + config.time_wait_capacity, &Endpoint::index_key, this,
             engine::TupleHashKey{config.secret[0] * 0xD6E8FEB86659FD93ull ^ config.secret[1],
                                  config.secret[1] * 0xA0761D6478BD642Full + config.secret[0]}),
      wheel_(now),
      time_wait_(config.time_wait_capacity),
      neighbors_(config.neighbor_capacity, config.arp_timeout),
      neighbors6_(config.addresses6.empty() ? 16 : config.neighbor_capacity, config.arp_timeout),
      peers_(config.addresses6.empty() ? 0
             : config.ipv6_peers != 0 ? config.ipv6_peers
                                      : config.max_connections + config.time_wait_capacity),
      isn_(config.secret),
      cookies_({config.secret[1] ^ 0x5bd1e995ull, config.secret[0] + 0x27d4eb2full}),
      listeners_(std::make_unique<uint8_t[]>(65536)),
      control_buf_(std::make_unique_for_overwrite<uint8_t[]>(std::size_t{kControlSlots} * kControlFrameBytes)) {
  config_.tcp.mss = static_cast<uint16_t>(std::min<uint32_t>(config_.tcp.mss, config_.mtu - 40u));
  const bool range = !config.source_first.is_unspecified() && config.source_last >= config.source_first;
  source_first_ = range ? config.source_first.value : config.address.value;
  source_span_ = range ? config.source_last.value - config.source_first.value : 0;
  for (uint32_t i = 0; i <= source_span_; ++i)
    ports_.push_back(std::make_unique<PortAllocator>(config.ephemeral_first, config.ephemeral_last, i + 1));
  config_.tcp.time_wait = config_.time_wait;
  for (const wire::Ipv4Prefix& p : config.addresses) {
    if (p.addr == config.address || p.addr.value - source_first_ <= source_span_) continue;  // already ours
    extra4_.push_back(Local4{p, std::make_unique<PortAllocator>(config.ephemeral_first, config.ephemeral_last,
                                                                static_cast<uint32_t>(1000 + extra4_.size()))});
  }
  if (!config.addresses6.empty()) {
    // Index 0 is the link-local address: NDP with routers and link-local peers needs one.
    const wire::Ipv6Addr ll = wire::Ipv6Addr::link_local_from_mac(config.mac);
    local6_.push_back(Local6{ll, wire::Ipv6Prefix{ll, 64}, nullptr});
    for (const wire::Ipv6Prefix& p : config.addresses6)
      if (p.addr != ll) local6_.push_back(Local6{p.addr, p, nullptr});
    for (Local6& l : local6_)
      l.ports = std::make_unique<PortAllocator>(config.ephemeral_first, config.ephemeral_last,
                                                static_cast<uint32_t>(ports_.size() + (&l - local6_.data()) + 1));
    // Stable: of equal addresses the first index is found, as a scan would.
    for (uint32_t i = 0; i < local6_.size(); ++i) local6_sorted_.push_back(i);
    std::stable_sort(local6_sorted_.begin(), local6_sorted_.end(),
                     [&](uint32_t a, uint32_t b) { return local6_[a].addr < local6_[b].addr; });
    for (const Local6& l : local6_) {
      bool known = false;
      for (const wire::Ipv6Prefix& p : onlink6_) known = known || (p.length == l.prefix.length && p.contains(l.addr));
      if (!known) onlink6_.push_back(l.prefix);
    }
  }
  if (!config.gateway_mac.is_zero() && !config.gateway.is_unspecified())
    neighbors_.set_static(config.gateway, config.gateway_mac);
  if (!config.gateway6_mac.is_zero() && !config.gateway6.is_unspecified())
    neighbors6_.set_static(config.gateway6, config.gateway6_mac);
  // Longest prefix first, so that next_hop() takes the first match.
  std::stable_sort(config_.routes.begin(), config_.routes.end(),
                   [](const Route4& a, const Route4& b) { return a.to.length > b.to.length; });
  std::stable_sort(config_.routes6.begin(), config_.routes6.end(),
                   [](const Route6& a, const Route6& b) { return a.to.length > b.to.length; });
}

std::size_t Endpoint::write_l2(uint8_t* p, const wire::MacAddr& dst, uint16_t ether_type) const {
  if (l2_len_ == wire::kEthHeaderLen) {
    wire::write_ethernet(p, dst, config_.mac, ether_type);
    return wire::kEthHeaderLen;
  }
  wire::write_ethernet(p, dst, config_.mac, wire::kEtherTypeVlan);  // 802.1Q tag in software
  wire::write_vlan_tag(p + wire::kEthHeaderLen, config_.vlan, ether_type);  // PCP 0, DEI 0
  return l2_len_;
}

int Endpoint::local6_index(const wire::Ipv6Addr& a) const {
  const auto it = std::lower_bound(local6_sorted_.begin(), local6_sorted_.end(), a,
                                   [&](uint32_t i, const wire::Ipv6Addr& x) { return local6_[i].addr < x; });
  return it != local6_sorted_.end() && local6_[*it].addr == a ? static_cast<int>(*it) : -1;
}

Endpoint::~Endpoint() {
  // Return out-of-order chunks; nothing else is owned outside the fixed arrays.
  tcp::TcpContext cx = ctx();
  for (uint32_t slot = 0; slot < tcbs_.capacity(); ++slot)
    if (tcbs_.in_use(slot)) tcbs_[slot].tcp.release_resources(cx);
}

// ---------------------------------------------------------------------------------------------
// Sockets

uint8_t Endpoint::app_slot(App& app, const tcp::TcpParams* params) {
  if (!params) params = &config_.tcp;
  for (std::size_t i = 0; i < apps_.size(); ++i)
    if (apps_[i].app == &app && apps_[i].params == params) return static_cast<uint8_t>(i);
  if (apps_.size() >= 255) return 255;  // callers treat 255 as "no room"
  auto p6 = std::make_unique<tcp::TcpParams>(*params);
  p6->mss = static_cast<uint16_t>(std::min<uint32_t>(p6->mss, config_.mtu - 60u));  // IPv6 + TCP headers
  p6->default_send_mss = 1220;  // MUST-15: IPv6 minimum MTU 1280 less 60
  apps_.push_back({&app, params, std::move(p6)});
  return static_cast<uint8_t>(apps_.size() - 1);
}

bool Endpoint::listen(uint16_t port, App& app, const tcp::TcpParams* params) {
  if (port == 0 || listeners_[port] != 0) return false;
  const uint8_t slot = app_slot(app, params);
  if (slot == 255) return false;
  listeners_[port] = static_cast<uint8_t>(slot + 1);
  return true;
}

void Endpoint::unlisten(uint16_t port) { listeners_[port] = 0; }

bool Endpoint::hold_peer(FourTuple& t) {
  if (t.remote_ip != kPendingPeer) {
    peers_.add_ref(t.remote_ip);
    return true;
  }
  const uint32_t slot = peers_.acquire(input_src6_);
  if (slot == Ipv6PeerTable::kNone) {
    ++counters_.ipv6_peers_full;
    return false;
  }
  t.remote_ip = slot;
  return true;
}

ConnId Endpoint::new_connection(FourTuple t, uint8_t app, Instant now) {
  const ConnId id = records_.alloc();
  if (id == kInvalidConn) {
    ++counters_.conn_table_full;
    return kInvalidConn;
  }
  const uint32_t slot = take_tcb(now);
  if (slot == kInvalidConn) {
    ++counters_.tcb_pool_full;  // the SYN is dropped (the peer retries) or connect() refused
    records_.free(id);
    return kInvalidConn;
  }
  // An IPv6 connection holds a reference on its remote address (released with its tuple).
  if (LINETCP_UNLIKELY(engine::is_ipv6(t)) && !hold_peer(t)) {
    tcbs_.free(slot);
    records_.free(id);
    return kInvalidConn;
  }
  ConnRecord& r = records_[id];
  r.tuple = t;  // before the insert: the index finds entries through it
  if (!index_.insert(t, id)) {
    release_peer(t);
    tcbs_.free(slot);
    records_.free(id);
    ++counters_.conn_table_full;
    return kInvalidConn;
  }
  r.tcb = slot;
  r.app = app;
  r.flags &= kQueued;  // a freed record may still be on the waiting list: it stays there, skipped
  r.deferred_send_lo = r.deferred_send_hi = 0;
  Conn& c = bind_tcb(id, slot);
  c.opened = c.active = false;
  return id;
}

Endpoint::Conn& Endpoint::bind_tcb(ConnId id, uint32_t slot) {
  const ConnRecord& r = records_[id];
  Conn& c = tcbs_[slot];
  c.tuple = r.tuple;
  c.app = r.app;
  c.embryonic = c.waiting_arp = false;
  c.armed_for = Instant::never();
  c.timer.owner = id;
  return c;
}

uint32_t Endpoint::take_tcb(Instant now) {
  const uint32_t slot = tcbs_.alloc();
  if (LINETCP_LIKELY(slot != kInvalidConn)) return slot;
  // Park the connection idle the longest. Entries that went busy again since they were listed,
  // and the connection whose event is being handled, are skipped (and unlisted: settle() lists
  // them again when they next go idle).
  while (Conn* c = idle_.pop_front()) {
    if (c->timer.owner == current_ || c->ready_link.linked() || c->waiting_arp || !c->tcp.parkable()) continue;
    park(*c, now);
    return tcbs_.alloc();
  }
  return kInvalidConn;
}

void Endpoint::park(Conn& c, Instant now) {
  const ConnId id = c.timer.owner;
  ConnRecord& r = records_[id];
  c.tcp.park(r.parked, now);
  r.flags = static_cast<uint8_t>((r.flags & ~kActive) | kParked | (c.active ? kActive : 0));
  if (c.timer.armed()) wheel_.cancel(c.timer);  // a lazily left timer: nothing is due
  if (c.idle_link.linked()) idle_.remove(c);
  tcbs_.free(r.tcb);
  ++counters_.connections_parked;
}

Endpoint::Conn* Endpoint::expand(ConnId id, Instant now) {
  ConnRecord& r = records_[id];
  if (LINETCP_LIKELY(!(r.flags & kParked))) return &tcbs_[r.tcb];
  const uint32_t slot = take_tcb(now);
  if (slot == kInvalidConn) return nullptr;
  Conn& c = bind_tcb(id, slot);
  c.active = (r.flags & kActive) != 0;
  c.opened = true;  // only ESTABLISHED connections park
  c.tcp.unpark(params_for(r.app, r.tuple), r.parked, now);
  r.tcb = slot;
  r.flags &= static_cast<uint8_t>(~kParked);
  ++counters_.connections_unparked;
  if (r.flags & kWaiting) replay_deferred(id, c);
  return &c;
}

Endpoint::Conn* Endpoint::expand_for_app(ConnId id) {
  if (id == current_) return current_conn_;  // a call from inside the connection's own event
  ConnRecord& r = records_[id];
  if (LINETCP_LIKELY(!(r.flags & kParked))) return &tcbs_[r.tcb];
  // Calls made while the record waits join what it already waits with, in order.
  if (!(r.flags & kWaiting))
    if (Conn* c = expand(id, now_)) return c;
  ++counters_.app_calls_deferred;
  if (!(r.flags & kQueued)) {
    r.wait_next = kNoRecord;
    if (waiting_tail_ != kNoRecord) records_[waiting_tail_].wait_next = id;
    else waiting_head_ = id;
    waiting_tail_ = id;
  }
  r.flags |= kQueued | kWaiting;
  return nullptr;
}

void Endpoint::replay_deferred(ConnId id, Conn& c) {
  // The calls in the order that gives the same result as making them at once: data, the
  // urgent mark, keep-alive, then the FIN (send() after close() was already dropped).
  ConnRecord& r = records_[id];
  const uint8_t f = r.flags;
  r.flags = static_cast<uint8_t>(f & (kQueued | kActive));
  const uint64_t bytes = uint64_t{r.deferred_send_hi} << 32 | r.deferred_send_lo;
  r.deferred_send_lo = r.deferred_send_hi = 0;
  if (bytes) c.tcp.send(bytes);
  if (f & kDeferUrgent) c.tcp.send_urgent();
  if (f & kDeferKeepalive) c.tcp.set_keepalive(true, now_);
  if (f & kDeferClose) c.tcp.close(*this);  // parked connections are ESTABLISHED: a FIN
  if (f & kDeferAbort) {
    abort(id);
    return;
  }
  settle(c, now_);
}

void Endpoint::serve_waiting() {
  // Oldest first; a record freed or expanded since it queued is skipped.
  while (waiting_head_ != kNoRecord) {
    const ConnId id = waiting_head_;
    ConnRecord& r = records_[id];
    const bool waits = records_.in_use(id) && (r.flags & kWaiting) && (r.flags & kParked);
    if (waits && !expand(id, now_)) return;
    waiting_head_ = r.wait_next;
    if (waiting_head_ == kNoRecord) waiting_tail_ = kNoRecord;
    r.flags &= static_cast<uint8_t>(~kQueued);
  }
}

ConnId Endpoint::connect(wire::Ipv4Addr remote, uint16_t remote_port, App& app, Instant now,
                         const tcp::TcpParams* params, uint16_t local_port, wire::Ipv4Addr local) {
  // MUST-43: a local address given must be one of our source addresses.
  if (!local.is_unspecified() && local.value - source_first_ > source_span_ && extra4_index(local) < 0)
    return kInvalidConn;
  // MUST-46: no connections to broadcast or multicast addresses.
  if (remote.is_multicast() || remote.is_broadcast() || remote.is_unspecified() ||
      remote == prefix_.directed_broadcast() || remote_port == 0)
    return kInvalidConn;
  // A peer on one of the other subnets is reached from our address there.
  if (LINETCP_UNLIKELY(!extra4_.empty()) && local.is_unspecified() && !prefix_.contains(remote)) {
    const int e = extra4_subnet(remote);
    if (e >= 0) {
      if (remote == extra4_[e].prefix.directed_broadcast() || is_local(remote)) return kInvalidConn;
      local = extra4_[e].prefix.addr;
    }
  }
  const FourTuple t{local.is_unspecified() ? source_first_ : local.value, remote.value, local_port, remote_port};
  return connect_tuple(t, local.is_unspecified(), source_first_, source_span_ + 1, app, now, params);
}

ConnId Endpoint::connect(const wire::Ipv6Addr& remote, uint16_t remote_port, App& app, Instant now,
                         const tcp::TcpParams* params, uint16_t local_port, const wire::Ipv6Addr& local) {
  if (local6_.empty() || remote.is_multicast() || remote.is_unspecified() || remote.is_v4_mapped() ||
      remote.is_loopback() || local6_index(remote) >= 0 || remote_port == 0)
    return kInvalidConn;  // MUST-46, and no IPv6 configured
  int li = 0;
  if (!local.is_unspecified()) {
    li = local6_index(local);
    if (li < 0) return kInvalidConn;  // MUST-43
  }
  // A link-local peer is reached from the link-local address (index 0) only; others from the
  // global addresses in turn (or the link-local one when no other is configured).
  const bool link_local = remote.is_link_local();
  const uint32_t first = link_local || local6_.size() == 1 ? 0 : 1;
  const uint32_t count = link_local || local6_.size() == 1 ? 1 : static_cast<uint32_t>(local6_.size() - 1);
  const uint32_t peer = peers_.find(remote);
  FourTuple t{static_cast<uint32_t>(li), peer == Ipv6PeerTable::kNone ? kPendingPeer : peer, local_port, remote_port};
  if (local.is_unspecified()) t.local_ip = next_source(true, first, count);
  // An application may connect from inside a callback of input(): keep the input's source.
  const wire::Ipv6Addr saved = input_src6_;
  input_src6_ = remote;  // kPendingPeer stands for it until the connection interns it
  const ConnId id = connect_tuple(t, local.is_unspecified() && count > 1, first, count, app, now, params);
  input_src6_ = saved;
  return id;
}

ConnId Endpoint::connect_tuple(FourTuple t, bool any_local, uint32_t first, uint32_t choices, App& app,
                               Instant now, const tcp::TcpParams* params) {
  const bool v6 = engine::is_ipv6(t);
  const uint8_t slot = app_slot(app, params);
  if (slot == 255) return kInvalidConn;
  bool owned = false;
  if (t.local_port == 0) {
    // Source addresses in turn; on each, a port whose tuple to this peer is free (not in use, not
    // in TIME_WAIT) and, with RSS, whose replies come back to this worker. (IPv6 tuples hold
    // table indices, which an RSS hash cannot use: their ports are not filtered.)
    if (!any_local) choices = 1;
    uint32_t& next = v6 ? next_source6_ : next_source_;
    for (uint32_t tried = 0; tried < choices && t.local_port == 0; ++tried) {
      if (any_local) {  // round robin without a modulo: next stays below choices
        t.local_ip = next_source(v6, first, choices);
        next = t.local_ip - first + 1;
        if (next == choices) next = 0;
      }
      t.local_port = ports_of(t).acquire_if(
        [&](uint16_t p) {
          FourTuple probe = t;
          probe.local_port = p;
          // A peer not yet interned has no connection or TIME_WAIT record: every port is free.
          if (probe.remote_ip == kPendingPeer) return true;
          return index_.find(probe) == kInvalidConn &&
                 (v6 || !port_filter_ || port_filter_(port_filter_ctx_, probe));
        },
        64);  // with a filter that keeps 1 in N ports, 64 tries fail once in e^(64/N)
    }
    if (t.local_port == 0) {
      ++counters_.ports_exhausted;
      return kInvalidConn;
    }
    owned = true;
  } else if (t.remote_ip != kPendingPeer && index_.find(t) != kInvalidConn) {
    return kInvalidConn;
  }
  const tcp::SeqNum iss = isn_.isn(key_of(t), now);
  const ConnId id = new_connection(t, slot, now);
  if (id == kInvalidConn) {
    if (owned) ports_of(t).release(t.local_port);
    return kInvalidConn;
  }
  Conn& c = tcb(id);
  c.active = owned;
  c.tcp.open_active(params_for(slot, c.tuple), iss, now);
  ++counters_.connections_opened;
  if (v6) ++counters_.connections_opened_ipv6;
  settle(id, now);
  if (owned) prefetch_next_connect(t, any_local, first, choices);
  return id;
}

void Endpoint::prefetch_next_connect(FourTuple t, bool any_local, uint32_t first, uint32_t choices) {
  // A load client connects again soon, most likely to the same peer from the next source address,
  // and probes the port at the front of that address's free ring first. That tuple is new, so its
  // index bucket is cold: a cache miss per connection, the largest single cost of connect() at
  // high rates. Start loading it (and the port's ring position) now; a wrong guess costs two
  // prefetches.
  if (t.remote_ip == kPendingPeer) return;
  if (any_local) t.local_ip = next_source(engine::is_ipv6(t), first, choices);
  PortAllocator& ports = ports_of(t);
  t.local_port = ports.peek();
  if (t.local_port == 0) return;
  index_.prefetch(t);
  ports.prefetch(t.local_port);
}

void Endpoint::send(ConnId id, uint64_t bytes) {
  Conn* c = expand_for_app(id);
  if (LINETCP_UNLIKELY(!c)) {
    ConnRecord& r = records_[id];
    if (r.flags & kDeferClose) return;  // nothing may follow the FIN
    const uint64_t total = (uint64_t{r.deferred_send_hi} << 32 | r.deferred_send_lo) + bytes;
    r.deferred_send_lo = static_cast<uint32_t>(total);
    r.deferred_send_hi = static_cast<uint32_t>(total >> 32);
    return;
  }
  c->tcp.send(bytes);
  if (!c->ready_link.linked()) ready_.push_back(*c);
}

void Endpoint::send_urgent(ConnId id) {
  Conn* c = expand_for_app(id);
  if (LINETCP_UNLIKELY(!c)) {
    records_[id].flags |= kDeferUrgent;
    return;
  }
  c->tcp.send_urgent();
  if (!c->ready_link.linked()) ready_.push_back(*c);
}

void Endpoint::close(ConnId id) {
  Conn* c = expand_for_app(id);
  if (LINETCP_UNLIKELY(!c)) {
    records_[id].flags |= kDeferClose;
    return;
  }
  {
    const CurrentScope scope(*this, id, *c);  // in SYN-SENT, close() reports the end at once
    c->tcp.close(*this);
  }
  // The FIN goes out at the next poll; a connection deleted in SYN-SENT is freed there.
  if (!c->ready_link.linked()) ready_.push_back(*c);
}

void Endpoint::abort(ConnId id) {
  Conn* cp = expand_for_app(id);
  if (LINETCP_UNLIKELY(!cp)) {
    records_[id].flags |= kDeferAbort;
    return;
  }
  Conn& c = *cp;
  {
    const CurrentScope scope(*this, id, c);
    tcp::TcpContext cx = ctx();
    c.tcp.abort(cx, *this);
  }
  // The RST (if any) goes out at the next poll; the slot is freed after it.
  if (!c.ready_link.linked()) ready_.push_back(c);
}

// A parked connection holds no received data (parkable() wants none held), and a window it
// offered stays offered: hold() and release() have nothing to change until it is back.
void Endpoint::hold(ConnId id, uint32_t bytes) {
  if (!parked(id)) tcb(id).tcp.hold(bytes);
}

void Endpoint::release(ConnId id, uint32_t bytes) {
  if (parked(id)) return;
  Conn& c = tcb(id);
  c.tcp.release(bytes);
  if (c.tcp.wants_output() && !c.ready_link.linked()) ready_.push_back(c);
}

void Endpoint::set_nodelay(ConnId id, bool on) {
  if (parked(id)) {
    records_[id].parked.set_nodelay(on);
    return;
  }
  tcb(id).tcp.set_nodelay(on);
}

void Endpoint::set_keepalive(ConnId id, bool on, Instant now) {
  if (parked(id) && !on) {  // parked connections have it off
    records_[id].flags &= static_cast<uint8_t>(~kDeferKeepalive);
    return;
  }
  now_ = std::max(now_, now);
  Conn* c = expand_for_app(id);
  if (!c) {
    records_[id].flags |= kDeferKeepalive;
    return;
  }
  c->tcp.set_keepalive(on, now);
  settle(*c, now);
}

void Endpoint::set_user_timeout(ConnId id, Duration timeout) {
  if (parked(id)) {
    records_[id].parked.set_user_timeout(timeout);
    return;
  }
  tcb(id).tcp.set_user_timeout(timeout);
}

// ---------------------------------------------------------------------------------------------
// ConnSink: events of the connection `current_`, forwarded to its application.

void Endpoint::on_established() {
  Conn& c = *current_conn_;
  if (c.embryonic) {
    c.embryonic = false;
    --syn_received_;
  }
  // Passive opens count as accepted whether they came through SYN-RECEIVED or a SYN cookie
  // (a cookie connection is never embryonic).
  if (c.tcp.passive()) {
    ++counters_.connections_accepted;
    if (engine::is_ipv6(c.tuple)) ++counters_.connections_accepted_ipv6;
  } else ++counters_.connections_established;
  c.opened = true;
  apps_[c.app].app->on_open(*this, current_);
}

void Endpoint::on_data(std::span<const uint8_t> data) {
  apps_[current_conn_->app].app->on_data(*this, current_, data);
}

void Endpoint::on_urgent(uint64_t urgent_end) {
  apps_[current_conn_->app].app->on_urgent(*this, current_, urgent_end);
}

void Endpoint::on_acked(uint64_t acked_until) {
  apps_[current_conn_->app].app->on_acked(*this, current_, acked_until);
}

void Endpoint::on_peer_fin() { apps_[current_conn_->app].app->on_peer_closed(*this, current_); }

void Endpoint::on_closed(tcp::CloseReason reason) {
  Conn& c = *current_conn_;
  if (c.embryonic) {
    c.embryonic = false;
    --syn_received_;
  }
  if (reason == tcp::CloseReason::kReset || reason == tcp::CloseReason::kRefused) ++counters_.connections_reset;
  if (reason == tcp::CloseReason::kTimeout || reason == tcp::CloseReason::kKeepaliveTimeout)
    ++counters_.connections_timed_out;
  if (!c.opened && c.active) ++counters_.connections_failed;
  if (!c.opened && !c.active) ++counters_.syn_received_closed;
  // MUST-12: the application hears of every connection it knew about, however it ended.
  if (c.opened || c.active) apps_[c.app].app->on_closed(*this, current_, reason);
  c.opened = false;
}

// ---------------------------------------------------------------------------------------------
// Connection lifecycle

void Endpoint::settle(Conn& c, Instant now, bool requeue) {
  const ConnId id = c.timer.owner;
  tcp::TcpConnection& tc = c.tcp;
  if (tc.is_closed() && !tc.wants_output()) {
    free_connection(id);
    return;
  }
  if (tc.time_wait_ready() && !time_wait_.full()) {
    to_time_wait(id, now);
    return;
  }
  if (requeue && tc.wants_output() && !c.ready_link.linked()) ready_.push_back(c);
  // Lazy re-arm: only when the deadline moved earlier. A timer left armed for a deadline that
  // went away fires, finds nothing due, and is not re-armed: cheaper than cancelling, since
  // most deadlines come back (the next segment restarts the RTO).
  const Instant deadline = tc.next_deadline();
  if (deadline.is_never()) {
    // Idle: a candidate to give its full state up when another connection needs one.
    if (parking_ && !c.idle_link.linked() && tc.parkable()) idle_.push_back(c);
    return;
  }
  if (LINETCP_UNLIKELY(c.idle_link.linked())) idle_.remove(c);
  if (!c.timer.armed() || deadline < c.armed_for) {
    wheel_.catch_up(now);  // after an idle spell, so a short timer is not placed coarsely
    wheel_.schedule(c.timer, deadline);
    c.armed_for = deadline;
  }
}

void Endpoint::free_connection(ConnId id, bool erase_index) {
  Conn& c = tcb(id);
  if (c.waiting_arp) arp_wait_.remove(c);
  else ready_.remove(c);
  if (c.idle_link.linked()) idle_.remove(c);
  c.waiting_arp = false;
  if (c.timer.armed()) wheel_.cancel(c.timer);
  tcp::TcpContext cx = ctx();
  c.tcp.release_resources(cx);
  if (erase_index) {  // otherwise a TIME_WAIT record took over the tuple and its peer reference
    index_.erase(c.tuple);
    release_peer(c.tuple);
  }
  if (c.active) ports_of(c.tuple).release(c.tuple.local_port);
  if (c.embryonic) --syn_received_;
  c.embryonic = false;
  tcbs_.free(records_[id].tcb);
  records_.free(id);
  ++counters_.connections_closed;
}

void Endpoint::to_time_wait(ConnId id, Instant now) {
  Conn& c = tcb(id);
  const tcp::TcpConnection& tc = c.tcp;
  TimeWaitRecord r;
  r.tuple = c.tuple;
  r.snd_nxt = tc.snd_nxt().raw();
  r.rcv_nxt = tc.rcv_nxt().raw();
  r.ts_recent = tc.ts_recent();
  r.flags = TimeWaitRecord::kLive | (tc.timestamps_on() ? TimeWaitRecord::kTimestamps : 0) |
            (c.active ? kTwPortOwned : 0);
  r.rcv_wnd = static_cast<uint16_t>(std::min<uint32_t>(tc.rcv_wnd() >> tc.rcv_window_shift(), 65535));
  r.rcv_wscale = tc.rcv_window_shift();
  const uint32_t handle = time_wait_.push(r, now + config_.time_wait);
  if (handle == kInvalidConn) {
    ++counters_.time_wait_full;  // keep the full connection; its own timer ends TIME_WAIT
    return;
  }
  // The record takes over the tuple; the port stays taken until the record expires.
  index_.erase(c.tuple);
  index_.insert(c.tuple, handle | kTimeWaitBit);
  c.active = false;
  free_connection(id, false);
}

void Endpoint::fire_timer(ConnId id, Instant now) {
  Conn& c = tcb(id);
  c.armed_for = Instant::never();
  {
    const CurrentScope scope(*this, id, c);
    tcp::TcpContext cx = ctx();
    c.tcp.on_timer(now, cx, *this);
  }
  settle(id, now);
}

void Endpoint::advance(Instant now) {
  now_ = now;
  wheel_.advance(now, [&](TimerNode& n) { fire_timer(n.owner, now); });
  if (!arp_wait_.empty() && now >= arp_retry_at_) {
    // Connections parked for address resolution try again: poll_output() looks the neighbour up
    // and sends a (rate-limited) ARP request. Their own timers cannot do it: a SYN that never
    // left has no retransmission timer yet.
    while (Conn* c = arp_wait_.pop_front()) {
      c->waiting_arp = false;
      ready_.push_back(*c);
    }
    arp_retry_at_ = Instant::never();
  }
  time_wait_.expire(now, [&](TimeWaitRecord& r) { release_time_wait(r); },
                    [&](const TimeWaitRecord& r) {
                      index_.prefetch(r.tuple);
                      if (r.flags & kTwPortOwned) ports_of(r.tuple).prefetch(r.tuple.local_port);
                    });
}

Instant Endpoint::next_deadline() const {
  const Instant arp = arp_wait_.empty() ? Instant::never() : arp_retry_at_;
  return base::min(base::min(wheel_.next_expiry(), time_wait_.next_expiry()), arp);
}

uint32_t Endpoint::ports_available() const {
  uint32_t n = 0;
  for (const auto& p : ports_) n += p->available();
  return n;
}

std::array<uint32_t, 11> Endpoint::state_histogram() const {
  std::array<uint32_t, 11> h{};
  for (ConnId id = 0; id < records_.capacity(); ++id)
    if (records_.in_use(id)) ++h[static_cast<std::size_t>(parked(id) ? State::kEstablished : connection(id).state())];
  h[static_cast<std::size_t>(State::kTimeWait)] += time_wait_.size();
  return h;
}


std::size_t Endpoint::memory_bytes() const {
  return records_.memory_bytes() + tcbs_.memory_bytes() + index_.memory_bytes() + time_wait_.memory_bytes() + peers_.memory_bytes() +
         std::size_t{ooo_.capacity()} * sizeof(tcp::ChunkPool::Chunk);
}

Endpoint::MemoryPerEntry Endpoint::memory_per_entry() const {
  MemoryPerEntry m;
  // The remote IPv6 address table is sized like the index (one slot per connection or TIME_WAIT
  // record, none without IPv6), so its share goes with the index's.
  m.index_entry = static_cast<double>(index_.memory_bytes() + peers_.memory_bytes()) / index_.capacity();
  const double per_record = static_cast<double>(records_.memory_bytes()) / records_.capacity();
  const double per_tcb = static_cast<double>(tcbs_.memory_bytes()) / tcbs_.capacity();
  m.idle_connection = per_record + m.index_entry;
  m.full_state_connection = per_record + per_tcb + m.index_entry;
  m.connection = static_cast<double>(records_.memory_bytes() + tcbs_.memory_bytes()) / records_.capacity() +
                 m.index_entry;
  m.time_wait = static_cast<double>(time_wait_.memory_bytes()) / time_wait_.capacity() + m.index_entry;
  m.conn_object = sizeof(Conn);
  m.conn_record = sizeof(ConnRecord);
  m.tcp_connection = sizeof(tcp::TcpConnection);
  m.time_wait_record = sizeof(TimeWaitRecord);
  return m;
}

// ---------------------------------------------------------------------------------------------
// Input

void Endpoint::input(std::span<const uint8_t> frame, Instant now) {
  now_ = now;
  ++counters_.frames_in;
  const auto eth = wire::EthernetView::parse(frame);
  if (!eth) {
    ++counters_.eth_too_short;
    return;
  }
  uint16_t type = eth->ether_type();
  std::span<const uint8_t> payload = eth->payload();
  if (LINETCP_UNLIKELY(type == wire::kEtherTypeVlan)) {
    // 802.1Q: our VLAN only (priority bits ignored). A port that strips tags in hardware hands
    // frames over untagged, having checked the id itself.
    const auto tag = wire::VlanView::parse(payload);
    if (!tag) {
      ++counters_.eth_too_short;
      return;
    }
    if (tag->vlan_id() != config_.vlan) {
      ++counters_.eth_vlan_other;
      return;
    }
    type = tag->inner_type();
    payload = tag->inner_payload();
  } else if (LINETCP_UNLIKELY(config_.vlan != 0 && !config_.vlan_rx_stripped)) {
    ++counters_.eth_vlan_other;  // untagged on a tagged link
    return;
  }
  const wire::MacAddr dst = eth->dst();
  reply_mac_ = eth->src();
  // Broadcast for ARP; IPv6 multicast (33:33:...) for NDP's solicited-node and all-nodes groups.
  if (dst != config_.mac && !dst.is_broadcast() && !(dst.bytes[0] == 0x33 && dst.bytes[1] == 0x33)) {
    ++counters_.eth_not_for_us;
    return;
  }
  switch (type) {
    case wire::kEtherTypeIpv4: handle_ipv4(payload, now); break;
    case wire::kEtherTypeArp: handle_arp(payload, now); break;
    case wire::kEtherTypeIpv6: handle_ipv6(payload, now); break;
    default: ++counters_.eth_unknown_type; break;
  }
}

void Endpoint::handle_arp(std::span<const uint8_t> payload, Instant now) {
  ++counters_.arp_in;
  const auto arp = wire::ArpView::parse(payload);
  if (!arp) {
    ++counters_.arp_bad;
    return;
  }
  const bool for_us = is_local(arp->target_ip());
  // RFC 826: update an existing entry from any ARP; add one only when the packet is for us.
  if (!arp->sender_ip().is_unspecified() && (for_us || neighbors_.known(arp->sender_ip()))) {
    if (neighbors_.learn(arp->sender_ip(), arp->sender_mac(), now)) {
      // Connections waiting for address resolution may go now.
      while (Conn* c = arp_wait_.pop_front()) {
        c->waiting_arp = false;
        ready_.push_back(*c);
      }
    }
    counters_.arp_table_full = neighbors_.full_drops();
  }
  if (for_us && arp->op() == wire::kArpRequest) {
    uint8_t* f = control_frame();
    if (!f) return;
    write_l2(f, arp->sender_mac(), wire::kEtherTypeArp);
    wire::write_arp(f + l2_len_, wire::kArpReply, config_.mac, arp->target_ip(),
                    arp->sender_mac(), arp->sender_ip());
    commit_control(l2_len_ + wire::kArpLen);
    ++counters_.arp_replies_out;
  }
}

void Endpoint::queue_arp_request(wire::Ipv4Addr target) {
  // Requests for waiting connections are retried anyway: they take at most half the ring, so
  // that answers to peers (RSTs, SYN cookies) find room even when thousands wait (a SYN flood
  // from spoofed sources that never answer ARP).
  if (control_count_ >= kControlSlots / 2) {
    ++counters_.control_queue_full;
    return;
  }
  uint8_t* f = control_frame();
  if (!f) return;
  write_l2(f, wire::MacAddr::broadcast(), wire::kEtherTypeArp);
  // From our address on the target's subnet (RFC 826 has the target learn it).
  const int e = extra4_.empty() || prefix_.contains(target) ? -1 : extra4_subnet(target);
  wire::write_arp(f + l2_len_, wire::kArpRequest, config_.mac, e >= 0 ? extra4_[e].prefix.addr : config_.address,
                  wire::MacAddr{}, target);
  commit_control(l2_len_ + wire::kArpLen);
  ++counters_.arp_requests_out;
}

void Endpoint::queue_neighbor_solicitation(const wire::Ipv6Addr& target) {
  uint8_t* f = control_frame();
  if (!f) return;
  // From the local address on the target's subnet (the link-local one for link-local targets and
  // as the fallback), to the target's solicited-node group (RFC 4861 §7.2.2).
  const wire::Ipv6Addr* src = &local6_[0].addr;
  if (!target.is_link_local())
    for (const Local6& l : local6_)
      if (l.prefix.contains(target)) src = &l.addr;
  const wire::Ipv6Addr group = target.solicited_node();
  wire::write_neighbor_solicitation(f + headers6(), target, config_.mac, *src, group);
  commit_icmp6(f, group.multicast_mac(), *src, group, wire::kNdMessageLen, wire::kNdHopLimit);
  ++counters_.ndp_solicitations_out;
}

void Endpoint::handle_ipv4(std::span<const uint8_t> packet, Instant now) {
  wire::Ipv4View ip;
  switch (wire::Ipv4View::parse(packet, ip, config_.verify_checksums)) {
    case wire::Ipv4Error::kOk: break;
    case wire::Ipv4Error::kBadChecksum: ++counters_.ipv4_bad_checksum; return;
    case wire::Ipv4Error::kFragment: ++counters_.ipv4_fragments; return;
    default: ++counters_.ipv4_bad_header; return;
  }
  // MUST-57: datagrams to broadcast/multicast addresses carry no TCP for us; we only accept
  // our unicast address.
  if (!is_local(ip.dst())) {
    ++counters_.ipv4_not_for_us;
    return;
  }
  // MUST-63: a source that cannot be a host.
  const wire::Ipv4Addr src = ip.src();
  if (src.is_multicast() || src.is_broadcast() || is_local(src) ||
      src == prefix_.directed_broadcast()) {
    ++counters_.ipv4_bad_source;
    return;
  }
  switch (ip.protocol()) {
    case wire::kIpProtoTcp: handle_tcp(ip, now); break;
    case wire::kIpProtoIcmp: handle_icmp(ip); break;
    default: ++counters_.ipv4_unknown_protocol; break;
  }
}

void Endpoint::handle_icmp(const wire::Ipv4View& ip) {
  ++counters_.icmp_in;
  const auto icmp = wire::IcmpView::parse(ip.payload(), config_.verify_checksums);
  if (!icmp) {
    ++counters_.icmp_bad;
    return;
  }
  switch (icmp->type()) {
    case wire::kIcmpEchoRequest: {
      const std::size_t icmp_len = ip.payload().size();
      if (headers4() + icmp_len > kControlFrameBytes) {
        ++counters_.icmp_bad;
        return;
      }
      uint8_t* f = control_frame();
      if (!f) return;
      write_l2(f, reply_mac_, wire::kEtherTypeIpv4);
      wire::write_ipv4_header(f + l2_len_, ip.dst(), ip.src(), wire::kIpProtoIcmp,
                              static_cast<uint16_t>(icmp_len), config_.ttl, 0, config_.tos);
      wire::write_icmp_echo_reply(f + headers4(), *icmp);
      commit_control(headers4() + icmp_len);
      ++counters_.icmp_echo_replies;
      return;
    }
    case wire::kIcmpSourceQuench: ++counters_.icmp_source_quench; return;  // MUST-55
    case wire::kIcmpDestUnreachable:
    case wire::kIcmpTimeExceeded:
    case wire::kIcmpParamProblem: ++counters_.icmp_errors_in; return;  // MUST-56: no abort
    default: return;
  }
}

void Endpoint::handle_tcp(const wire::Ipv4View& ip, Instant now) {
  const std::span<const uint8_t> bytes = ip.payload();
  wire::TcpHeaderView th;
  if (wire::TcpHeaderView::parse(bytes, th) != wire::TcpError::kOk) {
    ++counters_.tcp_bad_header;
    return;
  }
  // MUST-3: verify the checksum.
  if (config_.verify_checksums &&
      wire::verify_tcp_checksum_ipv4(ip.src().value, ip.dst().value, bytes) != wire::TcpError::kOk) {
    ++counters_.tcp_bad_checksum;
    return;
  }
  handle_segment(th, FourTuple{ip.dst().value, ip.src().value, th.dst_port(), th.src_port()}, now);
}

// ---------------------------------------------------------------------------------------------
// IPv6

void Endpoint::handle_ipv6(std::span<const uint8_t> packet, Instant now) {
  wire::Ipv6View ip;
  switch (wire::Ipv6View::parse(packet, ip)) {
    case wire::Ipv6Error::kOk: break;
    case wire::Ipv6Error::kFragment: ++counters_.ipv6_fragments; return;
    default: ++counters_.ipv6_bad_header; return;
  }
  if (local6_.empty()) {
    ++counters_.ipv6_not_for_us;
    return;
  }
  const wire::Ipv6Addr dst = ip.dst();
  const int local = local6_index(dst);
  if (local < 0) {
    // Multicast reaches us for NDP (solicited-node groups) and all-nodes: ICMPv6 only.
    if (dst.is_multicast() && ip.protocol() == wire::kIpProtoIcmpv6) {
      handle_icmp6(ip, now);
      return;
    }
    ++counters_.ipv6_not_for_us;
    return;
  }
  switch (ip.protocol()) {
    case wire::kIpProtoTcp: handle_tcp6(ip, local, now); break;
    case wire::kIpProtoIcmpv6: handle_icmp6(ip, now); break;
    default: ++counters_.ipv6_unknown_protocol; break;
  }
}

void Endpoint::commit_icmp6(uint8_t* f, const wire::MacAddr& dst_mac, const wire::Ipv6Addr& src,
                            const wire::Ipv6Addr& dst, std::size_t len, uint8_t hop_limit) {
  write_l2(f, dst_mac, wire::kEtherTypeIpv6);
  wire::write_ipv6_header(f + l2_len_, src, dst, wire::kIpProtoIcmpv6, static_cast<uint16_t>(len),
                          hop_limit, config_.tos);
  commit_control(headers6() + len);
}

void Endpoint::handle_icmp6(const wire::Ipv6View& ip, Instant now) {
  ++counters_.icmp6_in;
  const auto icmp = wire::Icmpv6View::parse(ip, config_.verify_checksums);
  if (!icmp) {
    ++counters_.icmp6_bad;
    return;
  }
  const wire::Ipv6Addr src = ip.src();
  switch (icmp->type()) {
    case wire::kIcmpv6EchoRequest: {
      const std::size_t len = icmp->message().size();
      const wire::Ipv6Addr dst = ip.dst();
      // No echo for multicast destinations (RFC 4443 §4.1 allows either; we answer unicast only).
      if (dst.is_multicast() || src.is_multicast() || src.is_unspecified() || headers6() + len > kControlFrameBytes) {
        ++counters_.icmp6_bad;
        return;
      }
      uint8_t* f = control_frame();
      if (!f) return;
      wire::write_icmpv6_echo_reply(f + headers6(), *icmp, dst, src);
      commit_icmp6(f, reply_mac_, dst, src, len, config_.ttl);
      ++counters_.icmp6_echo_replies;
      return;
    }
    case wire::kIcmpv6NeighborSolicitation:
    case wire::kIcmpv6NeighborAdvertisement: {
      const auto nd = wire::NdView::parse(*icmp);
      // RFC 4861 §7.1: hop limit 255 proves the message was not forwarded.
      if (!nd || ip.hop_limit() != wire::kNdHopLimit) {
        ++counters_.ndp_bad;
        return;
      }
      const wire::Ipv6Addr target = nd->target();
      if (icmp->type() == wire::kIcmpv6NeighborSolicitation) {
        const int t = local6_index(target);
        if (t < 0) return;  // for another host on the link
        // §7.1.1: from "::" (duplicate address detection) there is no source link-layer option;
        // we answer to all-nodes, unsolicited. Otherwise learn the sender and answer it.
        const bool dad = src.is_unspecified();
        if (dad && (nd->link_addr() || !ip.dst().is_multicast())) {
          ++counters_.ndp_bad;
          return;
        }
        if (!dad && nd->link_addr()) {
          if (neighbors6_.learn(src, *nd->link_addr(), now)) {
            while (Conn* c = arp_wait_.pop_front()) {
              c->waiting_arp = false;
              ready_.push_back(*c);
            }
          }
          counters_.ndp_table_full = neighbors6_.full_drops();
        }
        uint8_t* f = control_frame();
        if (!f) return;
        const wire::Ipv6Addr to = dad ? wire::kIpv6AllNodes : src;
        const wire::MacAddr to_mac = dad                ? wire::kIpv6AllNodes.multicast_mac()
                                     : nd->link_addr() ? *nd->link_addr()
                                                       : reply_mac_;
        wire::write_neighbor_advertisement(f + headers6(), target, config_.mac, !dad, target, to);
        commit_icmp6(f, to_mac, target, to, wire::kNdMessageLen, wire::kNdHopLimit);
        ++counters_.ndp_advertisements_out;
        return;
      }
      // §7.1.2: a solicited advertisement must not go to a multicast address.
      if (nd->solicited() && ip.dst().is_multicast()) {
        ++counters_.ndp_bad;
        return;
      }
      // §7.2.5: update an entry we have; an unsolicited one for a stranger creates nothing.
      if (nd->link_addr() && neighbors6_.known(target)) {
        if (neighbors6_.learn(target, *nd->link_addr(), now)) {
          while (Conn* c = arp_wait_.pop_front()) {
            c->waiting_arp = false;
            ready_.push_back(*c);
          }
        }
        counters_.ndp_table_full = neighbors6_.full_drops();
      }
      return;
    }
    case wire::kIcmpv6DestUnreachable:
    case wire::kIcmpv6PacketTooBig:
    case wire::kIcmpv6TimeExceeded:
    case wire::kIcmpv6ParamProblem: ++counters_.icmp6_errors_in; return;  // MUST-56: no abort
    default: return;  // router advertisements, MLD, ...: not ours to act on
  }
}

void Endpoint::handle_tcp6(const wire::Ipv6View& ip, int local, Instant now) {
  const std::span<const uint8_t> bytes = ip.payload();
  wire::TcpHeaderView th;
  if (wire::TcpHeaderView::parse(bytes, th) != wire::TcpError::kOk) {
    ++counters_.tcp_bad_header;
    return;
  }
  // MUST-3, with the IPv6 pseudo header.
  if (config_.verify_checksums &&
      wire::upper_checksum_ipv6(ip.src_bytes(), ip.dst_bytes(), wire::kIpProtoTcp, bytes) != 0) {
    ++counters_.tcp_bad_checksum;
    return;
  }
  // MUST-63 for IPv6: no connections with multicast, unspecified or our own source addresses.
  input_src6_ = ip.src();
  if (input_src6_.is_multicast() || input_src6_.is_unspecified() || input_src6_.is_v4_mapped() ||
      local6_index(input_src6_) >= 0) {
    ++counters_.ipv6_bad_source;
    return;
  }
  const uint32_t peer = peers_.find(input_src6_);
  handle_segment(th, FourTuple{static_cast<uint32_t>(local), peer == Ipv6PeerTable::kNone ? kPendingPeer : peer,
                               th.dst_port(), th.src_port()},
                 now);
}

void Endpoint::handle_segment(const wire::TcpHeaderView& th, FourTuple t, Instant now) {
  SegmentIn seg;
  seg.seq = SeqNum(th.seq());
  seg.ack = SeqNum(th.ack());
  seg.flags = th.flags();
  seg.window = th.window();
  seg.urgent = th.urgent_pointer();
  seg.payload = th.payload();
  if (wire::parse_tcp_options(th.options(), seg.opts) != wire::OptionsParse::kOk) {
    seg.options_malformed = true;  // MUST-7: what came before the bad option is still used
    ++counters_.tcp_bad_options;
  }
  // A remote IPv6 address not interned has no connection nor TIME_WAIT record.
  const uint32_t found = t.remote_ip == kPendingPeer ? kInvalidConn : index_.find(t);
  if (found != kInvalidConn && !(found & kTimeWaitBit)) {
    Conn* cp = expand(found, now);
    if (LINETCP_UNLIKELY(!cp)) {  // no full state to be had: the peer retransmits
      ++counters_.tcb_pool_full;
      return;
    }
    Conn& c = *cp;
    {
      const CurrentScope scope(*this, found, c);
      tcp::TcpContext cx = ctx();
      c.tcp.on_segment(seg, now, cx, *this);
    }
    settle(c, now);
    return;
  }
  bool to_listener = true;
  if (found != kInvalidConn) {
    handle_time_wait(found & ~kTimeWaitBit, seg, t, now, to_listener);
    if (!to_listener) return;
  }
  const uint8_t listener = listeners_[t.local_port];
  if (listener != 0) {
    handle_listener(static_cast<uint8_t>(listener - 1), seg, t, now);
    return;
  }
  send_reset_for(seg, t);
}

void Endpoint::handle_time_wait(uint32_t handle, const SegmentIn& seg, FourTuple& t, Instant now,
                                bool& pass_to_listener) {
  pass_to_listener = false;
  ++counters_.time_wait_hits;
  TimeWaitRecord* r = time_wait_.get(handle);
  if (!r || !r->live()) return;
  if (seg.has(tcp::kTcpRst)) {
    // RFC 1337: a RST must not cut TIME_WAIT short, with one exception. A SYN-ACK met this record
    // and we answered with a challenge ACK (below): the peer holds a half-open connection on the
    // tuple (its answer to an old duplicate of our SYN), and its RST at exactly rcv_nxt is the
    // reply RFC 5961 §4 counts on. Ending the record lets our next answer to that peer's SYN-ACK
    // be the RST of a closed tuple, which frees its half-open connection; ignoring it would keep
    // the peer in SYN-RECEIVED for all of TIME_WAIT and beyond.
    if ((r->flags & TimeWaitRecord::kChallenged) && seg.seq == SeqNum(r->rcv_nxt)) {
      ++counters_.time_wait_rst_challenged;
      end_time_wait(handle);
      return;
    }
    ++counters_.time_wait_rst_ignored;
    return;
  }
  if (seg.has(tcp::kTcpSyn) && !seg.has(tcp::kTcpAck)) {
    // RFC 6191 / RFC 9293 §3.10.7.4: a new SYN may reopen the tuple if it is unambiguously new:
    // a newer timestamp, or (without timestamps) a sequence number above the old rcv_nxt.
    const bool newer = (r->timestamps() && seg.opts.has_timestamps)
                           ? static_cast<int32_t>(seg.opts.ts_val - r->ts_recent) > 0
                           : seg.seq > SeqNum(r->rcv_nxt);
    if (newer && listeners_[t.local_port] != 0) {
      ++counters_.time_wait_reused;
      end_time_wait(handle);
      if (engine::is_ipv6(t)) t.remote_ip = kPendingPeer;  // the listener takes a new peer reference
      pass_to_listener = true;
      return;
    }
  }
  if (seg.payload.empty() && !seg.has(tcp::kTcpFin) && !seg.has(tcp::kTcpSyn)) return;  // a bare ACK
  // A retransmitted FIN (our ACK was lost), stray data or an old SYN: acknowledge.
  if (seg.has(tcp::kTcpSyn)) r->flags |= TimeWaitRecord::kChallenged;
  SegmentOut ack;
  ack.seq = SeqNum(r->snd_nxt);
  ack.ack = SeqNum(r->rcv_nxt);
  ack.flags = tcp::kTcpAck;
  ack.window = r->rcv_wnd;
  if (r->timestamps()) {
    ack.opts.has_timestamps = true;
    ack.opts.ts_val = tcp::TcpConnection::ts_clock(now);
    ack.opts.ts_ecr = r->ts_recent;
  }
  queue_tcp_control(t, ack);
}

void Endpoint::release_time_wait(const TimeWaitRecord& r) {
  index_.erase(r.tuple);  // while the record is live: the index finds the entry through it
  if (r.flags & kTwPortOwned) ports_of(r.tuple).release(r.tuple.local_port);
  release_peer(r.tuple);
}

void Endpoint::end_time_wait(uint32_t handle) {
  release_time_wait(*time_wait_.get(handle));
  time_wait_.kill(handle);
}

const FourTuple* Endpoint::index_key(const void* ctx, uint32_t value) {
  const Endpoint& ep = *static_cast<const Endpoint*>(ctx);
  if (value & kTimeWaitBit) {
    const TimeWaitRecord* r = ep.time_wait_.get(value & ~kTimeWaitBit);
    return r != nullptr ? &r->tuple : nullptr;
  }
  return &ep.records_[value].tuple;
}

void Endpoint::handle_listener(uint8_t slot, const SegmentIn& seg, const FourTuple& t, Instant now) {
  // RFC 9293 §3.10.7.2 (LISTEN): RST is ignored, an ACK is answered with RST (unless it returns a
  // SYN cookie), a SYN opens.
  if (seg.has(tcp::kTcpRst)) {
    ++counters_.tcp_no_conn_dropped;
    return;
  }
  if (seg.has(tcp::kTcpAck)) {
    if (!seg.has(tcp::kTcpSyn) && config_.syn_cookies && !last_cookie_sent_.is_never() &&
        now - last_cookie_sent_ < kCookieWindow) {
      const auto opts = cookies_.check(key_of(t), seg.seq - 1u, seg.ack - 1u, now);
      if (opts) {
        const ConnId id = new_connection(t, slot, now);
        if (id == kInvalidConn) return;
        ++counters_.syn_cookies_accepted;
        const tcp::TcpConnection::CookieState cs{seg.ack - 1u, seg.seq - 1u, opts->mss,
                                                 opts->window_scale_ok, opts->window_scale,
                                                 opts->sack_permitted};
        Conn& c = tcb(id);
        c.embryonic = false;
        {
          const CurrentScope scope(*this, id, c);
          tcp::TcpContext cx = ctx();
          c.tcp.open_from_cookie(params_for(slot, t), cs, seg, now, cx, *this);
        }
        settle(id, now);
        return;
      }
      ++counters_.syn_cookies_rejected;
    }
    send_reset_for(seg, t);
    return;
  }
  if (!seg.has(tcp::kTcpSyn)) {
    ++counters_.tcp_no_conn_dropped;
    return;
  }
  // SYN+FIN opens nothing: no stack sends it, scanners do. Dropped as Linux does, so that it
  // neither takes a SYN-RECEIVED slot nor draws a SYN-ACK.
  if (seg.has(tcp::kTcpFin)) {
    ++counters_.tcp_syn_fin;
    return;
  }
  // A full table drops the SYN, cookies or not: a cookie would promise a connection with no slot
  // to hold it, and its ACK and request would be dropped or reset. The peer retries the SYN (as
  // with Linux's full accept queue). Cookies answer a full backlog, where slots are still free.
  if (records_.full()) {
    ++counters_.conn_table_full;
    return;
  }
  if (syn_received_ >= config_.syn_backlog) {
    ++counters_.syn_backlog_full;
    if (config_.syn_cookies) send_syn_cookie(seg, t, params_for(slot, t), now);
    return;
  }
  const ConnId id = new_connection(t, slot, now);
  if (id == kInvalidConn) return;
  Conn& c = tcb(id);
  c.embryonic = true;
  ++syn_received_;
  c.tcp.open_passive(params_for(slot, t), seg, isn_.isn(key_of(c.tuple), now), now);
  settle(id, now);
}

void Endpoint::send_syn_cookie(const SegmentIn& syn, const FourTuple& t, const tcp::TcpParams& params,
                               Instant now) {
  // The listener's parameters, not the endpoint's defaults: the connection the cookie becomes
  // is opened with them (open_from_cookie), so the SYN-ACK must announce the same MSS, window
  // scale and SACK.
  const uint16_t our_mss = engine::is_ipv6(t) ? params.mss : std::min<uint16_t>(params.mss, config_.tcp.mss);
  tcp::CookieOptions o;
  o.mss = syn.opts.has_mss ? std::min<uint16_t>(syn.opts.mss, our_mss) : params.default_send_mss;
  o.window_scale_ok = syn.opts.has_window_scale && params.window_scale > 0;
  o.window_scale = syn.opts.window_scale;
  o.sack_permitted = syn.opts.sack_permitted && params.sack;
  SegmentOut sa;
  sa.seq = cookies_.make(key_of(t), syn.seq, o, now);
  sa.ack = syn.seq + 1u;
  sa.flags = tcp::kTcpSyn | tcp::kTcpAck;
  sa.window = static_cast<uint16_t>(std::min<uint32_t>(params.rcv_buffer, 65535));
  sa.opts.has_mss = true;
  sa.opts.mss = our_mss;
  sa.opts.has_window_scale = o.window_scale_ok;
  sa.opts.window_scale = params.window_scale;
  sa.opts.sack_permitted = o.sack_permitted;
  if (syn.opts.has_timestamps && params.timestamps) {
    sa.opts.has_timestamps = true;
    sa.opts.ts_val = tcp::TcpConnection::ts_clock(now);
    sa.opts.ts_ecr = syn.opts.ts_val;
  }
  last_cookie_sent_ = now;
  ++counters_.syn_cookies_sent;
  queue_tcp_control(t, sa);
}

void Endpoint::send_reset_for(const SegmentIn& seg, const FourTuple& t) {
  // RFC 9293 §3.10.7.1 (CLOSED): never answer a RST; otherwise RST with SEQ=SEG.ACK if the
  // segment had an ACK, else SEQ=0 ACK=SEG.SEQ+SEG.LEN.
  if (seg.has(tcp::kTcpRst)) {
    ++counters_.tcp_no_conn_dropped;
    return;
  }
  SegmentOut rst;
  if (seg.has(tcp::kTcpAck)) {
    rst.seq = seg.ack;
    rst.flags = tcp::kTcpRst;
  } else {
    rst.seq = SeqNum(0);
    rst.ack = seg.seq + seg.seg_len();
    rst.flags = tcp::kTcpRst | tcp::kTcpAck;
  }
  ++counters_.tcp_rst_sent_no_conn;
  queue_tcp_control(t, rst);
}

// ---------------------------------------------------------------------------------------------
// Output

wire::Ipv4Addr Endpoint::next_hop(wire::Ipv4Addr dst) const {
  if (prefix_.contains(dst)) return dst;
  if (LINETCP_UNLIKELY(!extra4_.empty()) && extra4_subnet(dst) >= 0) return dst;
  for (const Route4& r : config_.routes)  // longest prefix first (sorted at construction)
    if (r.to.contains(dst)) return r.via;
  if (config_.gateway.is_unspecified()) return dst;
  return config_.gateway;
}

wire::Ipv6Addr Endpoint::next_hop6(const wire::Ipv6Addr& dst) const {
  if (dst.is_link_local()) return dst;
  for (const wire::Ipv6Prefix& p : onlink6_)
    if (p.contains(dst)) return dst;
  for (const Route6& r : config_.routes6)
    if (r.to.contains(dst)) return r.via;
  if (config_.gateway6.is_unspecified()) return dst;
  return config_.gateway6;
}

uint8_t* Endpoint::control_frame() {
  if (control_count_ == kControlSlots) {
    ++counters_.control_queue_full;
    return nullptr;
  }
  const uint32_t slot = (control_head_ + control_count_) % kControlSlots;
  return control_buf_.get() + std::size_t{slot} * kControlFrameBytes;
}

void Endpoint::commit_control(std::size_t len) {
  const uint32_t slot = (control_head_ + control_count_) % kControlSlots;
  control_len_[slot] = static_cast<uint16_t>(len);
  ++control_count_;
}

void Endpoint::queue_tcp_control(const FourTuple& t, const SegmentOut& seg) {
  // Answers go back to the MAC the segment came from: no ARP round trip for a stateless reply.
  uint8_t* f = control_frame();
  if (!f) return;
  commit_control(write_tcp_frame(f, reply_mac_, t, seg, kInvalidConn, 0, false, nullptr));
}

std::size_t Endpoint::write_tcp_frame(uint8_t* buf, const wire::MacAddr& dst_mac, const FourTuple& t,
                                      const SegmentOut& seg, ConnId owner, uint8_t app, bool offload,
                                      TxMeta* meta) {
  const bool v6 = engine::is_ipv6(t);
  uint8_t* ip = buf + l2_len_;
  uint8_t* tcp = ip + (LINETCP_UNLIKELY(v6) ? wire::kIpv6HeaderLen : wire::kIpv4MinHeaderLen);
  const wire::TcpHeaderFields f{t.local_port, t.remote_port, seg.seq.raw(), seg.ack.raw(),
                                seg.flags,    seg.window,    seg.urgent};
  const wire::TcpHeaderWritten header = wire::write_tcp_header_summed(tcp, f, seg.opts);
  const std::size_t hlen = header.length;
  // The checksum is the header's sum, known from the values, plus the payload's: most segments
  // (SYN, ACK, FIN) sum nothing from memory.
  uint32_t sum = header.sum;
  if (seg.payload_len > 0) {
    const std::span<uint8_t> dst(tcp + hlen, seg.payload_len);
    if (owner != kInvalidConn) apps_[app].app->fill_payload(*this, owner, seg.payload_offset, dst);
    else std::memset(dst.data(), 0, dst.size());
    if (!offload) sum = wire::checksum_add(dst.data(), dst.size(), sum);
  }
  const std::size_t l4 = hlen + seg.payload_len;
  if (LINETCP_UNLIKELY(v6)) {
    const wire::Ipv6Addr& src = local6_[t.local_ip].addr;
    const wire::Ipv6Addr& dst = remote6(t.remote_ip);
    write_l2(buf, dst_mac, wire::kEtherTypeIpv6);
    wire::write_ipv6_header(ip, src, dst, wire::kIpProtoTcp, static_cast<uint16_t>(l4), config_.ttl, config_.tos);
    const uint32_t pseudo = wire::pseudo_header_sum_ipv6(src.bytes.data(), dst.bytes.data(), wire::kIpProtoTcp,
                                                         static_cast<uint32_t>(l4));
    // Offload wants the pseudo-header sum, folded, not complemented (as for IPv4).
    base::store_be16(tcp + 16, offload ? wire::checksum_reduce(pseudo) : wire::checksum_fold(pseudo + sum));  // MUST-2
    if (meta) {
      meta->checksum_offload = offload;
      meta->ipv6 = true;
      meta->l3_len = wire::kIpv6HeaderLen;
      meta->l4_len = static_cast<uint8_t>(hlen);
    }
    return headers6() + l4;
  }
  const uint32_t addresses =
      tcp_frame4_.write(buf, dst_mac, t.local_ip, t.remote_ip, static_cast<uint16_t>(l4), !offload);
  const uint32_t pseudo = addresses + wire::kIpProtoTcp + static_cast<uint32_t>(l4);
  base::store_be16(tcp + 16, offload ? wire::checksum_reduce(pseudo) : wire::checksum_fold(pseudo + sum));  // MUST-2
  if (meta) {
    meta->checksum_offload = offload;
    meta->l4_len = static_cast<uint8_t>(hlen);
  }
  return headers4() + l4;
}

std::size_t Endpoint::poll_output(FrameSink& sink, Instant now, std::size_t max_frames) {
  now_ = now;
  if (LINETCP_UNLIKELY(waiting_head_ != kNoRecord)) serve_waiting();
  std::size_t sent = 0;
  // Answers first: they are few and small.
  if (!drain_control(sink, sent, max_frames)) return sent;
  while (sent < max_frames) {
    Conn* c = ready_.pop_front();
    if (!c) break;
    const ConnId id = c->timer.owner;
    NeighborCache::Lookup hop;
    if (LINETCP_UNLIKELY(engine::is_ipv6(c->tuple))) {
      const wire::Ipv6Addr via = next_hop6(peers_.addr(c->tuple.remote_ip));
      const auto h6 = neighbors6_.lookup(via, now);
      counters_.ndp_table_full = neighbors6_.full_drops();
      if (h6.send_request) queue_neighbor_solicitation(via);
      hop.mac = h6.mac;
    } else {
      hop = neighbors_.lookup(next_hop(wire::Ipv4Addr{c->tuple.remote_ip}), now);
      counters_.arp_table_full = neighbors_.full_drops();  // the cache counts; we report
      if (hop.send_request) queue_arp_request(next_hop(wire::Ipv4Addr{c->tuple.remote_ip}));
    }
    if (!hop.mac) {
      ++counters_.arp_wait;
      c->waiting_arp = true;
      arp_wait_.push_back(*c);
      if (arp_retry_at_.is_never()) arp_retry_at_ = now + kArpRetry;
      continue;
    }
    const wire::MacAddr mac = *hop.mac;
    tcp::TcpContext cx = ctx();
    int burst = 0;
    for (; burst < kBurstPerConnection && sent < max_frames; ++burst) {
      const std::span<uint8_t> buf = sink.alloc_frame();
      if (buf.empty()) {
        ++counters_.tx_deferred;
        ready_.push_front(*c);  // try again at the next poll; nothing was taken from it
        return sent;
      }
      SegmentOut seg;
      if (!c->tcp.poll_output(now, seg, cx)) {
        sink.commit_frame(0, TxMeta{});  // release the unused buffer
        break;
      }
      TxMeta meta = tx_meta();
      const std::size_t len = write_tcp_frame(buf.data(), mac, c->tuple, seg, id, c->app,
                                              config_.tx_checksum_offload, &meta);
      sink.commit_frame(len, meta);
      ++counters_.frames_out;
      ++sent;
    }
    // More to send after a full burst: back of the line. Otherwise the connection waits for its
    // next event (requeueing here would spin on a connection whose window is closed).
    const bool more = burst == kBurstPerConnection || sent == max_frames;
    settle(*c, now, more);
  }
  // ARP requests queued by the loop above go out now, not at the next poll: a poll that sent
  // nothing else would otherwise return 0 with output still pending, and a caller that polls
  // until 0 would leave them behind.
  drain_control(sink, sent, max_frames);
  return sent;
}

bool Endpoint::drain_control(FrameSink& sink, std::size_t& sent, std::size_t max_frames) {
  while (control_count_ > 0 && sent < max_frames) {
    const std::span<uint8_t> buf = sink.alloc_frame();
    if (buf.empty()) {
      ++counters_.tx_deferred;
      return false;
    }
    const uint16_t len = control_len_[control_head_];
    std::memcpy(buf.data(), control_buf_.get() + std::size_t{control_head_} * kControlFrameBytes, len);
    sink.commit_frame(len, tx_meta());
    control_head_ = (control_head_ + 1) % kControlSlots;
    --control_count_;
    ++counters_.frames_out;  // every frame handed to the sink, answers included
    ++sent;
  }
  return true;
}

void Endpoint::prefetch_input(std::span<const uint8_t> frame) const {
  // Ethernet + IPv4 without options + the TCP ports; anything else simply goes unprefetched.
  constexpr std::size_t kTcp = wire::kEthHeaderLen + wire::kIpv4MinHeaderLen;
  if (frame.size() < kTcp + 4) return;
  const uint8_t* p = frame.data();
  const uint8_t* ip = p + wire::kEthHeaderLen;
  if (base::load_be16(p + 12) != wire::kEtherTypeIpv4 || ip[0] != 0x45 || ip[9] != wire::kIpProtoTcp) return;
  // The tuple as handle_tcp() builds it: local = destination.
  index_.prefetch(FourTuple{base::load_be32(ip + 16), base::load_be32(ip + 12), base::load_be16(p + kTcp + 2),
                            base::load_be16(p + kTcp)});
}

}  // namespace linetcp::engine
