// Tests of the Internet checksum: RFC 1071's example, a real IPv4 header, odd lengths and
// alignments against a plain word-by-word reference, chaining, and the TCP pseudo header.
#include "linetcp/wire/checksum.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

namespace linetcp::wire {
namespace {

// RFC 1071 §1 done the obvious way: big-endian 16-bit words, odd byte padded, carries folded.
uint16_t reference_checksum(const uint8_t* p, std::size_t len, uint32_t initial = 0) {
  uint64_t sum = initial;
  for (std::size_t i = 0; i + 1 < len; i += 2) sum += uint32_t{p[i]} << 8 | p[i + 1];
  if (len % 2 == 1) sum += uint32_t{p[len - 1]} << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

TEST(ChecksumTest, Rfc1071Example) {
  // RFC 1071 §3: these bytes sum to ddf2, so the checksum is its complement 220d.
  const uint8_t bytes[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(checksum_reduce(checksum_add(bytes, sizeof bytes)), 0xddf2);
  EXPECT_EQ(checksum_fold(checksum_add(bytes, sizeof bytes)), 0x220d);
}

TEST(ChecksumTest, RealIpv4Header) {
  // A captured UDP/IPv4 header 192.168.0.1 -> 192.168.0.199 whose checksum field holds b861.
  uint8_t header[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                      0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  EXPECT_EQ(checksum_fold(checksum_add(header, sizeof header)), 0);  // verifies with field in
  header[10] = header[11] = 0;
  EXPECT_EQ(checksum_fold(checksum_add(header, sizeof header)), 0xb861);  // computes with 0
}

TEST(ChecksumTest, EmptyAndSingleByte) {
  EXPECT_EQ(checksum_add(nullptr, 0), 0u);
  EXPECT_EQ(checksum_fold(0), 0xffff);
  const uint8_t one = 0xab;
  // The odd byte is the high byte of a zero-padded word.
  EXPECT_EQ(checksum_reduce(checksum_add(&one, 1)), 0xab00);
  EXPECT_EQ(checksum_fold(checksum_add(&one, 1)), 0x54ff);
}

TEST(ChecksumTest, OddLengthsAndAlignmentsMatchReference) {
  std::mt19937 rng(1071);
  std::vector<uint8_t> buf(2048 + 8);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  for (std::size_t start = 0; start < 8; ++start) {
    for (std::size_t len = 0; len <= 300; ++len) {
      ASSERT_EQ(checksum_fold(checksum_add(buf.data() + start, len)),
                reference_checksum(buf.data() + start, len))
          << "start " << start << " len " << len;
    }
  }
  EXPECT_EQ(checksum_fold(checksum_add(buf.data() + 3, 2048)), reference_checksum(buf.data() + 3, 2048));
}

TEST(ChecksumTest, AllOnesDataCarriesAroundEveryWord) {
  // Maximal carries: every 64-bit add overflows.
  std::vector<uint8_t> ones(1501, 0xff);
  EXPECT_EQ(checksum_fold(checksum_add(ones.data(), ones.size())),
            reference_checksum(ones.data(), ones.size()));
  EXPECT_EQ(checksum_fold(checksum_add(ones.data(), 1500)), 0x0000);
}

TEST(ChecksumTest, ChainingAtEvenOffsets) {
  std::mt19937 rng(7);
  std::vector<uint8_t> buf(999);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  const uint16_t whole = checksum_fold(checksum_add(buf.data(), buf.size()));
  // Pieces of even length, the last one odd.
  uint32_t sum = checksum_add(buf.data(), 14);
  sum = checksum_add(buf.data() + 14, 20, sum);
  sum = checksum_add(buf.data() + 34, 500, sum);
  sum = checksum_add(buf.data() + 534, 465, sum);
  EXPECT_EQ(checksum_fold(sum), whole);
}

TEST(ChecksumTest, InitialSumNearMaxKeepsItsCarry) {
  const uint8_t bytes[] = {0xff, 0xff, 0xff, 0xff};
  const uint32_t start = 0xfffffffe;
  EXPECT_EQ(checksum_fold(checksum_add(bytes, sizeof bytes, start)),
            reference_checksum(bytes, sizeof bytes, checksum_reduce(start)));
}

TEST(ChecksumTest, SpanOverloadMatchesPointer) {
  const std::vector<uint8_t> bytes = {1, 2, 3, 4, 5};
  EXPECT_EQ(checksum_add(std::span<const uint8_t>(bytes)), checksum_add(bytes.data(), bytes.size()));
}

TEST(ChecksumTest, HeaderWordsMatchTheGeneralSum) {
  // checksum_add_words() is checksum_add() inlined for headers: every length a header can have,
  // at every alignment, with and without a running sum.
  std::mt19937 rng(7);
  std::vector<uint8_t> buf(64 + 4);
  for (int round = 0; round < 200; ++round) {
    for (auto& b : buf) b = static_cast<uint8_t>(rng());
    if (round == 0) std::fill(buf.begin(), buf.end(), 0xff);  // every word carries
    const uint32_t start = round % 2 == 0 ? 0u : rng() >> 2;
    for (std::size_t offset = 0; offset < 4; ++offset) {
      for (std::size_t len = 0; len <= 60; len += 4) {
        ASSERT_EQ(checksum_add_words(buf.data() + offset, len, start),
                  checksum_add(buf.data() + offset, len, start))
            << "round " << round << " offset " << offset << " len " << len;
      }
    }
  }
}

TEST(ChecksumTest, Word32IsTheSumOfItsHalves) {
  const uint8_t bytes[] = {0xde, 0xad, 0xbe, 0xef};
  EXPECT_EQ(checksum_word32(0xdeadbeef), 0xdeadu + 0xbeefu);
  EXPECT_EQ(checksum_reduce(checksum_word32(0xdeadbeef)), checksum_reduce(checksum_add(bytes, sizeof bytes)));
  EXPECT_EQ(checksum_word32(0), 0u);
  EXPECT_EQ(checksum_word32(0xffffffff), 0x1fffeu);
}

TEST(ChecksumTest, PseudoHeaderSum) {
  // 10.0.0.1 -> 10.0.0.2, TCP, 40 bytes: 0a00 + 0001 + 0a00 + 0002 + 0006 + 0028.
  EXPECT_EQ(pseudo_header_sum_ipv4(0x0a000001, 0x0a000002, 6, 40), 0x1431u);
}

TEST(ChecksumTest, TcpChecksumOfCapturedSyn) {
  // The TCP header of a Linux SYN 10.0.0.1:45678 -> 10.0.0.2:80 (MSS, SACK-permitted, timestamps,
  // NOP, window scale) with its checksum 66ef computed by an independent implementation.
  uint8_t tcp[] = {0xb2, 0x6e, 0x00, 0x50, 0x1a, 0x2b, 0x3c, 0x4d, 0x00, 0x00, 0x00, 0x00,
                   0xa0, 0x02, 0xfa, 0xf0, 0x66, 0xef, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4,
                   0x04, 0x02, 0x08, 0x0a, 0x00, 0x05, 0xc8, 0xe1, 0x00, 0x00, 0x00, 0x00,
                   0x01, 0x03, 0x03, 0x07};
  // RFC9293 MUST-3: the receiver's check over a correct segment gives 0.
  EXPECT_EQ(tcp_checksum_ipv4(0x0a000001, 0x0a000002, tcp), 0);
  // RFC9293 MUST-2: the sender computes over a zeroed field the value to store.
  tcp[16] = tcp[17] = 0;
  EXPECT_EQ(tcp_checksum_ipv4(0x0a000001, 0x0a000002, tcp), 0x66ef);
  // The pseudo header covers the addresses.
  EXPECT_NE(tcp_checksum_ipv4(0x0a000001, 0x0a000003, tcp), 0x66ef);
}

}  // namespace
}  // namespace linetcp::wire
