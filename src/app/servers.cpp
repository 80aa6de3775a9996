// HTTP, echo and discard responders.
#include "linetcp/app/servers.hpp"
#include "linetcp/base/compiler.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

#if defined(__SSSE3__)
#include <immintrin.h>
#endif

namespace linetcp::app {

namespace {
// pattern_byte without a division per byte. Within an aligned block of 128 offsets o = base | j,
// o >> 7 and o >> 13 are constant, so o ^ (o >> 7) ^ (o >> 13) = high + (j ^ low) with high the
// bits above 7 of base ^ (base >> 7) ^ (base >> 13), low its bits 0..6. The byte is then
// 'a' + (high % 26 + (j ^ low)) % 26: one division per block, a table row per block, and
// byte j = row[j ^ low]. For 16 aligned j = 16a + b that is row[16 (a ^ low_hi) + (b ^ low_lo)]:
// one 16-byte load and one byte shuffle (SSSE3). With AVX2, 32 aligned j = 32a + b give
// row[32 (a ^ low >> 5) + (b ^ (low & 16)) ^ (low & 15)]: the 16-byte halves swapped when bit 4 of
// low is set (a second copy of each row, stored swapped), then the same in-lane shuffle.
struct PatternTable {
  alignas(64) uint8_t byte[26][128];
  alignas(64) uint8_t halves_swapped[26][128];
  PatternTable() {
    for (uint32_t h = 0; h < 26; ++h) {
      for (uint32_t m = 0; m < 128; ++m) {
        byte[h][m] = static_cast<uint8_t>('a' + (h + m) % 26);
        halves_swapped[h][m] = static_cast<uint8_t>('a' + (h + (m ^ 16)) % 26);
      }
    }
  }
};
const PatternTable kPattern;
}  // namespace

void fill_pattern(uint64_t offset, std::span<uint8_t> dst) {
  std::size_t i = 0;
  while (i < dst.size()) {
    const uint64_t o = offset + i;
    const uint64_t base = o & ~uint64_t{127};
    const uint64_t mix = base ^ (base >> 7) ^ (base >> 13);
    const std::size_t h = static_cast<std::size_t>((mix & ~uint64_t{127}) % 26);
    const uint8_t* row = kPattern.byte[h];
    const uint32_t low = static_cast<uint32_t>(mix & 127);
    const std::size_t end = std::min<std::size_t>(dst.size(), i + (128 - (o & 127)));
    uint32_t j = static_cast<uint32_t>(o & 127);
#if defined(__SSSE3__)
    const __m128i shuffle = _mm_xor_si128(_mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                          _mm_set1_epi8(static_cast<char>(low & 15)));
    auto copy16 = [&] {
      const __m128i v = _mm_load_si128(reinterpret_cast<const __m128i*>(row + 16 * ((j >> 4) ^ (low >> 4))));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst.data() + i), _mm_shuffle_epi8(v, shuffle));
      i += 16;
      j += 16;
    };
    for (; i < end && (j & 15) != 0; ++i, ++j) dst[i] = row[j ^ low];
#if defined(__AVX2__)
    if ((j & 16) != 0 && i + 16 <= end) copy16();  // to a 32-byte boundary of the block
    const uint8_t* row32 = (low & 16) ? kPattern.halves_swapped[h] : row;
    const __m256i shuffle32 = _mm256_broadcastsi128_si256(shuffle);
    auto copy32 = [&] {
      const __m256i v = _mm256_load_si256(reinterpret_cast<const __m256i*>(row32 + 32 * ((j >> 5) ^ (low >> 5))));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst.data() + i), _mm256_shuffle_epi8(v, shuffle32));
      i += 32;
      j += 32;
    };
    if (j == 0 && end - i == 128) {  // a whole block, the common case: four stores, no loop
      copy32();
      copy32();
      copy32();
      copy32();
      continue;
    }
    while (i + 32 <= end) copy32();
#endif
    while (i + 16 <= end) copy16();
#endif
    for (; i < end; ++i, ++j) dst[i] = row[j ^ low];
  }
}

namespace {
const char* reason_phrase(uint16_t status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}
}  // namespace

// ---------------------------------------------------------------------------------------------
// HTTP

HttpServer::HttpServer(const HttpServerOptions& options, uint32_t max_connections)
    : options_(options),
      body_len_(options.body_size ? *options.body_size : options.body.size()),
      conns_(max_connections) {
  auto head = [&](bool keep) {
    return "HTTP/1.1 " + std::to_string(options_.status) + " " + reason_phrase(options_.status) +
           "\r\nServer: linetcp\r\nContent-Type: " + options_.content_type +
           "\r\nContent-Length: " + std::to_string(body_len_) +
           (keep ? "\r\nConnection: keep-alive\r\n\r\n" : "\r\nConnection: close\r\n\r\n");
  };
  head_keep_ = head(true);
  head_close_ = head(false);
}

void HttpServer::on_open(engine::Endpoint&, engine::ConnId id) {
  conns_[id] = Conn{};
  ++counters_.connections;
}

void HttpServer::on_data(engine::Endpoint& ep, engine::ConnId id, std::span<const uint8_t> data) {
  Conn& c = conns_[id];
  counters_.bytes_in += data.size();
  while (!data.empty() && !c.closing) {
    const std::size_t used = c.parser.feed(data, &head_memo_);
    data = data.subspan(used);
    if (c.parser.failed()) {
      // A request we cannot parse: answer nothing more and close (the load client counts it).
      ++counters_.bad_requests;
      c.closing = true;
      ep.close(id);
      return;
    }
    if (!c.parser.complete()) return;
    ++counters_.requests;
    ++counters_.responses;
    const bool keep = options_.keepalive && !options_.close_first && c.parser.keep_alive();
    if (keep) {
      ++c.keepalive_responses;
      ep.send(id, head_keep_.size() + body_len_);
    } else {
      c.closing = true;
      ep.send(id, head_close_.size() + body_len_);
      ep.close(id);  // FIN after the response
    }
    c.parser.reset();
  }
}

void HttpServer::on_peer_closed(engine::Endpoint& ep, engine::ConnId id) {
  // The client is done sending: finish what we owe and close our side.
  if (!conns_[id].closing) {
    conns_[id].closing = true;
    ep.close(id);
  }
}

void HttpServer::on_closed(engine::Endpoint&, engine::ConnId id, tcp::CloseReason) { conns_[id] = Conn{}; }

void HttpServer::fill_response(const std::string& head, uint64_t offset, std::span<uint8_t> dst) const {
  std::size_t done = 0;
  while (done < dst.size()) {
    const uint64_t at = offset + done;
    if (at < head.size()) {
      const std::size_t n = std::min<std::size_t>(head.size() - at, dst.size() - done);
      std::memcpy(dst.data() + done, head.data() + at, n);
      done += n;
      continue;
    }
    const uint64_t body_at = at - head.size();
    const std::size_t n = static_cast<std::size_t>(std::min<uint64_t>(body_len_ - body_at, dst.size() - done));
    if (options_.body_size) {
      fill_pattern(body_at, dst.subspan(done, n));
    } else {
      std::memcpy(dst.data() + done, options_.body.data() + body_at, n);
    }
    done += n;
  }
}

void HttpServer::fill_payload(engine::Endpoint&, engine::ConnId id, uint64_t offset, std::span<uint8_t> dst) {
  // The stream: keepalive_responses keep-alive responses, then possibly one close response.
  // A segment may span response boundaries, so fill piece by piece.
  const Conn& c = conns_[id];
  const uint64_t keep_len = head_keep_.size() + body_len_;
  const uint64_t keep_total = c.keepalive_responses * keep_len;
  std::size_t done = 0;
  while (done < dst.size()) {
    const uint64_t at = offset + done;
    if (at < keep_total) {
      // New data is in the latest response: no division there; older ones are retransmissions.
      const uint64_t last_start = keep_total - keep_len;
      const uint64_t within = LINETCP_LIKELY(at >= last_start) ? at - last_start : at % keep_len;
      const std::size_t n = static_cast<std::size_t>(std::min<uint64_t>(keep_len - within, dst.size() - done));
      fill_response(head_keep_, within, dst.subspan(done, n));
      done += n;
    } else {
      fill_response(head_close_, at - keep_total, dst.subspan(done));
      done = dst.size();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Echo

EchoServer::EchoServer(uint32_t max_connections, uint32_t rings, uint32_t ring_bytes)
    : ring_bytes_(std::bit_ceil(ring_bytes)),
      rings_(std::make_unique<uint8_t[]>(std::size_t{rings} * std::bit_ceil(ring_bytes))),
      conns_(max_connections) {
  free_rings_.reserve(rings);
  for (uint32_t r = rings; r-- > 0;) free_rings_.push_back(r);
}

tcp::TcpParams EchoServer::params(const tcp::TcpParams& base) const {
  tcp::TcpParams p = base;
  p.rcv_buffer = ring_bytes_;  // the peer can never have more in flight than the ring holds
  return p;
}

void EchoServer::on_open(engine::Endpoint& ep, engine::ConnId id) {
  conns_[id] = Conn{};
  ++counters_.connections;
  if (free_rings_.empty()) {
    ++counters_.no_buffer;
    ep.abort(id);
    return;
  }
  conns_[id].ring = free_rings_.back();
  free_rings_.pop_back();
}

void EchoServer::on_data(engine::Endpoint& ep, engine::ConnId id, std::span<const uint8_t> data) {
  Conn& c = conns_[id];
  if (c.ring == kNoRing) return;
  counters_.bytes_in += data.size();
  uint8_t* r = ring(c.ring);
  const uint64_t mask = ring_bytes_ - 1;
  std::size_t done = 0;
  while (done < data.size()) {
    const uint64_t at = (c.received + done) & mask;
    const std::size_t n = std::min<std::size_t>(ring_bytes_ - at, data.size() - done);
    std::memcpy(r + at, data.data() + done, n);
    done += n;
  }
  c.received += data.size();
  ep.hold(id, static_cast<uint32_t>(data.size()));  // window shrinks until the echo is acked
  ep.send(id, data.size());
}

void EchoServer::on_acked(engine::Endpoint& ep, engine::ConnId id, uint64_t acked_until) {
  Conn& c = conns_[id];
  if (acked_until > c.acked) {
    ep.release(id, static_cast<uint32_t>(acked_until - c.acked));
    c.acked = acked_until;
  }
}

void EchoServer::on_peer_closed(engine::Endpoint& ep, engine::ConnId id) { ep.close(id); }

void EchoServer::on_closed(engine::Endpoint&, engine::ConnId id, tcp::CloseReason) {
  Conn& c = conns_[id];
  if (c.ring != kNoRing) free_rings_.push_back(c.ring);
  c = Conn{};
}

void EchoServer::fill_payload(engine::Endpoint&, engine::ConnId id, uint64_t offset, std::span<uint8_t> dst) {
  const Conn& c = conns_[id];
  const uint8_t* r = ring(c.ring);
  const uint64_t mask = ring_bytes_ - 1;
  std::size_t done = 0;
  while (done < dst.size()) {
    const uint64_t at = (offset + done) & mask;
    const std::size_t n = std::min<std::size_t>(ring_bytes_ - at, dst.size() - done);
    std::memcpy(dst.data() + done, r + at, n);
    done += n;
  }
}

}  // namespace linetcp::app
