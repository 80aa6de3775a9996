#!/usr/bin/env bash
# Integration: `linetcp server --capture FILE` writes the frames of a run as pcap. The kernel's
# curl fetches a page through TAP; tshark must then find in the file the handshake (SYN, SYN-ACK),
# the request and the 200 response, and a FIN from each side.
# Usage: capture_test.sh LINETCP SRCROOT     Exit: 0 pass, 1 fail, 77 skip.
set -euo pipefail
linetcp="${1:?usage: capture_test.sh LINETCP SRCROOT}"
srcroot="${2:?}"
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lt_require tun tshark curl ss

iface="ltcap$((RANDOM % 1000))"
work="$(mktemp -d /tmp/linetcp-capture.XXXXXX)"
pid=""
cleanup() {
  [[ -n "$pid" ]] && lt_stop "$pid"
  ip link del "$iface" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -n 20 "$work/server.log"; [[ -f "$work/fields.txt" ]] && cat "$work/fields.txt"; exit 1; }

"$linetcp" server --config "$srcroot/config/server-tap.toml" \
  --set "dpdk.eal=[\"-l\",\"0\",\"--no-huge\",\"--no-shconf\",\"-m\",\"256\",\"--no-pci\",\"--vdev=net_tap0,iface=$iface\"]" \
  --set network.address=10.83.0.2/24 --set status.interval_s=0 --capture "$work/run.pcap" >"$work/server.log" 2>&1 &
pid=$!
lt_wait_started "$work/server.log" "$pid" || fail "the server did not start"
ip addr add 10.83.0.1/24 dev "$iface"
ip link set "$iface" up
curl -sS --noproxy '*' --max-time 5 -o /dev/null http://10.83.0.2/ || fail "curl failed"
# Both FINs are out once the kernel's socket is gone or in TIME-WAIT (bounded: 5 s).
for _ in $(seq 50); do
  [[ -z "$(ss -tanH dst 10.83.0.2 | grep -v TIME-WAIT)" ]] && break
  sleep 0.1
done
kill -TERM "$pid"
wait "$pid" || fail "the server did not exit cleanly"
pid=""
grep -q "capture: .* frames written" "$work/server.log" || fail "no capture written"

tshark -r "$work/run.pcap" -Y tcp -T fields -e ip.src -e tcp.flags.syn -e tcp.flags.ack -e tcp.flags.fin \
  -e http.request.method -e http.response.code >"$work/fields.txt" 2>/dev/null || fail "tshark cannot read the file"
count() { awk -F'\t' "$1" "$work/fields.txt" | wc -l; }
(($(count '$1=="10.83.0.1" && $2==1 && $3==0') == 1)) || fail "no SYN from the kernel"
(($(count '$1=="10.83.0.2" && $2==1 && $3==1') == 1)) || fail "no SYN-ACK from linetcp"
(($(count '$5=="GET"') == 1)) || fail "no GET"
(($(count '$6=="200"') == 1)) || fail "no 200 response"
(($(count '$1=="10.83.0.1" && $4==1') >= 1)) || fail "no FIN from the kernel"
(($(count '$1=="10.83.0.2" && $4==1') >= 1)) || fail "no FIN from linetcp"
echo "PASS: $(wc -l <"$work/fields.txt") TCP frames in the capture: handshake, GET, 200, FINs"
