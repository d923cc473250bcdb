package proxy

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Outlier detection (docs/istio.md, Outlier detection): Envoy's
// consecutive-error detector as istiod programs it, per endpoint, per
// cluster, per Proxy.
//
//	upstream response ──► code (mapped by outlierDetectionHttpErrorCodes)
//	local failure ──────► connect failure / reset ⇒ 503, timeout ⇒ 504
//	                      (with splitExternalLocalOriginErrors: the
//	                      local-origin counter instead)
//	  ──► per-endpoint counters (atomics) ──► a counter reaches its threshold
//	  ──► detector (mutex): detected; ejected if the ejected share allows;
//	      the counter is reset
//	  ──► new host set published (atomically) for the load balancer
//
// Envoy's interval timer (un-ejection, back-off decay) becomes a lazy
// sweep: the request path and Stats compare a monotonic clock with the
// next sweep time (one atomic load) and, when it is due, run every sweep
// that fell due since, at the exact interval ticks, so results are the
// same as a timer's with no goroutine to own or stop. A cluster nobody
// sends to or reads sweeps late, which nobody can observe. Tests inject the
// clock (Options.now).
//
// Circuit-breaker overflow and "no healthy upstream" never reach the
// detector, nor does a client that went away.

// hostMonitor is an endpoint's outlier state. The counters are atomics fed
// by requests; the rest is guarded by the detector's mutex.
type hostMonitor struct {
	consecutive5xx     atomic.Uint32
	consecutiveGateway atomic.Uint32
	consecutiveLocal   atomic.Uint32

	ejected      bool
	backoff      int64 // Envoy's ejectTimeBackoff: +1 per ejection, −1 per quiet sweep
	ejections    int64
	lastEjection time.Duration
	lastUneject  time.Duration
	unejected    bool // lastUneject is set

	// rq counts the endpoint's attempts by outcome, with or without a
	// detector, for the admin /clusters view (admin.go).
	rq hostRequests
}

// ejectionKind is Envoy's OutlierEjectionType for the consecutive detectors.
type ejectionKind uint8

const (
	eject5xx ejectionKind = iota
	ejectGateway
	ejectLocalOrigin
)

// outlierDetector is a cluster runtime's detector.
type outlierDetector struct {
	cfg   outlierConfig
	rt    *clusterRuntime
	now   func() time.Duration
	stats *clusterStats

	nextSweep atomic.Int64 // clock value of the next interval tick
	// busy is set while a sweep could change something (an endpoint is
	// ejected or has ejection back-off to decay); while it is clear the
	// request path does not even read the clock.
	busy atomic.Bool

	mu      sync.Mutex
	ejected int // ejections_active
}

func newOutlierDetector(rt *clusterRuntime, cfg outlierConfig, now func() time.Duration) *outlierDetector {
	d := &outlierDetector{cfg: cfg, rt: rt, now: now, stats: rt.stats}
	d.nextSweep.Store(int64(now() + cfg.interval))
	return d
}

// result is a locally originated outcome of an attempt.
type result uint8

const (
	resultConnectFailed result = iota // connect failure, reset: 503
	resultTimeout                     // route or per-try timeout: 504
)

// putResponse feeds an upstream response (Envoy's putHttpResponseCode,
// preceded in split mode by the connection's success).
func (d *outlierDetector) putResponse(ep *endpoint, code int) {
	m := &ep.host
	if d.cfg.split {
		zero(&m.consecutiveLocal) // LocalOriginConnectSuccess
	}
	if d.cfg.errorCodes != nil {
		// outlierDetectionHttpErrorCodes: the listed codes are the errors
		// (a listed code under 500 counts as a 500), every other code is
		// a success.
		_, listed := slices.BinarySearch(d.cfg.errorCodes, code)
		switch {
		case !listed:
			code = http.StatusOK
		case code < 500:
			code = http.StatusInternalServerError
		}
	}
	d.putCode(ep, code)
}

// putCode is Envoy's putHttpResponseCode.
func (d *outlierDetector) putCode(ep *endpoint, code int) {
	m := &ep.host
	if code < 500 || code > 599 {
		zero(&m.consecutive5xx)
		zero(&m.consecutiveGateway)
		return
	}
	if code >= 502 && code <= 504 {
		if m.consecutiveGateway.Add(1) == d.cfg.consecutiveGateway {
			d.detected(ep, ejectGateway)
		}
	} else {
		zero(&m.consecutiveGateway)
	}
	if m.consecutive5xx.Add(1) == d.cfg.consecutive5xx {
		d.detected(ep, eject5xx)
	}
}

// putResult feeds a locally originated failure: mapped to 503 or 504 by
// default, to the local-origin counter in split mode.
func (d *outlierDetector) putResult(ep *endpoint, r result) {
	if !d.cfg.split {
		code := http.StatusServiceUnavailable
		if r == resultTimeout {
			code = http.StatusGatewayTimeout
		}
		d.putCode(ep, code)
		return
	}
	if ep.host.consecutiveLocal.Add(1) == d.cfg.consecutiveLocal {
		d.detected(ep, ejectLocalOrigin)
	}
}

func zero(c *atomic.Uint32) {
	if c.Load() != 0 {
		c.Store(0)
	}
}

// detected is Envoy's onConsecutiveErrorWorker: a counter reached its
// threshold.
func (d *outlierDetector) detected(ep *endpoint, kind ejectionKind) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := &ep.host
	if m.ejected {
		return // already out: the counter is not reset
	}
	st := &d.stats.outlier
	var enforce bool
	switch kind {
	case eject5xx:
		st.detected5xx.Add(1)
		enforce = d.cfg.enforce5xx
	case ejectGateway:
		st.detectedGateway.Add(1)
		enforce = d.cfg.enforceGateway
	case ejectLocalOrigin:
		st.detectedLocalOrigin.Add(1)
		enforce = true
	}
	d.ejectLocked(ep, kind, enforce)
	switch kind {
	case eject5xx:
		m.consecutive5xx.Store(0)
	case ejectGateway:
		m.consecutiveGateway.Store(0)
	case ejectLocalOrigin:
		m.consecutiveLocal.Store(0)
	}
}

// ejectLocked is Envoy's ejectHost for the consecutive detectors.
func (d *outlierDetector) ejectLocked(ep *endpoint, kind ejectionKind, enforce bool) {
	st := &d.stats.outlier
	total := float64(len(d.rt.endpoints))
	var allowed bool
	if d.cfg.strictMaxPercent {
		allowed = 100*float64(d.ejected+1)/total <= d.cfg.maxEjectionPercent
	} else {
		allowed = 100*float64(d.ejected)/total < d.cfg.maxEjectionPercent
	}
	if !allowed {
		st.overflow.Add(1)
		return
	}
	if kind == eject5xx {
		st.total.Add(1) // ejections_total (deprecated): detections that passed the limit
	}
	if !enforce {
		return
	}
	m := &ep.host
	now := d.now()
	d.sweepLocked(now) // sweeps skipped while nothing could change: catch up
	d.busy.Store(true)
	m.ejected = true
	m.ejections++
	m.lastEjection = now
	if time.Duration(m.backoff)*d.cfg.baseEjection < d.cfg.maxEjection+d.cfg.baseEjection {
		m.backoff++
	}
	d.ejected++
	st.enforcedTotal.Add(1)
	switch kind {
	case eject5xx:
		st.enforced5xx.Add(1)
	case ejectGateway:
		st.enforcedGateway.Add(1)
	case ejectLocalOrigin:
		st.enforcedLocalOrigin.Add(1)
	}
	d.rt.publish()
}

// maybeSweep runs the interval sweeps that are due.
func (d *outlierDetector) maybeSweep() {
	if !d.busy.Load() || d.nextSweep.Load() > int64(d.now()) {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sweepLocked(d.now())
}

// sweepLocked runs every interval tick up to now, in order: Envoy's
// onIntervalTimer (un-eject the hosts whose ejection time has passed,
// then decay the back-off of hosts not ejected for a whole interval).
func (d *outlierDetector) sweepLocked(now time.Duration) {
	next := time.Duration(d.nextSweep.Load())
	changed := false
	for next <= now {
		quiet := d.ejected == 0
		for _, ep := range d.rt.endpoints {
			m := &ep.host
			if m.ejected && min(d.cfg.baseEjection*time.Duration(m.backoff), d.cfg.maxEjection) <= next-m.lastEjection {
				m.ejected = false
				m.lastUneject, m.unejected = next, true
				m.consecutive5xx.Store(0)
				m.consecutiveGateway.Store(0)
				m.consecutiveLocal.Store(0)
				d.ejected--
				changed = true
			}
		}
		for _, ep := range d.rt.endpoints {
			m := &ep.host
			if !m.ejected && m.unejected && next-m.lastUneject >= d.cfg.interval && m.backoff > 0 {
				m.backoff--
			}
			quiet = quiet && m.backoff == 0 && !m.ejected
		}
		next += d.cfg.interval
		if quiet && next <= now {
			// Nothing left for a sweep to change: jump to the first tick
			// after now.
			next += (now-next)/d.cfg.interval*d.cfg.interval + d.cfg.interval
		}
	}
	d.nextSweep.Store(int64(next))
	if d.ejected == 0 {
		quiet := true
		for _, ep := range d.rt.endpoints {
			quiet = quiet && ep.host.backoff == 0
		}
		d.busy.Store(!quiet)
	}
	if changed {
		d.rt.publish()
	}
}

// outlierResponse feeds an attempt's response headers to the cluster's
// detector, if it has one.
func (c *cluster) outlierResponse(ep *endpoint, code int) {
	ep.host.rq.response(code)
	if d := c.rt.outlier; d != nil {
		d.putResponse(ep, code)
	}
}

// outlierFailure feeds an attempt that got no response headers: a connect
// failure, a reset, or a route or per-try timeout. A client that went away
// is not the endpoint's fault and is not reported; overflow and "no
// healthy upstream" never get here (no request was sent).
func (c *cluster) outlierFailure(x *exchange, ep *endpoint, actx context.Context) {
	timeout := timedOut(actx) || context.Cause(actx) == errPerTryTimeout
	gone := !timeout && x.r.Context().Err() != nil
	ep.host.rq.failure(timeout, gone)
	d := c.rt.outlier
	if d == nil {
		return
	}
	switch {
	case timeout:
		d.putResult(ep, resultTimeout)
	case gone:
		// the client went away
	default:
		// A connect failure (*DialError) or a reset before headers: both
		// are Envoy's LocalOriginConnectFailed.
		d.putResult(ep, resultConnectFailed)
	}
}

// outlierReset feeds a reset after response headers (Envoy reports every
// upstream reset as a local-origin connect failure).
func (c *cluster) outlierReset(ep *endpoint) {
	if d := c.rt.outlier; d != nil {
		d.putResult(ep, resultConnectFailed)
	}
}

// outlierGauges are the detector's gauges after any due sweep.
func (d *outlierDetector) gauges() (ejectionsActive int64) {
	if d == nil {
		return 0
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sweepLocked(d.now())
	return int64(d.ejected)
}
