package scenarios_test

import "testing"

// tlsServer is an HTTPS server on 443 for bookinfo.example.com with the
// given tls block (flow YAML).
func tlsServer(tls string) string {
	return gateway("  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: [bookinfo.example.com]\n    tls: " + tls + "\n")
}

// Gateway servers that terminate TLS (SIMPLE, MUTUAL) are accepted with
// Istio's own rules: a credentialName, or a certificate and key (and a
// client CA bundle for MUTUAL); protocol versions are Envoy's names; what
// Go's TLS does not honour is a warning naming the field.
func TestValidateGatewayTerminatingTLS(t *testing.T) {
	runLintCases(t, "Gateway", []lintCase{
		{name: "simple with a credential", yaml: tlsServer("{mode: SIMPLE, credentialName: bookinfo-credential}")},
		{name: "mutual with a credential and versions", yaml: tlsServer("{mode: MUTUAL, credentialName: bookinfo-credential, minProtocolVersion: TLSV1_2, maxProtocolVersion: TLSV1_3, subjectAltNames: [client.example.com]}")},
		{name: "simple with files", yaml: tlsServer("{mode: SIMPLE, serverCertificate: /etc/certs/tls.crt, privateKey: /etc/certs/tls.key}")},
		{name: "simple needs a certificate and a key", yaml: tlsServer("{mode: SIMPLE}"),
			want: []want{
				errAt("spec.servers[0].tls.serverCertificate", "SIMPLE TLS requires a server certificate"),
				errAt("spec.servers[0].tls.privateKey", "SIMPLE TLS requires a private key"),
			}},
		{name: "mutual needs a client CA bundle", yaml: tlsServer("{mode: MUTUAL, serverCertificate: /c/tls.crt, privateKey: /c/tls.key}"),
			want: []want{errAt("spec.servers[0].tls.caCertificates", "MUTUAL TLS requires a client CA bundle")}},
		{name: "versions out of order", yaml: tlsServer("{mode: SIMPLE, credentialName: c, minProtocolVersion: TLSV1_3, maxProtocolVersion: TLSV1_2}"),
			want: []want{errAt("spec.servers[0].tls.maxProtocolVersion", "must not be below minProtocolVersion TLSV1_3")}},
		{name: "unknown version", yaml: tlsServer("{mode: SIMPLE, credentialName: c, minProtocolVersion: SSLV3}"),
			want: []want{errAt("spec.servers[0].tls.minProtocolVersion", `not "SSLV3"`)}},
		{name: "a cipher Go does not offer is left out", yaml: tlsServer("{mode: SIMPLE, credentialName: c, cipherSuites: [\"[ECDHE-ECDSA-AES128-GCM-SHA256|ECDHE-ECDSA-CHACHA20-POLY1305]\", DES-CBC3-SHA]}"),
			want: []want{warnAt("spec.servers[0].tls.cipherSuites[1]", "cipher DES-CBC3-SHA is not offered by Faultline")}},
		{name: "a second credential is not served", yaml: tlsServer("{mode: SIMPLE, credentialNames: [rsa, ecdsa]}"),
			want: []want{warnAt("spec.servers[0].tls.credentialNames[1]", "is not served")}},
		{name: "passthrough ignores certificates, as Istio warns", yaml: tlsServer("{mode: PASSTHROUGH, credentialName: c}"),
			want: []want{warnAt("spec.servers[0].tls.mode", "PASSTHROUGH mode does not use certificates, they will be ignored")}},
		{name: "optional mutual terminates too", yaml: tlsServer("{mode: OPTIONAL_MUTUAL, credentialName: c}")},
		{name: "optional mutual needs a client CA bundle", yaml: tlsServer("{mode: OPTIONAL_MUTUAL, serverCertificate: /c/tls.crt, privateKey: /c/tls.key}"),
			want: []want{errAt("spec.servers[0].tls.caCertificates", "OPTIONAL_MUTUAL TLS requires a client CA bundle")}},
		{name: "istio mutual is the mesh's plain text", yaml: tlsServer("{mode: ISTIO_MUTUAL}"),
			want: []want{warnAt("spec.servers[0].tls.mode", "ISTIO_MUTUAL: the mesh's mTLS, terminated with a certificate of the run's CA")}},
		{name: "istio mutual takes no certificates, as Istio says", yaml: tlsServer("{mode: ISTIO_MUTUAL, credentialName: c, privateKey: /k}"),
			want: []want{
				errAt("spec.servers[0].tls.credentialName", "ISTIO_MUTUAL TLS cannot have associated credentialName"),
				errAt("spec.servers[0].tls.privateKey", "ISTIO_MUTUAL TLS cannot have associated private key"),
				warnAt("spec.servers[0].tls.mode", "ISTIO_MUTUAL: the mesh's mTLS, terminated"),
			}},
		{name: "simple on a plain HTTP port", yaml: gateway("  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [\"*\"]\n    tls: {mode: SIMPLE, credentialName: c}\n"),
			want: []want{errAt("spec.servers[0].tls", "server cannot have TLS settings for plain text HTTP ports")}},
	})
}
