// IPv6 addresses, prefixes, the packet view (extension headers, bounds), the pseudo-header
// checksum, ICMPv6 and Neighbor Discovery messages.
#include "linetcp/wire/ipv6.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "linetcp/wire/checksum.hpp"
#include "linetcp/wire/icmpv6.hpp"
#include "linetcp/wire/ipv4.hpp"

namespace linetcp::wire {
namespace {

Ipv6Addr A(const char* s) {
  auto a = Ipv6Addr::parse(s);
  EXPECT_TRUE(a) << s;
  return a.value_or(Ipv6Addr{});
}

TEST(Ipv6Addr, ParsesTheRfc4291FormsAndPrintsRfc5952) {
  EXPECT_EQ(A("2001:db8:0:0:1:0:0:1").to_string(), "2001:db8::1:0:0:1");  // first longest run
  EXPECT_EQ(A("2001:0db8:0000:0000:0000:0000:0000:0001").to_string(), "2001:db8::1");
  EXPECT_EQ(A("::").to_string(), "::");
  EXPECT_EQ(A("::1").to_string(), "::1");
  EXPECT_EQ(A("fe80::").to_string(), "fe80::");
  EXPECT_EQ(A("2001:db8:0:1:1:1:1:1").to_string(), "2001:db8:0:1:1:1:1:1");  // one zero group stays
  EXPECT_EQ(A("::ffff:10.0.0.1").to_string(), "::ffff:a00:1");
  EXPECT_TRUE(A("::ffff:10.0.0.1").is_v4_mapped());
  EXPECT_EQ(A("FE80::A:b").to_string(), "fe80::a:b");
  const Ipv6Addr a = A("2001:db8::7");
  EXPECT_EQ(a.bytes[0], 0x20);
  EXPECT_EQ(a.bytes[1], 0x01);
  EXPECT_EQ(a.bytes[15], 0x07);
}

TEST(Ipv6Addr, RefusesMalformedText) {
  for (const char* bad : {"", ":", ":::", "1::2::3", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "12345::", "g::",
                          "1:", ":1", "1::2:", "::1.2.3", "1.2.3.4", "::1.2.3.4:5", "2001:db8::/64",
                          "1:2:3:4:5:6:7:1.2.3.4"})
    EXPECT_FALSE(Ipv6Addr::parse(bad)) << bad;
  EXPECT_TRUE(Ipv6Addr::parse("1:2:3:4:5:6:1.2.3.4"));
  EXPECT_TRUE(Ipv6Addr::parse("1::2:3:4:5:6:7"));  // "::" for one group is accepted on input
}

TEST(Ipv6Addr, ClassesAndDerivedAddresses) {
  EXPECT_TRUE(A("ff02::1").is_multicast());
  EXPECT_TRUE(A("fe80::1").is_link_local());
  EXPECT_FALSE(A("fec0::1").is_link_local());
  EXPECT_TRUE(A("::1").is_loopback());
  EXPECT_TRUE(Ipv6Addr{}.is_unspecified());
  EXPECT_EQ(A("2001:db8::12:3456").solicited_node(), A("ff02::1:ff12:3456"));
  EXPECT_EQ(A("ff02::1:ff12:3456").multicast_mac().to_string(), "33:33:ff:12:34:56");
  // RFC 4291 appendix A: modified EUI-64, the U/L bit inverted.
  EXPECT_EQ(Ipv6Addr::link_local_from_mac(*MacAddr::parse("02:00:00:00:00:01")), A("fe80::ff:fe00:1"));
  EXPECT_EQ(Ipv6Addr::link_local_from_mac(*MacAddr::parse("00:11:22:33:44:55")), A("fe80::211:22ff:fe33:4455"));
}

TEST(Ipv6Prefix, ParseAndContains) {
  const auto p = Ipv6Prefix::parse("2001:db8:1::5/48");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->length, 48);
  EXPECT_TRUE(p->contains(A("2001:db8:1:ffff::1")));
  EXPECT_FALSE(p->contains(A("2001:db8:2::1")));
  const auto q = Ipv6Prefix::parse("2001:db8::/61");
  ASSERT_TRUE(q);
  EXPECT_TRUE(q->contains(A("2001:db8:0:7::1")));
  EXPECT_FALSE(q->contains(A("2001:db8:0:8::1")));
  EXPECT_TRUE(Ipv6Prefix::parse("::/0")->contains(A("ff02::1")));
  EXPECT_TRUE(Ipv6Prefix::parse("2001:db8::1/128")->contains(A("2001:db8::1")));
  EXPECT_FALSE(Ipv6Prefix::parse("2001:db8::1/128")->contains(A("2001:db8::2")));
  for (const char* bad : {"2001:db8::", "2001:db8::/129", "2001:db8::/", "2001:db8::/064", "x/64"})
    EXPECT_FALSE(Ipv6Prefix::parse(bad)) << bad;
  EXPECT_EQ(p->to_string(), "2001:db8:1::5/48");
}

// An IPv6 packet: header, then `ext` (already encoded extension headers), then the payload.
std::vector<uint8_t> packet(uint8_t first_next, const std::vector<uint8_t>& ext, std::size_t payload,
                            std::size_t padding = 0) {
  std::vector<uint8_t> p(kIpv6HeaderLen + ext.size() + payload + padding, 0xaa);
  write_ipv6_header(p.data(), A("2001:db8::2"), A("2001:db8::1"), first_next,
                    static_cast<uint16_t>(ext.size() + payload), 64, 0x2e);
  std::copy(ext.begin(), ext.end(), p.begin() + kIpv6HeaderLen);
  return p;
}
// An 8-byte extension header (hop-by-hop, destination options or routing) followed by `next`.
std::vector<uint8_t> ext8(uint8_t next, uint8_t segments_left = 0) { return {next, 0, 1, segments_left, 0, 0, 0, 0}; }

TEST(Ipv6View, ParsesTheFixedHeaderAndTrimsPadding) {
  const auto p = packet(kIpProtoTcp, {}, 20, 6);
  Ipv6View v;
  ASSERT_EQ(Ipv6View::parse(p, v), Ipv6Error::kOk);
  EXPECT_EQ(v.src(), A("2001:db8::2"));
  EXPECT_EQ(v.dst(), A("2001:db8::1"));
  EXPECT_EQ(v.protocol(), kIpProtoTcp);
  EXPECT_EQ(v.hop_limit(), 64);
  EXPECT_EQ(v.traffic_class(), 0x2e);
  EXPECT_EQ(v.payload().size(), 20u);  // Ethernet padding left out
  EXPECT_EQ(v.extension_length(), 0u);
}

TEST(Ipv6View, SkipsExtensionHeadersToTheUpperLayer) {
  std::vector<uint8_t> ext = ext8(kIpProtoDestOpts);  // hop-by-hop -> destination options
  std::vector<uint8_t> dest(16, 0);                      // a 16-byte destination options header
  dest[0] = kIpProtoRouting;
  dest[1] = 1;
  ext.insert(ext.end(), dest.begin(), dest.end());
  const auto routing = ext8(kIpProtoTcp, 0);  // segments left 0: we are the final destination
  ext.insert(ext.end(), routing.begin(), routing.end());
  const auto p = packet(kIpProtoHopByHop, ext, 20);
  Ipv6View v;
  ASSERT_EQ(Ipv6View::parse(p, v), Ipv6Error::kOk);
  EXPECT_EQ(v.protocol(), kIpProtoTcp);
  EXPECT_EQ(v.extension_length(), 32u);
  EXPECT_EQ(v.payload().size(), 20u);
  EXPECT_EQ(v.payload().data(), p.data() + kIpv6HeaderLen + 32);
}

TEST(Ipv6View, RefusesBadPackets) {
  Ipv6View v;
  EXPECT_EQ(Ipv6View::parse(std::vector<uint8_t>(39, 0x60), v), Ipv6Error::kTooShort);
  auto p = packet(kIpProtoTcp, {}, 20);
  p[0] = 0x45;
  EXPECT_EQ(Ipv6View::parse(p, v), Ipv6Error::kBadVersion);
  p = packet(kIpProtoTcp, {}, 20);
  p.pop_back();  // payload length says one byte more than there is
  EXPECT_EQ(Ipv6View::parse(p, v), Ipv6Error::kBadPayloadLength);
  // An extension header longer than the payload.
  auto ext = ext8(kIpProtoTcp);
  ext[1] = 10;
  EXPECT_EQ(Ipv6View::parse(packet(kIpProtoDestOpts, ext, 0), v), Ipv6Error::kBadExtension);
  // Truncated: fewer than 8 bytes left for an extension header.
  EXPECT_EQ(Ipv6View::parse(packet(kIpProtoDestOpts, {}, 4), v), Ipv6Error::kBadExtension);
  // Hop-by-hop anywhere but first.
  EXPECT_EQ(Ipv6View::parse(packet(kIpProtoDestOpts, [] {
              auto e = ext8(kIpProtoHopByHop);
              auto h = ext8(kIpProtoTcp);
              e.insert(e.end(), h.begin(), h.end());
              return e;
            }(), 20), v),
            Ipv6Error::kBadExtension);
  // A routing header still to be processed (segments left > 0) is not for an end host to accept.
  EXPECT_EQ(Ipv6View::parse(packet(kIpProtoRouting, ext8(kIpProtoTcp, 2), 20), v), Ipv6Error::kBadExtension);
  // Fragments are named.
  EXPECT_EQ(Ipv6View::parse(packet(kIpProtoFragment, ext8(kIpProtoTcp), 20), v), Ipv6Error::kFragment);
}

TEST(Ipv6View, TheExtensionChainIsBounded) {
  auto chain = [](int n) {
    std::vector<uint8_t> e;
    for (int i = 0; i < n; ++i) {
      const auto h = ext8(i + 1 == n ? kIpProtoTcp : kIpProtoDestOpts);
      e.insert(e.end(), h.begin(), h.end());
    }
    return e;
  };
  Ipv6View v;
  EXPECT_EQ(Ipv6View::parse(packet(kIpProtoDestOpts, chain(kIpv6MaxExtensionHeaders), 20), v), Ipv6Error::kOk);
  EXPECT_EQ(Ipv6View::parse(packet(kIpProtoDestOpts, chain(kIpv6MaxExtensionHeaders + 1), 20), v),
            Ipv6Error::kBadExtension);
  EXPECT_EQ(Ipv6View::parse(packet(kIpProtoDestOpts, chain(100), 20), v), Ipv6Error::kBadExtension);
}

TEST(Ipv6Checksum, PseudoHeaderMatchesAHandComputedSum) {
  // Pseudo header of 2001:db8::1 -> 2001:db8::2, TCP, length 20: the 16-bit words of both
  // addresses, the length, the next header.
  const Ipv6Addr s = A("2001:db8::1"), d = A("2001:db8::2");
  uint32_t expect = 0x2001 + 0x0db8 + 0x0001 + 0x2001 + 0x0db8 + 0x0002 + 20 + 6;
  EXPECT_EQ(checksum_reduce(pseudo_header_sum_ipv6(s.bytes.data(), d.bytes.data(), kIpProtoTcp, 20)),
            checksum_reduce(expect));
  // A message with its checksum filled in verifies to 0; one flipped bit does not.
  std::vector<uint8_t> msg(21, 0);
  for (std::size_t i = 0; i < msg.size(); ++i) msg[i] = static_cast<uint8_t>(i * 7);
  msg[16] = msg[17] = 0;
  base::store_be16(msg.data() + 16, upper_checksum_ipv6(s.bytes.data(), d.bytes.data(), kIpProtoTcp, msg));
  EXPECT_EQ(upper_checksum_ipv6(s.bytes.data(), d.bytes.data(), kIpProtoTcp, msg), 0);
  msg[20] ^= 1;
  EXPECT_NE(upper_checksum_ipv6(s.bytes.data(), d.bytes.data(), kIpProtoTcp, msg), 0);
}

// A whole ICMPv6 packet (IPv6 header + message) from src to dst with hop limit `hops`.
std::vector<uint8_t> icmp6_packet(const Ipv6Addr& src, const Ipv6Addr& dst, std::vector<uint8_t> msg, uint8_t hops = 255) {
  msg[2] = msg[3] = 0;
  base::store_be16(msg.data() + 2, upper_checksum_ipv6(src.bytes.data(), dst.bytes.data(), kIpProtoIcmpv6, msg));
  std::vector<uint8_t> p(kIpv6HeaderLen);
  write_ipv6_header(p.data(), src, dst, kIpProtoIcmpv6, static_cast<uint16_t>(msg.size()), hops);
  p.insert(p.end(), msg.begin(), msg.end());
  return p;
}

TEST(Icmpv6, EchoReplyKeepsIdSequenceDataWithAFreshChecksum) {
  const Ipv6Addr me = A("2001:db8::1"), peer = A("2001:db8::2");
  const auto req = icmp6_packet(peer, me, {kIcmpv6EchoRequest, 0, 0, 0, 0x12, 0x34, 0x00, 0x07, 'h', 'i', '!'}, 64);
  Ipv6View ip;
  ASSERT_EQ(Ipv6View::parse(req, ip), Ipv6Error::kOk);
  const auto icmp = Icmpv6View::parse(ip);
  ASSERT_TRUE(icmp);
  std::vector<uint8_t> out(11);
  ASSERT_EQ(write_icmpv6_echo_reply(out.data(), *icmp, me, peer), 11u);
  EXPECT_EQ(out[0], kIcmpv6EchoReply);
  EXPECT_EQ(std::vector<uint8_t>(out.begin() + 4, out.end()),
            (std::vector<uint8_t>{0x12, 0x34, 0x00, 0x07, 'h', 'i', '!'}));
  EXPECT_EQ(upper_checksum_ipv6(me.bytes.data(), peer.bytes.data(), kIpProtoIcmpv6, out), 0);
  // A bad checksum is refused.
  auto bad = req;
  bad.back() ^= 0x40;
  ASSERT_EQ(Ipv6View::parse(bad, ip), Ipv6Error::kOk);
  EXPECT_FALSE(Icmpv6View::parse(ip));
  EXPECT_TRUE(Icmpv6View::parse(ip, false));
}

TEST(Ndp, SolicitationAndAdvertisementRoundTrip) {
  const MacAddr mac = *MacAddr::parse("02:00:00:00:00:01");
  const Ipv6Addr me = A("2001:db8::1"), peer = A("2001:db8::2");
  std::vector<uint8_t> buf(kNdMessageLen);
  write_neighbor_solicitation(buf.data(), peer, mac, me, peer.solicited_node());
  auto p = icmp6_packet(me, peer.solicited_node(), buf);  // recomputes the same checksum
  EXPECT_EQ(std::vector<uint8_t>(p.begin() + kIpv6HeaderLen, p.end()), buf);
  Ipv6View ip;
  ASSERT_EQ(Ipv6View::parse(p, ip), Ipv6Error::kOk);
  auto nd = NdView::parse(*Icmpv6View::parse(ip));
  ASSERT_TRUE(nd);
  EXPECT_EQ(nd->type(), kIcmpv6NeighborSolicitation);
  EXPECT_EQ(nd->target(), peer);
  EXPECT_EQ(nd->link_addr(), mac);

  write_neighbor_advertisement(buf.data(), me, mac, true, me, peer);
  p = icmp6_packet(me, peer, buf);
  ASSERT_EQ(Ipv6View::parse(p, ip), Ipv6Error::kOk);
  nd = NdView::parse(*Icmpv6View::parse(ip));
  ASSERT_TRUE(nd);
  EXPECT_EQ(nd->type(), kIcmpv6NeighborAdvertisement);
  EXPECT_TRUE(nd->solicited());
  EXPECT_TRUE(nd->override_flag());
  EXPECT_FALSE(nd->router());
  EXPECT_EQ(nd->target(), me);
  EXPECT_EQ(nd->link_addr(), mac);
}

TEST(Ndp, MalformedMessagesAreRefused) {
  const MacAddr mac = *MacAddr::parse("02:00:00:00:00:01");
  const Ipv6Addr me = A("2001:db8::1"), peer = A("2001:db8::2");
  auto check = [&](std::vector<uint8_t> msg) {
    const auto p = icmp6_packet(peer, me, std::move(msg));
    Ipv6View ip;
    EXPECT_EQ(Ipv6View::parse(p, ip), Ipv6Error::kOk);
    const auto icmp = Icmpv6View::parse(ip);
    EXPECT_TRUE(icmp);
    return icmp ? NdView::parse(*icmp).has_value() : true;
  };
  std::vector<uint8_t> ns(kNdMessageLen);
  write_neighbor_solicitation(ns.data(), me, mac, peer, me);
  EXPECT_TRUE(check(ns));
  auto zero_len = ns;
  zero_len[25] = 0;  // an option of length 0 (RFC 4861 §4.6)
  EXPECT_FALSE(check(zero_len));
  auto too_long = ns;
  too_long[25] = 2;  // runs past the message
  EXPECT_FALSE(check(too_long));
  auto code = ns;
  code[1] = 1;
  EXPECT_FALSE(check(code));
  auto multicast_target = ns;
  multicast_target[8] = 0xff;
  EXPECT_FALSE(check(multicast_target));
  EXPECT_FALSE(check(std::vector<uint8_t>(ns.begin(), ns.begin() + 20)));  // shorter than 24
  // Without the option it is still a valid NS, just with no link-layer address.
  const auto bare = std::vector<uint8_t>(ns.begin(), ns.begin() + 24);
  const auto p = icmp6_packet(peer, me, bare);
  Ipv6View ip;
  ASSERT_EQ(Ipv6View::parse(p, ip), Ipv6Error::kOk);
  const auto nd = NdView::parse(*Icmpv6View::parse(ip));
  ASSERT_TRUE(nd);
  EXPECT_FALSE(nd->link_addr());
}

}  // namespace
}  // namespace linetcp::wire
