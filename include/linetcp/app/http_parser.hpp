// Incremental HTTP/1.x parsers for the server (requests) and the load client (responses).
// They consume bytes as they arrive, in pieces of any size, keep a few bytes of state per
// connection, and never allocate: enough HTTP for load testing (start line, Content-Length,
// Connection, chunked refused), not a general-purpose parser.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace linetcp::app {

enum class HttpError : uint8_t {
  kNone,
  kBadStartLine,
  kBadHeader,
  kHeaderTooLong,
  kBadContentLength,
  kUnsupportedTransferEncoding,
};
const char* to_string(HttpError e);

class HttpHeadMemo;

// One message's head and body, parsed incrementally. Call feed() with each piece of data; it
// returns how many bytes it consumed (it stops right after a complete message, so pipelined
// messages are parsed one at a time) and sets complete() when a message ends.
class HttpMessageParser {
 public:
  enum class Kind : uint8_t { kRequest, kResponse };
  HttpMessageParser() = default;
  explicit HttpMessageParser(Kind kind) : kind_(kind) {}

  // With `memo`, a head that arrives whole and equal, byte for byte, to the memo's is not parsed
  // again: the parser takes the state the memo recorded after it. A head parsed whole in one
  // piece is recorded in the memo.
  std::size_t feed(std::span<const uint8_t> data, HttpHeadMemo* memo = nullptr);
  bool complete() const { return phase_ == Phase::kDone; }
  bool failed() const { return error_ != HttpError::kNone; }
  HttpError error() const { return error_; }
  // Prepare for the next message on the same connection. line_ and tail_ keep their bytes: they
  // are written before they are read (up to line_len_; tail_ only once 14 bytes were seen).
  void reset() {
    phase_ = Phase::kStartLine;
    error_ = HttpError::kNone;
    keep_alive_ = true;
    connection_seen_ = false;
    method_no_body_ = false;
    cr_ = false;
    has_length_ = false;
    minor_ = 1;
    field_ = 0;
    status_ = 0;
    line_len_ = 0;
    head_bytes_ = 0;
    content_length_ = 0;
    body_left_ = 0;
  }

  // Valid once the head is parsed.
  bool head_done() const { return phase_ == Phase::kBody || phase_ == Phase::kDone; }
  uint16_t status() const { return status_; }              // responses
  bool keep_alive() const { return keep_alive_; }           // by version and Connection header
  uint64_t content_length() const { return content_length_; }
  bool is_head_or_get() const { return method_no_body_; }   // requests: GET/HEAD/DELETE/OPTIONS
  uint8_t minor_version() const { return minor_; }

  static constexpr uint32_t kMaxHeadBytes = 16 * 1024;

 private:
  friend class HttpHeadMemo;
  enum class Phase : uint8_t { kStartLine, kHeaders, kBody, kDone };
  // The same as feeding each byte of `run` (none of them CR or LF) to start_line_char() or
  // header_char() with cr_ clear.
  void absorb_run(const uint8_t* run, std::size_t len);
  void start_line_char(uint8_t c);
  void header_char(uint8_t c);
  void line_end();
  void end_start_line();
  void end_header_line();
  void end_head();

  Kind kind_ = Kind::kRequest;
  Phase phase_ = Phase::kStartLine;
  HttpError error_ = HttpError::kNone;
  bool keep_alive_ = true;
  bool connection_seen_ = false;
  bool method_no_body_ = false;
  bool cr_ = false;            // the previous byte was CR
  bool has_length_ = false;
  uint8_t minor_ = 1;
  uint8_t field_ = 0;          // start line: which space-separated field we are in
  uint16_t status_ = 0;
  uint16_t line_len_ = 0;
  uint32_t head_bytes_ = 0;
  uint64_t content_length_ = 0;
  uint64_t body_left_ = 0;
  // The header line being read, lower-cased, up to kLineKeep bytes: enough to recognise the
  // headers we care about without storing the whole line.
  static constexpr std::size_t kLineKeep = 64;
  char line_[kLineKeep]{};
  char tail_[8]{};  // the start line's last 8 bytes: a request's "http/1.x", however long the target
};

// The last head that a parser read whole, and the parser's state just after it. Load tests send
// the same request and get the same response again and again: one memo per worker, shared by
// its connections' parsers, turns a head's parse (about 270 cycles for a short response) into a
// comparison. The cost on a miss is the comparison and, when the head is recorded, a copy.
class HttpHeadMemo {
 public:
  static constexpr std::size_t kMaxBytes = 512;  // longer heads are parsed every time

  uint64_t hits() const { return hits_; }
  uint64_t records() const { return records_; }

 private:
  friend class HttpMessageParser;
  // True, with `p` in the recorded state, when `data` starts with the recorded head.
  bool apply(std::span<const uint8_t> data, HttpMessageParser& p);
  void record(const uint8_t* head, std::size_t len, const HttpMessageParser& after);

  std::size_t len_ = 0;  // 0: nothing recorded
  HttpMessageParser after_;
  uint64_t hits_ = 0;
  uint64_t records_ = 0;
  std::array<uint8_t, kMaxBytes> bytes_{};
};

}  // namespace linetcp::app
