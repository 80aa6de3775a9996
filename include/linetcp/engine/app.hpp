// The application interface: what an application (HTTP server, echo, load client, a test
// harness) implements to use the stack. Together with Endpoint's socket calls it is linetcp's
// public API. Every callback runs on the worker's thread, inside Endpoint::input(), advance()
// or poll_output(); it may call back into the Endpoint (send, close, connect, ...).
#pragma once

#include <cstdint>
#include <span>

#include "linetcp/engine/four_tuple.hpp"
#include "linetcp/tcp/tcp_connection.hpp"

namespace linetcp::engine {

class Endpoint;

class App {
 public:
  virtual ~App() = default;

  // The handshake completed: accepted on a listener, or our connect() succeeded.
  virtual void on_open(Endpoint&, ConnId) {}
  // In-order received bytes. The span points into the received frame: copy what you keep.
  virtual void on_data(Endpoint&, ConnId, std::span<const uint8_t>) {}
  // Urgent data ends before receive-stream offset `urgent_end` (RFC 9293 MUST-32/33).
  virtual void on_urgent(Endpoint&, ConnId, uint64_t /*urgent_end*/) {}
  // The peer acknowledged the send stream up to `acked_until`: those bytes can be forgotten.
  virtual void on_acked(Endpoint&, ConnId, uint64_t /*acked_until*/) {}
  // The peer sent FIN: no more data will come. The send side stays open until close().
  virtual void on_peer_closed(Endpoint&, ConnId) {}
  // The connection is over for the application; the ConnId may be reused after this returns.
  // Passive connections that never reached on_open() are not reported.
  virtual void on_closed(Endpoint&, ConnId, tcp::CloseReason) {}
  // Bytes [offset, offset + dst.size()) of this connection's send stream, written into `dst`.
  // Called while a segment is built, for new data and retransmissions alike: the application
  // owns its send stream and must keep unacknowledged bytes reproducible.
  virtual void fill_payload(Endpoint&, ConnId, uint64_t offset, std::span<uint8_t> dst) = 0;
};

}  // namespace linetcp::engine
