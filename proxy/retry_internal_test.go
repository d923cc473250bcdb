package proxy

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faultline/faultline/scenarios"
)

// compileRule compiles an experiment whose reviews VirtualService has one
// http rule (fields given as YAML lines) and returns that rule.
func compileRule(t *testing.T, istio string, lines ...string) *rule {
	t.Helper()
	src := "apiVersion: faultline.dev/v1alpha1\nkind: Experiment\nmetadata: {name: t}\nspec:\n"
	if istio != "" {
		src += "  istioVersion: \"" + istio + "\"\n"
	}
	src += `  services:
  - host: reviews
    port: 9080
    endpoints:
    - {address: "127.0.0.1:1", labels: {version: v1}}
    - {address: "127.0.0.1:2", labels: {version: v2}}
  - host: shadow
    port: 8000
    endpoints: [{address: "127.0.0.1:3"}]
  load: {url: "http://reviews:9080/"}
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets: [{name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews}}]
`
	for _, l := range lines {
		src += "    " + l + "\n"
	}
	doc, err := scenarios.Parse([]byte(src))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, src)
	}
	tab, err := Compile(doc, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	vh := tab.listener(0).selectVhost("reviews.default.svc.cluster.local")
	return vh.routes[0].rule
}

// What istiod programs for each retries block (route/retry/retry.go).
func TestRetryPolicyCompile(t *testing.T) {
	for _, tc := range []struct {
		name  string
		istio string
		lines []string
		check func(t *testing.T, p *retryPolicy)
	}{
		{"absent: Istio's default, no 503", "", nil, func(t *testing.T, p *retryPolicy) {
			if p != defaultRetryPolicies[0] || p.retries != 2 || p.on != defaultRetryOn || len(p.codes) != 0 || !p.previousHosts {
				t.Errorf("%+v", p)
			}
		}},
		{"absent before 1.24: 503 retriable", "1.23", nil, func(t *testing.T, p *retryPolicy) {
			if !slices.Equal(p.codes, []int{503}) || p.on&retryOnRetriableStatusCodes == 0 {
				t.Errorf("%+v", p)
			}
		}},
		{"attempts 0 disables", "", []string{"retries: {attempts: 0}"}, func(t *testing.T, p *retryPolicy) {
			if p != nil {
				t.Errorf("%+v", p)
			}
		}},
		{"attempts only keeps the default retryOn", "1.8", []string{"retries: {attempts: 3, perTryTimeout: 2s}"}, func(t *testing.T, p *retryPolicy) {
			if p.retries != 3 || p.on != defaultRetryOn || !slices.Equal(p.codes, []int{503}) || p.perTry != 2*time.Second || p.perTryVal[0] != "2000" {
				t.Errorf("%+v", p)
			}
		}},
		{"retryOn replaces policies and codes", "1.8", []string{`retries: {attempts: 1, retryOn: "5xx,409,gateway-error"}`}, func(t *testing.T, p *retryPolicy) {
			if p.on != retryOn5xx|retryOnGatewayError|retryOnRetriableStatusCodes || !slices.Equal(p.codes, []int{409}) {
				t.Errorf("on %b codes %v", p.on, p.codes)
			}
		}},
		{"every token", "", []string{`retries: {attempts: 1, retryOn: "5xx,gateway-error,reset,reset-before-request,connect-failure,retriable-4xx,refused-stream,retriable-status-codes,retriable-headers,envoy-ratelimited,http3-post-connect-failure,cancelled,deadline-exceeded,internal,resource-exhausted,unavailable"}`}, func(t *testing.T, p *retryPolicy) {
			if p.on != retryOnGRPCUnavailable<<1-1 {
				t.Errorf("on %b", p.on)
			}
		}},
		{"perTryTimeout not below the route timeout is dropped", "", []string{"timeout: 1s", "retries: {attempts: 1, perTryTimeout: 1s}"}, func(t *testing.T, p *retryPolicy) {
			if p.perTry != 0 || p.perTryVal != nil {
				t.Errorf("%+v", p)
			}
		}},
		{"backoff and retryIgnorePreviousHosts honoured since 1.26", "", []string{"retries: {attempts: 1, backoff: 100ms, retryIgnorePreviousHosts: false}"}, func(t *testing.T, p *retryPolicy) {
			if p.backoffBaseMs != 100 || p.backoffMaxMs != 1000 || p.previousHosts {
				t.Errorf("%+v", p)
			}
		}},
		{"and ignored before", "1.25", []string{"retries: {attempts: 1, backoff: 100ms, retryIgnorePreviousHosts: false}"}, func(t *testing.T, p *retryPolicy) {
			if p.backoffBaseMs != 25 || p.backoffMaxMs != 250 || !p.previousHosts {
				t.Errorf("%+v", p)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.check(t, compileRule(t, tc.istio, tc.lines...).retry) })
	}
}

// Back-off n is a draw in [0, (2^n − 1) × 25ms) capped at 250ms, covering
// its range, and the same under the same seed.
func TestRetryBackoffBounds(t *testing.T) {
	p := defaultRetryPolicies[0]
	g, again := newRequestRNG(7, 1, 1), newRequestRNG(7, 1, 1)
	for n := 0; n < 70; n++ { // far past the point where 2^n overflows
		bound := 251 * time.Millisecond // capped at max_interval 250ms
		if n < 3 {
			bound = time.Duration(1<<(n+1)-1) * 25 * time.Millisecond
		}
		var most time.Duration
		for i := 0; i < 500; i++ {
			d := p.backoff(n+1, &g)
			if d != p.backoff(n+1, &again) {
				t.Fatal("same seed, different back-off")
			}
			if d < 0 || d >= bound || d%time.Millisecond != 0 {
				t.Fatalf("retry %d: back-off %v outside [0, %v)", n+1, d, bound)
			}
			most = max(most, d)
		}
		if most < bound*8/10 {
			t.Errorf("retry %d: largest back-off %v of 500 draws below [0, %v)", n+1, most, bound)
		}
	}
	custom := &retryPolicy{backoffBaseMs: 100, backoffMaxMs: 1000}
	for i := 0; i < 200; i++ {
		if d := custom.backoff(1, &g); d >= 100*time.Millisecond {
			t.Fatalf("base 100ms: first back-off %v", d)
		}
		if d := custom.backoff(9, &g); d > time.Second {
			t.Fatalf("base 100ms: back-off %v over 10 × base", d)
		}
	}
}

// x-envoy-expected-rq-timeout-ms of a retry: the per-try timeout, capped
// by what is left of the route timeout.
func TestExpectedTimeout(t *testing.T) {
	for _, tc := range []struct {
		route, perTry, elapsed time.Duration
		want                   string
	}{
		{0, 0, 0, ""},
		{time.Second, 0, 300 * time.Millisecond, "700"},
		{0, 200 * time.Millisecond, time.Hour, "200"},
		{time.Second, 200 * time.Millisecond, 900 * time.Millisecond, "100"},
		{time.Second, 200 * time.Millisecond, 2 * time.Second, "1"},
	} {
		r := &rule{timeout: tc.route}
		if tc.perTry > 0 {
			r.retry = &retryPolicy{perTry: tc.perTry}
		}
		if got := strings.Join(expectedTimeout(r, tc.elapsed), ""); got != tc.want {
			t.Errorf("route %v per-try %v elapsed %v: %q, want %q", tc.route, tc.perTry, tc.elapsed, got, tc.want)
		}
	}
}

// Mirror percentages as istiod translates them; Host suffix placement.
func TestMirrorPolicyCompile(t *testing.T) {
	const million = fractionDenominator
	for _, tc := range []struct {
		name  string
		istio string
		lines []string
		want  []uint64
	}{
		{"mirror alone: 100 %", "", []string{"mirror: {host: shadow}"}, []uint64{million}},
		{"mirrorPercentage", "", []string{"mirror: {host: shadow}", "mirrorPercentage: {value: 12.5}"}, []uint64{125000}},
		{"mirrorPercentage 0: none", "", []string{"mirror: {host: shadow}", "mirrorPercentage: {value: 0}"}, nil},
		{"mirror_percent", "", []string{"mirror: {host: shadow}", "mirror_percent: 30"}, []uint64{300000}},
		{"mirrorPercent 0: none", "", []string{"mirror: {host: shadow}", "mirrorPercent: 0"}, nil},
		{"mirrorPercentage wins", "", []string{"mirror: {host: shadow}", "mirrorPercent: 100", "mirrorPercentage: {value: 0}"}, nil},
		{"mirrors", "", []string{"mirrors: [{destination: {host: shadow}}, {destination: {host: reviews, subset: v2}, percentage: {value: 50}}, {destination: {host: shadow}, percentage: {value: 0}}]"}, []uint64{million, 500000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []uint64
			for _, m := range compileRule(t, tc.istio, tc.lines...).mirrors {
				got = append(got, m.percent)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	if r := compileRule(t, "1.27", "mirror: {host: shadow}"); !r.mirrors[0].hostSuffix || r.mirrors[0].dest.cluster.name != "outbound|8000||shadow.default.svc.cluster.local" {
		t.Errorf("1.27: %+v", r.mirrors[0])
	}
	if r := compileRule(t, "1.28", "mirror: {host: shadow}"); r.mirrors[0].hostSuffix {
		t.Error("1.28 appends -shadow")
	}
	for in, want := range map[string]string{
		"httpbin:8000": "httpbin-shadow:8000", "httpbin": "httpbin-shadow", "a.b.c:80": "a.b.c-shadow:80",
		"[::1]:80": "[::1]-shadow:80", "[::1]": "[::1]-shadow",
	} {
		if got := shadowHost(in); got != want {
			t.Errorf("shadowHost(%q) = %q, want %q", in, got, want)
		}
	}
}

// A mirror host that names no service is a warning at the mirror's own
// path: its shadows get 503 UH.
func TestMirrorUnknownHost(t *testing.T) {
	src := `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: t}
spec:
  services: [{host: reviews, port: 9080, endpoints: [{address: "127.0.0.1:1"}]}]
  load: {url: "http://reviews:9080/"}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match: [{uri: {prefix: /a}}]
    route: [{destination: {host: reviews}}]
    mirror: {host: nowhere}
  - route: [{destination: {host: reviews}}]
    mirrors: [{destination: {host: elsewhere}}]
`
	doc, err := scenarios.Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	// A mirror to a host no service binds is a shadow answered 503 UH,
	// with a warning at the field.
	tab, err := Compile(doc, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range tab.Warnings() {
		got = append(got, w.String())
	}
	all := strings.Join(got, "\n")
	if !strings.Contains(all, "spec.http[0].mirror.host: no service binds nowhere here: requests get 503 UH") ||
		!strings.Contains(all, "spec.http[1].mirrors[0].destination.host: no service binds elsewhere here") {
		t.Errorf("warnings:\n%s", all)
	}
}

type testOverflow struct{}

func (testOverflow) Error() string  { return "overflow" }
func (testOverflow) Overflow() bool { return true }

// Attempt errors are classified by type, and the retry decision follows
// Envoy's table: overflow is never retried, a per-try timeout only by the
// policies that retry any reset.
func TestClassifyAndRetriable(t *testing.T) {
	req, _ := http.NewRequest("GET", "http://x/", nil)
	x := &exchange{r: req}
	ctx := context.Background()
	ptx, cancel := context.WithCancelCause(ctx)
	cancel(errPerTryTimeout)
	for _, tc := range []struct {
		name string
		actx context.Context
		err  error
		want failure
	}{
		{"no endpoint", ctx, errNoHealthyUpstream, failNoHealthy},
		{"breaker refused", ctx, fmt.Errorf("pool: %w", testOverflow{}), failOverflow},
		{"dial", ctx, &DialError{Addr: "a:1", Err: syscall.ECONNREFUSED}, failConnect},
		{"per-try timeout during dial", ptx, &DialError{Addr: "a:1", Err: context.Canceled}, failPerTryTimeout},
		{"connection closed", ctx, io.ErrUnexpectedEOF, failReset},
	} {
		if got := x.classify(tc.actx, tc.err); got != tc.want {
			t.Errorf("%s: got %d, want %d", tc.name, got, tc.want)
		}
	}
	for _, tc := range []struct {
		on      retryOn
		f       failure
		retried bool
	}{
		{defaultRetryOn, failConnect, true},
		{defaultRetryOn, failReset, false},
		{defaultRetryOn, failPerTryTimeout, false},
		{retryOn5xx, failPerTryTimeout, true},
		{retryOnGatewayError, failReset, true},
		{retryOnReset, failConnect, true},
		{retryOnResetBeforeRequest, failConnect, true},
		{retryOnResetBeforeRequest, failPerTryTimeout, false},
		{retryOnAnyReset | retryOnConnectFailure, failOverflow, false},
		{retryOnAnyReset | retryOnConnectFailure, failNoHealthy, false},
		{retryOnAnyReset | retryOnConnectFailure, failRouteTimeout, false},
	} {
		if got := (&retryPolicy{on: tc.on}).retriableFailure(tc.f); got != tc.retried {
			t.Errorf("retryOn %b, failure %d: retried %v, want %v", tc.on, tc.f, got, tc.retried)
		}
	}
}

// TestRetryOnTokensAreScenariosPolicies keeps the proxy's retryOn bits
// and the policies scenarios accepts one list: a policy the validator
// admits always has a behaviour here, and the proxy knows no other.
func TestRetryOnTokensAreScenariosPolicies(t *testing.T) {
	got := slices.Sorted(maps.Keys(retryOnTokens))
	if want := scenarios.RetryOnPolicies(); !slices.Equal(got, want) {
		t.Errorf("proxy retryOn tokens %v, want scenarios' policies %v", got, want)
	}
}
