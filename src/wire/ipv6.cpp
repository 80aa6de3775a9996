// IPv6 address text conversion, packet validation with bounded extension-header skipping, the
// header builder and the pseudo-header checksum.
#include "linetcp/wire/ipv6.hpp"

#include "linetcp/base/compiler.hpp"
#include "linetcp/wire/checksum.hpp"
#include "linetcp/wire/ipv4.hpp"

namespace linetcp::wire {
namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<Ipv6Addr> Ipv6Addr::parse(std::string_view text) {
  if (text.size() < 2 || text.size() > 45) return std::nullopt;
  std::array<uint16_t, 8> groups{};
  int count = 0;    // groups written
  int gap = -1;     // index in groups where "::" stands
  std::size_t i = 0;
  if (text.substr(0, 2) == "::") {
    gap = 0;
    i = 2;
    if (i == text.size()) return Ipv6Addr{};
  } else if (text[0] == ':') {
    return std::nullopt;
  }
  while (i < text.size()) {
    // An embedded dotted quad takes the last two groups.
    const std::size_t next_colon = text.find(':', i);
    const std::string_view piece =
        text.substr(i, next_colon == std::string_view::npos ? std::string_view::npos : next_colon - i);
    if (piece.find('.') != std::string_view::npos) {
      if (next_colon != std::string_view::npos || count > 6) return std::nullopt;
      const auto v4 = Ipv4Addr::parse(piece);
      if (!v4) return std::nullopt;
      groups[count++] = static_cast<uint16_t>(v4->value >> 16);
      groups[count++] = static_cast<uint16_t>(v4->value & 0xffff);
      i = text.size();
      break;
    }
    if (piece.empty() || piece.size() > 4 || count == 8) return std::nullopt;
    uint32_t v = 0;
    for (char c : piece) {
      const int d = hex_digit(c);
      if (d < 0) return std::nullopt;
      v = v << 4 | static_cast<uint32_t>(d);
    }
    groups[count++] = static_cast<uint16_t>(v);
    i += piece.size();
    if (i == text.size()) break;
    // A colon follows: "::" marks the gap (only once), a single ':' the next group.
    ++i;
    if (i < text.size() && text[i] == ':') {
      if (gap >= 0) return std::nullopt;
      gap = count;
      ++i;
      if (i == text.size()) break;
    } else if (i == text.size()) {
      return std::nullopt;  // a trailing single ':'
    }
  }
  if (gap < 0 ? count != 8 : count > 7) return std::nullopt;
  Ipv6Addr a;
  std::array<uint16_t, 8> full{};
  if (gap < 0) {
    full = groups;
  } else {
    for (int g = 0; g < gap; ++g) full[g] = groups[g];
    const int tail = count - gap;
    for (int g = 0; g < tail; ++g) full[8 - tail + g] = groups[gap + g];
  }
  for (int g = 0; g < 8; ++g) base::store_be16(a.bytes.data() + 2 * g, full[g]);
  return a;
}

std::string Ipv6Addr::to_string() const {
  uint16_t g[8];
  for (int i = 0; i < 8; ++i) g[i] = base::load_be16(bytes.data() + 2 * i);
  int best = -1, best_len = 1;  // RFC 5952 §4.2.2: a single zero group is not shortened
  for (int i = 0; i < 8;) {
    if (g[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && g[j] == 0) ++j;
    if (j - i > best_len) {
      best = i;
      best_len = j - i;
    }
    i = j;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 8; ++i) {
    if (i == best) {
      s += "::";
      i += best_len - 1;
      continue;
    }
    if (!s.empty() && s.back() != ':') s += ':';
    bool started = false;
    for (int shift = 12; shift >= 0; shift -= 4) {
      const int d = (g[i] >> shift) & 0xf;
      if (d != 0 || started || shift == 0) {
        s += kHex[d];
        started = true;
      }
    }
  }
  return s;
}

Ipv6Addr Ipv6Addr::link_local_from_mac(const MacAddr& mac) {
  Ipv6Addr a;
  a.bytes[0] = 0xfe;
  a.bytes[1] = 0x80;
  a.bytes[8] = mac.bytes[0] ^ 0x02;  // the universal/local bit, inverted
  a.bytes[9] = mac.bytes[1];
  a.bytes[10] = mac.bytes[2];
  a.bytes[11] = 0xff;
  a.bytes[12] = 0xfe;
  a.bytes[13] = mac.bytes[3];
  a.bytes[14] = mac.bytes[4];
  a.bytes[15] = mac.bytes[5];
  return a;
}

std::optional<Ipv6Prefix> Ipv6Prefix::parse(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const auto addr = Ipv6Addr::parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  const std::string_view len = text.substr(slash + 1);
  if (len.empty() || len.size() > 3 || (len.size() > 1 && len[0] == '0')) return std::nullopt;
  uint32_t v = 0;
  for (char c : len) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v > 128) return std::nullopt;
  return Ipv6Prefix{*addr, static_cast<uint8_t>(v)};
}

std::string Ipv6Prefix::to_string() const { return addr.to_string() + "/" + std::to_string(length); }

bool Ipv6Prefix::contains(const Ipv6Addr& a) const {
  const uint32_t full = length / 8;
  if (std::memcmp(a.bytes.data(), addr.bytes.data(), full) != 0) return false;
  const uint32_t rest = length % 8;
  if (rest == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a.bytes[full] & mask) == (addr.bytes[full] & mask);
}

const char* to_string(Ipv6Error e) {
  switch (e) {
    case Ipv6Error::kOk: return "ok";
    case Ipv6Error::kTooShort: return "too_short";
    case Ipv6Error::kBadVersion: return "bad_version";
    case Ipv6Error::kBadPayloadLength: return "bad_payload_length";
    case Ipv6Error::kBadExtension: return "bad_extension";
    case Ipv6Error::kFragment: return "fragment";
  }
  return "unknown";
}

Ipv6Error Ipv6View::parse(std::span<const uint8_t> packet, Ipv6View& out) {
  if (LINETCP_UNLIKELY(packet.size() < kIpv6HeaderLen)) return Ipv6Error::kTooShort;
  const uint8_t* p = packet.data();
  if (LINETCP_UNLIKELY((p[0] >> 4) != 6)) return Ipv6Error::kBadVersion;
  const std::size_t payload_len = base::load_be16(p + 4);
  // A zero payload length with a Hop-by-Hop header would be a jumbogram (RFC 2675): refused
  // by the check on the chain below, since no 64 KiB frame reaches us.
  if (LINETCP_UNLIKELY(kIpv6HeaderLen + payload_len > packet.size())) return Ipv6Error::kBadPayloadLength;
  std::span<const uint8_t> rest = packet.subspan(kIpv6HeaderLen, payload_len);
  uint8_t next = p[6];
  std::size_t skipped = 0;
  for (int n = 0;; ++n) {
    if (next != kIpProtoHopByHop && next != kIpProtoRouting && next != kIpProtoDestOpts &&
        next != kIpProtoFragment)
      break;
    // RFC 8200 §4.1: Hop-by-Hop only right after the IPv6 header.
    if (n == kIpv6MaxExtensionHeaders || (next == kIpProtoHopByHop && n != 0) || rest.size() < 8)
      return Ipv6Error::kBadExtension;
    if (next == kIpProtoFragment) return Ipv6Error::kFragment;
    // Routing (with Segments Left 0, else the packet was not for us to deliver: RFC 8200 §4.4
    // would have us answer with an error; we drop it), Hop-by-Hop and Destination Options: we
    // act on no option, so skipping is what an unrecognised option with "skip" action asks and
    // we accept the others being skipped too (we are an end host).
    const std::size_t len = (std::size_t{rest[1]} + 1) * 8;
    if (len > rest.size()) return Ipv6Error::kBadExtension;
    if (next == kIpProtoRouting && rest[3] != 0) return Ipv6Error::kBadExtension;
    next = rest[0];
    rest = rest.subspan(len);
    skipped += len;
  }
  out.header_ = p;
  out.payload_ = rest;
  out.extension_length_ = skipped;
  out.protocol_ = next;
  return Ipv6Error::kOk;
}

void write_ipv6_header(uint8_t* p, const Ipv6Addr& src, const Ipv6Addr& dst, uint8_t next_header,
                       uint16_t payload_length, uint8_t hop_limit, uint8_t traffic_class) {
  base::store_be32(p, (6u << 28) | (uint32_t{traffic_class} << 20));  // flow label 0
  base::store_be16(p + 4, payload_length);
  p[6] = next_header;
  p[7] = hop_limit;
  std::memcpy(p + 8, src.bytes.data(), 16);
  std::memcpy(p + 24, dst.bytes.data(), 16);
}

uint32_t pseudo_header_sum_ipv6(const uint8_t* src16, const uint8_t* dst16, uint8_t next_header,
                                uint32_t upper_length) {
  uint32_t sum = checksum_add(src16, 16);
  sum = checksum_add(dst16, 16, sum);
  return sum + (upper_length >> 16) + (upper_length & 0xffff) + next_header;
}

uint16_t upper_checksum_ipv6(const uint8_t* src16, const uint8_t* dst16, uint8_t next_header,
                             std::span<const uint8_t> message) {
  const uint32_t sum = pseudo_header_sum_ipv6(src16, dst16, next_header, static_cast<uint32_t>(message.size()));
  return checksum_fold(checksum_add(message.data(), message.size(), sum));
}

}  // namespace linetcp::wire
