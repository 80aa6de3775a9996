#!/usr/bin/env bash
# Interop: the linetcp client against nginx in the kernel listening on IPv6 (and IPv4): a 3 s run
# of short connections to [fd00:81:21::1]:80 from three linetcp IPv6 source addresses, then a 3 s
# keep-alive run mixing an IPv4 and an IPv6 target (client.targets, weights 1:2). Passes when each
# run has responses and zero errors, status_2xx == responses, nginx logged only 200s, at least as
# many as the client counted, from every source address used, and the IPv6 share matches.
# Usage: ipv6_nginx_client_test.sh LINETCP SRCROOT     Exit: 0 pass, 1 fail, 77 skip.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib6.sh"
lt_init ngx6 10.81.21 "$@"
lt_require nginx ss

kernel6=fd00:81:21::1
www="$LT_WORK/www"
mkdir -p "$www" "$LT_WORK/nginx-temp"
chmod 755 "$LT_WORK" "$www"
python3 "$LT_SRCROOT/tests/interop/pattern.py" write 4096 "$www/index.html"
cat >"$LT_WORK/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $LT_WORK/nginx.pid;
error_log $LT_WORK/nginx-error.log warn;
events { worker_connections 4096; }
http {
  log_format addr '\$remote_addr \$status';
  access_log $LT_WORK/nginx-access.log addr;
  client_body_temp_path $LT_WORK/nginx-temp/body;
  proxy_temp_path $LT_WORK/nginx-temp/proxy;
  fastcgi_temp_path $LT_WORK/nginx-temp/fastcgi;
  uwsgi_temp_path $LT_WORK/nginx-temp/uwsgi;
  scgi_temp_path $LT_WORK/nginx-temp/scgi;
  default_type application/octet-stream;
  server {
    listen $LT_KERNEL_IP:80;
    listen [$kernel6]:80;
    root $www;
    keepalive_requests 100000000;
  }
}
CONF
# nginx binds the addresses before linetcp's interface (and the kernel's address on it) exists.
ip netns exec "$LT_NS" sysctl -qw net.ipv6.ip_nonlocal_bind=1 || lt_skip "no net.ipv6.ip_nonlocal_bind"
lt_bg nginx nginx -e "$LT_WORK/nginx-error.log" -p "$LT_WORK" -c "$LT_WORK/nginx.conf"
for ((i = 0; i < 50; i++)); do
  lt_ns ss -Hltn "sport = :80" | grep -q "\[$kernel6\]" && break
  lt_alive nginx || lt_fail "nginx exited: $(cat "$LT_WORK/nginx-error.log" 2>/dev/null)"
  sleep 0.1
done
lt_ns ss -Hltn "sport = :80" | grep -q "\[$kernel6\]" || lt_fail "nginx is not listening on [$kernel6]:80"

run() { # NAME REQUESTS_PER_CONNECTION TARGET [--set ...]
  local name="$1" rpc="$2" target="$3"
  shift 3
  : >"$LT_WORK/nginx-access.log"
  # Connections opened before the kernel's IPv6 address exists wait for NDP (no error).
  lt_start "$name" client --set "network.ipv6=[\"fd00:81:21::2/64\",\"fd00:81:21::3/64\",\"fd00:81:21::4/64\"]" \
    --set "client.target=\"$target\"" --set client.requests_per_connection="$rpc" --set client.concurrency=30 \
    --set tcp.msl_s=1 --duration 3 "$@"
  lt6_enable "$kernel6/64" fd00:81:21::2
  lt_wait "$name" 60
  lt_wait_log_lines "$LT_WORK/nginx-access.log" '$2 == 200' "$(lt_report "$LT_WORK/$name.json" "print(t['responses'])")"
  local ok other
  ok="$(awk '$2 == 200' "$LT_WORK/nginx-access.log" | wc -l)"
  other="$(awk '$2 != 200' "$LT_WORK/nginx-access.log" | wc -l)"
  ((other == 0)) || lt_fail "$name: nginx logged $other non-200 responses"
  awk '{ print $1 }' "$LT_WORK/nginx-access.log" | sort | uniq -c >"$LT_WORK/$name-sources.txt"
  echo "$name: requests per source address at nginx:"
  cat "$LT_WORK/$name-sources.txt"
  lt_report "$LT_WORK/$name.json" "
errs = {k: c['client.' + k] for k in ('connect_failed', 'connections_reset', 'connections_timed_out',
        'bad_responses', 'incomplete', 'status_other')}
print('$name: connections', t['connections'], 'responses', t['responses'], 'nginx 200s', $ok,
      'IPv6 opened', c['endpoint.connections_opened_ipv6'], 'of', c['endpoint.connections_opened'])
assert t['errors'] == 0 and not any(errs.values()), errs
assert t['responses'] > 0
assert c['client.status_2xx'] == c['client.responses'] == t['responses'], c
assert $ok >= t['responses'], ('nginx logged fewer 200s than the client counted', $ok)
"
}

run short6 1 "[$kernel6]:80"
for src in fd00:81:21::2 fd00:81:21::3 fd00:81:21::4; do
  grep -q " $src\$" "$LT_WORK/short6-sources.txt" || lt_fail "short6: nginx saw no request from $src"
done
lt_report "$LT_WORK/short6.json" 'assert c["endpoint.connections_opened_ipv6"] == c["endpoint.connections_opened"] > 0, c'

run mixed 0 "$LT_KERNEL_IP:80" --set "client.targets=[\"[$kernel6]:80 weight=2\"]"
grep -q " $LT_OUR_IP\$" "$LT_WORK/mixed-sources.txt" || lt_fail "mixed: no IPv4 requests at nginx"
grep -q " fd00:81:21::" "$LT_WORK/mixed-sources.txt" || lt_fail "mixed: no IPv6 requests at nginx"
lt_report "$LT_WORK/mixed.json" '
share = c["endpoint.connections_opened_ipv6"] / c["endpoint.connections_opened"]
print("  IPv6 share of connections %.2f (weights 1:2)" % share)
assert c["endpoint.connections_opened"] >= 30 and 0.55 < share < 0.8, c'
echo "PASS: linetcp client -> nginx over IPv6 from 3 source addresses, and IPv4+IPv6 mixed, no errors"
