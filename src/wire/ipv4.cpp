// IPv4 address text conversion, packet validation and the header builder.
#include "linetcp/wire/ipv4.hpp"

#include "linetcp/base/compiler.hpp"
#include "linetcp/wire/checksum.hpp"

namespace linetcp::wire {
namespace {

// Parses a decimal number 0..max at the front of `text`, advancing it; no sign, no leading
// zeros, at most `max_digits` digits.
std::optional<uint32_t> take_decimal(std::string_view& text, uint32_t max, std::size_t max_digits) {
  std::size_t n = 0;
  uint32_t v = 0;
  while (n < text.size() && text[n] >= '0' && text[n] <= '9') {
    if (n == max_digits) return std::nullopt;
    v = v * 10 + static_cast<uint32_t>(text[n] - '0');
    ++n;
  }
  if (n == 0 || v > max || (n > 1 && text[0] == '0')) return std::nullopt;
  text.remove_prefix(n);
  return v;
}

}  // namespace

std::optional<Ipv4Addr> Ipv4Addr::parse(std::string_view text) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) {
    if (i > 0) {
      if (text.empty() || text.front() != '.') return std::nullopt;
      text.remove_prefix(1);
    }
    auto octet = take_decimal(text, 255, 3);
    if (!octet) return std::nullopt;
    value = value << 8 | *octet;
  }
  if (!text.empty()) return std::nullopt;
  return Ipv4Addr{value};
}

std::string Ipv4Addr::to_string() const {
  std::string s;
  s.reserve(15);
  for (int shift = 24; shift >= 0; shift -= 8) {
    s += std::to_string((value >> shift) & 0xff);
    if (shift > 0) s += '.';
  }
  return s;
}

std::optional<Ipv4Prefix> Ipv4Prefix::parse(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto addr = Ipv4Addr::parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  std::string_view rest = text.substr(slash + 1);
  auto length = take_decimal(rest, 32, 2);
  if (!length || !rest.empty()) return std::nullopt;
  return Ipv4Prefix{*addr, static_cast<uint8_t>(*length)};
}

std::string Ipv4Prefix::to_string() const { return addr.to_string() + "/" + std::to_string(length); }

const char* to_string(Ipv4Error e) {
  switch (e) {
    case Ipv4Error::kOk: return "ok";
    case Ipv4Error::kTooShort: return "too_short";
    case Ipv4Error::kBadVersion: return "bad_version";
    case Ipv4Error::kBadHeaderLength: return "bad_header_length";
    case Ipv4Error::kBadTotalLength: return "bad_total_length";
    case Ipv4Error::kBadChecksum: return "bad_checksum";
    case Ipv4Error::kFragment: return "fragment";
  }
  return "unknown";
}

Ipv4Error Ipv4View::parse(std::span<const uint8_t> packet, Ipv4View& out, bool verify_checksum) {
  if (LINETCP_UNLIKELY(packet.size() < kIpv4MinHeaderLen)) return Ipv4Error::kTooShort;
  const uint8_t* p = packet.data();
  if (LINETCP_UNLIKELY((p[0] >> 4) != 4)) return Ipv4Error::kBadVersion;
  const std::size_t header_len = std::size_t{p[0] & 0x0fu} * 4;
  if (LINETCP_UNLIKELY(header_len < kIpv4MinHeaderLen || header_len > packet.size())) {
    return Ipv4Error::kBadHeaderLength;
  }
  const std::size_t total_len = base::load_be16(p + 2);
  if (LINETCP_UNLIKELY(total_len < header_len || total_len > packet.size())) {
    return Ipv4Error::kBadTotalLength;
  }
  if (verify_checksum && LINETCP_UNLIKELY(checksum_fold(checksum_add_words(p, header_len)) != 0)) {
    return Ipv4Error::kBadChecksum;
  }
  out.datagram_ = packet.first(total_len);
  // MF flag or a non-zero offset: any piece of a fragmented datagram.
  if (LINETCP_UNLIKELY((base::load_be16(p + 6) & 0x3fff) != 0)) return Ipv4Error::kFragment;
  return Ipv4Error::kOk;
}

void write_ipv4_header(uint8_t* p, Ipv4Addr src, Ipv4Addr dst, uint8_t protocol,
                       uint16_t payload_length, uint8_t ttl, uint16_t id, uint8_t tos,
                       bool dont_fragment, bool compute_checksum) {
  const auto version_tos = static_cast<uint16_t>(0x4500 | tos);  // version 4, IHL 5
  const auto total_length = static_cast<uint16_t>(kIpv4MinHeaderLen + payload_length);
  const uint16_t flags = dont_fragment ? 0x4000 : 0;
  const auto ttl_protocol = static_cast<uint16_t>((ttl << 8) | protocol);
  base::store_be16(p, version_tos);
  base::store_be16(p + 2, total_length);
  base::store_be16(p + 4, id);
  base::store_be16(p + 6, flags);
  base::store_be16(p + 8, ttl_protocol);
  base::store_be32(p + 12, src.value);
  base::store_be32(p + 16, dst.value);
  // Summed from the values: reading back the bytes just stored would wait on the stores.
  const uint32_t sum = uint32_t{version_tos} + total_length + id + flags + ttl_protocol +
                       checksum_word32(src.value) + checksum_word32(dst.value);
  base::store_be16(p + 10, compute_checksum ? checksum_fold(sum) : uint16_t{0});
}

}  // namespace linetcp::wire
