#!/usr/bin/env bash
# Interop: the linetcp client (echo protocol) against an echo server in the kernel,
# `socat TCP-LISTEN:7,fork,reuseaddr PIPE` (a process per connection, the bytes back through a
# pipe). Three 3 s runs: 1000-byte requests on keep-alive connections, 64 KiB requests ten per
# connection, and one 1000-byte request per connection. The client checks every byte it gets back
# against what it sent at that offset; passes when each run has responses and no echo mismatches,
# no errors (connect failures, resets, timeouts, incomplete), and linetcp exits 0.
# Usage: kernel_echo_test.sh LINETCP SRCROOT     Exit: 0 pass, 1 fail, 77 skip.
source "$(dirname "$0")/lib.sh"
lt_init echo 10.81.5 "$@"
lt_require socat ss

lt_bg socat socat "TCP-LISTEN:7,bind=$LT_KERNEL_IP,fork,reuseaddr,backlog=128" PIPE
for ((i = 0; i < 50; i++)); do
  lt_ns ss -Hltn "sport = :7" | grep -q . && break
  lt_alive socat || lt_fail "socat exited"
  sleep 0.1
done
lt_ns ss -Hltn "sport = :7" | grep -q . || lt_fail "socat is not listening on :7"

run() { # NAME REQUEST_SIZE REQUESTS_PER_CONNECTION CONCURRENCY
  lt_start "$1" client --set client.protocol=echo --set "client.target=$LT_KERNEL_IP:7" \
    --set client.request_size="$2" --set client.requests_per_connection="$3" \
    --set client.concurrency="$4" --set tcp.msl_s=1 --duration 3
  lt_wait "$1" 60
  lt_report "$LT_WORK/$1.json" "
errs = {k: c['client.' + k] for k in ('connect_failed', 'connections_reset', 'connections_timed_out',
        'bad_responses', 'incomplete', 'echo_mismatches')}
print('$1: connections', t['connections'], 'responses', t['responses'], 'bytes back', c['client.bytes_received'],
      'retransmits', c['tcp.retransmits'], 'errors', t['errors'], errs)
assert t['errors'] == 0 and not any(errs.values()), errs
assert t['responses'] > 0
assert c['client.bytes_received'] >= t['responses'] * $2, 'fewer bytes back than responses * size'
"
}
run keepalive-1k 1000 0 16
run keepalive-64k 65536 10 8
run short-1k 1000 1 16
echo "PASS: linetcp echo client against socat: every byte came back as sent"
