// NeighborCache (the ARP cache): learning, lookup, expiry with a stale entry still in use while a
// refresh is due, the per-address request rate limit, static entries and a full table.
#include "linetcp/engine/neighbor.hpp"

#include <gtest/gtest.h>

namespace linetcp::engine {
namespace {

using base::Duration;
using base::Instant;

constexpr wire::MacAddr kMacA{{0x02, 0, 0, 0, 0, 0xa}};
constexpr wire::MacAddr kMacB{{0x02, 0, 0, 0, 0, 0xb}};
constexpr wire::Ipv4Addr kIp{0x0a000005};
const Instant kT0 = Instant::from_ns(5'000'000'000);

TEST(NeighborCache, UnknownAddressAsksOnceAndIsRateLimited) {
  NeighborCache n(64, Duration::seconds(300), Duration::seconds(1));
  auto r = n.lookup(kIp, kT0);
  EXPECT_EQ(r.mac, nullptr);
  EXPECT_TRUE(r.send_request);
  EXPECT_TRUE(n.known(kIp));  // incomplete, but being resolved
  EXPECT_EQ(n.size(), 1u);
  // Within the request interval: no second request.
  r = n.lookup(kIp, kT0 + Duration::millis(999));
  EXPECT_EQ(r.mac, nullptr);
  EXPECT_FALSE(r.send_request);
  // After it: ask again.
  r = n.lookup(kIp, kT0 + Duration::seconds(1));
  EXPECT_EQ(r.mac, nullptr);
  EXPECT_TRUE(r.send_request);
  r = n.lookup(kIp, kT0 + Duration::millis(1500));
  EXPECT_FALSE(r.send_request);
  EXPECT_EQ(n.size(), 1u);
}

TEST(NeighborCache, LearnThenLookupUntilExpiry) {
  NeighborCache n(64, Duration::seconds(300), Duration::seconds(1));
  EXPECT_FALSE(n.known(kIp));
  EXPECT_TRUE(n.learn(kIp, kMacA, kT0));  // was unresolved
  auto r = n.lookup(kIp, kT0 + Duration::seconds(299));
  ASSERT_NE(r.mac, nullptr);
  EXPECT_EQ(*r.mac, kMacA);
  EXPECT_FALSE(r.send_request);
  // Learning again (a refresh) is not "newly resolved", and it moves the MAC.
  EXPECT_FALSE(n.learn(kIp, kMacB, kT0 + Duration::seconds(10)));
  r = n.lookup(kIp, kT0 + Duration::seconds(309));
  ASSERT_NE(r.mac, nullptr);
  EXPECT_EQ(*r.mac, kMacB);
  EXPECT_FALSE(r.send_request);
}

TEST(NeighborCache, StaleEntryStillUsedWhileARefreshIsDue) {
  NeighborCache n(64, Duration::seconds(300), Duration::seconds(1));
  n.learn(kIp, kMacA, kT0);
  const Instant expired = kT0 + Duration::seconds(300);
  auto r = n.lookup(kIp, expired);
  ASSERT_NE(r.mac, nullptr);  // traffic does not stall on a refresh
  EXPECT_EQ(*r.mac, kMacA);
  EXPECT_TRUE(r.send_request);
  r = n.lookup(kIp, expired + Duration::millis(500));
  ASSERT_NE(r.mac, nullptr);
  EXPECT_FALSE(r.send_request);  // rate limited
  r = n.lookup(kIp, expired + Duration::seconds(1));
  EXPECT_TRUE(r.send_request);
  // The answer makes it fresh again.
  n.learn(kIp, kMacB, expired + Duration::seconds(2));
  r = n.lookup(kIp, expired + Duration::seconds(3));
  ASSERT_NE(r.mac, nullptr);
  EXPECT_EQ(*r.mac, kMacB);
  EXPECT_FALSE(r.send_request);
}

TEST(NeighborCache, StaticEntriesNeverExpireAndIgnoreArp) {
  NeighborCache n(64, Duration::seconds(300), Duration::seconds(1));
  n.set_static(kIp, kMacA);
  EXPECT_TRUE(n.known(kIp));
  auto r = n.lookup(kIp, kT0 + Duration::seconds(100000));
  ASSERT_NE(r.mac, nullptr);
  EXPECT_EQ(*r.mac, kMacA);
  EXPECT_FALSE(r.send_request);
  EXPECT_FALSE(n.learn(kIp, kMacB, kT0));  // an ARP packet cannot move a configured neighbour
  r = n.lookup(kIp, kT0);
  EXPECT_EQ(*r.mac, kMacA);
}

TEST(NeighborCache, FullTableDropsAndCountsThenReusesExpiredEntries) {
  NeighborCache n(16, Duration::seconds(10), Duration::seconds(1));
  ASSERT_EQ(n.capacity(), 16u);
  for (uint32_t i = 0; i < 16; ++i) EXPECT_TRUE(n.learn(wire::Ipv4Addr{0x0a000100 + i}, kMacA, kT0));
  EXPECT_EQ(n.size(), 16u);
  EXPECT_EQ(n.full_drops(), 0u);
  // A 17th address finds no slot: nothing to resolve, and counted.
  const wire::Ipv4Addr extra{0x0a000200};
  auto r = n.lookup(extra, kT0 + Duration::seconds(1));
  EXPECT_EQ(r.mac, nullptr);
  EXPECT_FALSE(r.send_request);
  EXPECT_EQ(n.full_drops(), 1u);
  EXPECT_FALSE(n.learn(extra, kMacB, kT0 + Duration::seconds(1)));
  EXPECT_EQ(n.full_drops(), 2u);
  EXPECT_FALSE(n.known(extra));
  // The old entries are still served.
  EXPECT_NE(n.lookup(wire::Ipv4Addr{0x0a000100}, kT0 + Duration::seconds(1)).mac, nullptr);
  // Long after every entry expired (expiry + timeout), a new address takes one's place.
  r = n.lookup(extra, kT0 + Duration::seconds(21));
  EXPECT_EQ(r.mac, nullptr);
  EXPECT_TRUE(r.send_request);
  EXPECT_TRUE(n.known(extra));
  EXPECT_EQ(n.size(), 16u);
  EXPECT_EQ(n.full_drops(), 2u);
}

TEST(NeighborCache, StaticEntriesAreNeverReplaced) {
  NeighborCache n(16, Duration::seconds(1), Duration::seconds(1));
  for (uint32_t i = 0; i < 16; ++i) n.set_static(wire::Ipv4Addr{0x0a000100 + i}, kMacA);
  auto r = n.lookup(wire::Ipv4Addr{0x0a000200}, kT0 + Duration::seconds(1000));
  EXPECT_EQ(r.mac, nullptr);
  EXPECT_EQ(n.full_drops(), 1u);
  for (uint32_t i = 0; i < 16; ++i) EXPECT_NE(n.lookup(wire::Ipv4Addr{0x0a000100 + i}, kT0).mac, nullptr);
}

}  // namespace
}  // namespace linetcp::engine
