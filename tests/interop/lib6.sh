# IPv6 for interop tests, on top of lib.sh (source lib.sh first). lt_start leaves IPv6 off on the
# kernel end of its TAP; lt6_enable turns it on there with duplicate address detection off (the
# address is usable at once, no sleep), adds KERNEL_ADDR/64 and waits until linetcp's IPv6
# address answers ping -6 (its NDP and ICMPv6 echo).
#
#   lt6_enable KERNEL_ADDR/LEN OUR_ADDR     for the latest TAP ($LT_IFACE in $LT_NS)
#   lt6_ns_nodad NS                         DAD off for every interface of namespace NS
# shellcheck shell=bash

lt6_ns_nodad() {
  ip netns exec "$1" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
    net.ipv6.conf.all.dad_transmits=0 net.ipv6.conf.default.dad_transmits=0
}

lt6_enable() {
  local kernel="${1:?lt6_enable KERNEL_ADDR/LEN OUR_ADDR}" ours="${2:?}" iface="$LT_IFACE" i
  lt6_ns_nodad "$LT_NS"
  lt_ns sysctl -qw "net.ipv6.conf.$iface.accept_dad=0" "net.ipv6.conf.$iface.dad_transmits=0" \
    "net.ipv6.conf.$iface.disable_ipv6=0" || lt_fail "cannot enable IPv6 on $iface"
  ip -n "$LT_NS" -6 addr add "$kernel" dev "$iface" nodad || lt_fail "ip -6 addr add $kernel"
  for ((i = 0; i < 20; i++)); do
    lt_ns ping -6 -c 1 -W 1 "$ours" >/dev/null 2>&1 && return 0
  done
  lt_fail "$ours does not answer ping -6"
}
