package scenarios

import "fmt"

// validateFaults checks spec.faults, the faults Istio has no field for:
// each names a VirtualService of the document and, optionally, one of its
// http rules by name; acts on attempts or shadows; and carries a delay, an
// abort or both, checked as a route's fault block is. A fault on shadows
// needs a rule that mirrors, a fault on attempts a rule that forwards, and
// no two faults may act on the same rule's attempts (or shadows): the
// report accounts for each rule's draws once.
func (d *Document) validateFaults(r *reporter) {
	faults := d.Experiment.Spec.Faults
	if len(faults) > 0 && d.onMesh() {
		r.errorf("spec.faults", "faults on attempts and shadows are injected by Faultline's proxy, and a mesh environment's traffic runs through Istio's sidecars instead")
		return
	}
	type ruleKey struct {
		vs   string
		rule int
		on   string
	}
	claimed := map[ruleKey]int{}
	for i, f := range faults {
		p := fmt.Sprintf("spec.faults[%d]", i)
		switch f.On {
		case FaultOnAttempts, FaultOnShadows:
		case "":
			r.errorf(p+".on", "is required: %q (each upstream attempt, retries included) or %q (the mirrored copies only)", FaultOnAttempts, FaultOnShadows)
		default:
			r.errorf(p+".on", "must be %q or %q, not %q", FaultOnAttempts, FaultOnShadows, f.On)
		}
		validateFault(r, p, &HTTPFaultInjection{Delay: f.Delay, Abort: f.Abort})
		rules := d.faultRules(r, p, f)
		for _, k := range rules {
			key := ruleKey{f.VirtualService, k, f.On}
			if j, dup := claimed[key]; dup {
				r.errorf(p, "acts on the %s of VirtualService %s spec.http[%d] as spec.faults[%d] does: set one fault per rule and kind (a delay and an abort may share it)", f.On, f.VirtualService, k, j)
				continue
			}
			claimed[key] = i
		}
	}
}

// faultRules returns the indices of the http rules fault f at p acts on,
// reporting a VirtualService or route it cannot act on. It returns nil
// when the VirtualService lives in an environment not parsed with the
// document (ParseOn checks it then).
func (d *Document) faultRules(r *reporter, p string, f ExperimentFault) []int {
	if f.VirtualService == "" {
		r.errorf(p+".virtualService", "is required: the name of the VirtualService whose rules the fault acts on")
		return nil
	}
	var vs *VirtualService
	for _, v := range d.VirtualServices {
		if v.Metadata.Name == f.VirtualService {
			vs = v
			break
		}
	}
	if vs == nil {
		if !d.unresolved() {
			r.errorf(p+".virtualService", "no VirtualService %q in the document", f.VirtualService)
		}
		return nil
	}
	if vs.IsDelegate() || vs.isRoot() {
		r.errorf(p+".virtualService", "VirtualService %s takes part in delegation: name a VirtualService that routes without delegating", f.VirtualService)
		return nil
	}
	var rules []int
	for i := range vs.Spec.HTTP {
		if f.Route == "" || vs.Spec.HTTP[i].Name == f.Route {
			rules = append(rules, i)
		}
	}
	if f.Route != "" && len(rules) == 0 {
		r.errorf(p+".route", "VirtualService %s has no http rule named %q", f.VirtualService, f.Route)
		return nil
	}
	if len(rules) == 0 {
		r.errorf(p+".virtualService", "VirtualService %s has no http rules to act on", f.VirtualService)
		return nil
	}
	var acting []int
	for _, i := range rules {
		h := &vs.Spec.HTTP[i]
		switch f.On {
		case FaultOnAttempts:
			if len(h.Route) > 0 && h.Redirect == nil && h.DirectResponse == nil {
				acting = append(acting, i)
			}
		case FaultOnShadows:
			if h.Mirror != nil || len(h.Mirrors) > 0 {
				acting = append(acting, i)
			}
		default:
			return nil // reported at .on
		}
	}
	if len(acting) == 0 {
		where := fmt.Sprintf("VirtualService %s", f.VirtualService)
		if f.Route != "" {
			where = fmt.Sprintf("route %q of VirtualService %s", f.Route, f.VirtualService)
		}
		what := "forwards no request upstream (redirect or directResponse), so it makes no attempts"
		if f.On == FaultOnShadows {
			what = "mirrors nothing (no mirror or mirrors), so it makes no shadows"
		}
		path := p + ".virtualService"
		if f.Route != "" {
			path = p + ".route"
		}
		r.errorf(path, "%s %s: the fault would never act", where, what)
	}
	return acting
}
