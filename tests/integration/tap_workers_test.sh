#!/usr/bin/env bash
# Integration: a linetcp server with two workers on two lcores behind one two-queue TAP port, the
# kernel's wrk as the client (keep-alive, then Connection: close). The kernel spreads flows over
# the two queues by its own hash, linetcp steers each flow to the worker that owns it. Passes when
# wrk sees no socket errors and only 2xx, and the report shows both workers owning connections
# (their sum = the total) with handed-over frames counted.
# Usage: tap_workers_test.sh LINETCP SRCROOT     Exit: 0 pass, 1 fail, 77 skip.
set -euo pipefail
linetcp="${1:?usage: tap_workers_test.sh LINETCP SRCROOT}"
srcroot="${2:?}"
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lt_require tun wrk

iface="ltw$((RANDOM % 10000))"
work="$(mktemp -d /tmp/linetcp-tapworkers.XXXXXX)"
pid=""
cleanup() {
  [[ -n "$pid" ]] && lt_stop "$pid"
  ip link del "$iface" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -n 30 "$work/server.log" 2>/dev/null; cat "$work"/wrk*.txt 2>/dev/null; exit 1; }

"$linetcp" server --config "$srcroot/config/server-tap.toml" \
  --set "dpdk.eal=[\"-l\",\"0,1\",\"--no-huge\",\"--no-shconf\",\"-m\",\"512\",\"--no-pci\",\"--vdev=net_tap0,iface=$iface\"]" \
  --set dpdk.workers=2 --set dpdk.mbufs=8191 --set network.address=10.79.0.2/24 --set tcp.msl_s=1 \
  --set status.interval_s=0 --report "$work/report.json" >"$work/server.log" 2>&1 &
pid=$!
lt_wait_started "$work/server.log" "$pid" || fail "the server did not start"
ip addr add 10.79.0.1/24 dev "$iface"
ip link set "$iface" up
ping -c 1 -W 2 10.79.0.2 >/dev/null || fail "no ping answer"

wrk -t2 -c64 -d3s http://10.79.0.2/ >"$work/wrk-keepalive.txt" 2>&1 || fail "wrk (keep-alive) failed"
wrk -t2 -c32 -d3s -H "Connection: close" http://10.79.0.2/ >"$work/wrk-close.txt" 2>&1 || fail "wrk (close) failed"
for f in "$work"/wrk-*.txt; do
  grep -q "Socket errors" "$f" && fail "socket errors in $(basename "$f")"
  grep -q "Non-2xx" "$f" && fail "non-2xx responses in $(basename "$f")"
  grep -q "Requests/sec" "$f" || fail "no result in $(basename "$f")"
done
kill -TERM "$pid"
wait "$pid" || fail "the server did not exit cleanly"
pid=""
python3 - "$work/report.json" <<'PY' || fail "report"
import json, sys
r = json.load(open(sys.argv[1]))
w = r["workers"]
assert len(w) == 2, f"{len(w)} workers in the report"
for x in w:
    assert x["connections"] > 0, f"worker {x['index']} owned no connection: {w}"
assert sum(x["connections"] for x in w) == r["totals"]["connections"], "per-worker connections do not add up"
assert r["totals"]["errors"] == 0, f"server errors: {r['totals']['errors']}"
c = r["counters"]
print(f"workers: {[(x['index'], x['connections'], x['requests']) for x in w]}, "
      f"handed over {c['port.handoff_out']}, missed {c['port.rx_missed']}")
PY
grep -h "Requests/sec" "$work"/wrk-*.txt
echo PASS
