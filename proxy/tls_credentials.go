package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// Credentials: what an Istio gateway or sidecar reads from Kubernetes
// secrets (credentialName) or from files mounted in its pod
// (serverCertificate, clientCertificate, privateKey, caCertificates),
// Faultline reads from one directory, Options.Credentials
// (docs/istio.md, Gateways and Client TLS):
//
//	<dir>/<credentialName>/tls.crt   certificate chain (secret key tls.crt, or cert)
//	<dir>/<credentialName>/tls.key   its private key   (tls.key, or key)
//	<dir>/<credentialName>/ca.crt    CA bundle that verifies the peer (ca.crt, or
//	                                 cacert), else <dir>/<credentialName>-cacert/ca.crt
//	<dir>/<credentialName>/ca.crl    revocation lists beside ca.crt (crl beside cacert)
//	<dir>/<path>                     a file path of the resource, leading "/" dropped
//
// as Istio's secret controller reads a TLS secret, a generic one, and the
// separate "-cacert" secret of a MUTUAL server.

// credential is what a credentialName or a set of file paths holds.
type credential struct {
	cert  *tls.Certificate // nil when none was asked for
	ca    *x509.CertPool   // nil when none was asked for or found
	caPEM []byte           // the bundle ca was read from
	// crl is the bundle's revocation lists: the secret's ca.crl (crl
	// beside cacert), as Istio's secret controller reads them; nil when
	// it has none.
	crl    *crlSet
	crlPEM []byte
}

// credentialFiles are the keys of a secret, in the order they are tried.
var (
	certKeys = []string{"tls.crt", "cert"}
	keyKeys  = []string{"tls.key", "key"}
	caKeys   = []string{"ca.crt", "cacert"}
)

// secretName strips the "kubernetes://" prefix Istio accepts on a
// credentialName.
func secretName(name string) string {
	return strings.TrimPrefix(name, "kubernetes://")
}

// filePath is a resource's file path inside the credentials directory.
func filePath(p string) string {
	return path.Clean(strings.TrimLeft(p, "/"))
}

// readFirst reads the first of dir/keys that exists.
func readFirst(fsys fs.FS, dir string, keys []string) ([]byte, string, error) {
	var first error
	for _, k := range keys {
		p := path.Join(dir, k)
		b, err := fs.ReadFile(fsys, p)
		if err == nil {
			return b, p, nil
		}
		if first == nil {
			first = err
		}
	}
	return nil, "", first
}

// loadSecret reads credentialName's certificate and key (when wantCert)
// and its CA bundle (when wantCA: the secret's own, else the "-cacert"
// secret's).
func loadSecret(fsys fs.FS, name string, wantCert, wantCA bool) (credential, error) {
	var c credential
	dir := secretName(name)
	if !fs.ValidPath(dir) || dir == "." {
		return c, fmt.Errorf("%q is not a credential name", name)
	}
	if wantCert {
		certPEM, _, err := readFirst(fsys, dir, certKeys)
		if err != nil {
			return c, fmt.Errorf("credential %s: no certificate (%s/tls.crt): %w", name, dir, err)
		}
		keyPEM, _, err := readFirst(fsys, dir, keyKeys)
		if err != nil {
			return c, fmt.Errorf("credential %s: no private key (%s/tls.key): %w", name, dir, err)
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return c, fmt.Errorf("credential %s: %w", name, err)
		}
		c.cert = &cert
	}
	if wantCA {
		caPEM, p, err := readFirst(fsys, dir, caKeys)
		if err != nil {
			caPEM, p, err = readFirst(fsys, dir+"-cacert", caKeys)
		}
		if err != nil {
			return c, fmt.Errorf("credential %s: no CA bundle (%s/ca.crt or %s-cacert/ca.crt): %w", name, dir, dir, err)
		}
		if c.ca, err = certPool(caPEM, p); err != nil {
			return c, err
		}
		c.caPEM = caPEM
		crlKey := path.Join(path.Dir(p), "ca.crl")
		if path.Base(p) == "cacert" {
			crlKey = path.Join(path.Dir(p), "crl")
		}
		if b, err := fs.ReadFile(fsys, crlKey); err == nil {
			if c.crl, err = parseCRLs(b, crlKey); err != nil {
				return c, fmt.Errorf("credential %s: %w", name, err)
			}
			c.crlPEM = b
		}
	}
	return c, nil
}

// loadCRL reads a caCrl file.
func loadCRL(fsys fs.FS, file string) (*crlSet, []byte, error) {
	b, err := fs.ReadFile(fsys, filePath(file))
	if err != nil {
		return nil, nil, err
	}
	s, err := parseCRLs(b, file)
	return s, b, err
}

// loadFiles reads a certificate and key, and a CA bundle, from file paths
// ("" leaves that part out).
func loadFiles(fsys fs.FS, certFile, keyFile, caFile string) (credential, error) {
	var c credential
	if certFile != "" || keyFile != "" {
		if certFile == "" || keyFile == "" {
			return c, errors.New("a certificate needs both its file and its private key's")
		}
		certPEM, err := fs.ReadFile(fsys, filePath(certFile))
		if err != nil {
			return c, err
		}
		keyPEM, err := fs.ReadFile(fsys, filePath(keyFile))
		if err != nil {
			return c, err
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return c, fmt.Errorf("%s, %s: %w", certFile, keyFile, err)
		}
		c.cert = &cert
	}
	if caFile != "" {
		caPEM, err := fs.ReadFile(fsys, filePath(caFile))
		if err != nil {
			return c, err
		}
		if c.ca, err = certPool(caPEM, caFile); err != nil {
			return c, err
		}
		c.caPEM = caPEM
	}
	return c, nil
}

// certPool parses a PEM bundle; one without a certificate is an error.
func certPool(pemBytes []byte, name string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, fmt.Errorf("%s holds no PEM certificate", name)
	}
	return pool, nil
}
