#!/usr/bin/env bash
# Integration: a linetcp echo client against a linetcp server over IPv6 or a VLAN, on a real DPDK
# link: ring (one process, `linetcp pair`, two net_ring ports, no hugepages), memif (two
# processes, hugepages) or virtio (two processes as virtio-user ports on dpdk-testpmd's two
# vhost-user ports in io forward mode, hugepages; the virtio PMD offers VLAN insert and strip, so
# with the vlan variant both sides must use them: tags written and removed by the port). VARIANT is
#   ipv6   every connection over IPv6 (three client source addresses, NDP on both sides)
#   mixed  IPv4 and IPv6 targets in one run (client.targets, weights 1:1)
#   vlan   the mixed run with every frame tagged 802.1Q VLAN 100
#   vlan_other  (virtio) the server on VLAN 100, the client on VLAN 101: the server's port strips
#          the client's tags and its worker must drop every frame (port.rx_vlan_other), accepting
#          nothing; the negative case of the stripped-tag check
# Every echoed byte is verified by the client (echo_mismatches). Passes when the client saw zero
# errors, both sides closed every connection, they agree on connections and bytes, and the IPv6
# share is what the variant says (connections_opened_ipv6 / connections_accepted_ipv6).
# Usage: pair_ipv6_test.sh LINETCP SRCROOT LINK VARIANT     Exit: 0 pass, 1 fail, 77 skip.
set -euo pipefail

linetcp="${1:?usage: pair_ipv6_test.sh LINETCP SRCROOT LINK VARIANT}"
srcroot="${2:?}"
link="${3:?}"
variant="${4:?}"
seconds="${PAIR_SECONDS:-3}"

# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lt_pair_setup lt6p "$link" "pair6.$link.$variant"

common=(tcp.msl_s=0.2 status.interval_s=0)
server=('network.ipv6=["fd00:6::1/64"]' server.echo.port=7)
client=('network.ipv6=["fd00:6::2/64","fd00:6::3/64","fd00:6::4/64"]' 'client.protocol="echo"'
        client.concurrency=60 client.requests_per_connection=20 client.request_size=3000)
case "$variant" in
  ipv6) client+=('client.target="[fd00:6::1]:7"') ;;
  mixed) client+=('client.target="10.0.0.1:7"' 'client.targets=["[fd00:6::1]:7 weight=1"]') ;;
  vlan) client+=('client.target="10.0.0.1:7"' 'client.targets=["[fd00:6::1]:7 weight=1"]')
        common+=(port.vlan=100) ;;
  vlan_other) [[ "$link" == virtio ]] || { echo "vlan_other needs the virtio link"; exit 2; }
        seconds=1
        client=('client.protocol="echo"' 'client.target="10.0.0.1:7"' client.concurrency=4)
        server+=(port.vlan=100)
        client+=(port.vlan=101) ;;
  *) echo "unknown variant $variant"; exit 2 ;;
esac

sets() {  # FLAG KEY=VALUE...
  local flag="$1"
  shift
  for kv in "$@"; do printf '%s\0%s\0' "$flag" "$kv"; done
}

if [[ "$link" == ring ]]; then
  mapfile -d '' args < <(sets --set "${common[@]}"; sets --server-set "${server[@]}"; sets --client-set "${client[@]}")
  timeout 90 "$linetcp" pair --server-config "$srcroot/config/server-memif.toml" \
    --client-config "$srcroot/config/client-memif.toml" "${args[@]}" \
    --duration "$seconds" --report "$work/client.json" --server-report "$work/server.json" \
    >"$work/pair.log" 2>&1 || fail "linetcp pair failed"
else
  if [[ "$link" == virtio ]]; then
    lt_start_vhost_switch
    common+=(port.device=\"virtio_user0\")
    eal() {  # CORE ROLE
      local sock=vh0.sock
      [[ "$2" == client ]] && sock=vh1.sock
      echo "[\"-l\",\"$1\",\"--file-prefix=lt6p${id}$2\",\"--single-file-segments\",\"--no-pci\",\"--vdev=virtio_user0,path=$work/$sock\"]"
    }
  else
    eal() { echo "[\"-l\",\"$1\",\"--in-memory\",\"--no-pci\",\"--vdev=net_memif0,role=$2,socket=$work/memif.sock\"]"; }
  fi
  mapfile -d '' sargs < <(sets --set "${common[@]}" "${server[@]}")
  "$linetcp" server --config "$srcroot/config/server-memif.toml" --set "dpdk.eal=$(eal 0 server)" \
    "${sargs[@]}" --report "$work/server.json" >"$work/server.log" 2>&1 &
  server_pid=$!
  pids+=("$server_pid")
  lt_wait_started "$work/server.log" "$server_pid" || fail "the server did not start"
  mapfile -d '' cargs < <(sets --set "${common[@]}" "${client[@]}")
  timeout 90 "$linetcp" client --config "$srcroot/config/client-memif.toml" --set "dpdk.eal=$(eal 1 client)" \
    "${cargs[@]}" --duration "$seconds" --report "$work/client.json" --linger 60 >"$work/client.log" 2>&1 &
  client_pid=$!
  pids+=("$client_pid")
  lt_wait_report "$work/client.json" "$client_pid" $((seconds * 10 + 300))
  # The server lets its closes under way (LAST-ACK) finish before it exits: no pause needed.
  kill -TERM "$server_pid"
  wait "$server_pid" || fail "the server exited with an error"
  kill -TERM "$client_pid"
  # With no peer on its VLAN the client's connections fail, and it may say so in its exit status.
  wait "$client_pid" || [[ "$variant" == vlan_other ]] || fail "the client exited with an error"
fi

if [[ "$variant" == vlan_other ]]; then
  grep -q "VLAN 100: insert hardware, strip hardware" "$work/server.log" || fail "server: no VLAN strip"
  python3 - "$work/server.json" <<'PY' || fail "frames of VLAN 101 reached the server's engine"
import json, sys
sc = json.load(open(sys.argv[1]))["counters"]
print(f"server: port.rx_vlan_other {sc['port.rx_vlan_other']}, frames_in {sc['endpoint.frames_in']}, "
      f"accepted {sc['endpoint.connections_accepted']}")
ok = sc["port.rx_vlan_other"] > 0 and sc["endpoint.frames_in"] == 0 and sc["endpoint.connections_accepted"] == 0
sys.exit(0 if ok else 1)
PY
  echo "PASS"
  exit 0
fi

if [[ "$link" == virtio && "$variant" == vlan ]]; then
  # Both ports must have taken the offloads (a virtio PMD offers them): the tags were inserted and
  # stripped by the port, and every frame the engines took came with the port's stripped flag and
  # VLAN 100 (the worker drops any other: port.rx_vlan_other, checked below).
  for side in server client; do
    grep -q "VLAN 100: insert hardware, strip hardware" "$work/$side.log" ||
      fail "$side: the port did not take VLAN insert and strip: $(grep 'VLAN 100' "$work/$side.log" || echo 'no VLAN line')"
  done
fi

python3 - "$work/client.json" "$work/server.json" "$variant" <<'PY' || fail "the reports disagree"
import json, sys
c = json.load(open(sys.argv[1])); s = json.load(open(sys.argv[2])); variant = sys.argv[3]
cc, sc = c["counters"], s["counters"]
problems = []
def check(cond, what):
    if not cond: problems.append(what)
check(c["totals"]["errors"] == 0, f"client errors: {c['totals']['errors']}")
bad = ("eth_too_short", "eth_vlan_other", "ipv4_bad_header", "ipv4_bad_checksum", "ipv6_bad_header", "ipv6_fragments",
       "ipv6_not_for_us", "ipv6_bad_source", "ipv6_peers_full", "icmp6_bad", "ndp_bad", "tcp_bad_header",
       "tcp_bad_checksum", "tcp_bad_options", "conn_table_full", "control_queue_full")
for side, counters in (("client", cc), ("server", sc)):
    nonzero = {k: counters["endpoint." + k] for k in bad if counters["endpoint." + k]}
    check(not nonzero, f"{side} dropped frames: {nonzero}")
check(cc["client.responses"] > 100, f"only {cc['client.responses']} echo responses")
check(cc["client.echo_mismatches"] == 0, "echoed bytes differ")
check(cc["client.bytes_received"] == sc["echo_server.bytes_in"], "echoed bytes != bytes the server got")
check(cc["client.connections_established"] == sc["endpoint.connections_accepted"],
      f"opened {cc['client.connections_established']} != accepted {sc['endpoint.connections_accepted']}")
check(cc["client.connections_closed"] == cc["client.connections_started"], "client: connections not closed")
check(sc["endpoint.connections_accepted"] + sc["endpoint.syn_received_closed"] == sc["endpoint.connections_closed"],
      "server: connections not closed")
opened, opened6 = cc["endpoint.connections_opened"], cc["endpoint.connections_opened_ipv6"]
accepted6 = sc["endpoint.connections_accepted_ipv6"]
if variant == "ipv6":
    check(opened6 == opened and opened > 0, f"{opened6} of {opened} connections over IPv6")
else:
    check(0.4 < opened6 / max(opened, 1) < 0.6, f"{opened6} of {opened} connections over IPv6, expected half")
check(accepted6 > 0 and accepted6 <= opened6, f"server accepted {accepted6} over IPv6, client opened {opened6}")
check(cc["endpoint.ndp_solicitations_out"] > 0 and sc["endpoint.ndp_advertisements_out"] > 0, "no NDP exchange")
if variant == "vlan":
    check(cc["endpoint.eth_vlan_other"] == 0 and sc["endpoint.eth_vlan_other"] == 0, "frames outside VLAN 100")
    check(cc["port.rx_vlan_other"] == 0 and sc["port.rx_vlan_other"] == 0,
          f"stripped frames outside VLAN 100: client {cc['port.rx_vlan_other']}, server {sc['port.rx_vlan_other']}")
print(f"{variant}: {opened} connections ({opened6} IPv6), {cc['client.responses']} echoes verified, "
      f"{cc['client.bytes_received']} bytes, retransmits {cc.get('tcp.retransmits', 0)}")
if problems:
    print("\n".join(problems)); sys.exit(1)
PY
echo "PASS"
