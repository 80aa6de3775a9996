// Initial sequence numbers (RFC 6528, RFC 9293 §3.4.1) and SYN cookies (RFC 4987): both are a
// keyed hash of the 4-tuple (SipHash-2-4 with a per-process secret) plus a clock, so they cannot
// be computed from outside the host (MUST-8, MUST-9, SHLD-1).
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "linetcp/base/time.hpp"
#include "linetcp/tcp/seq_num.hpp"

namespace linetcp::tcp {

struct TupleKey {
  uint32_t local_ip = 0;
  uint32_t remote_ip = 0;
  uint16_t local_port = 0;
  uint16_t remote_port = 0;
};

uint64_t siphash24(const std::array<uint64_t, 2>& key, const uint8_t* data, std::size_t len);

class IsnGenerator {
 public:
  explicit IsnGenerator(const std::array<uint64_t, 2>& secret) : key_(secret) {}
  // ISN = M + F(tuple, secret), M a 4-microsecond clock (RFC 6528 §3).
  SeqNum isn(const TupleKey& t, base::Instant now) const;

 private:
  std::array<uint64_t, 2> key_;
};

// What a SYN cookie remembers of the SYN: the options the connection needs once the ACK comes.
struct CookieOptions {
  uint16_t mss = 536;
  uint8_t window_scale = 0;  // peer's shift
  bool window_scale_ok = false;
  bool sack_permitted = false;
};

// Cookie layout (32 bits): [31..27] time counter (64 s steps, mod 32), [26..24] MSS index,
// [23..20] window scale + 1 (0 = none), [19] SACK permitted, [18..0] MAC. The MAC covers the
// tuple, the peer's ISN, the counter and the option bits, so none of them can be altered.
class SynCookies {
 public:
  explicit SynCookies(const std::array<uint64_t, 2>& secret) : key_(secret) {}
  SeqNum make(const TupleKey& t, SeqNum peer_isn, const CookieOptions& opts, base::Instant now) const;
  // `cookie` is SEG.ACK - 1 of the returning ACK, `peer_isn` is SEG.SEQ - 1. Accepts cookies
  // up to two counter steps old (64..128 s).
  std::optional<CookieOptions> check(const TupleKey& t, SeqNum peer_isn, SeqNum cookie,
                                     base::Instant now) const;
  static constexpr std::array<uint16_t, 8> kMssTable = {536, 1220, 1300, 1360, 1400, 1440, 1452, 1460};

 private:
  uint32_t mac(const TupleKey& t, SeqNum peer_isn, uint32_t counter, uint32_t option_bits) const;
  std::array<uint64_t, 2> key_;
};

}  // namespace linetcp::tcp
