package scenarios

// Gateway rules (docs/istio.md, Gateways; istio/istio
// pkg/config/validation/validation.go ValidateGateway, validateServer and
// agent.ValidateNamespaceSlashWildcardHostname). Faultline's gateway
// listeners carry HTTP, TCP (tcp routes), passed-through TLS (tls routes
// by SNI) and terminated TLS (SIMPLE, MUTUAL and OPTIONAL_MUTUAL, then HTTP
// routing); ISTIO_MUTUAL servers terminate the mesh's mTLS.

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
// httpsRedirect. PASSTHROUGH (SNI routing of the unterminated connection
// by tls routes), AUTO_PASSTHROUGH (by the cluster the SNI names), SIMPLE,
// MUTUAL and OPTIONAL_MUTUAL (TLS terminated, then HTTP routing) are
// implemented; ISTIO_MUTUAL terminates the mesh's mTLS with the run's CA
// (proxy/tls_mesh.go).
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
	case (t.Mode == "" || t.Mode == "PASSTHROUGH" || t.Mode == "AUTO_PASSTHROUGH") && kind == protoTLS:
		// SNI routing of the unterminated connection: by tls routes, or
		// by the cluster name the SNI carries.
		if t.ServerCertificate != "" || t.PrivateKey != "" || t.CACertificates != "" || t.CredentialName != "" {
			mode := t.Mode
			if mode == "" {
				mode = "PASSTHROUGH"
			}
			r.warnf(p+".tls.mode", "%s mode does not use certificates, they will be ignored", mode)
		}
	case (t.Mode == "SIMPLE" || t.Mode == "MUTUAL" || t.Mode == "OPTIONAL_MUTUAL") && kind == protoTLS:
		validateTerminatingTLS(r, p+".tls", t)
	case t.Mode == "ISTIO_MUTUAL" && kind == protoTLS:
		for _, f := range []struct{ field, name, v string }{
			{"serverCertificate", "server certificate", t.ServerCertificate},
			{"privateKey", "private key", t.PrivateKey},
			{"caCertificates", "CA bundle", t.CACertificates},
			{"credentialName", "credentialName", t.CredentialName},
		} {
			if f.v != "" {
				r.errorf(p+".tls."+f.field, "ISTIO_MUTUAL TLS cannot have associated %s", f.name)
			}
		}
		r.warnf(p+".tls.mode", "ISTIO_MUTUAL: the mesh's mTLS, terminated with a certificate of the run's CA; only clients presenting one of that CA are served (Faultline's listeners under an ISTIO_MUTUAL DestinationRule, and its load)")
	case t.Mode == "":
	case kind == protoHTTP:
		r.errorf(p+".tls", "server cannot have TLS settings for plain text HTTP ports (only httpsRedirect)")
	default:
		r.errorf(p+".tls.mode", "%s needs a TLS or HTTPS server, not %s", t.Mode, s.Port.Protocol)
	}
}

// validateTerminatingTLS checks the tls block at p of a SIMPLE or MUTUAL
// server: Istio's validateTLSOptions (a credentialName, else a server
// certificate, a private key and, for MUTUAL, a client CA bundle), the
// protocol versions, and warnings for what Faultline's TLS (Go's
// crypto/tls) does not honour.
func validateTerminatingTLS(r *reporter, p string, t *ServerTLS) {
	if t.CredentialName == "" && len(t.CredentialNames) == 0 {
		if t.ServerCertificate == "" {
			r.errorf(p+".serverCertificate", "%s TLS requires a server certificate", t.Mode)
		}
		if t.PrivateKey == "" {
			r.errorf(p+".privateKey", "%s TLS requires a private key", t.Mode)
		}
		if t.Mode != "SIMPLE" && t.CACertificates == "" {
			r.errorf(p+".caCertificates", "%s TLS requires a client CA bundle", t.Mode)
		}
	}
	if len(t.CredentialNames) > 2 {
		r.errorf(p+".credentialNames", "at most 2 credentialNames (one RSA, one ECDSA) may be set")
	}
	if len(t.CredentialNames) > 1 {
		r.warnf(p+".credentialNames[1]", "is not served: Faultline presents the first credential (%s) to every client", t.CredentialNames[0])
	}
	minV, okMin := TLSVersions[strings.ToUpper(t.MinProtocolVersion)]
	if t.MinProtocolVersion != "" && !okMin {
		r.errorf(p+".minProtocolVersion", "must be one of TLS_AUTO, TLSV1_0, TLSV1_1, TLSV1_2, TLSV1_3, not %q", t.MinProtocolVersion)
	}
	maxV, okMax := TLSVersions[strings.ToUpper(t.MaxProtocolVersion)]
	if t.MaxProtocolVersion != "" && !okMax {
		r.errorf(p+".maxProtocolVersion", "must be one of TLS_AUTO, TLSV1_0, TLSV1_1, TLSV1_2, TLSV1_3, not %q", t.MaxProtocolVersion)
	}
	if minV != 0 && maxV != 0 && minV > maxV {
		r.errorf(p+".maxProtocolVersion", "maxProtocolVersion %s must not be below minProtocolVersion %s", t.MaxProtocolVersion, t.MinProtocolVersion)
	}
	for i, c := range t.CipherSuites {
		for m := range strings.SplitSeq(strings.Trim(c, "[]"), "|") {
			if _, ok := TLSCipherSuites[m]; !ok {
				r.warnf(fmt.Sprintf("%s.cipherSuites[%d]", p, i), "cipher %s is not offered by Faultline (Go's crypto/tls): the server leaves it out", m)
			}
		}
	}
	if t.Mode == "SIMPLE" && len(t.SubjectAltNames) > 0 {
		r.warnf(p+".subjectAltNames", "is not used: a SIMPLE server asks for no client certificate")
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
