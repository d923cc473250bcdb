package loadgen_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/loadgen"
)

// testCA signs certificates for the TLS tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a PEM certificate and key for name.
func (ca *testCA) issue(t *testing.T, name string, client bool) ([]byte, []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	usage := x509.ExtKeyUsageServerAuth
	if client {
		usage = x509.ExtKeyUsageClientAuth
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{usage}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// An https:// load trusts the CA it is given, asks for the server name it
// is given while connecting to the URL's address, and presents its client
// certificate to a server that requires one; both fortio clients do.
func TestRunHTTPSWithCAClientCertificateAndServerName(t *testing.T) {
	ca := newTestCA(t)
	certPEM, keyPEM := ca.issue(t, "app.example.com", false)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS.ServerName != "app.example.com" || len(r.TLS.PeerCertificates) == 0 || r.Host != "app.example.com" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	clientCert, clientKey := ca.issue(t, "load", true)
	for _, std := range []bool{false, true} {
		spec := loadgen.Spec{URL: srv.URL + "/", Requests: 6, Connections: 2, StdClient: std,
			Header: http.Header{"Host": {"app.example.com"}},
			TLS:    &loadgen.TLS{CACert: ca.pem, Cert: clientCert, Key: clientKey, ServerName: "app.example.com"}}
		res, err := loadgen.NewFortio().Run(context.Background(), spec)
		if err != nil {
			t.Fatalf("std client %v: %v", std, err)
		}
		if res.Codes[200] != 6 {
			t.Errorf("std client %v: codes %v, want 6 × 200", std, res.Codes)
		}
		// Without the client certificate the server refuses every call.
		spec.TLS = &loadgen.TLS{CACert: ca.pem, ServerName: "app.example.com"}
		res, err = loadgen.NewFortio().Run(context.Background(), spec)
		if err != nil {
			t.Fatalf("std client %v, no client certificate: %v", std, err)
		}
		if res.Codes[200] != 0 || res.Errors == 0 {
			t.Errorf("std client %v, no client certificate: codes %v, want only errors", std, res.Codes)
		}
	}
	if _, err := loadgen.NewFortio().Run(context.Background(), loadgen.Spec{URL: "http://127.0.0.1:1/", TLS: &loadgen.TLS{}}); err == nil || !strings.Contains(err.Error(), "spec.tls") {
		t.Errorf("TLS on an http:// URL: %v, want a spec.tls error", err)
	}
}
