#!/usr/bin/env bash
# Integration: linetcp as a server on a TAP port, the Linux kernel as the client. Starts
# `linetcp server` with config/server-tap.toml on a uniquely named TAP interface, gives the kernel
# side 10.77.0.1/24, then checks ping to 10.77.0.2, an HTTP GET with curl (status 200, the
# configured body), and a clean exit (status 0 within 10 s) on SIGTERM.
# Usage: tap_server_test.sh LINETCP SRCROOT     Exit: 0 pass, 1 fail, 77 skip (not root, no TAP).
set -euo pipefail

readonly OUR_ADDR=10.77.0.2      # linetcp's address in config/server-tap.toml
readonly KERNEL_ADDR=10.77.0.1/24 # the kernel's side of the link
readonly SUBNET=10.77.0.0/24

linetcp="${1:?usage: tap_server_test.sh LINETCP SRCROOT}"
srcroot="${2:?usage: tap_server_test.sh LINETCP SRCROOT}"
config="$srcroot/config/server-tap.toml"

server_pid=""
iface=""
tmp=""
log=""

skip() {
  echo "SKIP: $*"
  exit 77
}

fail() {
  echo "FAIL: $*"
  if [[ -n "$log" && -s "$log" ]]; then
    echo "--- last 40 lines of the linetcp log ($log) ---"
    tail -n 40 "$log"
    echo "--- end of log ---"
  fi
  exit 1
}

server_alive() {
  [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null
}

# Waits up to $1 tenths of a second for the server to exit; returns 1 if it is still running.
wait_server_exit() {
  local i
  for ((i = 0; i < $1; i++)); do
    server_alive || return 0
    sleep 0.1
  done
  ! server_alive
}

cleanup() {
  local rc=$?
  trap - EXIT
  if server_alive; then
    kill -TERM "$server_pid" 2>/dev/null || true
    if ! wait_server_exit 50; then
      echo "cleanup: linetcp (pid $server_pid) ignored SIGTERM for 5 s; sending SIGKILL"
      kill -KILL "$server_pid" 2>/dev/null || true
      wait_server_exit 50 || true
    fi
  fi
  if [[ -n "$iface" ]] && ip link show dev "$iface" >/dev/null 2>&1; then
    ip link del dev "$iface" 2>/dev/null || true
  fi
  [[ -z "$tmp" ]] || rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# --- preconditions ---------------------------------------------------------------------------
[[ -x "$linetcp" ]] || fail "linetcp executable not found at $linetcp"
[[ -f "$config" ]] || fail "config not found: $config"
((EUID == 0)) || skip "needs root (TAP interfaces, ip addr)"
[[ -c /dev/net/tun ]] || skip "/dev/net/tun is missing"
for tool in ip ping curl python3; do
  command -v "$tool" >/dev/null || fail "$tool not installed (run scripts/setup)"
done
probe="ltcpp$(printf '%04x' $((RANDOM)))"
if ! ip tuntap add dev "$probe" mode tap 2>/dev/null; then
  skip "cannot create TAP interfaces here (no CAP_NET_ADMIN?)"
fi
ip link del dev "$probe" 2>/dev/null || true
if [[ -n "$(ip -4 route show "$SUBNET" 2>/dev/null)" ]]; then
  fail "$SUBNET is already routed on this machine (left over from another run?): $(ip -4 route show "$SUBNET")"
fi

tmp="$(mktemp -d /tmp/linetcp-tap-test.XXXXXX)"
log="$tmp/linetcp.log"
for _ in 1 2 3 4 5 6 7 8; do
  iface="ltcp$(printf '%04x' $((RANDOM)))" # 8 characters, well under IFNAMSIZ
  ip link show dev "$iface" >/dev/null 2>&1 || break
done

# --- overrides from the config -----------------------------------------------------------------
# The EAL arguments of the config, with the TAP vdev renamed to our interface; without enough free
# hugepages, --no-huge --no-shconf -m 512 instead of --in-memory (DPDK 22.11 refuses --in-memory
# with --no-huge). Writes the expected body to $tmp/expected_body.
free_huge="$(awk '/^HugePages_Free:/ { print $2 }' /proc/meminfo 2>/dev/null || echo 0)"
mapfile -t overrides < <(python3 - "$config" "$iface" "${free_huge:-0}" "$tmp/expected_body" <<'PY'
import json, sys, tomllib
config_path, iface, free_huge, body_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
with open(config_path, "rb") as f:
    config = tomllib.load(f)

eal = config.get("dpdk", {}).get("eal")
if not isinstance(eal, list):
    eal = ["--in-memory", "--no-pci"]
args, found_tap, i = [], False, 0
while i < len(eal):
    arg = str(eal[i])
    value = None
    if arg == "--vdev" and i + 1 < len(eal):
        value, i = str(eal[i + 1]), i + 2
    elif arg.startswith("--vdev="):
        value, i = arg[len("--vdev="):], i + 1
    else:
        args.append(arg)
        i += 1
        continue
    if value.startswith("net_tap"):
        found_tap = True
        params = [p for p in value.split(",")[1:] if not p.startswith("iface=")]
        value = ",".join([value.split(",")[0], *params, "iface=" + iface])
    args.append("--vdev=" + value)
if not found_tap:
    args.append("--vdev=net_tap0,iface=" + iface)
if free_huge < 128 and "--no-huge" not in args:  # under 256 MB of free 2 MB pages
    args = [a for a in args if a != "--in-memory"]
    args += ["--no-huge", "--no-shconf"]
    if not any(a == "-m" or a.startswith("--socket-mem") for a in args):
        args += ["-m", "512"]
print("dpdk.eal=" + json.dumps(args, separators=(",", ":")))

body = config.get("server", {}).get("http", {}).get("body")
if not isinstance(body, str):  # not in the config: set one
    body = "linetcp tap test %s\n" % iface
    print("server.http.body=" + json.dumps(body))
with open(body_path, "wb") as f:
    f.write(body.encode())
PY
)
((${#overrides[@]} > 0)) || fail "could not read $config"
set_args=()
for o in "${overrides[@]}"; do
  set_args+=(--set "$o")
done

# --- start the server --------------------------------------------------------------------------
echo "starting: $linetcp server --config $config --log-level info"
printf "    --set '%s'\n" "${overrides[@]}"
"$linetcp" server --config "$config" --log-level info "${set_args[@]}" >"$log" 2>&1 </dev/null &
server_pid=$!

for ((i = 0; i < 300; i++)); do # up to 30 s for EAL init and port bring-up
  ip link show dev "$iface" >/dev/null 2>&1 && break
  server_alive || {
    wait "$server_pid" && rc=0 || rc=$?
    server_pid=""
    fail "linetcp exited (status $rc) before creating $iface"
  }
  sleep 0.1
done
ip link show dev "$iface" >/dev/null 2>&1 || fail "interface $iface did not appear within 30 s"
echo "interface $iface is up; kernel side $KERNEL_ADDR"
sysctl -qw "net.ipv6.conf.$iface.disable_ipv6=1" 2>/dev/null || true # keep the link quiet
ip addr add "$KERNEL_ADDR" dev "$iface" || fail "ip addr add $KERNEL_ADDR dev $iface"
ip link set dev "$iface" up || fail "ip link set $iface up"

# Readiness: the port may still be starting when the interface appears.
for ((i = 0; i < 20; i++)); do
  ping -c 1 -W 1 -I "$iface" "$OUR_ADDR" >/dev/null 2>&1 && break
  server_alive || fail "linetcp exited while waiting for it to answer ping"
done

# --- checks ------------------------------------------------------------------------------------
echo "check: ping -c 3 -W 2 $OUR_ADDR"
ping -c 3 -W 2 -I "$iface" "$OUR_ADDR" || fail "ping $OUR_ADDR got no reply"

echo "check: curl http://$OUR_ADDR/"
code="$(curl -sS --noproxy '*' --max-time 5 -o "$tmp/body" -w '%{http_code}' "http://$OUR_ADDR/")" ||
  fail "curl http://$OUR_ADDR/ failed (status so far: ${code:-none})"
[[ "$code" == 200 ]] || fail "HTTP status $code, expected 200"
if ! cmp -s "$tmp/body" "$tmp/expected_body"; then
  echo "expected body:"
  od -c "$tmp/expected_body" | head -n 10
  echo "received body:"
  od -c "$tmp/body" | head -n 10
  fail "HTTP body differs from the configured one"
fi
echo "HTTP 200, body matches ($(wc -c <"$tmp/body") bytes)"

echo "check: SIGTERM -> exit 0 within 10 s"
kill -TERM "$server_pid"
wait_server_exit 100 || fail "linetcp still running 10 s after SIGTERM"
wait "$server_pid" && rc=0 || rc=$?
server_pid=""
((rc == 0)) || fail "linetcp exited with status $rc after SIGTERM, expected 0"

echo "PASS: ping, HTTP GET and SIGTERM shutdown on TAP $iface"
