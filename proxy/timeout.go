package proxy

import (
	"context"
	"net/http"
	"time"
)

// The route timeout stage (ISTIO.md §1.8): one deadline over every attempt
// and retry back-off, started by the router once the request is complete
// (after any fault delay and after a buffered body), never retried. No
// timeout when unset (Istio programs 0s, not Envoy's 15s default). Its
// expiry is told apart from a client that went away by the context's
// cause.

// withRouteTimeout bounds ctx by the rule's timeout, if any.
func withRouteTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeoutCause(ctx, d, errRouteTimeout)
}

// timedOut reports whether ctx ended because the route timeout expired.
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
