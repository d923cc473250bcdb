package scenarios

import (
	"fmt"
	"slices"
	"strings"
)

// fillPhasedDuration makes a phased run's load last its phases' sum when
// it names no duration of its own; validatePhases refuses one that names
// another.
func (d *Document) fillPhasedDuration() {
	s := &d.Experiment.Spec
	if s.Phases == nil || s.Load == nil || s.Load.Duration != nil || s.Load.Requests > 0 {
		return
	}
	if total := s.Phases.Total(); total > 0 {
		t := Duration(total)
		s.Load.Duration = &t
	}
}

// validatePhases checks spec.phases and the checks that name a phase.
func (d *Document) validatePhases(r *reporter) {
	s := &d.Experiment.Spec
	for i, c := range s.Hypothesis {
		p := fmt.Sprintf("spec.hypothesis[%d].phase", i)
		switch {
		case c.Phase == "":
		case s.Phases == nil:
			r.errorf(p, "names phase %q, but the experiment has no spec.phases", c.Phase)
		case !slices.Contains(PhaseNames(), c.Phase):
			r.errorf(p, "must be one of %s, not %q", strings.Join(PhaseNames(), ", "), c.Phase)
		default:
			if m, ok := LookupMetric(c.Metric); ok && m.Proxy {
				r.errorf(p, "%s is counted by the proxy over the whole run, not per phase: grade it without a phase, or use a metric the load measures (error_ratio, status_ratio, requests, qps, latency_*)", c.Metric)
			}
		}
	}
	ph := s.Phases
	if ph == nil {
		return
	}
	for i, dur := range []*Duration{ph.Baseline, ph.Fault, ph.Recovery} {
		p := "spec.phases." + PhaseNames()[i]
		switch {
		case dur == nil:
			r.errorf(p, "is required: how long the %s phase lasts, such as 5s", PhaseNames()[i])
		case *dur <= 0:
			r.errorf(p, "must be positive, not %s", dur)
		}
	}
	l := s.Load
	if l == nil {
		return
	}
	if l.Requests > 0 {
		r.errorf("spec.load.requests", "a phased run is bound by time: drop requests (the load lasts the phases' sum)")
	}
	if total := ph.Total(); l.Duration != nil && l.Duration.D() != total {
		r.errorf("spec.load.duration", "%s is not the phases' sum %s: drop it, or make it the sum", l.Duration, Duration(total))
	}
	if d.onMesh() {
		r.errorf("spec.phases", "a run on a mesh environment applies its resources to the cluster once, and istiod takes a while to pass each change on: phases switch faults on and off mid-run, which Faultline does on its own data planes (a listener environment, or none)")
	}
	if len(l.Agents) > 0 {
		r.errorf("spec.phases", "phases need each request's start time, which fortio agents (spec.load.agents) do not report: send the load from Faultline")
	}
	if !d.hasFaults() {
		r.warnf("spec.phases", "the experiment has no faults (no VirtualService fault and no spec.faults): its three phases will look alike")
	}
}

// hasFaults reports whether the experiment's own resources (not an
// environment's baseline) inject anything.
func (d *Document) hasFaults() bool {
	if len(d.Experiment.Spec.Faults) > 0 {
		return true
	}
	for _, vs := range d.VirtualServices {
		if d.base[vs] {
			continue
		}
		for _, h := range vs.Spec.HTTP {
			if h.Fault != nil {
				return true
			}
		}
	}
	return false
}

// WithoutFaults returns the document a phased run serves outside its fault
// phase: the same routes, with neither the fault of any of the
// experiment's own VirtualService rules nor spec.faults. An environment's
// baseline keeps its own. d is not changed; the two share what neither
// changes.
func (d *Document) WithoutFaults() *Document {
	out := *d
	exp := *d.Experiment
	exp.Spec.Faults = nil
	out.Experiment = &exp
	out.VirtualServices = make([]*VirtualService, len(d.VirtualServices))
	for i, vs := range d.VirtualServices {
		out.VirtualServices[i] = vs
		if d.base[vs] || !slices.ContainsFunc(vs.Spec.HTTP, func(h HTTPRoute) bool { return h.Fault != nil }) {
			continue
		}
		c := *vs
		c.Spec.HTTP = slices.Clone(vs.Spec.HTTP)
		for j := range c.Spec.HTTP {
			c.Spec.HTTP[j].Fault = nil
		}
		out.VirtualServices[i] = &c
	}
	return &out
}
