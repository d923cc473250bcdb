package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/faultline/faultline/scenarios"
)

// TLS termination at a Gateway server in tls.mode SIMPLE, MUTUAL,
// OPTIONAL_MUTUAL or ISTIO_MUTUAL (docs/istio.md, Gateways): the listener completes the handshake with
// the certificate of the server whose hosts the ClientHello's SNI names
// (Envoy's filter chain match on server_names, one chain per server), then
// routes the decrypted HTTP as an HTTP server port does.
//
//	accept ─► ClientHello: server by SNI (exact, longest wildcard, "*");
//	          none: handshake refused, as Envoy closes a connection no
//	          filter chain matches
//	  ─► handshake: the server's certificate, TLS versions and ciphers;
//	     MUTUAL: a client certificate the server's CA bundle verifies
//	     (and whose SAN is one of subjectAltNames, when listed);
//	     OPTIONAL_MUTUAL: the same, when the client presents one;
//	     ISTIO_MUTUAL: the run's CA's certificate of the gateway's SPIFFE
//	     identity, a client certificate of that CA (tls_mesh.go)
//	  ─► HTTP routing of the listener (x-forwarded-proto: https)

// ProtocolHTTPS is a listener that terminates TLS and routes the HTTP
// inside: a Gateway server in tls.mode SIMPLE, MUTUAL, OPTIONAL_MUTUAL or
// ISTIO_MUTUAL.
const ProtocolHTTPS = "HTTPS"

// valHTTPS is x-forwarded-proto on a request that came over TLS.
var valHTTPS = []string{"https"}

// servesHTTP reports whether a listener of protocol p routes HTTP.
func servesHTTP(p string) bool { return p == ProtocolHTTP || p == ProtocolHTTPS }

// terminatesTLS reports a server whose listener terminates TLS: SIMPLE,
// MUTUAL and OPTIONAL_MUTUAL with the server's credentials, ISTIO_MUTUAL
// with the mesh's (tls_mesh.go).
func terminatesTLS(s *scenarios.Server) bool {
	if s.TLS == nil || scenarios.ProtocolKind(s.Port.Protocol) != "tls" {
		return false
	}
	m := strings.ToUpper(s.TLS.Mode)
	return m == "SIMPLE" || m == "MUTUAL" || m == "OPTIONAL_MUTUAL" || m == "ISTIO_MUTUAL"
}

// meshMTLS reports a server in ISTIO_MUTUAL: the mesh's own mTLS, which
// the listener terminates with a certificate of the run's CA, requiring
// one of that CA from its clients (tls_mesh.go).
func meshMTLS(s *scenarios.Server) bool {
	return s.TLS != nil && strings.EqualFold(s.TLS.Mode, "ISTIO_MUTUAL") && scenarios.ProtocolKind(s.Port.Protocol) == "tls"
}

// gatewayTLS is the TLS of a listener that terminates it: one
// configuration per server, chosen by SNI.
type gatewayTLS struct {
	servers []serverTLS
	// issued reports that the run's CA signed some server's certificate
	// (no credentials directory was configured for it).
	issued bool
	// mutual reports that some server asks for client certificates.
	mutual bool
}

type serverTLS struct {
	hosts []string // "*", "*.suffix" or a name, lower case
	cfg   *tls.Config
	// noALPN is cfg without ALPN, for the clients of an ISTIO_MUTUAL
	// server that offer only the mesh's names (tls_mesh.go); nil for
	// other servers.
	noALPN *tls.Config
}

// errNoServerForSNI refuses a handshake whose SNI no server names.
var errNoServerForSNI = errors.New("proxy: no gateway server for this SNI")

// configFor is the configuration of the server sni names most
// specifically (the first server on a tie).
func (g *gatewayTLS) configFor(sni string) (*tls.Config, error) {
	st, err := g.serverFor(sni)
	if err != nil {
		return nil, err
	}
	return st.cfg, nil
}

// configForHello is configFor for a handshake: a client of an
// ISTIO_MUTUAL server that does not offer http/1.1 gets no ALPN answer.
func (g *gatewayTLS) configForHello(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	st, err := g.serverFor(hello.ServerName)
	if err != nil {
		return nil, err
	}
	if st.noALPN != nil && len(hello.SupportedProtos) > 0 && !slices.Contains(hello.SupportedProtos, "http/1.1") {
		return st.noALPN, nil
	}
	return st.cfg, nil
}

// serverFor is the server sni names most specifically (the first server
// on a tie).
func (g *gatewayTLS) serverFor(sni string) (*serverTLS, error) {
	sni = strings.ToLower(strings.TrimSuffix(sni, "."))
	var best *serverTLS
	score := -1
	for i := range g.servers {
		for _, h := range g.servers[i].hosts {
			if s := sniScore(h, sni); s > score {
				best, score = &g.servers[i], s
			}
		}
	}
	if best == nil {
		return nil, errNoServerForSNI
	}
	return best, nil
}

// tlsConfig is the listener's server-side configuration: each handshake
// takes the configuration of its server from the table being served.
func (p *Proxy) tlsConfig(name string) *tls.Config {
	_, id := p.reg.listener(name)
	return &tls.Config{
		NextProtos: []string{"http/1.1"},
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			t := p.table.Load()
			if t == nil {
				return nil, errNoServerForSNI
			}
			lt := t.listener(id)
			if lt == nil || lt.tls == nil {
				return nil, errNoServerForSNI
			}
			return lt.tls.configForHello(hello)
		},
	}
}

// TerminatesTLS reports whether the Gateway server port's listener
// terminates TLS (tls.mode SIMPLE, MUTUAL, OPTIONAL_MUTUAL or
// ISTIO_MUTUAL), whether a certificate of
// the run's CA (Options.CA) serves it, and whether it asks for client
// certificates.
func (t *Table) TerminatesTLS(gateway string, port uint32) (ok, issued, mutual bool) {
	name := gateway + ":" + fmt.Sprint(port)
	for _, lt := range t.listeners {
		if lt != nil && lt.name == name && lt.tls != nil {
			return true, lt.tls.issued, lt.tls.mutual
		}
	}
	return false, false, false
}

// gatewayTLS compiles the TLS of the servers of spec that terminate it.
func (b *builder) gatewayTLS(spec listenerSpec) *gatewayTLS {
	gw := spec.gw
	label := "Gateway " + gw.Metadata.Name
	g := &gatewayTLS{}
	for i := range gw.Spec.Servers {
		s := &gw.Spec.Servers[i]
		if s.Port.Number != spec.Port || !terminatesTLS(s) {
			continue
		}
		path := fmt.Sprintf("spec.servers[%d].tls", i)
		var st serverTLS
		var issued, ok bool
		if meshMTLS(s) {
			st, ok = b.meshServer(label, path, gw, s)
			issued = true
		} else {
			st, issued, ok = b.serverTLS(label, path, s)
		}
		if !ok {
			continue
		}
		g.servers = append(g.servers, st)
		g.issued = g.issued || issued
		g.mutual = g.mutual || st.cfg.ClientAuth != tls.NoClientCert
	}
	return g
}

// meshServer builds an ISTIO_MUTUAL server's configuration.
func (b *builder) meshServer(label, path string, gw *scenarios.Gateway, s *scenarios.Server) (serverTLS, bool) {
	st := serverTLS{hosts: serverHosts(s)}
	cfg, ok := b.meshServerTLS(label, path, gw, s)
	if !ok || !b.tlsVersions(label, path, s.TLS.MinProtocolVersion, s.TLS.MaxProtocolVersion, cfg) {
		return st, false
	}
	cfg.CipherSuites = cipherSuites(s.TLS.CipherSuites)
	st.cfg = cfg
	st.noALPN = cfg.Clone()
	st.noALPN.NextProtos = nil
	return st, true
}

// serverHosts are a server's hosts as SNI matches them: without their
// namespace part, lower case.
func serverHosts(s *scenarios.Server) []string {
	var out []string
	for _, h := range s.Hosts {
		if _, name, cut := strings.Cut(h, "/"); cut {
			h = name
		}
		out = append(out, strings.ToLower(h))
	}
	return out
}

// serverTLS builds one server's configuration; issued reports a
// certificate of the run's CA.
func (b *builder) serverTLS(label, path string, s *scenarios.Server) (st serverTLS, issued, ok bool) {
	t := s.TLS
	optional := strings.EqualFold(t.Mode, "OPTIONAL_MUTUAL")
	mutual := optional || strings.EqualFold(t.Mode, "MUTUAL")
	st.hosts = serverHosts(s)
	cfg := &tls.Config{NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS13}
	cred, issued, ok := b.serverCredential(label, path, s, mutual)
	if !ok {
		return st, false, false
	}
	cfg.Certificates = []tls.Certificate{*cred.cert}
	if mutual {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		if optional {
			cfg.ClientAuth = tls.VerifyClientCertIfGiven
		}
		cfg.ClientCAs = cred.ca
		if sans := t.SubjectAltNames; len(sans) > 0 {
			cfg.VerifyPeerCertificate = verifySAN(sans, optional)
		}
	}
	if !b.tlsVersions(label, path, t.MinProtocolVersion, t.MaxProtocolVersion, cfg) {
		return st, false, false
	}
	cfg.CipherSuites = cipherSuites(t.CipherSuites)
	st.cfg = cfg
	return st, issued, true
}

// serverCredential finds a server's certificate (and, for MUTUAL, the CA
// bundle that verifies clients): from the credentials directory when one
// is configured, else from the run's CA.
func (b *builder) serverCredential(label, path string, s *scenarios.Server, mutual bool) (credential, bool, bool) {
	t := s.TLS
	name := t.CredentialName
	if name == "" && len(t.CredentialNames) > 0 {
		name = t.CredentialNames[0]
	}
	if b.opts.Credentials == nil {
		ca, err := b.ca()
		if err != nil {
			b.errorf(label, path, "%v", err)
			return credential{}, false, false
		}
		cert, err := ca.Issue(certNames(s.Hosts), false)
		if err != nil {
			b.errorf(label, path, "%v", err)
			return credential{}, false, false
		}
		b.warnf("%s %s: no credentials directory is configured: the server presents a certificate of the run's CA for %s%s", label, path, strings.Join(s.Hosts, ", "),
			map[bool]string{true: ", and verifies client certificates against that CA", false: ""}[mutual])
		return credential{cert: &cert, ca: ca.pool}, true, true
	}
	var c credential
	var err error
	field := path + ".credentialName"
	switch {
	case name != "":
		c, err = loadSecret(b.opts.Credentials, name, true, mutual && t.CACertificates == "")
	default:
		field = path + ".serverCertificate"
		c, err = loadFiles(b.opts.Credentials, t.ServerCertificate, t.PrivateKey, "")
	}
	if err == nil && c.cert == nil {
		err = errors.New("names no certificate")
	}
	if err == nil && mutual && t.CACertificates != "" {
		field = path + ".caCertificates"
		var ca credential
		ca, err = loadFiles(b.opts.Credentials, "", "", t.CACertificates)
		c.ca = ca.ca
	}
	if err != nil {
		b.errorf(label, field, "%v (in the credentials directory)", err)
		return c, false, false
	}
	return c, false, true
}

// certNames are the names a certificate of the run's CA carries for
// server hosts: each host without its namespace part ("*" covers no
// name), and 127.0.0.1 for clients that name no server.
func certNames(hosts []string) []string {
	var out []string
	for _, h := range hosts {
		if _, name, cut := strings.Cut(h, "/"); cut {
			h = name
		}
		if h != "*" && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	if len(out) == 0 {
		out = append(out, "localhost")
	}
	return append(out, "127.0.0.1")
}

// ca is the run's CA: Options.CA, else one made for this compilation.
func (b *builder) ca() (*CA, error) {
	if b.opts.CA != nil {
		return b.opts.CA, nil
	}
	if b.ownCA == nil {
		ca, err := NewCA()
		if err != nil {
			return nil, err
		}
		b.ownCA = ca
	}
	return b.ownCA, nil
}

// tlsVersions sets minProtocolVersion and maxProtocolVersion; a gateway's
// default is TLS 1.2 to 1.3 (Istio's tlsDefaults, Envoy's server default
// maximum).
func (b *builder) tlsVersions(label, path, minV, maxV string, cfg *tls.Config) bool {
	if v := scenarios.TLSVersions[strings.ToUpper(minV)]; v != 0 {
		cfg.MinVersion = v
	}
	if v := scenarios.TLSVersions[strings.ToUpper(maxV)]; v != 0 {
		cfg.MaxVersion = v
	}
	if cfg.MinVersion > cfg.MaxVersion {
		b.errorf(label, path+".maxProtocolVersion", "%s is below minProtocolVersion %s", maxV, minV)
		return false
	}
	return true
}

// cipherSuites maps Envoy's cipher names onto Go's suites; a "[A|B]"
// equal-preference group counts as its members. A name Go does not offer
// is left out (the validator warns about it).
func cipherSuites(names []string) []uint16 {
	var out []uint16
	for _, n := range names {
		for m := range strings.SplitSeq(strings.Trim(n, "[]"), "|") {
			if id, ok := scenarios.TLSCipherSuites[m]; ok {
				out = append(out, id)
			}
		}
	}
	return out
}

// verifySAN accepts a verified peer certificate only when one of its
// subject alternative names (DNS, URI, IP or e-mail) is in sans, as
// Envoy's match_subject_alt_names does with exact matchers.
func verifySAN(sans []string, optional bool) func([][]byte, [][]*x509.Certificate) error {
	return func(_ [][]byte, chains [][]*x509.Certificate) error {
		if optional && len(chains) == 0 {
			return nil // OPTIONAL_MUTUAL: no certificate, nothing to match
		}
		if len(chains) == 0 || len(chains[0]) == 0 {
			return errors.New("proxy: no verified certificate to match subjectAltNames")
		}
		if hasSAN(chains[0][0], sans) {
			return nil
		}
		return fmt.Errorf("proxy: certificate SANs match none of %s", strings.Join(sans, ", "))
	}
}

func hasSAN(c *x509.Certificate, sans []string) bool {
	for _, want := range sans {
		if slices.Contains(c.DNSNames, want) || slices.Contains(c.EmailAddresses, want) {
			return true
		}
		for _, u := range c.URIs {
			if u.String() == want {
				return true
			}
		}
		if ip := net.ParseIP(want); ip != nil && slices.ContainsFunc(c.IPAddresses, ip.Equal) {
			return true
		}
	}
	return false
}
