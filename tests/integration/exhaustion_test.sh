#!/usr/bin/env bash
# Integration: running out of resources, survived and counted. `linetcp pair` (one process, two
# net_ring ports, no hugepages), an echo client whose every byte is verified against what it sent
# (HTTP for mempool):
#   table   the server's connection table holds 16, the client wants 48 at once: SYNs beyond the
#           table are dropped (endpoint.conn_table_full; no SYN cookie, which would promise a
#           connection with no slot to hold it) and retried by the client until a slot frees; the
#           connections the server holds are unharmed (none reset or timed out).
#   backlog the server's SYN backlog holds 1: SYNs that arrive while another handshake is under way
#           are answered by SYN cookies (endpoint.syn_backlog_full, syn_cookies_sent), and the
#           cookies' ACKs open connections (syn_cookies_accepted) that carry verified bytes.
#   mempool the server's pool is the smallest there is (1023 mbufs, no cache), it serves 1 MiB
#           HTTP bodies on 32 keep-alive connections to a client that takes one frame per loop:
#           its transmissions run the pool dry (port.mbuf_exhausted), the endpoint waits
#           (endpoint.tx_deferred) and carries on once the client frees buffers; every response
#           arrives whole (length checked, not bytes: the HTTP client does not verify content).
#   txfull  the wire holds 64 frames each way (--ring-size 64): the TX queue refuses bursts
#           (port.tx_queue_full), refused frames wait for the next flush, nothing is dropped
#           (no mbuf, TX or RX drop anywhere; every byte verified).
# Each passes when the client saw zero errors and zero echo mismatches, the bytes echoed equal the
# bytes the server took in, the named counter moved, the run kept answering after the last
# exhaustion (requests in its final second), and linetcp exited 0 (every mbuf back in its pool).
# Usage: exhaustion_test.sh LINETCP SRCROOT MODE     Exit: 0 pass, 1 fail, 77 skip.
set -euo pipefail
linetcp="${1:?usage: exhaustion_test.sh LINETCP SRCROOT MODE}"
srcroot="${2:?}"
mode="${3:?}"
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lt_require python3

work="$(mktemp -d "/tmp/linetcp-exhaust.$mode.XXXXXX")"
cleanup() { if [[ -n "${LT_KEEP_WORK:-}" ]]; then echo "kept $work"; else rm -rf "$work"; fi; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -n 30 "$work/pair.log"; exit 1; }

seconds=4
server_config="$srcroot/config/server-memif.toml"
server=(--server-set server.echo.port=7)
client=(--client-set 'client.protocol="echo"' --client-set client.target=10.0.0.1:7)
extra=()
case "$mode" in
  table | backlog)
    if [[ "$mode" == table ]]; then server+=(--server-set tcp.max_connections=16)
    else server+=(--server-set tcp.syn_backlog=1); fi
    # Requests of one segment: the cookie's ACK and the request after it both carry SEG.SEQ =
    # ISN + 1, so either (or its retransmission) can take a slot once one is free. SYNs retried
    # from 200 ms: the client's last handshakes finish within its 5 s grace after the run.
    client+=(--client-set client.concurrency=48 --client-set client.requests_per_connection=20
             --client-set client.request_size=1000 --client-set tcp.rto_initial_ms=200)
    ;;
  mempool)
    # HTTP, 1 MiB bodies (the client checks each length), 32 keep-alive connections behind 1 MiB
    # receive windows, a client that takes one frame per loop (dpdk.rx_burst = 1): the server
    # may have ~700 frames per connection on the wire, far more than its 1023 mbufs, and it
    # sends them faster than the client takes them.
    grep -v '^body = ' "$srcroot/config/server-memif.toml" >"$work/server.toml"
    server_config="$work/server.toml"
    server+=(--server-set dpdk.mbufs=1023 --server-set dpdk.mbuf_cache=0 --server-set server.http.body_size=1048576)
    client=(--client-set 'client.protocol="http"' --client-set client.concurrency=32
            --client-set client.requests_per_connection=0 --client-set tcp.rcv_buffer=1048576
            --client-set dpdk.rx_burst=1)
    ;;
  txfull)
    extra=(--ring-size 64)
    client+=(--client-set client.concurrency=32 --client-set client.requests_per_connection=0
             --client-set client.request_size=65536)
    ;;
  *) echo "unknown mode $mode"; exit 2 ;;
esac

start=$(date +%s.%N)
timeout 90 "$linetcp" pair --server-config "$server_config" \
  --client-config "$srcroot/config/client-memif.toml" --set tcp.msl_s=0.2 --set status.interval_s=1 \
  "${server[@]}" "${client[@]}" "${extra[@]}" --duration "$seconds" \
  --report "$work/client.json" --server-report "$work/server.json" >"$work/pair.log" 2>&1 ||
  fail "linetcp pair exited with status $? (1: an error or mbufs not returned to their pool)"
echo "pair ran $(python3 -c "import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 1))" "$start" "$(date +%s.%N)") s"

python3 - "$work/client.json" "$work/server.json" "$mode" <<'PY' || fail "checks"
import json, sys
c = json.load(open(sys.argv[1])); s = json.load(open(sys.argv[2])); mode = sys.argv[3]
cc, sc = c["counters"], s["counters"]
problems = []
def check(cond, what):
    if not cond: problems.append(what)
check(c["totals"]["errors"] == 0, f"client errors: {c['totals']['errors']}")
check(s["totals"]["errors"] == 0, f"server errors: {s['totals']['errors']}")
check(cc["client.responses"] > 0, "no responses")
if mode == "mempool":
    # Every response complete (its length checked), 2xx, and as many as the server sent.
    check(cc["client.responses"] == sc["http_server.responses"], "responses differ")
    check(cc["client.status_2xx"] == cc["client.responses"], "non-2xx responses")
    check(cc["client.incomplete"] == 0 and cc["client.bad_responses"] == 0, "incomplete or bad responses")
else:
    check(cc["client.echo_mismatches"] == 0, f"echo mismatches: {cc['client.echo_mismatches']}")
    check(cc["client.bytes_received"] == sc["echo_server.bytes_in"],
          f"echoed {cc['client.bytes_received']} != server took in {sc['echo_server.bytes_in']}")
# Every connection was closed in the end: those still in SYN-SENT at the stop (their SYN dropped by
# the full server, the retry due later) are deleted (RFC 9293 §3.10.4), and a SYN-ACK that
# reaches one after is reset, which closes the server's SYN-RECEIVED.
check(cc["client.connections_closed"] == cc["client.connections_started"], "client: connections left open")
check(sc["endpoint.connections_closed"] == sc["endpoint.connections_accepted"] + sc["endpoint.syn_received_closed"],
      "server: connections left open")
print(f"{mode}: never established (SYN-SENT at the stop): "
      f"{cc['client.connections_started'] - cc['client.connections_established']}")
# Still answering at the end: echoed bytes in the last full second of the run.
last = [p for p in c["series"] if p["t"] <= c["duration_s"]][-1]
check(last["gbps_in"] > 0, f"nothing came back in the last second: {last}")
# No connection was harmed: none reset, none timed out, on either side. The one exception: a
# server handshake (SYN-RECEIVED) whose client gave it up at the stop is reset when its SYN-ACK
# arrives, and counted among the resets and in syn_received_closed.
for k in ("endpoint.connections_reset", "endpoint.connections_timed_out"):
    allowed = sc["endpoint.syn_received_closed"] if k == "endpoint.connections_reset" else 0
    check(sc[k] <= allowed and cc[k] == 0, f"{k}: server {sc[k]} (allowed {allowed}), client {cc[k]}")
e = lambda k: sc["endpoint." + k]
if mode == "table":
    check(e("conn_table_full") > 0, "the table never filled")
    check(e("syn_cookies_sent") == 0, "a cookie was sent for a full table")
    check(cc["tcp.syn_retransmits"] > 0, "no SYN was retransmitted")
    check(cc["client.connections_established"] > 48, "fewer connections than the client's concurrency")
if mode == "backlog":
    check(e("syn_backlog_full") > 0, "the backlog never filled")
    check(e("syn_cookies_sent") > 0 and e("syn_cookies_accepted") > 0, "no cookies sent or accepted")
    check(e("syn_cookies_rejected") == 0, "a cookie was rejected")
if mode in ("table", "backlog"):
    print(f"{mode}: conn_table_full {e('conn_table_full')}, syn_backlog_full {e('syn_backlog_full')}, cookies "
          f"sent {e('syn_cookies_sent')} accepted {e('syn_cookies_accepted')}, client SYN retransmits "
          f"{cc['tcp.syn_retransmits']}, connections {cc['client.connections_established']}")
if mode == "mempool":
    check(sc["port.mbuf_exhausted"] > 0, "the pool never ran dry")
    print(f"mempool: port.mbuf_exhausted {sc['port.mbuf_exhausted']}, endpoint.tx_deferred {e('tx_deferred')}, "
          f"retransmits {sc['tcp.retransmits']}")
if mode == "txfull":
    check(sc["port.tx_queue_full"] + cc["port.tx_queue_full"] > 0, "the TX queue never refused a frame")
    # Nothing dropped: refused frames wait (a retransmission here is a spurious RTO on a slow,
    # shared machine, not a loss: every byte is verified either way).
    for k in ("port.mbuf_exhausted", "port.tx_errors", "port.rx_missed", "endpoint.control_queue_full"):
        check(sc[k] == 0 and cc[k] == 0, f"{k}: server {sc[k]}, client {cc[k]}")
    print(f"txfull: port.tx_queue_full server {sc['port.tx_queue_full']} client {cc['port.tx_queue_full']}, "
          f"endpoint.tx_deferred {e('tx_deferred')}, retransmits server {sc['tcp.retransmits']} "
          f"client {cc['tcp.retransmits']}")
print(f"{mode}: {cc['client.responses']} responses verified, {cc['client.bytes_received']} bytes, "
      f"{cc['client.connections_established']} connections")
if problems:
    print("\n".join(problems)); sys.exit(1)
PY
echo "PASS: $mode"
