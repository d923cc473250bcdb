package scenarios

import "fmt"

// Fields Faultline accepts and does not act on (typed Ignored in the
// model): each gets a warning naming it and saying what Faultline does
// instead, where Istio itself would accept it.

// warnIgnoredPolicy warns about the ignored fields of one traffic policy
// block at p, and checks the fields the model gained beside them.
func warnIgnoredPolicy(r *reporter, p string, b policyBlocks) {
	if lb := b.lb; lb != nil && lb.ConsistentHash != nil && lb.ConsistentHash.HTTPCookie != nil {
		validateCookieAttributes(r, p+".loadBalancer.consistentHash.httpCookie.attributes", lb.ConsistentHash.HTTPCookie.Attributes)
	}
	if lb := b.lb; lb != nil {
		lp := p + ".loadBalancer"
		if lb.LocalityLbSetting != nil && lb.ZoneAwareLbSetting != nil {
			// istio/api destination_rule.proto: "Only one of
			// locality_lb_setting and zone_aware_lb_setting can be set."
			r.errorf(lp+".zoneAwareLbSetting", "cannot be combined with localityLbSetting: set one of them")
		}
		const noLocality = "is not applied: Faultline's proxy has no locality of its own, so, as Envoy does for a proxy whose locality is unknown, endpoints are picked across all localities by the load-balancing policy"
		if lb.LocalityLbSetting != nil {
			r.warnf(lp+".localityLbSetting", noLocality)
		}
		if lb.ZoneAwareLbSetting != nil {
			r.warnf(lp+".zoneAwareLbSetting", noLocality)
		}
	}
	if cp := b.cp; cp != nil && cp.TCP != nil && cp.TCP.TCPKeepalive != nil {
		r.warnf(p+".connectionPool.tcp.tcpKeepalive", "is not applied: Faultline's connections to the endpoints keep Go's TCP keepalive (probes after 30s idle, every 30s)")
	}
}

// validateCookieAttributes applies Istio's rule to a cookie's attributes:
// each named, no name twice.
func validateCookieAttributes(r *reporter, p string, attrs []CookieAttribute) {
	seen := map[string]bool{}
	for i, a := range attrs {
		ap := fmt.Sprintf("%s[%d].name", p, i)
		switch {
		case a.Name == "":
			r.errorf(ap, "cookie attribute name cannot be empty")
		case seen[a.Name]:
			r.errorf(ap, "duplicate cookie attribute name: %s", a.Name)
		}
		seen[a.Name] = true
	}
}
