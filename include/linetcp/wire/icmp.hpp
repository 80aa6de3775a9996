// ICMP for IPv4 (RFC 792): a view over a received message and the echo reply builder.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "linetcp/base/byte_order.hpp"

namespace linetcp::wire {

inline constexpr std::size_t kIcmpHeaderLen = 8;
inline constexpr uint8_t kIcmpEchoReply = 0;
inline constexpr uint8_t kIcmpDestUnreachable = 3;
inline constexpr uint8_t kIcmpSourceQuench = 4;
inline constexpr uint8_t kIcmpEchoRequest = 8;
inline constexpr uint8_t kIcmpTimeExceeded = 11;
inline constexpr uint8_t kIcmpParamProblem = 12;

class IcmpView {
 public:
  // nullopt if shorter than 8 bytes or, when asked, if the checksum over the whole message does
  // not verify. `icmp` is the IP payload (already trimmed to the IP total length).
  static std::optional<IcmpView> parse(std::span<const uint8_t> icmp, bool verify_checksum = true);

  uint8_t type() const { return msg_[0]; }
  uint8_t code() const { return msg_[1]; }
  uint16_t checksum() const { return base::load_be16(msg_.data() + 2); }
  // Bytes 4..7: id and sequence of an echo, the next-hop MTU of "fragmentation needed", unused
  // otherwise.
  uint32_t rest_of_header() const { return base::load_be32(msg_.data() + 4); }
  uint16_t echo_id() const { return base::load_be16(msg_.data() + 4); }
  uint16_t echo_seq() const { return base::load_be16(msg_.data() + 6); }
  // After the 8-byte header: echo data, or the quoted IP header + 8 bytes of an error.
  std::span<const uint8_t> body() const { return msg_.subspan(kIcmpHeaderLen); }
  std::span<const uint8_t> message() const { return msg_; }

 private:
  explicit IcmpView(std::span<const uint8_t> msg) : msg_(msg) {}
  std::span<const uint8_t> msg_;
};

// Writes the echo reply to `request` at `dst` (same id, sequence and data, type 0, code 0, fresh
// checksum) and returns its length, request.message().size(). `dst` may be the request's own bytes:
// a reply can be made in place.
std::size_t write_icmp_echo_reply(uint8_t* dst, const IcmpView& request);

}  // namespace linetcp::wire
