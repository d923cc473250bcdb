package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/faultline/faultline/scenarios"
)

// The mirror stage (docs/istio.md, Mirroring): Envoy's shadow policies. A
// request matched by a rule with mirror or mirrors draws once (the router's
// stable random value); each mirror whose fraction covers the draw gets a
// copy of the request as the first attempt sends it — header operations and
// authority rewrite applied, Host suffixed "-shadow" for Istio ≤ 1.27 —
// sent fire-and-forget to the mirror's own cluster with the primary's route
// timeout, no retries, its response discarded. The primary never waits for
// a shadow: at most Options.MaxMirrorsInFlight shadows run at once, and a
// shadow over that limit is dropped and counted, never queued. Aborted
// requests (fault stage) never reach the router, so they are never
// mirrored; a delayed one is mirrored after its delay. A fault on shadows
// (spec.faults, attempt_fault.go) drops or holds the copies only.

// defaultMaxMirrorsInFlight bounds concurrent shadows when
// Options.MaxMirrorsInFlight is zero.
const defaultMaxMirrorsInFlight = 1024

// mirrorPolicy is one compiled shadow policy.
type mirrorPolicy struct {
	dest *destination // resolved by the request's port, like a route destination
	// percent is the fraction mirrored, a numerator over a million (> 0).
	percent uint64
	// hostSuffix appends "-shadow" to the Host (Istio ≤ 1.27).
	hostSuffix bool
}

// mirrorPolicies compiles a rule's mirror (with mirrorPercentage, or the
// deprecated mirrorPercent) or mirrors, as istiod does: an absent
// percentage mirrors everything, an explicit 0 nothing.
func (b *builder) mirrorPolicies(label, path string, vs *scenarios.VirtualService, h *scenarios.HTTPRoute, lc listenerCtx) []*mirrorPolicy {
	var out []*mirrorPolicy
	add := func(p string, dst *scenarios.Destination, pct uint64) {
		if pct == 0 {
			return
		}
		if d := b.mirrorDestination(label, p, vs, dst, lc); d != nil {
			out = append(out, &mirrorPolicy{dest: d, percent: pct, hostSuffix: b.defaults.ShadowHostSuffix})
		}
	}
	if h.Mirror != nil {
		pct := uint64(fractionDenominator)
		switch {
		case h.MirrorPercentage != nil:
			pct = percentNumerator(h.MirrorPercentage.Value)
		case h.MirrorPercent != nil:
			pct = percentNumerator(float64(*h.MirrorPercent))
		}
		add(path+".mirror", h.Mirror, pct)
	}
	for i := range h.Mirrors {
		m := &h.Mirrors[i]
		pct := uint64(fractionDenominator)
		if m.Percentage != nil {
			pct = percentNumerator(m.Percentage.Value)
		}
		add(fmt.Sprintf("%s.mirrors[%d].destination", path, i), &m.Destination, pct)
	}
	return out
}

// mirrorDestination compiles a mirror's Destination at path as a route
// destination, so it resolves ports, subsets and clusters the same way.
func (b *builder) mirrorDestination(label, path string, vs *scenarios.VirtualService, dst *scenarios.Destination, lc listenerCtx) *destination {
	before, warned := len(b.problems), len(b.warnings)
	d := b.destination(label, path, vs, &scenarios.HTTPRouteDestination{Destination: *dst}, lc)
	// destination reports at <path>.destination.<field>; a mirror's fields
	// sit at <path>.<field>.
	for i := before; i < len(b.problems); i++ {
		b.problems[i].Path = strings.Replace(b.problems[i].Path, path+".destination.", path+".", 1)
	}
	for i := warned; i < len(b.warnings); i++ {
		b.warnings[i].Path = strings.Replace(b.warnings[i].Path, path+".destination.", path+".", 1)
	}
	return d
}

// shadowHost inserts "-shadow" before any port: "a.b:8080" → "a.b-shadow:8080",
// "[::1]:80" → "[::1]-shadow:80" (Envoy's shadowAppendedHost).
func shadowHost(host string) string {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		return host[:i] + "-shadow" + host[i:]
	}
	return host + "-shadow"
}

// shadows owns the shadow requests of a Proxy: a lock-free in-flight count
// that doubles as the semaphore, and a context that Close cancels.
type shadows struct {
	limit    int64
	inFlight atomic.Int64
	ctx      context.Context
	stop     context.CancelFunc
}

func newShadows(limit int) *shadows {
	if limit <= 0 {
		limit = defaultMaxMirrorsInFlight
	}
	ctx, stop := context.WithCancel(context.Background())
	return &shadows{limit: int64(limit), ctx: ctx, stop: stop}
}

// acquire takes a slot, or reports false when all are taken.
func (s *shadows) acquire() bool {
	if s.inFlight.Add(1) > s.limit {
		s.inFlight.Add(-1)
		return false
	}
	return true
}

// close cancels every shadow in flight and waits, bounded, for their
// goroutines to end.
func (s *shadows) close(limit time.Duration) {
	s.stop()
	deadline := time.Now().Add(limit)
	for s.inFlight.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
}

// startShadows sends the request's shadows, once, with its first attempt.
// base is the first attempt's request (endpoint not yet set).
func (p *Proxy) startShadows(x *exchange, r *rule, base *http.Request) {
	x.mirrorPending = false
	if hasBody(x.r) && !x.replay {
		return // body over the buffer limit: shadowing abandoned
	}
	for _, m := range r.mirrors {
		if x.mirrorDraw >= m.percent {
			continue
		}
		c := m.dest.resolve(x.port)
		if c == nil {
			continue // undefined subset: the shadow finds no cluster
		}
		var hold time.Duration
		if f := r.shadowFault; f != nil {
			// A fault on shadows (attempt_fault.go).
			var drop bool
			if hold, drop = x.strikeShadow(f, r.stats); drop {
				continue
			}
		}
		if p.shadows.ctx.Err() != nil || !p.shadows.acquire() {
			if r.stats != nil {
				r.stats.mirrorsDropped.Add(1)
			}
			continue
		}
		ep := c.pickEndpoint(&x.rng)
		if ep == nil {
			c.stats.cxNoneHealthy.Add(1)
			p.shadows.inFlight.Add(-1)
			continue
		}
		if r.stats != nil {
			r.stats.mirrored.Add(1)
		}
		ctx, cancel := p.shadows.ctx, context.CancelFunc(func() {})
		if r.timeout > 0 {
			ctx, cancel = context.WithTimeoutCause(ctx, r.timeout, errRouteTimeout)
		}
		out := base.WithContext(ctx)
		u := *base.URL
		u.Host = ep.addr
		out.URL = &u
		out.Header = maps.Clone(base.Header)
		if m.hostSuffix {
			out.Host = shadowHost(base.Host)
		}
		out.Body = x.attemptBody()
		go p.shadow(out, c, ep, cancel, hold)
	}
}

// shadow sends one shadow request, after holding it for hold (a fault on
// shadows), and discards its response. It touches nothing of the
// exchange, which is recycled as soon as the primary ends. A shadow whose
// context ends while it is held (route timeout, proxy closed) is never
// sent.
func (p *Proxy) shadow(req *http.Request, c *cluster, ep *endpoint, cancel context.CancelFunc, hold time.Duration) {
	defer p.shadows.inFlight.Add(-1)
	defer cancel()
	if hold > 0 {
		t := time.NewTimer(hold)
		select {
		case <-t.C:
		case <-req.Context().Done():
			t.Stop()
			return
		}
	}
	c.stats.rqTotal.Add(1)
	c.stats.shadowRq.Add(1)
	c.stats.rqActive.Add(1)
	ep.active.Add(1)
	defer func() {
		ep.active.Add(-1)
		c.stats.rqActive.Add(-1)
	}()
	res, err := c.transport.roundTrip(req, ep, nil, 0, nil) // its deadline, if any, is its context's
	if err == nil {
		c.stats.code(res.StatusCode)
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return
	}
	var de *DialError
	switch {
	case context.Cause(req.Context()) == errRouteTimeout:
		c.stats.rqTimeout.Add(1)
		c.stats.code(http.StatusGatewayTimeout)
	case req.Context().Err() != nil:
		c.stats.rqCancelled.Add(1) // the proxy closed
	case errors.As(err, &de):
		c.stats.cxConnectFail.Add(1)
		c.stats.code(http.StatusServiceUnavailable)
	default:
		c.stats.rqRxReset.Add(1)
		c.stats.code(http.StatusServiceUnavailable)
	}
}
