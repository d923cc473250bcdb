package proxy

import (
	"sync/atomic"
	"time"
)

// policyCounters are a cluster's counters of connection pooling, circuit
// breaking, load balancing and outlier detection (Envoy's names in the
// comments), embedded in clusterStats: atomics, kept across tables.
type policyCounters struct {
	rqPendingOverflow atomic.Int64 // upstream_rq_pending_overflow
	rqPendingTotal    atomic.Int64 // upstream_rq_pending_total
	rqRetryOverflow   atomic.Int64 // upstream_rq_retry_overflow
	cxTotal           atomic.Int64 // upstream_cx_total
	cxActive          atomic.Int64 // upstream_cx_active (gauge)
	cxOverflow        atomic.Int64 // upstream_cx_overflow
	cxConnectTimeout  atomic.Int64 // upstream_cx_connect_timeout
	// cxConnectAttemptsExceeded: upstream_cx_connect_attempts_exceeded
	// (a TCP connection whose one connect attempt failed).
	cxConnectAttemptsExceeded atomic.Int64
	cxRxBytes                 atomic.Int64 // upstream_cx_rx_bytes_total
	cxTxBytes                 atomic.Int64 // upstream_cx_tx_bytes_total
	cxMaxRequests             atomic.Int64 // upstream_cx_max_requests
	cxMaxDuration             atomic.Int64 // upstream_cx_max_duration_reached
	lbHealthyPanic            atomic.Int64 // lb_healthy_panic
	outlier                   outlierCounters
}

// outlierCounters are Envoy's outlier_detection.* counters.
type outlierCounters struct {
	enforcedTotal       atomic.Int64 // ejections_enforced_total
	enforced5xx         atomic.Int64 // ejections_enforced_consecutive_5xx
	detected5xx         atomic.Int64 // ejections_detected_consecutive_5xx
	enforcedGateway     atomic.Int64 // ejections_enforced_consecutive_gateway_failure
	detectedGateway     atomic.Int64 // ejections_detected_consecutive_gateway_failure
	enforcedLocalOrigin atomic.Int64 // ejections_enforced_consecutive_local_origin_failure
	detectedLocalOrigin atomic.Int64 // ejections_detected_consecutive_local_origin_failure
	overflow            atomic.Int64 // ejections_overflow
	total               atomic.Int64 // ejections_total (deprecated)
}

// PolicyStats are a cluster's connection-pool, circuit-breaker,
// load-balancer and outlier-detection stats under Envoy's names (without
// the "cluster.<name>." prefix). Gauges describe the cluster as the
// current table configures it.
type PolicyStats struct {
	// UpstreamRqPendingOverflow counts requests refused by a circuit
	// breaker: the pending queue was full (http1MaxPendingRequests) or the
	// active requests at their limit (http2MaxRequests). Each got a 503
	// with flag UO.
	UpstreamRqPendingOverflow int64 `json:"upstream_rq_pending_overflow"`
	// UpstreamRqPendingTotal counts requests that waited for a connection
	// (maxConnections reached); UpstreamRqPendingActive are waiting now.
	UpstreamRqPendingTotal  int64 `json:"upstream_rq_pending_total"`
	UpstreamRqPendingActive int64 `json:"upstream_rq_pending_active"`
	// UpstreamRqRetryOverflow counts retries refused by http.maxRetries.
	UpstreamRqRetryOverflow int64 `json:"upstream_rq_retry_overflow"`
	UpstreamCxTotal         int64 `json:"upstream_cx_total"`
	UpstreamCxActive        int64 `json:"upstream_cx_active"`
	// UpstreamCxOverflow counts requests that needed a connection while
	// maxConnections were busy.
	UpstreamCxOverflow       int64 `json:"upstream_cx_overflow"`
	UpstreamCxConnectTimeout int64 `json:"upstream_cx_connect_timeout"`
	// UpstreamCxConnectAttemptsExceeded counts TCP connections whose
	// connect attempt failed (Istio allows one); UpstreamCxRxBytesTotal and
	// UpstreamCxTxBytesTotal count the bytes TCP connections received from
	// and sent to the endpoints.
	UpstreamCxConnectAttemptsExceeded int64 `json:"upstream_cx_connect_attempts_exceeded"`
	UpstreamCxRxBytesTotal            int64 `json:"upstream_cx_rx_bytes_total"`
	UpstreamCxTxBytesTotal            int64 `json:"upstream_cx_tx_bytes_total"`
	// UpstreamCxMaxRequests counts connections closed by
	// maxRequestsPerConnection; UpstreamCxMaxDurationReached by
	// maxConnectionDuration.
	UpstreamCxMaxRequests        int64 `json:"upstream_cx_max_requests"`
	UpstreamCxMaxDurationReached int64 `json:"upstream_cx_max_duration_reached"`
	// LbHealthyPanic counts picks made in panic mode (healthy share under
	// the panic threshold: every endpoint, ejected or not, is eligible).
	LbHealthyPanic    int64 `json:"lb_healthy_panic"`
	MembershipHealthy int64 `json:"membership_healthy"`
	// Circuit-breaker gauges: 1 when the resource is at its limit.
	CxOpen        int64 `json:"circuit_breakers.default.cx_open"`
	RqPendingOpen int64 `json:"circuit_breakers.default.rq_pending_open"`
	RqOpen        int64 `json:"circuit_breakers.default.rq_open"`
	RqRetryOpen   int64 `json:"circuit_breakers.default.rq_retry_open"`
	// Outlier detection.
	EjectionsActive                     int64 `json:"outlier_detection.ejections_active"`
	EjectionsEnforcedTotal              int64 `json:"outlier_detection.ejections_enforced_total"`
	EjectionsEnforced5xx                int64 `json:"outlier_detection.ejections_enforced_consecutive_5xx"`
	EjectionsDetected5xx                int64 `json:"outlier_detection.ejections_detected_consecutive_5xx"`
	EjectionsEnforcedGatewayFailure     int64 `json:"outlier_detection.ejections_enforced_consecutive_gateway_failure"`
	EjectionsDetectedGatewayFailure     int64 `json:"outlier_detection.ejections_detected_consecutive_gateway_failure"`
	EjectionsEnforcedLocalOriginFailure int64 `json:"outlier_detection.ejections_enforced_consecutive_local_origin_failure"`
	EjectionsDetectedLocalOriginFailure int64 `json:"outlier_detection.ejections_detected_consecutive_local_origin_failure"`
	EjectionsOverflow                   int64 `json:"outlier_detection.ejections_overflow"`
	EjectionsTotal                      int64 `json:"outlier_detection.ejections_total"`
}

// policyStats snapshots c's counters and the gauges of its current
// runtime rt (nil when no table uses the cluster any more).
func policyStats(c *clusterStats, rt *clusterRuntime) PolicyStats {
	o := &c.outlier
	s := PolicyStats{
		UpstreamRqPendingOverflow:           c.rqPendingOverflow.Load(),
		UpstreamRqPendingTotal:              c.rqPendingTotal.Load(),
		UpstreamRqRetryOverflow:             c.rqRetryOverflow.Load(),
		UpstreamCxTotal:                     c.cxTotal.Load(),
		UpstreamCxActive:                    c.cxActive.Load(),
		UpstreamCxOverflow:                  c.cxOverflow.Load(),
		UpstreamCxConnectTimeout:            c.cxConnectTimeout.Load(),
		UpstreamCxConnectAttemptsExceeded:   c.cxConnectAttemptsExceeded.Load(),
		UpstreamCxRxBytesTotal:              c.cxRxBytes.Load(),
		UpstreamCxTxBytesTotal:              c.cxTxBytes.Load(),
		UpstreamCxMaxRequests:               c.cxMaxRequests.Load(),
		UpstreamCxMaxDurationReached:        c.cxMaxDuration.Load(),
		LbHealthyPanic:                      c.lbHealthyPanic.Load(),
		EjectionsEnforcedTotal:              o.enforcedTotal.Load(),
		EjectionsEnforced5xx:                o.enforced5xx.Load(),
		EjectionsDetected5xx:                o.detected5xx.Load(),
		EjectionsEnforcedGatewayFailure:     o.enforcedGateway.Load(),
		EjectionsDetectedGatewayFailure:     o.detectedGateway.Load(),
		EjectionsEnforcedLocalOriginFailure: o.enforcedLocalOrigin.Load(),
		EjectionsDetectedLocalOriginFailure: o.detectedLocalOrigin.Load(),
		EjectionsOverflow:                   o.overflow.Load(),
		EjectionsTotal:                      o.total.Load(),
	}
	if rt == nil {
		return s
	}
	s.EjectionsActive = rt.outlier.gauges() // runs a due sweep first
	s.MembershipHealthy = int64(rt.hosts.Load().healthy)
	if l := rt.limits; l != nil {
		s.UpstreamRqPendingActive = l.pending.Load()
		cx, pending, rq, retry := l.gauges()
		s.CxOpen, s.RqPendingOpen, s.RqOpen, s.RqRetryOpen = b2i(cx), b2i(pending), b2i(rq), b2i(retry)
	}
	return s
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// counters adds the stats to an Envoy-named map (ClusterStats.Counters).
func (s PolicyStats) counters(m map[string]int64) {
	for k, v := range map[string]int64{
		"upstream_rq_pending_overflow":                                          s.UpstreamRqPendingOverflow,
		"upstream_rq_pending_total":                                             s.UpstreamRqPendingTotal,
		"upstream_rq_pending_active":                                            s.UpstreamRqPendingActive,
		"upstream_rq_retry_overflow":                                            s.UpstreamRqRetryOverflow,
		"upstream_cx_total":                                                     s.UpstreamCxTotal,
		"upstream_cx_active":                                                    s.UpstreamCxActive,
		"upstream_cx_overflow":                                                  s.UpstreamCxOverflow,
		"upstream_cx_connect_timeout":                                           s.UpstreamCxConnectTimeout,
		"upstream_cx_connect_attempts_exceeded":                                 s.UpstreamCxConnectAttemptsExceeded,
		"upstream_cx_rx_bytes_total":                                            s.UpstreamCxRxBytesTotal,
		"upstream_cx_tx_bytes_total":                                            s.UpstreamCxTxBytesTotal,
		"upstream_cx_max_requests":                                              s.UpstreamCxMaxRequests,
		"upstream_cx_max_duration_reached":                                      s.UpstreamCxMaxDurationReached,
		"lb_healthy_panic":                                                      s.LbHealthyPanic,
		"membership_healthy":                                                    s.MembershipHealthy,
		"circuit_breakers.default.cx_open":                                      s.CxOpen,
		"circuit_breakers.default.rq_pending_open":                              s.RqPendingOpen,
		"circuit_breakers.default.rq_open":                                      s.RqOpen,
		"circuit_breakers.default.rq_retry_open":                                s.RqRetryOpen,
		"outlier_detection.ejections_active":                                    s.EjectionsActive,
		"outlier_detection.ejections_enforced_total":                            s.EjectionsEnforcedTotal,
		"outlier_detection.ejections_enforced_consecutive_5xx":                  s.EjectionsEnforced5xx,
		"outlier_detection.ejections_detected_consecutive_5xx":                  s.EjectionsDetected5xx,
		"outlier_detection.ejections_enforced_consecutive_gateway_failure":      s.EjectionsEnforcedGatewayFailure,
		"outlier_detection.ejections_detected_consecutive_gateway_failure":      s.EjectionsDetectedGatewayFailure,
		"outlier_detection.ejections_enforced_consecutive_local_origin_failure": s.EjectionsEnforcedLocalOriginFailure,
		"outlier_detection.ejections_detected_consecutive_local_origin_failure": s.EjectionsDetectedLocalOriginFailure,
		"outlier_detection.ejections_overflow":                                  s.EjectionsOverflow,
		"outlier_detection.ejections_total":                                     s.EjectionsTotal,
	} {
		m[k] = v
	}
}

// processStart anchors the default clock: monotonic time since the process
// started.
var processStart = time.Now()

// clock is the time source of outlier detection: monotonic, as a duration
// since an arbitrary origin. Tests inject their own (Options.now).
func (o Options) clock() func() time.Duration {
	if o.now != nil {
		return o.now
	}
	return func() time.Duration { return time.Since(processStart) }
}

// runtime returns the runtime registered for cluster name if its
// fingerprint is fp, for a new table to share; nil otherwise.
func (r *registry) runtime(name, fp string) *clusterRuntime {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rt, ok := r.runtimes[name]; ok && rt.fp == fp {
		return rt
	}
	return nil
}

// adopt registers the runtimes of a table about to be served. A runtime it
// replaces is retired: its idle connections are closed now, the rest when
// the proxy closes (requests in flight on the old table finish on it).
func (r *registry) adopt(clusters map[string]*cluster) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, c := range clusters {
		if old, ok := r.runtimes[name]; ok && old != c.rt {
			r.retired = append(r.retired, old)
		}
		r.runtimes[name] = c.rt
	}
	for _, rt := range r.retired {
		rt.transport.CloseIdleConnections()
	}
}
