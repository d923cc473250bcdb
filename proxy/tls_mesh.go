package proxy

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/http"
	"strings"

	"github.com/faultline/faultline/scenarios"
)

// The mesh's own mTLS between Faultline's listeners (docs/istio.md,
// Client TLS and Gateways). In Istio, ISTIO_MUTUAL means the Envoys speak
// mTLS with workload certificates istiod's CA signs, each naming its
// workload's SPIFFE identity in its URI SAN. Faultline plays that part
// with the run's CA (Options.CA, else one per compilation) where both
// ends are its own listeners:
//
//   - a Gateway server in tls.mode ISTIO_MUTUAL gets a listener that
//     terminates mTLS: it presents a certificate of the run's CA naming
//     the gateway's identity (gatewayIdentity) and the server's hosts, and
//     requires a client certificate that CA signed;
//   - a cluster whose DestinationRule sets ISTIO_MUTUAL and whose host is
//     bound to a gateway's listener (spec.services[].gateway) opens its
//     connections with mTLS as istiod's upstream context for ISTIO_MUTUAL
//     has it (pilot/pkg/networking/core/cluster_tls.go): SNI the rule's
//     sni, else the cluster's name; ALPN "istio-peer-exchange", "istio";
//     the server's chain verified against the run's CA and its SAN against
//     subjectAltNames, else the gateway's identity (istiod's
//     buildIstioMutualTLS takes the destination's service accounts); the
//     client certificate names the mesh workload identity
//     meshClientIdentity;
//   - any other endpoint (an address, a demo, a container) has no sidecar
//     to terminate mTLS: the cluster speaks plain text (the validator
//     warns).
//
// The receiving gateway sets x-forwarded-client-cert as Istio's gateways
// do (forward_client_cert_details SANITIZE_SET with subject, cert, URI
// and DNS details, pilot/pkg/networking/core/gateway.go).

// trustDomain is Istio's default trust domain.
const trustDomain = "cluster.local"

// meshClientIdentity is the identity of the certificate Faultline's
// listeners present when they open mTLS: the default service account of
// the default namespace, a workload that names none. One identity serves
// every sending listener, as Faultline's clusters are shared by them.
const meshClientIdentity = "spiffe://" + trustDomain + "/ns/default/sa/default"

// meshALPN is the ALPN of Istio's in-mesh HTTP/1.1 clusters with
// metadata exchange (pilot/pkg/networking/util ALPNInMeshWithMxc).
var meshALPN = []string{"istio-peer-exchange", "istio"}

// gatewayIdentity is the SPIFFE identity of a gateway's workload. A
// Gateway that selects "istio: NAME" (istio-ingressgateway,
// istio-egressgateway, ...) runs as Istio's installation names it:
// service account istio-NAME-service-account in istio-system. Any other
// selector's gateway runs, as far as Faultline can know, under a service
// account named after the Gateway in its namespace.
func gatewayIdentity(gw *scenarios.Gateway) string {
	if v := gw.Spec.Selector["istio"]; v != "" {
		name := v
		if !strings.HasPrefix(name, "istio-") {
			name = "istio-" + name
		}
		return "spiffe://" + trustDomain + "/ns/istio-system/sa/" + name + "-service-account"
	}
	return "spiffe://" + trustDomain + "/ns/" + namespace(gw.Metadata) + "/sa/" + gw.Metadata.Name
}

// findGateway is the Gateway a spec.services[].gateway names ("name" or
// "namespace/name").
func (b *builder) findGateway(name string) *scenarios.Gateway {
	for _, gw := range b.doc.Gateways {
		if gw.Metadata.Name == name || namespace(gw.Metadata)+"/"+gw.Metadata.Name == name {
			return gw
		}
	}
	return nil
}

// meshMTLSPort reports whether gw's servers on port terminate the mesh's
// mTLS.
func meshMTLSPort(gw *scenarios.Gateway, port uint32) bool {
	for i := range gw.Spec.Servers {
		if s := &gw.Spec.Servers[i]; s.Port.Number == port && meshMTLS(s) {
			return true
		}
	}
	return false
}

// clusterTLS is the TLS a cluster's connections open with: origination
// (SIMPLE, MUTUAL), the mesh's mTLS to a gateway listener (ISTIO_MUTUAL),
// or none.
func (b *builder) clusterTLS(blk policyBlock[scenarios.ClientTLSSettings], svc *service, port uint32, cluster string) *upstreamTLS {
	t := blk.v
	if t == nil || !strings.EqualFold(t.Mode, "ISTIO_MUTUAL") {
		return b.originationTLS(blk, svc.name)
	}
	gwName, ok := svc.gateway[port]
	if !ok {
		return nil // no sidecar at the endpoints: plain text
	}
	gw := b.findGateway(gwName)
	if gw == nil {
		return nil // reported where the binding is resolved
	}
	if !meshMTLSPort(gw, port) {
		b.warnf("%s %s.mode: ISTIO_MUTUAL to Gateway %s's listener on port %d, whose servers are not ISTIO_MUTUAL: the mTLS handshake fails there, as it would in Istio (503 UF)", blk.label, blk.path, gw.Metadata.Name, port)
	}
	ca, err := b.ca()
	if err != nil {
		b.errorf(blk.label, blk.path+".mode", "%v", err)
		return nil
	}
	cert, err := ca.IssueWorkload(meshClientIdentity)
	if err != nil {
		b.errorf(blk.label, blk.path+".mode", "%v", err)
		return nil
	}
	sni := t.SNI
	if sni == "" {
		sni = cluster
	}
	sans := t.SubjectAltNames
	if len(sans) == 0 {
		sans = []string{gatewayIdentity(gw)}
	}
	cfg := &tls.Config{
		ServerName:         sni,
		NextProtos:         meshALPN,
		MinVersion:         tls.VersionTLS12,
		Certificates:       []tls.Certificate{cert},
		RootCAs:            ca.pool,
		InsecureSkipVerify: true, // the chain and the SAN are checked below
		VerifyConnection:   verifyChainAndSAN(ca.pool, sans, nil),
	}
	fp := sha256.New()
	fmt.Fprintf(fp, "ISTIO_MUTUAL|%s|%v|", sni, sans)
	fp.Write(ca.rootPEM)
	return &upstreamTLS{cfg: cfg, fp: hex.EncodeToString(fp.Sum(nil))}
}

// meshServerTLS is an ISTIO_MUTUAL server's configuration: a certificate
// of the run's CA naming the gateway's identity (and the server's hosts,
// for the run's own load, which verifies the name it asks for), client
// certificates of that CA required.
func (b *builder) meshServerTLS(label, path string, gw *scenarios.Gateway, s *scenarios.Server) (*tls.Config, bool) {
	ca, err := b.ca()
	if err != nil {
		b.errorf(label, path, "%v", err)
		return nil, false
	}
	cert, err := ca.IssueWorkload(gatewayIdentity(gw), certNames(s.Hosts)...)
	if err != nil {
		b.errorf(label, path, "%v", err)
		return nil, false
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca.pool,
		// http/1.1 only: a client that offers just the mesh's names is
		// answered without ALPN (configForHello), as Go's HTTP server
		// would hand a connection of another name to a handler it has
		// not; the HTTP/1.1 inside is the same.
		NextProtos: []string{"http/1.1"},
		MinVersion: tls.VersionTLS12,
		MaxVersion: tls.VersionTLS13,
	}, true
}

// headerXFCC is Envoy's x-forwarded-client-cert.
const headerXFCC = "X-Forwarded-Client-Cert"

// xfccHandler sets x-forwarded-client-cert on the requests of a listener
// that terminates TLS, as Istio's gateways do (SANITIZE_SET): a value
// the client sent is dropped, and on an mTLS connection replaced with
// the client certificate's details.
type xfccHandler struct {
	p    *Proxy
	id   int
	next http.Handler
}

// xfcc wraps a TLS listener's handler.
func (p *Proxy) xfcc(name string, next http.Handler) http.Handler {
	_, id := p.reg.listener(name)
	return &xfccHandler{p: p, id: id, next: next}
}

func (h *xfccHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Header.Del(headerXFCC)
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		r.Header.Set(headerXFCC, xfccValue(h.local(r.TLS.ServerName), r.TLS.PeerCertificates[0]))
	}
	h.next.ServeHTTP(w, r)
}

// local is the certificate the listener presented for sni, nil when the
// table changed since.
func (h *xfccHandler) local(sni string) *x509.Certificate {
	t := h.p.table.Load()
	if t == nil {
		return nil
	}
	lt := t.listener(h.id)
	if lt == nil || lt.tls == nil {
		return nil
	}
	cfg, err := lt.tls.configFor(sni)
	if err != nil || len(cfg.Certificates) == 0 {
		return nil
	}
	return cfg.Certificates[0].Leaf
}

// xfccValue is Envoy's XFCC element for a client certificate: By (the
// local certificate's URI SAN), Hash (SHA-256 of the client
// certificate's DER, hex), Cert (its PEM, URL-encoded), Subject, URI and
// DNS, in Envoy's order.
func xfccValue(local, peer *x509.Certificate) string {
	var sb strings.Builder
	if local != nil && len(local.URIs) > 0 {
		sb.WriteString("By=" + local.URIs[0].String() + ";")
	}
	sum := sha256.Sum256(peer.Raw)
	sb.WriteString("Hash=" + hex.EncodeToString(sum[:]))
	sb.WriteString(`;Cert="` + percentEncode(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: peer.Raw})) + `"`)
	sb.WriteString(`;Subject="` + peer.Subject.String() + `"`)
	for _, u := range peer.URIs {
		sb.WriteString(";URI=" + u.String())
	}
	for _, d := range peer.DNSNames {
		sb.WriteString(";DNS=" + d)
	}
	return sb.String()
}

// percentEncode escapes every byte but letters, digits and "-._~", as
// Envoy's XFCC Cert value ("-----BEGIN%20CERTIFICATE-----%0a...").
func percentEncode(b []byte) string {
	const hexDigits = "0123456789abcdef"
	out := make([]byte, 0, len(b)*3/2)
	for _, c := range b {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '.', c == '_', c == '~':
			out = append(out, c)
		default:
			out = append(out, '%', hexDigits[c>>4], hexDigits[c&15])
		}
	}
	return string(out)
}
