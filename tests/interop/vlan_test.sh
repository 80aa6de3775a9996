#!/usr/bin/env bash
# Interop: the linetcp server on 802.1Q VLAN 100, the kernel's 8021q driver at the other end: a
# VLAN interface on the kernel end of the TAP carries 10.81.24.1/24 and fd00:81:24::1/64. ping
# and ping -6, curl over both families (1 MiB body, SHA-256), wrk over IPv6. Untagged frames
# (the kernel's ARP on the bare TAP, where it has 10.81.25.1/24) must be dropped and counted
# (endpoint.eth_vlan_other) and get no answer. Passes when all that holds and the report has no
# errors.
# Usage: vlan_test.sh LINETCP SRCROOT     Exit: 0 pass, 1 fail, 77 skip.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib6.sh"
lt_init vln 10.81.24 "$@"
lt_require curl wrk sha256sum
modprobe 8021q 2>/dev/null || true

size=1048576
ours6=fd00:81:24::2
lt_next_iface
iface="$LT_IFACE"
eal="[\"-l\",\"$LT_CPU\",\"--no-huge\",\"--no-shconf\",\"-m\",\"512\",\"--no-pci\",\"--vdev=net_tap0,iface=$iface\"]"
LT_LOG[server]="$LT_WORK/server.log"
# The dual-stack example without its fixed body (body_size replaces it).
grep -v '^body = ' "$LT_SRCROOT/config/server-dual-stack.toml" >"$LT_WORK/server.toml"
"$LT_LINETCP" server --config "$LT_WORK/server.toml" --set "dpdk.eal=$eal" \
  --set port.device=net_tap0 --set port.vlan=100 --set "network.address=$LT_OUR_IP/24" \
  --set 'network.addresses=[]' --set 'network.gateway=""' --set 'network.gateway6=""' --set 'network.routes=[]' \
  --set "network.ipv6=[\"$ours6/64\"]" --set server.http.body_size=$size --set tcp.msl_s=1 \
  --set status.interval_s=1 --report "$LT_WORK/server.json" >"${LT_LOG[server]}" 2>&1 </dev/null &
LT_PID[server]=$!
lt_wait_port server "$iface"
ip link set dev "$iface" netns "$LT_NS" || lt_fail "ip link set $iface netns $LT_NS"
lt6_ns_nodad "$LT_NS"
vlan="${iface}.v"
ip -n "$LT_NS" link add link "$iface" name "$vlan" type vlan id 100 || lt_skip "no 802.1Q support (8021q) here"
lt_ns sysctl -qw "net.ipv6.conf.$iface.disable_ipv6=1"
ip -n "$LT_NS" addr add 10.81.25.1/24 dev "$iface"
ip -n "$LT_NS" link set dev "$iface" up
ip -n "$LT_NS" addr add "$LT_KERNEL_IP/24" dev "$vlan"
ip -n "$LT_NS" -6 addr add fd00:81:24::1/64 dev "$vlan" nodad
ip -n "$LT_NS" link set dev "$vlan" up
for ((i = 0; i < 20; i++)); do lt_ns ping -c 1 -W 1 "$LT_OUR_IP" >/dev/null 2>&1 && break; done
lt_ns ping -c 2 -i 0.2 "$LT_OUR_IP" >/dev/null || lt_fail "ping $LT_OUR_IP over VLAN 100"
lt_ns ping -6 -c 2 -i 0.2 "$ours6" >/dev/null || lt_fail "ping -6 $ours6 over VLAN 100"
# Untagged: an ARP request on the bare TAP for an address on it; linetcp must not answer.
lt_ns ping -c 1 -W 1 -I "$iface" 10.81.25.2 >/dev/null 2>&1 && lt_fail "an untagged ping was answered"

expected="$(lt_pattern_sha256 $size)"
for addr in "$LT_OUR_IP" "[$ours6]"; do
  meta="$(lt_ns curl -sS -g --noproxy '*' --max-time 30 -o "$LT_WORK/body" -w '%{http_code} %{size_download}' \
    "http://$addr/")" || lt_fail "curl http://$addr/ over VLAN 100 failed: $meta"
  read -r code got <<<"$meta"
  [[ "$code" == 200 && "$got" == "$size" ]] || lt_fail "curl http://$addr/: status $code, $got bytes"
  [[ "$(sha256sum "$LT_WORK/body" | cut -d' ' -f1)" == "$expected" ]] || lt_fail "curl http://$addr/: body differs"
  echo "ok: curl http://$addr/ over VLAN 100, $got bytes intact"
done
out="$LT_WORK/wrk.txt"
lt_ns wrk -t 1 -c 8 -d 2 --timeout 5 "http://[$ours6]/" >"$out" 2>&1 || { cat "$out"; lt_fail "wrk failed"; }
grep -q "Socket errors\|Non-2xx" "$out" && { cat "$out"; lt_fail "wrk: errors"; }
echo "ok: wrk -6 over VLAN 100: $(awk '/requests in/ { print $1 }' "$out") requests"

lt_stop server
lt_report "$LT_WORK/server.json" '
print("  accepted", c["endpoint.connections_accepted"], "IPv6", c["endpoint.connections_accepted_ipv6"],
      "untagged or other VLAN dropped", c["endpoint.eth_vlan_other"])
assert t["errors"] == 0, t
assert c["endpoint.eth_vlan_other"] >= 1, c
assert c["endpoint.connections_accepted_ipv6"] >= 2 and c["endpoint.connections_accepted"] > c["endpoint.connections_accepted_ipv6"], c'
echo "PASS: IPv4 and IPv6 over 802.1Q VLAN 100 with the kernel's 8021q, untagged frames dropped"
