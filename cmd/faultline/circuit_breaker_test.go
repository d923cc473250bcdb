package main

import (
	"encoding/json"
	"flag"
	"testing"
)

var circuitBreakerRuns = flag.Int("circuit-breaker-runs", 5,
	"how many times TestCircuitBreakerExampleOverflowsEveryRun runs the shipped example (200 to prove it deterministic)")

// The shipped circuit-breaker example shows the proxy's overflow on every
// run, not most: 3 clients against one connection and one pending request
// always overlap, because each call holds the connection for 50 ms. With
// httpbin's /get, which answers at once on loopback, about one run in eight
// saw no overflow at all.
func TestCircuitBreakerExampleOverflowsEveryRun(t *testing.T) {
	for i := range *circuitBreakerRuns {
		stdout, stderr, code := faultline(t, "run", "--json", "../../scenarios/httpbin-circuit-breaker.yaml")
		var rep struct {
			Status  string
			Verdict string
			Codes   map[string]int64
			Proxy   struct{ Overflows int64 }
		}
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
			t.Fatalf("run %d: exit %d, %v\n%s", i+1, code, err, stderr)
		}
		ok, overflow := rep.Codes["200"], rep.Codes["503"]
		if code != 0 || rep.Verdict != "pass" || ok == 0 || overflow == 0 || ok+overflow != 30 || rep.Proxy.Overflows != overflow {
			t.Fatalf("run %d of %d: exit %d, %s/%s, codes %v, overflows %d; want both 200 and 503 in 30 calls, every 503 an overflow",
				i+1, *circuitBreakerRuns, code, rep.Status, rep.Verdict, rep.Codes, rep.Proxy.Overflows)
		}
	}
}
