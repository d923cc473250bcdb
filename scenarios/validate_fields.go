package scenarios

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Fields Faultline validates as Istio does and accepts without acting on
// them: each gets a warning naming it and saying what Faultline does
// instead.

// noLocality says what Faultline does with locality settings.
const noLocality = "is not applied: Faultline's proxy has no locality of its own, so, as Envoy does for a proxy whose locality is unknown, endpoints are picked across all localities by the load-balancing policy"

// warnIgnoredPolicy checks the fields of one traffic policy block at p
// that Faultline does not act on, and warns where they are set.
func warnIgnoredPolicy(r *reporter, p string, b policyBlocks) {
	if lb := b.lb; lb != nil {
		lp := p + ".loadBalancer"
		if ch := lb.ConsistentHash; ch != nil && ch.HTTPCookie != nil {
			validateCookieAttributes(r, lp+".consistentHash.httpCookie.attributes", ch.HTTPCookie.Attributes)
		}
		if lb.LocalityLbSetting != nil && lb.ZoneAwareLbSetting != nil {
			r.errorf(lp+".zoneAwareLbSetting", "only one of localityLbSetting and zoneAwareLbSetting can be set")
		}
		if l := lb.LocalityLbSetting; l != nil {
			validateLocalityLb(r, lp+".localityLbSetting", l, b.od != nil)
			if l.Enabled == nil || *l.Enabled {
				r.warnf(lp+".localityLbSetting", noLocality)
			}
		}
		if z := lb.ZoneAwareLbSetting; z != nil {
			validateZoneAwareLb(r, lp+".zoneAwareLbSetting", z, b.od != nil)
			if z.Enabled == nil || *z.Enabled {
				r.warnf(lp+".zoneAwareLbSetting", noLocality)
			}
		}
	}
	if cp := b.cp; cp != nil && cp.TCP != nil && cp.TCP.TCPKeepalive != nil {
		kp := p + ".connectionPool.tcp.tcpKeepalive"
		validateDurationField(r, kp+".time", cp.TCP.TCPKeepalive.Time)
		validateDurationField(r, kp+".interval", cp.TCP.TCPKeepalive.Interval)
		r.warnf(kp, "is not applied: Faultline's connections to the endpoints keep Go's TCP keepalive (probes after 30s idle, every 30s)")
	}
}

// Topology labels failoverPriority may not repeat where Envoy orders by
// them already.
var topologyLabels = []string{"topology.kubernetes.io/region", "topology.kubernetes.io/zone", "topology.istio.io/subzone"}

// validateLocalityLb is Istio's ValidateLocalityLbSetting at p; outlier
// says whether the block has outlierDetection.
func validateLocalityLb(r *reporter, p string, l *LocalityLbSetting, outlier bool) {
	if len(l.Distribute) > 0 && len(l.Failover) > 0 {
		r.errorf(p, "can not simultaneously specify 'distribute' and 'failover'")
		return
	}
	if len(l.Failover) > 0 {
		for _, pl := range l.FailoverPriority {
			if slices.Contains(topologyLabels, pl) {
				r.errorf(p+".failoverPriority", "can not simultaneously set 'failover' and topology label '%s' in 'failover_priority'", pl)
				return
			}
		}
	}
	var from []string
	for i, d := range l.Distribute {
		dp := fmt.Sprintf("%s.distribute[%d]", p, i)
		from = append(from, d.From)
		var total uint32
		for _, to := range slices.Sorted(maps.Keys(d.To)) {
			if w := d.To[to]; w == 0 || w > 100 {
				r.errorf(dp+".to."+to, "locality weight must be in range [1, 100]")
				return
			}
			total += d.To[to]
		}
		if total != 100 {
			r.errorf(dp+".to", "total locality weight %d != 100", total)
			return
		}
		if err := checkLocalities(slices.Sorted(maps.Keys(d.To))); err != nil {
			r.errorf(dp+".to", "%v", err)
		}
	}
	if err := checkLocalities(from); err != nil {
		r.errorf(p+".distribute", "%v", err)
	}
	if (len(l.Failover) > 0 || len(l.FailoverPriority) > 0) && !outlier {
		r.warnf(p, "outlier detection policy must be provided for failover")
	}
	validateFailover(r, p, "locality lb failover", l.Failover)
}

// validateZoneAwareLb is Istio's ValidateZoneAwareLbSetting at p.
func validateZoneAwareLb(r *reporter, p string, z *ZoneAwareLbSetting, outlier bool) {
	for i, pl := range z.FailoverPriority {
		if slices.Contains(topologyLabels, pl) {
			r.errorf(fmt.Sprintf("%s.failoverPriority[%d]", p, i), "'failover_priority' for zone aware lb must not use topology label '%s'; region- and zone-level routing are handled automatically", pl)
		}
	}
	if (len(z.Failover) > 0 || len(z.FailoverPriority) > 0) && !outlier {
		r.warnf(p, "outlier detection policy must be provided for failover")
	}
	validateFailover(r, p, "zone aware lb failover", z.Failover)
}

// validateFailover checks failover entries: two different regions, no
// zones, no wildcard.
func validateFailover(r *reporter, p, what string, fs []LocalityFailover) {
	for i, f := range fs {
		fp := fmt.Sprintf("%s.failover[%d]", p, i)
		if f.From == f.To {
			r.errorf(fp, "%s settings must specify different regions", what)
		}
		if strings.Contains(f.From, "/") || strings.Contains(f.To, "/") {
			r.errorf(fp, "%s only specifies a region", what)
		}
		if strings.Contains(f.From, "*") || strings.Contains(f.To, "*") {
			r.errorf(fp, "%s region should not contain '*' wildcard", what)
		}
	}
}

// checkLocalities is Istio's validateLocalities: region[/zone[/subzone]]
// with no empty part, at most one '*' and only at the end, and no
// locality overlapping one before it.
func checkLocalities(localities []string) error {
	regions := map[string]map[string]map[string]bool{}
	for _, loc := range localities {
		if n := strings.Count(loc, "*"); n > 1 || n == 1 && !strings.HasSuffix(loc, "*") {
			return fmt.Errorf("locality %s wildcard '*' number can not exceed 1 and must be in the end", loc)
		}
		overlap := fmt.Errorf("locality %s overlap with previous specified ones", loc)
		if _, ok := regions["*"]; ok {
			return overlap
		}
		parts := strings.SplitN(loc, "/", 3)
		if slices.Contains(parts, "") {
			return fmt.Errorf("locality %s must not contain empty region/zone/subzone info", loc)
		}
		zones, known := regions[parts[0]]
		switch {
		case len(parts) == 1:
			if known {
				return overlap
			}
			regions[parts[0]] = map[string]map[string]bool{"*": {"*": true}}
		case !known:
			sub := "*"
			if len(parts) == 3 {
				sub = parts[2]
			}
			regions[parts[0]] = map[string]map[string]bool{parts[1]: {sub: true}}
		case zones["*"] != nil:
			return overlap
		case len(parts) == 2:
			if zones[parts[1]] != nil {
				return overlap
			}
			zones[parts[1]] = map[string]bool{"*": true}
		default:
			subs := zones[parts[1]]
			switch {
			case subs == nil:
				zones[parts[1]] = map[string]bool{parts[2]: true}
			case subs["*"] || subs[parts[2]]:
				return overlap
			default:
				subs[parts[2]] = true
			}
		}
	}
	return nil
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
