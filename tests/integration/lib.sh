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
