// Aggregation of worker snapshots, the status line, the JSON report and the human summary.
#include "linetcp/control/stats.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

namespace linetcp::control {

// The field lists name every counter once: summing, reporting and telemetry all use them.
#define LINETCP_PORT_FIELDS(X) \
  X(rx_packets) X(tx_packets) X(rx_bytes) X(tx_bytes) X(tx_queue_full) X(mbuf_exhausted) X(rx_oversized) \
  X(rx_vlan_other) X(tx_prepare_failed) X(handoff_out) X(handoff_in) X(handoff_full) X(rx_missed) \
  X(rx_no_mbuf) X(rx_errors) X(tx_errors)
#define LINETCP_ENDPOINT_FIELDS(X)                                                               \
  X(frames_in) X(frames_out) X(eth_too_short) X(eth_not_for_us) X(eth_unknown_type) X(arp_in)    \
  X(eth_vlan_other)                                                                              \
  X(arp_bad) X(arp_replies_out) X(arp_requests_out) X(arp_table_full) X(ipv4_bad_header)         \
  X(ipv4_bad_checksum) X(ipv4_fragments) X(ipv4_not_for_us) X(ipv4_unknown_protocol)             \
  X(ipv4_bad_source) X(icmp_in) X(icmp_bad) X(icmp_echo_replies) X(icmp_errors_in)               \
  X(icmp_source_quench) X(tcp_bad_header) X(tcp_bad_checksum) X(tcp_bad_options)                \
  X(ipv6_bad_header) X(ipv6_fragments) X(ipv6_not_for_us) X(ipv6_unknown_protocol)             \
  X(ipv6_bad_source) X(ipv6_peers_full) X(icmp6_in) X(icmp6_bad) X(icmp6_echo_replies)            \
  X(icmp6_errors_in) X(ndp_bad) X(ndp_advertisements_out) X(ndp_solicitations_out)                \
  X(ndp_table_full) X(connections_opened_ipv6) X(connections_accepted_ipv6)                      \
  X(tcp_rst_sent_no_conn) X(tcp_no_conn_dropped) X(tcp_syn_fin) X(conn_table_full)               \
  X(tcb_pool_full) X(connections_parked) X(connections_unparked) X(app_calls_deferred)          \
  X(syn_backlog_full) X(syn_cookies_sent) X(syn_cookies_accepted) X(syn_cookies_rejected)        \
  X(time_wait_full) X(time_wait_hits) X(time_wait_reused) X(time_wait_rst_ignored)              \
  X(time_wait_rst_challenged) X(ports_exhausted)                                                 \
  X(control_queue_full) X(tx_deferred) X(arp_wait) X(connections_opened)                        \
  X(connections_accepted) X(connections_established) X(connections_closed) X(connections_failed) \
  X(connections_reset) X(connections_timed_out) X(syn_received_closed)
#define LINETCP_TCP_FIELDS(X)                                                                     \
  X(segments_in) X(segments_out) X(data_segments_in) X(retransmits) X(fast_retransmits)           \
  X(rto_expirations) X(syn_retransmits) X(dup_acks) X(out_of_order) X(ooo_no_buffer)              \
  X(duplicate_data) X(out_of_window) X(paws_rejected) X(ack_of_unsent) X(old_ack)                 \
  X(challenge_acks) X(challenge_acks_limited) X(resets_in) X(resets_ignored) X(resets_out)        \
  X(zero_window_probes) X(keepalive_probes) X(r1_exceeded) X(r2_timeouts) X(keepalive_timeouts)  \
  X(urgent_in) X(options_malformed) X(quick_acks) X(pushed_acks)
#define LINETCP_SERVER_FIELDS(X) \
  X(connections) X(requests) X(responses) X(bad_requests) X(bytes_in) X(no_buffer)
#define LINETCP_CLIENT_FIELDS(X)                                                                 \
  X(connections_started) X(connections_established) X(connections_closed) X(connect_failed)      \
  X(connections_reset) X(connections_timed_out) X(connect_no_port) X(requests) X(responses)      \
  X(status_2xx) X(status_other) X(bad_responses) X(echo_mismatches) X(incomplete) X(bytes_sent)  \
  X(bytes_received) X(schedule_backlog)
#define LINETCP_IMPAIR_FIELDS(X) \
  X(frames) X(dropped) X(duplicated) X(reordered) X(delayed) X(corrupted) X(queue_full) X(no_buffer)

void WorkerStats::add(const WorkerStats& o) {
  loops += o.loops;
  stalls += o.stalls;
  stall_ns += o.stall_ns;
  max_gap_ns = std::max(max_gap_ns, o.max_gap_ns);
  active_connections += o.active_connections;
  time_wait += o.time_wait;
  ports_available += o.ports_available;
  client_active += o.client_active;
  mbufs_in_use += o.mbufs_in_use;
  for (std::size_t i = 0; i < states.size(); ++i) states[i] += o.states[i];
#define ADD(f) port.f += o.port.f;
  LINETCP_PORT_FIELDS(ADD)
#undef ADD
#define ADD(f) endpoint.f += o.endpoint.f;
  LINETCP_ENDPOINT_FIELDS(ADD)
#undef ADD
#define ADD(f) tcp.f += o.tcp.f;
  LINETCP_TCP_FIELDS(ADD)
#undef ADD
#define ADD(f) http.f += o.http.f; echo.f += o.echo.f; discard.f += o.discard.f;
  LINETCP_SERVER_FIELDS(ADD)
#undef ADD
#define ADD(f) client.f += o.client.f;
  LINETCP_CLIENT_FIELDS(ADD)
#undef ADD
#define ADD(f) impairment.rx.f += o.impairment.rx.f; impairment.tx.f += o.impairment.tx.f;
  LINETCP_IMPAIR_FIELDS(ADD)
#undef ADD
  connect.merge(o.connect);
  first_byte.merge(o.first_byte);
  request.merge(o.request);
}

nlohmann::json counters_json(const WorkerStats& s) {
  nlohmann::json j = nlohmann::json::object();
#define PUT(group, obj, f) j[std::string(group) + "." #f] = s.obj.f;
#define P(f) PUT("port", port, f)
  LINETCP_PORT_FIELDS(P)
#undef P
#define P(f) PUT("endpoint", endpoint, f)
  LINETCP_ENDPOINT_FIELDS(P)
#undef P
#define P(f) PUT("tcp", tcp, f)
  LINETCP_TCP_FIELDS(P)
#undef P
#define P(f) PUT("http_server", http, f) PUT("echo_server", echo, f) PUT("discard_server", discard, f)
  LINETCP_SERVER_FIELDS(P)
#undef P
#define P(f) PUT("client", client, f)
  LINETCP_CLIENT_FIELDS(P)
#undef P
#define P(f) PUT("impair_rx", impairment.rx, f) PUT("impair_tx", impairment.tx, f)
  LINETCP_IMPAIR_FIELDS(P)
#undef P
#undef PUT
  return j;
}

namespace {
struct Totals {
  uint64_t connections, requests, responses, errors, bytes_sent, bytes_received;
};
Totals totals_of(Role role, const WorkerStats& s) {
  if (role == Role::kClient)
    return {s.client.connections_established, s.client.requests, s.client.responses, s.client.errors(),
            s.port.tx_bytes, s.port.rx_bytes};
  const uint64_t conns = s.endpoint.connections_accepted;
  const uint64_t reqs = s.http.requests + s.echo.requests;
  // A server's errors are its own failures: unparseable requests, echo without buffer, peers
  // that vanished (timeouts). Clients that reset their connections (wrk does at its end) are
  // counted in endpoint.connections_reset, not here.
  const uint64_t errs = s.http.bad_requests + s.echo.no_buffer + s.endpoint.connections_timed_out;
  return {conns, reqs, s.http.responses, errs, s.port.tx_bytes, s.port.rx_bytes};
}
uint64_t drops_of(const WorkerStats& s) {
  const auto& e = s.endpoint;
  return s.port.mbuf_exhausted + s.port.rx_oversized + s.port.rx_vlan_other + s.port.tx_prepare_failed +
         s.port.handoff_full + s.port.rx_missed + s.port.rx_no_mbuf + s.port.rx_errors + s.port.tx_errors +
         e.eth_too_short +
         e.ipv4_bad_header + e.ipv4_bad_checksum + e.ipv4_fragments + e.tcp_bad_header +
         e.tcp_bad_checksum + e.conn_table_full + e.tcb_pool_full + e.syn_backlog_full + e.control_queue_full +
         e.tcp_syn_fin + e.ipv6_bad_header + e.ipv6_fragments + e.ipv6_peers_full +
         s.tcp.ooo_no_buffer;
}
std::string human(double v) {
  char buf[32];
  if (v >= 1e9) std::snprintf(buf, sizeof buf, "%.2fG", v / 1e9);
  else if (v >= 1e6) std::snprintf(buf, sizeof buf, "%.2fM", v / 1e6);
  else if (v >= 1e4) std::snprintf(buf, sizeof buf, "%.1fk", v / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f", v);
  return buf;
}
std::string micros(uint64_t ns) {
  char buf[32];
  if (ns >= 10'000'000) std::snprintf(buf, sizeof buf, "%.1fms", static_cast<double>(ns) / 1e6);
  else std::snprintf(buf, sizeof buf, "%.1fus", static_cast<double>(ns) / 1e3);
  return buf;
}
nlohmann::json latency_json(const app::Histogram& h) {
  auto us = [](uint64_t ns) { return static_cast<double>(ns) / 1e3; };
  return {{"count", h.count()},          {"mean", h.mean() / 1e3},       {"p50", us(h.quantile(0.50))},
          {"p90", us(h.quantile(0.90))}, {"p99", us(h.quantile(0.99))}, {"p999", us(h.quantile(0.999))},
          {"max", us(h.max())}};
}
}  // namespace

std::string StatusReporter::line(const WorkerStats& now, double t) {
  const double dt = t - prev_t_ > 1e-6 ? t - prev_t_ : 1e-6;
  const Totals a = totals_of(role_, now);
  const Totals b = totals_of(role_, prev_);
  const double cps = static_cast<double>(a.connections - b.connections) / dt;
  const double rps = static_cast<double>(a.responses - b.responses) / dt;
  const double gin = static_cast<double>(now.port.rx_bytes - prev_.port.rx_bytes) * 8 / dt / 1e9;
  const double gout = static_cast<double>(now.port.tx_bytes - prev_.port.tx_bytes) * 8 / dt / 1e9;
  const uint64_t rtx = now.tcp.retransmits - prev_.tcp.retransmits;
  const uint64_t drops = drops_of(now) - drops_of(prev_);
  const uint64_t errors = a.errors - b.errors;
  const app::Histogram lat = now.request.since(prev_.request);
  char buf[512];
  int n = std::snprintf(buf, sizeof buf,
                        "[%5.1fs] conns/s %7s active %6u tw %6u | req/s %7s | Gb/s in %6.3f out %6.3f | rtx %" PRIu64
                        " drops %" PRIu64 " errors %" PRIu64,
                        t, human(cps).c_str(), now.active_connections, now.time_wait, human(rps).c_str(), gin,
                        gout, rtx, drops, errors);
  if (role_ == Role::kClient && n > 0 && static_cast<std::size_t>(n) < sizeof buf) {
    n += std::snprintf(buf + n, sizeof buf - static_cast<std::size_t>(n), " | lat p50 %s p99 %s",
                       micros(lat.quantile(0.5)).c_str(), micros(lat.quantile(0.99)).c_str());
  }
  // What the impairment stage did on purpose (run totals, not in `drops`), once it has acted.
  const engine::ImpairmentCounters& ir = now.impairment.rx;
  const engine::ImpairmentCounters& it = now.impairment.tx;
  const uint64_t acted = ir.dropped + ir.duplicated + ir.reordered + ir.delayed + ir.corrupted + it.dropped +
                         it.duplicated + it.reordered + it.delayed + it.corrupted;
  if (acted > 0 && n > 0 && static_cast<std::size_t>(n) < sizeof buf) {
    n += std::snprintf(buf + n, sizeof buf - static_cast<std::size_t>(n),
                       " | impair drop %" PRIu64 " dup %" PRIu64 " reord %" PRIu64 " delay %" PRIu64
                       " corrupt %" PRIu64 " full %" PRIu64,
                       ir.dropped + it.dropped, ir.duplicated + it.duplicated, ir.reordered + it.reordered,
                       ir.delayed + it.delayed, ir.corrupted + it.corrupted, ir.queue_full + it.queue_full);
  }
  // The limits a run can hit, named, so that a plateau is never a mystery.
  const auto grew = [&](uint64_t a, uint64_t b) { return a > b; };
  const char* limits[] = {
      grew(now.endpoint.ports_exhausted, prev_.endpoint.ports_exhausted) ? " | SOURCE PORTS EXHAUSTED" : "",
      grew(now.endpoint.conn_table_full, prev_.endpoint.conn_table_full) ? " | CONNECTION TABLE FULL" : "",
      grew(now.endpoint.tcb_pool_full, prev_.endpoint.tcb_pool_full) ? " | FULL TCP STATES BUSY" : "",
      grew(now.endpoint.time_wait_full, prev_.endpoint.time_wait_full) ? " | TIME_WAIT QUEUE FULL" : "",
      grew(now.port.mbuf_exhausted, prev_.port.mbuf_exhausted) ? " | MBUFS EXHAUSTED" : ""};
  for (const char* l : limits) {
    if (n > 0 && static_cast<std::size_t>(n) < sizeof buf && *l)
      n += std::snprintf(buf + n, sizeof buf - static_cast<std::size_t>(n), "%s", l);
  }
  series_.push_back({{"t", t},
                     {"connections_per_s", cps},
                     {"requests_per_s", rps},
                     {"active", now.active_connections},
                     {"time_wait", now.time_wait},
                     {"mbufs_in_use", now.mbufs_in_use},
                     {"gbps_in", gin},
                     {"gbps_out", gout},
                     {"retransmits", rtx},
                     {"drops", drops},
                     {"errors", errors},
                     {"latency_p50_us", static_cast<double>(lat.quantile(0.5)) / 1e3},
                     {"latency_p99_us", static_cast<double>(lat.quantile(0.99)) / 1e3}});
  prev_ = now;
  prev_t_ = t;
  return buf;
}

nlohmann::json worker_json(Role role, uint32_t index, const WorkerStats& s) {
  const Totals t = totals_of(role, s);
  return {{"index", index},           {"connections", t.connections},   {"requests", t.requests},
          {"responses", t.responses}, {"errors", t.errors},             {"active", s.active_connections},
          {"handoff_out", s.port.handoff_out}, {"handoff_in", s.port.handoff_in}, {"loops", s.loops},
          {"stalls", s.stalls},       {"stall_ms", static_cast<double>(s.stall_ns) / 1e6},
          {"max_gap_us", static_cast<double>(s.max_gap_ns) / 1e3}};
}

nlohmann::json make_report(const Config& config, const WorkerStats& s, double elapsed, const nlohmann::json& series,
                           const nlohmann::json& workers) {
  const Totals t = totals_of(config.role, s);
  const double secs = elapsed > 1e-9 ? elapsed : 1e-9;
  nlohmann::json j;
  j["linetcp_version"] = "0.1.0";
  j["role"] = std::string(to_string(config.role));
  j["duration_s"] = elapsed;
  j["config"] = to_json(config);
  j["totals"] = {{"connections", t.connections}, {"requests", t.requests},   {"responses", t.responses},
                 {"errors", t.errors},           {"bytes_sent", t.bytes_sent}, {"bytes_received", t.bytes_received}};
  j["rates"] = {{"connections_per_s", static_cast<double>(t.connections) / secs},
                {"requests_per_s", static_cast<double>(t.responses) / secs},
                {"gbps_in", static_cast<double>(s.port.rx_bytes) * 8 / secs / 1e9},
                {"gbps_out", static_cast<double>(s.port.tx_bytes) * 8 / secs / 1e9}};
  j["latency_us"] = {{"connect", latency_json(s.connect)},
                     {"first_byte", latency_json(s.first_byte)},
                     {"request", latency_json(s.request)}};
  j["series"] = series;
  j["workers"] = workers;
  nlohmann::json states = nlohmann::json::object();
  for (std::size_t i = 0; i < s.states.size(); ++i) states[tcp::to_string(static_cast<tcp::State>(i))] = s.states[i];
  j["states"] = states;
  j["counters"] = counters_json(s);
  return j;
}

std::string summary_text(const Config& config, const WorkerStats& s, double elapsed) {
  const Totals t = totals_of(config.role, s);
  const double secs = elapsed > 1e-9 ? elapsed : 1e-9;
  std::string out;
  char buf[256];
  auto add = [&](const char* fmt, auto... args) {
    std::snprintf(buf, sizeof buf, fmt, args...);
    out += buf;
  };
  add("linetcp %s: %.2f s\n", std::string(to_string(config.role)).c_str(), elapsed);
  add("  connections  %" PRIu64 " (%.0f/s)\n", t.connections, static_cast<double>(t.connections) / secs);
  add("  requests     %" PRIu64 "  responses %" PRIu64 " (%.0f/s)\n", t.requests, t.responses,
      static_cast<double>(t.responses) / secs);
  add("  bytes        sent %" PRIu64 "  received %" PRIu64 " (%.3f / %.3f Gb/s)\n", t.bytes_sent, t.bytes_received,
      static_cast<double>(t.bytes_sent) * 8 / secs / 1e9, static_cast<double>(t.bytes_received) * 8 / secs / 1e9);
  add("  errors       %" PRIu64 "  retransmits %" PRIu64 "  drops %" PRIu64 "\n", t.errors, s.tcp.retransmits,
      drops_of(s));
  // A latency tail with stalls beside it is the machine's, not the stack's.
  add("  stalls       %" PRIu64 " (loop gaps >= %" PRIu64 " us, %.1f ms in all, longest %.1f us)\n", s.stalls,
      WorkerStats::kStallNs / 1000, static_cast<double>(s.stall_ns) / 1e6, static_cast<double>(s.max_gap_ns) / 1e3);
  const engine::ImpairmentStats& im = s.impairment;
  if (im.rx.frames + im.tx.frames > 0 && config.port.impairment.enabled()) {
    add("  impairment   rx: dropped %" PRIu64 " duplicated %" PRIu64 " reordered %" PRIu64 " delayed %" PRIu64
        " corrupted %" PRIu64 " queue full %" PRIu64 "\n",
        im.rx.dropped, im.rx.duplicated, im.rx.reordered, im.rx.delayed, im.rx.corrupted, im.rx.queue_full);
    add("               tx: dropped %" PRIu64 " duplicated %" PRIu64 " reordered %" PRIu64 " delayed %" PRIu64
        " corrupted %" PRIu64 " queue full %" PRIu64 "\n",
        im.tx.dropped, im.tx.duplicated, im.tx.reordered, im.tx.delayed, im.tx.corrupted, im.tx.queue_full);
  }
  if (config.role == Role::kClient) {
    auto lat = [&](const char* name, const app::Histogram& h) {
      add("  %-12s p50 %s  p90 %s  p99 %s  p99.9 %s  max %s\n", name, micros(h.quantile(0.5)).c_str(),
          micros(h.quantile(0.9)).c_str(), micros(h.quantile(0.99)).c_str(), micros(h.quantile(0.999)).c_str(),
          micros(h.max()).c_str());
    };
    lat("connect", s.connect);
    lat("first byte", s.first_byte);
    lat("request", s.request);
    add("  client       2xx %" PRIu64 "  non-2xx %" PRIu64 "  bad %" PRIu64 "  echo mismatches %" PRIu64
        "  refused/timeout %" PRIu64 "  resets %" PRIu64 "\n",
        s.client.status_2xx, s.client.status_other, s.client.bad_responses, s.client.echo_mismatches,
        s.client.connect_failed, s.client.connections_reset);
  }
  return out;
}

}  // namespace linetcp::control
