package proxy

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// Circuit breaking (docs/istio.md, Connection pool and circuit breaking):
// Envoy's per-cluster resource manager as istiod programs it from
// connectionPool, enforced per Proxy (Envoy enforces it per client
// sidecar).
//
//	attempt ─► connection slot free (requests on connections < maxConnections)?
//	             ├─ yes ───────────────────────────────────────────┐
//	             └─ no: pending queue full (≥ http1MaxPendingRequests)?
//	                   ├─ yes: 503 UO "…reset reason: overflow", x-envoy-overloaded
//	                   └─ no: wait (FIFO) for a slot, up to the route/per-try timeout
//	  ─► active requests < http2MaxRequests? ─ no: 503 UO (never queued) ◄─┘
//	  ─► transport (at most maxConnections connections per endpoint)
//
// Over HTTP/1.1 a connection carries one request at a time, so "requests
// on connections" is the number of busy connections: the slot semaphore is
// Envoy's max_connections seen from the requests' side. A request that
// finds every slot taken queues as pending (upstream_cx_overflow,
// upstream_rq_pending_total) and fails only when the pending queue is full
// (upstream_rq_pending_overflow). A freed slot goes to the oldest pending
// request first, as an Envoy connection that turns ready serves the
// pending queue before new arrivals. Active requests are checked when a
// request gets its slot (Envoy checks max_requests when a stream attaches
// to a connection) and overflow at once. Overflow is never retried and
// never reported to outlier detection.
//
// Differences from Envoy, by design: the limits are exact (Envoy lets each
// worker thread open one connection per endpoint beyond max_connections),
// and a request waiting only for its own TCP connect is not counted as
// pending (Envoy counts it, which is why istio.io sees a few 503s with 2
// clients at maxConnections 1 and http1MaxPendingRequests 1; Faultline
// sees none: 1 active + 1 pending).
//
// Zero means unlimited everywhere (istiod programs 2^32−1): a cluster
// without limits gets openBreaker and pays nothing. The hot path of a
// limited cluster is a few atomic operations; the queue's mutex is taken
// only when every slot is busy.

// breaker admits attempts to a cluster (cf. caddy's CircuitBreaker).
type breaker interface {
	// acquire admits one attempt: nil, an *OverflowError (answer 503 UO),
	// or ctx's error when the attempt gave up while pending. Every nil
	// return is paired with one release.
	acquire(ctx context.Context) error
	// release frees what acquire took: the slot goes to the oldest
	// pending attempt, if any.
	release()
}

// ErrCircuitOpen is what every *OverflowError matches with errors.Is.
var ErrCircuitOpen = errors.New("proxy: circuit breaker open")

// OverflowError is a circuit breaker refusing an attempt: Envoy's reset
// reason "overflow" (503, flag UO, x-envoy-overloaded: true). It is never
// retried and never counts towards outlier detection.
type OverflowError struct {
	Cluster string
	// Limit is the connectionPool field that refused:
	// "http1MaxPendingRequests" or "http2MaxRequests".
	Limit string
}

// Error names the cluster and the limit.
func (e *OverflowError) Error() string {
	return "proxy: " + e.Cluster + ": circuit breaker open (" + e.Limit + ")"
}

// Overflow marks the error as a circuit-breaker refusal (never retried).
func (e *OverflowError) Overflow() bool { return true }

// Is matches ErrCircuitOpen.
func (e *OverflowError) Is(target error) bool { return target == ErrCircuitOpen }

// openBreaker is the breaker of a cluster without limits.
type openBreaker struct{}

func (openBreaker) acquire(context.Context) error { return nil }
func (openBreaker) release()                      {}

// limits is the breaker of a cluster with connectionPool limits.
type limits struct {
	maxSlots, maxPending, maxRequests, maxRetries int64
	stats                                         *clusterStats

	busy    atomic.Int64 // slots taken (requests on connections)
	pending atomic.Int64 // requests queued for a slot
	active  atomic.Int64 // requests admitted (≤ maxRequests), when limited
	retries atomic.Int64 // outstanding retries (≤ maxRetries)

	mu    sync.Mutex // the queue; taken only when every slot is busy
	queue []*waiter

	overflowPending, overflowRequests *OverflowError
}

// waiter is a pending attempt; granted receives its slot.
type waiter struct{ granted chan struct{} }

func newLimits(pool poolConfig, st *clusterStats) *limits {
	return &limits{
		maxSlots:         pool.maxConnections,
		maxPending:       pool.maxPending,
		maxRequests:      pool.maxRequests,
		maxRetries:       pool.maxRetries,
		stats:            st,
		overflowPending:  &OverflowError{Cluster: st.name, Limit: "http1MaxPendingRequests"},
		overflowRequests: &OverflowError{Cluster: st.name, Limit: "http2MaxRequests"},
	}
}

func (l *limits) acquire(ctx context.Context) error {
	if l.pending.Load() > 0 || !l.trySlot() {
		if err := l.wait(ctx); err != nil {
			return err
		}
	}
	if l.maxRequests < unlimited && l.active.Add(1) > l.maxRequests {
		l.active.Add(-1)
		l.releaseSlot()
		l.stats.rqPendingOverflow.Add(1)
		return l.overflowRequests
	}
	return nil
}

func (l *limits) release() {
	if l.maxRequests < unlimited {
		l.active.Add(-1)
	}
	l.releaseSlot()
}

// trySlot takes a slot if one is free.
func (l *limits) trySlot() bool {
	if l.maxSlots >= unlimited {
		return true
	}
	for {
		n := l.busy.Load()
		if n >= l.maxSlots {
			return false
		}
		if l.busy.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// wait queues for a slot, or overflows when the queue is full.
func (l *limits) wait(ctx context.Context) error {
	l.mu.Lock()
	if len(l.queue) == 0 && l.trySlot() {
		l.mu.Unlock()
		return nil
	}
	if int64(len(l.queue)) >= l.maxPending {
		l.mu.Unlock()
		l.stats.rqPendingOverflow.Add(1)
		return l.overflowPending
	}
	w := &waiter{granted: make(chan struct{}, 1)}
	l.queue = append(l.queue, w)
	l.pending.Store(int64(len(l.queue)))
	// A slot freed between trySlot and the Store above was not handed to
	// anyone (its releaser saw no pending request): hand it out now.
	l.dispatchLocked()
	l.mu.Unlock()
	l.stats.cxOverflow.Add(1)
	l.stats.rqPendingTotal.Add(1)
	select {
	case <-w.granted:
		return nil
	case <-ctx.Done():
	}
	l.mu.Lock()
	for i, q := range l.queue {
		if q == w {
			l.queue = append(l.queue[:i], l.queue[i+1:]...)
			l.pending.Store(int64(len(l.queue)))
			l.mu.Unlock()
			return ctx.Err()
		}
	}
	l.mu.Unlock()
	// Granted as the context ended: pass the slot on.
	<-w.granted
	l.releaseSlot()
	return ctx.Err()
}

// releaseSlot hands the slot to the oldest pending attempt, or frees it.
func (l *limits) releaseSlot() {
	if l.maxSlots >= unlimited {
		return
	}
	if l.pending.Load() > 0 {
		l.mu.Lock()
		if len(l.queue) > 0 {
			l.grantLocked() // the slot changes hands: busy is unchanged
			l.mu.Unlock()
			return
		}
		l.busy.Add(-1)
		l.mu.Unlock()
		return
	}
	l.busy.Add(-1)
	if l.pending.Load() > 0 {
		// An attempt queued after the check above: dispatch pairs the
		// slot just freed with it.
		l.mu.Lock()
		l.dispatchLocked()
		l.mu.Unlock()
	}
}

// dispatchLocked grants free slots to pending attempts, oldest first.
func (l *limits) dispatchLocked() {
	for len(l.queue) > 0 && l.trySlot() {
		l.grantLocked()
	}
}

// grantLocked gives a taken slot to the oldest pending attempt.
func (l *limits) grantLocked() {
	w := l.queue[0]
	l.queue[0] = nil
	l.queue = l.queue[1:]
	l.pending.Store(int64(len(l.queue)))
	w.granted <- struct{}{}
}

// admitRetry reserves one of the cluster's outstanding retries
// (connectionPool.http.maxRetries, Envoy's max_retries): false when the
// limit is reached, counted as upstream_rq_retry_overflow. The caller must
// then not retry and answer with the failure it has, adding flag UO. Every
// true return is paired with one retryDone, when the retried attempt ends.
func (c *cluster) admitRetry() bool {
	l := c.rt.limits
	if l == nil || l.maxRetries >= unlimited {
		return true
	}
	if l.retries.Add(1) > l.maxRetries {
		l.retries.Add(-1)
		c.stats.rqRetryOverflow.Add(1)
		return false
	}
	return true
}

// retryDone releases a retry admitRetry reserved.
func (c *cluster) retryDone() {
	if l := c.rt.limits; l != nil && l.maxRetries < unlimited {
		l.retries.Add(-1)
	}
}

// admitRetry reserves a retry for x (see cluster.admitRetry); the
// reservation ends with endRetry, when the retried attempt's outcome is
// known or the request ends.
func (x *exchange) admitRetry(c *cluster) bool {
	if !c.admitRetry() {
		return false
	}
	x.retryHeld = true
	return true
}

// endRetry ends x's retry reservation, if it holds one.
func (x *exchange) endRetry(c *cluster) {
	if x.retryHeld {
		x.retryHeld = false
		c.retryDone()
	}
}

// Envoy's circuit_breakers.default.* gauges: 1 when the resource is at its
// limit.
func (l *limits) gauges() (cxOpen, pendingOpen, rqOpen, retryOpen bool) {
	if l == nil {
		return
	}
	return l.busy.Load() >= l.maxSlots, l.pending.Load() >= l.maxPending,
		l.maxRequests < unlimited && l.active.Load() >= l.maxRequests,
		l.maxRetries < unlimited && l.retries.Load() >= l.maxRetries
}

// Interface guards.
var (
	_ breaker = openBreaker{}
	_ breaker = (*limits)(nil)
	_ error   = (*OverflowError)(nil)
)
