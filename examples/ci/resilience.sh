#!/usr/bin/env bash
# A resilience experiment in CI, as examples/ci/github-actions.yml and
# examples/ci/gitlab-ci.yml run it (and examples/ci/ci_test.go, on free
# ports):
#   1. start `faultline serve` in the background with the environment the
#      service under test is wired to (environment.yaml),
#   2. start the service under test with the environment's egress as its
#      HTTP_PROXY (here Faultline's demo httpbin stands in for it),
#   3. run the experiment on that server and write JUnit XML:
#        faultline run --server http://127.0.0.1:8080 experiment.yaml --junit results.xml
# The exit code is faultline run's: 0 every hypothesis check held, 1 one
# failed, 2 invalid input, 3 a run error (or the server or the service did
# not start): a failed hypothesis fails the job.
#
# Needs faultline on PATH, and curl. Settings, from the environment:
#   FAULTLINE_PORT   port of the API on 127.0.0.1 (8080)
#   EGRESS_PORT      port of the environment's egress on 127.0.0.1 (15001)
#   HTTPBIN_PORT     port of the service under test on 127.0.0.1 (8000)
#   EXPERIMENT       the experiment file (experiment.yaml beside this script)
#   JUNIT            where the JUnit XML goes (results.xml)
#   FAULTLINE_TOKEN  the server's admin token, which faultline run sends too
#                    (a random one when unset)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
FAULTLINE_PORT=${FAULTLINE_PORT:-8080}
EGRESS_PORT=${EGRESS_PORT:-15001}
HTTPBIN_PORT=${HTTPBIN_PORT:-8000}
EXPERIMENT=${EXPERIMENT:-$here/experiment.yaml}
JUNIT=${JUNIT:-results.xml}
FAULTLINE_TOKEN=${FAULTLINE_TOKEN:-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')}
export FAULTLINE_TOKEN

work=$(mktemp -d)
pids=()
cleanup() {
	if [ ${#pids[@]} -gt 0 ]; then
		kill "${pids[@]}" 2>/dev/null || true
		wait "${pids[@]}" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

# wait_for URL NAME LOG: until URL answers 2xx, for up to 30 s.
wait_for() {
	for _ in $(seq 300); do
		if curl --noproxy '*' -fsS -o /dev/null "$1" 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	echo "resilience.sh: $2 did not answer at $1; the end of its log:" >&2
	tail -n 40 "$3" >&2
	exit 3
}

# 1. Faultline, with the environment (its ports filled in).
sed -e 's/[$]{EGRESS_PORT}/'"$EGRESS_PORT"'/g' -e 's/[$]{HTTPBIN_PORT}/'"$HTTPBIN_PORT"'/g' \
	"$here/environment.yaml" >"$work/environment.yaml"
faultline serve --addr "127.0.0.1:$FAULTLINE_PORT" --db "$work/faultline.db" --no-examples \
	--environment "$work/environment.yaml" >"$work/serve.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$FAULTLINE_PORT/healthz" "faultline serve" "$work/serve.log"

# 2. The service under test, calling its dependencies through the egress.
HTTP_PROXY="http://127.0.0.1:$EGRESS_PORT" \
	faultline demo httpbin --listen "127.0.0.1:$HTTPBIN_PORT" >"$work/service.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$HTTPBIN_PORT/get" "the service under test" "$work/service.log"

# 3. The experiment, on the server; its report is printed, its checks go
# to the JUnit XML.
status=0
faultline run --server "http://127.0.0.1:$FAULTLINE_PORT" "$EXPERIMENT" --junit "$JUNIT" || status=$?
if [ "$status" -ge 2 ]; then
	echo "resilience.sh: faultline run exited $status; the end of faultline serve's log:" >&2
	tail -n 40 "$work/serve.log" >&2
fi
exit "$status"
