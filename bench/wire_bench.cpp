// Wire costs per frame: the Internet checksum over typical lengths (against DPDK's rte_raw_cksum),
// and parsing a received TCP/IPv4 frame the way Endpoint::input() does (Ethernet, IPv4 with
// header checksum, TCP header, options, TCP checksum).
#include <benchmark/benchmark.h>
#include <rte_ip.h>

#include <cstdint>
#include <vector>

#include "bench_util.hpp"
#include "linetcp/wire/checksum.hpp"
#include "linetcp/wire/ethernet.hpp"
#include "linetcp/wire/ipv4.hpp"
#include "linetcp/wire/tcp_header.hpp"
#include "linetcp/wire/tcp_options.hpp"

namespace linetcp::wire {
namespace {

std::vector<uint8_t> pattern(std::size_t n) {
  std::vector<uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 131 + 7);
  return v;
}

void BM_ChecksumAdd(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto data = pattern(n + 1);
  for (auto _ : state) benchmark::DoNotOptimize(checksum_fold(checksum_add(data.data(), n)));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
  bench::set_cycles(state, static_cast<double>(state.iterations()));
}

// Baseline: DPDK's software checksum over the same bytes.
void BM_RteRawCksum(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto data = pattern(n + 1);
  for (auto _ : state) benchmark::DoNotOptimize(rte_raw_cksum(data.data(), n));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
  bench::set_cycles(state, static_cast<double>(state.iterations()));
}

// A received frame: Ethernet + IPv4 + TCP with timestamps (32-byte header) + `payload` bytes,
// checksums correct.
std::vector<uint8_t> tcp_frame(std::size_t payload) {
  std::vector<uint8_t> f(kEthHeaderLen + kIpv4MinHeaderLen + 32 + payload);
  write_ethernet(f.data(), MacAddr{{2, 0, 0, 0, 0, 1}}, MacAddr{{2, 0, 0, 0, 0, 2}}, kEtherTypeIpv4);
  TcpOptions opts;
  opts.has_timestamps = true;
  opts.ts_val = 123456;
  opts.ts_ecr = 654321;
  uint8_t* tcp = f.data() + kEthHeaderLen + kIpv4MinHeaderLen;
  const std::size_t hl = write_tcp_header(tcp, {40000, 80, 1000, 2000, kTcpAck | kTcpPsh, 512, 0}, opts);
  for (std::size_t i = 0; i < payload; ++i) tcp[hl + i] = static_cast<uint8_t>(i);
  const Ipv4Addr src{0x0A000002}, dst{0x0A000001};
  write_ipv4_header(f.data() + kEthHeaderLen, src, dst, 6, static_cast<uint16_t>(hl + payload), 64, 1);
  fill_tcp_checksum_ipv4(tcp, hl + payload, src.value, dst.value);
  f.resize(kEthHeaderLen + kIpv4MinHeaderLen + hl + payload);
  return f;
}

// Everything input() does to a frame before the connection lookup; `verify` with software TCP
// checksum verification (ports without RX checksum offload, memif).
void parse_frame(benchmark::State& state, bool verify) {
  const auto frame = tcp_frame(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    const auto eth = EthernetView::parse(frame);
    Ipv4View ip;
    if (eth->ether_type() != kEtherTypeIpv4 || Ipv4View::parse(eth->payload(), ip, verify) != Ipv4Error::kOk) {
      state.SkipWithError("bad frame");
      break;
    }
    TcpHeaderView tcp;
    if (TcpHeaderView::parse(ip.payload(), tcp) != TcpError::kOk) break;
    if (verify && verify_tcp_checksum_ipv4(ip.src().value, ip.dst().value, ip.payload()) != TcpError::kOk) break;
    TcpOptions opts;
    parse_tcp_options(tcp.options(), opts);
    benchmark::DoNotOptimize(opts);
    benchmark::DoNotOptimize(tcp.payload().size());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  bench::set_cycles(state, static_cast<double>(state.iterations()));
}
void BM_ParseTcpFrame(benchmark::State& state) { parse_frame(state, true); }
void BM_ParseTcpFrameNoVerify(benchmark::State& state) { parse_frame(state, false); }

BENCHMARK(BM_ChecksumAdd)->Arg(20)->Arg(40)->Arg(64)->Arg(536)->Arg(1460);
BENCHMARK(BM_RteRawCksum)->Arg(20)->Arg(40)->Arg(64)->Arg(536)->Arg(1460);
BENCHMARK(BM_ParseTcpFrame)->Arg(0)->Arg(100)->Arg(1448);
BENCHMARK(BM_ParseTcpFrameNoVerify)->Arg(0)->Arg(100)->Arg(1448);

}  // namespace
}  // namespace linetcp::wire
