package proxy

// Sub returns the counters accumulated since prev, an earlier snapshot of
// the same Proxy: a run on a long-lived proxy reports the Stats of its
// window as end.Sub(start). Listeners, routes and clusters are matched by
// name (routes by VirtualService, rule index and name); one absent from
// prev counts in full, one absent from s is left out. Gauges — a level,
// not a count — keep their value in s: active requests, TunnelsActive,
// membership, active connections and pending requests, open circuit
// breakers, active ejections. Maps of counts (ByFlag, Codes) hold the
// keys whose difference is not zero.
func (s Stats) Sub(prev Stats) Stats {
	out := Stats{Totals: s.Totals.sub(prev.Totals)}
	if s.Listeners != nil {
		out.Listeners = make([]ListenerStats, len(s.Listeners))
		for i, l := range s.Listeners {
			p, _ := prev.Listener(l.Name)
			out.Listeners[i] = l.sub(p)
		}
	}
	if s.Routes != nil {
		out.Routes = make([]RouteStats, len(s.Routes))
		for i, r := range s.Routes {
			var p RouteStats
			for _, q := range prev.Routes {
				if q.VirtualService == r.VirtualService && q.Rule == r.Rule && q.Name == r.Name {
					p = q
					break
				}
			}
			out.Routes[i] = r.sub(p)
		}
	}
	if s.Clusters != nil {
		out.Clusters = make([]ClusterStats, len(s.Clusters))
		for i, c := range s.Clusters {
			p, _ := prev.Cluster(c.Name)
			out.Clusters[i] = c.sub(p)
		}
	}
	return out
}

func (t Totals) sub(p Totals) Totals {
	return Totals{
		UpstreamRequests: t.UpstreamRequests - p.UpstreamRequests,
		Attempts:         t.Attempts - p.Attempts,
		Retries:          t.Retries - p.Retries,
		Timeouts:         t.Timeouts - p.Timeouts,
		Overflows:        t.Overflows - p.Overflows,
		Ejections:        t.Ejections - p.Ejections,
		FaultsDelayed:    t.FaultsDelayed - p.FaultsDelayed,
		FaultsAborted:    t.FaultsAborted - p.FaultsAborted,
		Mirrored:         t.Mirrored - p.Mirrored,
		MirrorsDropped:   t.MirrorsDropped - p.MirrorsDropped,
		ByFlag:           subCounts(t.ByFlag, p.ByFlag),
		Tunnels:          t.Tunnels - p.Tunnels,
		TunnelsRefused:   t.TunnelsRefused - p.TunnelsRefused,
		TunnelsActive:    t.TunnelsActive, // gauge
		TunnelBytesUp:    t.TunnelBytesUp - p.TunnelBytesUp,
		TunnelBytesDown:  t.TunnelBytesDown - p.TunnelBytesDown,
	}
}

func (l ListenerStats) sub(p ListenerStats) ListenerStats {
	return ListenerStats{
		Name:            l.Name,
		Requests:        l.Requests - p.Requests,
		Active:          l.Active, // gauge
		Rq1xx:           l.Rq1xx - p.Rq1xx,
		Rq2xx:           l.Rq2xx - p.Rq2xx,
		Rq3xx:           l.Rq3xx - p.Rq3xx,
		Rq4xx:           l.Rq4xx - p.Rq4xx,
		Rq5xx:           l.Rq5xx - p.Rq5xx,
		NoRoute:         l.NoRoute - p.NoRoute,
		NoCluster:       l.NoCluster - p.NoCluster,
		BlockAll:        l.BlockAll - p.BlockAll,
		Redirects:       l.Redirects - p.Redirects,
		DirectResponses: l.DirectResponses - p.DirectResponses,
		DelaysInjected:  l.DelaysInjected - p.DelaysInjected,
		AbortsInjected:  l.AbortsInjected - p.AbortsInjected,
		ClientCancelled: l.ClientCancelled - p.ClientCancelled,

		TCPConnections:   l.TCPConnections - p.TCPConnections,
		TCPNoRoute:       l.TCPNoRoute - p.TCPNoRoute,
		TCPBytesReceived: l.TCPBytesReceived - p.TCPBytesReceived,
		TCPBytesSent:     l.TCPBytesSent - p.TCPBytesSent,
		TCPIdleTimeouts:  l.TCPIdleTimeouts - p.TCPIdleTimeouts,
		TCPMaxDuration:   l.TCPMaxDuration - p.TCPMaxDuration,
	}
}

func (r RouteStats) sub(p RouteStats) RouteStats {
	return RouteStats{
		VirtualService:  r.VirtualService,
		Rule:            r.Rule,
		Name:            r.Name,
		Matched:         r.Matched - p.Matched,
		DelaysInjected:  r.DelaysInjected - p.DelaysInjected,
		AbortsInjected:  r.AbortsInjected - p.AbortsInjected,
		Timeouts:        r.Timeouts - p.Timeouts,
		DirectResponses: r.DirectResponses - p.DirectResponses,
		Redirects:       r.Redirects - p.Redirects,
		Retries:         r.Retries - p.Retries,
		Mirrored:        r.Mirrored - p.Mirrored,
		MirrorsDropped:  r.MirrorsDropped - p.MirrorsDropped,

		AttemptsDrawn:         r.AttemptsDrawn - p.AttemptsDrawn,
		AttemptDelaysInjected: r.AttemptDelaysInjected - p.AttemptDelaysInjected,
		AttemptAbortsInjected: r.AttemptAbortsInjected - p.AttemptAbortsInjected,
		AttemptDelaysCut:      r.AttemptDelaysCut - p.AttemptDelaysCut,
		ShadowsDrawn:          r.ShadowsDrawn - p.ShadowsDrawn,
		ShadowDelaysInjected:  r.ShadowDelaysInjected - p.ShadowDelaysInjected,
		ShadowAbortsInjected:  r.ShadowAbortsInjected - p.ShadowAbortsInjected,
	}
}

func (c ClusterStats) sub(p ClusterStats) ClusterStats {
	return ClusterStats{
		Name:                         c.Name,
		UpstreamRqTotal:              c.UpstreamRqTotal - p.UpstreamRqTotal,
		UpstreamRqActive:             c.UpstreamRqActive, // gauge
		UpstreamRqTimeout:            c.UpstreamRqTimeout - p.UpstreamRqTimeout,
		UpstreamRqCancelled:          c.UpstreamRqCancelled - p.UpstreamRqCancelled,
		UpstreamRqRxReset:            c.UpstreamRqRxReset - p.UpstreamRqRxReset,
		UpstreamCxConnectFail:        c.UpstreamCxConnectFail - p.UpstreamCxConnectFail,
		UpstreamCxNoneHealthy:        c.UpstreamCxNoneHealthy - p.UpstreamCxNoneHealthy,
		MembershipTotal:              c.MembershipTotal, // gauge
		UpstreamRqRetry:              c.UpstreamRqRetry - p.UpstreamRqRetry,
		UpstreamRqRetrySuccess:       c.UpstreamRqRetrySuccess - p.UpstreamRqRetrySuccess,
		UpstreamRqRetryLimitExceeded: c.UpstreamRqRetryLimitExceeded - p.UpstreamRqRetryLimitExceeded,
		UpstreamRqPerTryTimeout:      c.UpstreamRqPerTryTimeout - p.UpstreamRqPerTryTimeout,
		RetryOrShadowAbandoned:       c.RetryOrShadowAbandoned - p.RetryOrShadowAbandoned,
		Codes:                        subCounts(c.Codes, p.Codes),
		PolicyStats:                  c.PolicyStats.sub(p.PolicyStats),
	}
}

func (s PolicyStats) sub(p PolicyStats) PolicyStats {
	return PolicyStats{
		UpstreamRqPendingOverflow: s.UpstreamRqPendingOverflow - p.UpstreamRqPendingOverflow,
		UpstreamRqPendingTotal:    s.UpstreamRqPendingTotal - p.UpstreamRqPendingTotal,
		UpstreamRqPendingActive:   s.UpstreamRqPendingActive, // gauge
		UpstreamRqRetryOverflow:   s.UpstreamRqRetryOverflow - p.UpstreamRqRetryOverflow,
		UpstreamCxTotal:           s.UpstreamCxTotal - p.UpstreamCxTotal,
		UpstreamCxActive:          s.UpstreamCxActive, // gauge
		UpstreamCxOverflow:        s.UpstreamCxOverflow - p.UpstreamCxOverflow,
		UpstreamCxConnectTimeout:  s.UpstreamCxConnectTimeout - p.UpstreamCxConnectTimeout,

		UpstreamCxConnectAttemptsExceeded: s.UpstreamCxConnectAttemptsExceeded - p.UpstreamCxConnectAttemptsExceeded,
		UpstreamCxRxBytesTotal:            s.UpstreamCxRxBytesTotal - p.UpstreamCxRxBytesTotal,
		UpstreamCxTxBytesTotal:            s.UpstreamCxTxBytesTotal - p.UpstreamCxTxBytesTotal,
		UpstreamCxMaxRequests:             s.UpstreamCxMaxRequests - p.UpstreamCxMaxRequests,
		UpstreamCxMaxDurationReached:      s.UpstreamCxMaxDurationReached - p.UpstreamCxMaxDurationReached,
		LbHealthyPanic:                    s.LbHealthyPanic - p.LbHealthyPanic,
		MembershipHealthy:                 s.MembershipHealthy, // gauges, to EjectionsActive
		CxOpen:                            s.CxOpen,
		RqPendingOpen:                     s.RqPendingOpen,
		RqOpen:                            s.RqOpen,
		RqRetryOpen:                       s.RqRetryOpen,
		EjectionsActive:                   s.EjectionsActive,

		EjectionsEnforcedTotal:              s.EjectionsEnforcedTotal - p.EjectionsEnforcedTotal,
		EjectionsEnforced5xx:                s.EjectionsEnforced5xx - p.EjectionsEnforced5xx,
		EjectionsDetected5xx:                s.EjectionsDetected5xx - p.EjectionsDetected5xx,
		EjectionsEnforcedGatewayFailure:     s.EjectionsEnforcedGatewayFailure - p.EjectionsEnforcedGatewayFailure,
		EjectionsDetectedGatewayFailure:     s.EjectionsDetectedGatewayFailure - p.EjectionsDetectedGatewayFailure,
		EjectionsEnforcedLocalOriginFailure: s.EjectionsEnforcedLocalOriginFailure - p.EjectionsEnforcedLocalOriginFailure,
		EjectionsDetectedLocalOriginFailure: s.EjectionsDetectedLocalOriginFailure - p.EjectionsDetectedLocalOriginFailure,
		EjectionsOverflow:                   s.EjectionsOverflow - p.EjectionsOverflow,
		EjectionsTotal:                      s.EjectionsTotal - p.EjectionsTotal,
	}
}

// subCounts returns cur minus prev per key, without the zero differences;
// nil when cur is nil.
func subCounts(cur, prev map[string]int64) map[string]int64 {
	if cur == nil {
		return nil
	}
	out := make(map[string]int64, len(cur))
	for k, v := range cur {
		if d := v - prev[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}
