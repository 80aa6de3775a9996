// Endpoint: ARP, ICMP echo, every named drop, RST for unknown tuples, broadcast/multicast rules,
// listeners, SYN cookies, a full connection table, TIME_WAIT records, port exhaustion, abort and
// ICMP errors. Frames are crafted byte by byte and answers checked exactly; where whole
// connections are needed two Endpoints talk over EndpointPair's link.
#include "linetcp/engine/endpoint.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "endpoint_pair.hpp"
#include "linetcp/base/byte_order.hpp"
#include "linetcp/wire/arp.hpp"
#include "linetcp/wire/checksum.hpp"
#include "linetcp/wire/icmp.hpp"
#include "linetcp/wire/tcp_header.hpp"

namespace linetcp::testing {
namespace {

using engine::ConnId;
using engine::Endpoint;
using engine::EndpointCounters;
using engine::kInvalidConn;
using tcp::CloseReason;
using tcp::State;
using wire::kTcpAck;
using wire::kTcpFin;
using wire::kTcpRst;
using wire::kTcpSyn;

// The non-zero counters by name, frames_in/frames_out left out: a test names exactly the ones it
// expects, so any other counter moving fails it.
std::map<std::string, uint64_t> counted(const EndpointCounters& c) {
  std::map<std::string, uint64_t> m;
#define LINETCP_C(f) \
  if (c.f) m[#f] = c.f;
  LINETCP_C(eth_too_short) LINETCP_C(eth_not_for_us) LINETCP_C(eth_unknown_type) LINETCP_C(arp_in)
  LINETCP_C(arp_bad) LINETCP_C(arp_replies_out) LINETCP_C(arp_requests_out) LINETCP_C(arp_table_full)
  LINETCP_C(ipv4_bad_header) LINETCP_C(ipv4_bad_checksum) LINETCP_C(ipv4_fragments) LINETCP_C(ipv4_not_for_us)
  LINETCP_C(ipv4_unknown_protocol) LINETCP_C(ipv4_bad_source) LINETCP_C(icmp_in) LINETCP_C(icmp_bad)
  LINETCP_C(icmp_echo_replies) LINETCP_C(icmp_errors_in) LINETCP_C(icmp_source_quench) LINETCP_C(tcp_bad_header)
  LINETCP_C(tcp_bad_checksum) LINETCP_C(tcp_bad_options) LINETCP_C(tcp_rst_sent_no_conn)
  LINETCP_C(tcp_no_conn_dropped) LINETCP_C(tcp_syn_fin) LINETCP_C(conn_table_full) LINETCP_C(syn_backlog_full)
  LINETCP_C(syn_cookies_sent) LINETCP_C(syn_cookies_accepted) LINETCP_C(syn_cookies_rejected)
  LINETCP_C(time_wait_full) LINETCP_C(time_wait_hits) LINETCP_C(time_wait_reused) LINETCP_C(time_wait_rst_ignored)
  LINETCP_C(time_wait_rst_challenged)
  LINETCP_C(ports_exhausted) LINETCP_C(control_queue_full) LINETCP_C(tx_deferred) LINETCP_C(arp_wait)
  LINETCP_C(connections_opened) LINETCP_C(connections_accepted) LINETCP_C(connections_established)
  LINETCP_C(connections_closed) LINETCP_C(connections_failed) LINETCP_C(connections_reset)
  LINETCP_C(connections_timed_out) LINETCP_C(syn_received_closed)
  LINETCP_C(eth_vlan_other) LINETCP_C(ipv6_bad_header) LINETCP_C(ipv6_fragments) LINETCP_C(ipv6_not_for_us)
  LINETCP_C(ipv6_unknown_protocol) LINETCP_C(ipv6_bad_source) LINETCP_C(ipv6_peers_full) LINETCP_C(icmp6_in)
  LINETCP_C(icmp6_bad) LINETCP_C(icmp6_echo_replies) LINETCP_C(icmp6_errors_in) LINETCP_C(ndp_bad)
  LINETCP_C(ndp_advertisements_out) LINETCP_C(ndp_solicitations_out) LINETCP_C(ndp_table_full)
  LINETCP_C(connections_opened_ipv6) LINETCP_C(connections_accepted_ipv6)
#undef LINETCP_C
  return m;
}
using Counts = std::map<std::string, uint64_t>;

// Records what the endpoint tells it; sends `send_on_open` bytes of a pattern when a connection opens.
class RecordingApp final : public engine::App {
 public:
  void on_open(Endpoint& ep, ConnId id) override {
    opened.push_back(id);
    if (send_on_open) ep.send(id, send_on_open);
  }
  void on_data(Endpoint&, ConnId, std::span<const uint8_t> d) override { data.insert(data.end(), d.begin(), d.end()); }
  void on_peer_closed(Endpoint&, ConnId id) override { peer_closed.push_back(id); }
  void on_closed(Endpoint&, ConnId id, CloseReason r) override { closed.emplace_back(id, r); }
  void fill_payload(Endpoint&, ConnId, uint64_t offset, std::span<uint8_t> dst) override {
    fill_stream(99, offset, dst);
  }
  uint64_t send_on_open = 0;
  std::vector<ConnId> opened;
  std::vector<ConnId> peer_closed;
  std::vector<std::pair<ConnId, CloseReason>> closed;
  std::vector<uint8_t> data;
};

// One endpoint (the server, 10.0.0.1) fed crafted frames.
class EndpointTest : public ::testing::Test {
 protected:
  explicit EndpointTest(engine::EndpointConfig cfg = pair_config(Side::kServer)) : ep_(cfg, now_) {}

  std::vector<std::vector<uint8_t>> output() {
    FrameCollector col;
    while (ep_.poll_output(col, now_, 64) > 0) {
    }
    return col.frames;
  }
  std::vector<std::vector<uint8_t>> feed(const std::vector<uint8_t>& frame) {
    ep_.input(frame, now_);
    return output();
  }
  // The endpoint learns the client's MAC (from an ARP request for its address); answers discarded.
  void learn_client() {
    feed(make_arp_frame(wire::kArpRequest, wire::MacAddr::broadcast(), kClientMac, kClientIp, wire::MacAddr{},
                        kServerIp));
  }
  static TcpFrameSpec syn(uint32_t seq, uint16_t src_port = 40000, uint16_t dst_port = 80) {
    TcpFrameSpec s;
    s.src_port = src_port;
    s.dst_port = dst_port;
    s.seq = seq;
    s.flags = kTcpSyn;
    return s;
  }

  Instant now_ = Instant::from_ns(10'000'000'000);
  Endpoint ep_;
  RecordingApp app_;
};

// ---------------------------------------------------------------------------------------------
// ARP and ICMP

TEST_F(EndpointTest, ArpRequestForUsIsAnsweredExactlyAndTheSenderLearned) {
  const auto out = feed(make_arp_frame(wire::kArpRequest, wire::MacAddr::broadcast(), kClientMac, kClientIp,
                                       wire::MacAddr{}, kServerIp));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], make_arp_frame(wire::kArpReply, kClientMac, kServerMac, kServerIp, kClientMac, kClientIp));
  EXPECT_EQ(counted(ep_.counters()), (Counts{{"arp_in", 1}, {"arp_replies_out", 1}}));
  EXPECT_EQ(ep_.counters().frames_out, 1u);  // answers are frames out too
  // Learned: a connection to the client goes out at once, to its MAC, with no ARP request.
  const ConnId id = ep_.connect(kClientIp, 5000, app_, now_);
  ASSERT_NE(id, kInvalidConn);
  const auto syn_out = output();
  ASSERT_EQ(syn_out.size(), 1u);
  const ParsedFrame p = parse_frame(syn_out[0]);
  EXPECT_EQ(p.eth_dst, kClientMac);
  EXPECT_EQ(p.flags, kTcpSyn);
  EXPECT_EQ(ep_.counters().arp_requests_out, 0u);
}

TEST_F(EndpointTest, ArpForAnotherAddressIsNotAnsweredNorLearned) {
  // RFC 826: a packet not for us adds no entry.
  EXPECT_TRUE(feed(make_arp_frame(wire::kArpRequest, wire::MacAddr::broadcast(), kClientMac, kClientIp,
                                  wire::MacAddr{}, wire::Ipv4Addr{0x0a000077}))
                  .empty());
  EXPECT_EQ(counted(ep_.counters()), (Counts{{"arp_in", 1}}));
  ep_.connect(kClientIp, 5000, app_, now_);
  const auto out = output();
  ASSERT_EQ(out.size(), 1u);  // an ARP request, no SYN yet
  EXPECT_EQ(out[0], make_arp_frame(wire::kArpRequest, wire::MacAddr::broadcast(), kServerMac, kServerIp,
                                   wire::MacAddr{}, kClientIp));
  EXPECT_EQ(ep_.counters().arp_requests_out, 1u);
  EXPECT_EQ(ep_.counters().arp_wait, 1u);
}

TEST_F(EndpointTest, ArpReplyReleasesTheWaitingConnectionAndRequestsAreRateLimited) {
  const ConnId id = ep_.connect(kClientIp, 5000, app_, now_);
  ASSERT_EQ(output().size(), 1u);  // the ARP request
  // Retried once a second (the connection's own retry), not more often.
  now_ += Duration::millis(500);
  ep_.advance(now_);
  EXPECT_TRUE(output().empty());
  EXPECT_EQ(ep_.next_deadline(), Instant::from_ns(11'000'000'000));
  now_ = ep_.next_deadline();
  ep_.advance(now_);
  auto out = output();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(parse_frame(out[0]).arp_op, wire::kArpRequest);
  EXPECT_EQ(ep_.counters().arp_requests_out, 2u);
  // The reply: the SYN goes at once.
  out = feed(make_arp_frame(wire::kArpReply, kServerMac, kClientMac, kClientIp, kServerMac, kServerIp));
  ASSERT_EQ(out.size(), 1u);
  const ParsedFrame p = parse_frame(out[0]);
  EXPECT_EQ(p.eth_dst, kClientMac);
  EXPECT_EQ(p.flags, kTcpSyn);
  EXPECT_EQ(p.seq, ep_.connection(id).iss().raw());
  EXPECT_EQ(ep_.connection(id).state(), State::kSynSent);
}

TEST_F(EndpointTest, FullArpTableIsCounted) {
  engine::EndpointConfig cfg = pair_config(Side::kServer);
  cfg.neighbor_capacity = 16;  // the smallest table
  Endpoint ep(cfg, now_);
  for (uint32_t i = 0; i < 17; ++i)
    ASSERT_NE(ep.connect(wire::Ipv4Addr{0x0a000010 + i}, 80, app_, now_), kInvalidConn);
  FrameCollector col;
  while (ep.poll_output(col, now_, 64) > 0) {
  }
  EXPECT_EQ(col.frames.size(), 16u);  // ARP requests for the 16 that fit
  EXPECT_EQ(ep.counters().arp_requests_out, 16u);
  EXPECT_EQ(ep.counters().arp_table_full, 1u);
  EXPECT_EQ(ep.counters().arp_wait, 17u);
}

TEST_F(EndpointTest, TheIndexHashIsKeyedByTheEndpointSecret) {
  // A peer that knows the hash function must not know the hash: the endpoint keys its index with
  // its secret. Same secret, same hashes; another secret, or none, other hashes.
  engine::EndpointConfig a = pair_config(Side::kServer);
  engine::EndpointConfig b = a;
  b.secret = {0xA4093822299F31D0ull, 0x082EFA98EC4E6C89ull};
  const Endpoint ep_a(a, now_), ep_a2(a, now_), ep_b(b, now_);
  int differ_b = 0, differ_unkeyed = 0;
  for (uint16_t port = 40000; port < 40064; ++port) {
    const engine::FourTuple t{0x0a000002, 0x0a000001, 80, port};
    EXPECT_EQ(ep_a.index_hash(t), ep_a2.index_hash(t));
    differ_b += ep_a.index_hash(t) != ep_b.index_hash(t);
    differ_unkeyed += ep_a.index_hash(t) != engine::hash_tuple(t, engine::TupleHashKey{});
  }
  EXPECT_GE(differ_b, 62);
  EXPECT_GE(differ_unkeyed, 62);
}

TEST_F(EndpointTest, IcmpEchoRequestGetsTheExactReply) {
  const std::vector<uint8_t> body = bytes_of("ping payload 0123456789");
  const auto out = feed(make_icmp_frame(wire::kIcmpEchoRequest, 0, 0xBEEF0007, body));
  ASSERT_EQ(out.size(), 1u);
  // Expected: Ethernet back to the sender, IPv4 (TTL 64, DF, id 0, TOS 0), type 0 code 0, same id,
  // sequence and data, fresh checksums.
  std::vector<uint8_t> want(14 + 20 + 8 + body.size());
  wire::write_ethernet(want.data(), kClientMac, kServerMac, wire::kEtherTypeIpv4);
  wire::write_ipv4_header(want.data() + 14, kServerIp, kClientIp, wire::kIpProtoIcmp,
                          static_cast<uint16_t>(8 + body.size()), 64, 0, 0);
  uint8_t* m = want.data() + 34;
  m[0] = 0;
  m[1] = 0;
  base::store_be32(m + 4, 0xBEEF0007);
  std::copy(body.begin(), body.end(), m + 8);
  base::store_be16(m + 2, wire::checksum_fold(wire::checksum_add(m, 8 + body.size())));
  EXPECT_EQ(out[0], want);
  EXPECT_EQ(counted(ep_.counters()), (Counts{{"icmp_in", 1}, {"icmp_echo_replies", 1}}));
}

TEST_F(EndpointTest, IcmpWithBadChecksumAndSourceQuenchAreCountedNotAnswered) {
  auto f = make_icmp_frame(wire::kIcmpEchoRequest, 0, 1, bytes_of("x"));
  f.back() ^= 0x40;
  EXPECT_TRUE(feed(f).empty());
  // MUST-55: source quench is discarded.
  EXPECT_TRUE(feed(make_icmp_frame(wire::kIcmpSourceQuench, 0, 0, std::vector<uint8_t>(28))).empty());
  EXPECT_EQ(counted(ep_.counters()), (Counts{{"icmp_in", 2}, {"icmp_bad", 1}, {"icmp_source_quench", 1}}));
}

// ---------------------------------------------------------------------------------------------
// Named drops: every bad frame is counted under its own name and nothing is answered.

struct DropCase {
  const char* name;
  const char* counter;
  std::vector<uint8_t> (*make)();
};

std::vector<uint8_t> listener_syn() {
  TcpFrameSpec s;
  s.flags = kTcpSyn;
  s.seq = 1;
  s.dst_port = 80;
  return make_tcp_frame(s);
}

const DropCase kDropCases[] = {
    {"not_our_mac", "eth_not_for_us",
     [] {
       auto f = listener_syn();
       std::copy(kOtherMac.bytes.begin(), kOtherMac.bytes.end(), f.begin());
       return f;
     }},
    {"runt", "eth_too_short", [] { return std::vector<uint8_t>(13, 0xff); }},
    {"ipv6", "ipv6_bad_header",  // an IPv4 header in an IPv6 frame: version 4
     [] {
       auto f = listener_syn();
       base::store_be16(f.data() + 12, wire::kEtherTypeIpv6);
       return f;
     }},
    {"vlan_tag", "eth_vlan_other",  // the IPv4 header read as a tag: VLAN 0x500, not ours
     [] {
       auto f = listener_syn();
       base::store_be16(f.data() + 12, wire::kEtherTypeVlan);
       return f;
     }},
    {"arp_truncated", "arp_bad",
     [] {
       auto f = make_arp_frame(wire::kArpRequest, wire::MacAddr::broadcast(), kClientMac, kClientIp, {}, kServerIp);
       f.resize(14 + 20);
       return f;
     }},
    {"ipv4_truncated_header", "ipv4_bad_header",
     [] {
       auto f = listener_syn();
       f.resize(14 + 19);
       return f;
     }},
    {"ipv4_bad_version", "ipv4_bad_header",
     [] {
       auto f = listener_syn();
       f[14] = 0x65;
       fix_checksums(f);
       return f;
     }},
    {"ipv4_total_length_past_frame", "ipv4_bad_header",
     [] {
       auto f = listener_syn();
       base::store_be16(f.data() + 16, static_cast<uint16_t>(f.size()));  // 14 more than there is
       return f;
     }},
    {"ipv4_bad_checksum", "ipv4_bad_checksum",
     [] {
       auto f = listener_syn();
       f[14 + 10] ^= 0x01;
       return f;
     }},
    {"ipv4_more_fragments", "ipv4_fragments",
     [] {
       TcpFrameSpec s;
       s.flags = kTcpSyn;
       s.ip_frag = 0x2000;  // MF
       return make_tcp_frame(s);
     }},
    {"ipv4_fragment_offset", "ipv4_fragments",
     [] {
       TcpFrameSpec s;
       s.flags = kTcpSyn;
       s.ip_frag = 0x0010;
       return make_tcp_frame(s);
     }},
    {"ipv4_not_our_address", "ipv4_not_for_us",
     [] {
       TcpFrameSpec s;
       s.flags = kTcpSyn;
       s.dst_ip = wire::Ipv4Addr{0x0a000009};
       return make_tcp_frame(s);
     }},
    {"udp", "ipv4_unknown_protocol",
     [] {
       auto f = listener_syn();
       f[14 + 9] = wire::kIpProtoUdp;
       fix_checksums(f);
       return f;
     }},
    {"tcp_truncated_header", "tcp_bad_header",
     [] {
       auto f = listener_syn();
       f.resize(14 + 20 + 12);
       base::store_be16(f.data() + 16, 20 + 12);
       fix_checksums(f);
       return f;
     }},
    {"tcp_data_offset_past_segment", "tcp_bad_header",
     [] {
       auto f = listener_syn();
       f[14 + 20 + 12] = 0xf0;  // 60-byte header in a 20-byte segment
       fix_checksums(f);
       return f;
     }},
    {"tcp_bad_checksum", "tcp_bad_checksum",
     [] {
       auto f = listener_syn();
       f[14 + 20 + 16] ^= 0x80;
       return f;
     }},
    {"tcp_payload_flipped", "tcp_bad_checksum",
     [] {
       TcpFrameSpec s;
       s.flags = kTcpAck;
       s.ack = 5;
       s.payload = bytes_of("hello");
       auto f = make_tcp_frame(s);
       f.back() ^= 0x10;  // MUST-3: the checksum covers the payload
       return f;
     }},
};

class EndpointDropTest : public EndpointTest, public ::testing::WithParamInterface<DropCase> {};

TEST_P(EndpointDropTest, CountedUnderItsNameAndNothingAnswered) {
  ASSERT_TRUE(ep_.listen(80, app_));
  const auto out = feed(GetParam().make());
  EXPECT_TRUE(out.empty());
  Counts want{{GetParam().counter, 1}};
  if (std::string(GetParam().counter) == "arp_bad") want["arp_in"] = 1;
  EXPECT_EQ(counted(ep_.counters()), want);
  EXPECT_EQ(ep_.counters().frames_in, 1u);
  EXPECT_EQ(ep_.active_connections(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Frames, EndpointDropTest, ::testing::ValuesIn(kDropCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST_F(EndpointTest, EthernetPaddingAfterTheDatagramIsIgnored) {
  // A minimum-size Ethernet frame pads a short RST; the padding must not break the checksum.
  learn_client();
  TcpFrameSpec s = syn(7, 40000, 81);
  auto f = make_tcp_frame(s);
  f.resize(f.size() + 6, 0);
  const auto out = feed(f);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(parse_frame(out[0]).flags, kTcpRst | kTcpAck);
}

// ---------------------------------------------------------------------------------------------
// RST for segments to no connection (RFC 9293 §3.10.7.1)

TEST_F(EndpointTest, SynToAPortWithoutListenerGetsRstAckAtSeqZero) {
  // RFC 9293 §3.10.7.1 (CLOSED): no ACK bit -> <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
  TcpFrameSpec s = syn(1000, 40000, 81);
  const auto out = feed(make_tcp_frame(s));
  ASSERT_EQ(out.size(), 1u);
  TcpFrameSpec want;
  want.src_mac = kServerMac;
  want.dst_mac = kClientMac;  // back to where it came from, no ARP needed
  want.src_ip = kServerIp;
  want.dst_ip = kClientIp;
  want.src_port = 81;
  want.dst_port = 40000;
  want.seq = 0;
  want.ack = 1001;
  want.flags = kTcpRst | kTcpAck;
  want.window = 0;
  EXPECT_EQ(out[0], make_tcp_frame(want));
  EXPECT_EQ(counted(ep_.counters()), (Counts{{"tcp_rst_sent_no_conn", 1}}));
}

TEST_F(EndpointTest, DataWithFinWithoutAckGetsRstAcknowledgingAllOfIt) {
  TcpFrameSpec s = syn(5000, 40000, 81);
  s.flags = kTcpFin;
  s.payload = bytes_of("0123456789");
  const auto out = feed(make_tcp_frame(s));
  ASSERT_EQ(out.size(), 1u);
  const ParsedFrame p = parse_frame(out[0]);
  EXPECT_EQ(p.flags, kTcpRst | kTcpAck);
  EXPECT_EQ(p.seq, 0u);
  EXPECT_EQ(p.ack, 5000u + 10 + 1);  // SEG.SEQ + SEG.LEN, FIN counted
  EXPECT_TRUE(p.payload.empty());
}

TEST_F(EndpointTest, AckToAPortWithoutListenerGetsRstAtSegAck) {
  // §3.10.7.1: ACK bit on -> <SEQ=SEG.ACK><CTL=RST>
  TcpFrameSpec s = syn(5000, 40000, 81);
  s.flags = kTcpAck;
  s.ack = 0xfffffff0;
  s.payload = bytes_of("abc");
  const auto out = feed(make_tcp_frame(s));
  ASSERT_EQ(out.size(), 1u);
  const ParsedFrame p = parse_frame(out[0]);
  ASSERT_TRUE(p.ok);
  EXPECT_TRUE(p.tcp_checksum_ok);
  EXPECT_EQ(p.flags, kTcpRst);
  EXPECT_EQ(p.seq, 0xfffffff0u);
  EXPECT_EQ(p.ack, 0u);
  EXPECT_EQ(p.src_port, 81);
  EXPECT_EQ(p.dst_port, 40000);
}

TEST_F(EndpointTest, RstIsNeverAnsweredWithRst) {
  TcpFrameSpec s = syn(5000, 40000, 81);
  s.flags = kTcpRst;
  EXPECT_TRUE(feed(make_tcp_frame(s)).empty());
  s.flags = kTcpRst | kTcpAck;
  s.ack = 77;
  EXPECT_TRUE(feed(make_tcp_frame(s)).empty());
  // Nor on a listening port (§3.10.7.2: a RST in LISTEN is ignored).
  ASSERT_TRUE(ep_.listen(80, app_));
  s.dst_port = 80;
  EXPECT_TRUE(feed(make_tcp_frame(s)).empty());
  EXPECT_EQ(counted(ep_.counters()), (Counts{{"tcp_no_conn_dropped", 3}}));
}

TEST_F(EndpointTest, AckToAListenerGetsRstAndABareSegmentIsDropped) {
  ASSERT_TRUE(ep_.listen(80, app_));
  TcpFrameSpec s = syn(5000, 40000, 80);
  s.flags = kTcpAck;
  s.ack = 1234;
  auto out = feed(make_tcp_frame(s));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(parse_frame(out[0]).flags, kTcpRst);
  EXPECT_EQ(parse_frame(out[0]).seq, 1234u);
  // No SYN, no ACK, no RST: dropped (§3.10.7.2 "any other control or text-bearing segment").
  s.flags = 0;
  s.payload = bytes_of("x");
  EXPECT_TRUE(feed(make_tcp_frame(s)).empty());
  EXPECT_EQ(counted(ep_.counters()), (Counts{{"tcp_rst_sent_no_conn", 1}, {"tcp_no_conn_dropped", 1}}));
}

// Room in the ARP cache for hundreds of unresolved neighbours.
class ManyNeighborsTest : public EndpointTest {
 protected:
  ManyNeighborsTest() : EndpointTest(config()) {}
  static engine::EndpointConfig config() {
    engine::EndpointConfig c = pair_config(Side::kServer);
    c.neighbor_capacity = 1024;
    return c;
  }
};

TEST_F(ManyNeighborsTest, ArpRequestsLeaveRoomForAnswersWhenManyConnectionsWait) {
  // 200 connections to addresses nobody resolves (as SYN-RECEIVED ones to spoofed sources would
  // be), while the port takes nothing: their ARP requests take at most half the answer ring.
  for (uint32_t i = 0; i < 200; ++i)
    ASSERT_NE(ep_.connect(wire::Ipv4Addr{0x0a000010 + i}, 80, app_, now_), kInvalidConn);
  FrameCollector refusing(0);
  ep_.poll_output(refusing, now_, 512);
  // A SYN to a closed port still gets its RST (RFC 9293 §3.10.7.1).
  ep_.input(make_tcp_frame(syn(1000, 40000, 81)), now_);
  std::size_t arps = 0, rsts = 0;
  for (const auto& f : output()) {
    if (f.size() >= 14 && f[12] == 0x08 && f[13] == 0x06) ++arps;
    else if (parse_frame(f).ok && parse_frame(f).flags == (kTcpRst | kTcpAck)) ++rsts;
  }
  EXPECT_EQ(arps, 64u);
  EXPECT_EQ(rsts, 1u);
  EXPECT_EQ(ep_.counters().control_queue_full, 200u - 64u);
}

TEST_F(EndpointTest, SynFinToAListenerIsDroppedAndCounted) {
  // SYN+FIN opens nothing (Linux drops it too): no SYN-ACK, no SYN-RECEIVED slot, no RST. A plain
  // SYN from the same tuple afterwards still opens.
  ASSERT_TRUE(ep_.listen(80, app_));
  learn_client();
  TcpFrameSpec s = syn(7000, 40000, 80);
  s.flags = kTcpSyn | kTcpFin;
  EXPECT_TRUE(feed(make_tcp_frame(s)).empty());
  EXPECT_EQ(ep_.active_connections(), 0u);
  s.flags = kTcpSyn;
  const auto out = feed(make_tcp_frame(s));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(parse_frame(out[0]).flags, kTcpSyn | kTcpAck);
  EXPECT_EQ(parse_frame(out[0]).ack, 7001u);
  EXPECT_EQ(ep_.counters().tcp_syn_fin, 1u);
}

// ---------------------------------------------------------------------------------------------
// Broadcast and multicast

TEST_F(EndpointTest, TcpToBroadcastOrMulticastIsDropped) {
  // RFC9293 MUST-57: a SYN to a broadcast or multicast address is not for a connection.
  ASSERT_TRUE(ep_.listen(80, app_));
  for (uint32_t dst : {0xffffffffu, 0x0a0000ffu, 0xe0000001u}) {
    TcpFrameSpec s = syn(1, 40000, 80);
    s.dst_ip = wire::Ipv4Addr{dst};
    s.dst_mac = wire::MacAddr::broadcast();
    EXPECT_TRUE(feed(make_tcp_frame(s)).empty()) << dst;
  }
  EXPECT_EQ(counted(ep_.counters()), (Counts{{"ipv4_not_for_us", 3}}));
  EXPECT_EQ(ep_.active_connections(), 0u);
}

TEST_F(EndpointTest, TcpFromBroadcastOrMulticastSourceIsDropped) {
  // RFC9293 MUST-63: a segment from a broadcast or multicast source is discarded, never answered.
  ASSERT_TRUE(ep_.listen(80, app_));
  for (uint32_t src : {0xffffffffu, 0x0a0000ffu, 0xe0000005u, kServerIp.value}) {
    TcpFrameSpec s = syn(1, 40000, 80);
    s.src_ip = wire::Ipv4Addr{src};
    EXPECT_TRUE(feed(make_tcp_frame(s)).empty()) << src;
    s.dst_port = 81;  // not even a RST
    EXPECT_TRUE(feed(make_tcp_frame(s)).empty()) << src;
  }
  EXPECT_EQ(counted(ep_.counters()), (Counts{{"ipv4_bad_source", 8}}));
  EXPECT_EQ(ep_.active_connections(), 0u);
}

TEST_F(EndpointTest, ConnectToBroadcastOrMulticastIsRefused) {
  // RFC9293 MUST-46: an active OPEN to a broadcast or multicast address is refused.
  const uint32_t ports = ep_.ports_available();
  for (uint32_t dst : {0xffffffffu, 0x0a0000ffu, 0xe0000001u, 0xefffffffu, 0u})
    EXPECT_EQ(ep_.connect(wire::Ipv4Addr{dst}, 80, app_, now_), kInvalidConn) << dst;
  EXPECT_EQ(ep_.connect(kClientIp, 0, app_, now_), kInvalidConn);  // port 0
  EXPECT_EQ(ep_.active_connections(), 0u);
  EXPECT_EQ(ep_.ports_available(), ports);
  EXPECT_TRUE(output().empty());
  EXPECT_EQ(counted(ep_.counters()), Counts{});
}

// ---------------------------------------------------------------------------------------------
// SYN cookies

class SynCookieTest : public EndpointTest {
 protected:
  static engine::EndpointConfig cfg() {
    auto c = pair_config(Side::kServer);
    c.syn_backlog = 0;  // every SYN takes the cookie path
    return c;
  }
  SynCookieTest() : EndpointTest(cfg()) {}

  TcpFrameSpec full_syn() {
    TcpFrameSpec s = syn(1000);
    s.opts.has_mss = true;
    s.opts.mss = 1400;
    s.opts.has_window_scale = true;
    s.opts.window_scale = 5;
    s.opts.sack_permitted = true;
    s.opts.has_timestamps = true;
    s.opts.ts_val = 777;
    return s;
  }
};

TEST_F(SynCookieTest, BacklogFullSendsACookieAndItsAckEstablishesWithTheOptions) {
  ASSERT_TRUE(ep_.listen(80, app_));
  learn_client();
  auto out = feed(make_tcp_frame(full_syn()));
  ASSERT_EQ(out.size(), 1u);
  ParsedFrame sa = parse_frame(out[0]);
  ASSERT_TRUE(sa.ok);
  EXPECT_TRUE(sa.tcp_checksum_ok);
  EXPECT_EQ(sa.flags, kTcpSyn | kTcpAck);
  EXPECT_EQ(sa.ack, 1001u);
  EXPECT_EQ(sa.window, 65535);
  EXPECT_TRUE(sa.opts.has_mss);
  EXPECT_EQ(sa.opts.mss, 1460);
  EXPECT_TRUE(sa.opts.has_window_scale);
  EXPECT_EQ(sa.opts.window_scale, 7);
  EXPECT_TRUE(sa.opts.sack_permitted);
  EXPECT_TRUE(sa.opts.has_timestamps);
  EXPECT_EQ(sa.opts.ts_ecr, 777u);
  EXPECT_EQ(ep_.active_connections(), 0u);  // stateless
  EXPECT_EQ(counted(ep_.counters()),
            (Counts{{"arp_in", 1}, {"arp_replies_out", 1}, {"syn_backlog_full", 1}, {"syn_cookies_sent", 1}}));

  TcpFrameSpec ack = syn(1001);
  ack.flags = kTcpAck;
  ack.ack = sa.seq + 1;
  ack.window = 1000;  // scaled by 5: 32000
  ack.opts.has_timestamps = true;
  ack.opts.ts_val = 778;
  ack.opts.ts_ecr = sa.opts.ts_val;
  out = feed(make_tcp_frame(ack));
  EXPECT_TRUE(out.empty());
  ASSERT_EQ(app_.opened.size(), 1u);
  const ConnId id = app_.opened[0];
  const tcp::TcpConnection& c = ep_.connection(id);
  EXPECT_EQ(c.state(), State::kEstablished);
  EXPECT_EQ(c.send_mss(), 1400);  // the cookie kept MSS, window scale and SACK
  EXPECT_EQ(c.snd_window_shift(), 5);
  EXPECT_EQ(c.rcv_window_shift(), 7);
  EXPECT_TRUE(c.sack_on());
  EXPECT_TRUE(c.timestamps_on());
  EXPECT_EQ(c.snd_wnd(), 32000u);
  EXPECT_EQ(c.iss().raw(), sa.seq);
  EXPECT_EQ(c.irs().raw(), 1000u);
  EXPECT_EQ(ep_.counters().syn_cookies_accepted, 1u);
  // A passive open: counted as accepted, like one through SYN-RECEIVED.
  EXPECT_EQ(ep_.counters().connections_accepted, 1u);
  EXPECT_EQ(ep_.counters().connections_established, 0u);

  // The connection works: data in is delivered, data out goes with the right MSS.
  TcpFrameSpec data = ack;
  data.flags = kTcpAck;
  data.payload = bytes_of("GET");
  out = feed(make_tcp_frame(data));
  EXPECT_EQ(app_.data, bytes_of("GET"));
  ep_.set_nodelay(id, true);  // the 200-byte tail goes at once (no Nagle)
  ep_.send(id, 3000);
  out = output();
  std::size_t data_frames = 0;
  for (const auto& f : out) {
    const ParsedFrame p = parse_frame(f);
    if (!p.payload.empty()) {
      ++data_frames;
      EXPECT_LE(p.payload.size(), 1400u);
    }
  }
  EXPECT_EQ(data_frames, 3u);  // 1400 + 1400 + 200 (within the 32000-byte window)
}

TEST_F(SynCookieTest, ForgedCookieAckGetsRstAndIsCounted) {
  ASSERT_TRUE(ep_.listen(80, app_));
  ASSERT_EQ(feed(make_tcp_frame(full_syn())).size(), 1u);  // a cookie is out: ACKs are checked
  TcpFrameSpec ack = syn(1001);
  ack.flags = kTcpAck;
  ack.ack = 0x12345678;
  const auto out = feed(make_tcp_frame(ack));
  ASSERT_EQ(out.size(), 1u);
  const ParsedFrame p = parse_frame(out[0]);
  EXPECT_EQ(p.flags, kTcpRst);
  EXPECT_EQ(p.seq, 0x12345678u);
  EXPECT_EQ(ep_.counters().syn_cookies_rejected, 1u);
  EXPECT_EQ(ep_.counters().syn_cookies_accepted, 0u);
  EXPECT_EQ(ep_.counters().tcp_rst_sent_no_conn, 1u);
  EXPECT_EQ(ep_.active_connections(), 0u);
  EXPECT_TRUE(app_.opened.empty());
}

TEST_F(SynCookieTest, CookieFromAnotherTupleIsRejected) {
  ASSERT_TRUE(ep_.listen(80, app_));
  auto out = feed(make_tcp_frame(full_syn()));
  const uint32_t cookie = parse_frame(out[0]).seq;
  TcpFrameSpec ack = syn(1001, 40001);  // another source port
  ack.flags = kTcpAck;
  ack.ack = cookie + 1;
  out = feed(make_tcp_frame(ack));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(parse_frame(out[0]).flags, kTcpRst);
  EXPECT_EQ(ep_.counters().syn_cookies_rejected, 1u);
  EXPECT_EQ(ep_.active_connections(), 0u);
}

TEST_F(SynCookieTest, CookieAnnouncesTheListenersParameters) {
  // The connection a cookie becomes runs with the listener's TcpParams, so the SYN-ACK must
  // announce those (window scale 3, MSS 1000, no SACK), not the endpoint's defaults.
  tcp::TcpParams p;
  p.window_scale = 3;
  p.mss = 1000;
  p.sack = false;
  p.rcv_buffer = 40000;
  ASSERT_TRUE(ep_.listen(80, app_, &p));
  learn_client();
  auto out = feed(make_tcp_frame(full_syn()));
  ASSERT_EQ(out.size(), 1u);
  const ParsedFrame sa = parse_frame(out[0]);
  EXPECT_EQ(sa.opts.window_scale, 3);
  EXPECT_EQ(sa.opts.mss, 1000);
  EXPECT_FALSE(sa.opts.sack_permitted);
  EXPECT_EQ(sa.window, 40000);
  TcpFrameSpec ack = syn(1001);
  ack.flags = kTcpAck;
  ack.ack = sa.seq + 1;
  ack.opts.has_timestamps = true;
  ack.opts.ts_val = 778;
  ack.opts.ts_ecr = sa.opts.ts_val;
  feed(make_tcp_frame(ack));
  ASSERT_EQ(app_.opened.size(), 1u);
  const tcp::TcpConnection& c = ep_.connection(app_.opened[0]);
  EXPECT_EQ(c.rcv_window_shift(), 3);
  EXPECT_EQ(c.send_mss(), 536);  // the cookie encodes MSS 1000 as the table's 536 (rounded down)
  EXPECT_FALSE(c.sack_on());
}

// ---------------------------------------------------------------------------------------------
// Whole connections over the link

class PairTest : public ::testing::Test {
 protected:
  explicit PairTest(PairOptions o = PairOptions()) : pair_(o) {}
  bool run(const std::function<bool()>& pred, Duration max = Duration::seconds(30)) {
    return pair_.run_until(pred, max);
  }
  EndpointPair pair_;
};

TEST_F(PairTest, ListenersOnTwoPortsAreIndependent) {
  // RFC9293 MUST-41, MUST-42: a listener per port; a passive OPEN does not interfere with other
  // listeners or with established connections.
  RecordingApp a, b, c;
  a.send_on_open = 10;
  b.send_on_open = 20;
  ASSERT_TRUE(pair_.server().listen(80, a));
  ASSERT_TRUE(pair_.server().listen(81, b));
  EXPECT_FALSE(pair_.server().listen(80, b));  // one listener per port
  EXPECT_FALSE(pair_.server().listen(0, b));
  const ConnId c80 = pair_.client().connect(kServerIp, 80, c, pair_.now());
  const ConnId c81 = pair_.client().connect(kServerIp, 81, c, pair_.now());
  ASSERT_TRUE(run([&] { return c.data.size() == 30; }));
  EXPECT_EQ(a.opened.size(), 1u);
  EXPECT_EQ(b.opened.size(), 1u);
  EXPECT_EQ(pair_.server().tuple(a.opened[0]).local_port, 80);
  EXPECT_EQ(pair_.server().tuple(b.opened[0]).local_port, 81);
  // Closing the listener on 80 leaves its connection and port 81 alone; new SYNs to 80 are refused.
  pair_.server().unlisten(80);
  const ConnId refused = pair_.client().connect(kServerIp, 80, c, pair_.now());
  ASSERT_TRUE(run([&] { return !c.closed.empty(); }));
  ASSERT_EQ(c.closed.size(), 1u);
  EXPECT_EQ(c.closed[0], std::make_pair(refused, CloseReason::kRefused));
  EXPECT_EQ(pair_.server().counters().tcp_rst_sent_no_conn, 1u);
  EXPECT_EQ(pair_.client().connection(c80).state(), State::kEstablished);
  EXPECT_EQ(pair_.client().connection(c81).state(), State::kEstablished);
  EXPECT_EQ(pair_.server().active_connections(), 2u);
  const ConnId again = pair_.client().connect(kServerIp, 81, c, pair_.now());
  ASSERT_TRUE(run([&] { return b.opened.size() == 2; }));
  EXPECT_EQ(pair_.client().connection(again).state(), State::kEstablished);
}

TEST_F(PairTest, CloseInSynSentDeletesTheConnectionAndTheLateSynAckIsReset) {
  // RFC 9293 §3.10.4, CLOSE in SYN-SENT: "Delete the TCB". The application hears of the end at
  // once, no FIN ever leaves, and the server's SYN-ACK, arriving after, finds no connection and
  // is answered with a RST, which frees the server's SYN-RECEIVED.
  RecordingApp server, client;
  ASSERT_TRUE(pair_.server().listen(80, server));
  uint32_t syns = 0, client_rsts = 0, client_other = 0;
  pair_.filter = [&](Side from, std::vector<uint8_t>& f) {
    const ParsedFrame p = parse_frame(f);
    if (from == Side::kClient && p.ip_proto == 6) {
      if (p.flags == kTcpSyn) ++syns;
      else if (p.flags & kTcpRst) ++client_rsts;
      else ++client_other;
    }
    return true;
  };
  const ConnId id = pair_.client().connect(kServerIp, 80, client, pair_.now());
  ASSERT_NE(id, kInvalidConn);
  ASSERT_TRUE(run([&] { return syns == 1; }));
  ASSERT_EQ(pair_.client().connection(id).state(), State::kSynSent);
  pair_.client().close(id);
  ASSERT_EQ(client.closed.size(), 1u);  // at once, not at the next poll
  EXPECT_EQ(client.closed[0], std::make_pair(id, CloseReason::kAborted));
  ASSERT_TRUE(run([&] { return pair_.server().counters().syn_received_closed == 1; }));
  EXPECT_EQ(client_rsts, 1u);
  EXPECT_EQ(client_other, 0u);  // no ACK of the SYN-ACK, no FIN
  EXPECT_EQ(syns, 1u);          // and no SYN retransmission
  EXPECT_EQ(pair_.client().counters().tcp_rst_sent_no_conn, 1u);
  EXPECT_TRUE(client.opened.empty());
  EXPECT_TRUE(server.opened.empty());
  EXPECT_EQ(pair_.client().active_connections(), 0u);
  EXPECT_EQ(pair_.server().active_connections(), 0u);
  pair_.run_for(Duration::seconds(5));  // the SYN's retransmission timer is gone with it
  EXPECT_EQ(syns, 1u);
  EXPECT_EQ(client.closed.size(), 1u);
}

TEST_F(PairTest, CookieConnectionsCarryVerifiedBytesBothWays) {
  // Every SYN takes the cookie path; window scaling and SACK must still be right for real data.
  PairOptions o;
  o.server.syn_backlog = 0;
  EndpointPair pair(o);
  const StreamPlan cplan{200'000, true, true, 300'000};
  const StreamPlan splan{300'000, false, true, 200'000};
  StreamApp client(Side::kClient, 5, 1024, cplan), server(Side::kServer, 5, 1024, splan);
  ASSERT_TRUE(pair.server().listen(80, server));
  for (int i = 0; i < 20; ++i) ASSERT_NE(pair.client().connect(kServerIp, 80, client, pair.now()), kInvalidConn);
  ASSERT_TRUE(pair.run_until([&] { return client.totals().closed == 20 && server.totals().closed == 20; },
                             Duration::seconds(30)));
  EXPECT_EQ(client.totals().complete, 20u);
  EXPECT_EQ(server.totals().complete, 20u);
  EXPECT_EQ(client.totals().mismatches + server.totals().mismatches, 0u);
  EXPECT_EQ(pair.server().counters().syn_cookies_sent, 20u);
  EXPECT_EQ(pair.server().counters().syn_cookies_accepted, 20u);
  EXPECT_EQ(pair.server().counters().connections_accepted, 20u);
  EXPECT_EQ(pair.client().counters().connections_opened, 20u);
}

TEST_F(PairTest, FullConnectionTableIsCountedAndExistingConnectionsAreUnharmed) {
  PairOptions o;
  o.server.max_connections = 2;
  o.server.syn_cookies = false;
  EndpointPair pair(o);
  RecordingApp server, client;
  ASSERT_TRUE(pair.server().listen(80, server));
  const ConnId a = pair.client().connect(kServerIp, 80, client, pair.now());
  const ConnId b = pair.client().connect(kServerIp, 80, client, pair.now());
  ASSERT_TRUE(pair.run_until([&] { return server.opened.size() == 2; }));
  const ConnId third = pair.client().connect(kServerIp, 80, client, pair.now());
  pair.run_for(Duration::millis(500));  // before the SYN's first retransmission (1 s)
  EXPECT_EQ(pair.server().counters().conn_table_full, 1u);
  EXPECT_EQ(pair.server().active_connections(), 2u);
  EXPECT_EQ(pair.client().connection(third).state(), State::kSynSent);
  EXPECT_EQ(pair.server().counters().tcp_rst_sent_no_conn, 0u);  // dropped silently: the SYN may retry
  // The two are unharmed.
  pair.client().send(a, 5000);
  pair.client().send(b, 7000);
  ASSERT_TRUE(pair.run_until([&] { return server.data.size() == 12000; }));
  EXPECT_EQ(pair.client().connection(a).state(), State::kEstablished);
  EXPECT_EQ(pair.client().connection(b).state(), State::kEstablished);
  // Once one closes, the retried SYN gets in.
  pair.client().abort(a);
  ASSERT_TRUE(pair.run_until([&] { return server.opened.size() == 3; }, Duration::seconds(10)));
  EXPECT_EQ(pair.client().connection(third).state(), State::kEstablished);
}

TEST_F(PairTest, FullConnectionTableDropsTheSynEvenWithCookiesAndTheRetryGetsIn) {
  // A cookie would promise a connection the table cannot hold (its ACK and request would be
  // dropped, then reset): a full table drops the SYN, counted, and the peer's retry gets in.
  PairOptions o;
  o.server.max_connections = 2;
  ASSERT_TRUE(o.server.syn_cookies);
  EndpointPair pair(o);
  RecordingApp server, client;
  ASSERT_TRUE(pair.server().listen(80, server));
  const ConnId a = pair.client().connect(kServerIp, 80, client, pair.now());
  pair.client().connect(kServerIp, 80, client, pair.now());
  ASSERT_TRUE(pair.run_until([&] { return server.opened.size() == 2; }));
  const ConnId third = pair.client().connect(kServerIp, 80, client, pair.now());
  pair.run_for(Duration::millis(500));  // before the SYN's first retransmission (1 s)
  EXPECT_EQ(pair.server().counters().conn_table_full, 1u);
  EXPECT_EQ(pair.server().counters().syn_cookies_sent, 0u);
  EXPECT_EQ(pair.client().connection(third).state(), State::kSynSent);
  pair.client().abort(a);
  ASSERT_TRUE(pair.run_until([&] { return server.opened.size() == 3; }, Duration::seconds(10)));
  EXPECT_EQ(pair.client().connection(third).state(), State::kEstablished);
  EXPECT_EQ(pair.server().counters().syn_cookies_sent, 0u);
}

// TIME_WAIT after the client's active close.
class TimeWaitTest : public PairTest {
 protected:
  TimeWaitTest()
      : client_(Side::kClient, 3, 1024, StreamPlan{500, true, true, 1000}),
        server_(Side::kServer, 3, 1024, StreamPlan{1000, false, true, 500}) {
    pair_.record_frames = true;
    EXPECT_TRUE(pair_.server().listen(80, server_));
  }
  // Opens one connection and runs it until the client holds its TIME_WAIT record.
  void close_one() {
    ports_before_ = pair_.client().ports_available();
    id_ = pair_.client().connect(kServerIp, 80, client_, pair_.now());
    ASSERT_NE(id_, kInvalidConn);
    port_ = pair_.client().tuple(id_).local_port;
    ASSERT_TRUE(run([&] { return pair_.client().time_wait_count() == 1; }));
    entered_ = pair_.now();
  }
  // A segment from the server to the client's TIME_WAIT tuple, to fill in.
  TcpFrameSpec from_server() const {
    TcpFrameSpec s;
    s.src_mac = kServerMac;
    s.dst_mac = kClientMac;
    s.src_ip = kServerIp;
    s.dst_ip = kClientIp;
    s.src_port = 80;
    s.dst_port = port_;
    return s;
  }
  StreamApp client_, server_;
  ConnId id_ = kInvalidConn;
  uint16_t port_ = 0;
  uint32_t ports_before_ = 0;
  Instant entered_;
};

TEST_F(TimeWaitTest, ActiveCloseLeavesACompactRecordHoldingThePort) {
  close_one();
  ASSERT_TRUE(run([&] { return server_.totals().closed == 1; }));
  EXPECT_EQ(client_.totals().complete, 1u);
  EXPECT_EQ(server_.totals().complete, 1u);
  EXPECT_EQ(pair_.client().time_wait_count(), 1u);
  EXPECT_EQ(pair_.client().active_connections(), 0u);  // the full slot is free
  EXPECT_EQ(pair_.client().state_histogram()[static_cast<std::size_t>(State::kTimeWait)], 1u);
  EXPECT_EQ(pair_.client().ports_available(), ports_before_ - 1);  // the port stays taken
  EXPECT_EQ(pair_.server().active_connections(), 0u);
  EXPECT_EQ(pair_.server().time_wait_count(), 0u);
  EXPECT_EQ(pair_.client().counters().connections_closed, 1u);
}

TEST_F(TimeWaitTest, RecordExpiresAfterTwoMslAndThePortReturns) {
  // RFC9293 MUST-13: TIME_WAIT lasts 2*MSL (the configured 60 s), not less.
  close_one();
  const Duration two_msl = pair_.client().config().time_wait;
  ASSERT_EQ(two_msl, Duration::seconds(60));
  ASSERT_FALSE(run([&] { return pair_.client().time_wait_count() == 0; }, two_msl - Duration::millis(1)));
  ASSERT_TRUE(run([&] { return pair_.client().time_wait_count() == 0; }, Duration::millis(10)));
  const Duration lasted = pair_.now() - entered_;
  EXPECT_GE(lasted, two_msl);
  EXPECT_LE(lasted, two_msl + Duration::millis(2));
  EXPECT_EQ(pair_.client().ports_available(), ports_before_);
}

TEST_F(TimeWaitTest, RetransmittedFinIsAckedFromTheRecord) {
  // Drop the client's ACK of the server's FIN: the server retransmits the FIN into TIME_WAIT.
  uint32_t server_fin_end = 0;
  bool dropped = false;
  pair_.filter = [&](Side from, std::vector<uint8_t>& f) {
    const ParsedFrame p = parse_frame(f);
    if (from == Side::kServer && (p.flags & kTcpFin)) server_fin_end = p.seq + static_cast<uint32_t>(p.payload.size()) + 1;
    if (from == Side::kClient && !dropped && server_fin_end != 0 && p.ack == server_fin_end) {
      dropped = true;
      return false;
    }
    return true;
  };
  close_one();
  ASSERT_TRUE(dropped);
  EXPECT_EQ(pair_.server().state_histogram()[static_cast<std::size_t>(State::kLastAck)], 1u);
  const std::size_t client_frames = pair_.sent_by_client.size();
  ASSERT_TRUE(run([&] { return server_.totals().closed == 1; }, Duration::seconds(10)));
  EXPECT_EQ(server_.close_reasons.back(), CloseReason::kNormal);
  EXPECT_EQ(pair_.client().counters().time_wait_hits, 1u);
  ASSERT_EQ(pair_.sent_by_client.size(), client_frames + 1);
  const ParsedFrame ack = parse_frame(pair_.sent_by_client.back());
  EXPECT_EQ(ack.flags, kTcpAck);
  EXPECT_EQ(ack.ack, server_fin_end);
  EXPECT_TRUE(ack.opts.has_timestamps);
  EXPECT_EQ(pair_.client().time_wait_count(), 1u);
}

TEST_F(TimeWaitTest, RstInTimeWaitIsIgnored) {
  // RFC 1337: a RST must not end TIME_WAIT early.
  close_one();
  TcpFrameSpec rst = from_server();
  rst.flags = kTcpRst;
  rst.seq = parse_frame(pair_.sent_by_client.back()).ack;
  pair_.client().input(make_tcp_frame(rst), pair_.now());
  EXPECT_FALSE(pair_.client().has_output());
  EXPECT_EQ(pair_.client().counters().time_wait_rst_ignored, 1u);
  EXPECT_EQ(pair_.client().time_wait_count(), 1u);
  EXPECT_EQ(pair_.client().ports_available(), ports_before_ - 1);
}

TEST_F(TimeWaitTest, HalfOpenFromAnOldDuplicateSynIsResetAfterTheChallengeAck) {
  // Seen in the fault suite: the client's retransmitted SYN, held back in the network, reaches
  // the server after the whole connection has closed. The server opens a new SYN-RECEIVED on the
  // tuple; its SYN-ACK meets the client's TIME_WAIT record, which answers with a challenge ACK
  // (RFC 5961 §4), and the server answers that with a RST at exactly rcv_nxt (RFC9293 MUST-11's
  // reset path). Ignoring that RST (RFC 1337) left the server half-open until the record expired
  // and beyond. Now it ends the record, and the server's next SYN-ACK meets a closed tuple and
  // gets the RST that frees it, within the server's second retransmission timeout.
  int syn_acks = 0;
  int client_syns = 0;
  std::vector<uint8_t> held_syn;
  pair_.filter = [&](Side from, std::vector<uint8_t>& f) {
    const ParsedFrame p = parse_frame(f);
    if (from == Side::kServer && p.flags == (kTcpSyn | kTcpAck) && ++syn_acks == 1) return false;  // lost
    if (from == Side::kClient && p.flags == kTcpSyn && ++client_syns == 2) {
      held_syn = f;  // the retransmitted SYN, delivered by hand below
      return false;
    }
    return true;
  };
  close_one();
  ASSERT_FALSE(held_syn.empty());
  ASSERT_TRUE(run([&] { return server_.totals().closed == 1; }));
  ASSERT_EQ(pair_.server().active_connections(), 0u);
  pair_.filter = nullptr;

  pair_.server().input(held_syn, pair_.now());
  ASSERT_EQ(pair_.server().state_histogram()[static_cast<std::size_t>(State::kSynReceived)], 1u);
  ASSERT_TRUE(run([&] { return pair_.server().active_connections() == 0; }, Duration::seconds(5)));
  EXPECT_EQ(pair_.client().counters().time_wait_rst_challenged, 1u);
  EXPECT_EQ(pair_.client().counters().time_wait_rst_ignored, 0u);
  EXPECT_EQ(pair_.client().counters().tcp_rst_sent_no_conn, 1u);
  EXPECT_EQ(pair_.client().time_wait_count(), 0u);
  EXPECT_EQ(pair_.client().ports_available(), ports_before_);
  EXPECT_EQ(server_.totals().opened, 1u);  // the half-open one never reached the application
  EXPECT_EQ(pair_.server().counters().syn_received_closed, 1u);
  EXPECT_EQ(pair_.server().counters().connections_closed, 2u);
  EXPECT_EQ(pair_.server().counters().connections_accepted, 1u);
}

TEST_F(TimeWaitTest, AfterAChallengeAckOnlyAnExactRstEndsTheRecord) {
  // RFC 5961 §3.2 within RFC 1337's rule: after the challenge ACK, a RST off rcv_nxt is still
  // ignored; one at rcv_nxt ends the record.
  close_one();
  const ParsedFrame last = parse_frame(pair_.sent_by_client.back());
  TcpFrameSpec seg = from_server();
  seg.flags = kTcpSyn | kTcpAck;
  seg.seq = last.ack + 100000;
  seg.ack = last.seq - 1;
  // The server must not see the challenge ACK: it would answer with the exact RST itself.
  std::vector<std::vector<uint8_t>> answers;
  pair_.filter = [&](Side from, std::vector<uint8_t>& f) {
    if (from == Side::kClient) answers.push_back(f);
    return from != Side::kClient;
  };
  pair_.client().input(make_tcp_frame(seg), pair_.now());
  pair_.run_for(Duration::millis(1));
  ASSERT_EQ(answers.size(), 1u);
  const ParsedFrame challenge = parse_frame(answers[0]);
  EXPECT_EQ(challenge.flags, kTcpAck);
  EXPECT_EQ(challenge.seq, last.seq);
  EXPECT_EQ(challenge.ack, last.ack);

  seg.flags = kTcpRst;
  seg.ack = 0;
  seg.seq = last.ack + 1;
  pair_.client().input(make_tcp_frame(seg), pair_.now());
  EXPECT_EQ(pair_.client().counters().time_wait_rst_ignored, 1u);
  EXPECT_EQ(pair_.client().time_wait_count(), 1u);
  seg.seq = last.ack;
  pair_.client().input(make_tcp_frame(seg), pair_.now());
  EXPECT_EQ(pair_.client().counters().time_wait_rst_challenged, 1u);
  EXPECT_EQ(pair_.client().time_wait_count(), 0u);
  EXPECT_EQ(pair_.client().ports_available(), ports_before_);
}

// TIME_WAIT on the server (it closes first), where a new SYN may reuse the tuple.
class ServerTimeWaitTest : public PairTest {
 protected:
  ServerTimeWaitTest()
      : client_(Side::kClient, 4, 1024, StreamPlan{500, false, true, 1000}),
        server_(Side::kServer, 4, 1024, StreamPlan{1000, true, true, 500}) {
    pair_.record_frames = true;
    EXPECT_TRUE(pair_.server().listen(80, server_));
    const ConnId id = pair_.client().connect(kServerIp, 80, client_, pair_.now());
    port_ = pair_.client().tuple(id).local_port;
    EXPECT_TRUE(run([&] { return pair_.server().time_wait_count() == 1 && client_.totals().closed == 1; }));
    for (const auto& f : pair_.sent_by_client) {
      const ParsedFrame p = parse_frame(f);
      if (p.flags & kTcpFin) client_end_ = p.seq + static_cast<uint32_t>(p.payload.size()) + 1;
    }
    for (const auto& f : pair_.sent_by_server) {
      const ParsedFrame p = parse_frame(f);
      if (p.flags & kTcpFin) server_end_ = p.seq + static_cast<uint32_t>(p.payload.size()) + 1;
    }
  }
  TcpFrameSpec client_segment() const {
    TcpFrameSpec s;
    s.src_port = port_;
    s.dst_port = 80;
    return s;
  }
  StreamApp client_, server_;
  uint16_t port_ = 0;
  uint32_t client_end_ = 0, server_end_ = 0;
};

TEST_F(ServerTimeWaitTest, NewSynWithNewerTimestampReusesTheTuple) {
  // RFC 6191: a SYN with a newer timestamp may reopen a tuple in TIME_WAIT.
  ASSERT_EQ(pair_.server().time_wait_count(), 1u);
  pair_.run_for(Duration::seconds(1));
  const ConnId id = pair_.client().connect(kServerIp, 80, client_, pair_.now(), nullptr, port_);
  ASSERT_NE(id, kInvalidConn);
  ASSERT_TRUE(run([&] { return server_.totals().opened == 2; }));
  EXPECT_EQ(pair_.server().counters().time_wait_reused, 1u);
  EXPECT_EQ(pair_.server().time_wait_count(), 0u);
  EXPECT_EQ(pair_.client().tuple(id).local_port, port_);
  ASSERT_TRUE(run([&] { return client_.totals().closed == 2 && pair_.server().time_wait_count() == 1; }));
  EXPECT_EQ(client_.totals().complete, 2u);
}

TEST_F(ServerTimeWaitTest, NewSynWithHigherSequenceNumberReusesTheTuple) {
  // RFC 9293 §3.10.7.4 / RFC 6191: without timestamps, a SYN above the old RCV.NXT is new.
  TcpFrameSpec s = client_segment();
  s.flags = kTcpSyn;
  s.seq = client_end_ + 100000;
  pair_.server().input(make_tcp_frame(s), pair_.now());
  FrameCollector col;
  pair_.server().poll_output(col, pair_.now(), 8);
  ASSERT_EQ(col.frames.size(), 1u);
  const ParsedFrame p = parse_frame(col.frames[0]);
  EXPECT_EQ(p.flags, kTcpSyn | kTcpAck);
  EXPECT_EQ(p.ack, client_end_ + 100001);
  EXPECT_EQ(pair_.server().counters().time_wait_reused, 1u);
  EXPECT_EQ(pair_.server().time_wait_count(), 0u);
  EXPECT_EQ(pair_.server().active_connections(), 1u);
}

TEST_F(ServerTimeWaitTest, OldSynInTimeWaitIsAnsweredWithTheRecordsAck) {
  TcpFrameSpec s = client_segment();
  s.flags = kTcpSyn;
  s.seq = client_end_ - 100;  // below RCV.NXT, no timestamps: not new
  pair_.server().input(make_tcp_frame(s), pair_.now());
  FrameCollector col;
  pair_.server().poll_output(col, pair_.now(), 8);
  ASSERT_EQ(col.frames.size(), 1u);
  const ParsedFrame p = parse_frame(col.frames[0]);
  EXPECT_EQ(p.flags, kTcpAck);
  EXPECT_EQ(p.seq, server_end_);
  EXPECT_EQ(p.ack, client_end_);
  EXPECT_EQ(pair_.server().counters().time_wait_reused, 0u);
  EXPECT_EQ(pair_.server().time_wait_count(), 1u);
  // A bare ACK is absorbed silently.
  s.flags = kTcpAck;
  s.seq = client_end_;
  s.ack = server_end_;
  pair_.server().input(make_tcp_frame(s), pair_.now());
  EXPECT_FALSE(pair_.server().has_output());
  EXPECT_EQ(pair_.server().counters().time_wait_hits, 2u);
}

TEST_F(PairTest, PortsExhaustedIsCounted) {
  PairOptions o;
  o.client.ephemeral_first = 20000;
  o.client.ephemeral_last = 20001;
  EndpointPair pair(o);
  RecordingApp app;
  EXPECT_EQ(pair.client().ports_available(), 2u);
  EXPECT_NE(pair.client().connect(kServerIp, 80, app, pair.now()), kInvalidConn);
  EXPECT_NE(pair.client().connect(kServerIp, 80, app, pair.now()), kInvalidConn);
  EXPECT_EQ(pair.client().connect(kServerIp, 80, app, pair.now()), kInvalidConn);
  EXPECT_EQ(pair.client().counters().ports_exhausted, 1u);
  EXPECT_EQ(pair.client().counters().connections_opened, 2u);
  EXPECT_EQ(pair.client().active_connections(), 2u);
}

TEST_F(PairTest, SourceAddressesAreTakenInTurnEachWithItsPorts) {
  // A client with three source addresses and two ports each: six connections, two per address,
  // each address answered by ARP (the server resolves every one before its SYN-ACK goes out).
  PairOptions o;
  o.client.ephemeral_first = 20000;
  o.client.ephemeral_last = 20001;
  o.client.source_first = wire::Ipv4Addr{0x0a000014};  // 10.0.0.20
  o.client.source_last = wire::Ipv4Addr{0x0a000016};   // 10.0.0.22
  EndpointPair pair(o);
  RecordingApp server, client;
  server.send_on_open = 10;
  ASSERT_TRUE(pair.server().listen(80, server));
  EXPECT_EQ(pair.client().ports_available(), 6u);
  for (int i = 0; i < 6; ++i) ASSERT_NE(pair.client().connect(kServerIp, 80, client, pair.now()), kInvalidConn);
  EXPECT_EQ(pair.client().connect(kServerIp, 80, client, pair.now()), kInvalidConn);
  EXPECT_EQ(pair.client().counters().ports_exhausted, 1u);
  ASSERT_TRUE(pair.run_until([&] { return client.data.size() == 60; }));
  std::map<uint32_t, int> per_address;
  for (ConnId id : server.opened) ++per_address[pair.server().tuple(id).remote_ip];
  EXPECT_EQ(per_address, (std::map<uint32_t, int>{{0x0a000014, 2}, {0x0a000015, 2}, {0x0a000016, 2}}));
  EXPECT_TRUE(pair.client().is_local(wire::Ipv4Addr{0x0a000015}));
  // RFC9293 MUST-43: a local address given to OPEN is used, and one that is not ours refused.
  // RFC9293 MUST-44: without one, the endpoint chose them in turn (above).
  // RFC9293 MUST-45: every segment the server saw came from the connection's own address.
  EXPECT_EQ(pair.client().connect(kServerIp, 80, client, pair.now(), nullptr, 0, wire::Ipv4Addr{0x0a000017}),
            kInvalidConn);
  EXPECT_EQ(pair.client().connect(kServerIp, 80, client, pair.now(), nullptr, 0, wire::Ipv4Addr{0x0a000015}),
            kInvalidConn);  // its two ports are taken
  EXPECT_EQ(pair.client().counters().ports_exhausted, 2u);
  EXPECT_FALSE(pair.client().is_local(wire::Ipv4Addr{0x0a000017}));
  // Closing returns each port to its own address's table (after TIME_WAIT).
  for (ConnId id : client.opened) pair.client().close(id);
  for (ConnId id : server.opened) pair.server().close(id);
  ASSERT_TRUE(pair.run_until([&] { return pair.client().ports_available() == 6; }, Duration::seconds(300)));
  const ConnId chosen =
      pair.client().connect(kServerIp, 80, client, pair.now(), nullptr, 0, wire::Ipv4Addr{0x0a000016});
  ASSERT_NE(chosen, kInvalidConn);
  EXPECT_EQ(pair.client().tuple(chosen).local_ip, 0x0a000016u);
  ASSERT_TRUE(pair.run_until([&] { return server.opened.size() == 7; }));
  EXPECT_EQ(pair.server().tuple(server.opened.back()).remote_ip, 0x0a000016u);
}

TEST_F(PairTest, AbortSendsRstAndBothApplicationsHear) {
  RecordingApp server, client;
  ASSERT_TRUE(pair_.server().listen(80, server));
  pair_.record_frames = true;
  const ConnId id = pair_.client().connect(kServerIp, 80, client, pair_.now());
  ASSERT_TRUE(run([&] { return server.opened.size() == 1; }));
  const uint32_t snd_nxt = pair_.client().connection(id).snd_nxt().raw();
  const uint32_t ports = pair_.client().ports_available();
  pair_.client().abort(id);
  ASSERT_EQ(client.closed.size(), 1u);
  EXPECT_EQ(client.closed[0], std::make_pair(id, CloseReason::kAborted));
  ASSERT_TRUE(run([&] { return server.closed.size() == 1; }));
  EXPECT_EQ(server.closed[0].second, CloseReason::kReset);
  const ParsedFrame rst = parse_frame(pair_.sent_by_client.back());
  EXPECT_TRUE(rst.flags & kTcpRst);
  EXPECT_EQ(rst.seq, snd_nxt);
  EXPECT_EQ(pair_.client().active_connections(), 0u);
  EXPECT_EQ(pair_.client().time_wait_count(), 0u);  // no TIME_WAIT after an abort
  EXPECT_EQ(pair_.client().ports_available(), ports + 1);
  EXPECT_EQ(pair_.server().active_connections(), 0u);
  EXPECT_EQ(pair_.server().counters().connections_reset, 1u);
}

TEST_F(PairTest, IcmpDestinationUnreachableDoesNotAbortAConnection) {
  // RFC9293 MUST-56: soft errors (unreachable, time exceeded, parameter problem) never abort.
  RecordingApp server, client;
  ASSERT_TRUE(pair_.server().listen(80, server));
  const ConnId id = pair_.client().connect(kServerIp, 80, client, pair_.now());
  ASSERT_TRUE(run([&] { return server.opened.size() == 1; }));
  // The quoted datagram: our SYN's IP header + 8 bytes of TCP.
  TcpFrameSpec q;
  q.src_ip = kClientIp;
  q.dst_ip = kServerIp;
  q.src_port = pair_.client().tuple(id).local_port;
  q.dst_port = 80;
  const auto quoted_frame = make_tcp_frame(q);
  const std::vector<uint8_t> quoted(quoted_frame.begin() + 14, quoted_frame.begin() + 14 + 28);
  for (uint8_t type : {wire::kIcmpDestUnreachable, wire::kIcmpTimeExceeded, wire::kIcmpParamProblem}) {
    for (uint8_t code : {0, 1, 3, 4}) {
      pair_.client().input(make_icmp_frame(type, code, 0, quoted, kServerMac, wire::Ipv4Addr{0x0a0000fe},
                                           kClientMac, kClientIp),
                           pair_.now());
    }
  }
  EXPECT_EQ(pair_.client().counters().icmp_errors_in, 12u);
  EXPECT_FALSE(pair_.client().has_output());
  EXPECT_EQ(pair_.client().connection(id).state(), State::kEstablished);
  EXPECT_TRUE(client.closed.empty());
  pair_.client().send(id, 4000);
  ASSERT_TRUE(run([&] { return server.data.size() == 4000; }));
}

TEST_F(PairTest, TxBackPressureDefersOutputAndLosesNothing) {
  RecordingApp server, client;
  ASSERT_TRUE(pair_.server().listen(80, server));
  const ConnId id = pair_.client().connect(kServerIp, 80, client, pair_.now());
  ASSERT_TRUE(run([&] { return server.opened.size() == 1; }));
  pair_.client().send(id, 10 * 1460);
  FrameCollector small(3);
  EXPECT_EQ(pair_.client().poll_output(small, pair_.now(), 64), 3u);
  EXPECT_EQ(pair_.client().counters().tx_deferred, 1u);
  EXPECT_TRUE(pair_.client().has_output());
  for (const auto& f : small.frames) pair_.link().send(0, f, pair_.now());
  ASSERT_TRUE(run([&] { return server.data.size() == 10 * 1460; }));
  EXPECT_EQ(first_stream_mismatch(99, 0, server.data), -1);
}

// Endpoint::memory_per_entry: the per-entry figures, times the capacities, add up to the total
// the endpoint accounts for (less the shared out-of-order pool, which belongs to no entry).
TEST(EndpointMemory, PerEntryAccountingAddsUpToTheTotal) {
  engine::EndpointConfig cfg = pair_config(Side::kServer);
  cfg.max_connections = 1000;
  cfg.time_wait_capacity = 3000;
  const Endpoint ep(cfg);
  const Endpoint::MemoryPerEntry m = ep.memory_per_entry();
  EXPECT_EQ(m.tcp_connection, sizeof(tcp::TcpConnection));
  EXPECT_EQ(m.time_wait_record, sizeof(engine::TimeWaitRecord));
  EXPECT_GE(m.conn_object, m.tcp_connection);
  EXPECT_GT(m.connection, static_cast<double>(m.conn_object) + m.index_entry);
  EXPECT_GT(m.time_wait, static_cast<double>(m.time_wait_record) + m.index_entry);
  const double entries = m.connection * 1000 + m.time_wait * 3000;
  const double ooo = static_cast<double>(cfg.ooo_chunks) * sizeof(tcp::ChunkPool::Chunk);
  EXPECT_NEAR(entries + ooo, static_cast<double>(ep.memory_bytes()), 1.0);
}

}  // namespace
}  // namespace linetcp::testing
