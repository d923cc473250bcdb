package proxy_test

import (
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/faultline/faultline/proxy"
)

// newTLSUpstream is an HTTPS upstream with a certificate of ca for names;
// clientCA, when set, requires a client certificate it signed. It
// answers "<SNI> <client certificate CN>".
func newTLSUpstream(t *testing.T, ca *proxy.CA, clientCA *proxy.CA, names ...string) *httptest.Server {
	t.Helper()
	srv := newUnstartedTLSUpstream(t, ca, clientCA, names...)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// newUnstartedTLSUpstream is newTLSUpstream before it starts, for a test
// that sets more of its server up first.
func newUnstartedTLSUpstream(t *testing.T, ca *proxy.CA, clientCA *proxy.CA, names ...string) *httptest.Server {
	t.Helper()
	cert, err := ca.Issue(names, false)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		cn := "-"
		if len(r.TLS.PeerCertificates) > 0 {
			cn = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		_, _ = io.WriteString(w, r.TLS.ServerName+" "+cn)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are the point
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	if clientCA != nil {
		srv.TLS.ClientAuth = tls.RequireAndVerifyClientCert
		srv.TLS.ClientCAs = caPool(clientCA)
	}
	return srv
}

// originationDoc binds secure.example.com to addr with a DestinationRule
// whose trafficPolicy.tls is tlsBlock.
func originationDoc(addr, tlsBlock string) string {
	return experiment(svc("secure.example.com", 80, addr), `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: secure}
spec:
  host: secure.example.com
  trafficPolicy:
    connectionPool: {http: {maxRetries: 0}}
    tls: `+tlsBlock+`
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: secure}
spec:
  hosts: [secure.example.com]
  http:
  - route: [{destination: {host: secure.example.com}}]
    retries: {attempts: 0}
`)
}

// A DestinationRule in SIMPLE makes the proxy's connections to the
// endpoints TLS: SNI the destination host unless sni says otherwise, the
// certificate verified against caCertificates and its SAN against
// subjectAltNames (else the SNI). A certificate that fails is Envoy's
// connect failure with its TLS reason: 503 UF.
func TestOriginationSimpleVerifiesTheEndpoint(t *testing.T) {
	ca, _ := proxy.NewCA()
	up := newTLSUpstream(t, ca, nil, "secure.example.com")
	addr := strings.TrimPrefix(up.URL, "https://")
	files := fstest.MapFS{"etc/certs/ca.pem": {Data: ca.RootPEM()}}
	withFiles := func(o *proxy.Options) { o.Credentials = files }
	for _, tc := range []struct {
		name, tls, body string
		code            int
		reason          string
	}{
		{name: "sni defaults to the host and the SAN is checked against it", tls: "{mode: SIMPLE, caCertificates: /etc/certs/ca.pem}",
			code: 200, body: "secure.example.com -"},
		{name: "subjectAltNames and sni", tls: "{mode: SIMPLE, caCertificates: /etc/certs/ca.pem, sni: other.example.org, subjectAltNames: [secure.example.com]}",
			code: 200, body: "other.example.org -"},
		{name: "a SAN outside subjectAltNames fails", tls: "{mode: SIMPLE, caCertificates: /etc/certs/ca.pem, subjectAltNames: [spiffe://cluster.local/ns/default/sa/other]}",
			code: 503, reason: "TLS_error:|268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:verify cert failed: verify SAN list:TLS_error_end"},
		{name: "an sni the certificate does not name fails", tls: "{mode: SIMPLE, caCertificates: /etc/certs/ca.pem, sni: other.example.org}",
			code: 503, reason: "TLS_error:|268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:verify cert failed: verify SAN list:TLS_error_end"},
		{name: "the system roots do not know the run's CA", tls: "{mode: SIMPLE}",
			code: 503, reason: "TLS_error:|268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:TLS_error_end"},
		{name: "insecureSkipVerify accepts it", tls: "{mode: SIMPLE, insecureSkipVerify: true}",
			code: 200, body: "secure.example.com -"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t, originationDoc(addr, tc.tls), withFiles)
			r := h.get("secure.example.com", "/")
			if tc.code == 200 {
				expect(t, r, 200, tc.body)
				return
			}
			if r.code != tc.code || !strings.Contains(r.body, "reset reason: remote connection failure, transport failure reason: "+tc.reason) {
				t.Fatalf("got %d %q, want %d with reason %s", r.code, r.body, tc.code, tc.reason)
			}
			if h.flag("UF") != 1 {
				t.Errorf("flag UF counted %d, want 1", h.flag("UF"))
			}
			lines := h.accessLog()
			if want := "upstream_reset_before_response_started{remote_connection_failure|TLS_error:|268435581:SSL_routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED"; !strings.Contains(lines[0], want) || !strings.Contains(lines[0], " 503 UF ") {
				t.Errorf("access log %q, want 503 UF and %s", lines[0], want)
			}
		})
	}
	// A plain-text endpoint under SIMPLE: the handshake reads an HTTP
	// answer, not a TLS record.
	plain := newUpstream(t, "plain")
	h := start(t, originationDoc(plain.addr(), "{mode: SIMPLE}"))
	if r := h.get("secure.example.com", "/"); r.code != 503 || !strings.Contains(r.body, "WRONG_VERSION_NUMBER:TLS_error_end") {
		t.Errorf("plain endpoint: got %d %q, want 503 WRONG_VERSION_NUMBER", r.code, r.body)
	}
}

// MUTUAL presents the client certificate the DestinationRule names, by
// file paths or by credentialName, to an endpoint that requires one; a
// MUTUAL rule whose credential the directory lacks does not compile.
func TestOriginationMutualPresentsClientCertificate(t *testing.T) {
	ca, _ := proxy.NewCA()
	up := newTLSUpstream(t, ca, ca, "secure.example.com")
	addr := strings.TrimPrefix(up.URL, "https://")
	certPEM, keyPEM, err := ca.IssuePEM([]string{"sleep.default"}, true)
	if err != nil {
		t.Fatal(err)
	}
	files := fstest.MapFS{
		"etc/certs/client.pem":             {Data: certPEM},
		"etc/certs/client-key.pem":         {Data: keyPEM},
		"etc/certs/ca.pem":                 {Data: ca.RootPEM()},
		"client-credential/tls.crt":        {Data: certPEM},
		"client-credential/tls.key":        {Data: keyPEM},
		"client-credential/ca.crt":         {Data: ca.RootPEM()},
		"simple-credential/ca.crt":         {Data: ca.RootPEM()},
		"nginx-client-certs/tls.crt":       {Data: certPEM},
		"nginx-client-certs/tls.key":       {Data: keyPEM},
		"nginx-client-certs-cacert/ca.crt": {Data: ca.RootPEM()},
	}
	for _, tc := range []struct{ name, tls string }{
		{"files", "{mode: MUTUAL, clientCertificate: /etc/certs/client.pem, privateKey: /etc/certs/client-key.pem, caCertificates: /etc/certs/ca.pem}"},
		{"credentialName", "{mode: MUTUAL, credentialName: client-credential}"},
		{"credentialName with a -cacert secret", "{mode: MUTUAL, credentialName: nginx-client-certs}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t, originationDoc(addr, tc.tls), func(o *proxy.Options) { o.Credentials = files })
			expect(t, h.get("secure.example.com", "/"), 200, "secure.example.com sleep.default")
		})
	}
	// SIMPLE to an endpoint that requires a client certificate: under
	// TLS 1.3 the client's handshake completes, and the endpoint's refusal
	// ends the connection before a response: 503 UC.
	h := start(t, originationDoc(addr, "{mode: SIMPLE, credentialName: simple-credential}"), func(o *proxy.Options) { o.Credentials = files })
	if r := h.get("secure.example.com", "/"); r.code != 503 || !strings.Contains(r.body, "reset reason: connection termination") {
		t.Errorf("SIMPLE to a MUTUAL endpoint: got %d %q, want 503 connection termination", r.code, r.body)
	}
	for _, tc := range []struct{ name, tls, opts, field string }{
		{"a credential the directory lacks", "{mode: MUTUAL, credentialName: missing}", "files", "spec.trafficPolicy.tls.credentialName"},
		{"a file the directory lacks", "{mode: MUTUAL, clientCertificate: /nope.pem, privateKey: /etc/certs/client-key.pem}", "files", "spec.trafficPolicy.tls.clientCertificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := proxy.Options{}
			if tc.opts == "files" {
				o.Credentials = files
			}
			_, err := proxy.Compile(parse(t, originationDoc(addr, tc.tls)), o, nil)
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("compile: %v, want an error at %s", err, tc.field)
			}
		})
	}
}
