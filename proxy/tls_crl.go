package proxy

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"
)

// Certificate revocation lists (docs/istio.md, Client TLS): a
// DestinationRule's tls.caCrl file, or the ca.crl key (crl, beside a
// generic secret's cacert) of its credentialName, holds PEM CRLs that the
// peer's chain is checked against, as Envoy's CertificateValidationContext
// crl does: BoringSSL's X509_V_FLAG_CRL_CHECK and CRL_CHECK_ALL, so every
// certificate of the verified chain, root included, needs a valid CRL of
// its issuer, and one that lists it is revoked.

// crlSet is the parsed revocation lists of a CA bundle.
type crlSet struct {
	lists []*x509.RevocationList
}

// parseCRLs reads the "X509 CRL" PEM blocks of b; a file holding none is
// an error naming it.
func parseCRLs(b []byte, name string) (*crlSet, error) {
	s := &crlSet{}
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "X509 CRL" {
			continue
		}
		l, err := x509.ParseRevocationList(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		s.lists = append(s.lists, l)
	}
	if len(s.lists) == 0 {
		return nil, fmt.Errorf("%s holds no PEM certificate revocation list", name)
	}
	return s, nil
}

// crlError is a chain that fails its revocation check: BoringSSL's
// X509_V_ERR_* at the depth of the certificate (0: the leaf).
type crlError struct {
	depth  int
	reason string // X509_verify_cert_error_string's text
}

func (e *crlError) Error() string {
	return fmt.Sprintf("X509_verify_cert: certificate verification error at depth %d: %s", e.depth, e.reason)
}

// BoringSSL's texts for the revocation errors.
const (
	crlRevoked   = "certificate revoked"
	crlMissing   = "unable to get certificate CRL"
	crlExpired   = "CRL has expired"
	crlNotYet    = "CRL is not yet valid"
	crlSignature = "CRL signature failure"
)

// check verifies chain (leaf first, ending at a root) against the lists.
func (s *crlSet) check(chain []*x509.Certificate, now time.Time) error {
	for i, c := range chain {
		issuer := c
		if i+1 < len(chain) {
			issuer = chain[i+1]
		}
		if err := s.checkCert(c, issuer, now); err != "" {
			return &crlError{depth: i, reason: err}
		}
	}
	return nil
}

// checkCert finds the issuer's CRL for c and looks c up in it; "" means
// c is not revoked.
func (s *crlSet) checkCert(c, issuer *x509.Certificate, now time.Time) string {
	var found *x509.RevocationList
	reason := crlMissing
	for _, l := range s.lists {
		if !bytes.Equal(l.RawIssuer, c.RawIssuer) {
			continue
		}
		if l.CheckSignatureFrom(issuer) != nil {
			reason = crlSignature
			continue
		}
		switch {
		case now.Before(l.ThisUpdate):
			reason = crlNotYet
			continue
		case !l.NextUpdate.IsZero() && now.After(l.NextUpdate):
			reason = crlExpired
			continue
		}
		found = l
		break
	}
	if found == nil {
		return reason
	}
	for _, e := range found.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(c.SerialNumber) == 0 {
			return crlRevoked
		}
	}
	return ""
}

// verifyChains is a VerifyConnection check of the chains crypto/tls
// verified against the lists.
func (s *crlSet) verifyChains(cs tls.ConnectionState) error {
	if len(cs.VerifiedChains) == 0 {
		return errors.New("proxy: no verified chain to check against the CRL")
	}
	return s.check(cs.VerifiedChains[0], time.Now())
}
