#!/usr/bin/env bash
# Integration: `linetcp flood` on its own, on a net_null port (which takes every frame): paced at
# 50,000 SYN/s for 2 s it sends that many within 2 %; unpaced it sends more; every mbuf comes back
# (exit 0, mbufs_leaked 0); bad arguments are refused with exit 2 and a line naming the option.
# No root, no hugepages.
# Usage: flood_test.sh LINETCP SRCROOT     Exit: 0 pass, 1 fail.
set -euo pipefail
linetcp="${1:?usage: flood_test.sh LINETCP SRCROOT}"
work="$(mktemp -d /tmp/linetcp-flood.XXXXXX)"
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; for f in "$work"/*.log; do echo "--- $f"; tail -n 15 "$f"; done; exit 1; }

# shellcheck disable=SC2054  # the comma is the vdev argument's own
eal=(-- -l 0 --no-huge --no-shconf --no-telemetry -m 256 --no-pci --vdev=net_null0,no-rx=1)
common=(--device net_null0 --target 10.0.0.1:80 --target-mac 02:00:00:00:00:01)

timeout 30 "$linetcp" flood "${common[@]}" --rate 50000 --duration 2 --report "$work/paced.json" "${eal[@]}" \
  >"$work/paced.log" 2>&1 || fail "paced flood: exit status $?"
timeout 30 "$linetcp" flood "${common[@]}" --duration 1 --sources 10.99.0.1-10.99.0.4 --source-ports 2000-2001 \
  --report "$work/max.json" "${eal[@]}" >"$work/max.log" 2>&1 || fail "unpaced flood: exit status $?"
python3 - "$work/paced.json" "$work/max.json" <<'PY' || fail "reports"
import json, sys
p = json.load(open(sys.argv[1])); m = json.load(open(sys.argv[2]))
for r in (p, m):
    assert r["mbufs_leaked"] == 0, r
    assert r["tx_queue_full"] == 0 and r["mbuf_exhausted"] == 0, r
want = 50000 * p["seconds"]
assert abs(p["syns_sent"] - want) <= 0.02 * want, f"paced: {p['syns_sent']} SYNs in {p['seconds']:.3f} s, want {want:.0f}"
assert m["syns_per_second"] > 2 * 50000, f"unpaced: only {m['syns_per_second']:.0f} SYN/s"
print(f"paced: {p['syns_sent']} SYNs in {p['seconds']:.3f} s ({p['syns_per_second']:.0f}/s, asked 50000); "
      f"unpaced: {m['syns_per_second']:.0f} SYN/s")
PY

# Refused before EAL starts: exit 2, one line naming the option.
check_refused() {  # expected-text args...
  local want="$1" rc=0
  shift
  "$linetcp" flood "$@" >"$work/bad.log" 2>&1 || rc=$?
  ((rc == 2)) || fail "flood $*: exit status $rc, want 2"
  grep -q -- "$want" "$work/bad.log" || fail "flood $*: no '$want' in: $(cat "$work/bad.log")"
}
check_refused "--target" --device x --target 10.0.0.1
check_refused "--target" --device x --target 10.0.0.300:80
check_refused "--sources" --device x --target 10.0.0.1:80 --sources 10.0.0.9-10.0.0.1
check_refused "--source-ports" --device x --target 10.0.0.1:80 --source-ports 0-10
check_refused "--target-mac" --device x --target 10.0.0.1:80 --target-mac 02:00:00
echo "PASS"
