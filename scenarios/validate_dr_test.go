package scenarios_test

import "testing"

// dr is a DestinationRule t for host reviews with the given spec fields
// (indented by two spaces, under spec).
func dr(spec string) string {
	return "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: t}\nspec:\n  host: reviews\n" + spec
}

// policy is a DestinationRule t whose top-level trafficPolicy holds body
// (indented by four spaces).
func policy(body string) string { return dr("  trafficPolicy:\n" + body) }

const tp = "spec.trafficPolicy"

func TestValidateDestinationRuleHostAndSubsets(t *testing.T) {
	runLintCases(t, "DestinationRule", []lintCase{
		{name: "subsets", yaml: dr("  subsets:\n  - {name: v1, labels: {version: v1, app.kubernetes.io/name: reviews}}\n  - {name: V2}\n")},
		{name: "wildcard hosts", yaml: "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: t}\nspec: {host: \"*.example.com\"}\n"},
		{name: "star host", yaml: "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: t}\nspec: {host: \"*\"}\n"},
		{name: "missing host", yaml: "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: t}\nspec: {subsets: [{name: v1}]}\n",
			want: []want{errAt("spec.host", "is required")}},
		{name: "bad host", yaml: "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: t}\nspec: {host: \"reviews:9080\"}\n",
			want: []want{errAt("spec.host", `label "reviews:9080" invalid`)}},
		{name: "bad subsets", yaml: dr("  subsets:\n  - {labels: {version: v1}}\n  - {name: v.1}\n  - {name: v3}\n  - {name: v3, labels: {\"bad key\": v3, version: -v3}}\n"),
			want: []want{
				errAt("spec.subsets[0].name", "is required"),
				errAt("spec.subsets[1].name", "subset name is invalid: v.1"),
				errAt("spec.subsets[3].name", "duplicate subset names: v3 is also spec.subsets[2]"),
				errAt("spec.subsets[3].labels.bad key", `invalid label key "bad key"`),
				errAt("spec.subsets[3].labels.version", `invalid label value "-v3"`),
			}},
		{name: "empty policies", yaml: dr("  trafficPolicy: {}\n  subsets: [{name: v1, trafficPolicy: {}}]\n"),
			want: []want{
				errAt(tp, "traffic policy must have at least one field"),
				errAt("spec.subsets[0].trafficPolicy", "traffic policy must have at least one field"),
			}},
		{name: "subset policy", yaml: dr("  subsets: [{name: v1, trafficPolicy: {loadBalancer: {simple: FASTEST}}}]\n"),
			want: []want{errAt("spec.subsets[0].trafficPolicy.loadBalancer.simple", "must be one of UNSPECIFIED, LEAST_REQUEST, LEAST_CONN, ROUND_ROBIN, RANDOM, PASSTHROUGH, not \"FASTEST\"")}},
		{name: "workload selector", yaml: dr("  workloadSelector: {matchLabels: {app: ratings, version: \"*\"}}\n"),
			want: []want{
				errAt("spec.workloadSelector.matchLabels.version", "wildcard is not supported in selector"),
				warnAt("spec.workloadSelector", "the rule applies to all of them"),
			}},
		{name: "passthrough balances over the bound endpoints", yaml: dr("  trafficPolicy: {loadBalancer: {simple: PASSTHROUGH}}\n"),
			want: []want{warnAt(tp+".loadBalancer.simple", "PASSTHROUGH forwards to the address the client dialled")}},
		{name: "export to nobody", yaml: dr("  exportTo: [\"~\"]\n"),
			want: []want{errAt("spec.exportTo[0]", "only allowed in a ServiceEntry")}},
	})
}

func TestValidateDestinationRuleLoadBalancer(t *testing.T) {
	runLintCases(t, "DestinationRule", []lintCase{
		{name: "simple", yaml: policy("    loadBalancer: {simple: ROUND_ROBIN}\n")},
		{name: "least conn", yaml: policy("    loadBalancer: {simple: LEAST_CONN}\n"),
			want: []want{warnAt(tp+".loadBalancer.simple", "LEAST_CONN is a deprecated alias of LEAST_REQUEST")}},
		{name: "consistent hash", yaml: policy("    loadBalancer: {consistentHash: {httpCookie: {name: user, ttl: 0s}, maglev: {tableSize: 65537}}}\n")},
		{name: "simple and hash", yaml: policy("    loadBalancer: {simple: RANDOM, consistentHash: {useSourceIp: true}}\n"),
			want: []want{errAt(tp+".loadBalancer.consistentHash", "cannot be combined with simple")}},
		{name: "no hash key", yaml: policy("    loadBalancer: {consistentHash: {ringHash: {minimumRingSize: 1024}}}\n"),
			want: []want{errAt(tp+".loadBalancer.consistentHash", "set exactly one of httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName")}},
		{name: "two hash keys", yaml: policy("    loadBalancer: {consistentHash: {httpHeaderName: x-user, httpQueryParameterName: user}}\n"),
			want: []want{errAt(tp+".loadBalancer.consistentHash", "set exactly one of")}},
		{name: "cookie without name", yaml: policy("    loadBalancer: {consistentHash: {httpCookie: {ttl: 10s}}}\n"),
			want: []want{errAt(tp+".loadBalancer.consistentHash.httpCookie.name", "name required for HttpCookie")}},
		{name: "ring and maglev", yaml: policy("    loadBalancer: {consistentHash: {useSourceIp: true, ringHash: {}, maglev: {tableSize: 100}, minimumRingSize: 10}}\n"),
			want: []want{
				errAt(tp+".loadBalancer.consistentHash.maglev", "cannot be combined with ringHash"),
				warnAt(tp+".loadBalancer.consistentHash.minimumRingSize", "minimumRingSize is deprecated"),
				errAt(tp+".loadBalancer.consistentHash.minimumRingSize", "only one of minimumRingSize or maglev/ringHash"),
				errAt(tp+".loadBalancer.consistentHash.maglev.tableSize", "tableSize must be a prime number for maglev, not 100"),
			}},
		{name: "maglev too large", yaml: policy("    loadBalancer: {consistentHash: {useSourceIp: true, maglev: {tableSize: 5000011}}}\n"),
			want: []want{errAt(tp+".loadBalancer.consistentHash.maglev.tableSize", "tableSize must be less than 5000011")}},
		{name: "maglev unset", yaml: policy("    loadBalancer: {consistentHash: {useSourceIp: true, maglev: {}}}\n"),
			want: []want{errAt(tp+".loadBalancer.consistentHash.maglev.tableSize", "tableSize must be set")}},
	})
}

func TestValidateDestinationRuleConnectionPool(t *testing.T) {
	runLintCases(t, "DestinationRule", []lintCase{
		{name: "circuit breaker", yaml: policy("    connectionPool:\n      tcp: {maxConnections: 1, connectTimeout: 30ms, idleTimeout: 1h}\n      http: {http1MaxPendingRequests: 1, maxRequestsPerConnection: 1, h2UpgradePolicy: DO_NOT_UPGRADE}\n")},
		{name: "empty pool", yaml: policy("    connectionPool: {}\n"),
			want: []want{errAt(tp+".connectionPool", "must have at least one of tcp or http")}},
		{name: "negative limits", yaml: policy("    connectionPool:\n      tcp: {maxConnections: -1}\n      http: {http1MaxPendingRequests: -1, http2MaxRequests: -2, maxRequestsPerConnection: -3, maxRetries: -4, maxConcurrentStreams: -5}\n"),
			want: []want{
				errAt(tp+".connectionPool.tcp.maxConnections", "must be >= 0, not -1"),
				errAt(tp+".connectionPool.http.http1MaxPendingRequests", "must be >= 0"),
				errAt(tp+".connectionPool.http.http2MaxRequests", "must be >= 0"),
				errAt(tp+".connectionPool.http.maxRequestsPerConnection", "must be >= 0"),
				errAt(tp+".connectionPool.http.maxRetries", "must be >= 0"),
				errAt(tp+".connectionPool.http.maxConcurrentStreams", "must be >= 0"),
			}},
		{name: "bad durations", yaml: policy("    connectionPool:\n      tcp: {connectTimeout: 0s, maxConnectionDuration: 1500us, idleTimeout: 0s}\n      http: {idleTimeout: 10us}\n"),
			want: []want{
				errAt(tp+".connectionPool.tcp.connectTimeout", "at least 1ms"),
				errAt(tp+".connectionPool.tcp.maxConnectionDuration", "whole number of milliseconds"),
				errAt(tp+".connectionPool.tcp.idleTimeout", "at least 1ms"),
				errAt(tp+".connectionPool.http.idleTimeout", "at least 1ms"),
			}},
		{name: "upgrade policy", yaml: policy("    connectionPool: {http: {h2UpgradePolicy: SOMETIMES}}\n"),
			want: []want{errAt(tp+".connectionPool.http.h2UpgradePolicy", "must be one of DEFAULT, DO_NOT_UPGRADE, UPGRADE")}},
		{name: "upgrade with client protocol", yaml: policy("    connectionPool: {http: {h2UpgradePolicy: UPGRADE, useClientProtocol: true}}\n"),
			want: []want{errAt(tp+".connectionPool.http.useClientProtocol", "must not be true when h2UpgradePolicy is UPGRADE")}},
	})
}

func TestValidateDestinationRuleOutlierDetection(t *testing.T) {
	const od = tp + ".outlierDetection"
	runLintCases(t, "DestinationRule", []lintCase{
		{name: "valid", yaml: policy("    outlierDetection: {consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 3m, maxEjectionPercent: 100, minHealthPercent: 0, splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 2, outlierDetectionHttpErrorCodes: [500, 503]}\n")},
		{name: "consecutiveErrors", yaml: policy("    outlierDetection: {consecutiveErrors: 1}\n"),
			want: []want{warnAt(od+".consecutiveErrors", "deprecated and ignored by Istio since 1.7; Envoy's default of 5 consecutive 5xx applies")}},
		{name: "consecutiveErrors beside 5xx", yaml: policy("    outlierDetection: {consecutive_errors: 1, consecutive5xxErrors: 3}\n"),
			want: []want{warnAt(od+".consecutiveErrors", "consecutive5xxErrors/consecutiveGatewayErrors apply")}},
		{name: "consecutiveErrors in 1.6", istio: "1.6", yaml: policy("    outlierDetection: {consecutiveErrors: 1}\n"),
			want: []want{warnAt(od+".consecutiveErrors", "Istio 1.6 maps it to consecutive gateway errors (502, 503, 504)")}},
		{name: "negative consecutiveErrors in 1.6", istio: "1.6", yaml: policy("    outlierDetection: {consecutiveErrors: -1}\n"),
			want: []want{
				errAt(od+".consecutiveErrors", "cannot be negative"),
				warnAt(od+".consecutiveErrors", "Istio 1.6 maps it"),
			}},
		{name: "local origin without split", yaml: policy("    outlierDetection: {consecutiveLocalOriginFailures: 3}\n"),
			want: []want{errAt(od+".consecutiveLocalOriginFailures", "splitExternalLocalOriginErrors is false")}},
		{name: "out of range", yaml: policy("    outlierDetection: {maxEjectionPercent: 101, minHealthPercent: -1, interval: 500us, baseEjectionTime: 0s, outlierDetectionHttpErrorCodes: [99, 600]}\n"),
			want: []want{
				errAt(od+".maxEjectionPercent", "percentage 101 is not in range 0..100"),
				errAt(od+".minHealthPercent", "percentage -1 is not in range 0..100"),
				errAt(od+".interval", "at least 1ms"),
				errAt(od+".baseEjectionTime", "at least 1ms"),
				errAt(od+".outlierDetectionHttpErrorCodes[0]", "HTTP status 99 is not in range 100-599"),
				errAt(od+".outlierDetectionHttpErrorCodes[1]", "HTTP status 600"),
			}},
	})
}

func TestValidateDestinationRuleTLSAndPorts(t *testing.T) {
	runLintCases(t, "DestinationRule", []lintCase{
		// In Istio the endpoint's sidecar ends the mTLS: its app gets
		// plain text, as it does from Faultline's proxy. No warning.
		{name: "istio mutual", yaml: policy("    tls: {mode: ISTIO_MUTUAL}\n")},
		{name: "disable with sni", yaml: policy("    tls: {mode: DISABLE, sni: a.example.com, insecureSkipVerify: true}\n"),
			want: []want{
				warnAt(tp+".tls.sni", "is ignored"),
				warnAt(tp+".tls.insecureSkipVerify", "is ignored"),
			}},
		{name: "empty tls is DISABLE, plain text as in Envoy", yaml: policy("    tls: {}\n")},
		{name: "simple originates TLS", yaml: policy("    tls: {mode: SIMPLE, sni: a.example.com, subjectAltNames: [a.example.com]}\n")},
		{name: "mutual needs a client certificate and key", yaml: policy("    tls: {mode: MUTUAL}\n"),
			want: []want{
				errAt(tp+".tls.clientCertificate", "client certificate required for mutual tls"),
				errAt(tp+".tls.privateKey", "private key required for mutual tls"),
			}},
		{name: "mutual by credential", yaml: policy("    tls: {mode: MUTUAL, credentialName: client-credential}\n")},
		{name: "a credential excludes files", yaml: policy("    tls: {mode: SIMPLE, credentialName: c, caCertificates: /etc/ca.pem}\n"),
			want: []want{errAt(tp+".tls.credentialName", "cannot specify client certificates or CA certificate or CA CRL If credentialName is set")}},
		{name: "caCrl with files", yaml: policy("    tls: {mode: SIMPLE, caCertificates: /etc/ca.pem, caCrl: /etc/ca.crl}\n")},
		{name: "caCrl with a credential", yaml: policy("    tls: {mode: SIMPLE, credentialName: c, caCrl: /etc/ca.crl}\n"),
			want: []want{errAt(tp+".tls.credentialName", "cannot specify client certificates or CA certificate or CA CRL If credentialName is set")}},
		{name: "caCrl without origination", yaml: policy("    tls: {mode: DISABLE, caCrl: /etc/ca.crl}\n"),
			want: []want{warnAt(tp+".tls.caCrl", "is ignored")}},
		{name: "bad mode", yaml: policy("    tls: {mode: STRICT}\n"),
			want: []want{errAt(tp+".tls.mode", "must be one of DISABLE, SIMPLE, MUTUAL, ISTIO_MUTUAL")}},
		{name: "port level", yaml: policy("    portLevelSettings:\n    - {port: {number: 80}, loadBalancer: {simple: RANDOM}}\n    - {port: {number: 443}, tls: {mode: SIMPLE}}\n")},
		{name: "bad port level", yaml: policy("    portLevelSettings:\n    - {loadBalancer: {simple: RANDOM}}\n    - {port: {number: 80}}\n    - {port: {number: 80}, loadBalancer: {simple: NEAREST}}\n    - {port: {number: 0}, outlierDetection: {maxEjectionPercent: 200}}\n"),
			want: []want{
				errAt(tp+".portLevelSettings[0].port", "is required"),
				errAt(tp+".portLevelSettings[1]", "must have at least one of loadBalancer, connectionPool, outlierDetection or tls"),
				errAt(tp+".portLevelSettings[2].port.number", "port 80 already has a policy in spec.trafficPolicy.portLevelSettings[1]"),
				errAt(tp+".portLevelSettings[2].loadBalancer.simple", `not "NEAREST"`),
				errAt(tp+".portLevelSettings[3].port.number", "port number 0 must be in the range 1..65535"),
				errAt(tp+".portLevelSettings[3].outlierDetection.maxEjectionPercent", "percentage 200"),
			}},
	})
}
