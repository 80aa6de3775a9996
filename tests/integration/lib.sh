# shellcheck shell=bash
# Shared by the integration tests: skip checks, waiting for a linetcp started in the background,
# and stopping processes with bounded waits. Source it; nothing runs on its own.

# Exits 77 (meson: skipped) unless we are root and have each tool named.
lt_require() {
  ((EUID == 0)) || { echo "SKIP: needs root"; exit 77; }
  local tool
  for tool in "$@"; do
    if [[ "$tool" == tun ]]; then
      [[ -c /dev/net/tun ]] || { echo "SKIP: no /dev/net/tun"; exit 77; }
    else
      command -v "$tool" >/dev/null || { echo "SKIP: no $tool (scripts/setup installs it)"; exit 77; }
    fi
  done
}

# Exits 77 unless N 2 MB hugepages are free.
lt_require_hugepages() {
  local free
  free=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages 2>/dev/null || echo 0)
  ((free >= $1)) || { echo "SKIP: needs $1 free 2 MB hugepages, $free free (scripts/setup reserves them)"; exit 77; }
}

# Waits (at most 10 s) until linetcp, running as PID and logging to LOG, has started its
# workers. Returns 1 if it exited or never got there.
lt_wait_started() {
  local log="$1" pid="$2"
  for _ in $(seq 100); do
    grep -q "worker(s)" "$log" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# SIGTERM to each PID, up to 5 s for it to go, then SIGKILL.
lt_stop() {
  local p
  for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "$@"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
}

# The set-up the pair tests share (pair_test.sh, pair_ipv6_test.sh), for LINK (ring, memif,
# virtio): skips without what the link needs; sets `id` (unique per run: DPDK file prefixes are
# PREFIX$id), `work` (a fresh folder named after LABEL) and `pids` (what the caller starts); on
# any exit stops those processes and removes the work folder, and the hugepage files and DPDK
# runtime folders of processes that did not exit cleanly. `fail MSG` prints the logs and exits 1.
lt_pair_setup() {
  local prefix="$1" link="$2" label="$3"
  lt_require
  case "$link" in
    memif) lt_require_hugepages 192 ;;
    virtio) lt_require dpdk-testpmd; lt_require_hugepages 320 ;;
  esac
  LT_PAIR_PREFIX="$prefix"
  id="$$_$RANDOM"
  work="$(mktemp -d "/tmp/linetcp-$label.XXXXXX")"
  pids=()
  trap lt_pair_cleanup EXIT
}

lt_pair_cleanup() {
  ((${#pids[@]} == 0)) || lt_stop "${pids[@]}"
  rm -f /dev/hugepages/"$LT_PAIR_PREFIX$id"* 2>/dev/null || true
  rm -rf "/var/run/dpdk/$LT_PAIR_PREFIX$id"* 2>/dev/null || true
  rm -rf "$work"
}

fail() {
  echo "FAIL: $*"
  local f
  for f in "$work"/*.log; do echo "--- $f"; tail -n 25 "$f"; done
  exit 1
}

# For the virtio link of a pair test (after lt_pair_setup): dpdk-testpmd as the switch, two
# vhost-user ports ($work/vh0.sock, vh1.sock) in io forward mode, added to `pids`; returns once
# both sockets exist. testpmd in non-interactive mode exits when its stdin closes, so it reads a
# pipe that stays open until the test ends.
lt_start_vhost_switch() {
  mkfifo "$work/switch.in"
  sleep 600 >"$work/switch.in" &
  pids+=($!)
  dpdk-testpmd -l 0,1 --file-prefix="$LT_PAIR_PREFIX${id}sw" --no-pci \
    --vdev "net_vhost0,iface=$work/vh0.sock" --vdev "net_vhost1,iface=$work/vh1.sock" \
    -- --forward-mode=io --auto-start --stats-period 0 <"$work/switch.in" >"$work/switch.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do [[ -S "$work/vh1.sock" ]] && break; sleep 0.1; done
  [[ -S "$work/vh1.sock" ]] || fail "testpmd did not create its vhost-user sockets"
}

# Waits until a linetcp client running as PID has written its report FILE (it does so at exit),
# at most TENTHS tenths of a second or until it exits. Fails the test without a report.
lt_wait_report() {
  local file="$1" pid="$2" tenths="$3"
  for _ in $(seq "$tenths"); do
    [[ -s "$file" ]] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  [[ -s "$file" ]] || fail "the client wrote no report"
}
