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
# Then, with fortio as the client, the added latency at a fixed rate: 1000 qps
# uniform over 16 connections for LATSECS, p50, p99 and p99.9 of each
# configuration and their excess over direct (10 µs histogram resolution).
#
# Knobs: REPS (3), SECS (10), PIN (CPU list for taskset, "0"; empty: unpinned),
# PORT (first of seven consecutive loopback ports, 18080), CLIENT (wrk or
# fortio: the throughput client, wrk), LATSECS (15; 0 skips the latency pass).
# Installs what it lacks: wrk and nginx from Debian's packages (as root),
# fortio with `go install`.
set -euo pipefail
client="${CLIENT:-wrk}"
latsecs="${LATSECS:-15}"
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
export PATH="$PATH:/usr/sbin:$(go env GOPATH | cut -d: -f1)/bin"
command -v fortio >/dev/null || go install fortio.org/fortio@v1.68.2
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
echo "pinning: ${pin:-none}; client $client, 16 connections, ${secs}s; configs: $configs"

# cpu_ticks PID: user+system clock ticks of a process so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

declare -A results cpu
for rep in $(seq "$reps"); do
  for c in $configs; do
    before=0
    [ -n "${pid[$c]:-}" ] && before=$(cpu_ticks "${pid[$c]}")
    if [ "$client" = fortio ]; then
      "${run[@]}" fortio load -quiet -qps 0 -c 16 -t "${secs}s" -H 'Host: httpbin:8000' -json "$work/max.json" "${url[$c]}" >/dev/null 2>&1
      rps=$(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["ActualQPS"], 1))' "$work/max.json")
      n=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["DurationHistogram"]["Count"])' "$work/max.json")
    else
      out=$("${run[@]}" wrk -t2 -c16 -d"${secs}s" -H 'Host: httpbin:8000' "${url[$c]}")
      rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
      n=$(awk '/requests in/ {print $1}' <<<"$out")
    fi
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

# Added latency at 1000 qps, fortio as the client: each configuration's
# percentiles, then the excess over direct, medians of the repetitions.
[ "$latsecs" = 0 ] && exit 0
echo
echo "latency at 1000 qps uniform, 16 connections, ${latsecs}s (ms)"
declare -A lat
for rep in $(seq "$reps"); do
  for c in $configs; do
    "${run[@]}" fortio load -quiet -qps 1000 -uniform -c 16 -t "${latsecs}s" -r 0.00001 -p 50,99,99.9 \
      -H 'Host: httpbin:8000' -json "$work/lat.json" "${url[$c]}" >/dev/null 2>&1
    line=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
p = {x["Percentile"]: x["Value"] * 1000 for x in d["DurationHistogram"]["Percentiles"]}
print("%.3f %.3f %.3f" % (p[50], p[99], p[99.9]))' "$work/lat.json")
    echo "rep $rep  $c  p50 p99 p99.9: $line"
    lat[$c]+="$line;"
  done
done
pct() { # configuration, field (1 p50, 2 p99, 3 p99.9): the median over repetitions
  tr ';' '\n' <<<"${lat[$1]}" | grep . | awk -v f="$2" '{print $f}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
for c in $configs; do
  [ "$c" = direct ] && continue
  awk -v c="$c" -v a="$(pct "$c" 1)" -v b="$(pct "$c" 2)" -v d="$(pct "$c" 3)" \
    -v x="$(pct direct 1)" -v y="$(pct direct 2)" -v z="$(pct direct 3)" \
    'BEGIN {printf "%s over direct: +p50 %.3f ms, +p99 %.3f ms, +p99.9 %.3f ms\n", c, a - x, b - y, d - z}'
done
