#!/usr/bin/env bash
# Interop: curl (the kernel's TCP) fetches generated bodies of 0 B, 1 KiB, 1 MiB and 64 MiB from
# the linetcp HTTP server (server.http.body_size), one server run per size. Each fetch: status
# 200, Content-Length and bytes received equal to the size, SHA-256 equal to the pattern's
# (tests/interop/pattern.py); each server exits 0 on SIGTERM with no errors in its report.
# Usage: curl_bodies_test.sh LINETCP SRCROOT     Exit: 0 pass, 1 fail, 77 skip.
source "$(dirname "$0")/lib.sh"
lt_init cb 10.81.1 "$@"
lt_require curl sha256sum

for size in 0 1024 1048576 67108864; do
  expected="$(lt_pattern_sha256 "$size")"
  lt_start "server-$size" server --set server.http.body_size="$size" --set tcp.msl_s=1
  out="$LT_WORK/body-$size"
  meta="$(lt_ns curl -sS --noproxy '*' --max-time 60 -o "$out" -D "$LT_WORK/headers-$size" \
    -w '%{http_code} %{size_download}' "http://$LT_OUR_IP/")" || lt_fail "curl ($size B) failed: $meta"
  read -r code got <<<"$meta"
  [[ "$code" == 200 ]] || lt_fail "$size B: HTTP status $code"
  [[ "$got" == "$size" ]] || lt_fail "$size B: curl received $got bytes"
  length="$(tr -d '\r' <"$LT_WORK/headers-$size" | awk 'tolower($1) == "content-length:" { print $2 }')"
  [[ "$length" == "$size" ]] || lt_fail "$size B: Content-Length '$length'"
  actual="$(sha256sum "$out" | cut -d' ' -f1)"
  [[ "$actual" == "$expected" ]] || lt_fail "$size B: sha256 $actual, expected $expected"
  rm -f "$out"
  lt_stop "server-$size"
  lt_report "$LT_WORK/server-$size.json" '
assert t["errors"] == 0, t
assert c["http_server.responses"] == 1 and c["http_server.bad_requests"] == 0, c
print("  retransmits", c["tcp.retransmits"], "zero-window probes", c["tcp.zero_window_probes"])'
  echo "ok: $size B, sha256 $actual"
done
echo "PASS: curl fetched 0 B, 1 KiB, 1 MiB, 64 MiB bodies intact"
