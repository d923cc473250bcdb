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

// A DestinationRule's caCrl (or its credential's ca.crl) revokes an
// endpoint's certificate: the handshake fails as BoringSSL fails it, 503
// UF with "certificate revoked"; an endpoint whose certificate the list
// does not name is served.
func TestOriginationCRL(t *testing.T) {
	ca, _ := proxy.NewCA()
	serve := func(cert tls.Certificate) string {
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "ok")
		}))
		srv.Config.ErrorLog = log.New(io.Discard, "", 0)
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
		srv.StartTLS()
		t.Cleanup(srv.Close)
		return strings.TrimPrefix(srv.URL, "https://")
	}
	revokedCert, _ := ca.Issue([]string{"secure.example.com"}, false)
	goodCert, _ := ca.Issue([]string{"secure.example.com"}, false)
	crl, err := ca.RevokePEM(revokedCert.Leaf)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := proxy.NewCA()
	foreignCRL, _ := other.RevokePEM()
	files := fstest.MapFS{
		"etc/certs/ca.pem":    {Data: ca.RootPEM()},
		"etc/certs/ca.crl":    {Data: crl},
		"etc/certs/other.crl": {Data: foreignCRL},
		"upstream-ca/ca.crt":  {Data: ca.RootPEM()},
		"upstream-ca/ca.crl":  {Data: crl},
	}
	withFiles := func(o *proxy.Options) { o.Credentials = files }
	revoked, good := serve(revokedCert), serve(goodCert)
	const reason = "TLS_error:|268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:verify cert failed: X509_verify_cert: certificate verification error at depth 0: certificate revoked:TLS_error_end"
	for _, tc := range []struct{ name, tls string }{
		{"caCrl file", "{mode: SIMPLE, caCertificates: /etc/certs/ca.pem, caCrl: /etc/certs/ca.crl}"},
		{"caCrl with subjectAltNames", "{mode: SIMPLE, caCertificates: /etc/certs/ca.pem, caCrl: /etc/certs/ca.crl, subjectAltNames: [secure.example.com]}"},
		{"credential ca.crl", "{mode: SIMPLE, credentialName: upstream-ca}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t, originationDoc(revoked, tc.tls), withFiles)
			r := h.get("secure.example.com", "/")
			if r.code != 503 || !strings.Contains(r.body, "transport failure reason: "+reason) || h.flag("UF") != 1 {
				t.Errorf("revoked: %d %q (UF %d), want 503 UF %s", r.code, r.body, h.flag("UF"), reason)
			}
			expect(t, start(t, originationDoc(good, tc.tls), withFiles).get("secure.example.com", "/"), 200, "ok")
		})
	}
	// A list of the CA's name that the CA did not sign (another run's CA
	// has the same subject) fails every certificate, as BoringSSL's
	// CRL_CHECK_ALL fails them.
	h := start(t, originationDoc(good, "{mode: SIMPLE, caCertificates: /etc/certs/ca.pem, caCrl: /etc/certs/other.crl}"), withFiles)
	if r := h.get("secure.example.com", "/"); r.code != 503 || !strings.Contains(r.body, "depth 0: CRL signature failure:TLS_error_end") {
		t.Errorf("foreign CRL: %d %q, want 503 CRL signature failure", r.code, r.body)
	}
	// insecureSkipVerify turns the check off with the rest of verification.
	expect(t, start(t, originationDoc(revoked, "{mode: SIMPLE, insecureSkipVerify: true}"), withFiles).get("secure.example.com", "/"), 200, "ok")
	// A caCrl the directory lacks does not compile.
	if _, err := proxy.Compile(parse(t, originationDoc(good, "{mode: SIMPLE, caCertificates: /etc/certs/ca.pem, caCrl: /nope.crl}")), proxy.Options{Credentials: files}, nil); err == nil || !strings.Contains(err.Error(), "spec.trafficPolicy.tls.caCrl") {
		t.Errorf("missing caCrl: %v, want an error at spec.trafficPolicy.tls.caCrl", err)
	}
}
