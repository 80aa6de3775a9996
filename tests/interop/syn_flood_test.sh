#!/usr/bin/env bash
# Interop: a SYN flood against the linetcp server while a legitimate client works. The server runs
# on TAP with its default limits (SYN backlog 4096, 65536 connections) and the namespace as its
# gateway (spoofed sources from afar arrive through a router); in the namespace
# `linetcp flood` (an af_packet port on the same interface) sends SYNs as fast as its port takes
# them, from spoofed sources 10.99.0.1-10.99.255.254 that never answer, for 6 s; meanwhile wrk
# opens a new connection per request (`Connection: close`, 8 at a time, 10 s, 20 s timeout), so
# its handshakes meet a full backlog. Passes when SYN cookies engaged (backlog full, cookies sent and accepted:
# wrk's connections went through them), wrk saw no socket error and no non-2xx, the server
# held at most backlog + wrk's connections at any second (memory bounded; its connection table
# and indexes are preallocated), both processes exit 0 (every mbuf back in its pool) and the
# server reports no errors.
# Usage: syn_flood_test.sh LINETCP SRCROOT     Exit: 0 pass, 1 fail, 77 skip.
source "$(dirname "$0")/lib.sh"
lt_init syn 10.81.32 "$@"
lt_require wrk curl

backlog=4096
lt_start server server --set server.http.body_size=1024 --set tcp.msl_s=1 --set "network.gateway=${LT_KERNEL_IP}"
iface="$LT_IFACE"
rss_kib() { awk '/VmRSS/ { print $2 }' "/proc/${LT_PID[server]}/status"; }
rss_before="$(rss_kib)"

# The server's MAC, learnt by the ping (starting the flood's port takes the interface down and up,
# which empties the neighbour table).
mac="$(ip -n "$LT_NS" neigh show "$LT_OUR_IP" dev "$iface" | awk '{ for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1) }')"
[[ -n "$mac" ]] || lt_fail "no neighbour entry for $LT_OUR_IP after ping"
# The flood: its own DPDK process (no hugepages, its own memory), an af_packet port on the
# namespace's end of the server's TAP; the server's MAC asked with ARP from an unused address.
LT_LOG["flood"]="$LT_WORK/flood.log"
ip netns exec "$LT_NS" taskset -c "$LT_KERNEL_CPUS" "$LT_LINETCP" flood --device net_af_packet0 \
  --target "$LT_OUR_IP:80" --sources 10.99.0.1-10.99.255.254 --arp-source "${LT_OUR_IP%.*}.3" \
  --duration 6 --report "$LT_WORK/flood.json" -- \
  -l "${LT_KERNEL_CPUS%%,*}" --no-huge --no-shconf --no-telemetry -m 256 --no-pci \
  "--vdev=net_af_packet0,iface=$iface" >"${LT_LOG["flood"]}" 2>&1 </dev/null &
LT_PID["flood"]=$!
# wrk starts once the flood sends: while af_packet brings its port up the interface goes down and
# up (its route and neighbours go; a connect then fails at once, "No route to host", and wrk
# gives up).
for ((i = 0; i < 100; i++)); do
  grep -q "as fast as the port takes them" "${LT_LOG["flood"]}" && break
  lt_alive flood || break
  sleep 0.1
done
grep -q "as fast as the port takes them" "${LT_LOG["flood"]}" || lt_fail "the flood did not start within 10 s"
# The flood fills the link too: the kernel drops what the TAP cannot take (printed below), wrk's
# SYNs and SYN-ACKs among them, and the kernel retries them after 1, 2, 4, 8 s. A connection that
# needs a few tries still completes; wrk counts any request not answered within 20 s an error.
# ARP between the kernel and the server would starve with the rest: the namespace keeps the
# server's address as a permanent neighbour (the server's entry for the kernel lasts 300 s).
ip -n "$LT_NS" neigh replace "$LT_OUR_IP" lladdr "$mac" dev "$iface" nud permanent
lt_bg wrk wrk -t1 -c8 -d10s --timeout 20s -H "Connection: close" "http://$LT_OUR_IP/"
rss_max="$rss_before"
for ((i = 0; i < 200; i++)); do
  lt_alive flood || break
  r="$(rss_kib)"
  ((r > rss_max)) && rss_max="$r"
  sleep 0.1
done
rc=0
lt_reap flood 100 || rc=$?
((rc == 0)) || { cat "${LT_LOG["flood"]}"; lt_fail "linetcp flood: exit status $rc (124: still running)"; }
cat "${LT_LOG["flood"]}"
# The TAP's kernel end: frames passed to the server, and its TX drop counter (which counts
# refusals: af_packet retries a refused frame).
lt_ns ip -s link show dev "$iface" | awk '/TX:/ { getline; print "link to the server: " $2 " frames passed, TX drop counter " $4 }'
for ((i = 0; i < 300; i++)); do lt_alive wrk || break; sleep 0.1; done
lt_alive wrk && lt_fail "wrk still running 30 s after the flood"
cat "$LT_WORK/wrk.log"
grep -q "Socket errors" "$LT_WORK/wrk.log" && lt_fail "wrk: socket errors during the flood"
grep -q "Non-2xx" "$LT_WORK/wrk.log" && lt_fail "wrk: non-2xx responses during the flood"
n="$(awk '/requests in/ { print $1 }' "$LT_WORK/wrk.log")"
if ! [[ "$n" =~ ^[0-9]+$ ]] || ((n <= 50)); then lt_fail "wrk: only '${n:-no}' requests"; fi
# A legitimate request after the flood, through a cookie (the spoofed SYN-RECEIVED entries still
# fill the backlog).
lt_ns curl -s -o "$LT_WORK/after.txt" --max-time 5 "http://$LT_OUR_IP/" || lt_fail "curl after the flood"
[[ "$(stat -c %s "$LT_WORK/after.txt")" == 1024 ]] || lt_fail "curl after the flood: not 1024 bytes"
lt_stop server

echo "server RSS: $rss_before KiB before, $rss_max KiB at most during the flood"
python3 -c "
import json, sys
r = json.load(open(sys.argv[1]))
print('flood: %d SYNs in %.2f s = %.0f SYN/s, TX queue full %d times, SYN-ACKs back %d' % (r['syns_sent'], r['seconds'],
      r['syns_per_second'], r['tx_queue_full'], r['syn_acks_in']))
assert r['syns_sent'] > 10000, r
assert r['mbufs_leaked'] == 0, r
assert r['syn_acks_in'] > 0, r
" "$LT_WORK/flood.json" || lt_fail "flood report"
lt_report "$LT_WORK/server.json" "
e = lambda k: c['endpoint.' + k]
print('server: frames in', e('frames_in'), 'backlog full', e('syn_backlog_full'), 'cookies sent', e('syn_cookies_sent'),
      'accepted', e('syn_cookies_accepted'), 'rejected', e('syn_cookies_rejected'), 'control queue full',
      e('control_queue_full'), 'arp table full', e('arp_table_full'), 'rx missed', c['port.rx_missed'],
      'max active', max(p['active'] for p in r['series']), 'responses', c['http_server.responses'], 'wrk', $n)
assert e('syn_backlog_full') > 0, 'the backlog never filled'
assert e('syn_cookies_sent') > 0, 'no SYN cookies'
assert e('syn_cookies_accepted') > 0, 'no connection came through a cookie'
assert max(p['active'] for p in r['series']) <= $backlog + 8 + 8, 'more connections than backlog + wrk'
assert t['errors'] == 0, t
assert c['http_server.bad_requests'] == 0, c
assert c['http_server.responses'] >= $n, (c['http_server.responses'], $n)
"
((rss_max - rss_before < 65536)) || lt_fail "server RSS grew by $((rss_max - rss_before)) KiB during the flood"
echo "PASS: SYN flood at full rate, cookies engaged, wrk $n requests without errors, server memory bounded"
