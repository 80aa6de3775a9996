// MAC address text conversion and the Ethernet header builder.
#include "linetcp/wire/ethernet.hpp"

#include <cstring>

namespace linetcp::wire {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<MacAddr> MacAddr::parse(std::string_view text) {
  // Exactly 17 characters: six two-digit groups and five separators of one kind.
  if (text.size() != 3 * kMacLen - 1) return std::nullopt;
  const char sep = text[2];
  if (sep != ':' && sep != '-') return std::nullopt;
  MacAddr mac;
  for (std::size_t i = 0; i < kMacLen; ++i) {
    const std::size_t at = 3 * i;
    if (i > 0 && text[at - 1] != sep) return std::nullopt;
    const int hi = hex_value(text[at]);
    const int lo = hex_value(text[at + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    mac.bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return mac;
}

std::string MacAddr::to_string() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(3 * kMacLen - 1, ':');
  for (std::size_t i = 0; i < kMacLen; ++i) {
    s[3 * i] = kHex[bytes[i] >> 4];
    s[3 * i + 1] = kHex[bytes[i] & 0xf];
  }
  return s;
}

void write_ethernet(uint8_t* p, const MacAddr& dst, const MacAddr& src, uint16_t ether_type) {
  std::memcpy(p, dst.bytes.data(), kMacLen);
  std::memcpy(p + kMacLen, src.bytes.data(), kMacLen);
  base::store_be16(p + 2 * kMacLen, ether_type);
}

}  // namespace linetcp::wire
