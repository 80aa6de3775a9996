// IPv6 in the engine: NDP, ICMPv6 echo, TCP over IPv6 (pseudo-header checksum, MSS 1220 without
// the option), extension headers, malformed packets under named counters, IPv4 and IPv6 mixed on
// one endpoint pair with verified bytes, hundreds of local addresses (config ranges), the
// remote-address table's references, the IPv6 neighbour cache, and next-hop choice (routes,
// gateways, static gateway MACs).
#include <gtest/gtest.h>

#include <vector>

#include "endpoint_pair.hpp"
#include "linetcp/engine/endpoint.hpp"
#include "linetcp/engine/peer_table.hpp"
#include "linetcp/wire/arp.hpp"
#include "linetcp/wire/checksum.hpp"
#include "linetcp/wire/icmpv6.hpp"
#include "linetcp/wire/ipv6.hpp"
#include "linetcp/wire/tcp_header.hpp"
#include "linetcp/wire/tcp_options.hpp"

namespace linetcp::testing {
namespace {

using engine::ConnId;
using engine::Endpoint;
using wire::Ipv6Addr;

Ipv6Addr A(const char* s) { return *Ipv6Addr::parse(s); }
const Ipv6Addr kServer6 = A("2001:db8::1");
const Ipv6Addr kClient6 = A("2001:db8::2");

engine::EndpointConfig config6(Side side) {
  engine::EndpointConfig c = pair_config(side);
  c.addresses6 = {*wire::Ipv6Prefix::parse(side == Side::kServer ? "2001:db8::1/64" : "2001:db8::2/64")};
  return c;
}

// A frame the endpoint sent, parsed as IPv6: ICMPv6 message or TCP segment, checksums verified.
struct Parsed6 {
  bool ok = false;
  wire::MacAddr eth_dst;
  Ipv6Addr src, dst;
  uint8_t proto = 0;
  uint8_t hop_limit = 0;
  std::vector<uint8_t> icmp;  // the ICMPv6 message
  uint16_t src_port = 0, dst_port = 0;
  uint32_t seq = 0, ack = 0;
  uint8_t flags = 0;
  wire::TcpOptions opts;
  std::size_t payload = 0;
};
Parsed6 parse6(std::span<const uint8_t> frame) {
  Parsed6 p;
  const auto eth = wire::EthernetView::parse(frame);
  if (!eth || eth->ether_type() != wire::kEtherTypeIpv6) return p;
  p.eth_dst = eth->dst();
  wire::Ipv6View ip;
  if (wire::Ipv6View::parse(eth->payload(), ip) != wire::Ipv6Error::kOk) return p;
  p.src = ip.src();
  p.dst = ip.dst();
  p.proto = ip.protocol();
  p.hop_limit = ip.hop_limit();
  if (wire::upper_checksum_ipv6(ip.src_bytes(), ip.dst_bytes(), p.proto, ip.payload()) != 0) return p;
  if (p.proto == wire::kIpProtoIcmpv6) {
    p.icmp.assign(ip.payload().begin(), ip.payload().end());
    p.ok = true;
    return p;
  }
  wire::TcpHeaderView th;
  if (p.proto != wire::kIpProtoTcp || wire::TcpHeaderView::parse(ip.payload(), th) != wire::TcpError::kOk) return p;
  p.src_port = th.src_port();
  p.dst_port = th.dst_port();
  p.seq = th.seq();
  p.ack = th.ack();
  p.flags = th.flags();
  p.payload = th.payload().size();
  p.ok = wire::parse_tcp_options(th.options(), p.opts) == wire::OptionsParse::kOk;
  return p;
}

// Ethernet + IPv6 (+ `ext` extension headers, the first of type `first_next`) + `l4`, the upper
// layer's checksum at `csum_at` filled in for protocol `proto`.
std::vector<uint8_t> frame6(const Ipv6Addr& src, const Ipv6Addr& dst, uint8_t proto, std::vector<uint8_t> l4,
                            std::size_t csum_at, uint8_t hops = 64, const wire::MacAddr& dst_mac = kServerMac,
                            uint8_t first_next = 0xff, const std::vector<uint8_t>& ext = {}) {
  l4[csum_at] = l4[csum_at + 1] = 0;
  base::store_be16(l4.data() + csum_at, wire::upper_checksum_ipv6(src.bytes.data(), dst.bytes.data(), proto, l4));
  std::vector<uint8_t> f(wire::kEthHeaderLen + wire::kIpv6HeaderLen);
  wire::write_ethernet(f.data(), dst_mac, kClientMac, wire::kEtherTypeIpv6);
  wire::write_ipv6_header(f.data() + wire::kEthHeaderLen, src, dst, first_next == 0xff ? proto : first_next,
                          static_cast<uint16_t>(ext.size() + l4.size()), hops);
  f.insert(f.end(), ext.begin(), ext.end());
  f.insert(f.end(), l4.begin(), l4.end());
  return f;
}
std::vector<uint8_t> tcp6(uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
                          const wire::TcpOptions& opts = {}, const Ipv6Addr& src = kClient6,
                          const Ipv6Addr& dst = kServer6, uint8_t first_next = 0xff,
                          const std::vector<uint8_t>& ext = {}) {
  std::vector<uint8_t> l4(wire::kTcpMaxHeaderLen);
  const std::size_t n = wire::write_tcp_header(l4.data(), {sport, dport, seq, ack, flags, 65535, 0}, opts);
  l4.resize(n);
  return frame6(src, dst, wire::kIpProtoTcp, l4, 16, 64, kServerMac, first_next, ext);
}
std::vector<uint8_t> icmp6(const Ipv6Addr& src, const Ipv6Addr& dst, std::vector<uint8_t> msg, uint8_t hops,
                           const wire::MacAddr& dst_mac = kServerMac) {
  return frame6(src, dst, wire::kIpProtoIcmpv6, std::move(msg), 2, hops, dst_mac);
}
std::vector<uint8_t> ns_for(const Ipv6Addr& target, const Ipv6Addr& src = kClient6, uint8_t hops = 255) {
  std::vector<uint8_t> m(wire::kNdMessageLen);
  wire::write_neighbor_solicitation(m.data(), target, kClientMac, src, target.solicited_node());
  return icmp6(src, target.solicited_node(), m, hops, target.solicited_node().multicast_mac());
}

class App6 final : public engine::App {
 public:
  void on_open(Endpoint&, ConnId id) override { opened.push_back(id); }
  void on_closed(Endpoint&, ConnId, tcp::CloseReason) override { ++closed; }
  void fill_payload(Endpoint&, ConnId, uint64_t offset, std::span<uint8_t> dst) override { fill_stream(5, offset, dst); }
  std::vector<ConnId> opened;
  int closed = 0;
};

class Ipv6EndpointTest : public ::testing::Test {
 protected:
  Ipv6EndpointTest() : ep_(config6(Side::kServer), now_) {}
  std::vector<std::vector<uint8_t>> feed(const std::vector<uint8_t>& frame) {
    ep_.input(frame, now_);
    FrameCollector col;
    while (ep_.poll_output(col, now_, 64) > 0) {
    }
    return col.frames;
  }
  Instant now_ = Instant::from_ns(10'000'000'000);
  Endpoint ep_;
  App6 app_;
};

TEST_F(Ipv6EndpointTest, NeighborSolicitationForOurAddressIsAdvertisedAndTheSenderLearned) {
  const auto out = feed(ns_for(kServer6));
  ASSERT_EQ(out.size(), 1u);
  const Parsed6 na = parse6(out[0]);
  ASSERT_TRUE(na.ok);
  EXPECT_EQ(na.eth_dst, kClientMac);
  EXPECT_EQ(na.src, kServer6);
  EXPECT_EQ(na.dst, kClient6);
  EXPECT_EQ(na.hop_limit, 255);  // RFC 4861 §7.1.2
  ASSERT_EQ(na.icmp.size(), wire::kNdMessageLen);
  EXPECT_EQ(na.icmp[0], wire::kIcmpv6NeighborAdvertisement);
  EXPECT_EQ(na.icmp[4], 0x60);  // Solicited + Override
  EXPECT_EQ(Ipv6Addr::from_bytes(na.icmp.data() + 8), kServer6);
  EXPECT_EQ(na.icmp[24], wire::kNdOptTargetLinkAddr);
  EXPECT_EQ(wire::MacAddr::from_bytes(na.icmp.data() + 26), kServerMac);
  EXPECT_EQ(ep_.counters().ndp_advertisements_out, 1u);
  // The link-local address derived from the MAC is answered too.
  const auto ll = feed(ns_for(Ipv6Addr::link_local_from_mac(kServerMac), A("fe80::2")));
  ASSERT_EQ(ll.size(), 1u);
  EXPECT_EQ(parse6(ll[0]).src, Ipv6Addr::link_local_from_mac(kServerMac));
  // The sender was learned: a SYN-ACK needs no solicitation of our own.
  ASSERT_TRUE(ep_.listen(80, app_));
  wire::TcpOptions o;
  const auto synack = feed(tcp6(40000, 80, 1000, 0, wire::kTcpSyn, o));
  ASSERT_EQ(synack.size(), 1u);
  EXPECT_EQ(parse6(synack[0]).flags, wire::kTcpSyn | wire::kTcpAck);
  EXPECT_EQ(ep_.counters().ndp_solicitations_out, 0u);
}

TEST_F(Ipv6EndpointTest, NeighborDiscoveryRulesAreEnforced) {
  EXPECT_TRUE(feed(ns_for(A("2001:db8::99"))).empty());  // another host's address: silence
  EXPECT_TRUE(feed(ns_for(kServer6, kClient6, 64)).empty());  // forwarded (hop limit 64)
  EXPECT_EQ(ep_.counters().ndp_bad, 1u);
  // Duplicate address detection (from ::) is answered to all-nodes, unsolicited.
  std::vector<uint8_t> m(wire::kNdMessageLen);
  wire::write_neighbor_solicitation(m.data(), kServer6, kClientMac, Ipv6Addr{}, kServer6.solicited_node());
  m.resize(24);  // no source link-layer option from ::
  const auto out = feed(icmp6(Ipv6Addr{}, kServer6.solicited_node(), m, 255, kServer6.solicited_node().multicast_mac()));
  ASSERT_EQ(out.size(), 1u);
  const Parsed6 na = parse6(out[0]);
  EXPECT_EQ(na.dst, wire::kIpv6AllNodes);
  EXPECT_EQ(na.eth_dst.to_string(), "33:33:00:00:00:01");
  EXPECT_EQ(na.icmp[4], 0x20);  // Override only
  // Frames to a multicast MAC of a group we are not in reach IPv6 and are not for us.
  EXPECT_TRUE(feed(tcp6(40000, 80, 1, 0, wire::kTcpSyn, {}, kClient6, A("ff02::1:ff00:5"))).empty());
  EXPECT_EQ(ep_.counters().ipv6_not_for_us, 1u);
}

TEST_F(Ipv6EndpointTest, EchoRequestIsAnswered) {
  const auto out = feed(icmp6(kClient6, kServer6, {wire::kIcmpv6EchoRequest, 0, 0, 0, 0, 9, 0, 1, 'a', 'b', 'c'}, 64));
  ASSERT_EQ(out.size(), 1u);
  const Parsed6 r = parse6(out[0]);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.eth_dst, kClientMac);
  EXPECT_EQ(r.src, kServer6);
  EXPECT_EQ(r.dst, kClient6);
  EXPECT_EQ(r.icmp, (std::vector<uint8_t>{wire::kIcmpv6EchoReply, 0, r.icmp[2], r.icmp[3], 0, 9, 0, 1, 'a', 'b', 'c'}));
  EXPECT_EQ(ep_.counters().icmp6_echo_replies, 1u);
  // A bad checksum: counted, no answer.
  auto bad = icmp6(kClient6, kServer6, {wire::kIcmpv6EchoRequest, 0, 0, 0, 0, 9, 0, 1}, 64);
  bad.back() ^= 1;
  EXPECT_TRUE(feed(bad).empty());
  EXPECT_EQ(ep_.counters().icmp6_bad, 1u);
  // Errors are counted, never acted on (MUST-56).
  EXPECT_TRUE(feed(icmp6(kClient6, kServer6, {wire::kIcmpv6PacketTooBig, 0, 0, 0, 0, 0, 5, 0}, 64)).empty());
  EXPECT_EQ(ep_.counters().icmp6_errors_in, 1u);
}

// RFC9293 MUST-15: without an MSS option an IPv6 peer is assumed to take 1220 bytes (IPv4: 536).
TEST_F(Ipv6EndpointTest, SynWithoutMssGetsTheIpv6DefaultAndOurMssIsMtuLess60) {
  ASSERT_TRUE(ep_.listen(80, app_));
  feed(ns_for(kServer6));
  const auto out = feed(tcp6(40000, 80, 1000, 0, wire::kTcpSyn));
  ASSERT_EQ(out.size(), 1u);
  const Parsed6 sa = parse6(out[0]);
  ASSERT_TRUE(sa.ok);  // the TCP checksum verifies with the IPv6 pseudo header
  EXPECT_EQ(sa.flags, wire::kTcpSyn | wire::kTcpAck);
  EXPECT_EQ(sa.ack, 1001u);
  ASSERT_TRUE(sa.opts.has_mss);
  EXPECT_EQ(sa.opts.mss, 1500 - 60);
  feed(tcp6(40000, 80, 1001, sa.seq + 1, wire::kTcpAck));
  ASSERT_EQ(app_.opened.size(), 1u);
  const ConnId id = app_.opened[0];
  EXPECT_TRUE(ep_.is_ipv6(id));
  EXPECT_EQ(ep_.connection(id).send_mss(), 1220u);
  EXPECT_EQ(ep_.remote_ipv6(id), kClient6);
  EXPECT_EQ(ep_.local_ipv6(id), kServer6);
  EXPECT_EQ(ep_.ipv6_peer_count(), 1u);
  // The same over IPv4 stays 536 (the IPv4 endpoint behaviour is unchanged).
  Endpoint v4(pair_config(Side::kServer), now_);
  ASSERT_TRUE(v4.listen(80, app_));
  v4.input(make_arp_frame(wire::kArpRequest, wire::MacAddr::broadcast(), kClientMac, kClientIp, {}, kServerIp), now_);
  TcpFrameSpec s;
  s.flags = wire::kTcpSyn;
  s.seq = 5;
  v4.input(make_tcp_frame(s), now_);
  FrameCollector col;
  while (v4.poll_output(col, now_, 64) > 0) {
  }
  const ParsedFrame p = parse_frame(col.frames.back());
  s.flags = wire::kTcpAck;
  s.seq = 6;
  s.ack = p.seq + 1;
  v4.input(make_tcp_frame(s), now_);
  ASSERT_EQ(app_.opened.size(), 2u);
  EXPECT_EQ(v4.connection(app_.opened[1]).send_mss(), 536u);
  EXPECT_EQ(p.opts.mss, 1460u);
}

TEST_F(Ipv6EndpointTest, SegmentsBehindExtensionHeadersReachTcpAndLongChainsAreDropped) {
  ASSERT_TRUE(ep_.listen(80, app_));
  feed(ns_for(kServer6));
  const std::vector<uint8_t> hbh_then_tcp{wire::kIpProtoTcp, 0, 1, 4, 0, 0, 0, 0};  // hop-by-hop, PadN
  auto out = feed(tcp6(40000, 80, 1000, 0, wire::kTcpSyn, {}, kClient6, kServer6, wire::kIpProtoHopByHop, hbh_then_tcp));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(parse6(out[0]).flags, wire::kTcpSyn | wire::kTcpAck);
  std::vector<uint8_t> chain;
  for (int i = 0; i < 9; ++i) {
    const std::vector<uint8_t> h{static_cast<uint8_t>(i == 8 ? wire::kIpProtoTcp : wire::kIpProtoDestOpts), 0, 1, 4, 0, 0, 0, 0};
    chain.insert(chain.end(), h.begin(), h.end());
  }
  EXPECT_TRUE(feed(tcp6(40001, 80, 1000, 0, wire::kTcpSyn, {}, kClient6, kServer6, wire::kIpProtoDestOpts, chain)).empty());
  EXPECT_EQ(ep_.counters().ipv6_bad_header, 1u);
  const std::vector<uint8_t> frag{wire::kIpProtoTcp, 0, 0, 1, 0, 0, 0, 1};
  EXPECT_TRUE(feed(tcp6(40002, 80, 1000, 0, wire::kTcpSyn, {}, kClient6, kServer6, wire::kIpProtoFragment, frag)).empty());
  EXPECT_EQ(ep_.counters().ipv6_fragments, 1u);
}

TEST_F(Ipv6EndpointTest, MalformedAndStrayPacketsAreCountedAndDropped) {
  ASSERT_TRUE(ep_.listen(80, app_));
  feed(ns_for(kServer6));
  auto bad = tcp6(40000, 80, 1000, 0, wire::kTcpSyn);
  bad.back() ^= 0x10;  // TCP checksum
  EXPECT_TRUE(feed(bad).empty());
  EXPECT_EQ(ep_.counters().tcp_bad_checksum, 1u);
  EXPECT_TRUE(feed(tcp6(40000, 80, 1, 0, wire::kTcpSyn, {}, kServer6, kServer6)).empty());  // our own source
  EXPECT_TRUE(feed(tcp6(40000, 80, 1, 0, wire::kTcpSyn, {}, A("ff02::1"), kServer6)).empty());
  EXPECT_EQ(ep_.counters().ipv6_bad_source, 2u);
  EXPECT_TRUE(feed(tcp6(40000, 80, 1, 0, wire::kTcpSyn, {}, kClient6, A("2001:db8::77"))).empty());
  EXPECT_EQ(ep_.counters().ipv6_not_for_us, 1u);
  auto truncated = tcp6(40000, 80, 1000, 0, wire::kTcpSyn);
  truncated.resize(truncated.size() - 4);  // payload length now runs past the frame
  EXPECT_TRUE(feed(truncated).empty());
  EXPECT_EQ(ep_.counters().ipv6_bad_header, 1u);
  // An endpoint without IPv6 addresses counts IPv6 as not for it.
  Endpoint v4(pair_config(Side::kServer), now_);
  v4.input(tcp6(40000, 80, 1, 0, wire::kTcpSyn), now_);
  EXPECT_EQ(v4.counters().ipv6_not_for_us, 1u);
  EXPECT_EQ(ep_.ipv6_peer_count(), 0u);  // nothing held a reference
}

TEST_F(Ipv6EndpointTest, UnknownTupleGetsAResetAndNoPeerIsKept) {
  feed(ns_for(kServer6));
  const auto out = feed(tcp6(40000, 81, 1000, 0, wire::kTcpSyn));
  ASSERT_EQ(out.size(), 1u);
  const Parsed6 r = parse6(out[0]);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.flags, wire::kTcpRst | wire::kTcpAck);
  EXPECT_EQ(r.ack, 1001u);
  EXPECT_EQ(r.dst, kClient6);
  EXPECT_EQ(ep_.ipv6_peer_count(), 0u);
}

// Both families at once between two endpoints, with loss: every byte verified, peers released.
TEST(Ipv6Pair, MixedIpv4AndIpv6ConnectionsTransferVerifiedBytesWithLoss) {
  PairOptions o;
  o.client = config6(Side::kClient);
  o.server = config6(Side::kServer);
  o.client.time_wait = o.server.time_wait = Duration::seconds(2);
  o.to_server.drop = o.to_client.drop = 0.02;
  o.seed = 7;
  EndpointPair pair(o);
  pair.record_frames = true;
  const StreamPlan cp{200'000, true, true, 300'000};
  const StreamPlan sp{300'000, false, true, 200'000};
  StreamApp server(Side::kServer, 3, 1024, sp);
  StreamApp client(Side::kClient, 3, 1024, cp);
  ASSERT_TRUE(pair.server().listen(5001, server));
  std::vector<ConnId> ids;
  for (int i = 0; i < 8; ++i) {
    const ConnId id = i % 2 ? pair.client().connect(kServerIp, 5001, client, pair.now())
                            : pair.client().connect(kServer6, 5001, client, pair.now());
    ASSERT_NE(id, engine::kInvalidConn);
    EXPECT_EQ(pair.client().is_ipv6(id), i % 2 == 0);
    ids.push_back(id);
  }
  EXPECT_EQ(pair.client().ipv6_peer_count(), 1u);  // one server address, shared
  ASSERT_TRUE(pair.run_until([&] { return client.totals().closed == 8 && server.totals().closed == 8; },
                             Duration::seconds(120)));
  EXPECT_EQ(client.totals().complete, 8u);
  EXPECT_EQ(server.totals().complete, 8u);
  EXPECT_EQ(client.totals().mismatches + server.totals().mismatches, 0u);
  // Frames of both families crossed, IPv6 ones valid IPv6 TCP.
  std::size_t v6 = 0, v4 = 0;
  for (const auto& f : pair.sent_by_client) {
    const uint16_t type = base::load_be16(f.data() + 12);
    if (type == wire::kEtherTypeIpv6 && parse6(f).proto == wire::kIpProtoTcp) {
      ASSERT_TRUE(parse6(f).ok);
      EXPECT_EQ(parse6(f).src, kClient6);
      ++v6;
    }
    if (type == wire::kEtherTypeIpv4) ++v4;
  }
  EXPECT_GT(v6, 100u);
  EXPECT_GT(v4, 100u);
  EXPECT_GT(pair.client().counters().ndp_solicitations_out, 0u);
  EXPECT_GT(pair.server().counters().ndp_advertisements_out, 0u);
  // After TIME_WAIT nothing holds a remote address any more.
  pair.run_for(Duration::seconds(5));
  EXPECT_EQ(pair.client().time_wait_count(), 0u);
  EXPECT_EQ(pair.client().ipv6_peer_count(), 0u);
  EXPECT_EQ(pair.server().ipv6_peer_count(), 0u);
  EXPECT_EQ(pair.client().active_connections(), 0u);
  EXPECT_EQ(pair.client().ports_available(), pair.client().config().ephemeral_last - pair.client().config().ephemeral_first + 1u);
}

TEST(Ipv6Pair, ClientTakesItsIpv6SourceAddressesInTurn) {
  PairOptions o;
  o.client = config6(Side::kClient);
  o.client.addresses6.push_back(*wire::Ipv6Prefix::parse("2001:db8::3/64"));
  o.client.addresses6.push_back(*wire::Ipv6Prefix::parse("2001:db8:1::3/64"));  // another subnet
  o.server = config6(Side::kServer);
  EndpointPair pair(o);
  StreamApp server(Side::kServer, 4, 1024, StreamPlan{1000, true, true, 1000});
  StreamApp client(Side::kClient, 4, 1024, StreamPlan{1000, true, true, 1000});
  ASSERT_TRUE(pair.server().listen(80, server));
  std::vector<Ipv6Addr> sources;
  for (int i = 0; i < 6; ++i) {
    const ConnId id = pair.client().connect(kServer6, 80, client, pair.now());
    ASSERT_NE(id, engine::kInvalidConn);
    sources.push_back(pair.client().local_ipv6(id));
  }
  EXPECT_EQ(sources[0], A("2001:db8::2"));
  EXPECT_EQ(sources[1], A("2001:db8::3"));
  EXPECT_EQ(sources[2], A("2001:db8:1::3"));
  EXPECT_EQ(sources[3], A("2001:db8::2"));
  // The server answers NS for... only its own addresses; the 2001:db8:1::/64 source is off its
  // subnet and has no route: it answers through the neighbour cache learned from the NS.
  ASSERT_TRUE(pair.run_until([&] { return client.totals().closed == 6; }, Duration::seconds(60)));
  EXPECT_EQ(client.totals().complete, 6u);
  EXPECT_EQ(client.totals().mismatches + server.totals().mismatches, 0u);
  // A local address that is not ours is refused (MUST-43); so are multicast peers (MUST-46).
  EXPECT_EQ(pair.client().connect(kServer6, 80, client, pair.now(), nullptr, 0, A("2001:db8::9")), engine::kInvalidConn);
  EXPECT_EQ(pair.client().connect(A("ff02::1"), 80, client, pair.now()), engine::kInvalidConn);
}

// `count` consecutive addresses from `first`, with `length` as prefix: what a config range gives.
std::vector<wire::Ipv6Prefix> range6(const char* first, int count, uint8_t length = 64) {
  std::vector<wire::Ipv6Prefix> out;
  wire::Ipv6Prefix p{A(first), length};
  for (int i = 0; i < count; ++i) {
    out.push_back(p);
    for (int b = 15; b >= 0 && ++p.addr.bytes[static_cast<std::size_t>(b)] == 0; --b) {
    }
  }
  return out;
}

TEST(Ipv6Pair, HundredsOfAddressesFromRangesAreSourcesTargetsAndAnsweredInAnyOrder) {
  // Blocks listed out of address order, so that the address-ordered lookup must map back to the
  // table's order; 256 client addresses, as many as the configuration allows.
  PairOptions o;
  o.client = config6(Side::kClient);  // 2001:db8::2 first
  for (const auto& p : range6("2001:db8::200", 128)) o.client.addresses6.push_back(p);
  for (const auto& p : range6("2001:db8::100", 127)) o.client.addresses6.push_back(p);
  o.server = config6(Side::kServer);  // 2001:db8::1 first
  for (const auto& p : range6("2001:db8::8000", 64)) o.server.addresses6.push_back(p);
  for (const auto& p : range6("2001:db8::4000", 64)) o.server.addresses6.push_back(p);
  o.client.neighbor_capacity = o.server.neighbor_capacity = 512;
  EndpointPair pair(o);
  StreamApp server(Side::kServer, 5, 1024, StreamPlan{100, true, true, 100});
  StreamApp client(Side::kClient, 5, 1024, StreamPlan{100, true, true, 100});
  ASSERT_TRUE(pair.server().listen(80, server));
  constexpr uint64_t n = 300;  // every client address once, and some twice
  for (uint64_t i = 0; i < n; ++i) {
    const Ipv6Addr to = o.server.addresses6[i % o.server.addresses6.size()].addr;
    const ConnId id = pair.client().connect(to, 80, client, pair.now());
    ASSERT_NE(id, engine::kInvalidConn) << i;
    // In turn, in the configured order (index 0 is the link-local address).
    ASSERT_EQ(pair.client().local_ipv6(id), o.client.addresses6[i % 256].addr) << i;
  }
  // Each side answers NS for, accepts segments to and refuses as a source each of its addresses.
  ASSERT_TRUE(pair.run_until([&] { return client.totals().closed == n; }, Duration::seconds(60)));
  EXPECT_EQ(client.totals().complete, n);
  EXPECT_EQ(client.totals().mismatches + server.totals().mismatches, 0u);
  for (Endpoint* ep : {&pair.client(), &pair.server()}) {
    EXPECT_EQ(ep->counters().ipv6_not_for_us, 0u);
    EXPECT_EQ(ep->counters().ipv6_bad_source, 0u);
  }
  // An advertisement for every address but the one each side learned from the other's own
  // solicitation (sent from its last address on the subnet).
  EXPECT_GE(pair.client().counters().ndp_advertisements_out, 255u);
  EXPECT_GE(pair.server().counters().ndp_advertisements_out, 128u);
  // Ours, so not a peer (MUST-46); one above the last block is not ours (MUST-43).
  EXPECT_EQ(pair.client().connect(A("2001:db8::17e"), 80, client, pair.now()), engine::kInvalidConn);
  EXPECT_EQ(pair.client().connect(kServer6, 80, client, pair.now(), nullptr, 0, A("2001:db8::17f")),
            engine::kInvalidConn);
  EXPECT_NE(pair.client().connect(kServer6, 80, client, pair.now(), nullptr, 0, A("2001:db8::17e")),
            engine::kInvalidConn);
}

// ---------------------------------------------------------------------------------------------
// Next hops

std::vector<std::vector<uint8_t>> connect_and_poll(Endpoint& ep, engine::App& app, auto remote, Instant now) {
  EXPECT_NE(ep.connect(remote, 80, app, now), engine::kInvalidConn);
  FrameCollector col;
  while (ep.poll_output(col, now, 64) > 0) {
  }
  return col.frames;
}

TEST(NextHop, RoutesLongestPrefixFirstThenTheGatewayThenOnLink) {
  engine::EndpointConfig c = config6(Side::kClient);
  c.gateway = wire::Ipv4Addr{0x0a0000fe};  // 10.0.0.254
  c.routes = {{*wire::Ipv4Prefix::parse("192.168.0.0/16"), wire::Ipv4Addr{0x0a0000fa}},
              {*wire::Ipv4Prefix::parse("192.168.7.0/24"), wire::Ipv4Addr{0x0a0000fb}}};
  c.gateway6 = A("fe80::1");
  c.routes6 = {{*wire::Ipv6Prefix::parse("2001:db8:99::/48"), A("2001:db8::fe")}};
  // More subnets, one from a range of addresses (one on-link prefix for all of them).
  for (const auto& p : range6("2001:db8:5::10", 16)) c.addresses6.push_back(p);
  c.addresses6.push_back(*wire::Ipv6Prefix::parse("2001:db8:6::1/56"));
  const Instant now = Instant::from_ns(1'000'000'000);
  Endpoint ep(c, now);
  App6 app;
  auto arp_target = [&](wire::Ipv4Addr remote) {
    const auto out = connect_and_poll(ep, app, remote, now);
    EXPECT_EQ(out.size(), 1u);
    return out.empty() ? wire::Ipv4Addr{} : parse_frame(out[0]).arp_target_ip;
  };
  EXPECT_EQ(arp_target(wire::Ipv4Addr{0x0a000009}), wire::Ipv4Addr{0x0a000009});  // on link
  EXPECT_EQ(arp_target(wire::Ipv4Addr{0xc0a80701}), wire::Ipv4Addr{0x0a0000fb});  // /24 beats /16
  EXPECT_EQ(arp_target(wire::Ipv4Addr{0xc0a80801}), wire::Ipv4Addr{0x0a0000fa});
  EXPECT_EQ(arp_target(wire::Ipv4Addr{0x08080808}), wire::Ipv4Addr{0x0a0000fe});  // default
  auto ns_target = [&](const Ipv6Addr& remote) {
    const auto out = connect_and_poll(ep, app, remote, now);
    EXPECT_EQ(out.size(), 1u);
    if (out.empty()) return Ipv6Addr{};
    const Parsed6 p = parse6(out[0]);
    EXPECT_TRUE(p.ok);
    EXPECT_EQ(p.icmp[0], wire::kIcmpv6NeighborSolicitation);
    const Ipv6Addr target = Ipv6Addr::from_bytes(p.icmp.data() + 8);
    EXPECT_EQ(p.dst, target.solicited_node());
    EXPECT_EQ(p.eth_dst, target.solicited_node().multicast_mac());
    return target;
  };
  EXPECT_EQ(ns_target(A("2001:db8::9")), A("2001:db8::9"));
  EXPECT_EQ(ns_target(A("2001:db8:5::99")), A("2001:db8:5::99"));
  EXPECT_EQ(ns_target(A("2001:db8:6:ff::1")), A("2001:db8:6:ff::1"));
  EXPECT_EQ(ns_target(A("2001:db8:99:1::1")), A("2001:db8::fe"));
  EXPECT_EQ(ns_target(A("2001:4860::8888")), A("fe80::1"));
  EXPECT_EQ(ns_target(A("fe80::77")), A("fe80::77"));  // link-local: always on link
}

TEST(NextHop, AGatewayMacFromTheConfigNeedsNoResolution) {
  engine::EndpointConfig c = config6(Side::kClient);
  c.gateway = wire::Ipv4Addr{0x0a0000fe};
  c.gateway_mac = kOtherMac;
  c.gateway6 = A("2001:db8::fe");
  c.gateway6_mac = kOtherMac;
  const Instant now = Instant::from_ns(1'000'000'000);
  Endpoint ep(c, now);
  App6 app;
  auto out = connect_and_poll(ep, app, wire::Ipv4Addr{0x08080808}, now);
  ASSERT_EQ(out.size(), 1u);
  ParsedFrame p = parse_frame(out[0]);
  EXPECT_EQ(p.eth_dst, kOtherMac);
  EXPECT_EQ(p.flags, wire::kTcpSyn);
  out = connect_and_poll(ep, app, A("2001:4860::8888"), now);
  ASSERT_EQ(out.size(), 1u);
  const Parsed6 q = parse6(out[0]);
  ASSERT_TRUE(q.ok);
  EXPECT_EQ(q.eth_dst, kOtherMac);
  EXPECT_EQ(q.flags, wire::kTcpSyn);
  EXPECT_EQ(q.src, kClient6);
  ASSERT_TRUE(q.opts.has_mss);
  EXPECT_EQ(q.opts.mss, 1440u);
  EXPECT_EQ(ep.counters().arp_requests_out + ep.counters().ndp_solicitations_out, 0u);
}

// ---------------------------------------------------------------------------------------------
// The remote-address table and the IPv6 neighbour cache

TEST(Ipv6PeerTable, InternsCountsReferencesAndReusesSlots) {
  engine::Ipv6PeerTable t(4);
  const uint32_t a = t.acquire(A("2001:db8::a"));
  const uint32_t b = t.acquire(A("2001:db8::b"));
  ASSERT_NE(a, engine::Ipv6PeerTable::kNone);
  EXPECT_NE(a, b);
  EXPECT_EQ(t.acquire(A("2001:db8::a")), a);
  EXPECT_EQ(t.refs(a), 2u);
  EXPECT_EQ(t.find(A("2001:db8::b")), b);
  EXPECT_EQ(t.addr(b), A("2001:db8::b"));
  t.acquire(A("2001:db8::c"));
  t.acquire(A("2001:db8::d"));
  EXPECT_EQ(t.acquire(A("2001:db8::e")), engine::Ipv6PeerTable::kNone);  // full
  t.release(a);
  EXPECT_EQ(t.find(A("2001:db8::a")), a);  // one reference left
  t.release(a);
  EXPECT_EQ(t.find(A("2001:db8::a")), engine::Ipv6PeerTable::kNone);
  EXPECT_EQ(t.size(), 3u);
  EXPECT_NE(t.acquire(A("2001:db8::e")), engine::Ipv6PeerTable::kNone);
  for (const char* s : {"2001:db8::b", "2001:db8::c", "2001:db8::d", "2001:db8::e"})
    EXPECT_NE(t.find(A(s)), engine::Ipv6PeerTable::kNone) << s;
  engine::Ipv6PeerTable none(0);
  EXPECT_EQ(none.acquire(A("2001:db8::a")), engine::Ipv6PeerTable::kNone);
}

TEST(Ipv6PeerTable, ChurnKeepsEveryLiveEntryFindable) {
  // Backward-shift deletion under heavy collisions: a model check against a set of live slots.
  engine::Ipv6PeerTable t(512);
  std::vector<std::pair<Ipv6Addr, uint32_t>> live;
  uint64_t x = 1;
  for (int step = 0; step < 20000; ++step) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    if (live.size() < 400 && (x >> 60) < 9) {
      Ipv6Addr a = A("2001:db8::");
      base::store_be32(a.bytes.data() + 12, static_cast<uint32_t>(x >> 33) & 0xfff);  // few bits: collisions
      const uint32_t before = t.find(a);
      const uint32_t s = t.acquire(a);
      ASSERT_NE(s, engine::Ipv6PeerTable::kNone);
      if (before != engine::Ipv6PeerTable::kNone) {
        ASSERT_EQ(s, before);
      }
      live.emplace_back(a, s);
    } else if (!live.empty()) {
      const std::size_t i = (x >> 20) % live.size();
      t.release(live[i].second);
      live.erase(live.begin() + static_cast<std::ptrdiff_t>(i));
    }
    if (step % 97 == 0) {
      for (const auto& [a, s] : live) ASSERT_EQ(t.find(a), s);
    }
  }
}

TEST(Neighbor6Cache, ResolvesExpiresAndRateLimitsLikeArp) {
  engine::Neighbor6Cache c(16, Duration::seconds(30));
  const Instant t0 = Instant::from_ns(1'000'000'000);
  auto l = c.lookup(kServer6, t0);
  EXPECT_FALSE(l.mac);
  EXPECT_TRUE(l.send_request);
  EXPECT_FALSE(c.lookup(kServer6, t0 + Duration::millis(10)).send_request);  // rate limited
  EXPECT_TRUE(c.learn(kServer6, kServerMac, t0 + Duration::millis(20)));
  l = c.lookup(kServer6, t0 + Duration::seconds(1));
  ASSERT_TRUE(l.mac);
  EXPECT_EQ(*l.mac, kServerMac);
  EXPECT_FALSE(l.send_request);
  l = c.lookup(kServer6, t0 + Duration::seconds(31));  // stale: still used, refreshed
  ASSERT_TRUE(l.mac);
  EXPECT_TRUE(l.send_request);
  EXPECT_FALSE(c.known(kClient6));
  c.set_static(kClient6, kOtherMac);
  l = c.lookup(kClient6, t0 + Duration::seconds(10000));
  ASSERT_TRUE(l.mac);
  EXPECT_EQ(*l.mac, kOtherMac);
  EXPECT_FALSE(l.send_request);
}

TEST(Ipv4Subnets, AnotherSubnetIsAnsweredAcceptedOnLinkAndTheSourceForItsPeers) {
  engine::EndpointConfig c = pair_config(Side::kServer);
  c.addresses = {*wire::Ipv4Prefix::parse("10.9.0.1/24")};
  c.gateway = wire::Ipv4Addr{0x0a0000fe};
  const Instant now = Instant::from_ns(1'000'000'000);
  Endpoint ep(c, now);
  App6 app;
  EXPECT_TRUE(ep.is_local(wire::Ipv4Addr{0x0a090001}));
  EXPECT_FALSE(ep.is_local(wire::Ipv4Addr{0x0a090002}));
  // ARP for it is answered.
  ep.input(make_arp_frame(wire::kArpRequest, wire::MacAddr::broadcast(), kClientMac, wire::Ipv4Addr{0x0a090002}, {},
                          wire::Ipv4Addr{0x0a090001}),
           now);
  FrameCollector col;
  while (ep.poll_output(col, now, 64) > 0) {
  }
  ASSERT_EQ(col.frames.size(), 1u);
  EXPECT_EQ(parse_frame(col.frames[0]).arp_sender_ip, wire::Ipv4Addr{0x0a090001});
  // A peer on that subnet is on link (no gateway) and reached from 10.9.0.1.
  col.clear();
  const ConnId id = ep.connect(wire::Ipv4Addr{0x0a090063}, 80, app, now);
  ASSERT_NE(id, engine::kInvalidConn);
  EXPECT_EQ(ep.tuple(id).local_ip, 0x0a090001u);
  while (ep.poll_output(col, now, 64) > 0) {
  }
  ASSERT_EQ(col.frames.size(), 1u);
  const ParsedFrame arp = parse_frame(col.frames[0]);
  EXPECT_EQ(arp.arp_target_ip, wire::Ipv4Addr{0x0a090063});
  EXPECT_EQ(arp.arp_sender_ip, wire::Ipv4Addr{0x0a090001});
  // Its directed broadcast is refused (MUST-46); an explicit local address of ours is accepted (MUST-43).
  EXPECT_EQ(ep.connect(wire::Ipv4Addr{0x0a0900ff}, 80, app, now), engine::kInvalidConn);
  const ConnId other = ep.connect(wire::Ipv4Addr{0x08080808}, 80, app, now, nullptr, 0, wire::Ipv4Addr{0x0a090001});
  ASSERT_NE(other, engine::kInvalidConn);
  EXPECT_EQ(ep.tuple(other).local_ip, 0x0a090001u);
}

TEST(Ipv4Subnets, PairTalksOverTheSecondSubnetWithVerifiedBytes) {
  PairOptions o;
  o.server.addresses = {*wire::Ipv4Prefix::parse("10.9.0.1/24")};
  o.client.addresses = {*wire::Ipv4Prefix::parse("10.9.0.2/24")};
  EndpointPair pair(o);
  StreamApp server(Side::kServer, 11, 1024, StreamPlan{20'000, false, true, 30'000});
  StreamApp client(Side::kClient, 11, 1024, StreamPlan{30'000, true, true, 20'000});
  ASSERT_TRUE(pair.server().listen(80, server));
  for (int i = 0; i < 3; ++i) {
    const ConnId id = pair.client().connect(wire::Ipv4Addr{0x0a090001}, 80, client, pair.now());
    ASSERT_NE(id, engine::kInvalidConn);
    EXPECT_EQ(pair.client().tuple(id).local_ip, 0x0a090002u);
  }
  ASSERT_TRUE(pair.run_until([&] { return client.totals().closed == 3 && server.totals().closed == 3; }));
  EXPECT_EQ(client.totals().complete, 3u);
  EXPECT_EQ(server.totals().complete, 3u);
  EXPECT_EQ(client.totals().mismatches + server.totals().mismatches, 0u);
  pair.run_for(Duration::seconds(70));  // TIME_WAIT ends: the ports of 10.9.0.2 come back
  EXPECT_EQ(pair.client().time_wait_count(), 0u);
}

// ---------------------------------------------------------------------------------------------
// 802.1Q VLAN

// `frame` with an 802.1Q tag for `vid` inserted after the MAC addresses.
std::vector<uint8_t> tagged(std::vector<uint8_t> frame, uint16_t vid) {
  const uint8_t tag[4] = {0x81, 0x00, static_cast<uint8_t>(0x20 | (vid >> 8)), static_cast<uint8_t>(vid)};  // PCP 1
  frame.insert(frame.begin() + 12, tag, tag + 4);
  return frame;
}
// The frame without its tag, if it carries `vid`; empty otherwise.
std::vector<uint8_t> untag(const std::vector<uint8_t>& frame, uint16_t vid) {
  if (frame.size() < 18 || base::load_be16(frame.data() + 12) != wire::kEtherTypeVlan ||
      base::load_be16(frame.data() + 14) != vid)
    return {};
  std::vector<uint8_t> f(frame.begin(), frame.begin() + 12);
  f.insert(f.end(), frame.begin() + 16, frame.end());
  return f;
}

TEST(Vlan, TaggedFramesOfOurVlanAreAnsweredTaggedOthersDropped) {
  engine::EndpointConfig c = config6(Side::kServer);
  c.vlan = 100;
  const Instant now = Instant::from_ns(1'000'000'000);
  Endpoint ep(c, now);
  auto feed = [&](const std::vector<uint8_t>& f) {
    ep.input(f, now);
    FrameCollector col;
    while (ep.poll_output(col, now, 64) > 0) {
    }
    return col.frames;
  };
  const auto arp = make_arp_frame(wire::kArpRequest, wire::MacAddr::broadcast(), kClientMac, kClientIp, {}, kServerIp);
  auto out = feed(tagged(arp, 100));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(untag(out[0], 100),
            make_arp_frame(wire::kArpReply, kClientMac, kServerMac, kServerIp, kClientMac, kClientIp));
  EXPECT_TRUE(feed(tagged(arp, 101)).empty());
  EXPECT_TRUE(feed(arp).empty());  // untagged on a VLAN link
  EXPECT_EQ(ep.counters().eth_vlan_other, 2u);
  // IPv6 neighbour discovery and ICMPv6 echo through the tag.
  out = feed(tagged(ns_for(kServer6), 100));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(parse6(untag(out[0], 100)).ok);
  // A truncated tag is too short, not a crash.
  std::vector<uint8_t> short_tag(arp.begin(), arp.begin() + 16);
  short_tag[12] = 0x81;
  short_tag[13] = 0x00;
  EXPECT_TRUE(feed(short_tag).empty());
  EXPECT_EQ(ep.counters().eth_too_short, 1u);
}

TEST(Vlan, HardwareInsertLeavesTheFrameUntaggedAndNamesTheTag) {
  engine::EndpointConfig c = config6(Side::kClient);
  c.vlan = 42;
  c.vlan_tx_offload = true;
  c.gateway_mac = kOtherMac;
  c.gateway = wire::Ipv4Addr{0x0a0000fe};
  c.tx_checksum_offload = true;
  const Instant now = Instant::from_ns(1'000'000'000);
  Endpoint ep(c, now);
  App6 app;
  ASSERT_NE(ep.connect(wire::Ipv4Addr{0x08080808}, 80, app, now), engine::kInvalidConn);
  FrameCollector col;
  while (ep.poll_output(col, now, 64) > 0) {
  }
  ASSERT_EQ(col.frames.size(), 1u);
  EXPECT_EQ(base::load_be16(col.frames[0].data() + 12), wire::kEtherTypeIpv4);
  EXPECT_EQ(col.metas[0].vlan_tci, 42);
  EXPECT_EQ(col.metas[0].l2_len, 14);
  EXPECT_TRUE(col.metas[0].checksum_offload);
}

// A port that strips tags hands the frame over untagged (the worker has checked its VLAN id): the
// endpoint takes it, and still refuses a frame that kept a tag of another VLAN (QinQ's inner tag).
TEST(Vlan, HardwareStripHandsUntaggedFramesOverAndTheyAreAnswered) {
  engine::EndpointConfig c = config6(Side::kServer);
  c.vlan = 100;
  c.vlan_rx_stripped = true;
  c.vlan_tx_offload = true;
  const Instant now = Instant::from_ns(1'000'000'000);
  Endpoint ep(c, now);
  const auto arp = make_arp_frame(wire::kArpRequest, wire::MacAddr::broadcast(), kClientMac, kClientIp, {}, kServerIp);
  ep.input(arp, now);
  FrameCollector col;
  while (ep.poll_output(col, now, 64) > 0) {
  }
  ASSERT_EQ(col.frames.size(), 1u);
  EXPECT_EQ(col.frames[0], make_arp_frame(wire::kArpReply, kClientMac, kServerMac, kServerIp, kClientMac, kClientIp));
  EXPECT_EQ(col.metas[0].vlan_tci, 100);
  EXPECT_EQ(ep.counters().eth_vlan_other, 0u);
  ep.input(tagged(arp, 7), now);
  EXPECT_FALSE(ep.has_output());
  EXPECT_EQ(ep.counters().eth_vlan_other, 1u);
  // Without strip the same untagged frame is refused: the flag is what lets it through.
  c.vlan_rx_stripped = false;
  Endpoint plain(c, now);
  plain.input(arp, now);
  EXPECT_FALSE(plain.has_output());
  EXPECT_EQ(plain.counters().eth_vlan_other, 1u);
}

// Both families over a tagged link between two endpoints: every frame tagged, bytes verified.
TEST(Vlan, PairOverVlanCarriesIpv4AndIpv6WithEveryFrameTagged) {
  PairOptions o;
  o.client = config6(Side::kClient);
  o.server = config6(Side::kServer);
  o.client.vlan = o.server.vlan = 3000;
  o.client.tx_checksum_offload = false;
  EndpointPair pair(o);
  pair.record_frames = true;
  StreamApp server(Side::kServer, 9, 1024, StreamPlan{50'000, false, true, 70'000});
  StreamApp client(Side::kClient, 9, 1024, StreamPlan{70'000, true, true, 50'000});
  ASSERT_TRUE(pair.server().listen(7, server));
  ASSERT_NE(pair.client().connect(kServer6, 7, client, pair.now()), engine::kInvalidConn);
  ASSERT_NE(pair.client().connect(kServerIp, 7, client, pair.now()), engine::kInvalidConn);
  ASSERT_TRUE(pair.run_until([&] { return client.totals().closed == 2 && server.totals().closed == 2; }));
  EXPECT_EQ(client.totals().complete, 2u);
  EXPECT_EQ(server.totals().complete, 2u);
  EXPECT_EQ(client.totals().mismatches + server.totals().mismatches, 0u);
  ASSERT_FALSE(pair.sent_by_client.empty());
  for (const auto& f : pair.sent_by_client) ASSERT_FALSE(untag(f, 3000).empty());
  for (const auto& f : pair.sent_by_server) ASSERT_FALSE(untag(f, 3000).empty());
  EXPECT_EQ(pair.client().counters().eth_vlan_other + pair.server().counters().eth_vlan_other, 0u);
}

}  // namespace
}  // namespace linetcp::testing
