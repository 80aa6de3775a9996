#!/usr/bin/env bash
# Interop: ApacheBench (HTTP/1.0, the kernel's TCP) against the linetcp HTTP server:
# `ab -n 2000 -c 20` (a connection per request) and `ab -k -n 2000 -c 20` (HTTP/1.0 keep-alive).
# Passes when each run completes 2000 requests with 0 failed (connect, receive, length,
# exceptions), 0 write errors and no non-2xx; with -k every request kept alive; the server
# answered exactly 4000 requests and exits 0 with no errors.
# Usage: ab_test.sh LINETCP SRCROOT     Exit: 0 pass, 1 fail, 77 skip.
source "$(dirname "$0")/lib.sh"
lt_init ab 10.81.3 "$@"
lt_require ab

lt_start server server --set server.http.body_size=1024 --set tcp.msl_s=1
for mode in close keepalive; do
  args=(-n 2000 -c 20 -s 10)
  [[ "$mode" == keepalive ]] && args+=(-k)
  out="$LT_WORK/ab-$mode.txt"
  lt_ns timeout 120 ab "${args[@]}" "http://$LT_OUR_IP/" >"$out" 2>&1 || { cat "$out"; lt_fail "ab ($mode) failed"; }
  sed -n '/^Document Length/,/^Transfer rate/p' "$out"
  field() { awk -F: -v k="$1" '$1 == k { gsub(/^ +/, "", $2); split($2, a, " "); print a[1] }' "$out"; }
  [[ "$(field "Complete requests")" == 2000 ]] || lt_fail "ab ($mode): complete requests $(field "Complete requests")"
  [[ "$(field "Failed requests")" == 0 ]] || lt_fail "ab ($mode): failed requests $(field "Failed requests")"
  # ab prints "Write errors" only when there were some.
  [[ -z "$(field "Write errors")" ]] || lt_fail "ab ($mode): write errors $(field "Write errors")"
  [[ "$(field "Document Length")" == 1024 ]] || lt_fail "ab ($mode): document length $(field "Document Length")"
  grep -q "Non-2xx" "$out" && lt_fail "ab ($mode): non-2xx responses"
  if [[ "$mode" == keepalive ]]; then
    [[ "$(field "Keep-Alive requests")" == 2000 ]] || lt_fail "ab -k: keep-alive requests $(field "Keep-Alive requests")"
  fi
done
lt_stop server
lt_report "$LT_WORK/server.json" "
assert t['errors'] == 0, t
assert c['http_server.bad_requests'] == 0, c
assert c['http_server.requests'] == 4000 and c['http_server.responses'] == 4000, (c['http_server.requests'], c['http_server.responses'])
assert t['connections'] >= 2000 + 20, t
print('server: connections', t['connections'], 'responses', c['http_server.responses'], 'retransmits', c['tcp.retransmits'])
"
echo "PASS: ab 2000 requests with and without keep-alive, no failures"
