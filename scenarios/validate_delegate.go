package scenarios

// validateDelegateVirtualService applies Istio's rules for a
// VirtualService without hosts, a delegate: it binds to no gateways (its
// root's apply) and has no tcp or tls routes.
func validateDelegateVirtualService(r *reporter, s *VirtualServiceSpec) {
	if len(s.Gateways) != 0 {
		r.errorf("spec.gateways", "delegate virtual service must have no gateways specified")
	}
	if len(s.TLS) != 0 {
		r.errorf("spec.tls", "delegate virtual service must have no tls route specified")
	}
	if len(s.TCP) != 0 {
		r.errorf("spec.tcp", "delegate virtual service must have no tcp route specified")
	}
}

// validateDelegateRef checks an http route's delegate at p: none in a
// delegate's own routes (delegation is one level deep). A name that finds
// no delegate is warned about with the document (validateDelegates).
func validateDelegateRef(r *reporter, p string, _ *Delegate, inDelegate bool) {
	if inDelegate {
		r.errorf(p, "delegate HTTP route cannot contain delegate")
	}
}
