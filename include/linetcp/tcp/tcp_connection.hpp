// One TCP connection as a value: the RFC 9293 state machine apart from all I/O. Inputs are
// segments, timer ticks and application calls, each with `now`; outputs are pulled with
// poll_output(). It never reads a clock, never allocates, never sees a frame, and does not know
// its own 4-tuple, so every rule can be tested with virtual time.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>

#include "linetcp/base/time.hpp"
#include "linetcp/tcp/congestion.hpp"
#include "linetcp/tcp/reassembly.hpp"
#include "linetcp/tcp/rtt.hpp"
#include "linetcp/tcp/segment.hpp"
#include "linetcp/tcp/seq_num.hpp"

namespace linetcp::tcp {

enum class State : uint8_t {
  kClosed,
  kListen,
  kSynSent,
  kSynReceived,
  kEstablished,
  kFinWait1,
  kFinWait2,
  kCloseWait,
  kClosing,
  kLastAck,
  kTimeWait,
};
const char* to_string(State s);

enum class CloseReason : uint8_t {
  kNormal,            // both FINs exchanged (or TIME_WAIT reached)
  kReset,             // the peer reset the connection
  kRefused,           // RST in answer to our SYN
  kTimeout,           // R2 reached: retransmissions unanswered (MUST-20)
  kKeepaliveTimeout,  // keep-alive probes unanswered
  kAborted,           // the application aborted
};
const char* to_string(CloseReason r);

// Settings shared by every connection of one listener or client profile.
struct TcpParams {
  uint16_t mss = 1460;  // the MSS we announce: our MTU less 40 (MUST-67)
  uint16_t default_send_mss = 536;  // MUST-15: assumed without an MSS option (IPv6: 1220)
  base::Duration rto_initial = base::Duration::seconds(1);
  base::Duration rto_min = base::Duration::millis(200);
  base::Duration rto_max = base::Duration::seconds(120);
  uint8_t r1_retries = 3;                         // retransmissions before negative advice
  base::Duration r2 = base::Duration::seconds(100);  // give up on an unanswered segment (MUST-20)
  base::Duration r2_syn = base::Duration::seconds(180);  // for SYNs, at least 3 minutes (MUST-23)
  base::Duration delayed_ack = base::Duration::millis(40);  // under 500 ms (MUST-40)
  bool nagle = true;                                         // MUST-17: switchable per connection
  bool keepalive = false;                                    // MUST-25: off by default
  base::Duration keepalive_idle = base::Duration::seconds(7200);  // MUST-28: 2 hours
  base::Duration keepalive_interval = base::Duration::seconds(75);
  uint8_t keepalive_probes = 9;
  CongestionAlgorithm congestion = CongestionAlgorithm::kNewReno;
  uint8_t initial_window_segments = 10;
  uint8_t window_scale = 7;
  bool timestamps = true;
  bool sack = true;
  uint32_t rcv_buffer = 256 * 1024;
  uint16_t max_ooo_chunks = 256;  // out-of-order chunks one connection may hold
  uint8_t challenge_acks_per_second = 10;  // RFC 5961 §7 rate limit, per connection
  // 2*MSL (MUST-13). The engine keeps TIME_WAIT in its own queue; this bounds the fallback.
  base::Duration time_wait = base::Duration::seconds(60);
};

// Counters shared by the connections of one worker; each a named cause.
struct TcpCounters {
  uint64_t segments_in = 0;
  uint64_t segments_out = 0;
  uint64_t data_segments_in = 0;
  uint64_t retransmits = 0;
  uint64_t fast_retransmits = 0;
  uint64_t rto_expirations = 0;
  uint64_t syn_retransmits = 0;
  uint64_t dup_acks = 0;
  uint64_t out_of_order = 0;
  uint64_t ooo_no_buffer = 0;
  uint64_t duplicate_data = 0;
  uint64_t out_of_window = 0;
  uint64_t paws_rejected = 0;
  uint64_t ack_of_unsent = 0;
  uint64_t old_ack = 0;
  uint64_t challenge_acks = 0;
  uint64_t challenge_acks_limited = 0;
  uint64_t resets_in = 0;
  uint64_t resets_ignored = 0;
  uint64_t resets_out = 0;
  uint64_t zero_window_probes = 0;
  uint64_t keepalive_probes = 0;
  uint64_t r1_exceeded = 0;
  uint64_t r2_timeouts = 0;
  uint64_t keepalive_timeouts = 0;
  uint64_t urgent_in = 0;
  uint64_t options_malformed = 0;  // an illegal option length (MUST-7); the segment is still used
  uint64_t quick_acks = 0;  // data ACKed at once that would have waited (TcpContext::quick_ack)
  uint64_t pushed_acks = 0;  // a pushed segment ACKed at once on a one-way connection (see process_text)
};

// What a connection tells its owner. The engine implements it and forwards to the application.
class ConnSink {
 public:
  virtual void on_established() = 0;
  // In-order payload; the span lives only during the call.
  virtual void on_data(std::span<const uint8_t> data) = 0;
  // Urgent data ends at `urgent_end` (receive stream offset of the first non-urgent octet).
  virtual void on_urgent(uint64_t urgent_end) = 0;
  // Bytes of the send stream before `acked_until` are acknowledged and may be forgotten.
  virtual void on_acked(uint64_t acked_until) = 0;
  virtual void on_peer_fin() = 0;
  // The connection is over for the application (closed, reset, timed out, or in TIME_WAIT).
  virtual void on_closed(CloseReason reason) = 0;

 protected:
  ~ConnSink() = default;
};

// Per-worker state a connection borrows on every call.
struct TcpContext {
  ChunkPool& ooo;
  TcpCounters& counters;
  // ACK every data segment at once instead of delaying it. The engine sets it when its full TCP
  // states run short: a pending delayed ACK keeps a connection's state busy (it cannot park) for
  // up to delayed_ack, which with requests spread over many connections starves the pool.
  bool quick_ack = false;
};

// An idle ESTABLISHED connection in compact form (TcpConnection::park): only what the next
// segment or application call needs. Everything else of an idle connection is either implied
// (nothing in flight, nothing queued, no timer running, no out-of-order data) or derived on
// unpark: the low 32 bits of the stream offsets from the sequence numbers, RTO from SRTT and
// RTTVAR, SND.WL2 and the NewReno recovery point from SND.UNA. Holding 10^7 idle connections
// costs this, not the full TCB (about 4.6x smaller).
struct ParkedTcb {
  uint32_t iss, irs;
  uint32_t snd_una, snd_wl1, snd_wnd, max_snd_wnd;
  uint32_t rcv_nxt, rcv_adv, ts_recent;
  uint32_t snd_offset_hi, rcv_offset_hi;  // the stream offsets' upper halves
  uint32_t srtt_ns, rttvar_ns;            // saturated at 4.29 s
  uint32_t cwnd, ssthresh;
  float cubic_w_max;
  uint32_t user_timeout_ms;  // 0: params' R2
  uint32_t last_send_tick;   // ts_clock() of the last segment sent: the idle restart needs it
  uint16_t snd_mss;
  uint8_t snd_wscale, rcv_wscale;
  uint8_t flags;  // kPassive, ...
  uint8_t rto_backoff;  // RTO doublings still in force (a retransmitted SYN leaves one, RFC 6298 5.7)
  uint8_t reserved[2];

  static constexpr uint8_t kPassive = 1, kTimestamps = 2, kSack = 4, kNoDelay = 8, kWindowScale = 16,
                           kRttSample = 32, kInteractive = 64;

  // The application's options, written into the parked form as the full state would take them.
  void set_nodelay(bool on) { flags = static_cast<uint8_t>(on ? flags | kNoDelay : flags & ~kNoDelay); }
  // To the millisecond, rounded up so that a user timeout never shortens; saturated.
  void set_user_timeout(base::Duration d) {
    user_timeout_ms = static_cast<uint32_t>(std::min<int64_t>((d.ns() + 999'999) / 1'000'000, UINT32_MAX));
  }
};
static_assert(sizeof(ParkedTcb) == 80);

class TcpConnection {
 public:
  TcpConnection() = default;

  // --- opening ---
  // Active open: send a SYN with `iss`. (RFC 9293 §3.10.1, OPEN call in CLOSED state.)
  void open_active(const TcpParams& params, SeqNum iss, base::Instant now);
  // Passive open: a SYN reached a listener; answer SYN-ACK from SYN-RECEIVED.
  void open_passive(const TcpParams& params, const SegmentIn& syn, SeqNum iss, base::Instant now);
  // A SYN cookie came back valid: the connection starts ESTABLISHED with what the cookie kept.
  struct CookieState {
    SeqNum iss;  // our ISN (the cookie)
    SeqNum irs;  // the peer's ISN
    uint16_t peer_mss;
    bool window_scale_ok;
    uint8_t peer_window_scale;
    bool sack_ok;
  };
  void open_from_cookie(const TcpParams& params, const CookieState& c, const SegmentIn& ack,
                        base::Instant now, TcpContext& ctx, ConnSink& sink);

  // --- input ---
  void on_segment(const SegmentIn& seg, base::Instant now, TcpContext& ctx, ConnSink& sink);
  void on_timer(base::Instant now, TcpContext& ctx, ConnSink& sink);

  // --- application calls ---
  // `bytes` more of the application's send stream may be sent (it will be asked for them by
  // offset when segments are built).
  void send(uint64_t bytes);
  // Marks everything queued so far as urgent (MUST-30, MUST-31).
  void send_urgent();
  // No more data will be queued: FIN after the last byte (CLOSE call). In SYN-SENT the
  // connection is deleted at once instead (RFC 9293 §3.10.4): closed with kAborted, no segment.
  void close(ConnSink& sink);
  // Reset the connection now (ABORT call); the RST comes out of poll_output().
  void abort(TcpContext& ctx, ConnSink& sink);
  // The application keeps `bytes` of received data for now; the receive window shrinks by it
  // until release(). Lets a slow application (echo with a full ring) exert back-pressure.
  void hold(uint32_t bytes) { rcv_held_ += bytes; }
  void release(uint32_t bytes);
  void set_nodelay(bool on) { nodelay_ = on; }
  void set_keepalive(bool on, base::Instant now);
  // R2 for this connection (the "user timeout", MUST-21).
  void set_user_timeout(base::Duration d) { user_timeout_ = d; }

  // --- parking ---
  // ESTABLISHED and idle: nothing to send, nothing in flight or queued, no timer due (keep-alive
  // off), no received data held or out of order, no urgent data pending, the last ACK sent.
  // Such a connection can be held as a ParkedTcb and brought back with nothing lost.
  bool parkable() const;
  void park(ParkedTcb& p, base::Instant now) const;
  // The connection as it was parked, with `params` (the same it was opened with).
  void unpark(const TcpParams& params, const ParkedTcb& p, base::Instant now);

  // --- output ---
  // Fills `out` with the next segment to send and returns true, or returns false when nothing
  // is due. Call until false.
  bool poll_output(base::Instant now, SegmentOut& out, TcpContext& ctx);
  bool wants_output() const;
  // The earliest instant on_timer() has work to do, or Instant::never().
  base::Instant next_deadline() const;

  // --- inspection ---
  State state() const { return state_; }
  bool is_closed() const { return state_ == State::kClosed; }
  // In TIME_WAIT with nothing left to send: the engine may keep it as a compact record.
  bool time_wait_ready() const { return state_ == State::kTimeWait && !wants_output(); }
  SeqNum snd_una() const { return snd_una_; }
  SeqNum snd_nxt() const { return snd_nxt_; }
  SeqNum snd_max() const { return snd_max_; }
  uint32_t snd_wnd() const { return snd_wnd_; }
  SeqNum rcv_nxt() const { return rcv_nxt_; }
  uint32_t rcv_wnd() const { return static_cast<uint32_t>(rcv_adv_ - rcv_nxt_); }
  SeqNum iss() const { return iss_; }
  SeqNum irs() const { return irs_; }
  uint32_t cwnd() const { return cc_.cwnd(); }
  uint32_t ssthresh() const { return cc_.ssthresh(); }
  uint16_t send_mss() const { return snd_mss_; }
  bool timestamps_on() const { return ts_ok_; }
  bool sack_on() const { return sack_ok_; }
  uint8_t snd_window_shift() const { return snd_wscale_; }
  uint8_t rcv_window_shift() const { return rcv_wscale_; }
  uint32_t ts_recent() const { return ts_recent_; }
  base::Duration rto() const { return rtt_.rto(); }
  const RttEstimator& rtt() const { return rtt_; }
  bool in_recovery() const { return in_recovery_; }
  bool passive() const { return passive_; }
  bool nodelay() const { return nodelay_; }
  bool interactive() const { return interactive_; }
  base::Duration user_timeout() const { return user_timeout_; }
  CloseReason close_reason() const { return close_reason_; }
  uint64_t bytes_acked() const { return snd_una_offset_; }
  uint64_t bytes_received() const { return rcv_offset_; }
  // Send-stream bytes queued by the application and not yet acknowledged.
  uint64_t send_queued() const { return send_limit_ - snd_una_offset_; }
  const TcpParams& params() const { return *params_; }
  // Releases out-of-order chunks; call before the slot is reused.
  void release_resources(TcpContext& ctx) { reasm_.clear(ctx.ooo); }

  // Timestamp clock: ~1 ms ticks (2^20 ns), RFC 7323 §5.4, without a division.
  static uint32_t ts_clock(base::Instant now) { return static_cast<uint32_t>(now.ns() >> 20); }

 private:
  void init_common(const TcpParams& params, SeqNum iss, base::Instant now);
  void negotiate(const wire::TcpOptions& peer);
  void enter_established(base::Instant now, ConnSink& sink);
  void enter_closed(CloseReason reason, ConnSink& sink);
  void enter_time_wait(base::Instant now, ConnSink& sink);

  // RFC 9293 §3.10.7.3 (SYN-SENT) and §3.10.7.4 (the synchronized states).
  void segment_in_syn_sent(const SegmentIn& seg, base::Instant now, TcpContext& ctx, ConnSink& sink);
  bool acceptable(const SegmentIn& seg) const;
  bool process_ack(const SegmentIn& seg, base::Instant now, TcpContext& ctx, ConnSink& sink);
  void process_sack(const SegmentIn& seg);
  void process_urgent(const SegmentIn& seg, TcpContext& ctx, ConnSink& sink);
  void process_text(const SegmentIn& seg, base::Instant now, TcpContext& ctx, ConnSink& sink);
  void process_fin(base::Instant now, ConnSink& sink);
  void challenge_ack(base::Instant now, TcpContext& ctx);
  void update_window(const SegmentIn& seg);

  // Output helpers. segment_options() has no side effects; emit() commits a segment (the ACK
  // it carries, the window it offers).
  wire::TcpOptions segment_options(base::Instant now, uint8_t flags, TcpContext& ctx) const;
  void emit(SegmentOut& out, uint8_t flags, SeqNum seq, const wire::TcpOptions& opts, TcpContext& ctx);
  bool next_data_segment(base::Instant now, SegmentOut& out, TcpContext& ctx);
  void queue_rst(SeqNum seq, TcpContext& ctx);
  uint16_t window_field();
  uint32_t flight_size() const { return static_cast<uint32_t>(snd_max_ - snd_una_); }
  uint32_t pipe() const;
  uint32_t sacked_bytes() const;
  bool is_sacked(SeqNum s, SeqNum* block_end) const;
  SeqNum next_sacked_left(SeqNum s) const;  // left edge of the first SACK block above s
  SeqNum stream_end_seq() const;  // sequence number just past the last queued byte (before FIN)
  uint64_t offset_of(SeqNum s) const { return snd_una_offset_ + static_cast<uint32_t>(s - snd_una_); }
  void arm_rto(base::Instant now);
  void on_rto(base::Instant now, TcpContext& ctx, ConnSink& sink);
  void enter_recovery(base::Instant now, TcpContext& ctx);
  base::Duration r2_limit() const;

  const TcpParams* params_ = nullptr;

  State state_ = State::kClosed;
  bool passive_ = false;          // MUST-11: SYN-RECEIVED remembers where it came from
  bool ack_now_ = false;          // an ACK must go out at the next poll
  bool syn_pending_ = false;      // our SYN (or SYN-ACK) must be (re)sent
  bool fin_queued_ = false;       // application closed: FIN after the last byte
  bool fin_received_ = false;
  bool rst_pending_ = false;
  bool ts_ok_ = false;
  bool sack_ok_ = false;
  bool nodelay_ = false;
  bool keepalive_ = false;
  bool in_recovery_ = false;
  bool rtt_timing_ = false;
  bool probe_pending_ = false;      // zero-window probe due
  bool keepalive_pending_ = false;  // keep-alive probe due
  bool urgent_pending_ = false;
  bool window_update_pending_ = false;
  bool fin_sent_ = false;
  bool ws_ok_ = false;              // both sides sent the window-scale option
  uint8_t snd_wscale_ = 0;  // applied to windows the peer sends
  uint8_t rcv_wscale_ = 0;  // applied to windows we send
  uint8_t unacked_segments_ = 0;
  uint8_t dupacks_ = 0;
  uint8_t retries_ = 0;  // consecutive RTO expirations of the oldest segment
  uint8_t keepalive_sent_ = 0;
  uint8_t challenge_count_ = 0;
  uint8_t sacked_count_ = 0;
  CloseReason close_reason_ = CloseReason::kNormal;
  uint16_t snd_mss_ = 536;  // MUST-15: 536 when the peer sends no MSS

  // Send sequence space (RFC 9293 §3.3.1). snd_max_ is the highest sequence number sent,
  // snd_nxt_ the next to send (they differ after a timeout rewinds snd_nxt_).
  SeqNum iss_, snd_una_, snd_nxt_, snd_max_, snd_wl1_, snd_wl2_, snd_up_;
  uint32_t snd_wnd_ = 0;
  uint32_t max_snd_wnd_ = 0;
  uint64_t snd_una_offset_ = 0;  // send-stream offset of snd_una_ (after the SYN)
  uint64_t send_limit_ = 0;      // send-stream bytes the application has queued
  // Receive sequence space.
  SeqNum irs_, rcv_nxt_, rcv_adv_, rcv_up_;
  uint64_t rcv_offset_ = 0;  // receive-stream offset of rcv_nxt_
  uint32_t rcv_held_ = 0;
  SeqNum last_ooo_seq_;
  // Timestamps (RFC 7323).
  uint32_t ts_recent_ = 0;
  SeqNum last_ack_sent_;
  // Loss recovery (RFC 6582, RFC 6675).
  // rtx_next_: where the next retransmission starts; rtx_limit_: retransmissions start below it.
  SeqNum recover_, rtx_next_, rtx_limit_, high_sacked_;
  SeqNum rst_seq_;  // sequence number of the pending RST
  wire::SackBlock sacked_[4]{};  // what the peer holds above snd_una_, merged, sorted
  SeqNum rtt_seq_;
  base::Instant rtt_start_;
  RttEstimator rtt_;
  CongestionControl cc_;
  Reassembly reasm_;
  // Timers: each an absolute deadline or never().
  base::Instant rto_deadline_ = base::Instant::never();
  base::Instant delack_deadline_ = base::Instant::never();
  base::Instant persist_deadline_ = base::Instant::never();
  base::Instant keepalive_deadline_ = base::Instant::never();
  base::Instant first_rtx_time_ = base::Instant::never();
  base::Instant challenge_window_start_;
  base::Instant last_send_time_;
  base::Duration user_timeout_ = base::Duration::zero();  // zero: use params' R2
  uint8_t persist_backoff_ = 0;
  bool rtx_force_ = false;     // the next recovery retransmission goes out whatever the pipe
  bool fin_ooo_ = false;       // the peer's FIN arrived out of order, at fin_ooo_seq_
  // Our data has been answering the peer's (request/response): a delayed ACK can ride on it.
  // Set when a data segment carries the ACK of received data, cleared when the delayed-ACK timer
  // has to send the ACK alone (Linux's "pingpong" mode).
  bool interactive_ = false;  // (here, in the padding: the hot fields above keep their offsets)
  SeqNum fin_ooo_seq_;
};

}  // namespace linetcp::tcp
