# Interop test helpers, sourced by every tests/interop/*_test.sh. The Linux kernel is the peer:
# each test gets its own network namespace; linetcp runs on a net_tap port whose kernel end is
# moved into that namespace and given SUBNET.1/24 (linetcp is SUBNET.2); kernel tools run there
# with `ip netns exec`. Everything started is stopped, and the namespace and interfaces removed,
# on any exit (bounded waits everywhere).
#
#   source "$(dirname "$0")/lib.sh"
#   lt_init TAG SUBNET "$@"          TAG: 2..4 letters; SUBNET: three octets ("10.81.1"); "$@" =
#                                    LINETCP SRCROOT from meson. Skips (77) without root or TAP.
#   lt_require TOOL...               skips if a tool is missing
#   lt_start NAME server|client [--set k=v]...   starts linetcp (report $LT_WORK/NAME.json, log
#                                    $LT_WORK/NAME.log), moves its TAP into the namespace, waits
#                                    for it to answer ping; config/ROLE-tap.toml underneath
#                                    (without server.http.body when body_size is set)
#   lt_wait_port NAME IFACE          waits until linetcp NAME has started its port on TAP IFACE
#   lt_stop NAME                     SIGTERM, waits up to 15 s, fails unless it exits 0
#   lt_wait NAME SECONDS             waits for a linetcp that ends by itself (--duration); fails
#                                    unless it exits 0 in time
#   lt_ns CMD...                     runs CMD in the namespace, on the CPUs linetcp does not use
#   lt_bg NAME CMD...                runs CMD in the namespace in the background (log
#                                    $LT_WORK/NAME.log), stopped at exit; lt_kill NAME stops it
#   lt_report FILE [PYTHON]          runs python assertions (stdin or PYTHON) over a JSON report:
#                                    r = report, t = r["totals"], c = r["counters"]
#   lt_fail MSG / lt_skip MSG
# shellcheck shell=bash
set -euo pipefail

LT_LINETCP=""
LT_SRCROOT=""
LT_TAG=""
LT_NS=""
LT_WORK=""
LT_KERNEL_IP=""
LT_OUR_IP=""
LT_IFACES=()                 # every interface name handed out
LT_IFACE=""                  # the latest
LT_CPU="${LT_CPU:-1}"        # the lcore linetcp busy-polls on
# The CPUs kernel-side tools run on: the others, so that they do not take turns with linetcp's
# busy-polling lcore (on a 2-core machine, time slices of milliseconds).
LT_KERNEL_CPUS="${LT_KERNEL_CPUS:-$(python3 -c 'import os, sys; c = sorted(os.sched_getaffinity(0) - {int(sys.argv[1])}); print(",".join(map(str, c)) or sys.argv[1])' "$LT_CPU")}"
declare -A LT_PID=()         # NAME -> pid, linetcp and kernel-side background processes
declare -A LT_LOG=()         # NAME -> log file
LT_SEQ=0

lt_skip() {
  echo "SKIP: $*"
  exit 77
}

lt_fail() {
  echo "FAIL: $*"
  local name
  for name in "${!LT_LOG[@]}"; do
    if [[ -s "${LT_LOG[$name]}" ]]; then
      echo "--- last 25 lines of $name (${LT_LOG[$name]}) ---"
      tail -n 25 "${LT_LOG[$name]}"
    fi
  done
  exit 1
}

lt_alive() {
  local pid="${LT_PID[$1]:-}"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null
}

# Waits up to $2 tenths of a second for process NAME to exit; 1 if it is still running.
lt_wait_gone() {
  local i
  for ((i = 0; i < $2; i++)); do
    lt_alive "$1" || return 0
    sleep 0.1
  done
  ! lt_alive "$1"
}

# Stops background process NAME: SIGTERM, 5 s, SIGKILL, 5 s. Never fails.
lt_kill() {
  local name="$1" pid="${LT_PID[$1]:-}"
  [[ -n "$pid" ]] || return 0
  if lt_alive "$name"; then
    kill -TERM "$pid" 2>/dev/null || true
    if ! lt_wait_gone "$name" 50; then
      echo "cleanup: $name (pid $pid) ignored SIGTERM for 5 s; SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      lt_wait_gone "$name" 50 || true
    fi
  fi
  wait "$pid" 2>/dev/null || true
  unset "LT_PID[$name]"
}

lt_cleanup() {
  local rc=$? name pid i
  trap - EXIT
  set +e
  for name in "${!LT_PID[@]}"; do
    lt_kill "$name"
  done
  if [[ -n "$LT_NS" ]] && ip netns list 2>/dev/null | grep -qw "$LT_NS"; then
    # What our processes left in the namespace (socat's and nginx's children): TERM, then KILL.
    for i in 1 2; do
      pids="$(ip netns pids "$LT_NS" 2>/dev/null)"
      [[ -n "$pids" ]] || break
      for pid in $pids; do
        if ((i == 1)); then kill -TERM "$pid" 2>/dev/null; else kill -KILL "$pid" 2>/dev/null; fi
      done
      sleep 0.5
    done
    ip netns del "$LT_NS" 2>/dev/null
  fi
  for name in "${LT_IFACES[@]}"; do
    ip link show dev "$name" >/dev/null 2>&1 && ip link del dev "$name" 2>/dev/null
  done
  if [[ -n "$LT_WORK" ]]; then
    # LT_KEEP_WORK=1 keeps the work folder (logs, reports, captures) of a failed run, =all of any.
    if [[ "${LT_KEEP_WORK:-}" == all ]] || { ((rc != 0)) && [[ -n "${LT_KEEP_WORK:-}" ]]; }; then
      echo "kept $LT_WORK"
    else
      rm -rf "$LT_WORK"
    fi
  fi
  exit "$rc"
}

lt_init() {
  LT_TAG="${1:?lt_init TAG SUBNET LINETCP SRCROOT}"
  local subnet="${2:?lt_init TAG SUBNET LINETCP SRCROOT}"
  LT_LINETCP="${3:?usage: $(basename "$0") LINETCP SRCROOT}"
  LT_SRCROOT="${4:?usage: $(basename "$0") LINETCP SRCROOT}"
  LT_KERNEL_IP="$subnet.1"
  LT_OUR_IP="$subnet.2"
  [[ -x "$LT_LINETCP" ]] || lt_fail "linetcp executable not found at $LT_LINETCP"
  ((EUID == 0)) || lt_skip "needs root (TAP interfaces, network namespaces)"
  [[ -c /dev/net/tun ]] || lt_skip "/dev/net/tun is missing"
  lt_require ip python3 ping taskset
  trap lt_cleanup EXIT
  trap 'exit 1' INT TERM HUP
  local probe
  probe="ltip$(printf '%04x' $((RANDOM)))"
  ip tuntap add dev "$probe" mode tap 2>/dev/null || lt_skip "cannot create TAP interfaces here"
  ip link del dev "$probe" 2>/dev/null || true
  local i
  for ((i = 0; i < 8; i++)); do
    LT_NS="ltns$LT_TAG$(printf '%04x' $((RANDOM)))"
    ip netns list 2>/dev/null | grep -qw "$LT_NS" || break
  done
  ip netns add "$LT_NS" 2>/dev/null || { LT_NS=""; lt_skip "cannot create network namespaces"; }
  ip -n "$LT_NS" link set lo up
  # Servers may bind SUBNET.1 before the interface (and the address) arrives.
  ip netns exec "$LT_NS" sysctl -qw net.ipv4.ip_nonlocal_bind=1
  LT_WORK="$(mktemp -d "/tmp/linetcp-interop-$LT_TAG.XXXXXX")"
  echo "namespace $LT_NS, kernel $LT_KERNEL_IP, linetcp $LT_OUR_IP, work $LT_WORK"
}

lt_require() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || lt_skip "$tool is not installed (scripts/setup installs it)"
  done
}

lt_ns() {
  ip netns exec "$LT_NS" taskset -c "$LT_KERNEL_CPUS" "$@"
}

lt_bg() {
  local name="$1"
  shift
  LT_LOG[$name]="$LT_WORK/$name.log"
  ip netns exec "$LT_NS" taskset -c "$LT_KERNEL_CPUS" "$@" >"${LT_LOG[$name]}" 2>&1 </dev/null &
  LT_PID[$name]=$!
}

# A fresh interface name: lt + tag + 4 hex + sequence, at most 12 characters.
lt_next_iface() {
  local i
  for ((i = 0; i < 8; i++)); do
    LT_IFACE="lt$LT_TAG$(printf '%04x' $((RANDOM)))$LT_SEQ"
    ip link show dev "$LT_IFACE" >/dev/null 2>&1 || break
  done
  LT_SEQ=$((LT_SEQ + 1))
  LT_IFACES+=("$LT_IFACE")
}

# Waits until linetcp NAME has started its port on TAP interface IFACE. DPDK creates the interface
# and brings it up in the middle of starting the port; the rest of the start (promiscuous mode, MAC)
# still reaches the interface by name in our namespace, so the interface may move to $LT_NS only
# once linetcp logs its workers, which it does after the port has started.
lt_wait_port() {
  local name="$1" iface="$2" i
  for ((i = 0; i < 300; i++)); do
    grep -q ' worker(s), address ' "${LT_LOG[$name]}" 2>/dev/null && break
    lt_alive "$name" || lt_fail "linetcp ($name) exited before starting its port on $iface"
    sleep 0.1
  done
  grep -q ' worker(s), address ' "${LT_LOG[$name]}" || lt_fail "linetcp ($name) did not start within 30 s"
  ip link show dev "$iface" 2>/dev/null | grep -q 'LOWER_UP' || lt_fail "$iface is not up after the port started"
}

lt_start() {
  local name="$1" role="$2"
  shift 2
  local config="$LT_SRCROOT/config/$role-tap.toml"
  # server.http.body and body_size exclude each other: a sized body needs the config without body.
  if [[ "$role" == server && " $* " == *" server.http.body_size="* ]]; then
    config="$LT_WORK/server-sized.toml"
    grep -v '^body = ' "$LT_SRCROOT/config/server-tap.toml" >"$config"
  fi
  [[ -f "$config" ]] || lt_fail "no config $config"
  lt_next_iface
  local iface="$LT_IFACE"
  # No hugepages (other programs on the machine may hold them), one lcore, our TAP.
  local eal="[\"-l\",\"$LT_CPU\",\"--no-huge\",\"--no-shconf\",\"-m\",\"512\",\"--no-pci\",\"--vdev=net_tap0,iface=$iface\"]"
  LT_LOG[$name]="$LT_WORK/$name.log"
  echo "start $name: linetcp $role on $iface $*"
  "$LT_LINETCP" "$role" --config "$config" --set "dpdk.eal=$eal" --set port.device=net_tap0 \
    --set "network.address=$LT_OUR_IP/24" --set status.interval_s=1 --set log.level=info \
    --report "$LT_WORK/$name.json" "$@" >"${LT_LOG[$name]}" 2>&1 </dev/null &
  LT_PID[$name]=$!
  lt_wait_port "$name" "$iface"
  ip link set dev "$iface" netns "$LT_NS" || lt_fail "ip link set $iface netns $LT_NS"
  lt_ns sysctl -qw "net.ipv6.conf.$iface.disable_ipv6=1" 2>/dev/null || true
  ip -n "$LT_NS" addr add "$LT_KERNEL_IP/24" dev "$iface" || lt_fail "ip addr add in $LT_NS"
  ip -n "$LT_NS" link set dev "$iface" up || lt_fail "ip link set $iface up in $LT_NS"
  for ((i = 0; i < 20; i++)); do
    lt_ns ping -c 1 -W 1 "$LT_OUR_IP" >/dev/null 2>&1 && return 0
    lt_alive "$name" || lt_fail "linetcp ($name) exited while waiting for ping"
  done
  lt_fail "$LT_OUR_IP does not answer ping"
}

# Exit status of linetcp NAME, which must be exiting now or within $2 tenths of a second.
lt_reap() {
  local name="$1" pid="${LT_PID[$1]}" rc
  lt_wait_gone "$name" "$2" || return 124
  wait "$pid" && rc=0 || rc=$?
  unset "LT_PID[$name]"
  return "$rc"
}

lt_stop() {
  local name="$1" rc
  lt_alive "$name" || lt_fail "linetcp ($name) is no longer running"
  kill -TERM "${LT_PID[$name]}"
  lt_reap "$name" 150 && rc=0 || rc=$?
  ((rc == 0)) || lt_fail "linetcp ($name) exit status $rc after SIGTERM (124: still running after 15 s)"
}

lt_wait() {
  local name="$1" rc
  lt_reap "$name" $(($2 * 10)) && rc=0 || rc=$?
  ((rc == 0)) || lt_fail "linetcp ($name) exit status $rc (124: still running after $2 s)"
}

# Waits (at most 5 s) until the kernel holds no TCP socket towards ADDRESS other than in
# TIME-WAIT: both FINs of every connection with linetcp have then been exchanged.
lt_wait_kernel_closed() {
  local i
  for ((i = 0; i < 50; i++)); do
    [[ -z "$(lt_ns ss -tanH dst "$1" | grep -v TIME-WAIT)" ]] && return 0
    sleep 0.1
  done
  lt_fail "the kernel still has connections to $1 open after 5 s: $(lt_ns ss -tanH dst "$1" | head -n 3)"
}

# Waits (at most 5 s) until FILE has at least N lines for which the awk condition COND holds: a
# server writes its log line after the response its client may already have counted. Returns
# without failing: the check that follows names the shortfall.
lt_wait_log_lines() {
  local file="$1" cond="$2" want="$3" i
  for ((i = 0; i < 50; i++)); do
    (($(awk "$cond" "$file" | wc -l) >= want)) && return 0
    sleep 0.1
  done
}

lt_report() {
  local file="$1" code
  if (($# > 1)); then code="$2"; else code="$(cat)"; fi
  python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
t, c = r["totals"], r["counters"]
exec(sys.argv[2])
' "$file" "$code" || lt_fail "report check failed: $file"
}

# The SHA-256 of the first N bytes of the server's generated body (server.http.body_size = N).
lt_pattern_sha256() {
  python3 "$LT_SRCROOT/tests/interop/pattern.py" sha256 "$1"
}
