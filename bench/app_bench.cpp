// Application costs per message: payload generation (fill_pattern against the per-byte
// pattern_byte() loop it replaced, a division by 26 per byte) and HTTP head parsing (the
// server's response and the load client's request, as they arrive: whole, or byte by byte, and
// whole from a head memo).
#include <benchmark/benchmark.h>

#include <vector>

#include "bench_util.hpp"
#include "linetcp/app/http_parser.hpp"
#include "linetcp/app/servers.hpp"

namespace linetcp::app {
namespace {

void BM_FillPattern(benchmark::State& state) {
  std::vector<uint8_t> buf(static_cast<std::size_t>(state.range(0)));
  uint64_t offset = 12345;
  for (auto _ : state) {
    fill_pattern(offset, buf);
    benchmark::DoNotOptimize(buf.data());
    offset += buf.size();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * buf.size()));
  bench::set_cycles(state, static_cast<double>(state.iterations()));
}

void BM_PatternBytePerByte(benchmark::State& state) {
  std::vector<uint8_t> buf(static_cast<std::size_t>(state.range(0)));
  uint64_t offset = 12345;
  for (auto _ : state) {
    for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = pattern_byte(offset + i);
    benchmark::DoNotOptimize(buf.data());
    offset += buf.size();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * buf.size()));
  bench::set_cycles(state, static_cast<double>(state.iterations()));
}

// The heads linetcp's own server and client exchange (servers.cpp, load_client.cpp), body empty
// so that only head parsing is measured.
constexpr std::string_view kResponseHead =
    "HTTP/1.1 200 OK\r\nServer: linetcp\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n"
    "Connection: keep-alive\r\n\r\n";
constexpr std::string_view kRequestHead = "GET / HTTP/1.1\r\nHost: 10.0.0.1\r\nUser-Agent: linetcp\r\n\r\n";

// range(0): 0 parses the head in one feed() (one segment), N > 0 feeds it in pieces of N bytes.
// With `memo`, every feed() uses it (the first one fills it).
void parse_head(benchmark::State& state, HttpMessageParser::Kind kind, std::string_view head,
                HttpHeadMemo* memo = nullptr) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(head.data());
  const std::size_t piece = state.range(0) == 0 ? head.size() : static_cast<std::size_t>(state.range(0));
  HttpMessageParser parser(kind);
  for (auto _ : state) {
    parser.reset();
    for (std::size_t at = 0; at < head.size(); at += piece)
      parser.feed(std::span<const uint8_t>(bytes + at, std::min(piece, head.size() - at)), memo);
    if (!parser.complete() || parser.failed()) state.SkipWithError("the head did not parse");
    benchmark::DoNotOptimize(parser);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * head.size()));
  bench::set_cycles(state, static_cast<double>(state.iterations()));
}
void BM_HttpParseResponse(benchmark::State& state) {
  parse_head(state, HttpMessageParser::Kind::kResponse, kResponseHead);
}
void BM_HttpParseRequest(benchmark::State& state) {
  parse_head(state, HttpMessageParser::Kind::kRequest, kRequestHead);
}

// The same heads taken from a head memo, as a worker's second and later equal heads are.
void BM_HttpParseResponseMemo(benchmark::State& state) {
  HttpHeadMemo memo;
  parse_head(state, HttpMessageParser::Kind::kResponse, kResponseHead, &memo);
  if (memo.hits() + 1 < static_cast<uint64_t>(state.iterations())) state.SkipWithError("the memo missed");
}
void BM_HttpParseRequestMemo(benchmark::State& state) {
  HttpHeadMemo memo;
  parse_head(state, HttpMessageParser::Kind::kRequest, kRequestHead, &memo);
  if (memo.hits() + 1 < static_cast<uint64_t>(state.iterations())) state.SkipWithError("the memo missed");
}

BENCHMARK(BM_FillPattern)->Arg(1448);
BENCHMARK(BM_PatternBytePerByte)->Arg(1448);
BENCHMARK(BM_HttpParseResponse)->Arg(0)->Arg(1);
BENCHMARK(BM_HttpParseRequest)->Arg(0)->Arg(1);
BENCHMARK(BM_HttpParseResponseMemo)->Arg(0);
BENCHMARK(BM_HttpParseRequestMemo)->Arg(0);

}  // namespace
}  // namespace linetcp::app
