// HttpMessageParser: requests and responses fed in every split of their bytes and byte by byte,
// pipelining, HTTP/1.0 and keep-alive, Content-Length bodies, conflicting lengths, long targets,
// bad start lines and headers, chunked refused.
#include "linetcp/app/http_parser.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace linetcp::app {
namespace {

using Kind = HttpMessageParser::Kind;

struct Parsed {
  HttpError error = HttpError::kNone;
  bool complete = false;
  uint16_t status = 0;
  bool keep_alive = false;
  uint64_t content_length = 0;
  bool no_body_method = false;
  uint8_t minor = 0;
  std::size_t end = 0;  // offset in the input just past the message
  bool operator==(const Parsed&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Parsed& p) {
  return os << "{error=" << to_string(p.error) << " complete=" << p.complete << " status=" << p.status
            << " keep=" << p.keep_alive << " len=" << p.content_length << " minor=" << int{p.minor}
            << " end=" << p.end << "}";
}

// Feeds `text` in the pieces that `cuts` (sorted offsets) make, one parser per connection reset
// after each message: every message found, in order. Stops at the first error.
// With `memo`, every feed() uses it.
std::vector<Parsed> parse_pieces(Kind kind, const std::string& text, const std::vector<std::size_t>& cuts,
                                 HttpHeadMemo* memo = nullptr) {
  std::vector<Parsed> out;
  HttpMessageParser p(kind);
  std::size_t at = 0;
  std::vector<std::size_t> ends = cuts;
  ends.push_back(text.size());
  for (const std::size_t piece_end : ends) {
    while (at < piece_end) {
      const auto* d = reinterpret_cast<const uint8_t*>(text.data()) + at;
      const std::size_t used = p.feed(std::span<const uint8_t>(d, piece_end - at), memo);
      at += used;
      if (p.failed()) {
        out.push_back(Parsed{p.error(), false, 0, false, 0, false, 0, at});
        return out;
      }
      if (p.complete()) {
        out.push_back(Parsed{HttpError::kNone, true, p.status(), p.keep_alive(), p.content_length(),
                             p.is_head_or_get(), p.minor_version(), at});
        p.reset();
      } else if (used == 0) {
        break;
      }
    }
  }
  if (!p.failed() && at == text.size() && p.head_done() && !p.complete())
    out.push_back(Parsed{HttpError::kNone, false, p.status(), p.keep_alive(), p.content_length(), false,
                         p.minor_version(), at});
  return out;
}

// Parses whole, in every two-piece split, and byte by byte; all must agree. Returns the result.
// The same again with a head memo, which the whole parse fills and every later parse reads: a
// head taken from the memo must mean what parsing it means.
std::vector<Parsed> parse_all_ways(Kind kind, const std::string& text) {
  const std::vector<Parsed> whole = parse_pieces(kind, text, {});
  HttpHeadMemo memo;
  EXPECT_EQ(parse_pieces(kind, text, {}, &memo), whole) << "with an empty memo";
  EXPECT_EQ(parse_pieces(kind, text, {}, &memo), whole) << "with the memo of the first pass";
  for (std::size_t cut = 0; cut <= text.size(); ++cut) {
    EXPECT_EQ(parse_pieces(kind, text, {cut}), whole) << "split at " << cut;
    EXPECT_EQ(parse_pieces(kind, text, {cut}, &memo), whole) << "split at " << cut << ", with the memo";
  }
  std::vector<std::size_t> every;
  for (std::size_t i = 1; i < text.size(); ++i) every.push_back(i);
  EXPECT_EQ(parse_pieces(kind, text, every), whole) << "byte by byte";
  return whole;
}

Parsed request(bool keep, uint64_t len, std::size_t end, bool get = true, uint8_t minor = 1) {
  return Parsed{HttpError::kNone, true, 0, keep, len, get, minor, end};
}
Parsed response(uint16_t status, bool keep, uint64_t len, std::size_t end, uint8_t minor = 1) {
  return Parsed{HttpError::kNone, true, status, keep, len, false, minor, end};
}
Parsed error(HttpError e, std::size_t end) { return Parsed{e, false, 0, false, 0, false, 0, end}; }

TEST(HttpParser, SimpleGet) {
  const std::string r = "GET / HTTP/1.1\r\nHost: example\r\n\r\n";
  EXPECT_EQ(parse_all_ways(Kind::kRequest, r), (std::vector<Parsed>{request(true, 0, r.size())}));
}

TEST(HttpParser, HeadDeleteOptionsHaveNoBodyMethodAndPostDoesNot) {
  for (const char* m : {"HEAD", "DELETE", "OPTIONS"}) {
    const std::string r = std::string(m) + " /x HTTP/1.1\r\n\r\n";
    EXPECT_EQ(parse_all_ways(Kind::kRequest, r), (std::vector<Parsed>{request(true, 0, r.size())})) << m;
  }
  const std::string post = "POST /upload HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
  EXPECT_EQ(parse_all_ways(Kind::kRequest, post), (std::vector<Parsed>{request(true, 5, post.size(), false)}));
}

TEST(HttpParser, PipelinedRequestsAreParsedOneAtATime) {
  const std::string a = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
  const std::string b = "POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz";
  const std::string c = "GET /c HTTP/1.1\r\nConnection: close\r\n\r\n";
  const std::string all = a + b + c;
  EXPECT_EQ(parse_all_ways(Kind::kRequest, all),
            (std::vector<Parsed>{request(true, 0, a.size()), request(true, 3, a.size() + b.size(), false),
                                 request(false, 0, all.size())}));
  // feed() stops right after a message: the next one's bytes are left for the caller.
  HttpMessageParser p(Kind::kRequest);
  EXPECT_EQ(p.feed(std::span(reinterpret_cast<const uint8_t*>(all.data()), all.size())), a.size());
  EXPECT_TRUE(p.complete());
}

TEST(HttpParser, Http10ClosesUnlessAskedAndHttp11KeepsAliveUnlessAsked) {
  const std::string r10 = "GET / HTTP/1.0\r\n\r\n";
  EXPECT_EQ(parse_all_ways(Kind::kRequest, r10), (std::vector<Parsed>{request(false, 0, r10.size(), true, 0)}));
  const std::string r10ka = "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
  EXPECT_EQ(parse_all_ways(Kind::kRequest, r10ka), (std::vector<Parsed>{request(true, 0, r10ka.size(), true, 0)}));
  const std::string r11c = "GET / HTTP/1.1\r\nCONNECTION:   Close  \r\n\r\n";
  EXPECT_EQ(parse_all_ways(Kind::kRequest, r11c), (std::vector<Parsed>{request(false, 0, r11c.size())}));
  const std::string resp10 = "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok";
  EXPECT_EQ(parse_all_ways(Kind::kResponse, resp10), (std::vector<Parsed>{response(200, false, 2, resp10.size(), 0)}));
}

TEST(HttpParser, ContentLengthBodiesOfResponses) {
  const std::string body(1000, 'b');
  const std::string r = "HTTP/1.1 200 OK\r\nServer: x\r\nContent-Length: 1000\r\n\r\n" + body;
  EXPECT_EQ(parse_all_ways(Kind::kResponse, r), (std::vector<Parsed>{response(200, true, 1000, r.size())}));
  const std::string zero = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
  EXPECT_EQ(parse_all_ways(Kind::kResponse, zero), (std::vector<Parsed>{response(404, true, 0, zero.size())}));
  // Two responses back to back, the first with a body.
  const std::string two = r + zero;
  EXPECT_EQ(parse_all_ways(Kind::kResponse, two),
            (std::vector<Parsed>{response(200, true, 1000, r.size()), response(404, true, 0, two.size())}));
  // Incomplete body: head done, message not complete.
  const std::string cut = r.substr(0, r.size() - 1);
  EXPECT_EQ(parse_pieces(Kind::kResponse, cut, {}),
            (std::vector<Parsed>{Parsed{HttpError::kNone, false, 200, true, 1000, false, 1, cut.size()}}));
}

TEST(HttpParser, BodilessStatusesIgnoreContentLength) {
  for (uint16_t status : {100, 204, 304}) {
    const std::string r = "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: 10\r\n\r\n";
    EXPECT_EQ(parse_all_ways(Kind::kResponse, r), (std::vector<Parsed>{response(status, true, 0, r.size())})) << status;
  }
  const std::string no_reason = "HTTP/1.1 200\r\n\r\n";
  EXPECT_EQ(parse_all_ways(Kind::kResponse, no_reason), (std::vector<Parsed>{response(200, true, 0, no_reason.size())}));
}

TEST(HttpParser, RepeatedEqualContentLengthIsFineConflictingIsAnError) {
  const std::string same = "POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab";
  EXPECT_EQ(parse_all_ways(Kind::kRequest, same), (std::vector<Parsed>{request(true, 2, same.size(), false)}));
  const std::string head = "POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n";
  const std::string conflict = head + "\r\nabc";
  EXPECT_EQ(parse_all_ways(Kind::kRequest, conflict),
            (std::vector<Parsed>{error(HttpError::kBadContentLength, head.size())}));
}

TEST(HttpParser, BadContentLengthValues) {
  for (const char* v : {"", "12a", "-1", "1 2", "99999999999999999999999", "0x10"}) {
    const std::string head = std::string("HTTP/1.1 200 OK\r\nContent-Length: ") + v + "\r\n";
    EXPECT_EQ(parse_all_ways(Kind::kResponse, head + "\r\n"),
              (std::vector<Parsed>{error(HttpError::kBadContentLength, head.size())}))
        << v;
  }
}

TEST(HttpParser, LongRequestTargetsAndLongHeaders) {
  const std::string target = "/" + std::string(10000, 'p');
  const std::string r = "GET " + target + " HTTP/1.1\r\nX-Long: " + std::string(3000, 'v') + "\r\n\r\n";
  const auto got = parse_pieces(Kind::kRequest, r, {});
  EXPECT_EQ(got, (std::vector<Parsed>{request(true, 0, r.size())}));
  EXPECT_EQ(parse_pieces(Kind::kRequest, r, {5000}), got);
  EXPECT_EQ(parse_pieces(Kind::kRequest, r, {r.size() - 3}), got);
  // A head over 16 KiB is refused where it crosses the limit.
  const std::string huge = "GET /" + std::string(HttpMessageParser::kMaxHeadBytes, 'p') + " HTTP/1.1\r\n\r\n";
  EXPECT_EQ(parse_pieces(Kind::kRequest, huge, {}),
            (std::vector<Parsed>{error(HttpError::kHeaderTooLong, HttpMessageParser::kMaxHeadBytes + 1)}));
}

TEST(HttpParser, EmptyLinesBeforeARequestAreIgnored) {
  const std::string r = "\r\n\r\nGET / HTTP/1.1\r\n\r\n";
  EXPECT_EQ(parse_all_ways(Kind::kRequest, r), (std::vector<Parsed>{request(true, 0, r.size())}));
}

TEST(HttpParser, BadStartLines) {
  struct Case {
    Kind kind;
    std::string line;  // up to and including the LF where the error is found
  };
  const Case cases[] = {
      {Kind::kRequest, "GET /\r\n"},
      {Kind::kRequest, "GET / HTTP/2.0\r\n"},
      {Kind::kRequest, "GET / FTP/1.1x\r\n"},
      {Kind::kRequest, "GET / HTTP/1.x\r\n"},
      {Kind::kRequest, "GET/HTTP/1.1 x\r\n"},
      {Kind::kResponse, "HTTP/1.1 2x0 OK\r\n"},
      {Kind::kResponse, "HTTP/1.1 20\r\n"},
      {Kind::kResponse, "HTTP/2 200 OK\r\n"},
      {Kind::kResponse, "HTTP/1.x 200 OK\r\n"},
      {Kind::kResponse, "HTTP/1.1-200 OK\r\n"},
  };
  for (const Case& c : cases)
    EXPECT_EQ(parse_all_ways(c.kind, c.line + "\r\n"), (std::vector<Parsed>{error(HttpError::kBadStartLine, c.line.size())}))
        << c.line;
  // A bare CR inside the start line.
  EXPECT_EQ(parse_all_ways(Kind::kRequest, "GET / HT\rTP/1.1\r\n\r\n"),
            (std::vector<Parsed>{error(HttpError::kBadStartLine, 10)}));  // found at the byte after the CR
}

TEST(HttpParser, BadHeaders) {
  const std::string a = "GET / HTTP/1.1\r\nNoColonHere\n";
  EXPECT_EQ(parse_all_ways(Kind::kRequest, a + "\r\n"), (std::vector<Parsed>{error(HttpError::kBadHeader, a.size())}));
  const std::string b = "GET / HTTP/1.1\r\n: empty-name\r\n";
  EXPECT_EQ(parse_all_ways(Kind::kRequest, b + "\r\n"), (std::vector<Parsed>{error(HttpError::kBadHeader, b.size())}));
  const std::string c = "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n";
  EXPECT_EQ(parse_all_ways(Kind::kRequest, c), (std::vector<Parsed>{error(HttpError::kBadHeader, 25)}));
}

TEST(HttpParser, ChunkedIsRefusedIdentityIsNot) {
  const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n";
  EXPECT_EQ(parse_all_ways(Kind::kResponse, head + "\r\n5\r\nhello\r\n0\r\n\r\n"),
            (std::vector<Parsed>{error(HttpError::kUnsupportedTransferEncoding, head.size())}));
  const std::string req = "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n";
  EXPECT_EQ(parse_all_ways(Kind::kRequest, req + "\r\n"),
            (std::vector<Parsed>{error(HttpError::kUnsupportedTransferEncoding, req.size())}));
  const std::string id = "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\nContent-Length: 1\r\n\r\nz";
  EXPECT_EQ(parse_all_ways(Kind::kResponse, id), (std::vector<Parsed>{response(200, true, 1, id.size())}));
}

TEST(HttpHeadMemo, RepeatedResponsesAreTakenFromTheMemo) {
  const std::string ok = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: linetcp\r\n\r\nhello";
  HttpHeadMemo memo;
  std::string stream;
  for (int k = 0; k < 10; ++k) stream += ok;
  const auto got = parse_pieces(Kind::kResponse, stream, {}, &memo);
  ASSERT_EQ(got.size(), 10u);
  for (std::size_t k = 0; k < got.size(); ++k) EXPECT_EQ(got[k], response(200, true, 5, (k + 1) * ok.size()));
  EXPECT_EQ(memo.records(), 1u);
  EXPECT_EQ(memo.hits(), 9u);
}

TEST(HttpHeadMemo, OneByteOfDifferenceIsParsed) {
  // Each of these differs from the recorded head in one byte, and means something else.
  const std::string ok = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\nhello";
  HttpHeadMemo memo;
  ASSERT_EQ(parse_pieces(Kind::kResponse, ok, {}, &memo), std::vector{response(200, true, 5, ok.size())});
  const std::string len6 = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: keep-alive\r\n\r\nhello!";
  EXPECT_EQ(parse_pieces(Kind::kResponse, len6, {}, &memo), std::vector{response(200, true, 6, len6.size())});
  const std::string status = "HTTP/1.1 503 OK\r\nContent-Length: 6\r\nConnection: keep-alive\r\n\r\nhello!";
  EXPECT_EQ(parse_pieces(Kind::kResponse, status, {}, &memo), std::vector{response(503, true, 6, status.size())});
  const std::string http10 = "HTTP/1.0 503 OK\r\nContent-Length: 6\r\nConnection: keep-alive\r\n\r\nhello!";
  EXPECT_EQ(parse_pieces(Kind::kResponse, http10, {}, &memo),
            std::vector{response(503, true, 6, http10.size(), 0)});
  const std::string bad = "HTTP/1.0 503 OK\r\nContent-Length: 6\r\nConnection; keep-alive\r\n\r\nhello!";
  EXPECT_EQ(parse_pieces(Kind::kResponse, bad, {}, &memo).back().error, HttpError::kBadHeader);
  EXPECT_EQ(memo.hits(), 0u);
  EXPECT_EQ(memo.records(), 4u);  // not the bad one
  // And the last good head is still there.
  EXPECT_EQ(parse_pieces(Kind::kResponse, http10, {}, &memo),
            std::vector{response(503, true, 6, http10.size(), 0)});
  EXPECT_EQ(memo.hits(), 1u);
}

TEST(HttpHeadMemo, KindsLongHeadsAndSplitHeads) {
  HttpHeadMemo memo;
  // A request's head is not a response's, even with the same bytes before the parse fails.
  const std::string get = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  ASSERT_EQ(parse_pieces(Kind::kRequest, get, {}, &memo), std::vector{request(true, 0, get.size())});
  EXPECT_EQ(parse_pieces(Kind::kResponse, get, {}, &memo).back().error, HttpError::kBadStartLine);
  EXPECT_EQ(memo.hits(), 0u);
  // A head longer than the memo holds is parsed every time.
  const std::string long_head = "GET /" + std::string(HttpHeadMemo::kMaxBytes, 'a') + " HTTP/1.1\r\n\r\n";
  HttpHeadMemo memo2;
  for (int k = 0; k < 2; ++k)
    EXPECT_EQ(parse_pieces(Kind::kRequest, long_head, {}, &memo2), std::vector{request(true, 0, long_head.size())});
  EXPECT_EQ(memo2.records(), 0u);
  EXPECT_EQ(memo2.hits(), 0u);
  // A head that arrives in two pieces is not recorded, and a recorded head that arrives split is
  // parsed (the memo compares only whole heads).
  HttpHeadMemo memo3;
  EXPECT_EQ(parse_pieces(Kind::kRequest, get, {7}, &memo3), std::vector{request(true, 0, get.size())});
  EXPECT_EQ(memo3.records(), 0u);
  EXPECT_EQ(parse_pieces(Kind::kRequest, get, {}, &memo3), std::vector{request(true, 0, get.size())});
  EXPECT_EQ(parse_pieces(Kind::kRequest, get, {7}, &memo3), std::vector{request(true, 0, get.size())});
  EXPECT_EQ(memo3.records(), 1u);
  EXPECT_EQ(memo3.hits(), 0u);
}

TEST(HttpParser, ErrorNamesAreDistinct) {
  EXPECT_STREQ(to_string(HttpError::kNone), "none");
  EXPECT_STREQ(to_string(HttpError::kBadStartLine), "bad-start-line");
  EXPECT_STREQ(to_string(HttpError::kUnsupportedTransferEncoding), "unsupported-transfer-encoding");
}

}  // namespace
}  // namespace linetcp::app
