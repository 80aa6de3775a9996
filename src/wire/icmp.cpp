// ICMP message validation and the echo reply builder.
#include "linetcp/wire/icmp.hpp"

#include <cstring>

#include "linetcp/wire/checksum.hpp"

namespace linetcp::wire {

std::optional<IcmpView> IcmpView::parse(std::span<const uint8_t> icmp, bool verify_checksum) {
  if (icmp.size() < kIcmpHeaderLen) return std::nullopt;
  if (verify_checksum && checksum_fold(checksum_add(icmp.data(), icmp.size())) != 0) {
    return std::nullopt;
  }
  return IcmpView(icmp);
}

std::size_t write_icmp_echo_reply(uint8_t* dst, const IcmpView& request) {
  const std::span<const uint8_t> msg = request.message();
  // memmove: the reply may overwrite the request it is built from.
  std::memmove(dst + 4, msg.data() + 4, msg.size() - 4);
  dst[0] = kIcmpEchoReply;
  dst[1] = 0;
  base::store_be16(dst + 2, 0);
  base::store_be16(dst + 2, checksum_fold(checksum_add(dst, msg.size())));
  return msg.size();
}

}  // namespace linetcp::wire
