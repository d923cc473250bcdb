package report

import (
	"fmt"
	"math"

	"github.com/faultline/faultline/scenarios"
)

// Injection accounts for one configured fault of one VirtualService rule:
// what was asked for beside what happened.
type Injection struct {
	VirtualService string `json:"virtualService"`
	Rule           int    `json:"rule"`
	Name           string `json:"name,omitempty"`
	// Kind is "delay", "abort" or "mirror".
	Kind              string  `json:"kind"`
	ConfiguredPercent float64 `json:"configuredPercent"`
	// Matched is how many requests the rule matched (the fault's draws).
	Matched         int64   `json:"matched"`
	Injected        int64   `json:"injected"`
	RealisedPercent float64 `json:"realisedPercent"`
	// CI95 is the 95 % Wilson interval of the realised percentage.
	CI95 [2]float64 `json:"ci95"`
	// OK is false when the fault matched nothing, or when the configured
	// percentage lies outside the realised rate's interval.
	OK      bool   `json:"ok"`
	Warning string `json:"warning,omitempty"`
}

// Account compares every configured fault of doc with the proxy's
// per-rule counters in r, fills r.Injection and r.RetryAmplification, and
// adds a warning for each fault that did not take effect as configured.
func Account(doc *scenarios.Document, r *Report) {
	r.Injection = nil
	for _, vs := range doc.VirtualServices {
		for i, rule := range vs.Spec.HTTP {
			rs, _ := r.Proxy.Route(vs.Metadata.Name, i)
			if rule.Mirror != nil {
				// Aborted requests are never mirrored, so only the others
				// were drawn; dropped shadows were drawn too.
				r.Injection = append(r.Injection, account(vs.Metadata.Name, i, rule.Name, "mirror", mirrorPercent(&rule), rs.Matched-rs.AbortsInjected, rs.Mirrored+rs.MirrorsDropped))
			}
			if rule.Fault == nil {
				continue
			}
			if d := rule.Fault.Delay; d != nil {
				r.Injection = append(r.Injection, account(vs.Metadata.Name, i, rule.Name, "delay", delayPercent(d), rs.Matched, rs.DelaysInjected))
			}
			if a := rule.Fault.Abort; a != nil {
				pct := 0.0
				if a.Percentage != nil {
					pct = a.Percentage.Value
				}
				r.Injection = append(r.Injection, account(vs.Metadata.Name, i, rule.Name, "abort", pct, rs.Matched, rs.AbortsInjected))
			}
		}
	}
	for _, in := range r.Injection {
		if !in.OK {
			r.Warnings = append(r.Warnings, in.Warning)
		}
	}
	if r.Requests > 0 {
		r.RetryAmplification = round(float64(r.Proxy.UpstreamRequests) / float64(r.Requests))
	}
}

// mirrorPercent is the share of requests a single `mirror` copies:
// mirrorPercentage, else the deprecated integer, else 100 %.
func mirrorPercent(rule *scenarios.HTTPRoute) float64 {
	switch {
	case rule.MirrorPercentage != nil:
		return rule.MirrorPercentage.Value
	case rule.MirrorPercent != nil:
		return float64(*rule.MirrorPercent)
	}
	return 100
}

func delayPercent(d *scenarios.FaultDelay) float64 {
	switch {
	case d.Percentage != nil:
		return d.Percentage.Value
	case d.Percent != nil:
		return float64(*d.Percent)
	}
	return 0 // Istio: no percentage injects nothing
}

func account(vs string, rule int, name, kind string, configured float64, matched, injected int64) Injection {
	in := Injection{VirtualService: vs, Rule: rule, Name: name, Kind: kind, ConfiguredPercent: configured, Matched: matched, Injected: injected, OK: true}
	where := fmt.Sprintf("VirtualService %s spec.http[%d] fault %s", vs, rule, kind)
	if kind == "mirror" {
		where = fmt.Sprintf("VirtualService %s spec.http[%d] mirror", vs, rule)
	}
	if matched == 0 {
		in.OK = false
		in.Warning = where + ": matched no request, so the fault never took effect"
		return in
	}
	lo, hi := Wilson(injected, matched)
	in.RealisedPercent = round(100 * float64(injected) / float64(matched))
	in.CI95 = [2]float64{round(100 * lo), round(100 * hi)}
	if p := configured / 100; p < lo-1e-9 || p > hi+1e-9 {
		in.OK = false
		in.Warning = fmt.Sprintf("%s: configured %g %%, realised %g %% (95 %% interval %g–%g %%) over %d requests",
			where, configured, in.RealisedPercent, in.CI95[0], in.CI95[1], matched)
	}
	return in
}

// Wilson returns the 95 % Wilson score interval of the proportion k/n.
func Wilson(k, n int64) (lo, hi float64) {
	if n == 0 {
		return 0, 1
	}
	const z = 1.959963984540054
	p := float64(k) / float64(n)
	nf := float64(n)
	den := 1 + z*z/nf
	centre := (p + z*z/(2*nf)) / den
	half := z * math.Sqrt(p*(1-p)/nf+z*z/(4*nf*nf)) / den
	return math.Max(0, centre-half), math.Min(1, centre+half)
}
