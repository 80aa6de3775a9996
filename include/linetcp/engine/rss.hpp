// Receive-side scaling in software: the Toeplitz hash a NIC computes over a received IPv4/TCP
// packet, the symmetric key that makes both directions of a flow hash alike, and the question a
// client asks before it picks a source port: will the reply land on my own queue?
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "linetcp/engine/four_tuple.hpp"

namespace linetcp::engine {

// 0x6d5a repeated: with it, hash(a -> b) == hash(b -> a), so one queue sees both directions.
inline constexpr std::array<uint8_t, 40> kSymmetricRssKey = {
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a};

// Toeplitz hash of `input` under `key` (key.size() >= input.size() + 4), as RSS hardware does.
uint32_t toeplitz_hash(std::span<const uint8_t> key, std::span<const uint8_t> input);

// The hash of a received IPv4/TCP packet: input is source address, destination address, source
// port, destination port, in network order (host-order arguments).
uint32_t rss_hash_ipv4_tcp(std::span<const uint8_t> key, uint32_t src_ip, uint32_t dst_ip,
                           uint16_t src_port, uint16_t dst_port);

// Which queue the port's redirection table sends a hash to.
class RssQueueMap {
 public:
  RssQueueMap(std::vector<uint8_t> key, std::vector<uint16_t> reta) : key_(std::move(key)), reta_(std::move(reta)) {}
  uint16_t queue_of(uint32_t hash) const { return reta_[hash & (reta_.size() - 1)]; }
  // The queue a reply to our connection `t` (remote -> local) arrives on.
  uint16_t reply_queue(const FourTuple& t) const {
    return queue_of(rss_hash_ipv4_tcp(key_, t.remote_ip, t.local_ip, t.remote_port, t.local_port));
  }

 private:
  std::vector<uint8_t> key_;
  std::vector<uint16_t> reta_;  // size: a power of two, as NICs have
};

}  // namespace linetcp::engine
