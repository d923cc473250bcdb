#!/usr/bin/env bash
# Throughput of Faultline's proxy beside direct and nginx (BENCH.md): wrk,
# 2 threads, 16 connections, 10 s per run, the demo httpbin target's
# /status/200 (0 B body), everything pinned to CPU 0, configurations
# interleaved, 3 repetitions. Prints each run and the medians with ratios.
# Needs wrk and (optionally) nginx: apt-get install -y wrk nginx.
set -euo pipefail
cd "$(dirname "$0")/.."
reps="${REPS:-3}"
secs="${SECS:-10}"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null; rm -rf "$work"' EXIT

CGO_ENABLED=0 go build -trimpath -o "$work/faultline" ./cmd/faultline
taskset -c 0 "$work/faultline" demo httpbin --listen 127.0.0.1:18080 --access-log=false >/dev/null &
taskset -c 0 "$work/faultline" proxy bench/table.yaml --listen 127.0.0.1:15001 >/dev/null &
configs="direct faultline"
if command -v nginx >/dev/null; then
  cat >"$work/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  upstream target { server 127.0.0.1:18080; keepalive 64; }
  server {
    listen 127.0.0.1:18081;
    location / { proxy_pass http://target; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
CONF
  taskset -c 0 nginx -c "$work/nginx.conf" -p "$work"
  configs="direct nginx faultline"
fi
sleep 1

declare -A url=([direct]=http://127.0.0.1:18080/status/200 [nginx]=http://127.0.0.1:18081/status/200 [faultline]=http://127.0.0.1:15001/status/200)
declare -A results
for rep in $(seq "$reps"); do
  for c in $configs; do
    rps=$(taskset -c 0 wrk -t2 -c16 -d"${secs}s" -H 'Host: httpbin:8000' "${url[$c]}" | awk '/Requests\/sec/ {print $2}')
    echo "rep $rep  $c  $rps rps"
    results[$c]+="$rps "
  done
done
echo
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
base=""
for c in $configs; do
  m=$(echo "${results[$c]}" | median)
  [ "$c" = nginx ] && base=$m
  echo "$c median $m rps"
done
if [ -n "$base" ]; then
  for c in $configs; do
    m=$(echo "${results[$c]}" | median)
    awk -v a="$m" -v b="$base" -v c="$c" 'BEGIN {printf "%s / nginx = %.2f\n", c, a/b}'
  done
fi
