#!/usr/bin/env bash
# Faultline's proxy beside direct, nginx and Go's httputil.ReverseProxy
# (docs/performance.md), on one machine, configurations interleaved:
#
#   direct           the demo httpbin target itself (reference, no proxy)
#   nginx-w1         nginx, 1 worker, upstream keep-alive
#   reverseproxy     bench/reverseproxy.go, a tuned httputil.ReverseProxy
#   faultline        `faultline-proxy bench/table.yaml` (the realistic table;
#                    faultline-proxy is `faultline proxy` as a binary alone)
#   faultline-plain  `faultline-proxy bench/plain.yaml` (one plain route)
#   environment      the realistic table as an environment's baseline inside
#                    `faultline serve` (its egress, service graph, access log)
#   faultline-base   with BASE set: the realistic table, proxy built from BASE
#
#   bench/run.sh                  # this tree
#   BASE=<git ref> bench/run.sh   # and the proxy built from <ref>, interleaved
#
# Each repetition measures the maximum throughput of every configuration with
# wrk (-t2 -c16) and with fortio (`fortio load -qps -1 -c 16`), SECS each,
# against /status/200 (0 B body, Host: httpbin:8000), and the proxy process's
# CPU time per 1000 requests (/proc/PID/stat before and after); then the
# latency of each at 1000 qps uniform over 16 connections (fortio) for LATSECS,
# in slices of LATSLICE seconds that the configurations take in turns, so that
# all of them see the same stretch of the machine's own stalls; percentiles
# are exact, over every request of a configuration's slices (fortio's access
# log), and the CPU steal of its slices is recorded beside them. After the
# last repetition it reads each proxy's peak resident set (VmHWM in
# /proc/PID/status).
#
# Output, on standard output in this order:
#   1. the summary table: one row per configuration, medians over REPS:
#      max rps with wrk and with fortio; × nginx-w1 and × reverseproxy as
#      "wrk / fortio" (each the median of the repetitions' ratios); CPU-ms per
#      1000 requests ("wrk / fortio"); +p50, +p99, +p99.9 at 1000 qps in ms
#      (each the median of the repetitions' excess over direct; direct's own
#      row has its absolute percentiles in brackets); peak RSS in MiB;
#   2. the same table with each figure's spread over the repetitions (min–max);
#   3. three lines: the cost of the idle chaos features (faultline's CPU per
#      request ÷ faultline-plain's, per client; target ≤ 1.1); delay precision
#      (a proxy whose route injects fixedDelay 100ms at 100 %, fortio at 100 qps
#      uniform, 8 connections, 5 s: p50 and p99 in ms, exact from fortio's
#      access log; target p50 in [100, 102]); the load generator's overhead
#      (the project's loadgen, bench/loadgenrate, ÷ the bare `fortio load`,
#      each at its maximum rate, 16 connections, SECS, against direct,
#      alternating; target ≥ 0.95). Each as the median [min–max];
#   4. every run's figures.
#
# Knobs: REPS (3), SECS (10), PIN (CPU list for taskset, "0"; empty:
# unpinned; client, target and proxies share it), PORT (first of nine
# consecutive loopback ports, 18080), CLIENT (empty: both wrk and fortio;
# "wrk" or "fortio" restricts the throughput runs to one), LATSECS (15; 0
# skips the latency pass), LATSLICE (3), BASE (a git ref, see above).
# Installs what it lacks: wrk and nginx from Debian's packages (as root),
# fortio v1.68.2 with `go install`. Every load is bounded in time and aimed
# at 127.0.0.1.
set -euo pipefail
reps="${REPS:-3}"
secs="${SECS:-10}"
pin="${PIN-0}"
port="${PORT:-18080}"
latsecs="${LATSECS:-15}"
latslice="${LATSLICE:-3}"
case "${CLIENT:-}" in
  "") clients="wrk fortio" ;;
  wrk | fortio) clients="$CLIENT" ;;
  *) echo "bench/run.sh: CLIENT must be wrk, fortio or empty, not ${CLIENT}" >&2; exit 2 ;;
esac

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null && apt-get install -y -qq "${missing[@]}" >/dev/null; }
fi
export PATH="$PATH:/usr/sbin:$(go env GOPATH | cut -d: -f1)/bin"
command -v fortio >/dev/null || go install fortio.org/fortio@v1.68.2
if [[ " $clients " = *" wrk "* ]] && ! command -v wrk >/dev/null; then
  echo "bench/run.sh: wrk is missing (install it, or CLIENT=fortio)" >&2
  exit 1
fi
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null; rm -rf "$work"' EXIT

# run: the command prefix that pins a process (empty when unpinned), so
# that $! is the process itself.
run=()
[ -n "$pin" ] && run=(taskset -c "$pin")
# progress: one line on a terminal's standard error, erased at the end.
progress() { [ -t 2 ] && printf '\r\033[K%s' "$*" >&2 || true; }

target=$port nginx_port=$((port + 1)) rp_port=$((port + 2)) fl_port=$((port + 3)) base_port=$((port + 4))
env_port=$((port + 5)) api_port=$((port + 6)) plain_port=$((port + 7)) delay_port=$((port + 8))
CGO_ENABLED=0 go build -trimpath -o "$work/faultline" ./cmd/faultline
CGO_ENABLED=0 go build -trimpath -o "$work/faultline-proxy" ./cmd/faultline-proxy
CGO_ENABLED=0 go build -trimpath -o "$work/reverseproxy" bench/reverseproxy.go
CGO_ENABLED=0 go build -trimpath -o "$work/loadgenrate" ./bench/loadgenrate
sed "s/127.0.0.1:18080/127.0.0.1:$target/" bench/table.yaml >"$work/table.yaml"
sed "s/127.0.0.1:18080/127.0.0.1:$target/" bench/plain.yaml >"$work/plain.yaml"
# The realistic table with its hit route's delay at 100 %.
sed 's/delay: {fixedDelay: 100ms, percentage: {value: 0}}/delay: {fixedDelay: 100ms, percentage: {value: 100}}/' \
  "$work/table.yaml" >"$work/delay.yaml"
grep -q 'fixedDelay: 100ms, percentage: {value: 100}' "$work/delay.yaml" ||
  { echo "bench/run.sh: bench/table.yaml has no 100ms delay at 0 % to turn on" >&2; exit 1; }
# The realistic table as an environment's baseline: its services and
# resources, an egress instead of a load.
sed -e 's/^kind: Experiment$/kind: Environment/' -e "0,/^spec:\$/s//spec:\n  egress: 127.0.0.1:$env_port/" -e '/^  load:/d' \
  "$work/table.yaml" >"$work/environment.yaml"

declare -A url pid
ports=("$target" "$fl_port" "$plain_port" "$rp_port" "$env_port" "$delay_port")
"${run[@]}" "$work/faultline" demo httpbin --listen "127.0.0.1:$target" --access-log=false >/dev/null &
url[direct]=http://127.0.0.1:$target/status/200
"${run[@]}" "$work/faultline-proxy" "$work/table.yaml" --listen "127.0.0.1:$fl_port" >/dev/null &
pid[faultline]=$!
url[faultline]=http://127.0.0.1:$fl_port/status/200
"${run[@]}" "$work/faultline-proxy" "$work/plain.yaml" --listen "127.0.0.1:$plain_port" >/dev/null &
pid[faultline-plain]=$!
url[faultline-plain]=http://127.0.0.1:$plain_port/status/200
"${run[@]}" "$work/reverseproxy" -listen "127.0.0.1:$rp_port" -target "http://127.0.0.1:$target" 2>/dev/null &
pid[reverseproxy]=$!
url[reverseproxy]=http://127.0.0.1:$rp_port/status/200
"${run[@]}" "$work/faultline" serve --addr "127.0.0.1:$api_port" --db "$work/env.db" --no-examples \
  --environment "$work/environment.yaml" >/dev/null 2>&1 &
pid[environment]=$!
url[environment]=http://127.0.0.1:$env_port/status/200
"${run[@]}" "$work/faultline-proxy" "$work/delay.yaml" --listen "127.0.0.1:$delay_port" >/dev/null &
delay_url=http://127.0.0.1:$delay_port/status/200
have_base=""
if [ -n "${BASE:-}" ]; then
  mkdir -p "$work/base"
  git archive "$BASE" | tar -x -C "$work/base"
  (cd "$work/base" && CGO_ENABLED=0 go build -trimpath -o "$work/faultline-base" ./cmd/faultline)
  "${run[@]}" "$work/faultline-base" proxy "$work/table.yaml" --listen "127.0.0.1:$base_port" >/dev/null &
  pid[faultline-base]=$!
  url[faultline-base]=http://127.0.0.1:$base_port/status/200
  ports+=("$base_port")
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
  pid[nginx-w1]=$(pgrep -P "$(cat "$work/nginx.pid")" | head -1)
  url[nginx-w1]=http://127.0.0.1:$nginx_port/status/200
  configs="$configs nginx-w1"
fi
configs="$configs reverseproxy faultline faultline-plain environment${have_base:+ faultline-base}"
# Wait for every listener (10 s at most).
for p in "${ports[@]}"; do
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue 2
    sleep 0.1
  done
  echo "bench/run.sh: nothing listens on 127.0.0.1:$p" >&2
  exit 1
done

# steal_ticks: clock ticks the hypervisor took from the pinned CPU (from
# all of them when unpinned or pinned to several) so far.
steal_cpu=cpu
[[ "$pin" =~ ^[0-9]+$ ]] && steal_cpu="cpu$pin"
steal_ticks() { awk -v c="$steal_cpu" '$1 == c {print $9}' /proc/stat; }
# cpu_ticks PID: user+system clock ticks of a process so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
# fortio_json FILE: "rps requests non-200" of a `fortio load -json` result.
fortio_json() {
  python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
n = d["DurationHistogram"]["Count"]
print("%.1f %d %d" % (d["ActualQPS"], n, n - d["RetCodes"].get("200", 0)))' "$1"
}
# maxload CLIENT URL: "rps requests errors" of one maximum-rate run.
maxload() {
  if [ "$1" = fortio ]; then
    "${run[@]}" fortio load -quiet -qps -1 -c 16 -t "${secs}s" -H 'Host: httpbin:8000' -json "$work/max.json" "$2" >/dev/null 2>&1
    fortio_json "$work/max.json"
  else
    "${run[@]}" wrk -t2 -c16 -d"${secs}s" -H 'Host: httpbin:8000' "$2" | awk '
      /Requests\/sec/ {rps = $2}
      /requests in/ {n = $1}
      /Non-2xx/ {e += $NF}
      /Socket errors/ {gsub(",", ""); e += $4 + $6 + $8 + $10}
      END {print rps, n, e + 0}'
  fi
}
details="$work/details"
detail() { echo "$*" >>"$details"; }
detail "pinning: ${pin:-none}; fortio $(go version -m "$(command -v fortio)" | awk '$1 == "mod" {print $3}'); throughput: ${clients/ / and }, 16 connections, ${secs}s per run; configs: $configs"

# rps, cpu: [config,client,rep]; lat: [config,rep] = "p50 p99 p99.9" in ms.
declare -A rps cpu lat
for rep in $(seq "$reps"); do
  for cl in $clients; do
    for c in $configs; do
      progress "repetition $rep/$reps: maximum throughput, $cl, $c"
      before=0
      [ -n "${pid[$c]:-}" ] && before=$(cpu_ticks "${pid[$c]}")
      read -r r n e < <(maxload "$cl" "${url[$c]}")
      [ -n "$n" ] && [ "$n" != 0 ] || { echo "bench/run.sh: $cl made no requests to $c" >&2; exit 1; }
      rps[$c,$cl,$rep]=$r
      note=""
      if [ -n "${pid[$c]:-}" ]; then
        cpu[$c,$cl,$rep]=$(awk -v a="$before" -v b="$(cpu_ticks "${pid[$c]}")" -v hz="$hz" -v n="$n" \
          'BEGIN {printf "%.2f", (b - a) * 1000 / hz / n * 1000}')
        note=", proxy CPU ${cpu[$c,$cl,$rep]} ms/1000 req"
      fi
      [ "$e" != 0 ] && note="$note, $e ERRORS"
      detail "rep $rep  $cl  $c: $r rps ($n requests$note)"
    done
  done
  [ "$latsecs" = 0 ] && continue
  # The latency pass is cut into slices of LATSLICE seconds, the configs
  # taking turns slice by slice (each slice starting with the next one), so
  # that every config sees the same stretch of the machine's own stalls;
  # each request's latency comes exact from fortio's access log, and a
  # config's percentiles are over all its slices.
  slices=$(((latsecs + latslice - 1) / latslice))
  declare -A steal=()
  for c in $configs; do mkdir -p "$work/lat/$c"; done
  for s in $(seq "$slices"); do
    read -ra order <<<"$configs"
    shift_by=$(((s - 1) % ${#order[@]}))
    order=("${order[@]:$shift_by}" "${order[@]:0:$shift_by}")
    for c in "${order[@]}"; do
      progress "repetition $rep/$reps: latency at 1000 qps, slice $s/$slices, $c"
      before=$(steal_ticks)
      "${run[@]}" fortio load -quiet -qps 1000 -uniform -c 16 -t "${latslice}s" \
        -H 'Host: httpbin:8000' -access-log-file "$work/lat/$c/$s.log" -json /dev/null "${url[$c]}" >/dev/null 2>&1
      steal[$c]=$((${steal[$c]:-0} + $(steal_ticks) - before))
    done
  done
  for c in $configs; do
    lat[$c,$rep]=$(cat "$work/lat/$c/"*.log | python3 -c '
import json, math, sys
lat = sorted(json.loads(line)["latency"] * 1000 for line in sys.stdin)
q = lambda p: lat[max(0, math.ceil(len(lat) * p / 100) - 1)]  # nearest rank
print("%.3f %.3f %.3f %d" % (q(50), q(99), q(99.9), len(lat)))')
    rm -f "$work/lat/$c/"*.log
    read -r p50 p99 p999 n <<<"${lat[$c,$rep]}"
    lat[$c,$rep]="$p50 $p99 $p999"
    detail "rep $rep  latency at 1000 qps  $c: p50 p99 p99.9 ${lat[$c,$rep]} ms ($n requests in $slices slices of ${latslice}s; CPU steal $(awk -v t="${steal[$c]}" -v hz="$hz" -v s="$((slices * latslice))" 'BEGIN {printf "%.1f", t * 1000 / hz / s}') ms/s)"
  done
done
# Peak resident set of each proxy process, after all the load above.
declare -A rss
for c in $configs; do
  [ -n "${pid[$c]:-}" ] || continue
  rss[$c]=$(awk '/^VmHWM:/ {printf "%.1f", $2 / 1024}' "/proc/${pid[$c]}/status")
  detail "peak RSS  $c: ${rss[$c]} MiB"
done

# Delay precision: the route injects 100 ms into every request; the exact
# percentiles of what the client saw, from fortio's access log.
declare -a delay_p50 delay_p99
for rep in $(seq "$reps"); do
  progress "repetition $rep/$reps: delay precision"
  rm -f "$work/delay.log"
  "${run[@]}" fortio load -quiet -qps 100 -uniform -c 8 -t 5s -H 'Host: httpbin:8000' \
    -access-log-file "$work/delay.log" -json "$work/delay.json" "$delay_url" >/dev/null 2>&1
  read -r p50 p99 n got < <(python3 -c '
import json, sys
lat = sorted(json.loads(line)["latency"] * 1000 for line in open(sys.argv[1]))
q = lambda p: lat[max(0, -(-len(lat) * p // 100) - 1)]  # nearest rank
print("%.2f %.2f %d %.1f" % (q(50), q(99), len(lat), json.load(open(sys.argv[2]))["ActualQPS"]))' "$work/delay.log" "$work/delay.json")
  delay_p50+=("$p50") delay_p99+=("$p99")
  detail "rep $rep  delay 100ms at 100 %: p50 $p50 ms, p99 $p99 ms ($n requests, $got qps achieved)"
done

# Load-generator overhead: loadgen and the bare fortio CLI at their maximum
# rate against direct, alternating which goes first.
declare -a lg_ratio lg_rps cli_rps
for rep in $(seq "$reps"); do
  progress "repetition $rep/$reps: load-generator overhead"
  order="loadgen fortio"
  [ $((rep % 2)) = 0 ] && order="fortio loadgen"
  for g in $order; do
    if [ "$g" = loadgen ]; then
      l=$("${run[@]}" "$work/loadgenrate" -url "${url[direct]}" -c 16 -t "${secs}s" -host httpbin:8000)
    else
      "${run[@]}" fortio load -quiet -qps -1 -c 16 -t "${secs}s" -H 'Host: httpbin:8000' -json "$work/cli.json" "${url[direct]}" >/dev/null 2>&1
      read -r f _ _ < <(fortio_json "$work/cli.json")
    fi
  done
  lg_rps+=("$l") cli_rps+=("$f")
  lg_ratio+=("$(awk -v a="$l" -v b="$f" 'BEGIN {printf "%.3f", a / b}')")
  detail "rep $rep  load generator at max rate, direct: loadgen $l rps, fortio load $f rps, ratio ${lg_ratio[-1]}" \
    "(loadgen's fortio library $(go list -m -f '{{.Version}}' fortio.org/fortio))"
done
progress ""

# stats V...: "median min max" of the numbers given (median of an even count:
# the mean of the middle two).
stats() {
  printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1}
    END {m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; print m, a[1], a[NR]}'
}
# cell FORMAT V...: the median (what = med) or the spread (what = spread,
# "min–max", or "min … max" for signed figures) of the values, "–" when there
# are none.
cell() {
  local fmt=$1 sep="–"
  shift
  [ $# -gt 0 ] || { echo "–"; return; }
  read -r m lo hi < <(stats "$@")
  [[ "$fmt" = *+* ]] && sep=" … "
  # shellcheck disable=SC2059
  if [ "$what" = med ]; then printf "$fmt" "$m"; else printf "$fmt$sep$fmt" "$lo" "$hi"; fi
}
ratios() { # config base client: each repetition's rps ratio
  local r
  for r in $(seq "$reps"); do awk -v a="${rps[$1,$3,$r]}" -v b="${rps[$2,$3,$r]}" 'BEGIN {print a / b}'; done
}
excess() { # config field(1 p50, 2 p99, 3 p99.9): each repetition's excess over direct
  local r
  for r in $(seq "$reps"); do
    awk -v f="$2" -v a="${lat[$1,$r]}" -v b="${lat[direct,$r]}" 'BEGIN {split(a, x, " "); split(b, y, " "); print x[f] - y[f]}'
  done
}
absolute() { # config field: each repetition's percentile
  local r
  for r in $(seq "$reps"); do awk -v f="$2" -v a="${lat[$1,$r]}" 'BEGIN {split(a, x, " "); print x[f]}'; done
}
cpus() { # config client: each repetition's CPU-ms per 1000 requests
  local r
  [ -n "${pid[$1]:-}" ] || return 0
  for r in $(seq "$reps"); do echo "${cpu[$1,$2,$r]}"; done
}
# per_client FORMAT FUNCTION ARGS...: the cell of FUNCTION ARGS... CLIENT for
# each client, joined with " / ".
per_client() {
  local fmt=$1 fn=$2 cl out=""
  shift 2
  for cl in $clients; do
    # shellcheck disable=SC2046
    out="$out${out:+ / }$(cell "$fmt" $("$fn" "$@" "$cl"))"
  done
  echo "$out"
}
rps_of() { local r; for r in $(seq "$reps"); do echo "${rps[$1,$2,$r]}"; done; }

# table: the summary table, medians (what=med) or spreads (what=spread).
table() {
  local c col by="(${clients/ / \/ })"
  echo "| config | max rps (wrk) | max rps (fortio) | × nginx-w1 $by | × reverseproxy $by | CPU-ms/1000 req $by | +p50 ms | +p99 ms | +p99.9 ms at 1000 qps | peak RSS MiB |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for c in $configs; do
    local row="| $c"
    for col in wrk fortio; do
      # shellcheck disable=SC2046
      if [[ " $clients " = *" $col "* ]]; then row="$row | $(cell %.0f $(rps_of "$c" "$col"))"; else row="$row | –"; fi
    done
    for base in nginx-w1 reverseproxy; do
      if [ -n "${url[$base]:-}" ] && [ "$c" != "$base" ]; then row="$row | $(per_client %.2f ratios "$c" "$base")"; else row="$row | –"; fi
    done
    if [ -n "${pid[$c]:-}" ]; then row="$row | $(per_client %.1f cpus "$c")"; else row="$row | –"; fi
    for f in 1 2 3; do
      # shellcheck disable=SC2046
      if [ "$latsecs" = 0 ]; then
        row="$row | –"
      elif [ "$c" = direct ]; then
        row="$row | ($(cell %.3f $(absolute direct "$f")))"
      else
        row="$row | $(cell %+.3f $(excess "$c" "$f"))"
      fi
    done
    if [ -n "${rss[$c]:-}" ]; then row="$row | ${rss[$c]}"; else row="$row | –"; fi
    echo "$row |"
  done
}

what=med table
echo
pinning="unpinned"
[ -n "$pin" ] && pinning="client, target and proxies pinned to CPU $pin"
latency="fortio at 1000 qps uniform, 16 connections, ${latsecs}s in slices of ${latslice}s taken in turns, exact percentiles, excess over direct in the same repetition (direct: absolute, in brackets)"
[ "$latsecs" = 0 ] && latency="skipped (LATSECS=0)"
echo "Medians of $reps interleaved repetitions; $pinning; throughput: 16 connections, ${secs}s per run;" \
  "ratios: the median of each repetition's ratio; latency: $latency;" \
  "peak RSS: VmHWM at the end, the peak over the whole run, maximum-rate runs included."
echo
echo "Spread over the $reps repetitions (min–max):"
echo
what=spread table
echo
chaos() { # client: each repetition's faultline ÷ faultline-plain CPU per request
  local r
  for r in $(seq "$reps"); do awk -v a="${cpu[faultline,$1,$r]}" -v b="${cpu[faultline-plain,$1,$r]}" 'BEGIN {print a / b}'; done
}
medspread() { # FORMAT V...: "median [min–max]"
  local fmt=$1
  shift
  echo "$(what=med cell "$fmt" "$@") [$(what=spread cell "$fmt" "$@")]"
}
line=""
for cl in $clients; do
  # shellcheck disable=SC2046
  line="$line${line:+, }$(medspread %.2f $(chaos "$cl")) with $cl"
done
echo "Cost of idle chaos features: faultline ÷ faultline-plain CPU-ms/1000 req = $line (target ≤ 1.1)."
echo "Delay precision: fixedDelay 100ms at 100 %, fortio 100 qps uniform, 8 connections, 5 s:" \
  "p50 $(medspread %.2f "${delay_p50[@]}") ms, p99 $(medspread %.2f "${delay_p99[@]}") ms (target p50 in [100, 102])."
echo "Load-generator overhead: loadgen ÷ fortio load at max rate, 16 connections, ${secs}s, direct:" \
  "$(medspread %.3f "${lg_ratio[@]}") (loadgen $(medspread %.0f "${lg_rps[@]}") rps, fortio load $(medspread %.0f "${cli_rps[@]}") rps; target ≥ 0.95)."
echo
echo "Each run:"
cat "$details"
