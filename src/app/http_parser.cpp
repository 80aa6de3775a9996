// Incremental HTTP/1.x message parsing: start line, the headers that matter for load testing,
// body by Content-Length. Bytes between line breaks are taken a run at a time (a vector scan for
// CR/LF); line breaks and errors go through the per-byte state machine.
#include "linetcp/app/http_parser.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace linetcp::app {

const char* to_string(HttpError e) {
  switch (e) {
    case HttpError::kNone: return "none";
    case HttpError::kBadStartLine: return "bad-start-line";
    case HttpError::kBadHeader: return "bad-header";
    case HttpError::kHeaderTooLong: return "header-too-long";
    case HttpError::kBadContentLength: return "bad-content-length";
    case HttpError::kUnsupportedTransferEncoding: return "unsupported-transfer-encoding";
  }
  return "?";
}

namespace {
char lower(uint8_t c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); }

constexpr std::size_t kMinRun = 4;

// Offset of the first CR or LF in [s, s + n), or n: 16 bytes per step where SSE2 is there.
std::size_t line_break_offset(const uint8_t* s, std::size_t n) {
  std::size_t i = 0;
#if defined(__SSE2__)
  const __m128i cr = _mm_set1_epi8('\r');
  const __m128i lf = _mm_set1_epi8('\n');
  for (; i + 16 <= n; i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
    const int hits = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf)));
    if (hits != 0) return i + static_cast<std::size_t>(std::countr_zero(static_cast<unsigned>(hits)));
  }
#endif
  for (; i < n; ++i)
    if (s[i] == '\r' || s[i] == '\n') return i;
  return n;
}
// dst[k] = lower(src[k]) for k < n.
void lower_copy(char* dst, const uint8_t* src, std::size_t n) {
  std::size_t k = 0;
#if defined(__SSE2__)
  // 'A'..'Z' + (128 - 'A') are the 26 smallest signed bytes: one signed compare finds them.
  const __m128i bias = _mm_set1_epi8(static_cast<char>(128 - 'A'));
  const __m128i below = _mm_set1_epi8(static_cast<char>(-128 + 26));
  const __m128i case_bit = _mm_set1_epi8(0x20);
  for (; k + 16 <= n; k += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + k));
    const __m128i upper = _mm_cmplt_epi8(_mm_add_epi8(v, bias), below);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + k), _mm_or_si128(v, _mm_and_si128(upper, case_bit)));
  }
#endif
  for (; k < n; ++k) dst[k] = lower(src[k]);
}

// Spaces in [s, s + n), modulo 256.
uint8_t count_spaces(const uint8_t* s, std::size_t n) {
  uint32_t count = 0;
  std::size_t k = 0;
#if defined(__SSE2__)
  const __m128i space = _mm_set1_epi8(' ');
  for (; k + 16 <= n; k += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + k));
    count += static_cast<uint32_t>(std::popcount(static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, space)))));
  }
#endif
  for (; k < n; ++k) count += s[k] == ' ';
  return static_cast<uint8_t>(count);
}

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}
}  // namespace

std::size_t HttpMessageParser::feed(std::span<const uint8_t> data, HttpHeadMemo* memo) {
  const uint8_t* bytes = data.data();
  std::size_t i = 0;
  constexpr std::size_t kNoHead = SIZE_MAX;
  std::size_t head_start = kNoHead;  // where a head that starts in this piece starts
  while (i < data.size() && phase_ != Phase::kDone && error_ == HttpError::kNone) {
    if (phase_ == Phase::kBody) {
      if (head_start != kNoHead) {  // the head ended in this piece: remember it
        memo->record(bytes + head_start, i - head_start, *this);
        head_start = kNoHead;
      }
      const uint64_t take = std::min<uint64_t>(body_left_, data.size() - i);
      body_left_ -= take;
      i += take;
      if (body_left_ == 0) phase_ = Phase::kDone;
      continue;
    }
    if (memo != nullptr && phase_ == Phase::kStartLine && head_bytes_ == 0) {
      if (memo->apply(data.subspan(i), *this)) {
        i += head_bytes_;
        continue;
      }
      head_start = i;
    }
    // Fast path: the bytes up to the next CR or LF go in as one run, and a CRLF right after it
    // ends the line. A byte that crosses the head limit, a lone CR or LF, and any byte after a
    // CR take the byte path below (which reports the errors), and so do pieces of a few bytes,
    // where setting up a run costs more than it saves.
    if (!cr_ && data.size() - i >= kMinRun) {
      const std::size_t run =
          std::min<std::size_t>(line_break_offset(bytes + i, data.size() - i), kMaxHeadBytes - head_bytes_);
      absorb_run(bytes + i, run);
      head_bytes_ += static_cast<uint32_t>(run);
      i += run;
      if (i + 1 < data.size() && bytes[i] == '\r' && bytes[i + 1] == '\n' && head_bytes_ + 2 <= kMaxHeadBytes) {
        head_bytes_ += 2;
        i += 2;
        line_end();
        continue;
      }
      if (run > 0) continue;
    }
    const uint8_t c = bytes[i++];
    if (++head_bytes_ > kMaxHeadBytes) {
      error_ = HttpError::kHeaderTooLong;
      break;
    }
    if (phase_ == Phase::kStartLine) start_line_char(c);
    else header_char(c);
  }
  // A bodiless message (or one whose body is not here yet) ends the loop right after its head.
  if (head_start != kNoHead && head_done() && error_ == HttpError::kNone) {
    memo->record(bytes + head_start, i - head_start, *this);
  }
  return i;
}

bool HttpHeadMemo::apply(std::span<const uint8_t> data, HttpMessageParser& p) {
  if (len_ == 0 || data.size() < len_ || after_.kind_ != p.kind_ || std::memcmp(data.data(), bytes_.data(), len_) != 0) {
    return false;
  }
  p = after_;
  ++hits_;
  return true;
}

void HttpHeadMemo::record(const uint8_t* head, std::size_t len, const HttpMessageParser& after) {
  if (len > kMaxBytes || (len == len_ && after.kind_ == after_.kind_ && std::memcmp(head, bytes_.data(), len) == 0)) {
    return;
  }
  std::memcpy(bytes_.data(), head, len);
  len_ = len;
  after_ = after;
  ++records_;
}

void HttpMessageParser::absorb_run(const uint8_t* run, std::size_t len) {
  if (line_len_ < kLineKeep) lower_copy(line_ + line_len_, run, std::min<std::size_t>(len, kLineKeep - line_len_));
  line_len_ = static_cast<uint16_t>(line_len_ + len);  // the head limit keeps it under 2^16
  if (phase_ != Phase::kStartLine || len == 0) return;
  field_ = static_cast<uint8_t>(field_ + count_spaces(run, len));  // wraps as ++field_ per space did
  constexpr std::size_t kTail = sizeof tail_;
  if (len >= kTail) {
    lower_copy(tail_, run + len - kTail, kTail);
  } else {
    std::memmove(tail_, tail_ + len, kTail - len);
    lower_copy(tail_ + kTail - len, run, len);
  }
}

// A line ended (LF, after an optional CR).
void HttpMessageParser::line_end() {
  cr_ = false;
  if (phase_ == Phase::kStartLine) {
    end_start_line();
  } else if (line_len_ == 0) {
    end_head();
  } else {
    end_header_line();
    line_len_ = 0;
  }
}

void HttpMessageParser::start_line_char(uint8_t c) {
  if (c == '\r') {
    cr_ = true;
    return;
  }
  if (c == '\n') {
    line_end();
    return;
  }
  if (cr_) {  // a bare CR inside the start line
    error_ = HttpError::kBadStartLine;
    return;
  }
  if (c == ' ') ++field_;
  if (line_len_ < kLineKeep) line_[line_len_] = lower(c);
  ++line_len_;
  std::memmove(tail_, tail_ + 1, sizeof tail_ - 1);
  tail_[sizeof tail_ - 1] = lower(c);
}

void HttpMessageParser::end_start_line() {
  if (line_len_ == 0) return;  // RFC 9112 §2.2: ignore empty lines before a request
  // Request: METHOD SP TARGET SP HTTP/1.x ; response: HTTP/1.x SP CODE SP REASON
  const std::string_view line(line_, std::min<std::size_t>(line_len_, kLineKeep));
  if (kind_ == Kind::kRequest) {
    if (field_ < 2 || line_len_ < 14) {
      error_ = HttpError::kBadStartLine;
      return;
    }
    const std::string_view version(tail_, 8);
    if (version.substr(0, 7) != "http/1." || version[7] < '0' || version[7] > '9') {
      error_ = HttpError::kBadStartLine;
      return;
    }
    minor_ = static_cast<uint8_t>(version[7] - '0');
    method_no_body_ = line.starts_with("get ") || line.starts_with("head ") ||
                      line.starts_with("delete ") || line.starts_with("options ");
  } else {
    if (line.size() < 12 || line.substr(0, 7) != "http/1." || line[7] < '0' || line[7] > '9' ||
        line[8] != ' ') {
      error_ = HttpError::kBadStartLine;
      return;
    }
    minor_ = static_cast<uint8_t>(line[7] - '0');
    uint16_t code = 0;
    for (int k = 9; k < 12; ++k) {
      if (line[k] < '0' || line[k] > '9') {
        error_ = HttpError::kBadStartLine;
        return;
      }
      code = static_cast<uint16_t>(code * 10 + (line[k] - '0'));
    }
    status_ = code;
  }
  keep_alive_ = minor_ >= 1;  // HTTP/1.0 closes unless asked to keep alive
  phase_ = Phase::kHeaders;
  line_len_ = 0;
}

void HttpMessageParser::header_char(uint8_t c) {
  if (c == '\r') {
    cr_ = true;
    return;
  }
  if (c == '\n') {
    line_end();
    return;
  }
  if (cr_) {
    error_ = HttpError::kBadHeader;
    return;
  }
  if (line_len_ < kLineKeep) line_[line_len_] = lower(c);
  ++line_len_;
}

void HttpMessageParser::end_header_line() {
  const std::string_view line(line_, std::min<std::size_t>(line_len_, kLineKeep));
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    if (line_len_ <= kLineKeep) error_ = HttpError::kBadHeader;  // a long line's colon may be cut off
    return;
  }
  const std::string_view name = line.substr(0, colon);
  const std::string_view value = trim(line.substr(colon + 1));
  if (name == "content-length") {
    if (value.empty() || line_len_ > kLineKeep) {
      error_ = HttpError::kBadContentLength;
      return;
    }
    uint64_t n = 0;
    for (char ch : value) {
      if (ch < '0' || ch > '9' || n > (UINT64_MAX - 9) / 10) {
        error_ = HttpError::kBadContentLength;
        return;
      }
      n = n * 10 + static_cast<uint64_t>(ch - '0');
    }
    if (has_length_ && n != content_length_) {  // RFC 9112 §6.3: conflicting lengths
      error_ = HttpError::kBadContentLength;
      return;
    }
    has_length_ = true;
    content_length_ = n;
  } else if (name == "connection") {
    connection_seen_ = true;
    if (value.find("close") != std::string_view::npos) keep_alive_ = false;
    else if (value.find("keep-alive") != std::string_view::npos) keep_alive_ = true;
  } else if (name == "transfer-encoding") {
    if (value != "identity") error_ = HttpError::kUnsupportedTransferEncoding;
  }
}

void HttpMessageParser::end_head() {
  // Responses without Content-Length to HEAD, 1xx, 204 and 304 have no body; a response with
  // neither length nor close-delimited semantics is treated as bodiless by this load tester.
  if (kind_ == Kind::kResponse &&
      ((status_ >= 100 && status_ < 200) || status_ == 204 || status_ == 304)) content_length_ = 0;
  body_left_ = content_length_;
  phase_ = body_left_ == 0 ? Phase::kDone : Phase::kBody;
}

}  // namespace linetcp::app
