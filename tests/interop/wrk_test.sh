#!/usr/bin/env bash
# Interop: wrk (the kernel's TCP, 2 threads) against the linetcp HTTP server, a 1 KiB generated
# body: 4 s keep-alive with 64 connections, then 4 s with `Connection: close` (a new connection
# per request, linetcp closes after the response). Passes when wrk reports no socket errors
# (connect, read, write, timeout) and no non-2xx responses, every response wrk counted was served
# (server http_server.responses >= wrk's requests), and the server exits 0 with no errors.
# Usage: wrk_test.sh LINETCP SRCROOT     Exit: 0 pass, 1 fail, 77 skip.
source "$(dirname "$0")/lib.sh"
lt_init wrk 10.81.2 "$@"
lt_require wrk

lt_start server server --set server.http.body_size=1024 --set tcp.msl_s=1
total=0
for mode in keepalive close; do
  args=(-t2 -c64 -d4s --timeout 5s)
  [[ "$mode" == close ]] && args=(-t2 -c32 -d4s --timeout 5s -H "Connection: close")
  out="$LT_WORK/wrk-$mode.txt"
  lt_ns wrk "${args[@]}" "http://$LT_OUR_IP/" >"$out" 2>&1 || { cat "$out"; lt_fail "wrk ($mode) failed"; }
  cat "$out"
  grep -q "Socket errors" "$out" && lt_fail "wrk ($mode): socket errors"
  grep -q "Non-2xx" "$out" && lt_fail "wrk ($mode): non-2xx responses"
  n="$(awk '/requests in/ { print $1 }' "$out")"
  if ! [[ "$n" =~ ^[0-9]+$ ]] || ((n <= 100)); then lt_fail "wrk ($mode): only '${n:-no}' requests"; fi
  total=$((total + n))
done
lt_stop server
lt_report "$LT_WORK/server.json" "
assert t['errors'] == 0, t
assert c['http_server.bad_requests'] == 0, c
assert c['http_server.responses'] >= $total, (c['http_server.responses'], $total)
print('server: connections', t['connections'], 'responses', c['http_server.responses'],
      'wrk', $total, 'retransmits', c['tcp.retransmits'], 'drops', sum(v for k, v in c.items() if 'full' in k or 'exhausted' in k))
"
echo "PASS: wrk keep-alive and Connection: close, $total responses, no errors"
