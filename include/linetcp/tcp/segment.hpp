// A TCP segment as the state machine sees it: header fields in host order, parsed options and
// the payload, without addresses or ports (the engine demultiplexes before and after).
#pragma once

#include <cstdint>
#include <span>

#include "linetcp/tcp/seq_num.hpp"
#include "linetcp/wire/tcp_header.hpp"
#include "linetcp/wire/tcp_options.hpp"

namespace linetcp::tcp {

using wire::kTcpAck;
using wire::kTcpFin;
using wire::kTcpPsh;
using wire::kTcpRst;
using wire::kTcpSyn;
using wire::kTcpUrg;

struct SegmentIn {
  SeqNum seq;
  SeqNum ack;
  uint8_t flags = 0;
  uint16_t window = 0;  // raw field, unscaled
  uint16_t urgent = 0;
  bool options_malformed = false;
  wire::TcpOptions opts;
  std::span<const uint8_t> payload;

  bool has(uint8_t f) const { return (flags & f) != 0; }
  // SEG.LEN: payload plus one for each of SYN and FIN.
  uint32_t seg_len() const {
    return static_cast<uint32_t>(payload.size()) + (has(kTcpSyn) ? 1 : 0) + (has(kTcpFin) ? 1 : 0);
  }
};

// What a connection wants sent. The payload is named by its offset in the application's send
// stream; the engine asks the application for those bytes while it builds the frame.
struct SegmentOut {
  SeqNum seq;
  SeqNum ack;
  uint8_t flags = 0;
  uint16_t window = 0;  // already scaled down for the wire
  uint16_t urgent = 0;
  wire::TcpOptions opts;
  uint64_t payload_offset = 0;
  uint32_t payload_len = 0;
  // Bytes from the connection's own storage (a keepalive's garbage octet, say), if not the stream.
  bool payload_is_zero_fill = false;
};

}  // namespace linetcp::tcp
