#!/usr/bin/env bash
# Interop: 1 GiB each way between linetcp and the kernel, one connection each.
#   kernel -> linetcp: `head -c 1G /dev/zero | socat -u - TCP:SUBNET.2:9` into linetcp's discard
#     server; socat must exit 0 (all written, closed cleanly) and the server must count exactly
#     1 GiB received (discard_server.bytes_in).
#   linetcp -> kernel: curl fetches a 1 GiB generated body (server.http.body_size); status 200,
#     exactly 1 GiB, SHA-256 equal to the pattern's (tests/interop/pattern.py, computed meanwhile).
# The server exits 0 on SIGTERM with no errors.
# Usage: bulk_test.sh LINETCP SRCROOT     Exit: 0 pass, 1 fail, 77 skip.
source "$(dirname "$0")/lib.sh"
lt_init bulk 10.81.6 "$@"
lt_require curl socat sha256sum head

readonly GIB=1073741824
lt_pattern_sha256 "$GIB" >"$LT_WORK/expected" &
expected_pid=$!

lt_start server server --set server.http.body_size="$GIB" --set tcp.msl_s=1

start=$SECONDS
lt_ns timeout 150 bash -c "head -c $GIB /dev/zero | socat -u - TCP:$LT_OUR_IP:9,connect-timeout=5" ||
  lt_fail "socat (1 GiB to discard) failed"
echo "kernel -> linetcp: 1 GiB written in $((SECONDS - start)) s"

start=$SECONDS
meta="$(lt_ns bash -c "set -o pipefail; curl -sS --noproxy '*' --max-time 150 -w '%{http_code} %{size_download}' \
  -o >(sha256sum | cut -d' ' -f1 >'$LT_WORK/actual') http://$LT_OUR_IP/")" || lt_fail "curl (1 GiB) failed: $meta"
echo "linetcp -> kernel: 1 GiB read in $((SECONDS - start)) s"
read -r code got <<<"$meta"
[[ "$code" == 200 ]] || lt_fail "HTTP status $code"
[[ "$got" == "$GIB" ]] || lt_fail "curl received $got bytes, expected $GIB"
wait "$expected_pid" || lt_fail "pattern.py failed"
for ((i = 0; i < 100; i++)); do [[ -s "$LT_WORK/actual" ]] && break; sleep 0.1; done # sha256sum's end
[[ "$(cat "$LT_WORK/actual")" == "$(cat "$LT_WORK/expected")" ]] ||
  lt_fail "sha256 $(cat "$LT_WORK/actual"), expected $(cat "$LT_WORK/expected")"

lt_stop server
lt_report "$LT_WORK/server.json" "
assert t['errors'] == 0, t
assert c['discard_server.bytes_in'] == $GIB, ('discard received', c['discard_server.bytes_in'])
assert c['http_server.responses'] == 1, c['http_server.responses']
print('server: retransmits', c['tcp.retransmits'], 'out of order', c['tcp.out_of_order'],
      'zero-window probes', c['tcp.zero_window_probes'], 'fast retransmits', c['tcp.fast_retransmits'])
"
echo "PASS: 1 GiB kernel -> linetcp (discard) and 1 GiB linetcp -> kernel (sha256 $(cat "$LT_WORK/actual"))"
