#!/usr/bin/env bash
# Integration: configuration mistakes are reported before EAL init, with exit status 2 and the
# name of the offending key. Three cases on a copy of config/server-tap.toml: an unknown key in
# [tcp] (msll_s, a typo of msl_s), a value of the wrong type (tcp.mss = "big"), and an unknown
# key given on the command line (--set tcp.bogus=1). Needs neither root nor DPDK.
# Usage: config_error_test.sh LINETCP SRCROOT     Exit: 0 pass, 1 fail.
set -euo pipefail

linetcp="${1:?usage: config_error_test.sh LINETCP SRCROOT}"
srcroot="${2:?usage: config_error_test.sh LINETCP SRCROOT}"
config="$srcroot/config/server-tap.toml"

[[ -x "$linetcp" ]] || { echo "FAIL: linetcp executable not found at $linetcp"; exit 1; }
[[ -f "$config" ]] || { echo "FAIL: config not found: $config"; exit 1; }
command -v python3 >/dev/null || { echo "FAIL: python3 not installed (run scripts/setup)"; exit 1; }

tmp="$(mktemp -d /tmp/linetcp-config-test.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT

# Writes to OUT a copy of the config with KEY in [TABLE] set to the TOML literal VALUE: the key's
# line is replaced if the table has it, otherwise added under the table's header (or a new table
# at the end). With RENAME_FROM, that key's line is renamed to KEY instead, when present.
# Checks that the result parses and holds the key. Usage: edit_config OUT TABLE KEY VALUE [RENAME_FROM]
edit_config() {
  python3 - "$config" "$@" <<'PY'
import re, sys, tomllib
src, out, table, key, value = sys.argv[1:6]
rename_from = sys.argv[6] if len(sys.argv) > 6 else None
lines = open(src, encoding="utf-8").read().splitlines()
header = re.compile(r"^\s*\[\s*" + re.escape(table) + r"\s*\]\s*(#.*)?$")
any_header = re.compile(r"^\s*\[")
start = next((i for i, l in enumerate(lines) if header.match(l)), None)
if start is None:
    lines += ["", "[%s]" % table, "%s = %s" % (key, value)]
else:
    end = next((i for i in range(start + 1, len(lines)) if any_header.match(lines[i])), len(lines))
    def find(name):
        pat = re.compile(r"^\s*" + re.escape(name) + r"\s*=")
        return next((i for i in range(start + 1, end) if pat.match(lines[i])), None)
    at = find(rename_from) if rename_from else None
    if at is not None:
        lines[at] = re.sub(r"^(\s*)" + re.escape(rename_from), r"\g<1>" + key, lines[at])
    else:
        at = find(key)
        if at is not None:
            lines[at] = "%s = %s" % (key, value)
        else:
            lines.insert(start + 1, "%s = %s" % (key, value))
text = "\n".join(lines) + "\n"
parsed = tomllib.loads(text)
if key not in parsed.get(table, {}):
    sys.exit("edit_config: %s.%s not in the edited config" % (table, key))
open(out, "w", encoding="utf-8").write(text)
PY
}

failures=0

# Runs linetcp with ARGS; expects exit status 2 and WANT somewhere in its output.
# Usage: expect_config_error NAME WANT ARGS...
expect_config_error() {
  local name="$1" want="$2"
  shift 2
  local out="$tmp/$name.out" rc=0
  timeout 30 "$linetcp" "$@" >"$out" 2>&1 </dev/null || rc=$?
  if ((rc == 2)) && grep -qF -- "$want" "$out"; then
    echo "ok: $name: exit 2, names $want: $(grep -F -- "$want" "$out" | head -n 1)"
    return 0
  fi
  failures=$((failures + 1))
  echo "FAIL: $name: linetcp $*"
  if ((rc != 2)); then
    echo "  exit status $rc, expected 2$( ((rc == 124)) && echo ' (timed out after 30 s)')"
  fi
  grep -qF -- "$want" "$out" || echo "  output does not name $want"
  echo "  --- output (last 20 lines) ---"
  tail -n 20 "$out" | sed 's/^/  /'
}

edit_config "$tmp/unknown_key.toml" tcp msll_s 3 msl_s || exit 1
expect_config_error unknown_key msll_s server --config "$tmp/unknown_key.toml"

edit_config "$tmp/wrong_type.toml" tcp mss '"big"' || exit 1
expect_config_error wrong_type tcp.mss server --config "$tmp/wrong_type.toml"

expect_config_error unknown_override tcp.bogus server --config "$config" --set tcp.bogus=1

if ((failures > 0)); then
  echo "FAIL: $failures of 3 configuration errors not reported as expected"
  exit 1
fi
echo "PASS: unknown key, wrong type and unknown --set key all exit 2 naming the key"
