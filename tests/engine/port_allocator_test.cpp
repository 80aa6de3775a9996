// PortAllocator: FIFO reuse, exhaustion, specific ports, predicates, shuffling, and a randomised
// model test against a std::set of free ports.
#include "linetcp/engine/port_allocator.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <vector>

namespace linetcp::engine {
namespace {

TEST(PortAllocator, HandsOutTheRangeThenZero) {
  PortAllocator ports(1000, 1003);
  EXPECT_EQ(ports.available(), 4u);
  EXPECT_EQ(ports.acquire(), 1000);
  EXPECT_EQ(ports.acquire(), 1001);
  EXPECT_EQ(ports.acquire(), 1002);
  EXPECT_EQ(ports.acquire(), 1003);
  EXPECT_EQ(ports.acquire(), 0);
  EXPECT_EQ(ports.available(), 0u);
  ports.release(1001);
  EXPECT_EQ(ports.available(), 1u);
  EXPECT_EQ(ports.acquire(), 1001);
}

TEST(PortAllocator, ReusesTheLeastRecentlyReleased) {
  PortAllocator ports(10, 14);
  for (int i = 0; i < 5; ++i) ports.acquire();
  ports.release(13);
  ports.release(11);
  ports.release(14);
  EXPECT_EQ(ports.acquire(), 13);
  ports.release(13);
  EXPECT_EQ(ports.acquire(), 11);
  EXPECT_EQ(ports.acquire(), 14);
  EXPECT_EQ(ports.acquire(), 13);
  EXPECT_EQ(ports.acquire(), 0);
}

TEST(PortAllocator, IgnoresBadReleases) {
  PortAllocator ports(100, 101);
  ports.release(100);  // not taken
  ports.release(99);   // out of range
  ports.release(102);
  EXPECT_EQ(ports.available(), 2u);
  EXPECT_EQ(ports.acquire(), 100);
  ports.release(100);
  ports.release(100);  // double release
  EXPECT_EQ(ports.available(), 2u);
}

TEST(PortAllocator, AcquireSpecific) {
  PortAllocator ports(5000, 5004);
  EXPECT_TRUE(ports.acquire_specific(5002));
  EXPECT_FALSE(ports.acquire_specific(5002));  // taken
  EXPECT_FALSE(ports.acquire_specific(4999));  // out of range
  EXPECT_TRUE(ports.in_use(5002));
  EXPECT_EQ(ports.available(), 4u);
  std::vector<uint16_t> rest;
  for (uint16_t p; (p = ports.acquire()) != 0;) rest.push_back(p);
  std::sort(rest.begin(), rest.end());
  EXPECT_EQ(rest, (std::vector<uint16_t>{5000, 5001, 5003, 5004}));
}

TEST(PortAllocator, AcquireIfSkipsRejectedPorts) {
  PortAllocator ports(20, 29);
  // Only odd ports "hash to this queue".
  EXPECT_EQ(ports.acquire_if([](uint16_t p) { return p % 2 == 1; }, 10), 21);
  EXPECT_EQ(ports.acquire_if([](uint16_t p) { return p % 2 == 1; }, 10), 23);
  EXPECT_EQ(ports.acquire_if([](uint16_t p) { return p == 99; }, 100), 0);  // no match, bounded
  EXPECT_EQ(ports.available(), 8u);
  EXPECT_EQ(ports.acquire_if([](uint16_t p) { return p % 2 == 1; }, 1), 0);  // one try only
}

TEST(PortAllocator, ZeroIsNeverAPortAndEmptyRanges) {
  PortAllocator ports(0, 2);
  EXPECT_EQ(ports.available(), 2u);
  EXPECT_EQ(ports.acquire(), 1);
  EXPECT_EQ(ports.acquire(), 2);
  EXPECT_EQ(ports.acquire(), 0);
  PortAllocator empty(10, 9);
  EXPECT_EQ(empty.available(), 0u);
  EXPECT_EQ(empty.acquire(), 0);
  PortAllocator full_range(1, 65535);
  EXPECT_EQ(full_range.available(), 65535u);
  EXPECT_TRUE(full_range.acquire_specific(65535));
}

TEST(PortAllocator, SeedShufflesAPermutationDeterministically) {
  PortAllocator a(1024, 65535, 99);
  PortAllocator b(1024, 65535, 99);
  PortAllocator c(1024, 65535, 100);
  std::vector<uint16_t> seq_a, seq_b, seq_c;
  for (uint16_t p; (p = a.acquire()) != 0;) seq_a.push_back(p);
  for (uint16_t p; (p = b.acquire()) != 0;) seq_b.push_back(p);
  for (uint16_t p; (p = c.acquire()) != 0;) seq_c.push_back(p);
  EXPECT_EQ(seq_a, seq_b);
  EXPECT_NE(seq_a, seq_c);
  ASSERT_EQ(seq_a.size(), 64512u);
  EXPECT_NE(seq_a[0], 1024);
  std::vector<uint16_t> sorted = seq_a;
  std::sort(sorted.begin(), sorted.end());
  for (uint32_t i = 0; i < sorted.size(); ++i) ASSERT_EQ(sorted[i], 1024 + i);
}

TEST(PortAllocator, ModelAgainstSet) {
  PortAllocator ports(30000, 30999, 5);
  std::set<uint16_t> free_ports;
  for (uint16_t p = 30000; p <= 30999; ++p) free_ports.insert(p);
  std::vector<uint16_t> taken;
  std::mt19937 rng(3);
  for (int op = 0; op < 200'000; ++op) {
    const uint32_t r = rng() % 10;
    if (r < 4) {
      const uint16_t p = ports.acquire();
      if (free_ports.empty()) {
        ASSERT_EQ(p, 0);
      } else {
        ASSERT_EQ(free_ports.erase(p), 1u) << p;
        taken.push_back(p);
      }
    } else if (r < 6) {
      const uint16_t p = static_cast<uint16_t>(29990 + rng() % 1020);
      const bool expect = free_ports.erase(p) == 1;
      ASSERT_EQ(ports.acquire_specific(p), expect) << p;
      if (expect) taken.push_back(p);
    } else if (!taken.empty()) {
      const std::size_t i = rng() % taken.size();
      ports.release(taken[i]);
      free_ports.insert(taken[i]);
      taken[i] = taken.back();
      taken.pop_back();
    }
    ASSERT_EQ(ports.available(), free_ports.size());
  }
}

}  // namespace
}  // namespace linetcp::engine
