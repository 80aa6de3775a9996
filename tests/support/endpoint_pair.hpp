// Test harness for whole Endpoints: frame builders and a frame parser for crafting and checking
// exact bytes, a collecting FrameSink, and EndpointPair: a client (10.0.0.2) and a server
// (10.0.0.1) joined by an in-memory link with a virtual clock and seeded faults per direction
// (drop, duplicate, reorder, delay with jitter, corrupt). Byte-verifying test applications:
// StreamApp sends a deterministic stream (byte i = stream_pattern(seed, i)) and checks every byte
// it receives against the peer's stream.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "linetcp/base/time.hpp"
#include "linetcp/engine/app.hpp"
#include "linetcp/engine/endpoint.hpp"
#include "linetcp/wire/ethernet.hpp"
#include "linetcp/wire/ipv4.hpp"
#include "linetcp/wire/tcp_options.hpp"

namespace linetcp::testing {

using base::Duration;
using base::Instant;

inline constexpr wire::MacAddr kServerMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
inline constexpr wire::MacAddr kClientMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};
inline constexpr wire::MacAddr kOtherMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x99}};
inline constexpr wire::Ipv4Addr kServerIp{0x0a000001};  // 10.0.0.1
inline constexpr wire::Ipv4Addr kClientIp{0x0a000002};  // 10.0.0.2

// ---------------------------------------------------------------------------------------------
// Deterministic streams

// Byte `i` of the stream named by `seed`: a SplitMix64 of the 8-byte block, so filling and
// checking cost one hash per 8 bytes.
inline uint64_t stream_block(uint64_t seed, uint64_t block) {
  uint64_t z = seed + block * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
inline uint8_t stream_pattern(uint64_t seed, uint64_t i) {
  return static_cast<uint8_t>(stream_block(seed, i >> 3) >> ((i & 7) * 8));
}
void fill_stream(uint64_t seed, uint64_t offset, std::span<uint8_t> dst);
// Index of the first byte of `data` (at stream `offset`) that differs from the stream, or -1.
int64_t first_stream_mismatch(uint64_t seed, uint64_t offset, std::span<const uint8_t> data);

// ---------------------------------------------------------------------------------------------
// Frames

std::vector<uint8_t> bytes_of(const std::string& s);

struct TcpFrameSpec {
  wire::MacAddr src_mac = kClientMac;
  wire::MacAddr dst_mac = kServerMac;
  wire::Ipv4Addr src_ip = kClientIp;
  wire::Ipv4Addr dst_ip = kServerIp;
  uint16_t src_port = 40000;
  uint16_t dst_port = 80;
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint8_t flags = 0;
  uint16_t window = 65535;
  uint16_t urgent = 0;
  wire::TcpOptions opts;
  std::vector<uint8_t> payload;
  uint16_t ip_frag = 0x4000;  // the flags/fragment-offset field: DF
};
// An Ethernet + IPv4 + TCP frame with correct checksums.
std::vector<uint8_t> make_tcp_frame(const TcpFrameSpec& s);
std::vector<uint8_t> make_arp_frame(uint16_t op, const wire::MacAddr& eth_dst, const wire::MacAddr& sender_mac,
                                    wire::Ipv4Addr sender_ip, const wire::MacAddr& target_mac,
                                    wire::Ipv4Addr target_ip);
// An ICMP message (type, code, rest of header, body) in Ethernet + IPv4, checksums correct.
std::vector<uint8_t> make_icmp_frame(uint8_t type, uint8_t code, uint32_t rest, std::span<const uint8_t> body,
                                     const wire::MacAddr& src_mac = kClientMac, wire::Ipv4Addr src_ip = kClientIp,
                                     const wire::MacAddr& dst_mac = kServerMac, wire::Ipv4Addr dst_ip = kServerIp);
// Recomputes the IPv4 header checksum and the TCP checksum of a frame after a test edited it.
void fix_checksums(std::vector<uint8_t>& frame);

// What a frame the endpoint sent says, parsed strictly (checksums verified).
struct ParsedFrame {
  bool ok = false;  // Ethernet + (ARP | IPv4 with a valid header checksum and a known payload)
  wire::MacAddr eth_dst, eth_src;
  uint16_t ether_type = 0;
  // ARP
  uint16_t arp_op = 0;
  wire::MacAddr arp_sender_mac, arp_target_mac;
  wire::Ipv4Addr arp_sender_ip, arp_target_ip;
  // IPv4
  wire::Ipv4Addr ip_src, ip_dst;
  uint8_t ip_proto = 0;
  uint8_t ttl = 0;
  uint8_t tos = 0;
  // TCP
  bool tcp_checksum_ok = false;
  uint16_t src_port = 0, dst_port = 0;
  uint32_t seq = 0, ack = 0;
  uint8_t flags = 0;
  uint16_t window = 0;
  wire::TcpOptions opts;
  std::vector<uint8_t> payload;  // TCP payload, or the whole ICMP message
};
ParsedFrame parse_frame(std::span<const uint8_t> frame);

// A FrameSink that keeps every frame. `capacity` frames at most until clear() (to test a full
// TX queue).
class FrameCollector final : public engine::FrameSink {
 public:
  explicit FrameCollector(std::size_t capacity = SIZE_MAX) : capacity_(capacity) {}
  std::span<uint8_t> alloc_frame() override;
  void commit_frame(std::size_t len, const engine::TxMeta& meta) override;

  std::vector<std::vector<uint8_t>> frames;
  std::vector<engine::TxMeta> metas;
  void clear() {
    frames.clear();
    metas.clear();
  }
  void set_capacity(std::size_t c) { capacity_ = c; }

 private:
  std::size_t capacity_;
  std::vector<uint8_t> buf_ = std::vector<uint8_t>(kBufBytes);
  static constexpr std::size_t kBufBytes = 9216 + 14;
};

// ---------------------------------------------------------------------------------------------
// The faulty link

struct FrameFaults {
  double drop = 0;       // probability a frame is lost
  double duplicate = 0;  // probability a second copy is delivered as well
  double reorder = 0;    // probability a frame is held back...
  uint32_t reorder_frames = 3;                           // ...until this many later frames went by
  Duration reorder_hold = Duration::millis(2);           // ...or this long, whichever is first
  double corrupt = 0;    // probability one byte after the Ethernet header of an IPv4 frame is flipped
  Duration delay = Duration::micros(50);
  Duration jitter = Duration::zero();  // a uniform extra delay in [0, jitter]
};

struct LinkStats {
  uint64_t sent = 0;        // frames handed to the link
  uint64_t delivered = 0;   // frames handed to the receiver (duplicates included)
  uint64_t dropped = 0;
  uint64_t duplicated = 0;
  uint64_t reordered = 0;
  uint64_t corrupted = 0;   // delivered with one byte flipped
};

// Two directions (0: client -> server, 1: server -> client), each a queue ordered by delivery
// time. Deterministic for a seed.
class FaultyLink {
 public:
  FaultyLink(uint64_t seed, const FrameFaults& dir0, const FrameFaults& dir1);
  void send(int dir, std::span<const uint8_t> frame, Instant now);
  // The earliest instant a frame is due (or a held frame is released); never() when empty.
  Instant next_event() const;
  // Moves the next frame of `dir` due at `now` into `out`; false when none is due.
  bool pop_due(int dir, Instant now, std::vector<uint8_t>& out);
  bool idle() const;
  FrameFaults& faults(int dir) { return dirs_[dir].faults; }
  const LinkStats& stats(int dir) const { return dirs_[dir].stats; }
  void recycle(std::vector<uint8_t>&& buf);

 private:
  struct InFlight {
    Instant at;
    uint64_t order;
    std::vector<uint8_t> bytes;
  };
  struct Held {
    uint32_t frames_left;
    Instant release_at;
    std::vector<uint8_t> bytes;
  };
  struct Direction {
    FrameFaults faults;
    std::vector<InFlight> heap;  // min-heap by (at, order)
    std::vector<Held> held;
    LinkStats stats;
  };
  void enqueue(Direction& d, std::vector<uint8_t>&& bytes, Instant now, bool may_corrupt);
  void release_held(Direction& d, Instant now);
  std::vector<uint8_t> take_buffer(std::span<const uint8_t> bytes);
  double uniform() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_); }

  Direction dirs_[2];
  std::mt19937_64 rng_;
  uint64_t order_ = 0;
  std::vector<std::vector<uint8_t>> pool_;
};

// ---------------------------------------------------------------------------------------------
// Two endpoints on the link

enum class Side : uint8_t { kClient, kServer };

// The configuration EndpointPair gives each side: MAC, address, /24, small tables.
engine::EndpointConfig pair_config(Side side);

struct PairOptions {
  engine::EndpointConfig client = pair_config(Side::kClient);
  engine::EndpointConfig server = pair_config(Side::kServer);
  FrameFaults to_server;
  FrameFaults to_client;
  uint64_t seed = 1;
  Instant start = Instant::from_ns(1'000'000'000);
};

class EndpointPair {
 public:
  explicit EndpointPair(const PairOptions& options = PairOptions());

  engine::Endpoint& client() { return *client_; }
  engine::Endpoint& server() { return *server_; }
  engine::Endpoint& endpoint(Side s) { return s == Side::kClient ? *client_ : *server_; }
  FaultyLink& link() { return link_; }
  Instant now() const { return now_; }

  // Delivers what is due, runs timers and hooks and polls output at now(), until nothing more
  // happens at this instant.
  void pump();
  // Moves virtual time forward event by event (endpoints' deadlines, the link's next delivery,
  // extra_deadline) until pred() holds or `max_virtual` has passed. Returns pred().
  bool run_until(const std::function<bool()>& pred, Duration max_virtual = Duration::seconds(60));
  void run_for(Duration d);

  // Called at the start of every pump and after each of its rounds that moved a frame (a load
  // client's set_time/poll goes here).
  std::function<void(Instant)> on_tick;
  // Another deadline to wake up for (a load client's schedule); <= now() is ignored.
  std::function<Instant()> extra_deadline;
  // Every frame an endpoint sends passes here first: return false to drop it (the test's own
  // loss), or edit it.
  std::function<bool(Side from, std::vector<uint8_t>& frame)> filter;

  uint64_t steps() const { return steps_; }
  // Frames each side sent, when record_frames is set.
  bool record_frames = false;
  std::vector<std::vector<uint8_t>> sent_by_client, sent_by_server;

 private:
  bool drain(Side from);

  std::unique_ptr<engine::Endpoint> client_;
  std::unique_ptr<engine::Endpoint> server_;
  FaultyLink link_;
  FrameCollector collector_;
  Instant now_;
  uint64_t steps_ = 0;
  uint64_t frames_this_instant_ = 0;
  bool stuck_ = false;
  static constexpr uint64_t kMaxFramesPerInstant = 1'000'000;
  std::vector<uint8_t> rx_;
};

// ---------------------------------------------------------------------------------------------
// Byte-verifying applications

// What one side of every connection does.
struct StreamPlan {
  uint64_t send_bytes = 0;          // this side's stream length on each connection
  bool close_after_send = false;    // FIN right after the stream is queued
  bool close_on_peer_fin = true;    // answer the peer's FIN with ours
  uint64_t expect_bytes = 0;        // the peer's stream length (for complete())
};

// Sends stream_pattern(seed, i) and checks every received byte against the peer's stream. The
// seed of a stream is a hash of `salt`, the client's port (so both sides agree on it without
// talking) and the direction.
class StreamApp final : public engine::App {
 public:
  StreamApp(Side side, uint64_t salt, uint32_t max_connections, const StreamPlan& plan);

  void on_open(engine::Endpoint& ep, engine::ConnId id) override;
  void on_data(engine::Endpoint& ep, engine::ConnId id, std::span<const uint8_t> data) override;
  void on_acked(engine::Endpoint& ep, engine::ConnId id, uint64_t acked_until) override;
  void on_peer_closed(engine::Endpoint& ep, engine::ConnId id) override;
  void on_closed(engine::Endpoint& ep, engine::ConnId id, tcp::CloseReason reason) override;
  void fill_payload(engine::Endpoint& ep, engine::ConnId id, uint64_t offset, std::span<uint8_t> dst) override;

  static uint64_t stream_seed(uint64_t salt, uint16_t client_port, Side sender);
  StreamPlan& plan() { return plan_; }

  struct Totals {
    uint64_t opened = 0;
    uint64_t closed = 0;
    uint64_t closed_normal = 0;
    uint64_t closed_other = 0;  // reset, refused, timeout, aborted
    uint64_t peer_fins = 0;
    uint64_t bytes_received = 0;  // verified or not
    uint64_t mismatches = 0;      // segments of bytes that differed from the peer's stream
    uint64_t complete = 0;        // closed normally having received exactly expect_bytes
    uint64_t fill_calls = 0;
    uint64_t max_acked = 0;
  };
  const Totals& totals() const { return totals_; }
  uint64_t received(engine::ConnId id) const { return conns_[id].received; }
  bool open(engine::ConnId id) const { return conns_[id].open; }
  std::vector<tcp::CloseReason> close_reasons;

 private:
  struct Conn {
    bool open = false;
    bool fin_sent = false;
    uint16_t client_port = 0;
    uint64_t received = 0;
    uint64_t acked = 0;
  };
  Side side_;
  uint64_t salt_;
  StreamPlan plan_;
  std::vector<Conn> conns_;
  Totals totals_;
};

}  // namespace linetcp::testing
