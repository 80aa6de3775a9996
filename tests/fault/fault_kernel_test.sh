#!/usr/bin/env bash
# Fault: the linetcp echo client against the kernel's echo server (`socat TCP-LISTEN:7,fork PIPE`
# in a network namespace, through TAP; tests/interop/lib.sh), with the server side misbehaving
# in the middle of the run. CASE is one of
#   rst      after responses flow, four of the client's connections are killed on the kernel side
#            (`ss -K`: the kernel sends RST): exactly those four are counted as reset, the
#            rest go on (responses after the kill), no other error
#   restart  after responses flow, every socat process is killed (the kernel closes or resets
#            their connections, refuses new ones), and 2 s later socat starts again: the client
#            keeps running, counts the refused connects and the broken ones, and new connections
#            succeed after the restart (responses in the last seconds)
# In both, every byte echoed is compared with the byte sent (client.echo_mismatches == 0), no
# connection times out (nothing hangs), none is left open at the end, and linetcp exits 0.
# Usage: fault_kernel_test.sh LINETCP SRCROOT CASE     Exit: 0 pass, 1 fail, 77 skip.
case="${3:?usage: fault_kernel_test.sh LINETCP SRCROOT CASE}"
# shellcheck source=tests/interop/lib.sh
source "$(dirname "$0")/../interop/lib.sh"
case "$case" in
  rst) lt_init frst 10.83.1 "$1" "$2" ;;
  restart) lt_init frsr 10.83.2 "$1" "$2" ;;
  *) echo "unknown case $case"; exit 2 ;;
esac
lt_require socat ss

start_socat() {
  lt_bg socat socat "TCP-LISTEN:7,bind=$LT_KERNEL_IP,fork,reuseaddr,backlog=128" PIPE
  for ((i = 0; i < 50; i++)); do
    lt_ns ss -Hltn "sport = :7" | grep -q . && return 0
    lt_alive socat || lt_fail "socat exited"
    sleep 0.1
  done
  lt_fail "socat is not listening on :7"
}

# Waits (at most $1 s) until the client's status line shows $2 consecutive seconds with responses.
wait_responses() {
  local i
  for ((i = 0; i < $1 * 10; i++)); do
    python3 - "${LT_LOG[client]}" "$2" <<'PY' && return 0
import re, sys
rates = [float(m.group(1)) * {"": 1, "k": 1e3, "M": 1e6}[m.group(2)]
         for m in re.finditer(r"req/s\s+([\d.]+)([kM]?)", open(sys.argv[1]).read())]
n = int(sys.argv[2])
sys.exit(0 if len(rates) >= n and all(r > 0 for r in rates[-n:]) else 1)
PY
    lt_alive client || lt_fail "the client exited early"
    sleep 0.1
  done
  lt_fail "no responses for $2 s in a row within $1 s"
}

start_socat
seconds=9
lt_start client client --set client.protocol=echo --set "client.target=$LT_KERNEL_IP:7" \
  --set client.request_size=2000 --set client.concurrency=16 --set tcp.msl_s=1 \
  --set client.requests_per_connection="$([[ "$case" == rst ]] && echo 0 || echo 10)" --duration "$seconds"
wait_responses 5 1
t_fault=$(date +%s.%N)

killed=0
if [[ "$case" == rst ]]; then
  # Four established connections, by the client's port; ss -K needs CONFIG_INET_DIAG_DESTROY.
  mapfile -t ports < <(lt_ns ss -Htn state established "( sport = :7 )" | awk '{print $4}' | sed 's/.*://' | head -4)
  ((${#ports[@]} == 4)) || lt_fail "expected 4 established connections, found: ${ports[*]}"
  for p in "${ports[@]}"; do
    out="$(lt_ns ss -K -Htn state established "( sport = :7 and dport = :$p )" 2>&1)" || true
    grep -q . <<<"$out" || lt_skip "ss -K killed nothing (kernel without CONFIG_INET_DIAG_DESTROY?)"
    killed=$((killed + 1))
  done
  echo "killed the kernel's side of $killed connections (client ports ${ports[*]})"
else
  # Every socat (the listener and one child per connection): the server process is gone.
  for pid in $(ip netns pids "$LT_NS"); do kill -KILL "$pid" 2>/dev/null || true; done
  lt_kill socat
  for ((i = 0; i < 50; i++)); do [[ -z "$(ip netns pids "$LT_NS")" ]] && break; sleep 0.1; done
  [[ -z "$(ip netns pids "$LT_NS")" ]] || lt_fail "socat processes still running"
  echo "echo server killed; restarting it in 2 s"
  sleep 2  # the outage itself: the client meets refused connects meanwhile
  start_socat
  echo "echo server restarted"
fi
lt_alive client || lt_fail "the client exited at the fault"
lt_wait client $((seconds + 20))

lt_report "$LT_WORK/client.json" "
import time
case, killed, t_fault, t_start = '$case', $killed, float('$t_fault'), r['duration_s']
errs = {k: c['client.' + k] for k in ('connect_failed', 'connections_reset', 'connections_timed_out',
        'bad_responses', 'incomplete', 'echo_mismatches', 'status_other')}
print(case + ':', 'connections', t['connections'], 'responses', t['responses'], 'bytes back', c['client.bytes_received'],
      'errors', t['errors'], errs, 'tcp.resets_in', c['tcp.resets_in'])
print('responses/s per second:', [round(x['requests_per_s']) for x in r['series']])
assert errs['echo_mismatches'] == 0 and errs['bad_responses'] == 0, 'bytes differ'
assert errs['connections_timed_out'] == 0, 'a connection hung until its timeout'
assert t['errors'] == sum(errs.values()), 'errors not accounted for by name'
left = {k: v for k, v in r['states'].items() if v and k not in ('CLOSED', 'LISTEN', 'TIME-WAIT')}
assert not left, f'connections left open: {left}'
assert c['client.connections_closed'] == c['client.connections_started'], 'connections not counted closed'
# The run went on after the fault: the last two seconds had responses.
assert all(x['requests_per_s'] > 0 for x in r['series'][-2:]), 'no responses at the end'
if case == 'rst':
    assert errs['connections_reset'] == killed, f\"{errs['connections_reset']} resets counted, {killed} sent\"
    assert errs['connect_failed'] == 0
    assert errs['incomplete'] <= killed
else:
    assert errs['connect_failed'] + errs['connections_reset'] + errs['incomplete'] > 0, 'the outage went unnoticed'
    # Refused while the server was down, then accepted again: a second with no responses, then some.
    rates = [x['requests_per_s'] for x in r['series']]
    gap = [i for i, x in enumerate(rates) if x == 0]
    assert gap and any(x > 0 for x in rates[gap[0]:]), f'no outage and recovery in {rates}'
"
echo "PASS: $case"
