// TCP options: a tolerant parser for whatever peers send and a compact, Linux-like writer.
#include "linetcp/wire/tcp_options.hpp"

#include "linetcp/base/byte_order.hpp"
#include "linetcp/base/compiler.hpp"
#include "linetcp/wire/checksum.hpp"

namespace linetcp::wire {
namespace {

inline constexpr std::size_t kMssLen = 4;
inline constexpr std::size_t kWindowScaleLen = 3;
inline constexpr std::size_t kSackPermittedLen = 2;
inline constexpr std::size_t kTimestampsLen = 10;
inline constexpr std::size_t kSackBlockLen = 8;

// SACK blocks that fit after the other options: each SACK option costs NOP NOP kind len.
std::size_t sack_blocks_to_write(const TcpOptions& opts, std::size_t used) {
  std::size_t n = opts.sack_count < kMaxSackBlocks ? opts.sack_count : kMaxSackBlocks;
  if (n == 0 || used + 4 + kSackBlockLen > kMaxOptionsLen) return 0;
  const std::size_t room = (kMaxOptionsLen - used - 4) / kSackBlockLen;
  return n < room ? n : room;
}

// Length of everything but the SACK blocks; each part is already a multiple of 4.
std::size_t fixed_length(const TcpOptions& opts) {
  std::size_t len = 0;
  if (opts.has_mss) len += 4;
  if (opts.has_timestamps) len += 12;  // SACK-permitted (or NOP NOP) + timestamps
  else if (opts.sack_permitted) len += 4;  // NOP NOP SACK-permitted
  if (opts.has_window_scale) len += 4;  // NOP window scale
  return len;
}

}  // namespace

OptionsParse parse_tcp_options(std::span<const uint8_t> bytes, TcpOptions& out) {
  out = TcpOptions{};
  const uint8_t* b = bytes.data();
  const std::size_t n = bytes.size();
  // Nearly every segment after the handshake, ours and Linux's, carries exactly NOP NOP
  // timestamps (RFC 7323 appendix A's layout): one compare instead of the loop.
  constexpr uint32_t kNopNopTimestamps = uint32_t{kOptNop} << 24 | uint32_t{kOptNop} << 16 |
                                         uint32_t{kOptTimestamps} << 8 | kTimestampsLen;
  if (n == 12 && base::load_be32(b) == kNopNopTimestamps) {
    out.has_timestamps = true;
    out.ts_val = base::load_be32(b + 4);
    out.ts_ecr = base::load_be32(b + 8);
    return OptionsParse::kOk;
  }
  std::size_t i = 0;
  while (i < n) {
    const uint8_t kind = b[i];
    if (kind == kOptEol) break;
    if (kind == kOptNop) {
      ++i;
      continue;
    }
    // Every other kind has a length byte counting kind and length, so at least 2, and the option
    // must end within the header; otherwise nothing after it can be trusted (MUST-7).
    if (LINETCP_UNLIKELY(i + 1 >= n)) return OptionsParse::kIllegalLength;
    const std::size_t len = b[i + 1];
    if (LINETCP_UNLIKELY(len < 2 || len > n - i)) return OptionsParse::kIllegalLength;
    const uint8_t* v = b + i + 2;
    // A known kind with the wrong length is malformed: skipped, as if unknown (MUST-6).
    switch (kind) {
      case kOptMss:
        if (len == kMssLen) {
          out.has_mss = true;
          out.mss = base::load_be16(v);
        }
        break;
      case kOptWindowScale:
        if (len == kWindowScaleLen) {
          out.has_window_scale = true;
          out.window_scale = v[0];
        }
        break;
      case kOptSackPermitted:
        if (len == kSackPermittedLen) out.sack_permitted = true;
        break;
      case kOptTimestamps:
        if (len == kTimestampsLen) {
          out.has_timestamps = true;
          out.ts_val = base::load_be32(v);
          out.ts_ecr = base::load_be32(v + 4);
        }
        break;
      case kOptSack: {
        const std::size_t blocks = (len - 2) / kSackBlockLen;
        if ((len - 2) % kSackBlockLen == 0 && blocks >= 1 && blocks <= kMaxSackBlocks) {
          out.sack_count = static_cast<uint8_t>(blocks);
          for (std::size_t k = 0; k < blocks; ++k) {
            out.sack[k].left = base::load_be32(v + k * kSackBlockLen);
            out.sack[k].right = base::load_be32(v + k * kSackBlockLen + 4);
          }
        }
        break;
      }
      default:
        break;
    }
    i += len;
  }
  return OptionsParse::kOk;
}

std::size_t tcp_options_length(const TcpOptions& opts) {
  const std::size_t fixed = fixed_length(opts);
  const std::size_t blocks = sack_blocks_to_write(opts, fixed);
  return fixed + (blocks == 0 ? 0 : 4 + blocks * kSackBlockLen);
}

namespace {

// Stores option bytes and adds them, as 16-bit words, to a running partial checksum: the sum comes
// from the values, so the sender never reads back what it just stored byte by byte.
class OptionWriter {
 public:
  explicit OptionWriter(uint8_t* dst) : start_(dst), p_(dst) {}
  void bytes2(uint8_t hi, uint8_t lo) {
    p_[0] = hi;
    p_[1] = lo;
    sum_ += (uint32_t{hi} << 8) | lo;
    p_ += 2;
  }
  void be16(uint16_t v) {
    base::store_be16(p_, v);
    sum_ += v;
    p_ += 2;
  }
  void be32(uint32_t v) {
    base::store_be32(p_, v);
    sum_ += checksum_word32(v);
    p_ += 4;
  }
  std::size_t written() const { return static_cast<std::size_t>(p_ - start_); }
  uint32_t sum() const { return sum_; }

 private:
  uint8_t* start_;
  uint8_t* p_;
  uint32_t sum_ = 0;
};

}  // namespace

std::size_t write_tcp_options(const TcpOptions& opts, uint8_t* dst, uint32_t* sum) {
  OptionWriter w(dst);
  if (opts.has_mss) {
    w.bytes2(kOptMss, kMssLen);
    w.be16(opts.mss);
  }
  if (opts.has_timestamps) {
    // SACK-permitted fills the two bytes that would otherwise be NOP NOP before the timestamps.
    if (opts.sack_permitted) w.bytes2(kOptSackPermitted, kSackPermittedLen);
    else w.bytes2(kOptNop, kOptNop);
    w.bytes2(kOptTimestamps, kTimestampsLen);
    w.be32(opts.ts_val);
    w.be32(opts.ts_ecr);
  } else if (opts.sack_permitted) {
    w.bytes2(kOptNop, kOptNop);
    w.bytes2(kOptSackPermitted, kSackPermittedLen);
  }
  if (opts.has_window_scale) {
    w.bytes2(kOptNop, kOptWindowScale);
    w.bytes2(kWindowScaleLen, opts.window_scale);
  }
  const std::size_t blocks = sack_blocks_to_write(opts, w.written());
  if (blocks > 0) {
    w.bytes2(kOptNop, kOptNop);
    w.bytes2(kOptSack, static_cast<uint8_t>(2 + blocks * kSackBlockLen));
    for (std::size_t k = 0; k < blocks; ++k) {
      w.be32(opts.sack[k].left);
      w.be32(opts.sack[k].right);
    }
  }
  // Every option above is written in whole words (MUST-69 asks a header to end on a word
  // boundary, padded with EOL, should that ever change).
  if (sum) *sum = w.sum();
  return w.written();
}

}  // namespace linetcp::wire
