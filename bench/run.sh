#!/usr/bin/env bash
# Throughput of Faultline's proxy beside direct, nginx and Go's
# httputil.ReverseProxy (docs/performance.md), and of an environment's data
# plane at its baseline (the same table, inside `faultline serve`, through
# its egress, with its service graph and access log): wrk, 2 threads, 16
# connections, 10 s per run, the demo httpbin target's /status/200 (0 B
# body), everything pinned to CPU 0, configurations interleaved, 3
# repetitions. Prints each run (with the proxy process's CPU time per 1000
# requests) and the medians with ratios.
#
#   bench/run.sh                  # this tree
#   BASE=<git ref> bench/run.sh   # and the proxy built from <ref>, interleaved
#
# Knobs: REPS (3), SECS (10), PIN (CPU list for taskset, "0"; empty: unpinned),
# PORT (first of seven consecutive loopback ports, 18080).
# Needs wrk and (optionally) nginx: apt-get install -y wrk nginx.
set -euo pipefail
cd "$(dirname "$0")/.."
reps="${REPS:-3}"
secs="${SECS:-10}"
pin="${PIN-0}"
port="${PORT:-18080}"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null; rm -rf "$work"' EXIT

# run: the command prefix that pins a process (empty when unpinned), so
# that $! is the process itself.
run=()
[ -n "$pin" ] && run=(taskset -c "$pin")

target=$port nginx_port=$((port + 1)) rp_port=$((port + 2)) fl_port=$((port + 3)) base_port=$((port + 4))
env_port=$((port + 5)) api_port=$((port + 6))
CGO_ENABLED=0 go build -trimpath -o "$work/faultline" ./cmd/faultline
CGO_ENABLED=0 go build -trimpath -o "$work/reverseproxy" bench/reverseproxy.go
sed "s/127.0.0.1:18080/127.0.0.1:$target/" bench/table.yaml >"$work/table.yaml"

declare -A url pid
"${run[@]}" "$work/faultline" demo httpbin --listen "127.0.0.1:$target" --access-log=false >/dev/null &
"${run[@]}" "$work/faultline" proxy "$work/table.yaml" --listen "127.0.0.1:$fl_port" >/dev/null &
pid[faultline]=$!
"${run[@]}" "$work/reverseproxy" -listen "127.0.0.1:$rp_port" -target "http://127.0.0.1:$target" 2>/dev/null &
pid[reverseproxy]=$!
url[direct]=http://127.0.0.1:$target/status/200
url[faultline]=http://127.0.0.1:$fl_port/status/200
url[reverseproxy]=http://127.0.0.1:$rp_port/status/200
# The same table as an environment's baseline: its services and resources,
# an egress instead of a load.
sed -e 's/^kind: Experiment$/kind: Environment/' -e "0,/^spec:\$/s//spec:\n  egress: 127.0.0.1:$env_port/" -e '/^  load:/d' \
  "$work/table.yaml" >"$work/environment.yaml"
"${run[@]}" "$work/faultline" serve --addr "127.0.0.1:$api_port" --db "$work/env.db" --no-examples \
  --environment "$work/environment.yaml" >/dev/null 2>&1 &
pid[environment]=$!
url[environment]=http://127.0.0.1:$env_port/status/200
have_base=""
if [ -n "${BASE:-}" ]; then
  mkdir -p "$work/base"
  git archive "$BASE" | tar -x -C "$work/base"
  (cd "$work/base" && CGO_ENABLED=0 go build -trimpath -o "$work/faultline-base" ./cmd/faultline)
  "${run[@]}" "$work/faultline-base" proxy "$work/table.yaml" --listen "127.0.0.1:$base_port" >/dev/null &
  pid[faultline-base]=$!
  url[faultline-base]=http://127.0.0.1:$base_port/status/200
  have_base=1
fi
configs="direct"
if command -v nginx >/dev/null; then
  cat >"$work/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  upstream target { server 127.0.0.1:$target; keepalive 64; }
  server {
    listen 127.0.0.1:$nginx_port;
    location / { proxy_pass http://target; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
CONF
  "${run[@]}" nginx -c "$work/nginx.conf" -p "$work"
  sleep 0.5
  pid[nginx]=$(pgrep -P "$(cat "$work/nginx.pid")" | head -1)
  url[nginx]=http://127.0.0.1:$nginx_port/status/200
  configs="$configs nginx"
fi
configs="$configs reverseproxy faultline environment${have_base:+ faultline-base}"
sleep 1
echo "pinning: ${pin:-none}; wrk -t2 -c16 -d${secs}s; configs: $configs"

# cpu_ticks PID: user+system clock ticks of a process so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

declare -A results cpu
for rep in $(seq "$reps"); do
  for c in $configs; do
    before=0
    [ -n "${pid[$c]:-}" ] && before=$(cpu_ticks "${pid[$c]}")
    out=$("${run[@]}" wrk -t2 -c16 -d"${secs}s" -H 'Host: httpbin:8000' "${url[$c]}")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    n=$(awk '/requests in/ {print $1}' <<<"$out")
    note=""
    if [ -n "${pid[$c]:-}" ]; then
      ms=$(awk -v a="$before" -v b="$(cpu_ticks "${pid[$c]}")" -v hz="$hz" -v n="$n" 'BEGIN {printf "%.1f", (b - a) * 1000 / hz / n * 1000}')
      cpu[$c]+="$ms "
      note="  proxy CPU ${ms} ms/1000 req"
    fi
    echo "rep $rep  $c  $rps rps$note"
    results[$c]+="$rps "
  done
done
echo
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A med
for c in $configs; do
  med[$c]=$(echo "${results[$c]}" | median)
  line="$c median ${med[$c]} rps"
  [ -n "${cpu[$c]:-}" ] && line="$line, proxy CPU $(echo "${cpu[$c]}" | median) ms/1000 req"
  echo "$line"
done
for base in nginx reverseproxy faultline-base; do
  [ -n "${med[$base]:-}" ] || continue
  for c in $configs; do
    [ "$c" = "$base" ] && continue
    awk -v a="${med[$c]}" -v b="${med[$base]}" -v c="$c" -v base="$base" 'BEGIN {printf "%s / %s = %.2f\n", c, base, a/b}'
  done
done
