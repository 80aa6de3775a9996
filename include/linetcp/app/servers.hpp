// The responders linetcp serves load with: an HTTP/1.1 server with a fixed or sized response,
// echo (RFC 862) and discard (RFC 863). Each is an App on the Endpoint's public API, with its
// per-connection state in a flat array indexed by ConnId (no allocation after start-up).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "linetcp/app/http_parser.hpp"
#include "linetcp/engine/endpoint.hpp"

namespace linetcp::app {

// Deterministic payload bytes: generated bodies and load-client streams, checkable byte by byte.
inline uint8_t pattern_byte(uint64_t offset) {
  return static_cast<uint8_t>('a' + ((offset ^ (offset >> 7) ^ (offset >> 13)) % 26));
}
void fill_pattern(uint64_t offset, std::span<uint8_t> dst);

struct ServerCounters {
  uint64_t connections = 0;
  uint64_t requests = 0;
  uint64_t responses = 0;
  uint64_t bad_requests = 0;
  uint64_t bytes_in = 0;
  uint64_t no_buffer = 0;  // echo: no ring free for a new connection (it was reset)
};

struct HttpServerOptions {
  uint16_t status = 200;
  std::string content_type = "text/plain";
  std::string body = "linetcp\n";
  std::optional<uint64_t> body_size;  // a generated body of this size instead of `body`
  bool keepalive = true;              // false: every response carries Connection: close
  bool close_first = false;           // true: the server closes after each response
};

class HttpServer final : public engine::App {
 public:
  HttpServer(const HttpServerOptions& options, uint32_t max_connections);

  void on_open(engine::Endpoint& ep, engine::ConnId id) override;
  void on_data(engine::Endpoint& ep, engine::ConnId id, std::span<const uint8_t> data) override;
  void on_peer_closed(engine::Endpoint& ep, engine::ConnId id) override;
  void on_closed(engine::Endpoint& ep, engine::ConnId id, tcp::CloseReason reason) override;
  void fill_payload(engine::Endpoint& ep, engine::ConnId id, uint64_t offset, std::span<uint8_t> dst) override;

  const ServerCounters& counters() const { return counters_; }
  uint64_t response_bytes(bool keepalive) const { return (keepalive ? head_keep_ : head_close_).size() + body_len_; }

 private:
  struct Conn {
    HttpMessageParser parser;
    uint64_t keepalive_responses = 0;  // the stream: this many keep-alive responses,
    bool closing = false;              // then, if closing, one Connection: close response
  };
  void fill_response(const std::string& head, uint64_t offset, std::span<uint8_t> dst) const;

  HttpServerOptions options_;
  std::string head_keep_;
  std::string head_close_;
  uint64_t body_len_;
  std::vector<Conn> conns_;
  HttpHeadMemo head_memo_;  // load clients send the same request again and again
  ServerCounters counters_;
};

class EchoServer final : public engine::App {
 public:
  // `ring_bytes` (a power of two) bounds the unacknowledged echo per connection; the echo
  // listener's receive buffer must not exceed it (params() gives matching TCP settings).
  EchoServer(uint32_t max_connections, uint32_t rings, uint32_t ring_bytes);
  tcp::TcpParams params(const tcp::TcpParams& base) const;

  void on_open(engine::Endpoint& ep, engine::ConnId id) override;
  void on_data(engine::Endpoint& ep, engine::ConnId id, std::span<const uint8_t> data) override;
  void on_acked(engine::Endpoint& ep, engine::ConnId id, uint64_t acked_until) override;
  void on_peer_closed(engine::Endpoint& ep, engine::ConnId id) override;
  void on_closed(engine::Endpoint& ep, engine::ConnId id, tcp::CloseReason reason) override;
  void fill_payload(engine::Endpoint& ep, engine::ConnId id, uint64_t offset, std::span<uint8_t> dst) override;

  const ServerCounters& counters() const { return counters_; }

 private:
  static constexpr uint32_t kNoRing = UINT32_MAX;
  struct Conn {
    uint32_t ring = kNoRing;
    uint64_t received = 0;  // bytes echoed into the send stream
    uint64_t acked = 0;
  };
  uint8_t* ring(uint32_t r) { return rings_.get() + std::size_t{r} * ring_bytes_; }

  uint32_t ring_bytes_;
  std::unique_ptr<uint8_t[]> rings_;
  std::vector<uint32_t> free_rings_;
  std::vector<Conn> conns_;
  ServerCounters counters_;
};

class DiscardServer final : public engine::App {
 public:
  void on_open(engine::Endpoint&, engine::ConnId) override { ++counters_.connections; }
  void on_data(engine::Endpoint&, engine::ConnId, std::span<const uint8_t> data) override {
    counters_.bytes_in += data.size();
  }
  void on_peer_closed(engine::Endpoint& ep, engine::ConnId id) override { ep.close(id); }
  void fill_payload(engine::Endpoint&, engine::ConnId, uint64_t, std::span<uint8_t>) override {}
  const ServerCounters& counters() const { return counters_; }

 private:
  ServerCounters counters_;
};

}  // namespace linetcp::app
