// The RFC 9293 state machine: opening, segment arrival (§3.10.7, in the RFC's order of steps),
// timers, and segment output with retransmission, loss recovery and flow control.
#include "linetcp/tcp/tcp_connection.hpp"

#include <algorithm>
#include <cassert>

namespace linetcp::tcp {

using base::Duration;
using base::Instant;

const char* to_string(State s) {
  switch (s) {
    case State::kClosed: return "CLOSED";
    case State::kListen: return "LISTEN";
    case State::kSynSent: return "SYN-SENT";
    case State::kSynReceived: return "SYN-RECEIVED";
    case State::kEstablished: return "ESTABLISHED";
    case State::kFinWait1: return "FIN-WAIT-1";
    case State::kFinWait2: return "FIN-WAIT-2";
    case State::kCloseWait: return "CLOSE-WAIT";
    case State::kClosing: return "CLOSING";
    case State::kLastAck: return "LAST-ACK";
    case State::kTimeWait: return "TIME-WAIT";
  }
  return "?";
}

const char* to_string(CloseReason r) {
  switch (r) {
    case CloseReason::kNormal: return "normal";
    case CloseReason::kReset: return "reset";
    case CloseReason::kRefused: return "refused";
    case CloseReason::kTimeout: return "timeout";
    case CloseReason::kKeepaliveTimeout: return "keepalive-timeout";
    case CloseReason::kAborted: return "aborted";
  }
  return "?";
}

namespace {
constexpr uint32_t kDupThresh = 3;  // RFC 5681 / RFC 6675 DupThresh
constexpr Duration kMaxPersist = Duration::seconds(60);

bool synchronized(State s) {
  return s == State::kEstablished || s == State::kFinWait1 || s == State::kFinWait2 ||
         s == State::kCloseWait || s == State::kClosing || s == State::kLastAck ||
         s == State::kTimeWait;
}
bool may_send_data(State s) {
  return s == State::kEstablished || s == State::kCloseWait || s == State::kFinWait1 ||
         s == State::kLastAck || s == State::kClosing;
}
}  // namespace

// ---------------------------------------------------------------------------------------------
// Opening

void TcpConnection::init_common(const TcpParams& params, SeqNum iss, Instant now) {
  *this = TcpConnection();
  params_ = &params;
  // Every send-side sequence variable starts at the ISN: a default of 0 would compare as
  // "ahead" of an ISN in the upper half of the space.
  iss_ = snd_una_ = snd_nxt_ = snd_max_ = snd_up_ = recover_ = iss;
  rtx_next_ = rtx_limit_ = high_sacked_ = rtt_seq_ = snd_wl2_ = iss;
  rtt_ = RttEstimator(params.rto_initial, params.rto_min, params.rto_max);
  nodelay_ = !params.nagle;
  keepalive_ = params.keepalive;
  challenge_window_start_ = now;
  last_send_time_ = now;
}

void TcpConnection::open_active(const TcpParams& params, SeqNum iss, Instant now) {
  init_common(params, iss, now);
  state_ = State::kSynSent;
  syn_pending_ = true;
}

void TcpConnection::open_passive(const TcpParams& params, const SegmentIn& syn, SeqNum iss,
                                 Instant now) {
  init_common(params, iss, now);
  passive_ = true;
  state_ = State::kSynReceived;
  irs_ = syn.seq;
  rcv_nxt_ = rcv_up_ = last_ack_sent_ = irs_ + 1;
  negotiate(syn.opts);
  if (ts_ok_) ts_recent_ = syn.opts.ts_val;
  snd_wnd_ = syn.window;  // a SYN's window is never scaled (RFC 7323 §2.2)
  max_snd_wnd_ = snd_wnd_;
  snd_wl1_ = syn.seq;
  snd_wl2_ = iss;
  // The SYN-ACK offers an unscaled window (RFC 7323 §2.2); segments are checked against it.
  rcv_adv_ = rcv_nxt_ + std::min<uint32_t>(params.rcv_buffer, 65535u);
  syn_pending_ = true;
}

void TcpConnection::open_from_cookie(const TcpParams& params, const CookieState& c,
                                     const SegmentIn& ack, Instant now, TcpContext& ctx,
                                     ConnSink& sink) {
  init_common(params, c.iss, now);
  passive_ = true;
  irs_ = c.irs;
  rcv_nxt_ = rcv_up_ = last_ack_sent_ = irs_ + 1;
  snd_nxt_ = snd_max_ = iss_ + 1;
  snd_mss_ = std::min(c.peer_mss, params.mss);
  ws_ok_ = c.window_scale_ok;
  if (c.window_scale_ok) {
    snd_wscale_ = std::min<uint8_t>(c.peer_window_scale, 14);
    rcv_wscale_ = params.window_scale;
  }
  sack_ok_ = c.sack_ok && params.sack;
  // The cookie cannot carry timestamps; the returning ACK shows whether the peer uses them.
  ts_ok_ = params.timestamps && ack.opts.has_timestamps;
  if (ts_ok_) ts_recent_ = ack.opts.ts_val;
  rcv_adv_ = rcv_nxt_ + std::min<uint32_t>(params.rcv_buffer, 65535u << rcv_wscale_);
  state_ = State::kSynReceived;
  on_segment(ack, now, ctx, sink);
}

void TcpConnection::negotiate(const wire::TcpOptions& peer) {
  const TcpParams& p = *params_;
  // MUST-14/15/16: the peer's MSS, or 536 (IPv6: 1220) when it sends none; never above our own.
  snd_mss_ = static_cast<uint16_t>(std::min<uint32_t>(peer.has_mss ? peer.mss : p.default_send_mss, p.mss));
  if (snd_mss_ < 64) snd_mss_ = 64;  // a silly MSS would stall us; 64 keeps progress possible
  ws_ok_ = peer.has_window_scale;
  if (peer.has_window_scale) {
    snd_wscale_ = std::min<uint8_t>(peer.window_scale, 14);  // RFC 7323 §2.3: clamp to 14
    rcv_wscale_ = p.window_scale;
  } else {
    snd_wscale_ = rcv_wscale_ = 0;
  }
  ts_ok_ = p.timestamps && peer.has_timestamps;
  sack_ok_ = p.sack && peer.sack_permitted;
}

void TcpConnection::enter_established(Instant now, ConnSink& sink) {
  state_ = State::kEstablished;
  const uint32_t data_mss = snd_mss_ - (ts_ok_ ? 12u : 0u);
  cc_.init(params_->congestion, data_mss, params_->initial_window_segments);
  if (keepalive_) keepalive_deadline_ = now + params_->keepalive_idle;
  if (fin_queued_) state_ = State::kFinWait1;  // CLOSE was called during the handshake
  sink.on_established();
}

void TcpConnection::enter_closed(CloseReason reason, ConnSink& sink) {
  const bool was_time_wait = state_ == State::kTimeWait;
  state_ = State::kClosed;
  close_reason_ = reason;
  rto_deadline_ = delack_deadline_ = persist_deadline_ = keepalive_deadline_ = Instant::never();
  ack_now_ = syn_pending_ = probe_pending_ = keepalive_pending_ = false;
  if (!was_time_wait) sink.on_closed(reason);  // TIME_WAIT already told the application
}

void TcpConnection::enter_time_wait(Instant now, ConnSink& sink) {
  state_ = State::kTimeWait;
  delack_deadline_ = persist_deadline_ = keepalive_deadline_ = Instant::never();
  // The engine normally moves a TIME_WAIT connection to its compact queue; if it cannot, this
  // timer ends it after 2*MSL (MUST-13).
  rto_deadline_ = now + params_->time_wait;
  sink.on_closed(CloseReason::kNormal);
}

// ---------------------------------------------------------------------------------------------
// Application calls

void TcpConnection::send(uint64_t bytes) {
  if (fin_queued_) return;  // nothing may follow the FIN
  send_limit_ += bytes;
}

void TcpConnection::send_urgent() {
  snd_up_ = stream_end_seq();
  urgent_pending_ = true;
}

void TcpConnection::close(ConnSink& sink) {
  switch (state_) {
    case State::kSynSent:
      // RFC 9293 §3.10.4: "Delete the TCB": nothing was agreed yet, so no FIN. A SYN-ACK still
      // on its way finds no connection and is answered with a RST, as Linux does.
      enter_closed(CloseReason::kAborted, sink);
      break;
    case State::kSynReceived:
    case State::kEstablished:
      fin_queued_ = true;
      if (state_ == State::kEstablished) state_ = State::kFinWait1;
      break;
    case State::kCloseWait:
      fin_queued_ = true;
      state_ = State::kLastAck;
      break;
    default:
      break;  // already closing: RFC 9293 "error: connection closing"
  }
}

void TcpConnection::abort(TcpContext& ctx, ConnSink& sink) {
  // RFC 9293 §3.10.5: a RST goes out from the synchronized states and SYN-RECEIVED.
  if (state_ == State::kSynReceived || state_ == State::kEstablished ||
      state_ == State::kFinWait1 || state_ == State::kFinWait2 || state_ == State::kCloseWait) {
    queue_rst(snd_max_, ctx);
  }
  if (state_ != State::kClosed) enter_closed(CloseReason::kAborted, sink);
}

void TcpConnection::release(uint32_t bytes) {
  rcv_held_ -= std::min(bytes, rcv_held_);
  if (!synchronized(state_)) return;
  // A window that was (nearly) closed and can now open by enough to pass receiver SWS avoidance
  // (MUST-39) deserves an update of its own, or the peer waits for its persist timer.
  const TcpParams& p = *params_;
  const uint32_t threshold = std::min<uint32_t>(p.rcv_buffer / 2, p.mss);
  const SeqNum wanted = rcv_nxt_ + (p.rcv_buffer > rcv_held_ ? p.rcv_buffer - rcv_held_ : 0);
  // Likewise when the window would at least double (as Linux does), so a peer held to a small
  // window learns of the space soon.
  if (wanted > rcv_adv_ && static_cast<uint32_t>(wanted - rcv_adv_) >= threshold &&
      (rcv_wnd() < threshold || static_cast<uint32_t>(wanted - rcv_nxt_) >= 2 * rcv_wnd()))
    window_update_pending_ = true;
}

void TcpConnection::set_keepalive(bool on, Instant now) {
  keepalive_ = on;
  keepalive_sent_ = 0;
  keepalive_deadline_ = on && synchronized(state_) ? now + params_->keepalive_idle : Instant::never();
}

// ---------------------------------------------------------------------------------------------
// Parking

bool TcpConnection::parkable() const {
  return state_ == State::kEstablished && snd_una_ == snd_max_ && snd_nxt_ == snd_max_ &&
         send_limit_ == snd_una_offset_ && rcv_held_ == 0 && last_ack_sent_ == rcv_nxt_ &&
         unacked_segments_ == 0 && sacked_count_ == 0 && reasm_.empty() && rcv_up_ <= rcv_nxt_ &&
         !(ack_now_ || syn_pending_ || fin_queued_ || fin_received_ || rst_pending_ || keepalive_ ||
           in_recovery_ || rtt_timing_ || probe_pending_ || keepalive_pending_ || urgent_pending_ ||
           window_update_pending_ || rtx_force_ || fin_ooo_) &&
         rto_deadline_.is_never() && delack_deadline_.is_never() && persist_deadline_.is_never() &&
         first_rtx_time_.is_never() &&
         user_timeout_.ns() <= int64_t{UINT32_MAX} * 1'000'000;
}

void TcpConnection::park(ParkedTcb& p, Instant now) const {
  assert(parkable());
  assert(static_cast<uint32_t>(snd_una_.raw() - iss_.raw() - 1u) == static_cast<uint32_t>(snd_una_offset_));
  assert(static_cast<uint32_t>(rcv_nxt_.raw() - irs_.raw() - 1u) == static_cast<uint32_t>(rcv_offset_));
  auto saturated_ns = [](Duration d) {
    return static_cast<uint32_t>(std::min<int64_t>(std::max<int64_t>(d.ns(), 0), UINT32_MAX));
  };
  p.iss = iss_.raw();
  p.irs = irs_.raw();
  p.snd_una = snd_una_.raw();
  p.snd_wl1 = snd_wl1_.raw();
  p.snd_wnd = snd_wnd_;
  p.max_snd_wnd = max_snd_wnd_;
  p.rcv_nxt = rcv_nxt_.raw();
  p.rcv_adv = rcv_adv_.raw();
  p.ts_recent = ts_recent_;
  p.snd_offset_hi = static_cast<uint32_t>(snd_una_offset_ >> 32);
  p.rcv_offset_hi = static_cast<uint32_t>(rcv_offset_ >> 32);
  p.srtt_ns = saturated_ns(rtt_.srtt());
  p.rttvar_ns = saturated_ns(rtt_.rttvar());
  p.cwnd = cc_.cwnd();
  p.ssthresh = cc_.ssthresh();
  p.cubic_w_max = cc_.cubic_w_max();
  p.set_user_timeout(user_timeout_);
  p.last_send_tick = ts_clock(last_send_time_ < now ? last_send_time_ : now);
  p.snd_mss = snd_mss_;
  p.snd_wscale = snd_wscale_;
  p.rcv_wscale = rcv_wscale_;
  p.flags = static_cast<uint8_t>((passive_ ? ParkedTcb::kPassive : 0) | (ts_ok_ ? ParkedTcb::kTimestamps : 0) |
                                 (sack_ok_ ? ParkedTcb::kSack : 0) | (nodelay_ ? ParkedTcb::kNoDelay : 0) |
                                 (ws_ok_ ? ParkedTcb::kWindowScale : 0) |
                                 (rtt_.has_sample() ? ParkedTcb::kRttSample : 0) |
                                 (interactive_ ? ParkedTcb::kInteractive : 0));
  p.rto_backoff = rtt_.backoff();
  p.reserved[0] = p.reserved[1] = 0;
}

void TcpConnection::unpark(const TcpParams& params, const ParkedTcb& p, Instant now) {
  init_common(params, SeqNum(p.iss), now);
  state_ = State::kEstablished;
  passive_ = (p.flags & ParkedTcb::kPassive) != 0;
  ts_ok_ = (p.flags & ParkedTcb::kTimestamps) != 0;
  sack_ok_ = (p.flags & ParkedTcb::kSack) != 0;
  nodelay_ = (p.flags & ParkedTcb::kNoDelay) != 0;
  ws_ok_ = (p.flags & ParkedTcb::kWindowScale) != 0;
  interactive_ = (p.flags & ParkedTcb::kInteractive) != 0;
  keepalive_ = false;  // parkable() wants it off
  snd_mss_ = p.snd_mss;
  snd_wscale_ = p.snd_wscale;
  rcv_wscale_ = p.rcv_wscale;
  // Nothing was in flight: every send-side mark is SND.UNA. SND.WL2 <= SND.UNA was the only
  // constraint on it, and update_window() ignores ACKs below SND.UNA, so SND.UNA serves. The
  // NewReno recovery point was at or below SND.UNA; SND.UNA keeps every test on it the same.
  snd_una_ = snd_nxt_ = snd_max_ = snd_up_ = recover_ = SeqNum(p.snd_una);
  rtx_next_ = rtx_limit_ = high_sacked_ = rtt_seq_ = snd_wl2_ = snd_una_;
  snd_wl1_ = SeqNum(p.snd_wl1);
  snd_wnd_ = p.snd_wnd;
  max_snd_wnd_ = p.max_snd_wnd;
  // SND.UNA = ISS + 1 + offset and RCV.NXT = IRS + 1 + offset (mod 2^32) until a FIN: the low
  // halves of the offsets follow from the sequence numbers.
  snd_una_offset_ = uint64_t{p.snd_offset_hi} << 32 | static_cast<uint32_t>(p.snd_una - p.iss - 1u);
  send_limit_ = snd_una_offset_;
  irs_ = SeqNum(p.irs);
  rcv_nxt_ = rcv_up_ = last_ack_sent_ = SeqNum(p.rcv_nxt);
  rcv_offset_ = uint64_t{p.rcv_offset_hi} << 32 | static_cast<uint32_t>(p.rcv_nxt - p.irs - 1u);
  rcv_adv_ = SeqNum(p.rcv_adv);
  ts_recent_ = p.ts_recent;
  rtt_.restore((p.flags & ParkedTcb::kRttSample) != 0, Duration::nanos(p.srtt_ns), Duration::nanos(p.rttvar_ns),
               p.rto_backoff);
  const uint32_t data_mss = snd_mss_ - (ts_ok_ ? 12u : 0u);
  cc_.restore(params.congestion, data_mss, p.cwnd, p.ssthresh, p.cubic_w_max);
  user_timeout_ = Duration::millis(p.user_timeout_ms);
  // The last send, to the timestamp clock's millisecond: enough for the idle restart (> RTO).
  last_send_time_ = now - Duration::nanos(int64_t{static_cast<uint32_t>(ts_clock(now) - p.last_send_tick)} << 20);
}

// ---------------------------------------------------------------------------------------------
// Segment arrives

void TcpConnection::on_segment(const SegmentIn& seg, Instant now, TcpContext& ctx, ConnSink& sink) {
  ++ctx.counters.segments_in;
  // MUST-7: an illegal option length stopped the wire parser; what it parsed before is used
  // and the rest is ignored (the segment itself is still good).
  if (seg.options_malformed) ++ctx.counters.options_malformed;
  switch (state_) {
    case State::kClosed:
    case State::kListen:
      return;  // the engine answers these; a connection object never sees them
    case State::kSynSent:
      segment_in_syn_sent(seg, now, ctx, sink);
      return;
    default:
      break;
  }

  // A retransmitted SYN in SYN-RECEIVED: answer it with our SYN-ACK again.
  if (state_ == State::kSynReceived && seg.has(kTcpSyn) && !seg.has(kTcpAck) && seg.seq == irs_) {
    syn_pending_ = true;
    return;
  }
  // Simultaneous open (RFC 9293 §3.5 figure 7, line 6): the peer's SYN-ACK repeats its SYN and
  // acknowledges ours. Its SYN is old news; its ACK completes the handshake (MUST-10).
  if (state_ == State::kSynReceived && !passive_ && seg.has(kTcpSyn) && seg.has(kTcpAck) &&
      seg.seq == irs_ && seg.ack == snd_max_) {
    SegmentIn rest = seg;
    rest.flags = static_cast<uint8_t>(rest.flags & ~kTcpSyn);
    rest.seq = irs_ + 1;
    rest.window = 0;
    on_segment(rest, now, ctx, sink);
    --ctx.counters.segments_in;
    if (state_ != State::kClosed && snd_wl2_ == seg.ack) {
      snd_wnd_ = seg.window;  // a SYN's window is never scaled
      max_snd_wnd_ = std::max(max_snd_wnd_, snd_wnd_);
    }
    return;
  }

  // PAWS (RFC 7323 §5.3): a segment older than TS.Recent is a duplicate from an old wrap.
  if (ts_ok_ && seg.opts.has_timestamps && !seg.has(kTcpRst) &&
      static_cast<int32_t>(seg.opts.ts_val - ts_recent_) < 0) {
    ++ctx.counters.paws_rejected;
    ack_now_ = true;
    return;
  }

  // First: check the sequence number.
  if (!acceptable(seg)) {
    if (seg.has(kTcpRst)) {
      ++ctx.counters.resets_ignored;
      return;
    }
    ++ctx.counters.out_of_window;
    if (state_ == State::kTimeWait && seg.has(kTcpFin)) rto_deadline_ = now + params_->time_wait;
    ack_now_ = true;  // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>
    return;
  }
  if (keepalive_) {
    keepalive_sent_ = 0;
    keepalive_deadline_ = now + params_->keepalive_idle;
  }
  // RFC 7323 §4.3 (as updated): remember the newest timestamp of a segment that covers the
  // byte we last acknowledged.
  if (ts_ok_ && seg.opts.has_timestamps && seg.seq <= last_ack_sent_ &&
      static_cast<int32_t>(seg.opts.ts_val - ts_recent_) >= 0)
    ts_recent_ = seg.opts.ts_val;

  // Second: the RST bit (RFC 5961 §3.2: exact match resets, anything else in window is
  // answered with a challenge ACK).
  if (seg.has(kTcpRst)) {
    ++ctx.counters.resets_in;
    if (state_ == State::kTimeWait) {  // RFC 1337: no TIME_WAIT assassination
      ++ctx.counters.resets_ignored;
      return;
    }
    if (seg.seq != rcv_nxt_) {
      challenge_ack(now, ctx);
      return;
    }
    if (state_ == State::kSynReceived) {
      // MUST-11: a passive open returns to LISTEN (the engine frees it quietly); an active one
      // (simultaneous open) was refused.
      enter_closed(passive_ ? CloseReason::kReset : CloseReason::kRefused, sink);
      return;
    }
    enter_closed(CloseReason::kReset, sink);
    return;
  }

  // Fourth: a SYN in a synchronized state (RFC 5961 §4: challenge ACK, drop).
  if (seg.has(kTcpSyn)) {
    if (state_ == State::kSynReceived && passive_) {
      enter_closed(CloseReason::kReset, sink);  // RFC 9293: back to LISTEN
      return;
    }
    challenge_ack(now, ctx);
    return;
  }

  // Fifth: the ACK field. Without it the segment is dropped.
  if (!seg.has(kTcpAck)) return;
  if (state_ == State::kSynReceived) {
    if (!(snd_una_ < seg.ack && seg.ack <= snd_max_)) {
      // <SEQ=SEG.ACK><CTL=RST> for an unacceptable ACK; the connection stays.
      queue_rst(seg.ack, ctx);
      return;
    }
    snd_wnd_ = static_cast<uint32_t>(seg.window) << snd_wscale_;
    max_snd_wnd_ = std::max(max_snd_wnd_, snd_wnd_);
    snd_wl1_ = seg.seq;
    snd_wl2_ = seg.ack;
    if (rtt_timing_ && seg.ack > rtt_seq_) {
      rtt_.sample(now - rtt_start_);
      rtt_timing_ = false;
    }
    snd_una_ = seg.ack;  // == iss + 1
    snd_una_offset_ = 0;
    rto_deadline_ = Instant::never();
    retries_ = 0;
    first_rtx_time_ = Instant::never();
    enter_established(now, sink);
    if (state_ == State::kClosed) return;  // the application aborted from its callback
  } else {
    if (!process_ack(seg, now, ctx, sink)) return;
    if (state_ == State::kClosed || state_ == State::kTimeWait) {
      if (state_ == State::kTimeWait && seg.has(kTcpFin)) {
        // A FIN retransmitted into TIME-WAIT: acknowledge it, restart 2*MSL.
        ack_now_ = true;
        rto_deadline_ = now + params_->time_wait;
      }
      return;
    }
  }

  // Sixth: the URG bit.
  if (seg.has(kTcpUrg)) process_urgent(seg, ctx, sink);

  // Seventh: segment text.
  if (!seg.payload.empty()) {
    if (state_ == State::kEstablished || state_ == State::kFinWait1 || state_ == State::kFinWait2) {
      process_text(seg, now, ctx, sink);
      if (state_ == State::kClosed) return;
    } else {
      ack_now_ = true;  // data after the peer's FIN: ignore it (RFC 9293 seventh step)
    }
  }

  // Eighth: the FIN bit, processed only when it is the next thing in sequence. A FIN that came
  // ahead of a hole is remembered and takes effect once the hole is filled.
  if (seg.has(kTcpFin) && !fin_received_) {
    const SeqNum fin_seq = seg.seq + static_cast<uint32_t>(seg.payload.size());
    if (fin_seq > rcv_nxt_ && fin_seq <= rcv_adv_) {
      fin_ooo_ = true;
      fin_ooo_seq_ = fin_seq;
    }
    ack_now_ = true;
  }
  if (!fin_received_ && fin_ooo_ && fin_ooo_seq_ == rcv_nxt_) {
    process_fin(now, sink);
  } else if (seg.has(kTcpFin) && !fin_received_ &&
             seg.seq + static_cast<uint32_t>(seg.payload.size()) == rcv_nxt_) {
    process_fin(now, sink);
  }
}

bool TcpConnection::acceptable(const SegmentIn& seg) const {
  // RFC 9293 §3.10.7.4 table. A zero window still accepts a segment at RCV.NXT so that its
  // ACK, URG and RST are processed (MUST-66); its text is trimmed away later.
  const uint32_t wnd = rcv_wnd();
  const uint32_t len = seg.seg_len();
  if (len == 0) return wnd == 0 ? seg.seq == rcv_nxt_ : seq_in(seg.seq, rcv_nxt_, rcv_nxt_ + wnd);
  if (wnd == 0) return seg.seq == rcv_nxt_;
  return seq_in(seg.seq, rcv_nxt_, rcv_nxt_ + wnd) || seq_in(seg.seq + (len - 1), rcv_nxt_, rcv_nxt_ + wnd);
}

void TcpConnection::segment_in_syn_sent(const SegmentIn& seg, Instant now, TcpContext& ctx,
                                        ConnSink& sink) {
  const bool ack_ok = seg.has(kTcpAck) && snd_una_ < seg.ack && seg.ack <= snd_max_;
  if (seg.has(kTcpAck) && !ack_ok) {
    if (!seg.has(kTcpRst)) {  // <SEQ=SEG.ACK><CTL=RST>
      queue_rst(seg.ack, ctx);
    }
    return;
  }
  if (seg.has(kTcpRst)) {
    ++ctx.counters.resets_in;
    if (ack_ok) enter_closed(CloseReason::kRefused, sink);
    return;
  }
  if (!seg.has(kTcpSyn)) return;

  irs_ = seg.seq;
  rcv_nxt_ = rcv_up_ = last_ack_sent_ = irs_ + 1;
  negotiate(seg.opts);
  if (ts_ok_) ts_recent_ = seg.opts.ts_val;
  snd_wnd_ = seg.window;  // unscaled in a SYN
  max_snd_wnd_ = snd_wnd_;
  snd_wl1_ = seg.seq;
  snd_wl2_ = seg.ack;
  rcv_adv_ = rcv_nxt_ + std::min<uint32_t>(params_->rcv_buffer, 65535u);
  if (ack_ok) {
    if (rtt_timing_) {
      rtt_.sample(now - rtt_start_);
      rtt_timing_ = false;
    }
    snd_una_ = seg.ack;
    snd_una_offset_ = 0;
    rto_deadline_ = Instant::never();
    retries_ = 0;
    first_rtx_time_ = Instant::never();
    ack_now_ = true;
    enter_established(now, sink);
    if (state_ == State::kClosed) return;
    // RFC 9293 §3.10.7.3: "continue processing at the sixth step": text and FIN that came with
    // the SYN-ACK.
    if (!seg.payload.empty() || seg.has(kTcpFin)) {
      SegmentIn rest = seg;
      rest.flags = static_cast<uint8_t>(rest.flags & ~kTcpSyn);
      rest.seq = seg.seq + 1;
      if (!rest.payload.empty()) process_text(rest, now, ctx, sink);
      if (state_ == State::kClosed) return;
      if (rest.has(kTcpFin) && rest.seq + static_cast<uint32_t>(rest.payload.size()) == rcv_nxt_)
        process_fin(now, sink);
    }
  } else {
    // Simultaneous open (MUST-10): SYN-RECEIVED, answer with SYN-ACK on our own ISN.
    state_ = State::kSynReceived;
    syn_pending_ = true;
  }
}

bool TcpConnection::process_ack(const SegmentIn& seg, Instant now, TcpContext& ctx, ConnSink& sink) {
  if (seg.ack > snd_max_) {  // acknowledges something not yet sent
    ++ctx.counters.ack_of_unsent;
    ack_now_ = true;
    return false;
  }
  // RFC 5961 §5.2: ACKs older than the largest window the peer has offered are blind guesses.
  if (seg.ack < snd_una_ - std::max(max_snd_wnd_, 1u)) {
    ++ctx.counters.old_ack;
    ack_now_ = true;
    return false;
  }
  if (sack_ok_ && seg.opts.sack_count) process_sack(seg);

  const uint32_t old_wnd = snd_wnd_;
  update_window(seg);

  if (seg.ack <= snd_una_) {
    // RFC 5681 duplicate ACK: nothing new, no data, same window, data outstanding.
    const bool dup = seg.ack == snd_una_ && seg.payload.empty() && !seg.has(kTcpFin) &&
                     snd_wnd_ == old_wnd && snd_wnd_ != 0 && snd_max_ > snd_una_;
    if (dup) {
      ++ctx.counters.dup_acks;
      if (dupacks_ < 255) ++dupacks_;
      // RFC 6675 IsLost(): more than (DupThresh - 1) * SMSS SACKed above snd_una.
      const bool sack_loss = sack_ok_ && sacked_bytes() > (kDupThresh - 1) * snd_mss_;
      if (!in_recovery_ && (dupacks_ >= kDupThresh || sack_loss) && snd_una_ >= recover_)
        enter_recovery(now, ctx);
      else if (in_recovery_ && sack_ok_)
        rtx_limit_ = seq_max(rtx_limit_, high_sacked_);
    }
    return true;
  }

  // New data acknowledged.
  const uint32_t acked = static_cast<uint32_t>(seg.ack - snd_una_);
  const SeqNum data_end = stream_end_seq();
  const bool fin_acked = fin_sent_ && seg.ack == data_end + 1;
  snd_una_offset_ += static_cast<uint32_t>(seq_min(seg.ack, data_end) - snd_una_);
  snd_una_ = seg.ack;
  if (snd_nxt_ < snd_una_) snd_nxt_ = snd_una_;
  dupacks_ = 0;
  retries_ = 0;
  first_rtx_time_ = Instant::never();
  rtt_.reset_backoff();
  // Karn (MUST-18): only segments never retransmitted are timed (timing stops on retransmit).
  if (rtt_timing_ && seg.ack > rtt_seq_) {
    rtt_.sample(now - rtt_start_);
    rtt_timing_ = false;
  }
  // Forget SACK blocks at or below the new snd_una.
  uint8_t kept = 0;
  for (uint8_t i = 0; i < sacked_count_; ++i) {
    if (SeqNum(sacked_[i].right) <= snd_una_) continue;
    sacked_[kept] = sacked_[i];
    if (SeqNum(sacked_[kept].left) < snd_una_) sacked_[kept].left = snd_una_.raw();
    ++kept;
  }
  sacked_count_ = kept;
  if (high_sacked_ < snd_una_) high_sacked_ = snd_una_;

  if (in_recovery_) {
    if (seg.ack >= recover_) {
      in_recovery_ = false;
      cc_.on_recovery_exit(flight_size());
    } else {
      // Partial ACK (RFC 6582 §3.2 step 4): the next hole is lost too.
      if (rtx_next_ < snd_una_) rtx_next_ = snd_una_;
      rtx_limit_ = sack_ok_ ? seq_max(high_sacked_, snd_una_ + 1u) : snd_una_ + 1u;
      if (!sack_ok_) {  // NewReno: resend the first unacknowledged segment now
        rtx_next_ = snd_una_;
        rtx_force_ = true;
      }
    }
  } else if (2 * (uint64_t{flight_size()} + acked) >= cc_.cwnd()) {
    // The window grows only while it is what limits the sender: at least half of it was in
    // flight (Linux's tcp_is_cwnd_limited in slow start, RFC 7661's aim). A sender held back by
    // the receiver's window or by its application would otherwise grow it without bound and
    // later burst all of it at once.
    cc_.on_ack(acked, now, rtt_.srtt());
  }
  if (urgent_pending_ && snd_una_ >= snd_up_) urgent_pending_ = false;

  // RFC 6298 (5.2)/(5.3): stop the timer when all is acknowledged, else restart it.
  if (snd_una_ == snd_max_) rto_deadline_ = Instant::never();
  else arm_rto(now);

  sink.on_acked(snd_una_offset_);
  if (state_ == State::kClosed) return false;

  if (fin_acked) {
    switch (state_) {
      case State::kFinWait1: state_ = State::kFinWait2; break;
      case State::kClosing: enter_time_wait(now, sink); break;
      case State::kLastAck: enter_closed(CloseReason::kNormal, sink); return false;
      default: break;
    }
  }
  return true;
}

void TcpConnection::update_window(const SegmentIn& seg) {
  // RFC 9293: update only from a newer segment (SND.WL1/WL2), so an old reordered segment
  // cannot shrink the window back.
  if (seg.ack < snd_una_) return;
  if (snd_wl1_ < seg.seq || (snd_wl1_ == seg.seq && snd_wl2_ <= seg.ack)) {
    snd_wnd_ = static_cast<uint32_t>(seg.window) << snd_wscale_;
    snd_wl1_ = seg.seq;
    snd_wl2_ = seg.ack;
    max_snd_wnd_ = std::max(max_snd_wnd_, snd_wnd_);
    if (snd_wnd_ > 0 && !persist_deadline_.is_never()) {
      persist_deadline_ = Instant::never();
      persist_backoff_ = 0;
      // Leaving persist: a probe octet the peer may have dropped goes again with the next
      // segment instead of waiting for a retransmission timeout.
      if (rto_deadline_.is_never()) snd_nxt_ = snd_una_;
    }
  }
}

void TcpConnection::process_sack(const SegmentIn& seg) {
  for (uint8_t i = 0; i < seg.opts.sack_count; ++i) {
    SeqNum left(seg.opts.sack[i].left);
    SeqNum right(seg.opts.sack[i].right);
    // RFC 2018: ignore blocks that are empty, below snd_una (D-SACK) or beyond what we sent.
    if (right <= left || right <= snd_una_ || right > snd_max_) continue;
    if (left < snd_una_) left = snd_una_;
    // Insert into the sorted, merged scoreboard.
    wire::SackBlock merged{left.raw(), right.raw()};
    wire::SackBlock out[5];
    uint8_t n = 0;
    bool placed = false;
    for (uint8_t j = 0; j < sacked_count_; ++j) {
      const wire::SackBlock b = sacked_[j];
      if (SeqNum(b.right) < SeqNum(merged.left)) {
        out[n++] = b;
      } else if (SeqNum(merged.right) < SeqNum(b.left)) {
        if (!placed) { out[n++] = merged; placed = true; }
        out[n++] = b;
      } else {  // overlap or touch: absorb
        merged.left = seq_min(SeqNum(merged.left), SeqNum(b.left)).raw();
        merged.right = seq_max(SeqNum(merged.right), SeqNum(b.right)).raw();
      }
    }
    if (!placed) out[n++] = merged;
    // Keep the four lowest: those are what loss recovery works on next.
    sacked_count_ = std::min<uint8_t>(n, 4);
    std::copy(out, out + sacked_count_, sacked_);
    high_sacked_ = seq_max(high_sacked_, right);
  }
}

uint32_t TcpConnection::sacked_bytes() const {
  uint32_t total = 0;
  for (uint8_t i = 0; i < sacked_count_; ++i)
    total += static_cast<uint32_t>(SeqNum(sacked_[i].right) - SeqNum(sacked_[i].left));
  return total;
}

bool TcpConnection::is_sacked(SeqNum s, SeqNum* block_end) const {
  for (uint8_t i = 0; i < sacked_count_; ++i) {
    if (seq_in(s, SeqNum(sacked_[i].left), SeqNum(sacked_[i].right))) {
      *block_end = SeqNum(sacked_[i].right);
      return true;
    }
  }
  return false;
}

SeqNum TcpConnection::next_sacked_left(SeqNum s) const {
  for (uint8_t i = 0; i < sacked_count_; ++i)
    if (SeqNum(sacked_[i].left) > s) return SeqNum(sacked_[i].left);
  return snd_max_;
}

uint32_t TcpConnection::pipe() const {
  // RFC 6675 §4 "pipe", simplified: what is outstanding, less what the peer holds (SACKed, or
  // one segment per duplicate ACK without SACK), less holes judged lost and not yet resent.
  uint32_t out = flight_size();
  uint32_t left_network = sack_ok_ ? sacked_bytes() : std::min<uint32_t>(dupacks_ * snd_mss_, out);
  if (in_recovery_ && sack_ok_ && rtx_next_ < high_sacked_) {
    SeqNum s = rtx_next_;
    while (s < high_sacked_) {
      SeqNum end;
      if (is_sacked(s, &end)) {
        s = end;
        continue;
      }
      const SeqNum hole_end = seq_min(next_sacked_left(s), high_sacked_);
      if (hole_end <= s) break;
      left_network += static_cast<uint32_t>(hole_end - s);
      s = hole_end;
    }
  }
  return out > left_network ? out - left_network : 0;
}

void TcpConnection::enter_recovery(Instant now, TcpContext& ctx) {
  in_recovery_ = true;
  recover_ = snd_max_;
  cc_.on_fast_loss(flight_size(), now);
  rtx_next_ = snd_una_;
  rtx_limit_ = sack_ok_ ? seq_max(high_sacked_, snd_una_ + 1u) : snd_una_ + 1u;
  rtt_timing_ = false;  // Karn: the timed segment may be among those resent
  rtx_force_ = true;    // RFC 5681 §3.2 step 4 / RFC 6675 §5 (4.1): resend the first loss now
  ++ctx.counters.fast_retransmits;
}

void TcpConnection::process_urgent(const SegmentIn& seg, TcpContext& ctx, ConnSink& sink) {
  if (!(state_ == State::kEstablished || state_ == State::kFinWait1 || state_ == State::kFinWait2))
    return;
  // MUST-62: the pointer names the first non-urgent octet.
  const SeqNum up = seg.seq + seg.urgent;
  // rcv_up_ trails rcv_nxt_ once the urgent data is read; keep it close so comparisons hold
  // across the 2^31 horizon.
  if (rcv_up_ < rcv_nxt_) rcv_up_ = rcv_nxt_;
  if (up <= rcv_up_) return;  // nothing new (or no urgent octet left ahead of us)
  rcv_up_ = up;
  ++ctx.counters.urgent_in;
  sink.on_urgent(rcv_offset_ + static_cast<uint32_t>(rcv_up_ - rcv_nxt_));
}

void TcpConnection::process_text(const SegmentIn& seg, Instant now, TcpContext& ctx, ConnSink& sink) {
  ++ctx.counters.data_segments_in;
  SeqNum seq = seg.seq;
  std::span<const uint8_t> data = seg.payload;
  // Trim what we already have.
  if (seq < rcv_nxt_) {
    const uint32_t skip = static_cast<uint32_t>(rcv_nxt_ - seq);
    if (skip >= data.size()) {
      ++ctx.counters.duplicate_data;
      ack_now_ = true;  // a duplicate: the peer lost our ACK, tell it again
      return;
    }
    data = data.subspan(skip);
    seq = rcv_nxt_;
  }
  // Trim what lies beyond the window we offered.
  const SeqNum right = rcv_adv_;
  if (seq + static_cast<uint32_t>(data.size()) > right) {
    if (seq >= right) {
      ++ctx.counters.out_of_window;
      ack_now_ = true;
      return;
    }
    data = data.first(static_cast<uint32_t>(right - seq));
  }
  if (seq != rcv_nxt_) {
    ++ctx.counters.out_of_order;
    if (reasm_.insert(ctx.ooo, seq, data, params_->max_ooo_chunks) == Reassembly::Insert::kNoBuffer)
      ++ctx.counters.ooo_no_buffer;
    last_ooo_seq_ = seq;
    ack_now_ = true;  // RFC 5681 §4.2: out-of-order data is acknowledged at once (dup ACK)
    return;
  }
  const bool filled_hole = !reasm_.empty();
  rcv_nxt_ += static_cast<uint32_t>(data.size());
  rcv_offset_ += data.size();
  sink.on_data(data);
  if (state_ == State::kClosed) return;
  if (filled_hole) {
    rcv_nxt_ = reasm_.drain(ctx.ooo, rcv_nxt_, [&](std::span<const uint8_t> chunk) {
      rcv_offset_ += chunk.size();
      sink.on_data(chunk);
    });
    ack_now_ = true;  // RFC 5681 §4.2: ACK at once when a hole is filled
    if (state_ == State::kClosed) return;
  }
  // MUST-58/SHLD-19: ACK at least every second full segment, otherwise delay (< 500 ms).
  if (++unacked_segments_ >= 2 || params_->delayed_ack == Duration::zero()) {
    ack_now_ = true;
  } else if (seg.has(kTcpPsh) && !interactive_) {
    // The sender has nothing more queued (PSH ends its data) and we are not answering it with
    // data of our own: a delayed ACK would only hold up the next write, which often waits for
    // this one to be acknowledged (a bulk upload's last partial segment cost 40 ms per write).
    // Delaying is a SHOULD (SHLD-18); Linux ACKs a pushed segment at once outside pingpong mode
    // too (tcp_cleanup_rbuf). A request/response peer still gets its ACK on our response.
    ack_now_ = true;
    ++ctx.counters.pushed_acks;
  } else if (ctx.quick_ack) {
    ack_now_ = true;
    ++ctx.counters.quick_acks;
  } else if (delack_deadline_.is_never()) {
    delack_deadline_ = now + params_->delayed_ack;
  }
}

void TcpConnection::process_fin(Instant now, ConnSink& sink) {
  rcv_nxt_ += 1;
  fin_received_ = true;
  ack_now_ = true;
  // The state moves before the application hears of the FIN: a close() from its callback must
  // find CLOSE-WAIT (-> LAST-ACK), not ESTABLISHED (-> FIN-WAIT-1 -> CLOSING).
  switch (state_) {
    case State::kSynReceived:
    case State::kEstablished: state_ = State::kCloseWait; break;
    case State::kFinWait1: state_ = State::kClosing; break;  // our FIN is not yet acknowledged
    default: break;
  }
  sink.on_peer_fin();
  if (state_ == State::kFinWait2) enter_time_wait(now, sink);  // after on_peer_fin: closed is last
}

void TcpConnection::challenge_ack(Instant now, TcpContext& ctx) {
  if (now - challenge_window_start_ >= Duration::seconds(1)) {
    challenge_window_start_ = now;
    challenge_count_ = 0;
  }
  if (challenge_count_ < params_->challenge_acks_per_second) {
    ++challenge_count_;
    ++ctx.counters.challenge_acks;
    ack_now_ = true;
  } else {
    ++ctx.counters.challenge_acks_limited;
  }
}

// ---------------------------------------------------------------------------------------------
// Timers

Duration TcpConnection::r2_limit() const {
  if (state_ == State::kSynSent || state_ == State::kSynReceived) return params_->r2_syn;
  return user_timeout_ > Duration::zero() ? user_timeout_ : params_->r2;
}

void TcpConnection::arm_rto(Instant now) { rto_deadline_ = now + rtt_.rto(); }

Instant TcpConnection::next_deadline() const {
  return base::min(base::min(rto_deadline_, delack_deadline_),
                   base::min(persist_deadline_, keepalive_deadline_));
}

void TcpConnection::on_timer(Instant now, TcpContext& ctx, ConnSink& sink) {
  if (state_ == State::kClosed) return;
  if (state_ == State::kTimeWait) {
    if (now >= rto_deadline_) enter_closed(CloseReason::kNormal, sink);
    return;
  }
  if (now >= delack_deadline_) {
    delack_deadline_ = Instant::never();
    ack_now_ = true;
    interactive_ = false;  // no data of ours came in time to carry it
  }
  if (now >= rto_deadline_) {
    rto_deadline_ = Instant::never();
    on_rto(now, ctx, sink);
    if (state_ == State::kClosed) return;
  }
  if (now >= persist_deadline_) {
    probe_pending_ = true;
    ++ctx.counters.zero_window_probes;
    if (persist_backoff_ < 16) ++persist_backoff_;
    Duration interval = rtt_.rto();
    for (uint8_t i = 1; i < persist_backoff_ && interval < kMaxPersist; ++i) interval = interval * 2;
    persist_deadline_ = now + std::min(interval, kMaxPersist);  // MUST-37: probe forever
  }
  if (now >= keepalive_deadline_) {
    // MUST-26: only when idle: nothing outstanding.
    if (snd_max_ != snd_una_ || !synchronized(state_)) {
      keepalive_deadline_ = now + params_->keepalive_idle;
    } else if (keepalive_sent_ >= params_->keepalive_probes) {
      ++ctx.counters.keepalive_timeouts;
      queue_rst(snd_max_, ctx);
      enter_closed(CloseReason::kKeepaliveTimeout, sink);
      return;
    } else {
      ++keepalive_sent_;  // MUST-29: several probes, so one lost ACK is no death sentence
      keepalive_pending_ = true;
      ++ctx.counters.keepalive_probes;
      keepalive_deadline_ = now + params_->keepalive_interval;
    }
  }
}

void TcpConnection::on_rto(Instant now, TcpContext& ctx, ConnSink& sink) {
  const bool syn_state = state_ == State::kSynSent || state_ == State::kSynReceived;
  if (!syn_state && snd_max_ == snd_una_) return;
  ++ctx.counters.rto_expirations;
  if (!syn_state && snd_wnd_ == 0) {
    // The peer's window is closed: what is outstanding lies beyond it, which is no loss. The
    // persist timer probes from here on, for as long as the window stays shut (MUST-35..37,
    // SHLD-17: no timeout for data beyond the right edge).
    snd_nxt_ = snd_una_;
    rtt_timing_ = false;
    first_rtx_time_ = Instant::never();
    if (persist_deadline_.is_never()) persist_deadline_ = now + rtt_.rto();
    return;
  }
  if (first_rtx_time_.is_never()) first_rtx_time_ = now;
  if (now - first_rtx_time_ >= r2_limit()) {
    // MUST-20: give up and tell the application (MUST-12).
    ++ctx.counters.r2_timeouts;
    if (!syn_state || state_ == State::kSynReceived) {
      queue_rst(snd_max_, ctx);
    }
    enter_closed(CloseReason::kTimeout, sink);
    return;
  }
  if (++retries_ == params_->r1_retries) ++ctx.counters.r1_exceeded;  // MUST-20 negative advice
  rtt_.back_off();  // MUST-19 exponential backoff
  rtt_timing_ = false;  // Karn
  if (syn_state) {
    syn_pending_ = true;
    ++ctx.counters.syn_retransmits;
  } else {
    cc_.on_timeout(flight_size(), now);
    in_recovery_ = false;
    dupacks_ = 0;
    recover_ = snd_max_;
    snd_nxt_ = snd_una_;  // go back: everything unacknowledged is resent (SACKed parts skipped)
  }
  arm_rto(now);
}

// ---------------------------------------------------------------------------------------------
// Output

SeqNum TcpConnection::stream_end_seq() const {
  return snd_una_ + static_cast<uint32_t>(send_limit_ - snd_una_offset_);
}

bool TcpConnection::wants_output() const {
  if (rst_pending_) return true;
  if (state_ == State::kClosed) return false;
  if (syn_pending_ || ack_now_ || probe_pending_ || keepalive_pending_ || window_update_pending_)
    return true;
  if (!may_send_data(state_)) return false;
  // Data or a FIN that the windows would let out now (Nagle is decided in poll_output).
  const SeqNum end = stream_end_seq();
  if (snd_nxt_ < end) return true;
  if (fin_queued_ && !fin_sent_) return true;
  if (fin_queued_ && snd_nxt_ <= end) return true;  // FIN to resend after a timeout
  return in_recovery_ && rtx_next_ < rtx_limit_;
}

uint16_t TcpConnection::window_field() {
  const TcpParams& p = *params_;
  const uint32_t space = p.rcv_buffer > rcv_held_ ? p.rcv_buffer - rcv_held_ : 0;
  const SeqNum wanted = rcv_nxt_ + space;
  if (rcv_adv_ < rcv_nxt_) rcv_adv_ = rcv_nxt_;
  // Receiver SWS avoidance (MUST-39): move the right edge by at least min(buffer/2, MSS).
  if (wanted > rcv_adv_ &&
      static_cast<uint32_t>(wanted - rcv_adv_) >= std::min<uint32_t>(p.rcv_buffer / 2, p.mss))
    rcv_adv_ = wanted;
  // Round up so the advertised right edge never moves left (RFC 7323 §2.4).
  const uint32_t wnd = static_cast<uint32_t>(rcv_adv_ - rcv_nxt_);
  uint32_t field = (wnd + (1u << rcv_wscale_) - 1) >> rcv_wscale_;
  if (field > 65535) field = 65535;
  rcv_adv_ = seq_max(rcv_adv_, rcv_nxt_ + (field << rcv_wscale_));
  return static_cast<uint16_t>(field);
}

wire::TcpOptions TcpConnection::segment_options(Instant now, uint8_t flags, TcpContext& ctx) const {
  wire::TcpOptions o;
  const TcpParams& p = *params_;
  if (flags & kTcpSyn) {
    const bool syn_ack = flags & kTcpAck;
    o.has_mss = true;  // MUST-14; never on other segments (MUST-65)
    o.mss = p.mss;
    // A SYN-ACK only echoes what the peer's SYN offered (RFC 7323 §1.3, RFC 2018 §2).
    o.has_window_scale = syn_ack ? ws_ok_ : true;
    o.window_scale = p.window_scale;
    o.sack_permitted = syn_ack ? sack_ok_ : p.sack;
    o.has_timestamps = syn_ack ? ts_ok_ : p.timestamps;
    o.ts_val = ts_clock(now);
    o.ts_ecr = syn_ack ? ts_recent_ : 0;
    return o;
  }
  if (ts_ok_) {
    o.has_timestamps = true;
    o.ts_val = ts_clock(now);
    o.ts_ecr = ts_recent_;
  }
  if (sack_ok_ && !reasm_.empty() && (flags & kTcpAck)) {
    // RFC 2018: three blocks fit beside timestamps, four without.
    o.sack_count = reasm_.sack_blocks(ctx.ooo, last_ooo_seq_, o.sack.data(), ts_ok_ ? 3 : 4);
  }
  return o;
}

void TcpConnection::emit(SegmentOut& out, uint8_t flags, SeqNum seq, const wire::TcpOptions& opts,
                         TcpContext& ctx) {
  out = SegmentOut{};
  out.seq = seq;
  out.flags = flags;
  out.opts = opts;
  if (flags & kTcpAck) {
    out.ack = rcv_nxt_;
    last_ack_sent_ = rcv_nxt_;
    ack_now_ = false;
    window_update_pending_ = false;
    unacked_segments_ = 0;
    delack_deadline_ = Instant::never();
  }
  // A SYN's window is never scaled (RFC 7323 §2.2).
  out.window = (flags & kTcpSyn) ? static_cast<uint16_t>(std::min<uint32_t>(params_->rcv_buffer, 65535))
                                 : window_field();
  ++ctx.counters.segments_out;
}

void TcpConnection::queue_rst(SeqNum seq, TcpContext& ctx) {
  rst_pending_ = true;
  rst_seq_ = seq;
  ++ctx.counters.resets_out;
}

bool TcpConnection::poll_output(Instant now, SegmentOut& out, TcpContext& ctx) {
  if (rst_pending_) {
    rst_pending_ = false;
    out = SegmentOut{};
    out.seq = rst_seq_;
    out.flags = kTcpRst;
    ++ctx.counters.segments_out;
    return true;
  }
  if (state_ == State::kClosed) return false;

  if (syn_pending_) {
    syn_pending_ = false;
    const uint8_t flags = state_ == State::kSynReceived ? (kTcpSyn | kTcpAck) : kTcpSyn;
    emit(out, flags, iss_, segment_options(now, flags, ctx), ctx);
    if (snd_max_ == iss_) {  // the first SYN is timed; a retransmitted one is not (Karn)
      snd_nxt_ = snd_max_ = iss_ + 1;
      rtt_seq_ = iss_;
      rtt_start_ = now;
      rtt_timing_ = true;
    }
    if ((flags & kTcpAck) && rcv_adv_ < rcv_nxt_ + out.window) rcv_adv_ = rcv_nxt_ + out.window;
    arm_rto(now);
    last_send_time_ = now;
    return true;
  }

  if (state_ == State::kSynSent || state_ == State::kSynReceived) {
    ack_now_ = false;  // nothing but the SYN goes out before the handshake completes
    return false;
  }

  if (may_send_data(state_) && next_data_segment(now, out, ctx)) return true;

  if (probe_pending_) {
    probe_pending_ = false;
    // MUST-36: a window probe carries one octet: the first unacknowledged one if any is out,
    // else one octet of new data beyond the closed window. Its ACK shows the window again.
    const SeqNum data_end = stream_end_seq();
    if (snd_una_ < snd_max_) {
      const bool fin = snd_una_ == data_end;  // only our FIN is outstanding
      emit(out, kTcpAck | (fin ? kTcpFin : 0), snd_una_, segment_options(now, kTcpAck, ctx), ctx);
      out.payload_offset = offset_of(snd_una_);
      out.payload_len = fin ? 0 : 1;
      last_send_time_ = now;
      return true;
    }
    if (data_end > snd_max_) {
      emit(out, kTcpAck, snd_max_, segment_options(now, kTcpAck, ctx), ctx);
      out.payload_offset = offset_of(snd_max_);
      out.payload_len = 1;
      snd_nxt_ = snd_max_ = snd_max_ + 1;
      last_send_time_ = now;
      return true;
    }
    persist_deadline_ = Instant::never();  // nothing to probe with
    persist_backoff_ = 0;
  }
  if (keepalive_pending_) {
    keepalive_pending_ = false;
    // SEG.SEQ = SND.NXT - 1 with no data: an ACK the peer must answer (RFC 9293 §3.8.4).
    emit(out, kTcpAck, snd_max_ - 1u, segment_options(now, kTcpAck, ctx), ctx);
    return true;
  }
  if (ack_now_ || window_update_pending_) {
    // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>. The RFC's SND.NXT is snd_max_ here: snd_nxt_ goes
    // back after a timeout, and an ACK carrying an old sequence number would be unacceptable to
    // the peer, which answers with an ACK of its own, and so on.
    emit(out, kTcpAck, snd_max_, segment_options(now, kTcpAck, ctx), ctx);
    return true;
  }
  return false;
}

bool TcpConnection::next_data_segment(Instant now, SegmentOut& out, TcpContext& ctx) {
  const SeqNum data_end = stream_end_seq();
  const wire::TcpOptions opts = segment_options(now, kTcpAck, ctx);
  // MUST-16: the peer's MSS counts no options, so each option byte comes off the payload.
  const uint32_t opt_len = static_cast<uint32_t>(wire::tcp_options_length(opts));
  const uint32_t mss = snd_mss_ > opt_len + 1 ? snd_mss_ - opt_len : 1;

  // 1. Loss recovery: resend the holes below the highest SACKed byte (without SACK, the first
  //    unacknowledged segment), as long as the pipe leaves room in the congestion window.
  if (in_recovery_) {
    SeqNum s = seq_max(rtx_next_, snd_una_);
    SeqNum end;
    while (s < rtx_limit_ && is_sacked(s, &end)) s = end;
    if (s < rtx_limit_ && s < snd_max_ && (rtx_force_ || pipe() < cc_.cwnd())) {
      const SeqNum limit = seq_min(next_sacked_left(s), data_end);
      const uint32_t len = s < limit ? std::min<uint32_t>(static_cast<uint32_t>(limit - s), mss) : 0;
      const bool fin = fin_sent_ && s + len == data_end;
      if (len > 0 || fin) {
        emit(out, kTcpAck | (fin ? kTcpFin : 0), s, opts, ctx);
        out.payload_offset = offset_of(s);
        out.payload_len = len;
        rtx_next_ = s + len + (fin ? 1u : 0u);
        rtx_force_ = false;
        if (!sack_ok_) rtx_next_ = rtx_limit_;  // NewReno: one segment per partial ACK
        ++ctx.counters.retransmits;
        if (rto_deadline_.is_never()) arm_rto(now);
        last_send_time_ = now;
        return true;
      }
      rtx_next_ = rtx_limit_;
    }
  }

  // 2. New data, or data resent after a timeout rewound snd_nxt_ below snd_max_.
  SeqNum s = snd_nxt_;
  SeqNum sacked_end;
  while (s < snd_max_ && is_sacked(s, &sacked_end)) s = sacked_end;
  snd_nxt_ = s;
  if (s > data_end) return false;  // at most the FIN is outstanding, and it was not lost
  const bool resend = s < snd_max_;
  const bool fin_due = fin_queued_ && (!fin_sent_ || resend);
  const uint32_t avail = static_cast<uint32_t>(data_end - s);
  if (avail == 0 && !fin_due) return false;

  if (snd_max_ == snd_una_ && now - last_send_time_ > rtt_.rto()) cc_.on_idle_restart(0);

  // Flow control and congestion control.
  const SeqNum wnd_edge = snd_una_ + snd_wnd_;
  const uint32_t flow = wnd_edge > s ? static_cast<uint32_t>(wnd_edge - s) : 0;
  const uint32_t in_flight = in_recovery_ ? pipe() : static_cast<uint32_t>(s - snd_una_);
  const uint32_t cong = cc_.cwnd() > in_flight ? cc_.cwnd() - in_flight : 0;
  const uint32_t len = std::min({avail, flow, cong, mss});

  if (avail > 0 && len == 0) {
    // Nothing fits. A closed peer window with nothing in flight needs the persist timer.
    // (With data in flight the retransmission timer runs; on_rto hands over to persist.)
    if (flow == 0 && rto_deadline_.is_never() && persist_deadline_.is_never())
      persist_deadline_ = now + rtt_.rto();
    return false;
  }
  if (!resend && len < avail && len < mss && len < max_snd_wnd_ / 2 && !probe_pending_) {
    // Sender SWS avoidance (MUST-38, RFC 9293 §3.8.6.2.1): a partial segment that does not
    // empty the queue goes out only if it is at least half the largest window offered, or when
    // the override timeout (the persist timer, armed here if nothing else will wake us) fires.
    if (rto_deadline_.is_never() && persist_deadline_.is_never()) persist_deadline_ = now + rtt_.rto();
    return false;
  }
  if (!resend && len > 0 && len < mss && len == avail && !nodelay_ && snd_max_ != snd_una_ &&
      !fin_due) {
    // Nagle (RFC 9293 §3.7.4): a small segment waits while data is unacknowledged.
    return false;
  }

  const bool with_fin = fin_due && s + len == data_end;
  uint8_t flags = kTcpAck;
  if (with_fin) flags |= kTcpFin;
  if (len > 0 && s + len == data_end) flags |= kTcpPsh;  // MUST-61: PSH on the last segment
  if (len > 0 && unacked_segments_ > 0) interactive_ = true;  // our data answers theirs
  emit(out, flags, s, opts, ctx);
  out.payload_offset = offset_of(s);
  out.payload_len = len;
  if (urgent_pending_ && snd_up_ > s) {
    out.flags |= kTcpUrg;
    // MUST-31: urgent data of any length; the pointer saturates and moves on with each segment.
    out.urgent = static_cast<uint16_t>(std::min<uint32_t>(static_cast<uint32_t>(snd_up_ - s), 65535));
  }
  if (with_fin) fin_sent_ = true;
  const SeqNum next = s + len + (with_fin ? 1u : 0u);
  if (resend) {
    ++ctx.counters.retransmits;
  } else if (!rtt_timing_ && len > 0) {
    rtt_seq_ = s;
    rtt_start_ = now;
    rtt_timing_ = true;
  }
  snd_nxt_ = next;
  if (next > snd_max_) snd_max_ = next;
  if (rto_deadline_.is_never()) arm_rto(now);
  persist_deadline_ = Instant::never();
  persist_backoff_ = 0;
  probe_pending_ = false;  // data went out: it is the probe
  last_send_time_ = now;
  return true;
}

}  // namespace linetcp::tcp
