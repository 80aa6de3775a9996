#!/usr/bin/env bash
# Fault: a linetcp echo client against a linetcp server (`linetcp pair`, one process, two net_ring
# ports back to back, no hugepages) with the client's port impaired ([port.impairment], both
# directions, fixed seed). CASE is one of
#   loss       5 % of frames dropped each way
#   reorder    5 % held back 1 ms each way (overtaken by the frames behind them)
#   duplicate  2 % sent twice each way
#   corrupt    1 % with one bit flipped each way: every one caught by a TCP checksum and counted
#   all        the four together, plus 100 us delay with 50 us jitter
#   vanish     the server vanishes mid-transfer: from 1.5 s on every frame is dropped; the client's
#              connections must end by R2 (tcp.r2_s = 2) as errors, the server's by keep-alive,
#              and the run must end on time
# Every byte echoed is checked against the byte sent at that offset (client.echo_mismatches), and
# at the end no connection may be left open on either side (the reports' `states`), every
# connection counted closed, the mbufs all back (exit status), and the faults must have happened
# at their rate (impair_* counters) and TCP must have repaired them (retransmits, ...).
# Usage: fault_pair_test.sh LINETCP SRCROOT CASE     Exit: 0 pass, 1 fail, 77 skip.
# FAULT_SEED=N changes the seed (default 1), FAULT_SECONDS the run time (default 4); FAULT_KEEP=1
# keeps the work folder (log, reports) of a failed run.
set -euo pipefail

linetcp="${1:?usage: fault_pair_test.sh LINETCP SRCROOT CASE}"
srcroot="${2:?}"
case="${3:?}"
seconds="${FAULT_SECONDS:-4}"
seed="${FAULT_SEED:-1}"

# shellcheck source=tests/integration/lib.sh
source "$srcroot/tests/integration/lib.sh"
lt_require python3

work="$(mktemp -d "/tmp/linetcp-fault.$case.XXXXXX")"
pid=""
cleanup() {
  local rc=$?
  [[ -z "$pid" ]] || lt_stop "$pid"
  # FAULT_KEEP=1 keeps the logs and reports of a failed run.
  if ((rc != 0)) && [[ -n "${FAULT_KEEP:-}" ]]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  tail -n 40 "$work/pair.log" 2>/dev/null || true
  exit 1
}

both() {  # KEY VALUE: the same impairment on the client port's receive and transmit sides
  impair+=(--client-set "port.impairment.rx.$1=$2" --client-set "port.impairment.tx.$1=$2")
}
impair=(--client-set "port.impairment.seed=$seed")
extra=()
case "$case" in
  loss) both drop 0.05 ;;
  reorder) both reorder 0.05 ;;
  duplicate) both duplicate 0.02 ;;
  corrupt) both corrupt 0.01 ;;
  all) both drop 0.05; both reorder 0.05; both duplicate 0.02; both corrupt 0.01; both delay_us 100; both jitter_us 50 ;;
  vanish)
    seconds=7
    impair+=(--client-set port.impairment.blackout_after_s=1.5)
    # The client gives up on unacknowledged data after 2 s; the server, whose connections may be
    # idle (waiting for the next request) when the client vanishes, finds out by keep-alive.
    # At the end the client aborts what is left: its connection attempts since the blackout are
    # in SYN-SENT, which a FIN close would leave until the grace period ends.
    # The connections stay open (keep-alive, no limit on requests): with 20 requests each, the 32
    # connections ran in lockstep, and a blackout that fell while all of them were in their
    # handshakes left no data in flight, so nothing timed out by R2 (seen in CI).
    extra=(--set tcp.r2_s=2 --set tcp.msl_s=1 --client-set client.close=\"rst\" --client-set client.requests_per_connection=0
           --server-set tcp.keepalive=true --server-set tcp.keepalive_idle_s=1
           --server-set tcp.keepalive_interval_s=1 --server-set tcp.keepalive_probes=2)
    ;;
  *) echo "unknown case $case"; exit 2 ;;
esac

# TIME_WAIT is 8 s (msl_s = 4): the client, impaired, lingers until its TIME_WAIT records expire
# so that it still acknowledges a FIN retransmitted after its ACK was lost, and under loss a
# retransmission timeout can reach 3 s (an RTT measured across a lost SYN-ACK).
# Bounded: the run, the impaired closing grace (30 s) and TIME_WAIT, start-up.
limit=$((seconds + 45))
start=$(date +%s.%N)
"$linetcp" pair --server-config "$srcroot/config/server-memif.toml" \
  --client-config "$srcroot/config/client-memif.toml" --set tcp.msl_s=4 --set status.interval_s=1 \
  --server-set 'server.echo.port=7' --client-set client.protocol=\"echo\" --client-set client.target=10.0.0.1:7 \
  --client-set client.concurrency=32 --client-set client.requests_per_connection=20 --set tcp.rto_min_ms=50 \
  --client-set client.request_size=3000 "${impair[@]}" "${extra[@]}" \
  --duration "$seconds" --report "$work/client.json" --server-report "$work/server.json" \
  -- -l 0,1 --no-huge --no-shconf -m 512 --no-pci --file-prefix "ltfault$$" >"$work/pair.log" 2>&1 &
pid=$!
rc=0
for _ in $(seq $((limit * 10))); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$pid" 2>/dev/null && fail "linetcp pair still running after $limit s (a hang)"
wait "$pid" || rc=$?
pid=""
elapsed=$(python3 -c "import sys, time; print(f'{time.time() - float(sys.argv[1]):.1f}')" "$start")
((rc == 0)) || fail "linetcp pair exited $rc (1: an error or mbufs not returned)"
grep -q "impair drop" "$work/pair.log" || fail "the status line never showed the impairment counters"
echo "$case: linetcp pair ran $elapsed s (asked $seconds s)"

python3 - "$work/client.json" "$work/server.json" "$case" "$srcroot/docs/report.schema.json" "$elapsed" <<'PY' || fail "checks failed"
import json, math, sys
import jsonschema
c = json.load(open(sys.argv[1])); s = json.load(open(sys.argv[2])); case = sys.argv[3]
schema = json.load(open(sys.argv[4]))
jsonschema.validate(c, schema)
jsonschema.validate(s, schema)
cc, sc = c["counters"], s["counters"]
problems = []
def check(cond, what):
    if not cond:
        problems.append(what)

def rate_ok(count, frames, p):
    # A binomial count within 5 standard deviations: a wrong probability fails, bad luck does not.
    sd = math.sqrt(frames * p * (1 - p))
    return abs(count - frames * p) <= 5 * sd + 1

# The faults happened, at their rates, in both directions.
expect = {"loss": {"dropped": 0.05}, "reorder": {"reordered": 0.05}, "duplicate": {"duplicated": 0.02},
          "corrupt": {"corrupted": 0.01},
          "all": {"dropped": 0.05, "reordered": 0.05 * 0.95 * 1.02, "duplicated": 0.02 * 0.95}}.get(case, {})
for d in ("rx", "tx"):
    frames = cc[f"impair_{d}.frames"]
    check(frames > 2000, f"impair_{d}.frames: only {frames}")
    for what, p in expect.items():
        n = cc[f"impair_{d}.{what}"]
        # "all": reorder applies to every copy that survives the drop; corruption skips non-IPv4
        # frames (ARP), so it is only checked for being there.
        check(rate_ok(n, frames, p) if case != "all" else n > 0,
              f"impair_{d}.{what} = {n} of {frames} frames, expected about {p:.3f}")
    if case == "all":
        check(cc[f"impair_{d}.corrupted"] > 0 and cc[f"impair_{d}.delayed"] > 0, f"impair_{d}: nothing corrupted or delayed")
    check(cc[f"impair_{d}.queue_full"] == 0, f"impair_{d}.queue_full = {cc[f'impair_{d}.queue_full']}")
    check(cc[f"impair_{d}.no_buffer"] == 0, f"impair_{d}.no_buffer = {cc[f'impair_{d}.no_buffer']}")
check(all(sc[k] == 0 for k in sc if k.startswith("impair_")), "the server's port was impaired too")

# Every byte came back as sent: the client compares each echoed byte with the byte it sent there.
check(cc["client.echo_mismatches"] == 0, f"client.echo_mismatches = {cc['client.echo_mismatches']}")
check(cc["client.bad_responses"] == 0, f"client.bad_responses = {cc['client.bad_responses']}")

# No connection left open on either side; every one counted closed.
def leftovers(r):
    return {k: v for k, v in r["states"].items() if v and k not in ("CLOSED", "LISTEN", "TIME-WAIT")}
check(not leftovers(c), f"client connections left open: {leftovers(c)}")
check(not leftovers(s), f"server connections left open: {leftovers(s)}")
check(cc["client.connections_closed"] == cc["client.connections_started"],
      f"client: started {cc['client.connections_started']}, closed {cc['client.connections_closed']}")
# A SYN held back in the network may reach the server after its connection has closed and open a
# half-open one there, which the client's RST later frees: counted closed, never accepted.
check(sc["endpoint.connections_accepted"] + sc["endpoint.syn_received_closed"] == sc["endpoint.connections_closed"],
      f"server: accepted {sc['endpoint.connections_accepted']} + closed in SYN-RECEIVED "
      f"{sc['endpoint.syn_received_closed']} != closed {sc['endpoint.connections_closed']}")

retransmits = cc["tcp.retransmits"] + sc["tcp.retransmits"]
if case != "vanish":
    check(c["totals"]["errors"] == 0, f"client errors: {c['totals']['errors']}")
    check(s["totals"]["errors"] == 0, f"server errors: {s['totals']['errors']}")
    check(c["totals"]["responses"] >= 100, f"only {c['totals']['responses']} responses")
    # Every byte the server took in came back to the client, and every request was answered.
    check(cc["client.bytes_received"] == sc["echo_server.bytes_in"],
          f"echoed {cc['client.bytes_received']} bytes, the server got {sc['echo_server.bytes_in']}")
    check(cc["client.bytes_received"] == c["totals"]["responses"] * 3000,
          f"{cc['client.bytes_received']} bytes back for {c['totals']['responses']} responses of 3000")
if case in ("loss", "all", "corrupt", "vanish"):
    check(retransmits > 0, "no retransmissions: the faults did not reach TCP")
if case in ("reorder", "all"):
    ooo = cc["tcp.out_of_order"] + sc["tcp.out_of_order"]
    check(ooo > 0, "no segment arrived out of order")
if case in ("duplicate", "all"):
    dup = cc["tcp.duplicate_data"] + sc["tcp.duplicate_data"] + cc["tcp.out_of_window"] + sc["tcp.out_of_window"] + \
          cc["tcp.dup_acks"] + sc["tcp.dup_acks"]
    check(dup > 0, "no duplicate seen by TCP")
if case == "corrupt":
    # RFC9293 MUST-3: every corrupted segment is caught by its checksum and counted, exactly.
    check(cc["endpoint.tcp_bad_checksum"] == cc["impair_rx.corrupted"],
          f"client: {cc['impair_rx.corrupted']} corrupted on receipt, {cc['endpoint.tcp_bad_checksum']} bad checksums")
    check(sc["endpoint.tcp_bad_checksum"] == cc["impair_tx.corrupted"],
          f"server: {cc['impair_tx.corrupted']} corrupted on the way, {sc['endpoint.tcp_bad_checksum']} bad checksums")
if case == "all":
    caught = cc["endpoint.tcp_bad_checksum"] + sc["endpoint.tcp_bad_checksum"]
    check(caught > 0, "no bad checksum counted")
if case == "vanish":
    # The peer vanished: the client's open connections end by R2 (RFC9293 MUST-20), reported as errors.
    check(cc["client.connections_timed_out"] > 0, "client: no connection timed out")
    check(cc["tcp.r2_timeouts"] > 0, "client: no R2 expiry")
    check(c["totals"]["errors"] >= cc["client.connections_timed_out"], "client: timeouts not counted as errors")
    check(sc["tcp.keepalive_timeouts"] + sc["tcp.r2_timeouts"] > 0, "server: its connections never found out")
    # Nothing got through after the blackout (1.5 s): the last second of the series is empty.
    tail = c["series"][-2:]
    check(all(x["requests_per_s"] == 0 for x in tail), f"responses after the blackout: {tail}")
    # No hang: the run ended within its duration, the 5 s closing grace and start-up.
    check(float(sys.argv[5]) < 7 + 4, f"the run took {sys.argv[5]} s")
    print("client errors:", {k: cc["client." + k] for k in ("connect_failed", "connections_reset", "connections_timed_out",
                                                           "incomplete", "echo_mismatches")})

print(f"{case}: client {c['totals']['connections']} connections, {c['totals']['responses']} responses, "
      f"{cc['client.bytes_received']} bytes verified, errors {c['totals']['errors']}; retransmits {retransmits}; "
      "impairment " + ", ".join(f"{d} {k} {cc[f'impair_{d}.{k}']}" for d in ("rx", "tx")
                                 for k in ("frames", "dropped", "duplicated", "reordered", "delayed", "corrupted"))
      + f"; bad checksums client {cc['endpoint.tcp_bad_checksum']} server {sc['endpoint.tcp_bad_checksum']}"
      + f"; timeouts client {cc['client.connections_timed_out']} server {sc['endpoint.connections_timed_out']}")
if problems:
    print("\n".join(problems))
    sys.exit(1)
PY
echo "PASS"
