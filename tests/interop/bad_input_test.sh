#!/usr/bin/env bash
# Interop: bad input from the wire while the server serves. A linetcp server on TAP serves wrk
# (4 keep-alive connections, 20 s) while bad_input.py (scapy, in the same namespace) sends crafted
# frames: bad IPv4 and TCP checksums, truncated headers, data offsets beyond the packet or below
# 5, illegal option lengths, SYN+FIN, an ACK and a RST to the listener, and on an established
# connection (the kernel's own socket to the echo port) a segment far outside the window, RSTs
# with wrong sequence numbers in and out of the window, SYN and SYN+FIN, data with a bad checksum,
# data with an illegal option length (used: echoed);
# then a burst of spoofed SYNs that fills the SYN backlog (16) so that SYN cookies answer.
# bad_input.py checks every answer exactly (or the silence); this script checks that each case
# is counted under its name in the server's report and that wrk saw no error at all.
# Usage: bad_input_test.sh LINETCP SRCROOT     Exit: 0 pass, 1 fail, 77 skip.
source "$(dirname "$0")/lib.sh"
lt_init bad 10.81.31 "$@"
lt_require wrk
py=""
for candidate in /usr/bin/python3 python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c 'import scapy.all' 2>/dev/null; then
    py="$(command -v "$candidate")"
    break
  fi
done
[[ -n "$py" ]] || lt_skip "no python3 with scapy (python3-scapy)"

flood=200
backlog=16
lt_start server server --set server.http.body_size=1024 --set tcp.msl_s=1 --set "tcp.syn_backlog=$backlog"
# The crafted frames use ports 50000-59999 and bad_input.py captures what comes back to them:
# the kernel's own connections (wrk's, curl's, the echo socket) take their ports below.
lt_ns sysctl -qw net.ipv4.ip_local_port_range="32768 49999"
lt_bg wrk wrk -t1 -c4 -d20s --timeout 5s "http://$LT_OUR_IP/"
# wrk's connections first (a bounded wait on the server answering), then the cases beside them.
for ((i = 0; i < 50; i++)); do
  lt_ns curl -s -o /dev/null --max-time 2 "http://$LT_OUR_IP/" && break
done
lt_ns timeout 60 "$py" "$LT_SRCROOT/tests/interop/bad_input.py" "$LT_IFACE" "$LT_OUR_IP" "$flood" \
  >"$LT_WORK/cases.txt" 2>&1 || { cat "$LT_WORK/cases.txt"; lt_fail "bad_input.py failed"; }
cat "$LT_WORK/cases.txt"
lt_alive wrk || lt_fail "wrk ended before the cases did (20 s run): the cases took too long"
for ((i = 0; i < 300; i++)); do lt_alive wrk || break; sleep 0.1; done
lt_alive wrk && lt_fail "wrk still running 30 s after the cases"
cat "$LT_WORK/wrk.log"
grep -q "Socket errors" "$LT_WORK/wrk.log" && lt_fail "wrk: socket errors"
grep -q "Non-2xx" "$LT_WORK/wrk.log" && lt_fail "wrk: non-2xx responses"
n="$(awk '/requests in/ { print $1 }' "$LT_WORK/wrk.log")"
if ! [[ "$n" =~ ^[0-9]+$ ]] || ((n <= 100)); then lt_fail "wrk: only '${n:-no}' requests"; fi
lt_stop server

sent="$(tail -n 1 "$LT_WORK/cases.txt")"
lt_report "$LT_WORK/server.json" "
import json
s = json.loads('''$sent''')
e = lambda k: c['endpoint.' + k]
want_exact = {
    'ipv4_bad_checksum': s['ipv4_bad_checksum'],
    'ipv4_bad_header': s['ipv4_bad_header'],
    'tcp_bad_checksum': s['tcp_bad_checksum'],
    'tcp_bad_header': s['tcp_bad_header'],
    'tcp_bad_options': s['tcp_bad_options'],
    'tcp_syn_fin': s['tcp_syn_fin'],
}
for k, v in want_exact.items():
    assert e(k) == v, f'endpoint.{k} = {e(k)}, sent {v}'
    print(f'counted: endpoint.{k} = {e(k)}')
assert c['tcp.options_malformed'] == s['options_malformed'], (c['tcp.options_malformed'], s)
# Answers: every barrier and the ACK to the listener drew a RST; wrk's connections may add some.
assert e('tcp_rst_sent_no_conn') >= s['barriers'] + s['rst_for_ack'], (e('tcp_rst_sent_no_conn'), s)
assert e('tcp_no_conn_dropped') >= s['tcp_no_conn_dropped'], e('tcp_no_conn_dropped')
# RFC 5961: the RST and the two SYNs with wrong numbers drew challenge ACKs; none was rate-limited.
want_ch = s['challenge_rst'] + s['challenge_syn']
assert c['tcp.challenge_acks'] == want_ch, (c['tcp.challenge_acks'], want_ch)
assert c['tcp.challenge_acks_limited'] == 0, c['tcp.challenge_acks_limited']
assert c['tcp.out_of_window'] >= s['out_of_window'], c['tcp.out_of_window']
assert c['tcp.resets_ignored'] >= s['resets_ignored'], c['tcp.resets_ignored']
# The flood: the backlog took $backlog, every other SYN was refused a slot and answered by a cookie.
assert e('syn_backlog_full') == $flood - $backlog, e('syn_backlog_full')
assert e('syn_cookies_sent') + e('control_queue_full') == $flood - $backlog, (e('syn_cookies_sent'), e('control_queue_full'))
assert s['flood_syn_acks_seen'] == e('syn_cookies_sent'), (s['flood_syn_acks_seen'], e('syn_cookies_sent'))
assert t['errors'] == 0, t
assert c['http_server.bad_requests'] == 0, c
assert c['http_server.responses'] >= $n, (c['http_server.responses'], $n)
print('challenge ACKs', c['tcp.challenge_acks'], 'out of window', c['tcp.out_of_window'],
      'resets ignored', c['tcp.resets_ignored'], 'backlog full', e('syn_backlog_full'),
      'cookies', e('syn_cookies_sent'), 'responses', c['http_server.responses'], 'wrk', $n)
"
echo "PASS: every bad input counted and answered as RFC 9293 / RFC 5961 say; wrk $n requests, no errors"
