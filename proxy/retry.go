package proxy

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/scenarios"
)

// The retry stage (docs/istio.md, Retries): Envoy's router attempt loop as
// istiod programs it. Every forwarded request runs the loop in forward;
// each turn is one attempt (try: endpoint pick, admission, exchange), and
// its outcome is either upstream response headers or an error classified by
// type (classify). The retry decision is Envoy's RetryStateImpl: which
// outcomes retryOn covers, the retry budget (num_retries), fully jittered
// exponential back-off drawn from the request's seeded generator, and the
// route timeout as one deadline over every attempt and back-off.

// retryOn is Envoy's retry_on bit set (x-envoy-retry-on and
// x-envoy-retry-grpc-on policies).
type retryOn uint32

const (
	retryOn5xx retryOn = 1 << iota
	retryOnGatewayError
	retryOnReset
	retryOnResetBeforeRequest
	retryOnConnectFailure
	retryOnRetriable4xx
	retryOnRefusedStream
	retryOnRetriableStatusCodes
	retryOnRetriableHeaders
	retryOnEnvoyRateLimited
	retryOnHTTP3PostConnectFailure
	retryOnGRPCCancelled
	retryOnGRPCDeadlineExceeded
	retryOnGRPCInternal
	retryOnGRPCResourceExhausted
	retryOnGRPCUnavailable

	retryOnGRPC = retryOnGRPCCancelled | retryOnGRPCDeadlineExceeded | retryOnGRPCInternal |
		retryOnGRPCResourceExhausted | retryOnGRPCUnavailable
	// retryOnAnyReset are the policies that retry every reset before
	// response headers, a per-try timeout included (a local reset).
	retryOnAnyReset = retryOnReset | retryOn5xx | retryOnGatewayError
)

// retryOnTokens maps every retryOn policy Istio accepts to its bit.
// retriable-headers is accepted but matches nothing (HTTPRetry has no
// header list); http3-post-connect-failure and refused-stream never fire
// over HTTP/1.1.
var retryOnTokens = map[string]retryOn{
	"5xx":                        retryOn5xx,
	"gateway-error":              retryOnGatewayError,
	"reset":                      retryOnReset,
	"reset-before-request":       retryOnResetBeforeRequest,
	"connect-failure":            retryOnConnectFailure,
	"retriable-4xx":              retryOnRetriable4xx,
	"refused-stream":             retryOnRefusedStream,
	"retriable-status-codes":     retryOnRetriableStatusCodes,
	"retriable-headers":          retryOnRetriableHeaders,
	"envoy-ratelimited":          retryOnEnvoyRateLimited,
	"http3-post-connect-failure": retryOnHTTP3PostConnectFailure,
	"cancelled":                  retryOnGRPCCancelled,
	"deadline-exceeded":          retryOnGRPCDeadlineExceeded,
	"internal":                   retryOnGRPCInternal,
	"resource-exhausted":         retryOnGRPCResourceExhausted,
	"unavailable":                retryOnGRPCUnavailable,
}

// Istio's built-in retry policy (route/retry/retry.go DefaultPolicy).
const (
	defaultNumRetries  = 2
	defaultRetryOn     = retryOnConnectFailure | retryOnRefusedStream | retryOnGRPCUnavailable | retryOnGRPCCancelled | retryOnRetriableStatusCodes
	defaultBackoffMs   = 25      // retry_back_off base_interval
	backoffMaxFactor   = 10      // Envoy: max_interval defaults to 10 × base_interval
	hostSelectionTries = 5       // host_selection_retry_max_attempts
	maxReplayBodyBytes = 1 << 20 // request bodies buffered for retries and shadows
)

// retryPolicy is a compiled HTTPRetry: Envoy's route retry_policy as
// istiod writes it. Immutable; shared by every request of the rule.
type retryPolicy struct {
	retries int     // num_retries; the loop makes at most 1+retries attempts
	on      retryOn // retry_on
	codes   []int   // retriable_status_codes
	// perTry is the per-try timeout, 0 for none. A per-try timeout not
	// shorter than the route timeout is dropped when compiling (Envoy
	// ignores it).
	perTry time.Duration
	// perTryVal is x-envoy-expected-rq-timeout-ms of the first attempt
	// when perTry is set.
	perTryVal     []string
	backoffBaseMs uint64
	backoffMaxMs  uint64
	previousHosts bool // retry_host_predicate previous_hosts
}

// defaultRetryPolicies are istiod's built-in policy, with and without 503
// among the retriable status codes (Istio ≤ 1.23 and ≥ 1.24).
var defaultRetryPolicies = [2]*retryPolicy{
	{retries: defaultNumRetries, on: defaultRetryOn, backoffBaseMs: defaultBackoffMs, backoffMaxMs: defaultBackoffMs * backoffMaxFactor, previousHosts: true},
	{retries: defaultNumRetries, on: defaultRetryOn, codes: []int{http.StatusServiceUnavailable},
		backoffBaseMs: defaultBackoffMs, backoffMaxMs: defaultBackoffMs * backoffMaxFactor, previousHosts: true},
}

// retryPolicy compiles a rule's retries block (nil: Istio's default
// policy) as istiod's ConvertPolicy does. It returns nil when retries are
// disabled (attempts 0). routeTimeout is the rule's timeout (0: none).
// Validation already refused what Istio refuses; the checks here keep
// Compile safe on an unvalidated document.
func (b *builder) retryPolicy(label, path string, rt *scenarios.HTTPRetry, routeTimeout time.Duration) *retryPolicy {
	def := defaultRetryPolicies[0]
	if b.defaults.RetryOn503 {
		def = defaultRetryPolicies[1]
	}
	if rt == nil {
		return def
	}
	if rt.Attempts < 0 {
		b.errorf(label, path+".attempts", "must be >= 0, not %d", rt.Attempts)
		return nil
	}
	if rt.Attempts == 0 {
		return nil // retries explicitly disabled, perTryTimeout included
	}
	p := *def
	p.retries = int(rt.Attempts)
	if rt.RetryOn != "" {
		p.on, p.codes = 0, nil
		for tok := range strings.SplitSeq(rt.RetryOn, ",") {
			tok = strings.TrimSpace(tok)
			if tok == "" {
				continue
			}
			if code, err := strconv.Atoi(tok); err == nil && http.StatusText(code) != "" {
				p.codes = append(p.codes, code)
				continue
			}
			bit, ok := retryOnTokens[tok]
			if !ok {
				b.errorf(label, path+".retryOn", "%q is not a retryOn policy Istio accepts", tok)
				continue
			}
			p.on |= bit
		}
		if len(p.codes) > 0 {
			// istiod appends retriable-status-codes when codes are listed.
			p.on |= retryOnRetriableStatusCodes
		}
	}
	if rt.PerTryTimeout != nil && rt.PerTryTimeout.D() > 0 {
		d := rt.PerTryTimeout.D()
		if routeTimeout == 0 || d < routeTimeout {
			p.perTry = d
			p.perTryVal = []string{strconv.FormatInt(d.Milliseconds(), 10)}
		}
	}
	if b.defaults.RetryBackoffHonoured {
		if rt.Backoff != nil && rt.Backoff.D() > 0 {
			base := uint64(rt.Backoff.D().Milliseconds())
			if base == 0 {
				base = 1
			}
			p.backoffBaseMs, p.backoffMaxMs = base, base*backoffMaxFactor
		}
		if rt.RetryIgnorePreviousHosts != nil {
			p.previousHosts = *rt.RetryIgnorePreviousHosts
		}
	}
	return &p
}

// retriesFor returns the number of retries a request gets under p (nil:
// none).
func (p *retryPolicy) retriesFor() int {
	if p == nil {
		return 0
	}
	return p.retries
}

// retriableResponse is Envoy's wouldRetryFromHeaders: does retryOn cover
// these upstream response headers?
func (p *retryPolicy) retriableResponse(res *http.Response) bool {
	h := res.Header
	if _, ok := h["X-Envoy-Ratelimited"]; ok {
		// From an upstream Envoy: retried only under envoy-ratelimited.
		return p.on&retryOnEnvoyRateLimited != 0
	}
	code := res.StatusCode
	switch {
	case p.on&retryOn5xx != 0 && code >= 500 && code <= 599:
		return true
	case p.on&retryOnGatewayError != 0 && code >= 502 && code <= 504:
		return true
	case p.on&retryOnRetriable4xx != 0 && code == http.StatusConflict:
		return true
	}
	if p.on&retryOnRetriableStatusCodes != 0 {
		for _, c := range p.codes {
			if c == code {
				return true
			}
		}
	}
	if p.on&retryOnGRPC != 0 {
		// Only a grpc-status in the response headers (trailers-only)
		// counts: Envoy decides before the body.
		if vv := h[hdrGRPCStatus]; len(vv) > 0 {
			var bit retryOn
			switch strings.TrimSpace(vv[0]) {
			case "1":
				bit = retryOnGRPCCancelled
			case "4":
				bit = retryOnGRPCDeadlineExceeded
			case "8":
				bit = retryOnGRPCResourceExhausted
			case "13":
				bit = retryOnGRPCInternal
			case "14":
				bit = retryOnGRPCUnavailable
			}
			return p.on&bit != 0
		}
	}
	return false
}

// retriableFailure is Envoy's wouldRetryFromReset for an attempt that got
// no response headers.
func (p *retryPolicy) retriableFailure(f failure) bool {
	switch f {
	case failConnect:
		// No request byte was sent: reset-before-request covers it too.
		return p.on&(retryOnAnyReset|retryOnConnectFailure|retryOnResetBeforeRequest) != 0
	case failReset, failPerTryTimeout:
		// The request went out (Faultline cannot tell how much of it), so
		// reset-before-request does not apply.
		return p.on&retryOnAnyReset != 0
	}
	return false // overflow, no healthy upstream, timeouts, client gone
}

// backoff is the wait before retry n (1-based): Envoy's fully jittered
// exponential back-off, a draw in [0, (2^n − 1) × base) capped at
// 10 × base, in whole milliseconds.
func (p *retryPolicy) backoff(n int, g *rng) time.Duration {
	base, limit := p.backoffBaseMs, p.backoffMaxMs
	if base == 0 {
		base, limit = defaultBackoffMs, defaultBackoffMs*backoffMaxFactor
	}
	bound := base
	for i := 1; i < n && bound <= limit; i++ {
		bound = 2*bound + base // (2^(i+1) − 1) × base
	}
	ms := g.below(bound)
	if ms > limit {
		ms = limit
	}
	return time.Duration(ms) * time.Millisecond
}

// failure classifies an attempt that produced no upstream response headers.
type failure uint8

const (
	failConnect       failure = iota + 1 // connection refused or timed out (503 UF)
	failReset                            // closed or reset before headers (503 UC)
	failPerTryTimeout                    // the per-try timeout expired: a local reset (504 UT)
	failOverflow                         // a circuit breaker refused the attempt (503 UO): never retried
	failNoHealthy                        // no endpoint to pick (503 UH): never retried
	failRouteTimeout                     // the route timeout expired (504 UT): never retried
	failClientGone                       // the downstream went away (DC)
)

// Errors of the attempt stage. A picker, breaker or transport reports a
// failure by returning one of these (or a *DialError); classify turns it
// into the failure the retry decision and the local reply need.
var (
	// errNoHealthyUpstream: the cluster has no endpoint to send to.
	errNoHealthyUpstream = errors.New("proxy: no healthy upstream")
	// errPerTryTimeout is the context cause of an attempt whose per-try
	// timeout expired.
	errPerTryTimeout = errors.New("proxy: upstream per try timeout")
)

// overflower is implemented by errors that mean a circuit breaker (the
// cluster's connection pool limits) refused an attempt: Envoy's reset
// reason "overflow", never retried.
type overflower interface{ Overflow() bool }

// classify turns the error of an attempt into a failure. actx is the
// attempt's context.
func (x *exchange) classify(actx context.Context, err error) failure {
	var de *DialError
	var of overflower
	switch {
	case errors.Is(err, errNoHealthyUpstream):
		return failNoHealthy
	case errors.As(err, &of) && of.Overflow():
		return failOverflow
	case x.routeTimedOut():
		return failRouteTimeout
	case x.r.Context().Err() != nil:
		return failClientGone
	case context.Cause(actx) == errPerTryTimeout:
		return failPerTryTimeout
	case errors.As(err, &de):
		return failConnect
	}
	return failReset
}

// retryStatus is Envoy's RetryStatus.
type retryStatus uint8

const (
	retryNo retryStatus = iota
	retryYes
	retryLimitExceeded
)

// shouldRetry is Envoy's RetryStateImpl::shouldRetry for one attempt's
// outcome: would is whether retryOn covers it. A retry armed by the
// previous attempt that is not needed again counts as a retry success.
func (x *exchange) shouldRetry(r *rule, c *cluster, would bool) retryStatus {
	if x.retryArmed && !would {
		c.stats.rqRetrySuccess.Add(1)
	}
	x.retryArmed = false
	x.endRetry(c) // the retried attempt has its outcome (Envoy's resetRetry)
	if !would {
		return retryNo
	}
	if x.retriesLeft == 0 {
		c.stats.rqRetryLimitExceeded.Add(1)
		x.flags |= flagURX
		return retryLimitExceeded
	}
	x.retriesLeft--
	// The retry circuit breaker (connectionPool.http.maxRetries): over
	// the limit the outcome stands, flagged UO (upstream_rq_retry_overflow).
	if !x.admitRetry(c) {
		x.flags |= flagUO
		return retryNo
	}
	x.retryArmed = true
	x.retried = true
	c.stats.rqRetry.Add(1)
	if r.stats != nil {
		r.stats.retries.Add(1)
	}
	return retryYes
}

// waitBackoff sleeps before retry n, within the route timeout. It reports
// false when the request ended meanwhile (route timeout or client gone),
// after answering for it.
func (x *exchange) waitBackoff(r *rule, c *cluster, n int) bool {
	d := r.retry.backoff(n, &x.rng)
	ctx := x.r.Context()
	if r.timeout > 0 {
		k := x.timers()
		ctx = k.startBackoff()
		defer k.endAttempt()
	}
	if d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
			return true
		case <-ctx.Done():
			t.Stop()
		}
	} else if ctx.Err() == nil {
		return true
	}
	if x.routeTimedOut() {
		x.routeTimeout(r, c, false) // no attempt in flight: not an upstream_rq_timeout
	} else {
		c.stats.rqCancelled.Add(1)
		x.clientGone()
	}
	return false
}

// attemptCountVals are x-envoy-attempt-count values up to 16, shared.
var attemptCountVals = func() [17][]string {
	var v [17][]string
	for i := range v {
		v[i] = []string{strconv.Itoa(i)}
	}
	return v
}()

func attemptCountValue(n int) []string {
	if n >= 0 && n < len(attemptCountVals) {
		return attemptCountVals[n]
	}
	return []string{strconv.Itoa(n)}
}

// expectedTimeout is x-envoy-expected-rq-timeout-ms for a retry, as Envoy's
// setTimeoutHeaders computes it: the per-try timeout, else the route
// timeout, capped by what is left of the route timeout (1 ms when none is).
// nil when no timeout applies.
func expectedTimeout(r *rule, elapsed time.Duration) []string {
	var ms int64
	if r.retry != nil && r.retry.perTry > 0 {
		ms = r.retry.perTry.Milliseconds()
	} else {
		ms = r.timeout.Milliseconds()
	}
	if ms == 0 {
		return nil
	}
	if r.timeout > 0 {
		left := (r.timeout - elapsed).Milliseconds()
		if left < 1 {
			left = 1
		}
		ms = min(ms, left)
	}
	return []string{strconv.FormatInt(ms, 10)}
}

// forward is the router's attempt loop (docs/istio.md, The request
// pipeline, step 7): try, then decide on the outcome — relay the response,
// answer for the failure, or retry after a back-off — until an attempt's
// outcome is final.
//
//	for each attempt:
//	  attempt context, per-try timer ─► try (pick, admission, exchange) ─┬─► headers: retriable? ─► retry | relay
//	                                                    └─► error: classify ─► retriable? ─► retry | local reply
//
// Istio's injected faults never get here (the fault stage runs before
// the router), so they are never retried; a fault on attempts
// (spec.faults, attempt_fault.go) strikes inside the loop, and its aborts
// are judged by the retry policy like upstream responses.
func (p *Proxy) forward(x *exchange, r *rule, d *destination, c *cluster, routerStart time.Time) {
	pol := r.retry
	if x.noReplay {
		pol = nil // the body could not be buffered: Envoy drops the retry state
	}
	x.retriesLeft = pol.retriesFor()
	// A retry reservation (connectionPool.http.maxRetries) ends with the
	// request at the latest.
	defer x.endRetry(c)
	var perTry time.Duration
	if pol != nil {
		perTry = pol.perTry
	}
	// With a route or per-try timeout each attempt gets a context of its
	// own (timeout.go); without, the downstream request's serves.
	var k *clock
	if r.timeout > 0 || perTry > 0 {
		k = x.timers()
	}
	var base *http.Request
	for {
		x.attempt++
		actx := x.r.Context()
		if k != nil {
			actx = k.startAttempt(perTry)
		}
		if base == nil {
			base = x.upstreamRequest(actx, r, d)
		}
		// A fault on attempts (attempt_fault.go) may answer for the
		// attempt, or end it, before it is sent: injected.
		var res *http.Response
		var err error
		injected := false
		if af := r.attemptFault; af != nil {
			res, err = x.strikeAttempt(actx, af, r.stats)
			if injected = res != nil || err != nil; injected && x.mirrorPending {
				p.startShadows(x, r, base)
			}
		}
		if !injected {
			res, err = p.try(actx, x, r, c, base, routerStart)
		}
		if err == nil && perTry > 0 && !k.disarmPerTry() {
			// The per-try timeout fired as the headers arrived: the
			// attempt's context, and so its body, is gone.
			if !injected {
				res.Body.Close()
				x.attemptDone(c)
			}
			res, err = nil, context.Cause(actx)
		}
		if err == nil {
			status := retryNo
			if pol != nil {
				status = x.shouldRetry(r, c, pol.retriableResponse(res))
			}
			if status == retryYes {
				if !injected {
					c.stats.retryCode(res.StatusCode)
					res.Body.Close() // Envoy resets the stream of a retried response
					x.attemptDone(c)
				}
				k.endAttempt()
				if !x.waitBackoff(r, c, x.attempt) {
					return
				}
				continue
			}
			if injected {
				// The injected abort is the response: a local reply,
				// never charged to the cluster it did not reach.
				r.attemptFault.reply(x)
				k.endAttempt()
				return
			}
			x.serviceTime = time.Since(routerStart).Milliseconds()
			if res.StatusCode == http.StatusSwitchingProtocols {
				p.switchProtocols(x, res, c)
			} else {
				x.copyResponse(res, r, d, c)
			}
			x.attemptDone(c)
			k.endAttempt()
			return
		}
		f := x.classify(actx, err)
		k.endAttempt()
		switch f { // per attempt, retried or not
		case failPerTryTimeout:
			c.stats.rqPerTryTimeout.Add(1)
		case failConnect:
			c.stats.cxConnectFail.Add(1)
		case failReset:
			c.stats.rqRxReset.Add(1)
		}
		switch f {
		case failNoHealthy, failRouteTimeout, failClientGone:
			// Not a reset: the request ends here whatever the policy.
		default:
			if pol != nil && x.shouldRetry(r, c, pol.retriableFailure(f)) == retryYes {
				if !x.waitBackoff(r, c, x.attempt) {
					return
				}
				continue
			}
		}
		x.upstreamFailure(r, c, f, err)
		return
	}
}

// pickEndpoint picks the endpoint of an attempt. On a retry under the
// previous_hosts predicate it picks again, up to host_selection_retry_max_attempts
// times, while the pick is an endpoint this request already tried, then
// keeps the last pick (Envoy's behaviour with a single endpoint).
func (x *exchange) pickEndpoint(c *cluster, pol *retryPolicy) *endpoint {
	ep := c.pick(x)
	if ep == nil {
		return nil
	}
	if x.attempt > 1 && pol != nil && pol.previousHosts && !c.consistentHashing() {
		for i := 0; i < hostSelectionTries && x.triedBefore(ep); i++ {
			ep = c.pick(x)
		}
	}
	if x.nTried < len(x.tried) {
		x.tried[x.nTried] = ep
		x.nTried++
	}
	return ep
}

func (x *exchange) triedBefore(ep *endpoint) bool {
	for _, t := range x.tried[:x.nTried] {
		if t == ep {
			return true
		}
	}
	return false
}

// attemptRequest is the request of the current attempt to ep. The first
// attempt sends base itself; a retry sends a copy with its own URL, header
// map (x-envoy-attempt-count, x-envoy-expected-rq-timeout-ms) and body
// reader, since the transport may still be reading the earlier attempt's.
func (x *exchange) attemptRequest(actx context.Context, base *http.Request, r *rule, ep *endpoint, routerStart time.Time) *http.Request {
	if x.attempt == 1 {
		base.URL.Host = ep.addr // base was built with actx
		return base
	}
	out := base.WithContext(actx)
	u := *base.URL
	u.Host = ep.addr
	out.URL = &u
	h := maps.Clone(base.Header)
	h[hdrAttemptCount] = attemptCountValue(x.attempt)
	if v := expectedTimeout(r, time.Since(routerStart)); v != nil {
		h[hdrExpectedTimeout] = v
	}
	out.Header = h
	out.Body = x.attemptBody()
	return out
}
