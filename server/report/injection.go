package report

import (
	"fmt"
	"math"

	"github.com/faultline/faultline/proxy"
	"github.com/faultline/faultline/scenarios"
)

// Injection accounts for one configured fault of one VirtualService rule:
// what was asked for beside what happened.
type Injection struct {
	VirtualService string `json:"virtualService"`
	Rule           int    `json:"rule"`
	// Name is the rule's name, or for a fault of spec.faults the fault's.
	Name string `json:"name,omitempty"`
	// Kind is "delay", "abort" or "mirror" for the rule's own Istio
	// fault and mirror; "attempt-delay", "attempt-abort", "shadow-delay"
	// or "shadow-abort" for a fault of spec.faults.
	Kind              string  `json:"kind"`
	ConfiguredPercent float64 `json:"configuredPercent"`
	// Matched is how many draws the fault made: the requests the rule
	// matched, or for a fault of spec.faults the attempts (shadows) that
	// met it.
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

// Kinds of the faults of spec.faults.
const (
	KindAttemptDelay = "attempt-delay"
	KindAttemptAbort = "attempt-abort"
	KindShadowDelay  = "shadow-delay"
	KindShadowAbort  = "shadow-abort"
)

// Account compares every configured fault of doc with the proxy's
// per-rule counters in r, fills r.Injection and r.RetryAmplification, and
// adds a warning for each fault that did not take effect as configured.
//
// Each rule's Istio fault gives a "delay" and an "abort" entry, drawn
// once per matched request, and its mirror a "mirror" entry. Each fault
// of spec.faults gives one entry per rule it acts on and per kind it
// carries, named after the fault: on attempts, "attempt-delay" drawn
// once per attempt (retries included) and "attempt-abort" drawn once per
// attempt the delay did not hold until it ended; on shadows,
// "shadow-delay" and "shadow-abort", drawn once per shadow.
//
// RetryAmplification is the proxy's UpstreamRequests ÷ client requests.
// An attempt a fault on attempts aborted (or held until it timed out)
// never left the proxy, so it is not an upstream request and does not
// count there; the proxy's Attempts counts every attempt, those included.
func Account(doc *scenarios.Document, r *Report) {
	r.Injection = nil
	for _, vs := range doc.VirtualServices {
		for i, rule := range vs.Spec.HTTP {
			rs, _ := r.Proxy.Route(vs.Metadata.Name, i)
			if rule.Mirror != nil {
				// Aborted requests are never mirrored, so only the others
				// were drawn; dropped shadows, and shadows a fault on
				// shadows aborted, were drawn too.
				r.Injection = append(r.Injection, account(vs.Metadata.Name, i, rule.Name, "mirror", mirrorPercent(&rule), rs.Matched-rs.AbortsInjected, rs.Mirrored+rs.MirrorsDropped+rs.ShadowAbortsInjected))
			}
			if rule.Fault == nil {
				continue
			}
			if d := rule.Fault.Delay; d != nil {
				r.Injection = append(r.Injection, account(vs.Metadata.Name, i, rule.Name, "delay", delayPercent(d), rs.Matched, rs.DelaysInjected))
			}
			if a := rule.Fault.Abort; a != nil {
				r.Injection = append(r.Injection, account(vs.Metadata.Name, i, rule.Name, "abort", abortPercent(a), rs.Matched, rs.AbortsInjected))
			}
		}
	}
	r.Injection = append(r.Injection, accountExperimentFaults(doc, r.Proxy)...)
	for _, in := range r.Injection {
		if !in.OK {
			r.Warnings = append(r.Warnings, in.Warning)
		}
	}
	if r.Requests > 0 {
		r.RetryAmplification = round(float64(r.Proxy.UpstreamRequests) / float64(r.Requests))
	}
}

// accountExperimentFaults accounts for the faults of spec.faults, rule by
// rule, in the order they are listed.
func accountExperimentFaults(doc *scenarios.Document, stats proxy.Stats) []Injection {
	var out []Injection
	for k, f := range doc.Experiment.Spec.Faults {
		vs := virtualService(doc, f.VirtualService)
		if vs == nil {
			continue
		}
		for i := range vs.Spec.HTTP {
			rule := &vs.Spec.HTTP[i]
			if !faultActsOn(f, rule) {
				continue
			}
			rs, _ := stats.Route(vs.Metadata.Name, i)
			add := func(kind string, configured float64, matched, injected int64) {
				in := Injection{VirtualService: vs.Metadata.Name, Rule: i, Name: f.Name, Kind: kind}
				label := fmt.Sprintf("spec.faults[%d]", k)
				if f.Name != "" {
					label += " (" + f.Name + ")"
				}
				grade(&in, fmt.Sprintf("%s %s on VirtualService %s spec.http[%d]", label, kind, vs.Metadata.Name, i), configured, matched, injected)
				out = append(out, in)
			}
			switch f.On {
			case scenarios.FaultOnAttempts:
				if f.Delay != nil {
					add(KindAttemptDelay, delayPercent(f.Delay), rs.AttemptsDrawn, rs.AttemptDelaysInjected)
				}
				if f.Abort != nil {
					add(KindAttemptAbort, abortPercent(f.Abort), rs.AttemptsDrawn-rs.AttemptDelaysCut, rs.AttemptAbortsInjected)
				}
			case scenarios.FaultOnShadows:
				if f.Delay != nil {
					add(KindShadowDelay, delayPercent(f.Delay), rs.ShadowsDrawn, rs.ShadowDelaysInjected)
				}
				if f.Abort != nil {
					add(KindShadowAbort, abortPercent(f.Abort), rs.ShadowsDrawn, rs.ShadowAbortsInjected)
				}
			}
		}
	}
	return out
}

// virtualService finds a VirtualService of doc by name.
func virtualService(doc *scenarios.Document, name string) *scenarios.VirtualService {
	for _, vs := range doc.VirtualServices {
		if vs.Metadata.Name == name {
			return vs
		}
	}
	return nil
}

// faultActsOn reports whether a fault of spec.faults acts on rule: the
// rule it names (or any), forwarding for attempts, mirroring for shadows.
func faultActsOn(f scenarios.ExperimentFault, rule *scenarios.HTTPRoute) bool {
	if f.Route != "" && f.Route != rule.Name {
		return false
	}
	switch f.On {
	case scenarios.FaultOnAttempts:
		return len(rule.Route) > 0 && rule.Redirect == nil && rule.DirectResponse == nil
	case scenarios.FaultOnShadows:
		return rule.Mirror != nil || len(rule.Mirrors) > 0
	}
	return false
}

func abortPercent(a *scenarios.FaultAbort) float64 {
	if a.Percentage != nil {
		return a.Percentage.Value
	}
	return 0 // Istio: no percentage injects nothing
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
	in := Injection{VirtualService: vs, Rule: rule, Name: name, Kind: kind}
	where := fmt.Sprintf("VirtualService %s spec.http[%d] fault %s", vs, rule, kind)
	if kind == "mirror" {
		where = fmt.Sprintf("VirtualService %s spec.http[%d] mirror", vs, rule)
	}
	grade(&in, where, configured, matched, injected)
	return in
}

// grade fills in the configured and realised percentages of in, and its
// warning (naming the fault as where) when it did not act as configured.
func grade(in *Injection, where string, configured float64, matched, injected int64) {
	in.ConfiguredPercent, in.Matched, in.Injected, in.OK = configured, matched, injected, true
	if matched <= 0 {
		in.OK = false
		in.Warning = where + ": matched no request, so the fault never took effect"
		return
	}
	lo, hi := Wilson(injected, matched)
	in.RealisedPercent = round(100 * float64(injected) / float64(matched))
	in.CI95 = [2]float64{round(100 * lo), round(100 * hi)}
	if p := configured / 100; p < lo-1e-9 || p > hi+1e-9 {
		in.OK = false
		in.Warning = fmt.Sprintf("%s: configured %g %%, realised %g %% (95 %% interval %g–%g %%) over %d draws",
			where, configured, in.RealisedPercent, in.CI95[0], in.CI95[1], matched)
	}
}

// Wilson returns the 95 % Wilson score interval of the proportion k/n.
func Wilson(k, n int64) (lo, hi float64) {
	if n <= 0 {
		return 0, 1
	}
	return WilsonShare(float64(k)/float64(n), n)
}

// WilsonShare is the 95 % Wilson score interval of a share p of n trials,
// p not necessarily a whole count over n (a predicted share of a planned
// count); [0, 1] when n is not positive.
func WilsonShare(p float64, n int64) (lo, hi float64) {
	if n <= 0 {
		return 0, 1
	}
	const z = 1.959963984540054
	nf := float64(n)
	den := 1 + z*z/nf
	centre := (p + z*z/(2*nf)) / den
	half := z * math.Sqrt(p*(1-p)/nf+z*z/(4*nf*nf)) / den
	return math.Max(0, centre-half), math.Min(1, centre+half)
}
