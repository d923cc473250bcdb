package report

// ComparePhase sets a phase against the baseline: the error ratio with a
// two-proportion z-test, the latency percentiles and, on the histograms,
// the whole distribution (Kolmogorov–Smirnov), as Compare does for two
// runs.
func ComparePhase(base, p *Phase) *PhaseDelta {
	d := &PhaseDelta{ErrorRatio: TwoProportion(base.Errors, base.Requests, p.Errors, p.Requests)}
	d.Latency.Percentiles = latencyDeltas(base.LatencyMs, p.LatencyMs)
	d.Latency.KS, d.Latency.KSCritical = KolmogorovSmirnov(base.Histogram, p.Histogram)
	d.Latency.Significant = d.Latency.KSCritical > 0 && d.Latency.KS > d.Latency.KSCritical
	return d
}
