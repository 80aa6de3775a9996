#!/usr/bin/env bash
# Interop: the kernel's TCP options in use, seen on the wire (tcpdump in the namespace, tshark).
#   handshake, kernel client: curl -> linetcp server: the kernel's SYN and linetcp's SYN-ACK both
#     carry window scale, timestamps and SACK-permitted; the data segments both ways carry
#     timestamps.
#   handshake, linetcp client: linetcp (echo) -> socat echo in the kernel: linetcp's SYN and the
#     kernel's SYN-ACK both carry the three, and the run has no errors.
#   zero window: tests/interop/slow_reader.py (1 KiB reads every 0.1 s for 3 s, then at full
#     speed) fetches a 64 MiB body: the kernel advertises a zero window and later reopens it
#     (window updates), linetcp probes meanwhile, and the whole body arrives with the pattern's
#     SHA-256.
# Usage: tcp_options_test.sh LINETCP SRCROOT     Exit: 0 pass, 1 fail, 77 skip.
source "$(dirname "$0")/lib.sh"
lt_init opt 10.81.7 "$@"
lt_require tcpdump tshark curl socat ss

# Starts tcpdump on the current interface into $LT_WORK/NAME.pcap (headers only) and waits
# until it listens.
capture() {
  lt_bg "$1" tcpdump -n -U --immediate-mode -s 128 -i "$LT_IFACE" -w "$LT_WORK/$1.pcap" tcp
  local i
  for ((i = 0; i < 50; i++)); do
    grep -q "listening on" "${LT_LOG[$1]}" 2>/dev/null && return 0
    lt_alive "$1" || lt_fail "tcpdump exited: $(cat "${LT_LOG[$1]}")"
    sleep 0.1
  done
  lt_fail "tcpdump did not start"
}

# Prints, for each SYN in the capture: SRC ACK-FLAG WSCALE TSVAL SACK_PERM (- when absent).
syns() {
  tshark -n -r "$LT_WORK/$1.pcap" -Y "tcp.flags.syn == 1" -T fields -E occurrence=f \
    -e ip.src -e tcp.flags.ack -e tcp.options.wscale.shift -e tcp.options.timestamp.tsval \
    -e tcp.options.sack_perm 2>/dev/null | awk -F'\t' '{ for (i = 1; i <= 5; i++) if ($i == "") $i = "-"; print $1, $2, $3, $4, $5 }'
}

# Checks that the SYN from $2 and the SYN-ACK from $3 in capture $1 both offer all three options.
check_syns() {
  local cap="$1" syn_from="$2" synack_from="$3" lines src ack ws ts sack seen_syn=0 seen_synack=0
  lines="$(syns "$cap")"
  echo "$cap: SYNs (source, ack, window scale, tsval, sack-permitted):"
  head -n 4 <<<"$lines" | sed 's/^/  /'  # not echo | head: with pipefail, echo dies of SIGPIPE once $lines outgrows the pipe
  while read -r src ack ws ts sack; do
    [[ -n "$src" ]] || continue
    if [[ "$src" == "$syn_from" && "$ack" == 0 ]]; then seen_syn=1; elif [[ "$src" == "$synack_from" && "$ack" == 1 ]]; then seen_synack=1; else continue; fi
    [[ "$ws" != - ]] || lt_fail "$cap: no window scale in the SYN from $src (ack=$ack)"
    [[ "$ts" != - ]] || lt_fail "$cap: no timestamps in the SYN from $src (ack=$ack)"
    [[ "$sack" != - ]] || lt_fail "$cap: no SACK-permitted in the SYN from $src (ack=$ack)"
  done <<<"$lines"
  ((seen_syn)) || lt_fail "$cap: no SYN from $syn_from"
  ((seen_synack)) || lt_fail "$cap: no SYN-ACK from $synack_from"
}

# 1. The kernel opens: curl -> linetcp server (64 KiB body, so that there are data segments).
lt_start server server --set server.http.body_size=65536 --set tcp.msl_s=1
capture cap-server
lt_ns curl -sS --noproxy '*' --max-time 10 -o /dev/null "http://$LT_OUR_IP/" || lt_fail "curl failed"
lt_wait_kernel_closed "$LT_OUR_IP"
lt_kill cap-server
check_syns cap-server "$LT_KERNEL_IP" "$LT_OUR_IP"
for src in "$LT_KERNEL_IP" "$LT_OUR_IP"; do
  n="$(tshark -n -r "$LT_WORK/cap-server.pcap" -Y "ip.src == $src && tcp.flags.syn == 0 && tcp.flags.reset == 0 && !tcp.options.timestamp.tsval" 2>/dev/null | wc -l)"
  ((n == 0)) || lt_fail "cap-server: $n segments from $src without timestamps after the handshake"
done
echo "ok: kernel SYN / linetcp SYN-ACK negotiate window scale, timestamps, SACK; every segment has timestamps"

# 2. Zero window from the kernel, on the same server but a 64 MiB body: restart with it.
lt_stop server
lt_start zw server --set server.http.body_size=67108864 --set tcp.msl_s=1
capture cap-zw
result="$(lt_ns timeout 90 python3 "$LT_SRCROOT/tests/interop/slow_reader.py" "$LT_OUR_IP" 80 3)" || lt_fail "slow_reader failed: $result"
lt_wait_kernel_closed "$LT_OUR_IP"
lt_kill cap-zw
read -r code got sha <<<"$result"
[[ "$code" == 200 && "$got" == 67108864 ]] || lt_fail "slow reader: status $code, $got bytes"
expected="$(lt_pattern_sha256 67108864)"
[[ "$sha" == "$expected" ]] || lt_fail "slow reader: sha256 $sha, expected $expected"
# One pass: each frame that is a zero window, a window update or a zero-window probe, by source.
tshark -n -r "$LT_WORK/cap-zw.pcap" -Y "tcp.flags.reset == 0 && (tcp.window_size_value == 0 || tcp.analysis.window_update || tcp.analysis.zero_window_probe)" \
  -T fields -e ip.src -e tcp.window_size_value -e tcp.analysis.window_update -e tcp.analysis.zero_window_probe \
  >"$LT_WORK/zw-frames.txt" 2>/dev/null || lt_fail "tshark could not read the capture"
zero="$(awk -F'\t' -v k="$LT_KERNEL_IP" '$1 == k && $2 == 0' "$LT_WORK/zw-frames.txt" | wc -l)"
reopen="$(awk -F'\t' -v k="$LT_KERNEL_IP" '$1 == k && $3 != ""' "$LT_WORK/zw-frames.txt" | wc -l)"
probes="$(awk -F'\t' -v o="$LT_OUR_IP" '$1 == o && $4 != ""' "$LT_WORK/zw-frames.txt" | wc -l)"
echo "zero window: $zero zero-window segments from the kernel, $reopen window updates, $probes zero-window probes from linetcp"
((zero > 0)) || lt_fail "the kernel never advertised a zero window"
((reopen > 0)) || lt_fail "the kernel never reopened its window (no window update)"
lt_stop zw
lt_report "$LT_WORK/zw.json" "
assert t['errors'] == 0, t
print('linetcp: zero-window probes', c['tcp.zero_window_probes'], 'retransmits', c['tcp.retransmits'], 'rto expirations', c['tcp.rto_expirations'])
"
echo "ok: zero window from the kernel, reopened, 64 MiB body intact"

# 3. linetcp opens: the echo client -> socat in the kernel.
lt_bg socat socat "TCP-LISTEN:7,bind=$LT_KERNEL_IP,fork,reuseaddr" PIPE
for ((i = 0; i < 50; i++)); do
  lt_ns ss -Hltn "sport = :7" | grep -q . && break
  sleep 0.1
done
lt_start client client --set client.protocol=echo --set "client.target=$LT_KERNEL_IP:7" \
  --set client.request_size=20000 --set client.requests_per_connection=5 --set client.concurrency=2 \
  --set tcp.msl_s=1 --duration 2
capture cap-client
lt_wait client 30
lt_kill cap-client
check_syns cap-client "$LT_OUR_IP" "$LT_KERNEL_IP"
lt_report "$LT_WORK/client.json" "
assert t['errors'] == 0 and t['responses'] > 0 and c['client.echo_mismatches'] == 0, t
"
echo "ok: linetcp SYN / kernel SYN-ACK negotiate window scale, timestamps, SACK"
echo "PASS: TCP options negotiated both ways; the kernel's zero window closed and reopened"
