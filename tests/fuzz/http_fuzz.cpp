// libFuzzer harness for app::HttpMessageParser. Byte 0 picks the kind (bit 0) and where the rest
// is split in two pieces; the parser is fed piece by piece and message by message (it stops after
// each complete message, as pipelined requests arrive). Invariants: feed() never consumes more
// than it was given, complete() and failed() are never both true, reset() after complete() gives
// a fresh parser, and the same bytes fed in one piece or byte by byte give the same messages, with
// or without a head memo (filled by a first pass, then read by the second).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "linetcp/app/http_parser.hpp"

namespace {
using linetcp::app::HttpMessageParser;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "http_fuzz: invariant violated: %s\n", what);
  std::abort();
}
#define CHECK(cond) \
  do {              \
    if (!(cond)) fail(#cond); \
  } while (0)

struct Message {
  bool failed;
  uint16_t status;
  bool keep_alive;
  uint64_t content_length;
  std::size_t end;  // offset just past the message (or where it failed)
  bool operator==(const Message&) const = default;
};

// Feeds `data` in pieces of at most `piece` bytes (0: cut at `split` once) and lists the messages.
std::vector<Message> parse_all(HttpMessageParser::Kind kind, std::span<const uint8_t> data, std::size_t split,
                               std::size_t piece, linetcp::app::HttpHeadMemo* memo = nullptr) {
  std::vector<Message> out;
  HttpMessageParser p(kind);
  std::size_t at = 0;
  while (at < data.size()) {
    std::size_t limit = data.size();
    if (piece > 0) limit = std::min(data.size(), at + piece);
    else if (at < split) limit = split;
    const std::span<const uint8_t> chunk = data.subspan(at, limit - at);
    const std::size_t used = p.feed(chunk, memo);
    CHECK(used <= chunk.size());
    CHECK(!(p.complete() && p.failed()));
    at += used;
    if (p.failed()) {
      out.push_back({true, 0, false, 0, at});
      return out;
    }
    if (p.complete()) {
      CHECK(p.head_done());
      out.push_back({false, p.status(), p.keep_alive(), p.content_length(), at});
      p.reset();
      CHECK(!p.complete() && !p.failed() && !p.head_done());
      continue;
    }
    CHECK(used == chunk.size());  // an unfinished message takes everything it is given
  }
  return out;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto kind = (data[0] & 1) ? HttpMessageParser::Kind::kResponse : HttpMessageParser::Kind::kRequest;
  const std::span<const uint8_t> rest(data + 1, size - 1);
  const std::size_t split = rest.empty() ? 0 : (data[0] >> 1) * rest.size() / 127;
  const auto whole = parse_all(kind, rest, rest.size(), 0);
  const auto two = parse_all(kind, rest, split, 0);
  if (whole != two) fail("split into two pieces gives other messages");
  linetcp::app::HttpHeadMemo memo;
  if (parse_all(kind, rest, rest.size(), 0, &memo) != whole) fail("an empty head memo changes the messages");
  if (parse_all(kind, rest, rest.size(), 0, &memo) != whole) fail("the head memo changes the messages");
  if (parse_all(kind, rest, split, 0, &memo) != whole) fail("the head memo changes the messages of two pieces");
  if (rest.size() <= 4096) {
    const auto bytewise = parse_all(kind, rest, 0, 1);
    if (whole != bytewise) fail("byte by byte gives other messages");
  }
  return 0;
}
