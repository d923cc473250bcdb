package proxy

import (
	"maps"
	"net/netip"
)

// sourceLabels: istiod keeps a match block with sourceLabels only in the
// configuration of the proxies whose workload carries those labels, so
// the block applies to what that workload sends. Faultline's listeners
// stand for no single workload; they know a request's caller where it can
// be known:
//
//   - on a gateway listener the caller's proxy is the gateway itself,
//     whose workload labels Faultline knows as the Gateway's selector;
//   - on the mesh (and service) listeners a request from the address of
//     an endpoint of a bound service comes from that endpoint, whose
//     labels are its own; 127.0.0.1 and ::1 are where every local process
//     sends from, and an address two endpoints with different labels
//     share names no one, so neither identifies a caller (another
//     loopback address, 127.0.0.2, does: a process sends from it only by
//     binding it).
//
// A caller Faultline cannot know (a run's own load, a process on
// loopback) is unlabelled: the block does not apply to it, as it would not
// to a workload without those labels. The validator says so where
// sourceLabels is set.

// localhost4 is the address local processes send from by default.
var localhost4 = netip.AddrFrom4([4]byte{127, 0, 0, 1})

// sourceMatch is a match block's sourceLabels condition.
type sourceMatch struct {
	want map[string]string
	// gateway is the gateway's own labels, on a gateway listener.
	gateway map[string]string
	onGW    bool
	// callers maps the endpoint addresses that identify a caller to its
	// labels (nil labels: the address is ambiguous).
	callers map[netip.Addr]map[string]string
}

// matches reports whether x's caller carries every wanted label.
func (s *sourceMatch) matches(x *exchange) bool {
	var remote netip.Addr
	if ap, err := netip.ParseAddrPort(x.r.RemoteAddr); err == nil {
		remote = ap.Addr()
	}
	return s.matchesAddr(remote)
}

// matchesAddr reports whether the caller at remote (the source address
// of a request or of a TCP connection; invalid when unknown) carries
// every wanted label.
func (s *sourceMatch) matchesAddr(remote netip.Addr) bool {
	labels := s.gateway
	if !s.onGW {
		if !remote.IsValid() {
			return false
		}
		labels = s.callers[remote.Unmap()]
	}
	if labels == nil {
		return false
	}
	for k, v := range s.want {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// sourceMatch compiles sourceLabels for the listener lc: an http match's,
// or a tcp or tls match's, whose caller is the connection's source.
func (b *builder) sourceMatch(want map[string]string, lc listenerCtx) *sourceMatch {
	s := &sourceMatch{want: maps.Clone(want)}
	if !lc.mesh && lc.gateway != "" {
		s.onGW = true
		for _, gw := range b.doc.Gateways {
			if gw.Metadata.Name == lc.gateway {
				s.gateway = gw.Spec.Selector
				if s.gateway == nil {
					s.gateway = map[string]string{}
				}
			}
		}
		return s
	}
	s.callers = b.callerLabels()
	return s
}

// callerLabels maps the addresses of bound services' endpoints to their
// labels, but for 127.0.0.1 and ::1; an address endpoints with different
// labels share maps to nil.
func (b *builder) callerLabels() map[netip.Addr]map[string]string {
	out := map[netip.Addr]map[string]string{}
	for _, fq := range b.svcOrder {
		svc := b.services[fq]
		if !svc.bound {
			continue
		}
		for _, eps := range svc.eps {
			for _, ep := range eps {
				ap, err := netip.ParseAddrPort(ep.addr)
				ip := ap.Addr().Unmap()
				if err != nil || ip == localhost4 || ip == netip.IPv6Loopback() {
					continue
				}
				labels := ep.labels
				if labels == nil {
					labels = map[string]string{}
				}
				if prev, ok := out[ip]; ok && !maps.Equal(prev, labels) {
					out[ip] = nil
					continue
				}
				out[ip] = labels
			}
		}
	}
	return out
}
