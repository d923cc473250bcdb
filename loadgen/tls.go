package loadgen

import (
	"errors"
	"net"
	"net/url"
	"os"
	"path/filepath"

	"fortio.org/fortio/fhttp"
)

// TLS configures the TLS of an https:// load: whom the load trusts, the
// client certificate it presents, and the server name it asks for.
type TLS struct {
	// CACert is a PEM bundle of the roots the server's certificate must
	// chain to. Nil means the system's roots.
	CACert []byte
	// Cert and Key are a PEM client certificate and its private key,
	// presented to a server that asks for one (a MUTUAL gateway). Nil
	// presents none.
	Cert, Key []byte
	// ServerName is the name sent as SNI and verified in the server's
	// certificate, when the URL's host is the listener's address rather
	// than the server's name: the URL's host then only says where to
	// connect. Empty uses the URL's host.
	ServerName string
	// Insecure skips verifying the server's certificate.
	Insecure bool
}

// validate reports a TLS that cannot be used with url raw.
func (t *TLS) validate(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return nil // the URL's own error is reported
	}
	if u.Scheme != "https" {
		return errors.New("is set, and the URL is not https://")
	}
	if (len(t.Cert) == 0) != (len(t.Key) == 0) {
		return errors.New("a client certificate needs both Cert and Key")
	}
	if t.ServerName != "" && net.ParseIP(u.Hostname()) == nil {
		return errors.New("ServerName needs the URL's host to be an IP address (the address to connect to)")
	}
	return nil
}

// applyTLS writes t's PEM files under dir for fortio, which reads them by
// path, and points fortio at them; with a ServerName, the URL names the
// server and fortio's resolve option the address to connect to.
func applyTLS(o *fhttp.HTTPOptions, t *TLS, dir string) error {
	write := func(name string, b []byte) (string, error) {
		if len(b) == 0 {
			return "", nil
		}
		p := filepath.Join(dir, name)
		return p, os.WriteFile(p, b, 0o600)
	}
	var err error
	if o.CACert, err = write("ca.pem", t.CACert); err != nil {
		return err
	}
	if o.Cert, err = write("cert.pem", t.Cert); err != nil {
		return err
	}
	if o.Key, err = write("key.pem", t.Key); err != nil {
		return err
	}
	o.Insecure = t.Insecure
	if t.ServerName != "" {
		u, err := url.Parse(o.URL)
		if err != nil {
			return err
		}
		o.Resolve = u.Hostname()
		if p := u.Port(); p != "" {
			u.Host = net.JoinHostPort(t.ServerName, p)
		} else {
			u.Host = t.ServerName
		}
		o.URL = u.String()
	}
	return nil
}
