#!/usr/bin/env bash
# The engine's prefetch helpers still contain a prefetch instruction once compiled. GCC had deleted
# every call to a function that does nothing but prefetch (it found such functions "const"; see
# base/compiler.hpp), which left Endpoint::prefetch_input a bare `ret` (seen on commit 3fe6207).
# Usage: prefetch_kept_test.sh OBJDUMP LIBRARY
set -euo pipefail
objdump=$1
lib=$2
listing=$("$objdump" -d -C --no-show-raw-insn "$lib")
status=0
for fn in linetcp::engine::Endpoint::prefetch_input linetcp::engine::Endpoint::prefetch_next_connect; do
  body=$(awk -v f="<$fn(" 'index($0, f) && /^[0-9a-f]+ </ {p = 1; next} p && /^$/ {exit} p' <<<"$listing")
  if [[ -z $body ]]; then
    echo "FAIL: $fn not found in $lib"
    status=1
  elif ! grep -qE '^ *[0-9a-f]+:\s+prefetch' <<<"$body"; then  # the mnemonic, not a jump label
    echo "FAIL: $fn has no prefetch instruction:"
    echo "$body"
    status=1
  else
    echo "ok: $fn prefetches ($(grep -cE '^ *[0-9a-f]+:\s+prefetch' <<<"$body") instruction(s))"
  fi
done
exit "$status"
