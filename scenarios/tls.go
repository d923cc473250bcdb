package scenarios

import "crypto/tls"

// TLS names Istio takes from Envoy, in one place for the validator and
// the proxy (docs/istio.md, Gateways and Client TLS).

// TLSVersions are the tls.minProtocolVersion / maxProtocolVersion values
// of a Gateway server, as crypto/tls versions; TLS_AUTO (0) leaves
// Envoy's default (TLS 1.2 to 1.3 on a gateway).
var TLSVersions = map[string]uint16{
	"TLS_AUTO": 0,
	"TLSV1_0":  tls.VersionTLS10,
	"TLSV1_1":  tls.VersionTLS11,
	"TLSV1_2":  tls.VersionTLS12,
	"TLSV1_3":  tls.VersionTLS13,
}

// TLSCipherSuites are the TLS 1.2 cipher names Envoy (BoringSSL) takes
// in tls.cipherSuites that Go's crypto/tls offers, as its suites. TLS 1.3
// suites are not configurable, in Envoy as in Go.
var TLSCipherSuites = map[string]uint16{
	"ECDHE-ECDSA-AES128-GCM-SHA256": tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-RSA-AES128-GCM-SHA256":   tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-ECDSA-AES256-GCM-SHA384": tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-RSA-AES256-GCM-SHA384":   tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-ECDSA-CHACHA20-POLY1305": tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-RSA-CHACHA20-POLY1305":   tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-ECDSA-AES128-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
	"ECDHE-RSA-AES128-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	"ECDHE-ECDSA-AES256-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
	"ECDHE-RSA-AES256-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
	"AES128-GCM-SHA256":             tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
	"AES256-GCM-SHA384":             tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
	"AES128-SHA":                    tls.TLS_RSA_WITH_AES_128_CBC_SHA,
	"AES256-SHA":                    tls.TLS_RSA_WITH_AES_256_CBC_SHA,
}
