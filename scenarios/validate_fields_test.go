package scenarios_test

import "testing"

// Fields Faultline accepts without acting on them: a warning each, naming
// the field and what Faultline does instead, and no error.
func TestValidateIgnoredPolicyFields(t *testing.T) {
	const lb = tp + ".loadBalancer"
	runLintCases(t, "DestinationRule", []lintCase{
		{name: "zone aware, as Istio's reference shows it", yaml: policy("    loadBalancer:\n      simple: LEAST_REQUEST\n      zoneAwareLbSetting: {enabled: true, failover: [{from: us-east, to: eu-west}]}\n    outlierDetection: {consecutive5xxErrors: 5}\n"),
			want: []want{warnAt(lb+".zoneAwareLbSetting", "endpoints are picked across all localities")}},
		{name: "zone aware failover without outlier detection, and what failover may not name", yaml: policy("    loadBalancer:\n      zoneAwareLbSetting: {failover: [{from: us-east, to: us-east}, {from: us/a, to: '*'}], failoverPriority: [topology.kubernetes.io/zone]}\n"),
			want: []want{
				warnAt(lb+".zoneAwareLbSetting", "endpoints are picked across all localities"),
				warnAt(lb+".zoneAwareLbSetting", "outlier detection policy must be provided for failover"),
				errAt(lb+".zoneAwareLbSetting.failoverPriority[0]", "must not use topology label 'topology.kubernetes.io/zone'"),
				errAt(lb+".zoneAwareLbSetting.failover[0]", "zone aware lb failover settings must specify different regions"),
				errAt(lb+".zoneAwareLbSetting.failover[1]", "zone aware lb failover only specifies a region"),
				errAt(lb+".zoneAwareLbSetting.failover[1]", "should not contain '*' wildcard"),
			}},
		{name: "disabled locality settings change nothing: no warning", yaml: policy("    loadBalancer: {localityLbSetting: {enabled: false}}\n")},
		{name: "locality weights must sum to 100", yaml: policy("    loadBalancer:\n      localityLbSetting: {distribute: [{from: region1/*, to: {region1/*: 70, region2/*: 20}}]}\n"),
			want: []want{
				warnAt(lb+".localityLbSetting", "no locality"),
				errAt(lb+".localityLbSetting.distribute[0].to", "total locality weight 90 != 100"),
			}},
		{name: "overlapping and malformed localities", yaml: policy("    loadBalancer:\n      localityLbSetting: {distribute: [{from: region1/*, to: {'region1/zone1': 50, 'region1/*': 50}}, {from: region1/zone1, to: {'r//s': 100}}]}\n"),
			want: []want{
				warnAt(lb+".localityLbSetting", "no locality"),
				errAt(lb+".localityLbSetting.distribute[0].to", "locality region1/zone1 overlap with previous specified ones"),
				errAt(lb+".localityLbSetting.distribute[1].to", "locality r//s must not contain empty region/zone/subzone info"),
				errAt(lb+".localityLbSetting.distribute", "locality region1/zone1 overlap with previous specified ones"),
			}},
		{name: "distribute and failover together", yaml: policy("    loadBalancer:\n      localityLbSetting: {distribute: [{from: a, to: {b: 100}}], failover: [{from: a, to: b}]}\n"),
			want: []want{
				warnAt(lb+".localityLbSetting", "no locality"),
				errAt(lb+".localityLbSetting", "can not simultaneously specify 'distribute' and 'failover'"),
			}},
		{name: "tcp keepalive durations as Istio validates them", yaml: policy("    connectionPool: {tcp: {tcpKeepalive: {time: 1500us, interval: 75s}}}\n"),
			want: []want{
				warnAt(tp+".connectionPool.tcp.tcpKeepalive", "keep Go's TCP keepalive"),
				errAt(tp+".connectionPool.tcp.tcpKeepalive.time", "whole number of milliseconds"),
			}},
		{name: "locality distribute", yaml: policy("    loadBalancer:\n      localityLbSetting: {enabled: true, distribute: [{from: region1/*, to: {region1/*: 70, region2/*: 30}}]}\n"),
			want: []want{warnAt(lb+".localityLbSetting", "Faultline's proxy has no locality of its own")}},
		{name: "locality and zone aware together is what the proto forbids", yaml: policy("    loadBalancer:\n      localityLbSetting: {enabled: true}\n      zoneAwareLbSetting: {enabled: true}\n"),
			want: []want{
				errAt(lb+".zoneAwareLbSetting", "only one of localityLbSetting and zoneAwareLbSetting can be set"),
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
