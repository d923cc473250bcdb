package scenarios

// Gateway rules (docs/istio.md, Gateways; istio/istio
// pkg/config/validation/validation.go ValidateGateway, validateServer and
// agent.ValidateNamespaceSlashWildcardHostname). Faultline's gateway
// listeners carry HTTP, TCP (tcp routes) and passed-through TLS (tls
// routes by SNI); TLS termination is refused as not implemented.

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// serverTLSModes are the modes of a gateway server's tls block.
var serverTLSModes = []string{"PASSTHROUGH", "SIMPLE", "MUTUAL", "AUTO_PASSTHROUGH", "ISTIO_MUTUAL", "OPTIONAL_MUTUAL"}

// validateGateway applies Istio's Gateway rules (docs/istio.md, Gateways)
// and refuses what Faultline's listeners cannot do.
func validateGateway(r *reporter, gw *Gateway, _ IstioVersion) {
	if n := gw.Metadata.Name; n != "" && !isIstioLabel(n) {
		r.errorf("metadata.name", "invalid gateway name %q: must be a DNS-1123 label (no dots)", n)
	}
	for _, k := range slices.Sorted(maps.Keys(gw.Spec.Selector)) {
		if err := checkLabelKey(k); err != nil {
			r.errorf("spec.selector."+k, "%v", err)
		}
	}
	if len(gw.Spec.Servers) == 0 {
		r.errorf("spec.servers", "gateway must have at least one server")
		return
	}
	portNames := map[string]int{}
	serverNames := map[string]int{}
	for i := range gw.Spec.Servers {
		s := &gw.Spec.Servers[i]
		p := fmt.Sprintf("spec.servers[%d]", i)
		validateServer(r, p, s)
		if j, dup := portNames[s.Port.Name]; dup && s.Port.Name != "" {
			r.errorf(p+".port.name", "port names in servers must be unique: duplicate name %s (also spec.servers[%d])", s.Port.Name, j)
		} else {
			portNames[s.Port.Name] = i
		}
		if j, dup := serverNames[s.Name]; dup && s.Name != "" {
			r.errorf(p+".name", "server names must be unique: duplicate name %s (also spec.servers[%d])", s.Name, j)
		} else {
			serverNames[s.Name] = i
		}
	}
}

// validateServer checks one server at p.
func validateServer(r *reporter, p string, s *Server) {
	pp := p + ".port"
	if s.Port.Number == 0 {
		r.errorf(pp+".number", "is required")
	} else {
		validatePort(r, pp+".number", s.Port.Number)
	}
	if s.Port.Protocol == "" {
		r.errorf(pp+".protocol", "is required")
	} else {
		validateProtocol(r, pp+".protocol", s.Port.Protocol)
	}
	if s.Port.Name == "" {
		r.errorf(pp+".name", "port name must be set")
	}
	if s.Port.TargetPort != 0 {
		r.errorf(pp+".targetPort", "targetPort has no impact on Gateways")
	}
	if len(s.Hosts) == 0 {
		r.errorf(p+".hosts", "server config must contain at least one host")
	}
	for i, h := range s.Hosts {
		if err := checkGatewayHost(h); err != nil {
			r.errorf(fmt.Sprintf("%s.hosts[%d]", p, i), "%v", err)
		}
	}
	switch {
	case s.Bind == "":
	case strings.HasPrefix(s.Bind, "unix://") || isIP(s.Bind):
		r.errorf(p+".bind", "is not implemented by Faultline: a gateway listener's address is chosen when the experiment runs")
	default:
		r.errorf(p+".bind", "%s is not a valid IP", s.Bind)
	}
	validateServerTLS(r, p, s)
}

// validateServerTLS checks a server's tls block against its protocol:
// HTTPS and TLS servers need one, plain-HTTP servers take only
// httpsRedirect. Of the modes, PASSTHROUGH (SNI routing of the
// unterminated connection by tls routes) and AUTO_PASSTHROUGH (by the
// cluster the SNI names) are implemented; terminating modes are not.
func validateServerTLS(r *reporter, p string, s *Server) {
	kind := ProtocolKind(s.Port.Protocol)
	t := s.TLS
	if t == nil {
		if kind == protoTLS {
			r.errorf(p+".tls", "server must have TLS settings for HTTPS/TLS protocols")
		}
		return
	}
	if t.HTTPSRedirect && !httpProtocols[strings.ToUpper(s.Port.Protocol)] {
		r.warnf(p+".tls.httpsRedirect", "tls.httpsRedirect should only be used with http servers")
	}
	if !oneOf(r, p+".tls.mode", t.Mode, serverTLSModes...) {
		return
	}
	switch {
	case (t.Mode == "" || t.Mode == "PASSTHROUGH") && kind == protoTLS:
		// PASSTHROUGH, the mode's zero value: SNI routing of the
		// unterminated connection (tls routes).
	case t.Mode == "AUTO_PASSTHROUGH" && kind == protoTLS:
		// SNI routing by the cluster name the SNI carries.
	case t.Mode == "":
	case kind == protoHTTP:
		r.errorf(p+".tls", "server cannot have TLS settings for plain text HTTP ports (only httpsRedirect)")
	case t.Mode == "PASSTHROUGH" || t.Mode == "AUTO_PASSTHROUGH":
		r.errorf(p+".tls.mode", "%s needs a TLS or HTTPS server, not %s", t.Mode, s.Port.Protocol)
	default:
		r.errorf(p+".tls.mode", "%s is not implemented by Faultline (TLS is passed through unterminated, tls.mode PASSTHROUGH or AUTO_PASSTHROUGH; no TLS termination)", t.Mode)
	}
}

// checkGatewayHost validates a server host: "[namespace/]dnsName", where
// the namespace is "*", "." or a namespace name and dnsName is an FQDN,
// a "*." wildcard, "*" or an IP.
func checkGatewayHost(h string) error {
	ns, name, slashed := strings.Cut(h, "/")
	if !slashed {
		name = h
	} else {
		if ns == "" || name == "" {
			return fmt.Errorf("config namespace and dnsName in host entry cannot be empty: %q", h)
		}
		if ns != "*" && ns != "." && !isIstioLabel(ns) {
			return fmt.Errorf("invalid namespace value %q in gateway host %q", ns, h)
		}
	}
	if name != "*" && !strings.Contains(name, ".") {
		return fmt.Errorf("short names (non FQDN) are not allowed in gateway hosts: %q", name)
	}
	if err := checkWildcardDomain(name); err != nil && !isIP(name) {
		return err
	}
	if isPartialWildcard(name) {
		return fmt.Errorf("partial wildcard %q not allowed", name)
	}
	return nil
}
