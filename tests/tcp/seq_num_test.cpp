// Sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4).
#include <gtest/gtest.h>

#include "linetcp/tcp/seq_num.hpp"

namespace linetcp::tcp {
namespace {

TEST(TcpSeqNum, ComparesAcrossTheWrap) {
  const SeqNum a(0xFFFFFFF0u);
  const SeqNum b = a + 0x20;
  EXPECT_EQ(b.raw(), 0x10u);
  EXPECT_LT(a, b);
  EXPECT_GT(b, a);
  EXPECT_EQ(b - a, 0x20);
  EXPECT_EQ(a - b, -0x20);
  EXPECT_TRUE(seq_in(SeqNum(0), a, b));
  EXPECT_FALSE(seq_in(b, a, b));
  EXPECT_EQ(seq_max(a, b), b);
  EXPECT_EQ(seq_min(a, b), a);
  EXPECT_LE(a, a);
  EXPECT_GE(a, a);
}

TEST(TcpSeqNum, HalfSpaceHorizon) {
  const SeqNum a(5);
  EXPECT_LT(a, a + 0x7FFFFFFFu);
  EXPECT_GT(a, a + 0x80000001u);  // more than 2^31 ahead reads as behind
}

}  // namespace
}  // namespace linetcp::tcp
