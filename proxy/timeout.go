package proxy

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// The route timeout stage (docs/istio.md, Route timeout): one deadline over
// every attempt and retry back-off, started by the router once the request
// is complete (after any fault delay and after a buffered body), never
// retried. No timeout when unset (Istio programs 0s, not Envoy's 15s
// default). Its expiry is told apart from a client that went away, and from
// an attempt's per-try timeout (retry.go), by the cause it cancels with.
//
// Both timeouts run on an exchange's clock: two timers that the pooled
// exchange keeps from request to request, and at most one context at a
// time, the attempt's (or the back-off's), a direct child of the
// downstream request's context:
//
//	downstream request context ──► attempt context ◄── route timer   (cause errRouteTimeout)
//	        (client gone)                            ◄── per-try timer (cause errPerTryTimeout)
//
// so a request pays for one context per attempt, not a chain of them.

// clock is an exchange's route and per-try timeouts. Its timers fire on
// their own goroutines; mu orders them with the exchange's own calls, and
// a firing for a deadline that was disarmed, or re-armed later (the
// exchange was reused), does nothing.
type clock struct {
	mu      sync.Mutex
	req     context.Context         // the downstream request's context
	cancel  context.CancelCauseFunc // ends the current attempt or back-off; nil between them
	route   *time.Timer
	perTry  *time.Timer
	routeAt time.Time // the route deadline while armed, else zero
	tryAt   time.Time // the per-try deadline while armed, else zero
	// expired: the route timeout ended the request (before the client
	// went away); tried: the per-try timeout ended the current attempt.
	expired, tried bool
}

// reset prepares the clock for a new request.
func (k *clock) reset(req context.Context) {
	k.mu.Lock()
	k.req, k.cancel = req, nil
	k.routeAt, k.tryAt = time.Time{}, time.Time{}
	k.expired, k.tried = false, false
	k.mu.Unlock()
}

// startRoute arms the route timeout: d from now.
func (k *clock) startRoute(d time.Duration) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.routeAt = time.Now().Add(d)
	if k.route == nil {
		k.route = time.AfterFunc(d, k.routeFired)
	} else {
		k.route.Reset(d)
	}
}

// endRoute disarms the route timeout.
func (k *clock) endRoute() {
	k.mu.Lock()
	k.routeAt = time.Time{}
	k.mu.Unlock()
	if k.route != nil {
		k.route.Stop()
	}
}

// routeFired ends the request: unless the client went away first, the
// route timeout expired, and the attempt or back-off in flight ends with
// errRouteTimeout.
func (k *clock) routeFired() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.routeAt.IsZero() || time.Now().Before(k.routeAt) || k.req.Err() != nil {
		return // disarmed, re-armed, or the client left first
	}
	k.routeAt = time.Time{}
	k.expired = true
	if k.cancel != nil {
		k.cancel(errRouteTimeout)
	}
}

// untilDeadline is the time left to the earliest deadline armed, 0 when
// none is (at least a nanosecond when one is).
func (k *clock) untilDeadline() time.Duration {
	k.mu.Lock()
	defer k.mu.Unlock()
	at := k.routeAt
	if !k.tryAt.IsZero() && (at.IsZero() || k.tryAt.Before(at)) {
		at = k.tryAt
	}
	if at.IsZero() {
		return 0
	}
	return max(time.Until(at), time.Nanosecond)
}

// timedOut reports whether the route timeout expired.
func (k *clock) timedOut() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.expired
}

// startAttempt returns the context of a new attempt, a child of the
// downstream request's; perTry > 0 arms the per-try timeout. An attempt
// started after the route timeout expired is over at once.
func (k *clock) startAttempt(perTry time.Duration) context.Context {
	ctx, cancel := context.WithCancelCause(k.req)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.cancel = cancel
	k.tried = false
	if k.expired {
		cancel(errRouteTimeout)
	}
	if perTry > 0 {
		k.tryAt = time.Now().Add(perTry)
		if k.perTry == nil {
			k.perTry = time.AfterFunc(perTry, k.perTryFired)
		} else {
			k.perTry.Reset(perTry)
		}
	}
	return ctx
}

// perTryFired ends the current attempt with errPerTryTimeout.
func (k *clock) perTryFired() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.tryAt.IsZero() || time.Now().Before(k.tryAt) {
		return // disarmed or re-armed
	}
	k.tryAt = time.Time{}
	k.tried = true
	if k.cancel != nil {
		k.cancel(errPerTryTimeout)
	}
}

// disarmPerTry stops the per-try timeout once response headers arrived
// (Envoy then lets the body run up to the route timeout); false if it
// already ended the attempt.
func (k *clock) disarmPerTry() bool {
	k.mu.Lock()
	tried := k.tried
	armed := !k.tryAt.IsZero()
	k.tryAt = time.Time{}
	k.mu.Unlock()
	if armed {
		k.perTry.Stop()
	}
	return !tried
}

// endAttempt ends the current attempt's context and its per-try timeout.
// A nil clock (no timeouts) has nothing to end.
func (k *clock) endAttempt() {
	if k == nil {
		return
	}
	k.mu.Lock()
	cancel := k.cancel
	k.cancel = nil
	armed := !k.tryAt.IsZero()
	k.tryAt = time.Time{}
	k.mu.Unlock()
	if armed {
		k.perTry.Stop()
	}
	if cancel != nil {
		cancel(nil)
	}
}

// startBackoff returns the context of a back-off: like an attempt's, it
// ends when the client goes away or the route timeout expires.
func (k *clock) startBackoff() context.Context { return k.startAttempt(0) }

// timedOut reports whether ctx ended because the route timeout expired
// (the shadows' contexts, and attempt contexts, carry it as their cause).
func timedOut(ctx context.Context) bool {
	return ctx.Err() != nil && context.Cause(ctx) == errRouteTimeout
}

// routeTimeout is Envoy's 504 on an expired route timeout. awaiting says an
// attempt was waiting for response headers: only then does the cluster
// count upstream_rq_timeout and a 504 (not during a retry back-off, not
// once headers came).
func (x *exchange) routeTimeout(r *rule, c *cluster, awaiting bool) {
	if awaiting {
		c.stats.rqTimeout.Add(1)
		c.stats.code(http.StatusGatewayTimeout)
	}
	if r.stats != nil {
		r.stats.timeouts.Add(1)
	}
	x.flags |= flagUT
	if x.wroteHeader {
		x.abort = true // too late for a 504: reset, as Envoy does
		return
	}
	x.localReply(http.StatusGatewayTimeout, bodyTimeout, "upstream_response_timeout")
}
