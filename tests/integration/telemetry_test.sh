#!/usr/bin/env bash
# Integration: looking inside a running linetcp with the DPDK ecosystem's tools. A server on a TAP
# port (multi-process EAL, so hugepages) serves the kernel's wrk; meanwhile dpdk-telemetry.py
# reads /linetcp/stats, /linetcp/workers, /linetcp/conns and /linetcp/config, and dpdk-dumpcap
# captures the port while curl fetches a page, and tshark finds that fetch in the capture.
# Usage: telemetry_test.sh LINETCP SRCROOT     Exit: 0 pass, 1 fail, 77 skip.
set -euo pipefail
linetcp="${1:?usage: telemetry_test.sh LINETCP SRCROOT}"
srcroot="${2:?}"
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lt_require tun dpdk-telemetry.py dpdk-dumpcap tshark wrk curl
lt_require_hugepages 256  # multi-process EAL

id=$((RANDOM % 1000))
iface="lttm$id"
prefix="lttm$id"
work="$(mktemp -d /tmp/linetcp-telemetry.XXXXXX)"
pids=()
cleanup() {
  ((${#pids[@]} == 0)) || lt_stop "${pids[@]}"
  ip link del "$iface" 2>/dev/null || true
  rm -f /dev/hugepages/"$prefix"* 2>/dev/null || true
  rm -rf "/var/run/dpdk/$prefix" "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -n 20 "$work/server.log"; for f in "$work"/*.txt; do echo "--- $f"; head -c 2000 "$f"; done; exit 1; }

"$linetcp" server --config "$srcroot/config/server-tap.toml" \
  --set "dpdk.eal=[\"-l\",\"0\",\"--file-prefix=$prefix\",\"--no-pci\",\"--vdev=net_tap0,iface=$iface\"]" \
  --set network.address=10.86.0.2/24 --set status.interval_s=0 >"$work/server.log" 2>&1 &
server=$!
pids+=("$server")
lt_wait_started "$work/server.log" "$server" || fail "the server did not start"
ip addr add 10.86.0.1/24 dev "$iface"
ip link set "$iface" up
ping -c 1 -W 2 10.86.0.2 >/dev/null || fail "no ping answer"

# Telemetry while wrk holds 16 keep-alive connections open.
wrk -t1 -c16 -d4s http://10.86.0.2/ >"$work/wrk.txt" 2>&1 &
pids+=($!)
# Ask until the 16 connections are open (the state counts are published once a second), at most 3 s.
for _ in $(seq 30); do
  printf '/linetcp/stats\n/linetcp/workers\n/linetcp/conns\n/linetcp/config\n' |
    timeout 10 dpdk-telemetry.py -f "$prefix" >"$work/telemetry.txt" 2>&1 || fail "dpdk-telemetry.py failed"
  grep -q '"ESTABLISHED": 16' "$work/telemetry.txt" && break
  sleep 0.1
done
python3 - "$work/telemetry.txt" <<'PY' || fail "telemetry answers"
import json, sys
replies = {}
for line in open(sys.argv[1]):
    line = line.strip()
    if line.startswith("{"):
        replies.update(json.loads(line))
stats = replies["/linetcp/stats"]["server"]
assert stats["http_server_requests"] > 0, "no requests counted"
assert stats["endpoint_connections_accepted"] >= 16, stats["endpoint_connections_accepted"]
workers = replies["/linetcp/workers"]["server"]
assert workers["worker0"]["loops"] > 0
conns = replies["/linetcp/conns"]["server"]
assert conns["ESTABLISHED"] == 16, f"ESTABLISHED {conns['ESTABLISHED']}, wrk holds 16"
config = replies["/linetcp/config"]["server"]
assert config["network_address"] == "10.86.0.2/24"
print(f"telemetry: {stats['http_server_requests']} requests, {conns['ESTABLISHED']} established")
PY
wait "${pids[-1]}" || true

# dpdk-dumpcap, a secondary process, captures the port while curl fetches a page.
timeout 15 dpdk-dumpcap --file-prefix="$prefix" -i net_tap0 -w "$work/dump.pcapng" >"$work/dumpcap.txt" 2>&1 &
dumpcap=$!
pids+=("$dumpcap")
for _ in $(seq 50); do grep -q "Capturing on" "$work/dumpcap.txt" 2>/dev/null && break; sleep 0.1; done
# dumpcap says "Capturing on" before the server has turned capturing on, and its file lags: fetch
# until a response shows in the file (bounded: 20 fetches, each watched for 1 s).
captured=false
for _ in $(seq 20); do
  curl -sS --noproxy '*' --max-time 5 -o /dev/null http://10.86.0.2/ || fail "curl failed"
  for _ in $(seq 10); do
    if tshark -r "$work/dump.pcapng" -Y 'http.response.code == 200' -T fields -e http.response.code 2>/dev/null |
      grep -q 200; then
      captured=true
      break 2
    fi
    sleep 0.1
  done
done
$captured || fail "dpdk-dumpcap captured no response in 20 fetches"
kill -INT "$dumpcap"
wait "$dumpcap" || true
tshark -r "$work/dump.pcapng" -Y tcp -T fields -e tcp.flags.syn -e tcp.flags.ack -e http.response.code \
  >"$work/dump.txt" 2>/dev/null || fail "tshark cannot read the dumpcap file"
grep -qP '^1\t0' "$work/dump.txt" || fail "no SYN in the dumpcap capture"
grep -qP '^1\t1' "$work/dump.txt" || fail "no SYN-ACK in the dumpcap capture"
grep -qP '\t200$' "$work/dump.txt" || fail "no HTTP 200 in the dumpcap capture"
kill -TERM "$server"
wait "$server" || fail "the server did not exit cleanly"
echo "PASS: telemetry read during load; dpdk-dumpcap captured handshake and response"
