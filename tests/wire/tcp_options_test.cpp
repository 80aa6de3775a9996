// Tests of TCP option parsing (any alignment, unknown kinds, illegal lengths) and writing (exact
// layouts, the 40-byte budget, word padding).
#include "linetcp/wire/tcp_options.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <vector>

#include "linetcp/wire/checksum.hpp"

namespace linetcp::wire {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes write(const TcpOptions& opts) {
  Bytes out(kMaxOptionsLen + 4, 0xcc);  // 0xcc shows bytes the writer should not touch
  const std::size_t len = write_tcp_options(opts, out.data());
  EXPECT_EQ(len, tcp_options_length(opts));
  for (std::size_t i = len; i < out.size(); ++i) EXPECT_EQ(out[i], 0xcc) << "scribbled at " << i;
  out.resize(len);
  return out;
}

TcpOptions syn_options() {
  TcpOptions o;
  o.has_mss = true;
  o.mss = 1460;
  o.sack_permitted = true;
  o.has_timestamps = true;
  o.ts_val = 0x01020304;
  o.ts_ecr = 0x05060708;
  o.has_window_scale = true;
  o.window_scale = 7;
  return o;
}

TEST(TcpOptionsParseTest, LinuxSynOptions) {
  // RFC9293 MUST-4: MSS, plus the RFC 7323 / RFC 2018 options every modern peer sends.
  const Bytes bytes = {0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x05,
                       0xc8, 0xe1, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07};
  TcpOptions o;
  ASSERT_EQ(parse_tcp_options(bytes, o), OptionsParse::kOk);
  EXPECT_TRUE(o.has_mss);
  EXPECT_EQ(o.mss, 1460);
  EXPECT_TRUE(o.sack_permitted);
  EXPECT_TRUE(o.has_timestamps);
  EXPECT_EQ(o.ts_val, 0x0005c8e1u);
  EXPECT_EQ(o.ts_ecr, 0u);
  EXPECT_TRUE(o.has_window_scale);
  EXPECT_EQ(o.window_scale, 7);
  EXPECT_EQ(o.sack_count, 0);
}

TEST(TcpOptionsParseTest, NopNopTimestampsAndItsNearMisses) {
  // The common layout has a shortcut; the same bytes one step off it take the loop, and both
  // must read what the options say.
  const Bytes common = {kOptNop, kOptNop, kOptTimestamps, 10, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04};
  TcpOptions o;
  ASSERT_EQ(parse_tcp_options(common, o), OptionsParse::kOk);
  EXPECT_TRUE(o.has_timestamps);
  EXPECT_EQ(o.ts_val, 0xdeadbeefu);
  EXPECT_EQ(o.ts_ecr, 0x01020304u);
  EXPECT_FALSE(o.has_mss || o.sack_permitted || o.has_window_scale);
  EXPECT_EQ(o.sack_count, 0);
  Bytes unknown = common;
  unknown[2] = 99;  // an unknown kind with a legal length is skipped (MUST-6)
  ASSERT_EQ(parse_tcp_options(unknown, o), OptionsParse::kOk);
  EXPECT_FALSE(o.has_timestamps);
  Bytes wrong_len = common;
  wrong_len[3] = 12;  // runs past the end: illegal (MUST-7)
  EXPECT_EQ(parse_tcp_options(wrong_len, o), OptionsParse::kIllegalLength);
  Bytes with_eol = common;
  with_eol.resize(16, kOptEol);
  ASSERT_EQ(parse_tcp_options(with_eol, o), OptionsParse::kOk);
  EXPECT_TRUE(o.has_timestamps);
  EXPECT_EQ(o.ts_ecr, 0x01020304u);
  Bytes sack_perm = common;
  sack_perm[0] = kOptSackPermitted;
  sack_perm[1] = 2;
  ASSERT_EQ(parse_tcp_options(sack_perm, o), OptionsParse::kOk);
  EXPECT_TRUE(o.has_timestamps && o.sack_permitted);
}

TEST(TcpOptionsParseTest, EmptyOptions) {
  TcpOptions o;
  o.has_mss = true;  // stale values from an earlier segment are cleared
  ASSERT_EQ(parse_tcp_options({}, o), OptionsParse::kOk);
  EXPECT_FALSE(o.has_mss);
}

TEST(TcpOptionsParseTest, AckWithTimestampsAndSack) {
  // RFC9293 MUST-5: options arrive on any segment, here an ACK with NOP NOP TS NOP NOP SACK(2).
  const Bytes bytes = {0x01, 0x01, 0x08, 0x0a, 0xaa, 0xbb, 0xcc, 0xdd, 0x11, 0x22, 0x33, 0x44,
                       0x01, 0x01, 0x05, 0x12, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x20, 0x00,
                       0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x10};
  TcpOptions o;
  ASSERT_EQ(parse_tcp_options(bytes, o), OptionsParse::kOk);
  EXPECT_TRUE(o.has_timestamps);
  EXPECT_EQ(o.ts_val, 0xaabbccddu);
  EXPECT_EQ(o.ts_ecr, 0x11223344u);
  ASSERT_EQ(o.sack_count, 2);
  EXPECT_EQ(o.sack[0], (SackBlock{0x1000, 0x2000}));
  EXPECT_EQ(o.sack[1], (SackBlock{0xffffff00, 0x10}));  // a block across the wrap
  EXPECT_FALSE(o.has_mss);
}

TEST(TcpOptionsParseTest, FourSackBlocks) {
  Bytes bytes = {0x01, 0x01, 0x05, 34};
  for (uint8_t k = 0; k < 4; ++k) {
    for (uint8_t b : {uint8_t{0}, uint8_t{0}, k, uint8_t{0}, uint8_t{0}, uint8_t{0}, k, uint8_t{8}}) {
      bytes.push_back(b);
    }
  }
  TcpOptions o;
  ASSERT_EQ(parse_tcp_options(bytes, o), OptionsParse::kOk);
  ASSERT_EQ(o.sack_count, 4);
  EXPECT_EQ(o.sack[3], (SackBlock{0x0300, 0x0308}));
}

TEST(TcpOptionsParseTest, OddAlignment) {
  // RFC9293 MUST-64: no padding at all, every option after the first at an odd offset, and the
  // whole block at an odd address.
  const Bytes bytes = {0xee, 0x01, 0x02, 0x04, 0x21, 0x34, 0x03, 0x03, 0x0e, 0x08, 0x0a,
                       0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x04, 0x02, 0x00};
  TcpOptions o;
  ASSERT_EQ(parse_tcp_options(std::span(bytes).subspan(1), o), OptionsParse::kOk);
  EXPECT_EQ(o.mss, 0x2134);
  EXPECT_EQ(o.window_scale, 14);
  EXPECT_EQ(o.ts_val, 1u);
  EXPECT_EQ(o.ts_ecr, 2u);
  EXPECT_TRUE(o.sack_permitted);
}

TEST(TcpOptionsParseTest, UnknownKindsSkipped) {
  // RFC9293 MUST-6: TCP Fast Open cookie (34), MPTCP (30) and an experimental option (254) are
  // stepped over by their length; the options around them still count.
  const Bytes bytes = {0x22, 0x0a, 1, 2, 3, 4, 5, 6, 7, 8,  // TFO cookie
                       0x02, 0x04, 0x05, 0xb4,              // MSS
                       0x1e, 0x04, 0x00, 0x81,              // MPTCP capable (truncated form)
                       0xfe, 0x02,                          // experimental, no data
                       0x01, 0x03, 0x03, 0x02};             // NOP WS 2
  TcpOptions o;
  ASSERT_EQ(parse_tcp_options(bytes, o), OptionsParse::kOk);
  EXPECT_EQ(o.mss, 1460);
  EXPECT_TRUE(o.has_window_scale);
  EXPECT_EQ(o.window_scale, 2);
  EXPECT_FALSE(o.has_timestamps);
}

TEST(TcpOptionsParseTest, KnownKindWithWrongLengthSkipped) {
  // RFC9293 MUST-6: a malformed MSS (length 6), window scale (length 4), SACK-permitted (3),
  // timestamps (8) and SACK blocks (length 2 = no block, 11 = not whole blocks) are ignored,
  // not fatal, since their length bytes still frame them.
  // The well-formed MSS comes first so that a malformed one wrongly taken would overwrite it.
  const Bytes bytes = {0x02, 0x04, 0x02, 0x18,                          // MSS 536, well formed
                       0x02, 0x06, 0x05, 0xb4, 0x00, 0x00,              // MSS, len 6
                       0x03, 0x04, 0x07, 0x00,                          // WS, len 4
                       0x04, 0x03, 0x00,                                // SACK-perm, len 3
                       0x08, 0x08, 1, 2, 3, 4, 5, 6,                    // TS, len 8
                       0x05, 0x02,                                      // SACK, no block
                       0x05, 0x0b, 0, 0, 0, 1, 0, 0, 0, 2, 9,           // SACK, len 11
                       0x01, 0x03, 0x03, 0x02};                         // NOP WS 2, well formed
  TcpOptions o;
  ASSERT_EQ(parse_tcp_options(bytes, o), OptionsParse::kOk);
  EXPECT_TRUE(o.has_mss);
  EXPECT_EQ(o.mss, 536);
  EXPECT_TRUE(o.has_window_scale);  // the options after the malformed ones are still read
  EXPECT_EQ(o.window_scale, 2);
  EXPECT_FALSE(o.sack_permitted);
  EXPECT_FALSE(o.has_timestamps);
  EXPECT_EQ(o.sack_count, 0);
}

TEST(TcpOptionsParseTest, IllegalLengths) {
  TcpOptions o;
  // RFC9293 MUST-7: length 0 would loop forever; it stops parsing, keeping what came before.
  EXPECT_EQ(parse_tcp_options(Bytes{0x02, 0x04, 0x05, 0xb4, 0x03, 0x00, 0x01, 0x01}, o),
            OptionsParse::kIllegalLength);
  EXPECT_TRUE(o.has_mss);
  EXPECT_EQ(o.mss, 1460);
  // RFC9293 MUST-7: length 1 cannot even cover kind and length.
  EXPECT_EQ(parse_tcp_options(Bytes{0x01, 0xfd, 0x01, 0x02, 0x04, 0x05, 0xb4}, o),
            OptionsParse::kIllegalLength);
  EXPECT_FALSE(o.has_mss);  // the MSS after it is not trusted
  // RFC9293 MUST-7: a length running past the end of the header.
  EXPECT_EQ(parse_tcp_options(Bytes{0x01, 0x03, 0x03, 0x07, 0x08, 0x0a, 0, 0, 0, 1}, o),
            OptionsParse::kIllegalLength);
  EXPECT_TRUE(o.has_window_scale);
  EXPECT_FALSE(o.has_timestamps);
  EXPECT_EQ(parse_tcp_options(Bytes{0x02, 0x05, 0x05, 0xb4}, o), OptionsParse::kIllegalLength);
  // RFC9293 MUST-7: a kind in the last byte, its length byte missing.
  EXPECT_EQ(parse_tcp_options(Bytes{0x01, 0x01, 0x01, 0x02}, o), OptionsParse::kIllegalLength);
  // Length exactly reaching the end is legal.
  EXPECT_EQ(parse_tcp_options(Bytes{0x01, 0x01, 0x02, 0x04, 0x05, 0xb4}, o), OptionsParse::kOk);
}

TEST(TcpOptionsParseTest, EndOfOptionListStopsParsing) {
  // After EOL the rest is padding, even if it looks like an option or an illegal length.
  const Bytes bytes = {0x03, 0x03, 0x05, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x08, 0x00};
  TcpOptions o;
  ASSERT_EQ(parse_tcp_options(bytes, o), OptionsParse::kOk);
  EXPECT_EQ(o.window_scale, 5);
  EXPECT_FALSE(o.has_mss);
}

TEST(TcpOptionsParseTest, NopsOnly) {
  TcpOptions o;
  EXPECT_EQ(parse_tcp_options(Bytes(40, 0x01), o), OptionsParse::kOk);
  EXPECT_FALSE(o.has_mss || o.has_window_scale || o.sack_permitted || o.has_timestamps);
}

TEST(TcpOptionsWriteTest, SynLayoutIsLinuxs) {
  EXPECT_EQ(write(syn_options()),
            (Bytes{0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x01, 0x02,
                   0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x01, 0x03, 0x03, 0x07}));
}

TEST(TcpOptionsWriteTest, EachOptionAlone) {
  TcpOptions o;
  EXPECT_EQ(write(o), Bytes{});
  o.has_mss = true;
  o.mss = 8960;
  EXPECT_EQ(write(o), (Bytes{0x02, 0x04, 0x23, 0x00}));
  o = {};
  o.sack_permitted = true;
  EXPECT_EQ(write(o), (Bytes{0x01, 0x01, 0x04, 0x02}));
  o = {};
  o.has_window_scale = true;
  o.window_scale = 14;
  EXPECT_EQ(write(o), (Bytes{0x01, 0x03, 0x03, 0x0e}));
  o = {};
  o.has_timestamps = true;
  o.ts_val = 0xa1b2c3d4;
  o.ts_ecr = 0x00000001;
  EXPECT_EQ(write(o), (Bytes{0x01, 0x01, 0x08, 0x0a, 0xa1, 0xb2, 0xc3, 0xd4, 0x00, 0x00, 0x00, 0x01}));
}

TEST(TcpOptionsWriteTest, SackBlocksWithinTheBudget) {
  TcpOptions o;
  o.sack_count = 4;
  for (uint32_t k = 0; k < 4; ++k) o.sack[k] = {0x100 * (k + 1), 0x100 * (k + 1) + 0x10};
  // No timestamps: all four blocks, 4 + 32 = 36 bytes.
  Bytes b = write(o);
  ASSERT_EQ(b.size(), 36u);
  EXPECT_EQ(b[0], 0x01);
  EXPECT_EQ(b[1], 0x01);
  EXPECT_EQ(b[2], kOptSack);
  EXPECT_EQ(b[3], 34);
  EXPECT_EQ(b[4 + 3 * 8 + 2], 0x04);  // left edge of the fourth block: 0x400
  // With timestamps (12 bytes) three blocks fit: 12 + 4 + 24 = 40.
  o.has_timestamps = true;
  b = write(o);
  ASSERT_EQ(b.size(), 40u);
  EXPECT_EQ(b[15], 26);
  TcpOptions back;
  ASSERT_EQ(parse_tcp_options(b, back), OptionsParse::kOk);
  ASSERT_EQ(back.sack_count, 3);
  EXPECT_EQ(back.sack[2], o.sack[2]);
  // Everything set: 20 bytes used, two blocks fit.
  TcpOptions all = syn_options();
  all.sack_count = 4;
  all.sack = o.sack;
  EXPECT_EQ(tcp_options_length(all), 40u);
  ASSERT_EQ(parse_tcp_options(write(all), back), OptionsParse::kOk);
  EXPECT_EQ(back.sack_count, 2);
  // A count above the array size is clamped, not read past the array.
  o.has_timestamps = false;
  o.sack_count = 200;
  EXPECT_EQ(tcp_options_length(o), 36u);
}

TEST(TcpOptionsWriteTest, SumFromTheValuesMatchesTheBytes) {
  // The sum write_tcp_options() reports is computed from the option values, not read back: it must
  // be what summing the written bytes gives, for every layout, with every SACK block count.
  for (unsigned mask = 0; mask < 16; ++mask) {
    for (uint8_t blocks = 0; blocks <= 4; ++blocks) {
      TcpOptions o;
      o.has_mss = mask & 1;
      o.mss = 0xfedc;
      o.sack_permitted = mask & 2;
      o.has_timestamps = mask & 4;
      o.ts_val = 0xfffffff7;
      o.ts_ecr = 0x80018002;
      o.has_window_scale = mask & 8;
      o.window_scale = 14;
      o.sack_count = blocks;
      for (uint32_t k = 0; k < 4; ++k) o.sack[k] = {0xffff0000u + k, 0x0000ffffu * (k + 1)};
      std::array<uint8_t, kMaxOptionsLen> out{};
      uint32_t sum = 0xdeadbeef;
      const std::size_t len = write_tcp_options(o, out.data(), &sum);
      EXPECT_EQ(checksum_fold(sum), checksum_fold(checksum_add(out.data(), len))) << mask << " " << int{blocks};
    }
  }
}

TEST(TcpOptionsWriteTest, EveryCombinationRoundTripsInWholeWords) {
  // RFC9293 MUST-68: every option written but NOP carries a length that frames it exactly.
  // RFC9293 MUST-69: the list ends on a word boundary with no padding left to fill, so there are
  // no trailing bytes that could be non-zero; the data offset covers exactly what was written.
  for (unsigned mask = 0; mask < 32; ++mask) {
    TcpOptions o;
    o.has_mss = mask & 1;
    o.mss = 1400;
    o.sack_permitted = mask & 2;
    o.has_timestamps = mask & 4;
    o.ts_val = 77;
    o.ts_ecr = 78;
    o.has_window_scale = mask & 8;
    o.window_scale = 9;
    o.sack_count = (mask & 16) ? 4 : 0;
    for (uint32_t k = 0; k < 4; ++k) o.sack[k] = {k * 1000, k * 1000 + 500};
    const Bytes b = write(o);
    EXPECT_EQ(b.size() % 4, 0u) << mask;
    EXPECT_LE(b.size(), kMaxOptionsLen) << mask;
    std::size_t i = 0;
    while (i < b.size()) {
      ASSERT_NE(b[i], kOptEol) << mask;  // no padding needed, hence none written
      if (b[i] == kOptNop) {
        ++i;
        continue;
      }
      ASSERT_GE(b[i + 1], 2) << mask;
      i += b[i + 1];
    }
    EXPECT_EQ(i, b.size()) << mask;
    TcpOptions back;
    ASSERT_EQ(parse_tcp_options(b, back), OptionsParse::kOk) << mask;
    EXPECT_EQ(back.has_mss, o.has_mss);
    EXPECT_EQ(back.sack_permitted, o.sack_permitted);
    EXPECT_EQ(back.has_timestamps, o.has_timestamps);
    EXPECT_EQ(back.has_window_scale, o.has_window_scale);
    EXPECT_EQ(back.mss, o.has_mss ? 1400 : 0);
    EXPECT_EQ(back.ts_ecr, o.has_timestamps ? 78u : 0u);
    EXPECT_EQ(back.window_scale, o.has_window_scale ? 9 : 0);
    if (o.sack_count > 0) {
      ASSERT_GE(back.sack_count, 1);
      EXPECT_EQ(back.sack[0], o.sack[0]);
    }
  }
}

}  // namespace
}  // namespace linetcp::wire
