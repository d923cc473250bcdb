package experiment

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/loadgen"
	"github.com/faultline/faultline/proxy"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/report"
)

// Predict says, from the configuration alone, what the run of doc should
// show about the rule its load's request hits at its entry (spec.load:
// url, method, headers, via), each with a Basis sentence and a 95 %
// interval:
//
//   - error_ratio, when the rule aborts (Istio's fault, or a per-attempt
//     abort of spec.faults): p_a + (1−p_a)·q, where p_a is the rule's
//     abort share (before the router, never retried) and q = p^(n+1) when
//     the rule's retryOn covers the per-attempt abort's status (p the
//     per-attempt abort share, n the rule's retries), else q = p. The
//     interval is the Wilson 95 % interval of that proportion over the
//     request count (below). A rule without an abort predicts nothing
//     about errors: real upstreams may fail.
//   - retry_amplification, when the rule aborts and is a forwarding rule
//     with counters of its own (not Istio's default route), outside
//     phased runs: upstream attempts per request = (1−p_a)·(1−p^(n+1))/(1−p)
//     (1−p_a when p = 0 or the abort is not retried), the interval the
//     normal approximation of the mean of that many requests' attempts
//     (their exact per-request variance), widened by 1/(2N). It assumes
//     the upstream answers every attempt the fault spares.
//   - latency_max, when the rule has a route timeout T or a per-try
//     timeout: the bound d + min(T, (n+1)·perTry + the back-offs' maxima),
//     d the rule's fault delay (before the router, outside its
//     timeouts); interval [0, bound + 5 % + 100 ms] for the proxy's,
//     the loopback's and fortio's own time.
//   - overflow_ratio, when the destination's DestinationRule limits its
//     connection pool (and no other cluster is limited, so the overflows
//     counted are this cluster's): with c connections and capacity K (C
//     connections + P pending, or http2MaxRequests when below C), c ≤ K
//     cannot overflow ([0, 0]); c > K with a closed-loop load (qps 0) of
//     c equal shares: the c−K clients that find the pool full are refused
//     at once and come straight back, far faster than a held request ends,
//     so about (c−K)/c of the requests overflow, or more: the interval
//     runs from that share's 95 % Wilson lower bound over N up to 1.
//     Open-loop loads beyond the capacity predict nothing.
//
// The request count N of the intervals: the observation's when observed
// is given (the report of the finished run: its requests, the fault
// phase's in a phased run, the rule's matched requests for
// retry_amplification); else the planned count: spec.load.requests, or
// qps × duration (× the fault phase's share of a phased run); a
// duration-bound load without a rate has none, and its intervals are the
// metric's whole range until observed.
//
// In a phased run the faults act in the fault phase only: error_ratio and
// latency_max are about (and observed on) that phase, and
// retry_amplification, which the rule's counters give for the whole run
// only, is not predicted.
//
// Predict compiles doc's routes (proxy.Plan) without opening anything;
// nothing is dialled, so no allow-list applies.
func Predict(doc *scenarios.Document, observed *report.Report) ([]report.Prediction, error) {
	plan, err := proxy.Plan(doc, proxy.Options{AllowTarget: func(string) error { return nil }})
	if err != nil {
		return nil, fmt.Errorf("engine: predict: %w", err)
	}
	return predictPlan(doc, plan, observed)
}

// predictPlan is Predict on a compiled plan.
func predictPlan(doc *scenarios.Document, plan *proxy.RoutePlan, observed *report.Report) ([]report.Prediction, error) {
	load := doc.Experiment.Spec.Load
	if load == nil || load.URL == "" {
		return nil, nil
	}
	listener, req, err := loadRequest(load)
	if err != nil {
		return nil, err
	}
	m, ok := plan.Match(listener, req)
	if !ok || m.Route == nil || m.Route.Action != "route" || m.Route.Route == nil {
		return nil, nil
	}
	rm := ruleModel(doc, m)
	phased := doc.Experiment.Spec.Phases != nil
	var out []report.Prediction

	if rm.pa > 0 || rm.p > 0 {
		n := plannedCount(doc, phased)
		if observed != nil {
			n = observed.Requests
			if ph, ok := report.FaultPhase(observed); ok {
				n = ph.Requests
			}
		}
		pred := rm.errorRatio()
		lo, hi := report.WilsonShare(pred, n)
		out = append(out, report.Prediction{
			Metric: report.PredictErrorRatio, Route: rm.route, Predicted: round6(pred), Low: floor6(lo), High: ceil6(hi),
			Basis: rm.errorBasis(phased) + countBasis(n),
		})
		if !phased && m.VirtualService != "" {
			n := plannedCount(doc, false)
			if observed != nil {
				rs, _ := observed.Proxy.Route(m.VirtualService, m.Rule)
				n = rs.Matched
			}
			mean, variance := rm.attempts()
			lo, hi := 0.0, float64(rm.tries())
			if n > 0 {
				half := 1.959963984540054*math.Sqrt(variance/float64(n)) + 1/(2*float64(n))
				lo, hi = math.Max(0, mean-half), math.Min(float64(rm.tries()), mean+half)
			}
			out = append(out, report.Prediction{
				Metric: report.PredictRetryAmplification, Route: rm.route, Predicted: round6(mean), Low: floor6(lo), High: ceil6(hi),
				Basis: rm.attemptsBasis() + countBasis(n),
			})
		}
	}

	if bound, basis, ok := rm.latencyBound(); ok {
		b := ms(bound)
		high := b*1.05 + 100
		if phased && rm.delay > 0 {
			basis += ", in the fault phase"
		}
		out = append(out, report.Prediction{
			Metric: report.PredictLatencyMax, Route: rm.route, Predicted: round6(b), Low: 0, High: ceil6(high),
			Basis: basis + "; slack 5 % + 100 ms",
		})
	}

	n := plannedCount(doc, false)
	if observed != nil {
		n = observed.Requests
	}
	if p, ok := overflowPrediction(doc, plan, m, rm, n); ok {
		out = append(out, p)
	}
	return out, nil
}

// loadRequest is the load's request as the entry listener receives it,
// and that listener's name: "mesh", or "<gateway>:<port>" for via.
func loadRequest(load *scenarios.Load) (string, *http.Request, error) {
	u, err := url.Parse(load.URL)
	if err != nil {
		return "", nil, fmt.Errorf("engine: spec.load.url: %w", err)
	}
	method := load.Method
	if method == "" {
		method = http.MethodGet
		if load.Body != "" {
			method = http.MethodPost
		}
	}
	h := http.Header{}
	for k, v := range load.Headers {
		h.Set(k, v)
	}
	if load.ContentType != "" {
		h.Set("Content-Type", load.ContentType)
	}
	req := originRequest(method, u, h)
	listener := via(load)
	if listener != scenarios.MeshGateway {
		listener += ":" + strconv.FormatUint(uint64(urlPort(u)), 10)
	}
	return listener, req, nil
}

// originRequest is a request as a listener receives it: origin-form
// RequestURI, Host from the URL.
func originRequest(method string, u *url.URL, h http.Header) *http.Request {
	path := &url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}
	if path.Path == "" {
		path.Path = "/"
	}
	if h.Get("Host") != "" {
		h = h.Clone()
		h.Del("Host")
	}
	return &http.Request{Method: method, URL: path, RequestURI: path.RequestURI(), Host: u.Host, Header: h, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
}

// plannedCount is the load's planned request count (the fault phase's
// share in a phased run), 0 when it has none (duration-bound without a
// rate).
func plannedCount(doc *scenarios.Document, phased bool) int64 {
	l := doc.Experiment.Spec.Load
	if l.Requests > 0 && !phased {
		return l.Requests
	}
	d := loadgen.DefaultDuration
	if l.Duration != nil {
		d = l.Duration.D()
	}
	if phased {
		d = doc.Experiment.Spec.Phases.Lengths()[1]
	}
	if l.QPS <= 0 {
		return 0
	}
	return int64(l.QPS * d.Seconds())
}

func countBasis(n int64) string {
	if n <= 0 {
		return "; no request count is known before the run (duration-bound without qps), so the interval is the whole range"
	}
	return fmt.Sprintf("; 95 %% interval over %d requests", n)
}

// rule is what the prediction models of the rule the load hits.
type rule struct {
	route string
	// pa is the Istio abort share (status paStatus), delay and dPct the
	// Istio delay.
	pa       float64
	paStatus int
	delay    time.Duration
	dPct     float64
	// p is the per-attempt abort share (statuses pStatus), covered
	// whether retryOn covers every one of them.
	p       float64
	pStatus []int
	covered bool
	// n retries, retryOn tokens, per-try and route timeouts, back-off.
	n          int
	retryOn    []string
	perTry     time.Duration
	timeout    time.Duration
	backoffMax time.Duration
	backoff    time.Duration
}

func ruleModel(doc *scenarios.Document, m proxy.RouteMatch) rule {
	rd := m.Route
	rm := rule{}
	if m.VirtualService != "" {
		rm.route = report.RouteName(m.VirtualService, m.Rule)
	}
	if f := rd.Fault; f != nil {
		if f.AbortPercent != nil && f.AbortStatus >= 400 {
			rm.pa, rm.paStatus = *f.AbortPercent/100, f.AbortStatus
		}
		if f.Delay != "" && f.DelayPercent > 0 {
			rm.delay, _ = time.ParseDuration(f.Delay)
			rm.dPct = f.DelayPercent
		}
	}
	act := rd.Route
	if r := act.Retry; r != nil {
		rm.n, rm.retryOn = r.NumRetries, r.RetryOn
		rm.perTry, _ = time.ParseDuration(r.PerTryTimeout)
		rm.backoff, _ = time.ParseDuration(r.BackoffBase)
		rm.backoffMax, _ = time.ParseDuration(r.BackoffMax)
	}
	rm.timeout, _ = time.ParseDuration(act.Timeout)
	spare := 1.0
	rm.covered = true
	for _, f := range AttemptFaults(doc, m) {
		if f.On != scenarios.FaultOnAttempts || f.Abort == nil || f.Abort.HTTPStatus == nil || f.Abort.Percentage == nil {
			continue
		}
		status := int(*f.Abort.HTTPStatus)
		if status < 400 {
			continue
		}
		spare *= 1 - f.Abort.Percentage.Value/100
		rm.pStatus = append(rm.pStatus, status)
		rm.covered = rm.covered && retryCovers(act.Retry, status)
	}
	rm.p = 1 - spare
	if rm.n == 0 || len(rm.pStatus) == 0 {
		rm.covered = false
	}
	return rm
}

// AttemptFaults are the spec.faults that act on the rule m hit: those
// naming its VirtualService and, when they name a route, its name.
func AttemptFaults(doc *scenarios.Document, m proxy.RouteMatch) []scenarios.ExperimentFault {
	var out []scenarios.ExperimentFault
	if m.VirtualService == "" {
		return nil
	}
	for _, f := range doc.Experiment.Spec.Faults {
		if f.VirtualService != m.VirtualService {
			continue
		}
		if f.Route != "" && f.Route != ruleName(doc, m.VirtualService, m.Rule) {
			continue
		}
		out = append(out, f)
	}
	return out
}

func ruleName(doc *scenarios.Document, vs string, i int) string {
	for _, v := range doc.VirtualServices {
		if v.Metadata.Name == vs && i >= 0 && i < len(v.Spec.HTTP) {
			return v.Spec.HTTP[i].Name
		}
	}
	return ""
}

// retryCovers says whether a retry policy retries an upstream response
// of status (docs/istio.md, Retries): 5xx any 5xx, gateway-error 502 to
// 504, retriable-4xx 409, retriable-status-codes the codes listed.
func retryCovers(r *proxy.RetryDump, status int) bool {
	if r == nil || r.NumRetries == 0 {
		return false
	}
	for _, tok := range r.RetryOn {
		switch tok {
		case "5xx":
			if status >= 500 && status <= 599 {
				return true
			}
		case "gateway-error":
			if status >= 502 && status <= 504 {
				return true
			}
		case "retriable-4xx":
			if status == 409 {
				return true
			}
		case "retriable-status-codes":
			if slices.Contains(r.RetriableStatusCodes, status) {
				return true
			}
		}
	}
	return false
}

// tries is the most attempts a request makes: 1 + retries when retried.
func (rm rule) tries() int {
	if rm.covered {
		return rm.n + 1
	}
	return 1
}

// errorRatio is p_a + (1−p_a)·q.
func (rm rule) errorRatio() float64 {
	q := rm.p
	if rm.covered {
		q = math.Pow(rm.p, float64(rm.n+1))
	}
	return rm.pa + (1-rm.pa)*q
}

// attempts is the mean and variance of one request's attempts: 0 when
// the rule's fault aborts it, else 1 + the retries its per-attempt
// aborts cause, up to the rule's retries.
func (rm rule) attempts() (mean, variance float64) {
	k := rm.tries()
	var e1, e2 float64
	for j := 1; j <= k; j++ {
		// P(exactly j attempts): j−1 aborted attempts, then one that is
		// not aborted, or the last allowed one whatever its outcome.
		pj := math.Pow(rm.p, float64(j-1))
		if j < k {
			pj *= 1 - rm.p
		}
		e1 += float64(j) * pj
		e2 += float64(j*j) * pj
	}
	mean = (1 - rm.pa) * e1
	variance = (1-rm.pa)*e2 - mean*mean
	return mean, math.Max(0, variance)
}

func (rm rule) errorBasis(phased bool) string {
	var parts []string
	if rm.pa > 0 {
		parts = append(parts, fmt.Sprintf("the rule's fault aborts %s %% with %d before the router, never retried", fmtPct(rm.pa), rm.paStatus))
	}
	if rm.p > 0 {
		s := fmt.Sprintf("spec.faults abort %s %% of attempts with %s", fmtPct(rm.p), joinInts(rm.pStatus))
		if rm.covered {
			s += fmt.Sprintf("; retryOn %s covers it: up to %d retries, so a request fails with p^%d", strings.Join(rm.retryOn, ","), rm.n, rm.n+1)
		} else {
			s += "; not retried (retryOn does not cover the status, or no retries)"
		}
		parts = append(parts, s)
	}
	s := strings.Join(parts, "; ") + "; p_a + (1−p_a)·q"
	if phased {
		s += ", in the fault phase"
	}
	return s
}

func (rm rule) attemptsBasis() string {
	s := "upstream attempts per request of the rule = (1−p_a)·(1−p^(n+1))/(1−p)"
	if !rm.covered || rm.p == 0 {
		s = "upstream attempts per request of the rule = 1−p_a (aborted before the router: no attempt; nothing retried)"
	}
	return s + fmt.Sprintf(" with p_a %s %%, p %s %%, n %d, assuming the upstream answers every attempt the faults spare; observed from the rule's counters (matched − aborted + retries)",
		fmtPct(rm.pa), fmtPct(rm.p), rm.n)
}

// latencyBound is d + min(T, (n+1)·perTry + back-offs).
func (rm rule) latencyBound() (time.Duration, string, bool) {
	router := time.Duration(-1)
	var parts []string
	if rm.perTry > 0 {
		tries := rm.n + 1
		var back time.Duration
		for k := 1; k <= rm.n; k++ {
			b := time.Duration((1<<k)-1) * rm.backoff
			if rm.backoffMax > 0 && b > rm.backoffMax {
				b = rm.backoffMax
			}
			back += b
		}
		router = time.Duration(tries)*rm.perTry + back
		parts = append(parts, fmt.Sprintf("%d tries of at most %s (per-try timeout) and %s of back-off", tries, rm.perTry, back))
	}
	if rm.timeout > 0 && (router < 0 || rm.timeout < router) {
		router = rm.timeout
		parts = []string{fmt.Sprintf("the route timeout %s", rm.timeout)}
	}
	if router < 0 {
		return 0, "", false
	}
	basis := "the router gives up after " + parts[0]
	bound := router
	if rm.delay > 0 {
		bound += rm.delay
		basis = fmt.Sprintf("the fault delay %s (%s %% of requests, before the router, outside its timeouts) + ", rm.delay, fmtPct(rm.dPct/100)) + basis
	}
	return bound, basis, true
}

// overflowPrediction is the overflow_ratio of the load's destination,
// when its connection pool is limited.
func overflowPrediction(doc *scenarios.Document, plan *proxy.RoutePlan, m proxy.RouteMatch, rm rule, n int64) (report.Prediction, bool) {
	dests := m.Route.Route.Clusters
	if len(dests) != 1 || len(m.Route.Route.Mirrors) > 0 {
		return report.Prediction{}, false
	}
	name := dests[0].Name
	if len(dests[0].ByPort) > 0 {
		name = dests[0].ByPort[strconv.FormatUint(uint64(m.Port), 10)]
	}
	c, ok := plan.Cluster(name)
	if !ok || !limited(c.CircuitBreakers) {
		return report.Prediction{}, false
	}
	for _, other := range plan.Clusters() {
		if other != name {
			if oc, _ := plan.Cluster(other); limited(oc.CircuitBreakers) {
				return report.Prediction{}, false // the overflows counted would mix clusters
			}
		}
	}
	cb := c.CircuitBreakers
	capacity := cb.MaxConnections + cb.MaxPendingRequests
	capText := fmt.Sprintf("maxConnections %d + http1MaxPendingRequests %d", cb.MaxConnections, cb.MaxPendingRequests)
	if cb.MaxRequests < cb.MaxConnections {
		capacity = cb.MaxRequests
		capText = fmt.Sprintf("http2MaxRequests %d", cb.MaxRequests)
	}
	load := doc.Experiment.Spec.Load
	conns := int64(load.Connections)
	if conns <= 0 {
		conns = loadgen.DefaultConnections
	}
	p := report.Prediction{Metric: report.PredictOverflowRatio, Route: rm.route}
	switch {
	case conns <= capacity:
		p.Basis = fmt.Sprintf("%d connections never exceed cluster %s's capacity (%s): nothing can overflow", conns, name, capText)
	case load.QPS <= 0:
		share := float64(conns-capacity) / float64(conns)
		low := 0.0
		if n > 0 {
			low, _ = report.WilsonShare(share, n)
		}
		p.Predicted, p.Low, p.High = round6(share), floor6(low), 1
		p.Basis = fmt.Sprintf("%d closed-loop connections against cluster %s's capacity %d (%s): the %d beyond it are refused at once and retry at once, far faster than a held request ends, so about (c−K)/c of the requests overflow, or more (longer runs overflow more); the interval reaches down to the 95 %% Wilson bound of that share over %d requests",
			conns, name, capacity, capText, conns-capacity, n)
	default:
		return report.Prediction{}, false // open loop beyond the capacity: depends on the upstream's latency
	}
	return p, true
}

// limited says whether a cluster's breakers are set below Envoy's
// default (istiod programs 2^32−1).
func limited(cb proxy.CircuitBreakersDump) bool {
	const unlimited = 4294967295
	return cb.MaxConnections < unlimited || cb.MaxPendingRequests < unlimited || cb.MaxRequests < unlimited
}

func round6(f float64) float64 { return math.Round(f*1e6) / 1e6 }
func floor6(f float64) float64 { return math.Floor(f*1e6) / 1e6 }
func ceil6(f float64) float64  { return math.Ceil(f*1e6) / 1e6 }

// fmtPct prints a share in [0, 1] as a percentage.
func fmtPct(share float64) string { return strconv.FormatFloat(share*100, 'g', 4, 64) }

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ", ")
}
