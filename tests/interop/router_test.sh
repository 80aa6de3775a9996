#!/usr/bin/env bash
# Interop: the linetcp server reached through a kernel router. The test's namespace is the router
# (forwarding on for IPv4 and IPv6): linetcp's TAP on one side (10.81.22.0/24, fd00:81:22::/64),
# a veth pair to a second namespace, the client, on the other (10.81.23.0/24, fd00:81:23::/64).
# linetcp knows the client's networks only through its configuration: an IPv4 static route
# (10.81.23.0/24 via 10.81.22.1, no IPv4 gateway) and the IPv6 default gateway (the router's
# link-local address, resolved by NDP). curl and wrk in the client namespace, over both families.
# Passes when every fetch is intact, wrk has no socket errors or non-2xx, and the server's report
# has no errors.
# Usage: router_test.sh LINETCP SRCROOT     Exit: 0 pass, 1 fail, 77 skip.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib6.sh"
lt_init rtr 10.81.22 "$@"
lt_require curl wrk sha256sum

# The client namespace and its veth pair, removed at exit before lib.sh's own cleanup.
# set +e first: under set -e, "(exit 1)" would end the handler before lt_cleanup ran, leaving
# the namespace and linetcp behind whenever the test failed.
client_ns="${LT_NS}c"
router_cleanup() {
  local rc=$?
  set +e
  ip netns del "$client_ns" 2>/dev/null
  (exit "$rc")
  lt_cleanup
}
trap router_cleanup EXIT
ip netns add "$client_ns" || lt_fail "ip netns add $client_ns"
lt6_ns_nodad "$client_ns"
lt6_ns_nodad "$LT_NS"
ip -n "$client_ns" link set lo up
ip link add "${LT_NS}r" type veth peer name "${LT_NS}k" || lt_fail "ip link add veth"
ip link set "${LT_NS}r" netns "$LT_NS"
ip link set "${LT_NS}k" netns "$client_ns"
ip -n "$LT_NS" addr add 10.81.23.1/24 dev "${LT_NS}r"
ip -n "$LT_NS" -6 addr add fd00:81:23::1/64 dev "${LT_NS}r" nodad
ip -n "$LT_NS" link set "${LT_NS}r" up
ip -n "$client_ns" addr add 10.81.23.2/24 dev "${LT_NS}k"
ip -n "$client_ns" -6 addr add fd00:81:23::2/64 dev "${LT_NS}k" nodad
ip -n "$client_ns" link set "${LT_NS}k" up
ip -n "$client_ns" route add default via 10.81.23.1
ip -n "$client_ns" -6 route add default via fd00:81:23::1
ip netns exec "$LT_NS" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
cl() { ip netns exec "$client_ns" taskset -c "$LT_KERNEL_CPUS" "$@"; }

# The router's link-local address on the TAP follows from its MAC, which we set before IPv6 is
# enabled there: 02:00:00:81:22:01 gives fe80::ff:fe81:2201 (modified EUI-64).
router_ll=fe80::ff:fe81:2201
size=65536
ours6=fd00:81:22::2
lt_start server server --set "network.ipv6=[\"$ours6/64\"]" --set "network.routes=[\"10.81.23.0/24 via 10.81.22.1\"]" \
  --set "network.gateway6=\"$router_ll\"" --set server.http.body_size=$size --set tcp.msl_s=1
ip -n "$LT_NS" link set dev "$LT_IFACE" address 02:00:00:81:22:01 || lt_fail "cannot set the router's MAC"
lt6_enable fd00:81:22::1/64 "$ours6"
ip -n "$LT_NS" -6 addr show dev "$LT_IFACE" | grep -q "$router_ll" || lt_fail "the router's link-local address is not $router_ll"

expected="$(lt_pattern_sha256 $size)"
for addr in "$LT_OUR_IP" "[$ours6]"; do
  meta="$(cl curl -sS -g --noproxy '*' --max-time 30 -o "$LT_WORK/body" -w '%{http_code} %{size_download}' \
    "http://$addr/")" || lt_fail "curl http://$addr/ through the router failed: $meta"
  read -r code got <<<"$meta"
  [[ "$code" == 200 && "$got" == "$size" ]] || lt_fail "curl http://$addr/: status $code, $got bytes"
  [[ "$(sha256sum "$LT_WORK/body" | cut -d' ' -f1)" == "$expected" ]] || lt_fail "curl http://$addr/: body differs"
  echo "ok: curl http://$addr/ through the router, $got bytes intact"
  out="$LT_WORK/wrk.txt"
  cl wrk -t 1 -c 8 -d 2 --timeout 5 "http://$addr/" >"$out" 2>&1 || { cat "$out"; lt_fail "wrk $addr failed"; }
  grep -q "Socket errors\|Non-2xx" "$out" && { cat "$out"; lt_fail "wrk $addr: errors"; }
  echo "ok: wrk http://$addr/ through the router: $(awk '/requests in/ { print $1 }' "$out") requests"
done

lt_stop server
lt_report "$LT_WORK/server.json" '
print("  accepted", c["endpoint.connections_accepted"], "IPv6", c["endpoint.connections_accepted_ipv6"],
      "ARP requests", c["endpoint.arp_requests_out"], "NS", c["endpoint.ndp_solicitations_out"])
assert t["errors"] == 0, t
assert c["endpoint.connections_accepted_ipv6"] > 0 and c["endpoint.connections_accepted"] > c["endpoint.connections_accepted_ipv6"], c'
echo "PASS: the server answered IPv4 (static route) and IPv6 (gateway6 = the router link-local) through a kernel router"
