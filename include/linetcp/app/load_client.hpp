// The load generator: opens connections at a target rate up to a target concurrency, sends
// requests (HTTP, echo, discard) closed-loop or on a constant-rate timetable, verifies what comes
// back (HTTP status and length, echo bytes one by one), and measures connect time, time to first
// byte and request latency. In constant-rate mode latency counts from the scheduled send time, so
// a server that stalls cannot hide its delay (no coordinated omission).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "linetcp/app/histogram.hpp"
#include "linetcp/app/http_parser.hpp"
#include "linetcp/base/time.hpp"
#include "linetcp/engine/endpoint.hpp"

namespace linetcp::app {

enum class Protocol : uint8_t { kHttp, kEcho, kDiscard };

// One server of a target list: IPv4 or IPv6, with a weight (its share of new connections).
struct LoadTarget {
  bool ipv6 = false;
  wire::Ipv4Addr v4;
  wire::Ipv6Addr v6;
  uint16_t port = 80;
  uint32_t weight = 1;
};

struct LoadClientOptions {
  Protocol protocol = Protocol::kHttp;
  wire::Ipv4Addr target;
  uint16_t target_port = 80;
  // When not empty: connections go to these instead, in proportion to their weights (smooth
  // weighted round robin), IPv4 and IPv6 mixed as listed.
  std::vector<LoadTarget> targets;
  double connections_per_second = 0;  // 0: as fast as the concurrency allows
  base::Duration ramp_up;             // the connection rate grows linearly to its target
  uint32_t concurrency = 100;
  uint64_t requests_per_connection = 1;  // 0: unlimited (keep-alive until the end)
  double request_rate = 0;               // requests/s on a timetable; 0: closed loop
  uint64_t request_size = 0;  // echo/discard: bytes per request; HTTP: a POST body if > 0
  std::string http_path = "/";
  std::string http_host;
  base::Duration think_time;
  bool close_with_rst = false;
  const tcp::TcpParams* params = nullptr;
};

struct ClientCounters {
  uint64_t connections_started = 0;
  uint64_t connections_established = 0;
  uint64_t connections_closed = 0;
  uint64_t connect_failed = 0;      // refused or timed out before the handshake completed
  uint64_t connections_reset = 0;   // reset by the peer after it opened
  uint64_t connections_timed_out = 0;
  uint64_t connect_no_port = 0;     // connect() found no free source port or slot
  uint64_t requests = 0;
  uint64_t responses = 0;
  uint64_t status_2xx = 0;
  uint64_t status_other = 0;  // non-2xx
  uint64_t bad_responses = 0;  // unparseable HTTP
  uint64_t echo_mismatches = 0;
  uint64_t incomplete = 0;    // closed with a response outstanding (not by a reset or timeout)
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  uint64_t schedule_backlog = 0;  // constant-rate requests that found no idle connection at once

  uint64_t errors() const {
    return connect_failed + connections_reset + connections_timed_out + status_other + bad_responses +
           echo_mismatches + incomplete;
  }
};

class LoadClient final : public engine::App {
 public:
  // At most this many connects per poll(), i.e. per worker loop iteration; the rest (and any
  // rate credit) wait for the next poll. Connections refilled in one go move in lockstep (all
  // their SYNs, then all their requests) and the two ends of the wire take turns instead of
  // working at once: measured, 1000 concurrent short connections over memif ran 1.15-1.26x
  // faster with the limit (docs/benchmarks.md).
  static constexpr uint64_t kOpensPerPoll = 32;

  LoadClient(const LoadClientOptions& options, uint32_t max_connections);

  void start(base::Instant now);
  // The current time for the callbacks that follow (they carry no clock): the worker calls it
  // once per loop iteration, with the one TSC reading of that iteration.
  void set_time(base::Instant now) { now_ = now; }
  // Opens connections and starts scheduled requests that are due.
  void poll(engine::Endpoint& ep, base::Instant now);
  // Stops opening connections and closes every open one (FIN or RST, as configured).
  void stop(engine::Endpoint& ep, base::Instant now);
  bool stopping() const { return stopping_; }
  uint32_t active() const { return active_; }
  // The earliest time poll() has something to do.
  base::Instant next_deadline() const { return next_poll_; }

  void on_open(engine::Endpoint& ep, engine::ConnId id) override;
  void on_data(engine::Endpoint& ep, engine::ConnId id, std::span<const uint8_t> data) override;
  void on_acked(engine::Endpoint& ep, engine::ConnId id, uint64_t acked_until) override;
  void on_peer_closed(engine::Endpoint& ep, engine::ConnId id) override;
  void on_closed(engine::Endpoint& ep, engine::ConnId id, tcp::CloseReason reason) override;
  void fill_payload(engine::Endpoint& ep, engine::ConnId id, uint64_t offset, std::span<uint8_t> dst) override;

  const ClientCounters& counters() const { return counters_; }
  const Histogram& connect_latency() const { return connect_; }
  const Histogram& first_byte_latency() const { return first_byte_; }
  const Histogram& request_latency() const { return request_; }
  uint64_t request_bytes() const { return request_len_; }

 private:
  struct Conn {
    base::Instant started;
    base::Instant request_start;  // sent, or scheduled (constant-rate mode)
    base::Instant think_until;
    uint64_t requests_done = 0;
    uint64_t stream_queued = 0;    // send-stream bytes handed to TCP
    uint64_t received = 0;         // receive-stream bytes seen
    uint64_t response_end = 0;     // echo: receive offset where the current response ends
    HttpMessageParser parser{HttpMessageParser::Kind::kResponse};
    bool in_use = false;
    bool open = false;
    bool awaiting = false;  // a request is outstanding
    bool first_byte = false;
    bool closing = false;
    bool idle_queued = false;  // constant-rate mode: waiting in idle_ for a scheduled request
  };
  void send_request(engine::Endpoint& ep, engine::ConnId id, base::Instant start);
  void request_done(engine::Endpoint& ep, engine::ConnId id, base::Instant now);
  void next_request_or_close(engine::Endpoint& ep, engine::ConnId id, base::Instant now);
  // Whether `data` is the pattern stream (fill_pattern) from `offset` on, byte for byte.
  bool matches_pattern(uint64_t offset, std::span<const uint8_t> data);
  void close_connection(engine::Endpoint& ep, engine::ConnId id);
  void open_connections(engine::Endpoint& ep, base::Instant now);
  void run_schedule(engine::Endpoint& ep, base::Instant now);
  void make_idle(engine::ConnId id);
  double rate_at(base::Instant now) const;

  LoadClientOptions options_;
  std::string request_head_;
  uint64_t request_len_;
  std::vector<Conn> conns_;
  HttpHeadMemo head_memo_;  // servers answer the same request with the same head
  std::array<uint8_t, 2048> pattern_scratch_;  // the expected bytes of an echo, for matches_pattern
  ClientCounters counters_;
  Histogram connect_;
  Histogram first_byte_;
  Histogram request_;
  uint32_t active_ = 0;
  bool stopping_ = false;
  base::Instant started_;
  base::Instant last_poll_;
  base::Instant now_;
  base::Instant next_poll_;
  double connect_credit_ = 0;  // connections the rate allows now
  // The next target (smooth weighted round robin over options_.targets).
  const LoadTarget& next_target();
  std::vector<int64_t> target_credit_;
  base::Instant connect_retry_at_;  // after a refused connect(), wait before trying again
  // Think time is the same for every connection, so waiting connections form a FIFO.
  std::vector<engine::ConnId> thinking_;
  std::size_t thinking_head_ = 0;
  // Constant-rate mode: idle connections, least recently used first (a FIFO), and scheduled send
  // times no connection took yet.
  std::vector<engine::ConnId> idle_;
  std::size_t idle_head_ = 0;
  std::vector<base::Instant> due_;
  std::size_t due_head_ = 0;
  base::Instant next_send_;
};

}  // namespace linetcp::app
