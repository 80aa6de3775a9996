// TCP options on the wire (RFC 9293 §3.2, RFC 7323, RFC 2018): parse any segment's options and
// write the ones we send. Values are raw (host order); meaning is the tcp/ layer's business.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace linetcp::wire {

inline constexpr uint8_t kOptEol = 0;
inline constexpr uint8_t kOptNop = 1;
inline constexpr uint8_t kOptMss = 2;
inline constexpr uint8_t kOptWindowScale = 3;
inline constexpr uint8_t kOptSackPermitted = 4;
inline constexpr uint8_t kOptSack = 5;
inline constexpr uint8_t kOptTimestamps = 8;
inline constexpr std::size_t kMaxOptionsLen = 40;
inline constexpr std::size_t kMaxSackBlocks = 4;

struct SackBlock {
  uint32_t left = 0;   // first sequence number of the block
  uint32_t right = 0;  // sequence number just past the block
  bool operator==(const SackBlock&) const = default;
};

struct TcpOptions {
  bool has_mss = false;
  bool has_window_scale = false;
  bool sack_permitted = false;
  bool has_timestamps = false;
  uint16_t mss = 0;
  uint8_t window_scale = 0;  // shift count as received (the tcp layer clamps it to 14)
  uint32_t ts_val = 0;
  uint32_t ts_ecr = 0;
  uint8_t sack_count = 0;
  std::array<SackBlock, kMaxSackBlocks> sack{};
};

enum class OptionsParse : uint8_t {
  kOk,             // every option understood or skipped
  kIllegalLength,  // an option's length byte was < 2 or ran past the end: parsing stopped there
};

// Parses options from any segment (MUST-5), at any alignment (MUST-64). Unknown kinds with a
// legal length are skipped (MUST-6). An illegal length stops parsing and is reported (MUST-7);
// what was parsed before it is kept in `out`.
OptionsParse parse_tcp_options(std::span<const uint8_t> bytes, TcpOptions& out);

// Bytes write_tcp_options() will produce for `opts`, a multiple of 4, at most 40.
std::size_t tcp_options_length(const TcpOptions& opts);

// Writes `opts` in the usual compact layout (NOP-padded to 4-byte words, MUST-68, MUST-69) and
// returns the length written (== tcp_options_length(opts)). SACK blocks beyond the room left are
// dropped. `dst` must have room for kMaxOptionsLen bytes. With `sum`, also stores there the
// options' partial checksum (checksum_add() of the bytes written, computed from the values).
std::size_t write_tcp_options(const TcpOptions& opts, uint8_t* dst, uint32_t* sum = nullptr);

}  // namespace linetcp::wire
