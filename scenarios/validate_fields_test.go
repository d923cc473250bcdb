package scenarios_test

import "testing"

// Fields Faultline accepts without acting on them: a warning each, naming
// the field and what Faultline does instead, and no error.
func TestValidateIgnoredPolicyFields(t *testing.T) {
	const lb = tp + ".loadBalancer"
	runLintCases(t, "DestinationRule", []lintCase{
		{name: "zone aware, as Istio's reference shows it", yaml: policy("    loadBalancer:\n      simple: LEAST_REQUEST\n      zoneAwareLbSetting: {enabled: true, failover: [{from: us-east, to: eu-west}]}\n"),
			want: []want{warnAt(lb+".zoneAwareLbSetting", "endpoints are picked across all localities")}},
		{name: "locality distribute", yaml: policy("    loadBalancer:\n      localityLbSetting: {enabled: true, distribute: [{from: region1/*, to: {region1/*: 70, region2/*: 30}}]}\n"),
			want: []want{warnAt(lb+".localityLbSetting", "Faultline's proxy has no locality of its own")}},
		{name: "locality and zone aware together is what the proto forbids", yaml: policy("    loadBalancer:\n      localityLbSetting: {enabled: true}\n      zoneAwareLbSetting: {enabled: true}\n"),
			want: []want{
				errAt(lb+".zoneAwareLbSetting", "cannot be combined with localityLbSetting"),
				warnAt(lb+".localityLbSetting", "no locality"),
				warnAt(lb+".zoneAwareLbSetting", "no locality"),
			}},
		{name: "tcp keepalive in a port policy", yaml: policy("    portLevelSettings:\n    - port: {number: 6379}\n      connectionPool: {tcp: {tcpKeepalive: {time: 7200s, interval: 75s, probes: 9}}}\n"),
			want: []want{warnAt(tp+".portLevelSettings[0].connectionPool.tcp.tcpKeepalive", "keep Go's TCP keepalive")}},
		{name: "cookie attributes", yaml: policy("    loadBalancer: {consistentHash: {httpCookie: {name: s, ttl: 0s, attributes: [{name: SameSite, value: Lax}, {name: Secure}]}}}\n")},
		{name: "cookie attributes unnamed or twice", yaml: policy("    loadBalancer: {consistentHash: {httpCookie: {name: s, attributes: [{value: Lax}, {name: Secure}, {name: Secure}]}}}\n"),
			want: []want{
				errAt(lb+".consistentHash.httpCookie.attributes[0].name", "cookie attribute name cannot be empty"),
				errAt(lb+".consistentHash.httpCookie.attributes[2].name", "duplicate cookie attribute name: Secure"),
			}},
		{name: "backend utilization is refused: it would change which endpoint serves", yaml: policy("    loadBalancer: {backendUtilization: {}}\n"),
			want: []want{errAt(lb+".backendUtilization", "not implemented by Faultline")}},
	})
}
