package proxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"strings"
	"time"
)

// CA is a local certificate authority made for one run: an ECDSA P-256
// root, short-lived, that signs the certificates of Gateway servers
// configured with none the run can read, and the client certificates of
// the run's own load. Nothing outside the run trusts it; the load trusts
// its root (RootPEM). It plays the part of the Kubernetes secrets an
// Istio gateway reads its credentials from (docs/istio.md, Gateways).
type CA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	rootPEM []byte
	pool    *x509.CertPool
	ttl     time.Duration
}

// CALifetime is how long a run's CA and the certificates it signs are
// valid: longer than any run Faultline's limits allow.
const CALifetime = 48 * time.Hour

// RevokePEM is a certificate revocation list of the CA, PEM-encoded,
// listing the serial numbers of certs as revoked, valid for the CA's
// lifetime: what a DestinationRule's caCrl file holds.
func (ca *CA) RevokePEM(certs ...*x509.Certificate) ([]byte, error) {
	now := time.Now()
	tmpl := &x509.RevocationList{Number: serial(), ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(ca.ttl)}
	for _, c := range certs {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: now})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.cert, ca.key)
	if err != nil {
		return nil, fmt.Errorf("proxy: ca: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), nil
}

// NewCA makes a fresh CA valid for CALifetime.
func NewCA() (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("proxy: ca: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{Organization: []string{"Faultline"}, CommonName: "Faultline run CA"},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(CALifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("proxy: ca: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("proxy: ca: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &CA{cert: cert, key: key, rootPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pool: pool, ttl: CALifetime}, nil
}

// RootPEM is the CA's certificate, PEM-encoded: what a client of the
// run's gateways trusts.
func (ca *CA) RootPEM() []byte { return ca.rootPEM }

// Issue signs a leaf certificate for names (DNS names, IP addresses; a
// "*.suffix" wildcard stays one) usable by a server, or by a client when
// client is set. The first name is the subject's common name.
func (ca *CA) Issue(names []string, client bool) (tls.Certificate, error) {
	certPEM, keyPEM, err := ca.IssuePEM(names, client)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

// IssuePEM is Issue with the certificate and its private key PEM-encoded,
// as files hold them.
func (ca *CA) IssuePEM(names []string, client bool) (certPEM, keyPEM []byte, err error) {
	usage := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	if client {
		usage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	cn := ""
	if len(names) > 0 {
		cn = names[0]
	}
	return ca.issue(names, cn, usage)
}

// IssueWorkload signs a mesh workload certificate, as istiod's CA signs
// one for a sidecar or gateway: no subject, the SPIFFE identity
// ("spiffe://cluster.local/ns/NS/sa/SA") as its URI SAN, usable by a
// server and a client alike. names (DNS names, IP addresses) are added
// as further SANs.
func (ca *CA) IssueWorkload(identity string, names ...string) (tls.Certificate, error) {
	certPEM, keyPEM, err := ca.issue(append([]string{identity}, names...), "", []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth})
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

// issue signs a leaf for names (DNS names, IP addresses, spiffe:// URIs)
// with subject common name cn (none when empty).
func (ca *CA) issue(names []string, cn string, usage []x509.ExtKeyUsage) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("proxy: ca: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(ca.ttl),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  usage,
		Subject:      pkix.Name{CommonName: cn},
	}
	for _, n := range names {
		if strings.HasPrefix(n, "spiffe://") {
			u, err := url.Parse(n)
			if err != nil {
				return nil, nil, fmt.Errorf("proxy: ca: %w", err)
			}
			tmpl.URIs = append(tmpl.URIs, u)
		} else if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if n != "" && n != "*" {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, nil, fmt.Errorf("proxy: ca: %w", err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("proxy: ca: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), nil
}

// serial is a random 128-bit certificate serial number.
func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	return n
}
