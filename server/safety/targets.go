package safety

import (
	"fmt"
	"net"
	"net/url"

	"github.com/faultline/faultline/scenarios"
)

// TargetError is an endpoint address outside the allow-list.
type TargetError struct {
	Field string
	Err   error
}

func (e *TargetError) Error() string { return e.Field + ": " + e.Err.Error() }

// FieldPath names the field at fault.
func (e *TargetError) FieldPath() string { return e.Field }

// Unwrap returns the allow-list's reason.
func (e *TargetError) Unwrap() error { return e.Err }

// Admit applies the safety policy to a parsed experiment: its load within
// the ceilings, its endpoints on the allow-list (nil = loopback only).
func Admit(doc *scenarios.Document, allow func(hostport string) error, lim Limits) error {
	if err := CheckLimits(doc.Experiment.Spec.Load, lim); err != nil {
		return err
	}
	return CheckTargets(doc, allow)
}

// CheckTargets refuses an experiment whose endpoint addresses fall outside
// the allow-list (nil = loopback only), naming the first such field: the
// endpoints of spec.services and the load's agents. A ServiceEntry's own
// endpoints are Istio configuration the experiment may carry as written:
// the proxy leaves out those off the allow-list and never dials them (its
// host answers 503 UH when none is left, with a warning naming the field).
func CheckTargets(doc *scenarios.Document, allow func(hostport string) error) error {
	if allow == nil {
		allow = scenarios.LoopbackOnly
	}
	for i, svc := range doc.Experiment.Spec.Services {
		for j, ep := range svc.Endpoints {
			if ep.Address == "" || ep.Demo != "" || ep.Container != nil {
				continue
			}
			if err := allow(ep.Address); err != nil {
				return &TargetError{Field: fmt.Sprintf("spec.services[%d].endpoints[%d].address", i, j), Err: err}
			}
		}
	}
	if l := doc.Experiment.Spec.Load; l != nil {
		for i, a := range l.Agents {
			u, err := url.Parse(a) // validated: http://host:port
			if err == nil {
				err = allow(u.Host)
			}
			if err != nil {
				return &TargetError{Field: fmt.Sprintf("spec.load.agents[%d]", i), Err: err}
			}
		}
	}
	return nil
}

// AllowList builds a target allow-list from CIDRs ("10.0.0.0/8"), IPs and
// host names; loopback is always allowed.
func AllowList(entries []string) (func(hostport string) error, error) {
	explicit, err := ExplicitAllowList(entries)
	if err != nil {
		return nil, err
	}
	return func(hostport string) error {
		if scenarios.LoopbackOnly(hostport) == nil {
			return nil
		}
		return explicit(hostport)
	}, nil
}

// ExplicitAllowList is AllowList without loopback: it allows only what
// the entries name. Game-day webhooks use it (a receiver on this machine
// must be named, as one at a private address must).
func ExplicitAllowList(entries []string) (func(hostport string) error, error) {
	var nets []*net.IPNet
	hosts := map[string]bool{}
	for _, e := range entries {
		if e == "" {
			continue
		}
		if _, n, err := net.ParseCIDR(e); err == nil {
			nets = append(nets, n)
			continue
		}
		if ip := net.ParseIP(e); ip != nil {
			bits := 32
			if ip.To4() == nil {
				bits = 128
			}
			nets = append(nets, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
			continue
		}
		if !isHostName(e) {
			return nil, fmt.Errorf("allow-list entry %q is not a CIDR, IP or host name", e)
		}
		hosts[e] = true
	}
	return func(hostport string) error {
		host, _, err := net.SplitHostPort(hostport)
		if err != nil {
			return fmt.Errorf("target %q: %w", hostport, err)
		}
		if hosts[host] {
			return nil
		}
		if ip := net.ParseIP(host); ip != nil {
			for _, n := range nets {
				if n.Contains(ip) {
					return nil
				}
			}
		}
		return fmt.Errorf("target %s is not on the allow-list (loopback by default; widen it with --allow)", hostport)
	}, nil
}

func isHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// AdmitEnvironment applies the safety policy to an environment's
// document: its listener addresses and its endpoints on the allow-list
// (nil = loopback only). A listener beyond loopback serves whoever can
// reach it, so its address must be allowed as a target would be.
func AdmitEnvironment(doc *scenarios.Document, allow func(hostport string) error) error {
	if allow == nil {
		allow = scenarios.LoopbackOnly
	}
	for _, a := range doc.Environment.ListenerAddresses() {
		if err := allow(a.Addr); err != nil {
			return &TargetError{Field: a.Field, Err: fmt.Errorf("listener %s is not on the allow-list (loopback by default; widen it with --allow, e.g. --allow 0.0.0.0 to listen on every interface)", a.Addr)}
		}
	}
	return CheckTargets(doc, allow)
}
