#!/usr/bin/env bash
# Interop: the linetcp HTTP server on IPv6, the kernel's tools as clients through TAP: ping -6
# (NDP, ICMPv6 echo), curl -6 fetching a 1 MiB generated body (status, length, SHA-256), wrk
# with keep-alive and with Connection: close against the IPv6 address, and curl over IPv4 to the
# same server (dual stack). Passes when every check holds, wrk reports no socket errors and no
# non-2xx, and the server's report has no errors, its IPv6 connections counted as such.
# Usage: ipv6_server_test.sh LINETCP SRCROOT     Exit: 0 pass, 1 fail, 77 skip.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib6.sh"
lt_init v6s 10.81.20 "$@"
lt_require curl wrk sha256sum

size=1048576
ours6=fd00:81:20::2
lt_start server server --set "network.ipv6=[\"$ours6/64\"]" --set server.http.body_size=$size --set tcp.msl_s=1
lt6_enable fd00:81:20::1/64 "$ours6"
lt_ns ping -6 -c 3 -i 0.2 -s 1000 "$ours6" >/dev/null || lt_fail "ping -6 with 1000-byte payloads"

expected="$(lt_pattern_sha256 $size)"
for addr in "[$ours6]" "$LT_OUR_IP"; do
  meta="$(lt_ns curl -sS -g --noproxy '*' --max-time 30 -o "$LT_WORK/body" -w '%{http_code} %{size_download} %{remote_ip}' \
    "http://$addr/")" || lt_fail "curl http://$addr/ failed: $meta"
  read -r code got remote <<<"$meta"
  [[ "$code" == 200 && "$got" == "$size" ]] || lt_fail "curl http://$addr/: status $code, $got bytes"
  actual="$(sha256sum "$LT_WORK/body" | cut -d' ' -f1)"
  [[ "$actual" == "$expected" ]] || lt_fail "curl http://$addr/: sha256 $actual, expected $expected"
  echo "ok: curl $remote, $got bytes, sha256 intact"
done

for mode in keepalive close; do
  args=(-t 1 -c 16 -d 3 --timeout 5)
  [[ "$mode" == close ]] && args+=(-H "Connection: close")
  out="$LT_WORK/wrk-$mode.txt"
  lt_ns wrk "${args[@]}" "http://[$ours6]/" >"$out" 2>&1 || { cat "$out"; lt_fail "wrk -6 ($mode) failed"; }
  grep -q "Socket errors" "$out" && { cat "$out"; lt_fail "wrk -6 ($mode): socket errors"; }
  grep -q "Non-2xx" "$out" && { cat "$out"; lt_fail "wrk -6 ($mode): non-2xx responses"; }
  requests="$(awk '/requests in/ { print $1 }' "$out")"
  ((requests > 0)) || { cat "$out"; lt_fail "wrk -6 ($mode): no requests"; }
  echo "ok: wrk -6 $mode: $requests requests of $size bytes"
done

lt_stop server
lt_report "$LT_WORK/server.json" '
print("  accepted", c["endpoint.connections_accepted"], "over IPv6", c["endpoint.connections_accepted_ipv6"],
      "NA out", c["endpoint.ndp_advertisements_out"], "echo replies", c["endpoint.icmp6_echo_replies"])
assert t["errors"] == 0, t
assert c["endpoint.connections_accepted"] - c["endpoint.connections_accepted_ipv6"] == 1, c  # the IPv4 curl
assert c["endpoint.connections_accepted_ipv6"] >= 2, c
assert c["endpoint.icmp6_echo_replies"] >= 4 and c["endpoint.ndp_advertisements_out"] >= 1, c
assert c["endpoint.icmp6_bad"] == 0 and c["endpoint.ndp_bad"] == 0 and c["endpoint.ipv6_bad_header"] == 0, c'
echo "PASS: ping -6, curl -6 (1 MiB intact), wrk -6 keep-alive and close, curl over IPv4, no errors"
