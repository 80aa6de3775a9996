// Endpoint: frame demultiplexing (ARP, IPv4, ICMP, TCP), connection lifecycle (listen, connect,
// SYN cookies, TIME_WAIT), timers and frame building. See endpoint.hpp for the contract.
#include "linetcp/engine/endpoint.hpp"

#include <algorithm>
#include <cstring>

#include "linetcp/wire/arp.hpp"
#include "linetcp/wire/checksum.hpp"
#include "linetcp/wire/icmp.hpp"
#include "linetcp/wire/tcp_header.hpp"
#include "linetcp/wire/tcp_options.hpp"

namespace linetcp::engine {

using base::Duration;
using base::Instant;
using tcp::SegmentIn;
using tcp::SegmentOut;
using tcp::SeqNum;
using tcp::State;

namespace {
constexpr std::size_t kFrameHeaders = wire::kEthHeaderLen + wire::kIpv4MinHeaderLen;
// A TIME_WAIT record whose source port came from our allocator (an active open).
constexpr uint8_t kTwPortOwned = 1u << 7;
// How long after sending a cookie we still check ACKs against cookies.
constexpr Duration kCookieWindow = Duration::seconds(128);
// How often connections waiting for address resolution try again.
constexpr Duration kArpRetry = Duration::seconds(1);
// Segments one connection may emit before the next ready connection gets its turn.
constexpr int kBurstPerConnection = 16;

tcp::TupleKey key_of(const FourTuple& t) {
  return tcp::TupleKey{t.local_ip, t.remote_ip, t.local_port, t.remote_port};
}
}  // namespace

Endpoint::Endpoint(const EndpointConfig& config, Instant now)
    : config_(config),
      prefix_{config.address, config.prefix_length},
      ooo_(config.ooo_chunks),
      conns_(config.max_connections),
      index_(config.max_connections + config.time_wait_capacity),
      wheel_(now),
      time_wait_(config.time_wait_capacity),
      neighbors_(config.neighbor_capacity, config.arp_timeout),
      isn_(config.secret),
      cookies_({config.secret[1] ^ 0x5bd1e995ull, config.secret[0] + 0x27d4eb2full}),
      listeners_(std::make_unique<uint8_t[]>(65536)),
      control_buf_(std::make_unique<uint8_t[]>(std::size_t{kControlSlots} * kControlFrameBytes)) {
  config_.tcp.mss = static_cast<uint16_t>(std::min<uint32_t>(config_.tcp.mss, config_.mtu - 40u));
  const bool range = !config.source_first.is_unspecified() && config.source_last >= config.source_first;
  source_first_ = range ? config.source_first.value : config.address.value;
  source_span_ = range ? config.source_last.value - config.source_first.value : 0;
  for (uint32_t i = 0; i <= source_span_; ++i)
    ports_.push_back(std::make_unique<PortAllocator>(config.ephemeral_first, config.ephemeral_last, i + 1));
  config_.tcp.time_wait = config_.time_wait;
}

Endpoint::~Endpoint() {
  // Return out-of-order chunks; nothing else is owned outside the fixed arrays.
  tcp::TcpContext cx = ctx();
  for (ConnId id = 0; id < conns_.capacity(); ++id)
    if (conns_.in_use(id)) conns_[id].tcp.release_resources(cx);
}

// ---------------------------------------------------------------------------------------------
// Sockets

uint8_t Endpoint::app_slot(App& app, const tcp::TcpParams* params) {
  if (!params) params = &config_.tcp;
  for (std::size_t i = 0; i < apps_.size(); ++i)
    if (apps_[i].app == &app && apps_[i].params == params) return static_cast<uint8_t>(i);
  if (apps_.size() >= 255) return 255;  // callers treat 255 as "no room"
  apps_.push_back({&app, params});
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

ConnId Endpoint::new_connection(const FourTuple& t, uint8_t app) {
  const ConnId id = conns_.alloc();
  if (id == kInvalidConn) {
    ++counters_.conn_table_full;
    return kInvalidConn;
  }
  if (!index_.insert(t, id)) {
    conns_.free(id);
    ++counters_.conn_table_full;
    return kInvalidConn;
  }
  Conn& c = conns_[id];
  c.tuple = t;
  c.app = app;
  c.opened = c.active = c.embryonic = c.waiting_arp = false;
  c.armed_for = Instant::never();
  c.timer.owner = id;
  return id;
}

ConnId Endpoint::connect(wire::Ipv4Addr remote, uint16_t remote_port, App& app, Instant now,
                         const tcp::TcpParams* params, uint16_t local_port, wire::Ipv4Addr local) {
  // MUST-43: a local address given must be one of our source addresses.
  if (!local.is_unspecified() && local.value - source_first_ > source_span_) return kInvalidConn;
  // MUST-46: no connections to broadcast or multicast addresses.
  if (remote.is_multicast() || remote.is_broadcast() || remote.is_unspecified() ||
      remote == prefix_.directed_broadcast() || remote_port == 0)
    return kInvalidConn;
  const uint8_t slot = app_slot(app, params);
  if (slot == 255) return kInvalidConn;
  FourTuple t{local.is_unspecified() ? source_first_ : local.value, remote.value, local_port, remote_port};
  bool owned = false;
  if (local_port == 0) {
    // Source addresses in turn; on each, a port whose tuple to this peer is free (not in use, not
    // in TIME_WAIT) and, with RSS, whose replies come back to this worker.
    const uint32_t choices = local.is_unspecified() ? source_span_ + 1 : 1;
    for (uint32_t tried = 0; tried < choices && t.local_port == 0; ++tried) {
      if (local.is_unspecified()) {
        t.local_ip = source_first_ + next_source_;
        next_source_ = next_source_ == source_span_ ? 0 : next_source_ + 1;
      }
      t.local_port = ports_of(t.local_ip).acquire_if(
        [&](uint16_t p) {
          FourTuple probe = t;
          probe.local_port = p;
          return index_.find(probe) == kInvalidConn && (!port_filter_ || port_filter_(port_filter_ctx_, probe));
        },
        64);  // with a filter that keeps 1 in N ports, 64 tries fail once in e^(64/N)
    }
    if (t.local_port == 0) {
      ++counters_.ports_exhausted;
      return kInvalidConn;
    }
    owned = true;
  } else if (index_.find(t) != kInvalidConn) {
    return kInvalidConn;
  }
  const ConnId id = new_connection(t, slot);
  if (id == kInvalidConn) {
    if (owned) ports_of(t.local_ip).release(t.local_port);
    return kInvalidConn;
  }
  Conn& c = conns_[id];
  c.active = owned;
  c.tcp.open_active(*apps_[slot].params, isn_.isn(key_of(t), now), now);
  ++counters_.connections_opened;
  settle(id, now);
  return id;
}

void Endpoint::send(ConnId id, uint64_t bytes) {
  conns_[id].tcp.send(bytes);
  if (!conns_[id].ready_link.linked()) ready_.push_back(conns_[id]);
}

void Endpoint::send_urgent(ConnId id) {
  conns_[id].tcp.send_urgent();
  if (!conns_[id].ready_link.linked()) ready_.push_back(conns_[id]);
}

void Endpoint::close(ConnId id) {
  conns_[id].tcp.close();
  if (!conns_[id].ready_link.linked()) ready_.push_back(conns_[id]);
}

void Endpoint::abort(ConnId id) {
  Conn& c = conns_[id];
  const ConnId saved = current_;
  current_ = id;
  tcp::TcpContext cx = ctx();
  c.tcp.abort(cx, *this);
  current_ = saved;
  // The RST (if any) goes out at the next poll; the slot is freed after it.
  if (!c.ready_link.linked()) ready_.push_back(c);
}

void Endpoint::hold(ConnId id, uint32_t bytes) { conns_[id].tcp.hold(bytes); }

void Endpoint::release(ConnId id, uint32_t bytes) {
  conns_[id].tcp.release(bytes);
  if (conns_[id].tcp.wants_output() && !conns_[id].ready_link.linked()) ready_.push_back(conns_[id]);
}

void Endpoint::set_nodelay(ConnId id, bool on) { conns_[id].tcp.set_nodelay(on); }

void Endpoint::set_keepalive(ConnId id, bool on, Instant now) {
  conns_[id].tcp.set_keepalive(on, now);
  settle(id, now);
}

void Endpoint::set_user_timeout(ConnId id, Duration timeout) { conns_[id].tcp.set_user_timeout(timeout); }

// ---------------------------------------------------------------------------------------------
// ConnSink: events of the connection `current_`, forwarded to its application.

void Endpoint::on_established() {
  Conn& c = conns_[current_];
  if (c.embryonic) {
    c.embryonic = false;
    --syn_received_;
  }
  // Passive opens count as accepted whether they came through SYN-RECEIVED or a SYN cookie
  // (a cookie connection is never embryonic).
  if (c.tcp.passive()) ++counters_.connections_accepted;
  else ++counters_.connections_established;
  c.opened = true;
  apps_[c.app].app->on_open(*this, current_);
}

void Endpoint::on_data(std::span<const uint8_t> data) {
  apps_[conns_[current_].app].app->on_data(*this, current_, data);
}

void Endpoint::on_urgent(uint64_t urgent_end) {
  apps_[conns_[current_].app].app->on_urgent(*this, current_, urgent_end);
}

void Endpoint::on_acked(uint64_t acked_until) {
  apps_[conns_[current_].app].app->on_acked(*this, current_, acked_until);
}

void Endpoint::on_peer_fin() { apps_[conns_[current_].app].app->on_peer_closed(*this, current_); }

void Endpoint::on_closed(tcp::CloseReason reason) {
  Conn& c = conns_[current_];
  if (c.embryonic) {
    c.embryonic = false;
    --syn_received_;
  }
  if (reason == tcp::CloseReason::kReset || reason == tcp::CloseReason::kRefused) ++counters_.connections_reset;
  if (reason == tcp::CloseReason::kTimeout || reason == tcp::CloseReason::kKeepaliveTimeout)
    ++counters_.connections_timed_out;
  if (!c.opened && c.active) ++counters_.connections_failed;
  // MUST-12: the application hears of every connection it knew about, however it ended.
  if (c.opened || c.active) apps_[c.app].app->on_closed(*this, current_, reason);
  c.opened = false;
}

// ---------------------------------------------------------------------------------------------
// Connection lifecycle

void Endpoint::settle(ConnId id, Instant now, bool requeue) {
  Conn& c = conns_[id];
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
  if (deadline.is_never()) return;
  if (!c.timer.armed() || deadline < c.armed_for) {
    wheel_.schedule(c.timer, deadline);
    c.armed_for = deadline;
  }
}

void Endpoint::free_connection(ConnId id, bool erase_index) {
  Conn& c = conns_[id];
  if (c.waiting_arp) arp_wait_.remove(c);
  else ready_.remove(c);
  c.waiting_arp = false;
  if (c.timer.armed()) wheel_.cancel(c.timer);
  tcp::TcpContext cx = ctx();
  c.tcp.release_resources(cx);
  if (erase_index) index_.erase(c.tuple);
  if (c.active) ports_of(c.tuple.local_ip).release(c.tuple.local_port);
  if (c.embryonic) --syn_received_;
  c.embryonic = false;
  conns_.free(id);
  ++counters_.connections_closed;
}

void Endpoint::to_time_wait(ConnId id, Instant now) {
  Conn& c = conns_[id];
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
  Conn& c = conns_[id];
  c.armed_for = Instant::never();
  const ConnId saved = current_;
  current_ = id;
  tcp::TcpContext cx = ctx();
  c.tcp.on_timer(now, cx, *this);
  current_ = saved;
  settle(id, now);
}

void Endpoint::advance(Instant now) {
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
  time_wait_.expire(now, [&](TimeWaitRecord& r) {
    index_.erase(r.tuple);
    if (r.flags & kTwPortOwned) ports_of(r.tuple.local_ip).release(r.tuple.local_port);
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
  for (ConnId id = 0; id < conns_.capacity(); ++id)
    if (conns_.in_use(id)) ++h[static_cast<std::size_t>(conns_[id].tcp.state())];
  h[static_cast<std::size_t>(State::kTimeWait)] += time_wait_.size();
  return h;
}


std::size_t Endpoint::memory_bytes() const {
  return conns_.memory_bytes() + index_.memory_bytes() + time_wait_.memory_bytes() +
         std::size_t{ooo_.capacity()} * sizeof(tcp::ChunkPool::Chunk);
}

Endpoint::MemoryPerEntry Endpoint::memory_per_entry() const {
  MemoryPerEntry m;
  m.index_entry = static_cast<double>(index_.memory_bytes()) / index_.capacity();
  m.connection = static_cast<double>(conns_.memory_bytes()) / conns_.capacity() + m.index_entry;
  m.time_wait = static_cast<double>(time_wait_.memory_bytes()) / time_wait_.capacity() + m.index_entry;
  m.conn_object = sizeof(Conn);
  m.tcp_connection = sizeof(tcp::TcpConnection);
  m.time_wait_record = sizeof(TimeWaitRecord);
  return m;
}

// ---------------------------------------------------------------------------------------------
// Input

void Endpoint::input(std::span<const uint8_t> frame, Instant now) {
  ++counters_.frames_in;
  const auto eth = wire::EthernetView::parse(frame);
  if (!eth) {
    ++counters_.eth_too_short;
    return;
  }
  const wire::MacAddr dst = eth->dst();
  reply_mac_ = eth->src();
  if (dst != config_.mac && !dst.is_broadcast()) {
    ++counters_.eth_not_for_us;
    return;
  }
  switch (eth->ether_type()) {
    case wire::kEtherTypeIpv4: handle_ipv4(eth->payload(), now); break;
    case wire::kEtherTypeArp: handle_arp(eth->payload(), now); break;
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
    wire::write_ethernet(f, arp->sender_mac(), config_.mac, wire::kEtherTypeArp);
    wire::write_arp(f + wire::kEthHeaderLen, wire::kArpReply, config_.mac, arp->target_ip(),
                    arp->sender_mac(), arp->sender_ip());
    commit_control(wire::kEthHeaderLen + wire::kArpLen);
    ++counters_.arp_replies_out;
  }
}

void Endpoint::queue_arp_request(wire::Ipv4Addr target) {
  uint8_t* f = control_frame();
  if (!f) return;
  wire::write_ethernet(f, wire::MacAddr::broadcast(), config_.mac, wire::kEtherTypeArp);
  wire::write_arp(f + wire::kEthHeaderLen, wire::kArpRequest, config_.mac, config_.address,
                  wire::MacAddr{}, target);
  commit_control(wire::kEthHeaderLen + wire::kArpLen);
  ++counters_.arp_requests_out;
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
      if (kFrameHeaders + icmp_len > kControlFrameBytes) {
        ++counters_.icmp_bad;
        return;
      }
      uint8_t* f = control_frame();
      if (!f) return;
      wire::write_ethernet(f, reply_mac_, config_.mac, wire::kEtherTypeIpv4);
      wire::write_ipv4_header(f + wire::kEthHeaderLen, ip.dst(), ip.src(), wire::kIpProtoIcmp,
                              static_cast<uint16_t>(icmp_len), config_.ttl, 0, config_.tos);
      wire::write_icmp_echo_reply(f + kFrameHeaders, *icmp);
      commit_control(kFrameHeaders + icmp_len);
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
  const FourTuple t{ip.dst().value, ip.src().value, th.dst_port(), th.src_port()};

  const uint32_t found = index_.find(t);
  if (found != kInvalidConn && !(found & kTimeWaitBit)) {
    Conn& c = conns_[found];
    const ConnId saved = current_;
    current_ = found;
    tcp::TcpContext cx = ctx();
    c.tcp.on_segment(seg, now, cx, *this);
    current_ = saved;
    settle(found, now);
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

void Endpoint::handle_time_wait(uint32_t handle, const SegmentIn& seg, const FourTuple& t, Instant now,
                                bool& pass_to_listener) {
  pass_to_listener = false;
  ++counters_.time_wait_hits;
  TimeWaitRecord* r = time_wait_.get(handle);
  if (!r || !r->live()) return;
  if (seg.has(tcp::kTcpRst)) {  // RFC 1337: a RST must not cut TIME_WAIT short
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
      if (r->flags & kTwPortOwned) ports_of(t.local_ip).release(t.local_port);
      time_wait_.kill(handle);
      index_.erase(t);
      pass_to_listener = true;
      return;
    }
  }
  if (seg.payload.empty() && !seg.has(tcp::kTcpFin) && !seg.has(tcp::kTcpSyn)) return;  // a bare ACK
  // A retransmitted FIN (our ACK was lost), stray data or an old SYN: acknowledge.
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
        const ConnId id = new_connection(t, slot);
        if (id == kInvalidConn) return;
        ++counters_.syn_cookies_accepted;
        const tcp::TcpConnection::CookieState cs{seg.ack - 1u, seg.seq - 1u, opts->mss,
                                                 opts->window_scale_ok, opts->window_scale,
                                                 opts->sack_permitted};
        Conn& c = conns_[id];
        c.embryonic = false;
        const ConnId saved = current_;
        current_ = id;
        tcp::TcpContext cx = ctx();
        c.tcp.open_from_cookie(*apps_[slot].params, cs, seg, now, cx, *this);
        current_ = saved;
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
  const bool backlog_full = syn_received_ >= config_.syn_backlog;
  if (backlog_full || conns_.size() >= conns_.capacity()) {
    if (backlog_full) ++counters_.syn_backlog_full;
    else ++counters_.conn_table_full;
    if (config_.syn_cookies) send_syn_cookie(seg, t, *apps_[slot].params, now);
    return;
  }
  const ConnId id = new_connection(t, slot);
  if (id == kInvalidConn) return;
  Conn& c = conns_[id];
  c.embryonic = true;
  ++syn_received_;
  c.tcp.open_passive(*apps_[slot].params, seg, isn_.isn(key_of(t), now), now);
  settle(id, now);
}

void Endpoint::send_syn_cookie(const SegmentIn& syn, const FourTuple& t, const tcp::TcpParams& params,
                               Instant now) {
  // The listener's parameters, not the endpoint's defaults: the connection the cookie becomes
  // is opened with them (open_from_cookie), so the SYN-ACK must announce the same MSS, window
  // scale and SACK.
  const uint16_t our_mss = std::min<uint16_t>(params.mss, config_.tcp.mss);
  tcp::CookieOptions o;
  o.mss = syn.opts.has_mss ? std::min<uint16_t>(syn.opts.mss, our_mss) : 536;
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
  if (prefix_.contains(dst) || config_.gateway.is_unspecified()) return dst;
  return config_.gateway;
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
  commit_control(write_tcp_frame(f, reply_mac_, t, seg, kInvalidConn, false, nullptr));
}

std::size_t Endpoint::write_tcp_frame(uint8_t* buf, const wire::MacAddr& dst_mac, const FourTuple& t,
                                      const SegmentOut& seg, ConnId owner, bool offload, TxMeta* meta) {
  uint8_t* ip = buf + wire::kEthHeaderLen;
  uint8_t* tcp = ip + wire::kIpv4MinHeaderLen;
  wire::write_ethernet(buf, dst_mac, config_.mac, wire::kEtherTypeIpv4);
  const wire::TcpHeaderFields f{t.local_port, t.remote_port, seg.seq.raw(), seg.ack.raw(),
                                seg.flags,    seg.window,    seg.urgent};
  const std::size_t hlen = wire::write_tcp_header(tcp, f, seg.opts);
  if (seg.payload_len > 0) {
    const std::span<uint8_t> dst(tcp + hlen, seg.payload_len);
    if (owner != kInvalidConn) apps_[conns_[owner].app].app->fill_payload(*this, owner, seg.payload_offset, dst);
    else std::memset(dst.data(), 0, dst.size());
  }
  const std::size_t l4 = hlen + seg.payload_len;
  wire::write_ipv4_header(ip, wire::Ipv4Addr{t.local_ip}, wire::Ipv4Addr{t.remote_ip}, wire::kIpProtoTcp,
                          static_cast<uint16_t>(l4), config_.ttl, 0, config_.tos, true, !offload);
  if (offload) {
    wire::set_tcp_offload_pseudo_checksum_ipv4(tcp, t.local_ip, t.remote_ip, static_cast<uint16_t>(l4));
  } else {
    wire::fill_tcp_checksum_ipv4(tcp, l4, t.local_ip, t.remote_ip);  // MUST-2
  }
  if (meta) {
    meta->checksum_offload = offload;
    meta->l4_len = static_cast<uint8_t>(hlen);
  }
  return kFrameHeaders + l4;
}

std::size_t Endpoint::poll_output(FrameSink& sink, Instant now, std::size_t max_frames) {
  std::size_t sent = 0;
  // Answers first: they are few and small.
  if (!drain_control(sink, sent, max_frames)) return sent;
  while (sent < max_frames) {
    Conn* c = ready_.pop_front();
    if (!c) break;
    const ConnId id = c->timer.owner;
    const auto hop = neighbors_.lookup(next_hop(wire::Ipv4Addr{c->tuple.remote_ip}), now);
    counters_.arp_table_full = neighbors_.full_drops();  // the cache counts; we report
    if (hop.send_request) queue_arp_request(next_hop(wire::Ipv4Addr{c->tuple.remote_ip}));
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
      TxMeta meta;
      const std::size_t len = write_tcp_frame(buf.data(), mac, c->tuple, seg, id,
                                              config_.tx_checksum_offload, &meta);
      sink.commit_frame(len, meta);
      ++counters_.frames_out;
      ++sent;
    }
    // More to send after a full burst: back of the line. Otherwise the connection waits for its
    // next event (requeueing here would spin on a connection whose window is closed).
    const bool more = burst == kBurstPerConnection || sent == max_frames;
    settle(id, now, more);
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
    sink.commit_frame(len, TxMeta{});
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
