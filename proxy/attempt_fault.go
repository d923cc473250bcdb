package proxy

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/faultline/faultline/scenarios"
)

// The faults Istio has no field for (docs/istio.md, Faults on attempts and
// shadows): an Experiment's spec.faults. Istio's fault filter runs before
// the router, so its aborts are never retried; these act inside the
// router instead.
//
// A fault on attempts strikes each attempt of the attempt loop (retry.go),
// retries included, after the attempt's per-try timer started and before
// an endpoint is picked: its delay holds the attempt (the per-try and
// route timeouts run meanwhile, as they would on a slow upstream), its
// abort is a synthetic upstream response that the retry policy judges as
// it judges a real one (retryOn: 5xx retries an injected 503). An attempt
// it aborts or holds until it ends never leaves the proxy: no endpoint,
// no circuit-breaker admission, no upstream_rq_total. The router still
// sends the request's shadows with its first attempt, injected or not.
//
// A fault on shadows strikes each shadow (mirror.go) the request's mirror
// draw selected: an aborted shadow is not sent at all, a delayed one is
// held (within the route timeout the shadow runs under, and holding its
// in-flight slot) before it is sent. The primary request never waits.
//
// Both draw from the request's seeded generator, delay then abort, as
// Envoy's fault filter does, so a seeded run replays. A rule without them
// pays a nil check.

// attemptFault is a compiled fault on attempts. Immutable; shared by
// every request of the rule.
type attemptFault struct {
	fault
	// response is the injected abort as the retry policy sees it: the
	// status and, for a grpcStatus abort, grpc-status. Read-only.
	response *http.Response
}

// experimentFaults attaches the spec.faults entries that act on http
// rule index of vs (h) to r: the last of each kind wins (validation
// refuses two). A fault on shadows of a rule that mirrors nothing, and a
// fault on attempts of a rule that forwards nothing, are left off.
func (b *builder) experimentFaults(r *rule, vs *scenarios.VirtualService, h *scenarios.HTTPRoute) {
	e := b.doc.Experiment
	if r.stats == nil || r.kind != actionForward {
		return
	}
	for i, f := range e.Spec.Faults {
		if f.VirtualService != vs.Metadata.Name || f.Route != "" && f.Route != h.Name {
			continue
		}
		if f.On != scenarios.FaultOnAttempts && f.On != scenarios.FaultOnShadows {
			continue // refused by validation
		}
		if f.On == scenarios.FaultOnShadows && len(r.mirrors) == 0 {
			continue
		}
		label := "Experiment " + e.Metadata.Name
		c := b.fault(label, fmt.Sprintf("spec.faults[%d]", i), &scenarios.HTTPFaultInjection{Delay: f.Delay, Abort: f.Abort})
		if f.On == scenarios.FaultOnShadows {
			r.shadowFault = c
			continue
		}
		r.attemptFault = &attemptFault{fault: *c, response: c.syntheticResponse()}
		if r.attemptFault.active() {
			for _, d := range r.dests {
				b.faulted[d.service] = true
			}
		}
	}
}

// syntheticResponse is the upstream response an injected abort stands
// for, as far as the retry policy reads one (nil without an abort).
func (f *fault) syntheticResponse() *http.Response {
	if !f.hasAbort {
		return nil
	}
	res := &http.Response{StatusCode: f.abortStatus, Header: http.Header{}, Body: http.NoBody}
	if f.grpcStatus != nil {
		res.StatusCode = http.StatusOK
		res.Header[hdrGRPCStatus] = f.grpcStatus
	}
	return res
}

// strikeAttempt is the fault on attempts for the current attempt, whose
// context is actx. It returns the synthetic response of an injected
// abort, or the cause that ended the attempt while the injected delay
// held it, or neither: the attempt goes on to the upstream. DI marks a
// response some attempt of which was delayed; FI is set only when the
// injected abort is the response (fault.reply).
func (x *exchange) strikeAttempt(actx context.Context, f *attemptFault, st *routeStats) (*http.Response, error) {
	st.attemptsDrawn.Add(1)
	if x.rng.hit(f.delayPercent) {
		x.flags |= flagDI
		st.attemptDelays.Add(1)
		t := time.NewTimer(f.delay)
		select {
		case <-t.C:
		case <-actx.Done():
			t.Stop()
			st.attemptDelaysCut.Add(1)
			return nil, context.Cause(actx)
		}
	}
	if f.hasAbort && x.rng.hit(f.abortPercent) {
		st.attemptAborts.Add(1)
		return f.response, nil
	}
	return nil, nil
}

// strikeShadow is the fault on shadows for one shadow about to be sent:
// whether to drop it unsent, else how long to hold it first.
func (x *exchange) strikeShadow(f *fault, st *routeStats) (hold time.Duration, drop bool) {
	st.shadowsDrawn.Add(1)
	if x.rng.hit(f.delayPercent) {
		st.shadowDelays.Add(1)
		hold = f.delay
	}
	if f.hasAbort && x.rng.hit(f.abortPercent) {
		st.shadowAborts.Add(1)
		return 0, true
	}
	return hold, false
}
