# shellcheck shell=bash
# Shared helpers for scripts/setup, scripts/build and scripts/test: Debian packages, hugepages,
# meson configure + build. Source it; it defines functions and sets LTCP_ROOT and BUILD_DIR.

LTCP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-build}"
# Every Debian package the project needs: build, tests, interop peers, benchmarks, debugging.
LTCP_PACKAGES=(
  build-essential g++ meson ninja-build pkg-config python3
  libdpdk-dev dpdk dpdk-dev
  libspdlog-dev libgtest-dev libgmock-dev libbenchmark-dev
  libtomlplusplus-dev libcli11-dev nlohmann-json3-dev
  iproute2 iputils-ping curl wrk nginx-light apache2-utils
  python3-scapy python3-jsonschema python3-matplotlib tcpdump tshark socat nftables
  clang libclang-rt-14-dev
)
LTCP_HUGEPAGES="${LTCP_HUGEPAGES:-512}"
LTCP_HUGEPAGE_DIR=/sys/kernel/mm/hugepages/hugepages-2048kB
LTCP_HUGE_MOUNT=/dev/hugepages

ltcp_die() {
  echo "error: $*" >&2
  exit 1
}

# The packages of LTCP_PACKAGES that dpkg does not list as installed ("ii").
ltcp_missing_packages() {
  local pkg status
  for pkg in "${LTCP_PACKAGES[@]}"; do
    status="$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)"
    [[ "$status" == ii* ]] || echo "$pkg"
  done
}

# Runs a command with its output in LOG; on failure prints the log's tail and returns its status.
ltcp_quiet() {
  local log="$1"
  shift
  local rc=0
  "$@" >>"$log" 2>&1 || rc=$?
  if ((rc != 0)); then
    echo "failed: $* (log: $log)" >&2
    tail -n 40 "$log" >&2
  fi
  return "$rc"
}

# Installs whatever is missing with apt-get; apt-get update only when something is missing, once.
# Silent when everything is already installed.
ltcp_setup_packages() {
  local -a missing
  mapfile -t missing < <(ltcp_missing_packages)
  ((${#missing[@]} == 0)) && return 0
  command -v apt-get >/dev/null || ltcp_die "missing packages (${missing[*]}) and no apt-get"
  ((EUID == 0)) || ltcp_die "missing packages (${missing[*]}); run scripts/setup as root"
  local log
  log="$(mktemp /tmp/linetcp-setup-apt.XXXXXX.log)"
  echo "setup: installing ${missing[*]} (log: $log)"
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; answer it beforehand.
  if command -v debconf-set-selections >/dev/null; then
    echo 'wireshark-common wireshark-common/install-setuid boolean false' |
      ltcp_quiet "$log" debconf-set-selections
  fi
  ltcp_quiet "$log" apt-get update -q
  ltcp_quiet "$log" apt-get install -y -q --no-install-recommends "${missing[@]}"
  mapfile -t missing < <(ltcp_missing_packages)
  ((${#missing[@]} == 0)) || ltcp_die "still missing after apt-get install: ${missing[*]} (log: $log)"
  rm -f "$log"
}

# Reserves LTCP_HUGEPAGES 2 MB pages (only ever raising the count) and mounts hugetlbfs.
# Never fails: sets LTCP_HUGE_STATUS to one line describing the outcome, and prints a line when
# hugepages cannot be had here.
# shellcheck disable=SC2034  # LTCP_HUGE_STATUS is read by the scripts that source this file
ltcp_setup_hugepages() {
  local want="$LTCP_HUGEPAGES" have reason=""
  if [[ ! -d "$LTCP_HUGEPAGE_DIR" ]]; then
    reason="no $LTCP_HUGEPAGE_DIR"
  else
    have="$(cat "$LTCP_HUGEPAGE_DIR/nr_hugepages" 2>/dev/null || echo 0)"
    if ((have < want)); then
      if ! { echo "$want" >"$LTCP_HUGEPAGE_DIR/nr_hugepages"; } 2>/dev/null; then
        reason="cannot write $LTCP_HUGEPAGE_DIR/nr_hugepages"
      fi
      have="$(cat "$LTCP_HUGEPAGE_DIR/nr_hugepages" 2>/dev/null || echo 0)"
      if [[ -z "$reason" ]] && ((have < want)); then
        reason="asked for $want pages of 2 MB, the kernel gave $have"
      fi
    fi
    if [[ -z "$reason" ]] && ! ltcp_hugetlbfs_mounted; then
      if ! { mkdir -p "$LTCP_HUGE_MOUNT" && mount -t hugetlbfs nodev "$LTCP_HUGE_MOUNT"; } 2>/dev/null; then
        reason="cannot mount hugetlbfs at $LTCP_HUGE_MOUNT"
      fi
    fi
  fi
  if [[ -n "$reason" ]]; then
    echo "hugepages: not available here ($reason); linetcp will run with --no-huge where that works"
    LTCP_HUGE_STATUS="no hugepages ($reason)"
  else
    LTCP_HUGE_STATUS="hugepages $have x 2 MB at $LTCP_HUGE_MOUNT"
  fi
}

ltcp_hugetlbfs_mounted() {
  awk -v dir="$LTCP_HUGE_MOUNT" '$2 == dir && $3 == "hugetlbfs" { found = 1 } END { exit !found }' /proc/mounts
}

# Whether BUILD_DIR is already configured with the CI options (release, werror).
ltcp_has_ci_options() {
  meson introspect "$BUILD_DIR" --buildoptions 2>/dev/null | python3 -c '
import json, sys
options = {o["name"]: o["value"] for o in json.load(sys.stdin)}
sys.exit(0 if options.get("buildtype") == "release" and options.get("werror") is True else 1)'
}

# Configures BUILD_DIR (release + werror under CI=true) if it is not configured yet, then builds.
# Under CI an existing build dir is brought to the CI options too. Arguments go to ninja.
ltcp_build() {
  cd "$LTCP_ROOT" || return
  local -a ci_opts=()
  if [[ "${CI:-}" == true ]]; then
    ci_opts=(--buildtype=release -Dwerror=true)
  fi
  # Each step returns on failure itself: callers may run this inside `if`, where set -e is off.
  if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
    if [[ -f "$BUILD_DIR/meson-private/coredata.dat" ]]; then
      meson setup --wipe "$BUILD_DIR" "${ci_opts[@]}" || return
    else
      meson setup "$BUILD_DIR" "${ci_opts[@]}" || return
    fi
  elif ((${#ci_opts[@]} > 0)) && ! ltcp_has_ci_options; then
    meson configure "$BUILD_DIR" "${ci_opts[@]}" || return
  fi
  ninja -C "$BUILD_DIR" "$@"
}
