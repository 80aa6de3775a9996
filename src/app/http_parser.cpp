// Incremental HTTP/1.x message parsing: start line, the headers that matter for load testing,
// body by Content-Length.
#include "linetcp/app/http_parser.hpp"

#include <cstring>
#include <string_view>

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
std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}
}  // namespace

std::size_t HttpMessageParser::feed(std::span<const uint8_t> data) {
  std::size_t i = 0;
  while (i < data.size() && phase_ != Phase::kDone && error_ == HttpError::kNone) {
    if (phase_ == Phase::kBody) {
      const uint64_t take = std::min<uint64_t>(body_left_, data.size() - i);
      body_left_ -= take;
      i += take;
      if (body_left_ == 0) phase_ = Phase::kDone;
      continue;
    }
    const uint8_t c = data[i++];
    if (++head_bytes_ > kMaxHeadBytes) {
      error_ = HttpError::kHeaderTooLong;
      break;
    }
    if (phase_ == Phase::kStartLine) start_line_char(c);
    else header_char(c);
  }
  return i;
}

void HttpMessageParser::start_line_char(uint8_t c) {
  if (c == '\r') {
    cr_ = true;
    return;
  }
  if (c == '\n') {
    cr_ = false;
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

void HttpMessageParser::header_char(uint8_t c) {
  if (c == '\r') {
    cr_ = true;
    return;
  }
  if (c == '\n') {
    cr_ = false;
    if (line_len_ == 0) {
      end_head();
      return;
    }
    end_header_line();
    line_len_ = 0;
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
