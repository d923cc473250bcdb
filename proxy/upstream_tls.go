package proxy

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/faultline/faultline/scenarios"
)

// TLS origination (docs/istio.md, Client TLS): a cluster whose
// DestinationRule sets tls.mode SIMPLE or MUTUAL opens its connections to
// the endpoints over TLS, as the upstream TLS context istiod builds
// (pilot/pkg/networking/core/cluster_tls.go):
//
//   - sni: the DestinationRule's; without one, from Istio 1.21 (where
//     ENABLE_AUTO_SNI became the default; 1.26 removed the flag) istiod
//     sets Envoy's auto_sni, and auto_san_validation unless
//     subjectAltNames or insecureSkipVerify are set: each request's
//     Host, without its port, is the SNI of the connection that carries
//     it and the name its certificate must carry, and connections are
//     pooled per SNI (upstream_pool.go). An IP address Host, and every
//     connection of a tcp or tls route, take the destination host, which
//     earlier releases' clusters use throughout;
//   - the endpoint's certificate is verified against caCertificates (or
//     the credential's ca.crt), else the system roots
//     (VERIFY_CERTIFICATE_AT_CLIENT), its SAN against subjectAltNames,
//     else against the SNI, and its chain against caCrl (or the
//     credential's ca.crl, tls_crl.go); insecureSkipVerify turns all
//     three off;
//   - MUTUAL presents clientCertificate/privateKey, or credentialName's.
//
// A handshake that fails is a connect failure: 503 UF, with Envoy's
// transport failure reason (tlsFailure). ISTIO_MUTUAL is tls_mesh.go's.

// firstIstioWithAutoSNI is the first Istio minor release whose istiod
// sets auto_sni by default.
const firstIstioWithAutoSNI = 21

// upstreamTLS is a cluster's origination configuration.
type upstreamTLS struct {
	cfg *tls.Config
	fp  string // what the configuration was made of, for the fingerprint
	// autoSNI: each request's Host is the SNI (and, as cfg verifies
	// the name, the SAN) of its connection.
	autoSNI bool
}

// originationTLS compiles a cluster's tls block; nil when it speaks
// plain text (DISABLE, ISTIO_MUTUAL, none) or is in error.
func (b *builder) originationTLS(blk policyBlock[scenarios.ClientTLSSettings], host string) *upstreamTLS {
	t := blk.v
	if t == nil {
		return nil
	}
	mode := strings.ToUpper(t.Mode)
	if mode != "SIMPLE" && mode != "MUTUAL" {
		return nil
	}
	sni := t.SNI
	if sni == "" {
		sni = host
	}
	insecure := t.InsecureSkipVerify != nil && *t.InsecureSkipVerify
	autoSNI := t.SNI == "" && b.doc.Istio.AtLeast(firstIstioWithAutoSNI)
	cfg := &tls.Config{ServerName: sni, NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12}
	fp := sha256.New()
	fmt.Fprintf(fp, "%s|%s|%v|%v|%v|", mode, sni, t.SubjectAltNames, t.InsecureSkipVerify, autoSNI)
	needCA := t.CACertificates != "" || t.CredentialName != "" && mode == "MUTUAL"
	if (mode == "MUTUAL" || needCA || t.CredentialName != "" || t.CACrl != "" && !insecure) && b.opts.Credentials == nil {
		b.errorf(blk.label, blk.path+credentialField(t), "names credentials, and no credentials directory is configured (--credentials-dir)")
		return nil
	}
	var cred credential
	var err error
	field := credentialField(t)
	switch {
	case t.CredentialName != "":
		// A MUTUAL credential holds the client certificate; a SIMPLE one
		// only the CA bundle.
		cred, err = loadSecret(b.opts.Credentials, t.CredentialName, mode == "MUTUAL", mode != "MUTUAL" || t.CACertificates == "")
	case mode == "MUTUAL" || t.CACertificates != "":
		cred, err = loadFiles(b.opts.Credentials, t.ClientCertificate, t.PrivateKey, t.CACertificates)
	}
	if err == nil && mode == "MUTUAL" && cred.cert == nil {
		err = errors.New("MUTUAL needs a client certificate and its private key")
	}
	if err == nil && t.CredentialName != "" && t.CACertificates != "" {
		var ca credential
		ca, err = loadFiles(b.opts.Credentials, "", "", t.CACertificates)
		cred.ca, cred.caPEM = ca.ca, ca.caPEM
	}
	if err != nil {
		b.errorf(blk.label, blk.path+field, "%v (in the credentials directory)", err)
		return nil
	}
	if t.CACrl != "" && !insecure {
		if cred.crl, cred.crlPEM, err = loadCRL(b.opts.Credentials, t.CACrl); err != nil {
			b.errorf(blk.label, blk.path+".caCrl", "%v (in the credentials directory)", err)
			return nil
		}
	}
	if cred.cert != nil {
		cfg.Certificates = []tls.Certificate{*cred.cert}
		for _, c := range cred.cert.Certificate {
			fp.Write(c)
		}
	}
	if cred.ca != nil {
		cfg.RootCAs = cred.ca
		fp.Write(cred.caPEM)
	}
	if cred.crl != nil {
		fp.Write(cred.crlPEM)
	}
	switch {
	case insecure:
		cfg.InsecureSkipVerify = true
	case len(t.SubjectAltNames) > 0:
		// Verify the chain here, the SAN against the list, not the SNI.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = verifyChainAndSAN(cfg.RootCAs, t.SubjectAltNames, cred.crl)
	case cred.crl != nil:
		cfg.VerifyConnection = cred.crl.verifyChains
	}
	return &upstreamTLS{cfg: cfg, fp: hex.EncodeToString(fp.Sum(nil)), autoSNI: autoSNI}
}

// forSNI is the configuration of the connections whose SNI is sni.
func (u *upstreamTLS) forSNI(sni string) *tls.Config {
	c := u.cfg.Clone()
	c.ServerName = sni
	return c
}

// credentialField is the field a credential problem is reported at.
func credentialField(t *scenarios.ClientTLSSettings) string {
	switch {
	case t.CredentialName != "":
		return ".credentialName"
	case t.ClientCertificate != "":
		return ".clientCertificate"
	case t.CACertificates != "":
		return ".caCertificates"
	}
	return ".mode"
}

// verifyChainAndSAN verifies the peer's chain against roots (nil: the
// system's) and crl (when set), and its leaf's SAN against sans, as
// Envoy's match_typed_subject_alt_names.
func verifyChainAndSAN(roots *x509.CertPool, sans []string, crl *crlSet) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("proxy: upstream presented no certificate")
		}
		opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
		for _, c := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(c)
		}
		chains, err := cs.PeerCertificates[0].Verify(opts)
		if err != nil {
			return err
		}
		if crl != nil {
			if err := crl.check(chains[0], time.Now()); err != nil {
				return err
			}
		}
		if !hasSAN(cs.PeerCertificates[0], sans) {
			return errSANMismatch
		}
		return nil
	}
}

// errSANMismatch is a verified certificate whose SANs match none of
// subjectAltNames.
var errSANMismatch = errors.New("proxy: upstream certificate SAN matches no subjectAltNames")

// handshake runs the origination handshake on conn within ctx, with cfg
// (nil: the cluster's).
func (u *upstreamTLS) handshake(ctx context.Context, conn net.Conn, cfg *tls.Config) (net.Conn, error) {
	if cfg == nil {
		cfg = u.cfg
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, &tlsError{err: err}
	}
	return tc, nil
}

// tlsError is a failed origination handshake.
type tlsError struct{ err error }

func (e *tlsError) Error() string { return "tls handshake: " + e.err.Error() }
func (e *tlsError) Unwrap() error { return e.err }

// tlsFailure is Envoy's transport failure reason for a failed upstream
// handshake, as BoringSSL reports it ("TLS_error:|<code>:SSL
// routines:OPENSSL_internal:<reason>:TLS_error_end"): a certificate that
// does not verify is CERTIFICATE_VERIFY_FAILED (with "verify SAN list"
// when only its SAN is wrong, and BoringSSL's X509_verify_cert detail
// when a CRL fails it: "certificate revoked"), a peer that does not speak TLS
// WRONG_VERSION_NUMBER; other failures carry Go's message.
func tlsFailure(err error) string {
	const pre, end = "TLS_error:|", ":TLS_error_end"
	var (
		revoked  *crlError
		unknown  x509.UnknownAuthorityError
		invalid  x509.CertificateInvalidError
		hostname x509.HostnameError
		verify   *tls.CertificateVerificationError
		record   tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &revoked):
		return pre + "268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:verify cert failed: " + revoked.Error() + end
	case errors.As(err, &hostname) || errors.Is(err, errSANMismatch):
		return pre + "268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:verify cert failed: verify SAN list" + end
	case errors.As(err, &unknown) || errors.As(err, &invalid) || errors.As(err, &verify):
		return pre + "268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED" + end
	case errors.As(err, &record):
		return pre + "268435703:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER" + end
	}
	var te *tlsError
	if errors.As(err, &te) {
		err = te.err
	}
	return pre + err.Error() + end
}

// connect dials addr and, when the cluster originates TLS, completes the
// handshake within the connect timeout: Envoy counts a TLS connection as
// connected once its handshake is done.
func (t *clusterTransport) connect(ctx context.Context, addr string) (net.Conn, error) {
	return t.connectTLS(ctx, addr, nil)
}

// connectTLS is connect with the TLS configuration cfg (nil: the
// cluster's).
func (t *clusterTransport) connectTLS(ctx context.Context, addr string, cfg *tls.Config) (net.Conn, error) {
	if t.tls == nil {
		return t.dialer.DialContext(ctx, "tcp", addr)
	}
	if t.dialer.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t.dialer.Timeout)
		defer cancel()
	}
	conn, err := t.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return t.tls.handshake(ctx, conn, cfg)
}
