#!/usr/bin/env bash
# Integration: a linetcp client load-testing a linetcp server over a real DPDK link. LINK is memif
# (two processes, shared memory, hugepages), virtio (two processes as virtio-user ports on
# dpdk-testpmd hosting two vhost-user ports in io forward mode, hugepages) or ring (one process,
# `linetcp pair`, two net_ring ports joined back to back, no hugepages). MODE is short (one HTTP request per
# connection), keepalive (unlimited requests per connection), echo (every byte verified) or
# discard (bulk). Passes when the client saw zero errors, every connection closed on both sides,
# and the two sides agree: connections opened = accepted, requests = responses.
# Usage: pair_test.sh LINETCP SRCROOT LINK MODE     Exit: 0 pass, 1 fail, 77 skip.
set -euo pipefail

linetcp="${1:?usage: pair_test.sh LINETCP SRCROOT LINK MODE}"
srcroot="${2:?}"
link="${3:?}"
mode="${4:?}"
seconds="${PAIR_SECONDS:-3}"

# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lt_pair_setup ltp "$link" "pair.$link.$mode"

case "$link" in
  memif)
    server_vdev="net_memif0,role=server,socket=$work/memif.sock"
    client_vdev="net_memif0,role=client,socket=$work/memif.sock"
    device=net_memif0
    mem=("\"--in-memory\"")
    ;;
  virtio)
    lt_start_vhost_switch
    server_vdev="virtio_user0,path=$work/vh0.sock"
    client_vdev="virtio_user0,path=$work/vh1.sock"
    device=virtio_user0
    ;;
  ring) ;;
  *) echo "unknown link $link"; exit 2 ;;
esac

eal() {  # core prefix vdev
  if [[ "$link" == virtio ]]; then
    echo "[\"-l\",\"$1\",\"--file-prefix=ltp${id}$2\",\"--single-file-segments\",\"--no-pci\",\"--vdev=$3\"]"
  else
    echo "[\"-l\",\"$1\",${mem[0]},\"--no-pci\",\"--vdev=$3\"]"
  fi
}

client_opts=()
case "$mode" in
  short) client_opts=(--set client.protocol=\"http\" --set client.concurrency=200 --set client.requests_per_connection=1) ;;
  keepalive) client_opts=(--set client.protocol=\"http\" --set client.concurrency=50 --set client.requests_per_connection=0) ;;
  echo) client_opts=(--set client.protocol=\"echo\" --set client.target=10.0.0.1:7 --set client.concurrency=50
                     --set client.requests_per_connection=100 --set client.request_size=3000) ;;
  rate) seconds=10
        client_opts=(--set client.protocol=\"http\" --set client.concurrency=100 --set client.requests_per_connection=0
                     --set client.request_rate=20000) ;;
  discard) client_opts=(--set client.protocol=\"discard\" --set client.target=10.0.0.1:9 --set client.concurrency=4
                        --set client.requests_per_connection=0 --set client.request_size=1000000) ;;
  *) echo "unknown mode $mode"; exit 2 ;;
esac

if [[ "$link" == ring ]]; then
  client_sets=()
  for ((i = 0; i < ${#client_opts[@]}; i += 2)); do client_sets+=(--client-set "${client_opts[i + 1]}"); done
  timeout 90 "$linetcp" pair --server-config "$srcroot/config/server-memif.toml" \
    --client-config "$srcroot/config/client-memif.toml" --set tcp.msl_s=0.2 --set status.interval_s=0 \
    --server-set 'server.echo.port=7' --server-set 'server.discard.port=9' "${client_sets[@]}" \
    --duration "$seconds" --report "$work/client.json" --server-report "$work/server.json" \
    >"$work/pair.log" 2>&1 || fail "linetcp pair failed"
else
  "$linetcp" server --config "$srcroot/config/server-memif.toml" --set "dpdk.eal=$(eal 0 s "$server_vdev")" \
    --set port.device="$device" --set tcp.msl_s=0.2 --set status.interval_s=0 \
    --set 'server.echo.port=7' --set 'server.discard.port=9' \
    --report "$work/server.json" >"$work/server.log" 2>&1 &
  server_pid=$!
  pids+=("$server_pid")
  lt_wait_started "$work/server.log" "$server_pid" || fail "the server did not start"

  # The client lingers after its run (port open, not polling) so that the server stops first:
  # DPDK 22.11's memif can crash a process that polls while its peer disconnects.
  timeout 90 "$linetcp" client --config "$srcroot/config/client-memif.toml" --set "dpdk.eal=$(eal 1 c "$client_vdev")" \
    --set port.device="$device" --set tcp.msl_s=0.2 --set status.interval_s=0 --duration "$seconds" \
    "${client_opts[@]}" --report "$work/client.json" --linger 60 >"$work/client.log" 2>&1 &
  client_pid=$!
  pids+=("$client_pid")
  lt_wait_report "$work/client.json" "$client_pid" $((seconds * 10 + 300))
  # Stop the server (it lets its closes under way, LAST-ACK, finish first), then the client.
  kill -TERM "$server_pid"
  wait "$server_pid" || fail "the server exited with an error"
  kill -TERM "$client_pid"
  wait "$client_pid" || fail "the client exited with an error (mbufs not returned?)"
fi

python3 - "$work/client.json" "$work/server.json" "$mode" "$srcroot/docs/report.schema.json" <<'PY' || fail "the reports disagree"
import copy, json, sys
import jsonschema
c = json.load(open(sys.argv[1])); s = json.load(open(sys.argv[2])); mode = sys.argv[3]
schema = json.load(open(sys.argv[4]))
# Both reports follow docs/report.schema.json, and the schema does reject a broken one.
jsonschema.validate(c, schema)
jsonschema.validate(s, schema)
broken = copy.deepcopy(c); del broken["totals"]["errors"]
try:
    jsonschema.validate(broken, schema); print("schema accepted a report without totals.errors"); sys.exit(1)
except jsonschema.ValidationError:
    pass
cc, sc = c["counters"], s["counters"]
problems = []
def check(cond, what):
    if not cond: problems.append(what)
check(c["totals"]["errors"] == 0, f"client errors: {c['totals']['errors']}")
check(c["totals"]["responses"] > 0, "no responses at all")
check(cc["client.connections_established"] == sc["endpoint.connections_accepted"],
      f"opened {cc['client.connections_established']} != accepted {sc['endpoint.connections_accepted']}")
check(cc["client.connections_closed"] == cc["client.connections_started"],
      f"client: {cc['client.connections_started'] - cc['client.connections_closed']} connections not closed")
# Closed = accepted + the handshakes the client gave up at its stop (it deletes a connection still
# in SYN-SENT, RFC 9293 §3.10.4, and resets the SYN-ACK that follows).
check(sc["endpoint.connections_accepted"] + sc["endpoint.syn_received_closed"] == sc["endpoint.connections_closed"],
      f"server: {sc['endpoint.connections_accepted'] + sc['endpoint.syn_received_closed'] - sc['endpoint.connections_closed']} connections not closed")
if mode in ("short", "keepalive"):
    check(cc["client.responses"] == sc["http_server.responses"],
          f"responses {cc['client.responses']} != server responses {sc['http_server.responses']}")
    check(cc["client.status_2xx"] == cc["client.responses"], "non-2xx responses")
if mode == "echo":
    check(cc["client.echo_mismatches"] == 0, "echo bytes differ")
    check(cc["client.bytes_received"] == sc["echo_server.bytes_in"], "echoed bytes != bytes the server got")
if mode == "rate":
    # Constant-rate mode: requests started on the timetable, within 1 % of the asked rate.
    achieved = c["totals"]["requests"] / c["duration_s"]
    check(abs(achieved - 20000) / 20000 < 0.01, f"constant rate: {achieved:.0f} requests/s, asked 20000")
    print(f"rate: {achieved:.1f} requests/s over {c['duration_s']:.2f} s (asked 20000)")
if mode == "discard":
    check(sc["discard_server.bytes_in"] > 0 and sc["discard_server.bytes_in"] <= cc["client.bytes_sent"], "discard bytes")
print(f"{mode}: {cc['client.connections_established']} connections, {cc['client.responses']} responses, "
      f"{cc['client.bytes_sent']} bytes sent, retransmits {cc.get('tcp.retransmits', 0)}")
if problems:
    print("\n".join(problems)); sys.exit(1)
PY
echo "PASS"
