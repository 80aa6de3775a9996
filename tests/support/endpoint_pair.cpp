// EndpointPair, the faulty link, frame builders/parser and the byte-verifying stream app.
#include "endpoint_pair.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "linetcp/base/byte_order.hpp"
#include "linetcp/wire/arp.hpp"
#include "linetcp/wire/checksum.hpp"
#include "linetcp/wire/icmp.hpp"
#include "linetcp/wire/tcp_header.hpp"

namespace linetcp::testing {

// ---------------------------------------------------------------------------------------------
// Streams

void fill_stream(uint64_t seed, uint64_t offset, std::span<uint8_t> dst) {
  std::size_t i = 0;
  while (i < dst.size()) {
    const uint64_t at = offset + i;
    const uint64_t block = stream_block(seed, at >> 3);
    for (uint64_t k = at & 7; k < 8 && i < dst.size(); ++k, ++i) dst[i] = static_cast<uint8_t>(block >> (k * 8));
  }
}

int64_t first_stream_mismatch(uint64_t seed, uint64_t offset, std::span<const uint8_t> data) {
  std::size_t i = 0;
  while (i < data.size()) {
    const uint64_t at = offset + i;
    const uint64_t block = stream_block(seed, at >> 3);
    for (uint64_t k = at & 7; k < 8 && i < data.size(); ++k, ++i)
      if (data[i] != static_cast<uint8_t>(block >> (k * 8))) return static_cast<int64_t>(i);
  }
  return -1;
}

// ---------------------------------------------------------------------------------------------
// Frames

std::vector<uint8_t> bytes_of(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

std::vector<uint8_t> make_tcp_frame(const TcpFrameSpec& s) {
  const std::size_t opt_len = wire::tcp_options_length(s.opts);
  const std::size_t l4 = wire::kTcpMinHeaderLen + opt_len + s.payload.size();
  std::vector<uint8_t> f(wire::kEthHeaderLen + wire::kIpv4MinHeaderLen + wire::kTcpMaxHeaderLen + s.payload.size());
  wire::write_ethernet(f.data(), s.dst_mac, s.src_mac, wire::kEtherTypeIpv4);
  uint8_t* ip = f.data() + wire::kEthHeaderLen;
  uint8_t* tcp = ip + wire::kIpv4MinHeaderLen;
  const wire::TcpHeaderFields h{s.src_port, s.dst_port, s.seq, s.ack, s.flags, s.window, s.urgent};
  const std::size_t hlen = wire::write_tcp_header(tcp, h, s.opts);
  std::copy(s.payload.begin(), s.payload.end(), tcp + hlen);
  wire::write_ipv4_header(ip, s.src_ip, s.dst_ip, wire::kIpProtoTcp, static_cast<uint16_t>(l4), 64, 0, 0, true,
                          false);
  base::store_be16(ip + 6, s.ip_frag);
  base::store_be16(ip + 10, wire::checksum_fold(wire::checksum_add(ip, wire::kIpv4MinHeaderLen)));
  wire::fill_tcp_checksum_ipv4(tcp, l4, s.src_ip.value, s.dst_ip.value);
  f.resize(wire::kEthHeaderLen + wire::kIpv4MinHeaderLen + l4);
  return f;
}

std::vector<uint8_t> make_arp_frame(uint16_t op, const wire::MacAddr& eth_dst, const wire::MacAddr& sender_mac,
                                    wire::Ipv4Addr sender_ip, const wire::MacAddr& target_mac,
                                    wire::Ipv4Addr target_ip) {
  std::vector<uint8_t> f(wire::kEthHeaderLen + wire::kArpLen);
  wire::write_ethernet(f.data(), eth_dst, sender_mac, wire::kEtherTypeArp);
  wire::write_arp(f.data() + wire::kEthHeaderLen, op, sender_mac, sender_ip, target_mac, target_ip);
  return f;
}

std::vector<uint8_t> make_icmp_frame(uint8_t type, uint8_t code, uint32_t rest, std::span<const uint8_t> body,
                                     const wire::MacAddr& src_mac, wire::Ipv4Addr src_ip,
                                     const wire::MacAddr& dst_mac, wire::Ipv4Addr dst_ip) {
  const std::size_t icmp_len = wire::kIcmpHeaderLen + body.size();
  std::vector<uint8_t> f(wire::kEthHeaderLen + wire::kIpv4MinHeaderLen + icmp_len);
  wire::write_ethernet(f.data(), dst_mac, src_mac, wire::kEtherTypeIpv4);
  uint8_t* ip = f.data() + wire::kEthHeaderLen;
  wire::write_ipv4_header(ip, src_ip, dst_ip, wire::kIpProtoIcmp, static_cast<uint16_t>(icmp_len), 64, 0x1234);
  uint8_t* m = ip + wire::kIpv4MinHeaderLen;
  m[0] = type;
  m[1] = code;
  base::store_be16(m + 2, 0);
  base::store_be32(m + 4, rest);
  std::copy(body.begin(), body.end(), m + wire::kIcmpHeaderLen);
  base::store_be16(m + 2, wire::checksum_fold(wire::checksum_add(m, icmp_len)));
  return f;
}

void fix_checksums(std::vector<uint8_t>& frame) {
  uint8_t* ip = frame.data() + wire::kEthHeaderLen;
  const std::size_t ihl = std::size_t{ip[0] & 0x0fu} * 4;
  const std::size_t total = base::load_be16(ip + 2);
  base::store_be16(ip + 10, 0);
  base::store_be16(ip + 10, wire::checksum_fold(wire::checksum_add(ip, ihl)));
  if (ip[9] == wire::kIpProtoTcp)
    wire::fill_tcp_checksum_ipv4(ip + ihl, total - ihl, base::load_be32(ip + 12), base::load_be32(ip + 16));
}

ParsedFrame parse_frame(std::span<const uint8_t> frame) {
  ParsedFrame p;
  const auto eth = wire::EthernetView::parse(frame);
  if (!eth) return p;
  p.eth_dst = eth->dst();
  p.eth_src = eth->src();
  p.ether_type = eth->ether_type();
  if (p.ether_type == wire::kEtherTypeArp) {
    const auto arp = wire::ArpView::parse(eth->payload());
    if (!arp) return p;
    p.arp_op = arp->op();
    p.arp_sender_mac = arp->sender_mac();
    p.arp_sender_ip = arp->sender_ip();
    p.arp_target_mac = arp->target_mac();
    p.arp_target_ip = arp->target_ip();
    p.ok = true;
    return p;
  }
  if (p.ether_type != wire::kEtherTypeIpv4) return p;
  wire::Ipv4View ip;
  if (wire::Ipv4View::parse(eth->payload(), ip, true) != wire::Ipv4Error::kOk) return p;
  p.ip_src = ip.src();
  p.ip_dst = ip.dst();
  p.ip_proto = ip.protocol();
  p.ttl = ip.ttl();
  p.tos = ip.tos();
  if (p.ip_proto == wire::kIpProtoIcmp) {
    p.payload.assign(ip.payload().begin(), ip.payload().end());
    p.ok = true;
    return p;
  }
  if (p.ip_proto != wire::kIpProtoTcp) return p;
  wire::TcpHeaderView th;
  if (wire::TcpHeaderView::parse(ip.payload(), th) != wire::TcpError::kOk) return p;
  p.tcp_checksum_ok = wire::verify_tcp_checksum_ipv4(p.ip_src.value, p.ip_dst.value, ip.payload()) == wire::TcpError::kOk;
  p.src_port = th.src_port();
  p.dst_port = th.dst_port();
  p.seq = th.seq();
  p.ack = th.ack();
  p.flags = th.flags();
  p.window = th.window();
  if (wire::parse_tcp_options(th.options(), p.opts) != wire::OptionsParse::kOk) return p;
  p.payload.assign(th.payload().begin(), th.payload().end());
  p.ok = true;
  return p;
}

std::span<uint8_t> FrameCollector::alloc_frame() {
  if (frames.size() >= capacity_) return {};
  return std::span<uint8_t>(buf_);
}

void FrameCollector::commit_frame(std::size_t len, const engine::TxMeta& meta) {
  if (len == 0) return;
  frames.emplace_back(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(len));
  metas.push_back(meta);
}

// ---------------------------------------------------------------------------------------------
// FaultyLink

namespace {
bool later(const auto& a, const auto& b) { return a.at != b.at ? a.at > b.at : a.order > b.order; }
}  // namespace

FaultyLink::FaultyLink(uint64_t seed, const FrameFaults& dir0, const FrameFaults& dir1) : rng_(seed) {
  dirs_[0].faults = dir0;
  dirs_[1].faults = dir1;
}

std::vector<uint8_t> FaultyLink::take_buffer(std::span<const uint8_t> bytes) {
  std::vector<uint8_t> b;
  if (!pool_.empty()) {
    b = std::move(pool_.back());
    pool_.pop_back();
  }
  b.assign(bytes.begin(), bytes.end());
  return b;
}

void FaultyLink::recycle(std::vector<uint8_t>&& buf) {
  if (pool_.size() < 4096) pool_.push_back(std::move(buf));
}

void FaultyLink::enqueue(Direction& d, std::vector<uint8_t>&& bytes, Instant now, bool may_corrupt) {
  const FrameFaults& f = d.faults;
  if (may_corrupt && f.corrupt > 0 && uniform() < f.corrupt && bytes.size() > wire::kEthHeaderLen &&
      base::load_be16(bytes.data() + 12) == wire::kEtherTypeIpv4) {
    // One byte of the IPv4 header or what follows: always caught by a checksum (a single byte
    // changes a 16-bit word by less than 0xffff, which a ones-complement sum always notices).
    // Only bytes up to the IP total length: a flipped Ethernet pad byte is invisible.
    const std::size_t ip_len = std::min<std::size_t>(base::load_be16(bytes.data() + 16), bytes.size() - 14);
    const std::size_t at = wire::kEthHeaderLen + std::uniform_int_distribution<std::size_t>(0, ip_len - 1)(rng_);
    bytes[at] ^= static_cast<uint8_t>(std::uniform_int_distribution<int>(1, 255)(rng_));
    ++d.stats.corrupted;
  }
  Duration delay = f.delay;
  if (f.jitter > Duration::zero())
    delay += Duration::nanos(std::uniform_int_distribution<int64_t>(0, f.jitter.ns())(rng_));
  d.heap.push_back(InFlight{now + delay, order_++, std::move(bytes)});
  std::push_heap(d.heap.begin(), d.heap.end(), [](const InFlight& a, const InFlight& b) { return later(a, b); });
}

void FaultyLink::release_held(Direction& d, Instant now) {
  for (std::size_t i = 0; i < d.held.size();) {
    Held& h = d.held[i];
    if (h.frames_left == 0 || h.release_at <= now) {
      std::vector<uint8_t> bytes = std::move(h.bytes);
      d.held[i] = std::move(d.held.back());
      d.held.pop_back();
      enqueue(d, std::move(bytes), now, true);
    } else {
      ++i;
    }
  }
}

void FaultyLink::send(int dir, std::span<const uint8_t> frame, Instant now) {
  Direction& d = dirs_[dir];
  const FrameFaults& f = d.faults;
  ++d.stats.sent;
  for (Held& h : d.held)
    if (h.frames_left > 0) --h.frames_left;
  if (f.drop > 0 && uniform() < f.drop) {
    ++d.stats.dropped;
    release_held(d, now);
    return;
  }
  const bool dup = f.duplicate > 0 && uniform() < f.duplicate;
  if (f.reorder > 0 && uniform() < f.reorder) {
    ++d.stats.reordered;
    d.held.push_back(Held{std::max<uint32_t>(f.reorder_frames, 1), now + f.reorder_hold, take_buffer(frame)});
  } else {
    enqueue(d, take_buffer(frame), now, true);
  }
  if (dup) {
    ++d.stats.duplicated;
    enqueue(d, take_buffer(frame), now, true);
  }
  release_held(d, now);
}

Instant FaultyLink::next_event() const {
  Instant t = Instant::never();
  for (const Direction& d : dirs_) {
    if (!d.heap.empty()) t = base::min(t, d.heap.front().at);
    for (const Held& h : d.held) t = base::min(t, h.release_at);
  }
  return t;
}

bool FaultyLink::pop_due(int dir, Instant now, std::vector<uint8_t>& out) {
  Direction& d = dirs_[dir];
  release_held(d, now);
  if (d.heap.empty() || d.heap.front().at > now) return false;
  std::pop_heap(d.heap.begin(), d.heap.end(), [](const InFlight& a, const InFlight& b) { return later(a, b); });
  recycle(std::move(out));
  out = std::move(d.heap.back().bytes);
  d.heap.pop_back();
  ++d.stats.delivered;
  return true;
}

bool FaultyLink::idle() const {
  return dirs_[0].heap.empty() && dirs_[1].heap.empty() && dirs_[0].held.empty() && dirs_[1].held.empty();
}

// ---------------------------------------------------------------------------------------------
// EndpointPair

engine::EndpointConfig pair_config(Side side) {
  engine::EndpointConfig c;
  c.mac = side == Side::kClient ? kClientMac : kServerMac;
  c.address = side == Side::kClient ? kClientIp : kServerIp;
  c.prefix_length = 24;
  c.max_connections = 1024;
  c.syn_backlog = 256;
  c.time_wait_capacity = 1024;
  c.ooo_chunks = 4096;
  c.neighbor_capacity = 64;
  c.secret = side == Side::kClient ? std::array<uint64_t, 2>{0x1111, 0x2222} : std::array<uint64_t, 2>{0x3333, 0x4444};
  return c;
}

EndpointPair::EndpointPair(const PairOptions& o)
    : client_(std::make_unique<engine::Endpoint>(o.client, o.start)),
      server_(std::make_unique<engine::Endpoint>(o.server, o.start)),
      link_(o.seed, o.to_server, o.to_client),
      now_(o.start) {}

bool EndpointPair::drain(Side from) {
  engine::Endpoint& ep = endpoint(from);
  bool any = false;
  for (int guard = 0; guard < 10000 && ep.has_output(); ++guard) {
    collector_.clear();
    const std::size_t n = ep.poll_output(collector_, now_, 64);
    frames_this_instant_ += n;
    for (std::vector<uint8_t>& f : collector_.frames) {
      if (filter && !filter(from, f)) continue;
      if (record_frames) (from == Side::kClient ? sent_by_client : sent_by_server).push_back(f);
      link_.send(from == Side::kClient ? 0 : 1, f, now_);
    }
    if (n == 0) break;
    any = true;
  }
  return any;
}

void EndpointPair::pump() {
  if (on_tick) on_tick(now_);
  frames_this_instant_ = 0;
  // Virtual time stands still here: an endpoint that keeps sending without time passing (a
  // livelock) must fail the test, not hang it.
  for (int round = 0; round < 10000 && frames_this_instant_ < kMaxFramesPerInstant; ++round) {
    bool progress = false;
    while (link_.pop_due(0, now_, rx_)) {
      server_->input(rx_, now_);
      progress = true;
    }
    while (link_.pop_due(1, now_, rx_)) {
      client_->input(rx_, now_);
      progress = true;
    }
    if (client_->next_deadline() <= now_) client_->advance(now_);
    if (server_->next_deadline() <= now_) server_->advance(now_);
    progress |= drain(Side::kClient);
    progress |= drain(Side::kServer);
    if (!progress) return;
    // After every exchange, as the worker loop polls its workload after every RX burst: what
    // arrived (a close that frees a load client's slot) may make the workload due at this instant.
    if (on_tick) on_tick(now_);
  }
  stuck_ = true;
  ADD_FAILURE() << "EndpointPair::pump: no quiescence at one instant (" << frames_this_instant_ << " frames)";
}

bool EndpointPair::run_until(const std::function<bool()>& pred, Duration max_virtual) {
  const Instant limit = now_ + max_virtual;
  for (uint64_t i = 0; i < 100'000'000; ++i) {
    ++steps_;
    pump();
    if (pred()) return true;
    if (stuck_) return false;
    Instant next = base::min(base::min(client_->next_deadline(), server_->next_deadline()), link_.next_event());
    if (extra_deadline) {
      const Instant e = extra_deadline();
      if (e > now_) next = base::min(next, e);
    }
    // A deadline that did not move after advance() (timer wheel rounding) must not stall us.
    if (next <= now_) next = now_ + Duration::micros(1);
    if (next > limit) {
      now_ = limit;
      pump();
      return pred();
    }
    now_ = next;
  }
  ADD_FAILURE() << "EndpointPair::run_until: step limit";
  return false;
}

void EndpointPair::run_for(Duration d) {
  run_until([] { return false; }, d);
}

// ---------------------------------------------------------------------------------------------
// StreamApp

StreamApp::StreamApp(Side side, uint64_t salt, uint32_t max_connections, const StreamPlan& plan)
    : side_(side), salt_(salt), plan_(plan), conns_(max_connections) {}

uint64_t StreamApp::stream_seed(uint64_t salt, uint16_t client_port, Side sender) {
  return stream_block(salt * 0x100000001B3ull, (uint64_t{client_port} << 1) | (sender == Side::kServer ? 1 : 0));
}

void StreamApp::on_open(engine::Endpoint& ep, engine::ConnId id) {
  Conn& c = conns_[id];
  c = Conn{};
  c.open = true;
  const engine::FourTuple& t = ep.tuple(id);
  c.client_port = side_ == Side::kClient ? t.local_port : t.remote_port;
  ++totals_.opened;
  if (plan_.send_bytes > 0) ep.send(id, plan_.send_bytes);
  if (plan_.close_after_send) {
    c.fin_sent = true;
    ep.close(id);
  }
}

void StreamApp::on_data(engine::Endpoint&, engine::ConnId id, std::span<const uint8_t> data) {
  Conn& c = conns_[id];
  const Side peer = side_ == Side::kClient ? Side::kServer : Side::kClient;
  if (first_stream_mismatch(stream_seed(salt_, c.client_port, peer), c.received, data) >= 0) ++totals_.mismatches;
  c.received += data.size();
  totals_.bytes_received += data.size();
}

void StreamApp::on_acked(engine::Endpoint&, engine::ConnId id, uint64_t acked_until) {
  Conn& c = conns_[id];
  if (acked_until < c.acked) ADD_FAILURE() << "on_acked went backwards";
  c.acked = acked_until;
  totals_.max_acked = std::max(totals_.max_acked, acked_until);
}

void StreamApp::on_peer_closed(engine::Endpoint& ep, engine::ConnId id) {
  Conn& c = conns_[id];
  ++totals_.peer_fins;
  if (plan_.close_on_peer_fin && !c.fin_sent) {
    c.fin_sent = true;
    ep.close(id);
  }
}

void StreamApp::on_closed(engine::Endpoint&, engine::ConnId id, tcp::CloseReason reason) {
  Conn& c = conns_[id];
  ++totals_.closed;
  close_reasons.push_back(reason);
  if (reason == tcp::CloseReason::kNormal) {
    ++totals_.closed_normal;
    if (c.received == plan_.expect_bytes) ++totals_.complete;
  } else {
    ++totals_.closed_other;
  }
  c.open = false;
}

void StreamApp::fill_payload(engine::Endpoint&, engine::ConnId id, uint64_t offset, std::span<uint8_t> dst) {
  ++totals_.fill_calls;
  const Conn& c = conns_[id];
  if (offset + dst.size() > plan_.send_bytes) ADD_FAILURE() << "fill_payload beyond the stream";
  fill_stream(stream_seed(salt_, c.client_port, side_), offset, dst);
}

}  // namespace linetcp::testing
