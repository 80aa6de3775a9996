// A network impairment stage for one direction of a port: drops, duplicates, reorders, delays
// (fixed + jitter) and corrupts frames with given probabilities from a seeded PRNG, over opaque
// frame handles, on virtual time. The dpdk worker runs one per direction on mbufs; tests run it
// on anything. Bounded: frames held back live in a fixed-capacity heap ordered by release time.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "linetcp/base/time.hpp"

namespace linetcp::engine {

// What happens to the frames of one direction. Probabilities are 0..1, drawn per frame.
struct ImpairmentProfile {
  double drop = 0;               // the frame vanishes
  double duplicate = 0;          // a second copy follows it (with its own delay)
  double reorder = 0;            // held back `reorder_delay_us` more, so later frames overtake it
  double corrupt = 0;            // one bit of its IPv4 payload (TCP/ICMP) flipped: checksums catch it
  uint32_t delay_us = 0;         // every frame is held this long ...
  uint32_t jitter_us = 0;        // ... plus uniform 0..jitter (frames may overtake each other)
  uint32_t reorder_delay_us = 1000;
  // From this instant of the stage's clock on (the worker's: zero when it started), every frame
  // is dropped: the peer vanishes. never() = no blackout.
  base::Instant blackout = base::Instant::never();

  bool enabled() const {
    return drop > 0 || duplicate > 0 || reorder > 0 || corrupt > 0 || delay_us > 0 || jitter_us > 0 ||
           !blackout.is_never();
  }
};

struct ImpairmentConfig {
  ImpairmentProfile rx;          // applied to frames after they are received
  ImpairmentProfile tx;          // applied to frames before they are sent
  uint64_t seed = 1;             // the same seed and traffic give the same decisions
  uint32_t queue = 1024;         // frames each direction may hold back (delay, reorder)

  bool enabled() const { return rx.enabled() || tx.enabled(); }
};

struct ImpairmentCounters {
  uint64_t frames = 0;           // frames that entered the stage
  uint64_t dropped = 0;
  uint64_t duplicated = 0;       // extra copies made
  uint64_t reordered = 0;
  uint64_t delayed = 0;          // frames held for delay_us/jitter_us
  uint64_t corrupted = 0;        // frames with a flipped bit
  uint64_t queue_full = 0;       // frames that should have been held but passed at once: heap full
  uint64_t no_buffer = 0;        // duplicates not made: no buffer for the copy
};

// Counters of both directions of one port (per worker).
struct ImpairmentStats {
  ImpairmentCounters rx;
  ImpairmentCounters tx;
};

// xoshiro256** (Blackman, Vigna): small, fast, and good enough for coin flips; seeded through
// splitmix64 so that any seed (0 too) gives a usable state.
class Xoshiro256 {
 public:
  explicit Xoshiro256(uint64_t seed);
  uint64_t next();
  // Uniform in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // Uniform in [0, n]; n < 2^32.
  uint64_t upto(uint64_t n) { return n == 0 ? 0 : next() % (n + 1); }

 private:
  uint64_t s_[4];
};

class Impairment {
 public:
  using Frame = void*;

  // `capacity`: how many frames may be held back at once (memory is reserved here, not later).
  Impairment(const ImpairmentProfile& profile, uint64_t seed, uint32_t capacity);

  // Puts one frame through the stage at `now`. Frames that leave at once (0, 1 or 2: dropped,
  // passed, duplicated) are written to `out`; those held back come out of release(). `Ops`
  // gives access to the frames: `std::span<uint8_t> bytes(Frame)`, `Frame clone(Frame)` (null
  // when no buffer is left: counted, not fatal), `void free(Frame)`.
  template <class Ops>
  unsigned admit(Frame frame, base::Instant now, Frame* out, Ops& ops);

  // Frames whose time has come, in release-time order (ties in arrival order), at most `max`.
  unsigned release(base::Instant now, Frame* out, unsigned max);
  // When the next held frame is due (never() when none is held).
  base::Instant next_release() const { return held_.empty() ? base::Instant::never() : held_.front().due; }
  std::size_t held() const { return held_.size(); }
  // Hands every held frame to `free_frame` (at shutdown).
  template <class F>
  void drain(F&& free_frame) {
    for (const Held& h : held_) free_frame(h.frame);
    held_.clear();
  }

  const ImpairmentCounters& counters() const { return counters_; }
  const ImpairmentProfile& profile() const { return profile_; }

  // Flips one bit of the frame's IP payload (past the IPv4 header or IPv6's fixed header, within
  // the packet's length; behind one VLAN tag too): a TCP, UDP, ICMP or ICMPv6 checksum always
  // catches a single flipped bit (RFC 1071), so the receiver counts it and TCP retransmits.
  // Returns false (nothing done) for frames that are not IP, carry no payload, or are IPv6 with
  // an extension header first.
  static bool corrupt_frame(std::span<uint8_t> frame, Xoshiro256& rng);

 private:
  struct Held {
    base::Instant due;
    uint64_t order;  // arrival order among equal release times
    Frame frame;
  };
  // Decides one frame's release time; true when it leaves now.
  bool schedule(Frame frame, base::Instant now, Frame* out, unsigned& n);
  bool coin(double p) { return p > 0 && rng_.uniform() < p; }

  ImpairmentProfile profile_;
  Xoshiro256 rng_;
  uint32_t capacity_;
  std::vector<Held> held_;  // a min-heap by (due, order); reserved to capacity_
  uint64_t order_ = 0;
  ImpairmentCounters counters_;
};

template <class Ops>
unsigned Impairment::admit(Frame frame, base::Instant now, Frame* out, Ops& ops) {
  ++counters_.frames;
  if (coin(profile_.drop) || now >= profile_.blackout) {
    ++counters_.dropped;
    ops.free(frame);
    return 0;
  }
  if (coin(profile_.corrupt) && corrupt_frame(ops.bytes(frame), rng_)) ++counters_.corrupted;
  unsigned n = 0;
  Frame copy = nullptr;
  if (coin(profile_.duplicate)) {
    copy = ops.clone(frame);
    if (copy) ++counters_.duplicated;
    else ++counters_.no_buffer;
  }
  schedule(frame, now, out, n);
  if (copy) schedule(copy, now, out, n);
  return n;
}

}  // namespace linetcp::engine
