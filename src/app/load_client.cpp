// Load generator: connection pacing, request scheduling, response checking and latency.
#include "linetcp/app/load_client.hpp"

#include <algorithm>
#include <cstring>

#include "linetcp/app/servers.hpp"
#include "linetcp/base/compiler.hpp"

namespace linetcp::app {

using base::Duration;
using base::Instant;
using engine::ConnId;

namespace {
// Pops from a vector used as a FIFO, compacting it once the consumed head dominates (a memmove,
// never an allocation: capacity was reserved up front).
template <typename T>
void compact(std::vector<T>& v, std::size_t& head) {
  if (head > 0 && head * 2 >= v.size()) {
    v.erase(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(head));
    head = 0;
  }
}
constexpr Duration kIdlePoll = Duration::millis(1);
}  // namespace

LoadClient::LoadClient(const LoadClientOptions& options, uint32_t max_connections)
    : options_(options), conns_(max_connections) {
  if (options_.protocol == Protocol::kHttp) {
    const bool post = options_.request_size > 0;
    request_head_ = std::string(post ? "POST " : "GET ") + options_.http_path + " HTTP/1.1\r\nHost: " +
                    options_.http_host + "\r\nUser-Agent: linetcp\r\n" +
                    (post ? "Content-Length: " + std::to_string(options_.request_size) + "\r\n" : "") + "\r\n";
    request_len_ = request_head_.size() + options_.request_size;
  } else {
    request_len_ = std::max<uint64_t>(options_.request_size, 1);
  }
  thinking_.reserve(max_connections);
  idle_.reserve(max_connections);
  due_.reserve(max_connections);
}

void LoadClient::start(Instant now) {
  started_ = last_poll_ = next_poll_ = next_send_ = now_ = now;
  connect_credit_ = 0;
}

double LoadClient::rate_at(Instant now) const {
  if (options_.connections_per_second <= 0) return 0;
  const Duration since = now - started_;
  if (options_.ramp_up > Duration::zero() && since < options_.ramp_up)
    return options_.connections_per_second * since.seconds_f() / options_.ramp_up.seconds_f();
  return options_.connections_per_second;
}

void LoadClient::poll(engine::Endpoint& ep, Instant now) {
  now_ = now;
  if (!stopping_) {
    open_connections(ep, now);
    if (options_.request_rate > 0) run_schedule(ep, now);
  }
  // Connections whose think time is over send their next request.
  while (thinking_head_ < thinking_.size()) {
    const ConnId id = thinking_[thinking_head_];
    Conn& c = conns_[id];
    if (!c.in_use || c.closing) {
      ++thinking_head_;
      continue;
    }
    if (c.think_until > now) break;
    ++thinking_head_;
    if (stopping_) continue;
    if (options_.request_rate > 0) make_idle(id);
    else send_request(ep, id, now);
  }
  compact(thinking_, thinking_head_);
  last_poll_ = now;
  // Free connection slots are refilled at once (every loop iteration); otherwise poll again
  // when the next think time or schedule tick is due. The next scheduled send must bound the
  // wait: a constant-rate request started late (at the next idle poll) would carry our own
  // polling delay in its latency and leave at the wrong time.
  if (!stopping_ && active_ < options_.concurrency) {
    next_poll_ = now;
    return;
  }
  next_poll_ = now + kIdlePoll;
  if (!stopping_ && options_.request_rate > 0) next_poll_ = base::min(next_poll_, next_send_);
  if (thinking_head_ < thinking_.size())
    next_poll_ = base::min(next_poll_, base::max(now, conns_[thinking_[thinking_head_]].think_until));
}

void LoadClient::open_connections(engine::Endpoint& ep, Instant now) {
  if (now < connect_retry_at_) return;
  const double rate = rate_at(now);
  uint64_t allowed = options_.concurrency > active_ ? options_.concurrency - active_ : 0;
  if (options_.connections_per_second > 0) {
    connect_credit_ += rate * (now - last_poll_).seconds_f();
    // Credit does not pile up while the concurrency limit holds us back: no bursts after.
    connect_credit_ = std::min(connect_credit_, std::max(1.0, static_cast<double>(allowed)));
    allowed = std::min<uint64_t>(allowed, static_cast<uint64_t>(connect_credit_));
  }
  allowed = std::min<uint64_t>(allowed, kOpensPerPoll);  // the rest (and the credit) at the next poll
  for (uint64_t i = 0; i < allowed; ++i) {
    ConnId id;
    if (options_.targets.empty()) {
      id = ep.connect(options_.target, options_.target_port, *this, now, options_.params);
    } else {
      const LoadTarget& t = next_target();
      id = t.ipv6 ? ep.connect(t.v6, t.port, *this, now, options_.params)
                  : ep.connect(t.v4, t.port, *this, now, options_.params);
    }
    if (id == engine::kInvalidConn) {
      ++counters_.connect_no_port;
      connect_retry_at_ = now + kIdlePoll;  // out of ports or slots (the status line says which)
      break;
    }
    Conn& c = conns_[id];
    // The slot's entry in idle_, if its last connection closed while idle, passes to this one:
    // at most one entry per slot, so idle_ never outgrows the capacity reserved for it.
    const bool idle_queued = c.idle_queued;
    c = Conn{};
    c.idle_queued = idle_queued;
    c.in_use = true;
    c.started = now;
    ++active_;
    ++counters_.connections_started;
    if (options_.connections_per_second > 0) connect_credit_ -= 1;
  }
}

void LoadClient::run_schedule(engine::Endpoint& ep, Instant now) {
  // The timetable: one request every 1/rate seconds from the start, whatever happens.
  const Duration interval = Duration::nanos(static_cast<int64_t>(1e9 / options_.request_rate));
  while (next_send_ <= now) {
    if (due_.size() < due_.capacity()) due_.push_back(next_send_);
    else ++counters_.schedule_backlog;  // more than one due request per connection: dropped
    next_send_ += interval;
  }
  // The connection idle the longest takes the request (as wrk2 does): requests spread over every
  // connection instead of keeping a few busy, so the server sees the concurrency asked for.
  while (due_head_ < due_.size() && idle_head_ < idle_.size()) {
    const ConnId id = idle_[idle_head_++];
    Conn& c = conns_[id];
    // An entry left by a connection that closed while idle now stands for the slot's next
    // connection, if any, which takes the request when it is open and idle.
    c.idle_queued = false;
    if (!c.in_use || c.closing || !c.open || c.awaiting) continue;
    send_request(ep, id, due_[due_head_++]);
  }
  // Requests still due keep their scheduled time: their latency includes the wait.
  compact(due_, due_head_);
  compact(idle_, idle_head_);
}

void LoadClient::make_idle(ConnId id) {
  Conn& c = conns_[id];
  if (c.idle_queued) return;
  c.idle_queued = true;
  idle_.push_back(id);
}

void LoadClient::stop(engine::Endpoint& ep, Instant) {
  stopping_ = true;
  for (ConnId id = 0; id < conns_.size(); ++id)
    if (conns_[id].in_use && !conns_[id].closing) close_connection(ep, id);
}

void LoadClient::close_connection(engine::Endpoint& ep, ConnId id) {
  Conn& c = conns_[id];
  c.closing = true;
  if (options_.close_with_rst) ep.abort(id);
  else ep.close(id);
}

void LoadClient::send_request(engine::Endpoint& ep, ConnId id, Instant start) {
  Conn& c = conns_[id];
  c.request_start = start;
  c.awaiting = true;
  c.first_byte = false;
  c.parser.reset();
  c.response_end = c.received + (options_.protocol == Protocol::kEcho ? request_len_ : 0);
  c.stream_queued += request_len_;
  counters_.bytes_sent += request_len_;
  ++counters_.requests;
  ep.send(id, request_len_);
}

void LoadClient::on_open(engine::Endpoint& ep, ConnId id) {
  Conn& c = conns_[id];
  c.open = true;
  ++counters_.connections_established;
  connect_.record(static_cast<uint64_t>(std::max<int64_t>(0, (now_ - c.started).ns())));
  if (stopping_) return;  // stop() already queued the close
  if (options_.request_rate > 0) {
    make_idle(id);
    run_schedule(ep, now_);
  } else {
    send_request(ep, id, now_);
  }
}

void LoadClient::request_done(engine::Endpoint& ep, ConnId id, Instant now) {
  Conn& c = conns_[id];
  c.awaiting = false;
  ++c.requests_done;
  ++counters_.responses;
  request_.record(static_cast<uint64_t>(std::max<int64_t>(0, (now - c.request_start).ns())));
  next_request_or_close(ep, id, now);
}

void LoadClient::next_request_or_close(engine::Endpoint& ep, ConnId id, Instant now) {
  Conn& c = conns_[id];
  if (stopping_ || c.closing) return;
  if (options_.requests_per_connection != 0 && c.requests_done >= options_.requests_per_connection) {
    close_connection(ep, id);
    return;
  }
  if (options_.think_time > Duration::zero()) {
    c.think_until = now + options_.think_time;
    thinking_.push_back(id);
    return;
  }
  if (options_.request_rate > 0) {
    make_idle(id);
    run_schedule(ep, now);
  } else {
    send_request(ep, id, now);
  }
}

void LoadClient::on_data(engine::Endpoint& ep, ConnId id, std::span<const uint8_t> data) {
  Conn& c = conns_[id];
  counters_.bytes_received += data.size();
  const Instant now = now_;
  if (c.awaiting && !c.first_byte) {
    c.first_byte = true;
    first_byte_.record(static_cast<uint64_t>(std::max<int64_t>(0, (now - c.request_start).ns())));
  }
  switch (options_.protocol) {
    case Protocol::kHttp:
      while (!data.empty() && c.awaiting) {
        data = data.subspan(c.parser.feed(data, &head_memo_));
        if (c.parser.failed()) {
          ++counters_.bad_responses;
          c.awaiting = false;
          close_connection(ep, id);
          return;
        }
        if (!c.parser.complete()) break;
        if (c.parser.status() >= 200 && c.parser.status() < 300) ++counters_.status_2xx;
        else ++counters_.status_other;
        // RFC 9112 §9.6: after "Connection: close" no further request may go on this connection,
        // so it is marked closing before request_done() could start the next one.
        const bool server_closes = !c.parser.keep_alive() && !c.closing;
        if (server_closes) c.closing = true;
        request_done(ep, id, now);
        if (server_closes) {
          if (options_.close_with_rst) ep.abort(id);
          else ep.close(id);
        }
      }
      c.received += data.size();
      break;
    case Protocol::kEcho: {
      // Every echoed byte must be the byte we sent at that stream offset.
      if (!matches_pattern(c.received, data)) ++counters_.echo_mismatches;
      c.received += data.size();
      if (c.awaiting && c.received >= c.response_end) request_done(ep, id, now);
      break;
    }
    case Protocol::kDiscard:
      c.received += data.size();  // a discard server sends nothing; count what it does send
      break;
  }
}

bool LoadClient::matches_pattern(uint64_t offset, std::span<const uint8_t> data) {
  // Against fill_pattern's output a block at a time: pattern_byte() per byte costs a division
  // each, and was the echo client's bottleneck (1400-byte echoes: 1.2 M loop iterations in 3 s
  // against the server's 75 M).
  while (!data.empty()) {
    const std::size_t n = std::min(data.size(), pattern_scratch_.size());
    fill_pattern(offset, std::span<uint8_t>(pattern_scratch_.data(), n));
    if (std::memcmp(pattern_scratch_.data(), data.data(), n) != 0) return false;
    offset += n;
    data = data.subspan(n);
  }
  return true;
}

void LoadClient::on_acked(engine::Endpoint& ep, ConnId id, uint64_t acked_until) {
  Conn& c = conns_[id];
  // Discard: a request is done when the server has acknowledged all of it.
  if (options_.protocol == Protocol::kDiscard && c.awaiting && acked_until >= c.stream_queued)
    request_done(ep, id, now_);
}

void LoadClient::on_peer_closed(engine::Endpoint& ep, ConnId id) {
  Conn& c = conns_[id];
  if (c.awaiting) {
    ++counters_.incomplete;
    c.awaiting = false;
  }
  if (!c.closing) close_connection(ep, id);
}

void LoadClient::on_closed(engine::Endpoint&, ConnId id, tcp::CloseReason reason) {
  Conn& c = conns_[id];
  if (!c.in_use) return;
  if (!c.open) {
    // One we closed ourselves before it opened (stop() in SYN-SENT deletes it) did not fail.
    if (!c.closing) ++counters_.connect_failed;
  } else {
    // One error per failed connection: a reset or a timeout explains the response it cut off,
    // so `incomplete` counts only the connections that ended otherwise with one outstanding.
    bool counted = false;
    switch (reason) {
      case tcp::CloseReason::kReset:
        if (!c.closing) {
          ++counters_.connections_reset;
          counted = true;
        }
        break;
      case tcp::CloseReason::kTimeout:
      case tcp::CloseReason::kKeepaliveTimeout:
        ++counters_.connections_timed_out;
        counted = true;
        break;
      default: break;
    }
    if (c.awaiting && !counted && reason != tcp::CloseReason::kAborted) ++counters_.incomplete;
  }
  ++counters_.connections_closed;
  c.in_use = false;
  --active_;
  // The slot is free: refill it at the next poll, not after the idle poll interval. Waiting for
  // that (up to 1 ms per connection) capped short connections at concurrency / 1 ms.
  if (!stopping_) next_poll_ = base::min(next_poll_, now_);
}

void LoadClient::fill_payload(engine::Endpoint&, ConnId id, uint64_t offset, std::span<uint8_t> dst) {
  if (options_.protocol != Protocol::kHttp) {
    fill_pattern(offset, dst);
    return;
  }
  // New data belongs to the latest request (it starts at stream_queued - request_len_): no
  // division on that path; only a retransmission of an older request takes the modulo.
  const uint64_t last_start = conns_[id].stream_queued - request_len_;
  std::size_t done = 0;
  while (done < dst.size()) {
    const uint64_t at = offset + done;
    const uint64_t within = LINETCP_LIKELY(at >= last_start) ? at - last_start : at % request_len_;
    std::size_t n;
    if (within < request_head_.size()) {
      n = std::min<std::size_t>(request_head_.size() - within, dst.size() - done);
      std::memcpy(dst.data() + done, request_head_.data() + within, n);
    } else {
      n = static_cast<std::size_t>(std::min<uint64_t>(request_len_ - within, dst.size() - done));
      fill_pattern(within - request_head_.size(), dst.subspan(done, n));
    }
    done += n;
  }
}

const LoadTarget& LoadClient::next_target() {
  // nginx's smooth weighted round robin: every target gains its weight, the richest is chosen
  // and pays the total. Deterministic, and spreads a heavy target's turns evenly.
  if (target_credit_.size() != options_.targets.size()) target_credit_.assign(options_.targets.size(), 0);
  int64_t total = 0;
  std::size_t best = 0;
  for (std::size_t i = 0; i < options_.targets.size(); ++i) {
    target_credit_[i] += options_.targets[i].weight;
    total += options_.targets[i].weight;
    if (target_credit_[i] > target_credit_[best]) best = i;
  }
  target_credit_[best] -= total;
  return options_.targets[best];
}

}  // namespace linetcp::app
