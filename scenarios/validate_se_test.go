package scenarios_test

import (
	"fmt"
	"strings"
	"testing"
)

// se is a ServiceEntry t with the given spec fields (indented by two spaces).
func se(spec string) string {
	return "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: t}\nspec:\n" + spec
}

// httpPort is the spec.ports of a plain HTTP ServiceEntry.
const httpPort = "  ports: [{number: 80, name: http, protocol: HTTP}]\n"

func TestValidateServiceEntry(t *testing.T) {
	many := make([]string, 257)
	for i := range many {
		many[i] = fmt.Sprintf("h%d.example.com", i)
	}
	runLintCases(t, "ServiceEntry", []lintCase{
		{name: "httpbin.org by DNS", yaml: se("  hosts: [httpbin.org]\n" + httpPort + "  location: MESH_EXTERNAL\n  resolution: DNS\n")},
		{name: "static endpoints", yaml: se("  hosts: [reviews.internal]\n  ports: [{number: 9080, name: http, protocol: HTTP, targetPort: 18080}]\n  location: MESH_INTERNAL\n  resolution: STATIC\n  endpoints:\n  - {address: 127.0.0.1, ports: {http: 18080}, labels: {version: v1}}\n  - {address: \"::1\"}\n")},
		{name: "wildcard passthrough", yaml: se("  hosts: [\"*.example.com\"]\n  ports: [{number: 80, name: http2, protocol: HTTP2}]\n  exportTo: [\"~\"]\n")},
		{name: "no hosts", yaml: se(httpPort),
			want: []want{errAt("spec.hosts", "service entry must have at least one host")}},
		{name: "too many hosts", yaml: se("  hosts: [" + strings.Join(many, ", ") + "]\n" + httpPort),
			want: []want{errAt("spec.hosts", "at most 256 hosts, not 257")}},
		{name: "bad hosts", yaml: se("  hosts: [\"*\", \"*foo.example.com\", bad_host]\n" + httpPort),
			want: []want{
				errAt("spec.hosts[0]", "invalid host *"),
				warnAt("spec.hosts[1]", `partial wildcard "*foo.example.com" not allowed`),
				errAt("spec.hosts[2]", `label "bad_host" invalid`),
			}},
		{name: "bad ports", yaml: se("  hosts: [a.example.com]\n  ports:\n  - {number: 0, name: Http_1, protocol: HTTP}\n  - {number: 80, protocol: HTTP}\n  - {number: 80, name: web, protocol: FOO}\n  - {number: 81, name: web, protocol: HTTP, targetPort: 70000}\n"),
			want: []want{
				errAt("spec.ports[0].number", "port number 0"),
				errAt("spec.ports[0].name", "invalid port name: Http_1"),
				errAt("spec.ports[1].name", "is required"),
				errAt("spec.ports[2].number", "service entry port 80 already defined"),
				errAt("spec.ports[2].protocol", `invalid protocol "FOO"`),
				errAt("spec.ports[3].name", `service entry port name "web" already defined`),
				errAt("spec.ports[3].targetPort", "port number 70000"),
				warnAt("spec.ports[3].targetPort", "targetPort has no effect when resolution mode is NONE"),
			}},
		{name: "non-http protocols", yaml: se("  hosts: [a.example.com]\n  ports: [{number: 443, name: https, protocol: HTTPS}, {number: 3306, name: tcp, protocol: TCP}, {number: 27017, name: mongo, protocol: MONGO}, {number: 9000, name: grpc, protocol: GRPC}, {number: 8443, name: tls, protocol: TLS}]\n"),
			want: []want{
				warnAt("spec.ports[3].protocol", "GRPC is carried as HTTP/1.1"),
			}},
		{name: "workload selector", yaml: se("  hosts: [a.example.com]\n" + httpPort + "  resolution: STATIC\n  workloadSelector: {labels: {app: a}}\n"),
			want: []want{warnAt("spec.workloadSelector", "Faultline has no workloads to select")}},
		{name: "workload selector beside endpoints", yaml: se("  hosts: [a.example.com]\n" + httpPort + "  resolution: STATIC\n  endpoints: [{address: 10.0.0.1}]\n  workloadSelector: {labels: {app: a}}\n"),
			want: []want{
				errAt("spec.workloadSelector", "only one of workloadSelector or endpoints"),
				warnAt("spec.workloadSelector", "Faultline has no workloads to select"),
			}},
		{name: "bad enums", yaml: se("  hosts: [a.example.com]\n" + httpPort + "  location: MESH_NEARBY\n  resolution: MAGIC\n"),
			want: []want{
				errAt("spec.location", "must be one of MESH_EXTERNAL, MESH_INTERNAL"),
				errAt("spec.resolution", "must be one of NONE, STATIC, DNS, DNS_ROUND_ROBIN, DYNAMIC_DNS"),
			}},
		{name: "none with endpoints", yaml: se("  hosts: [a.example.com]\n" + httpPort + "  endpoints: [{address: 127.0.0.1}]\n"),
			want: []want{errAt("spec.endpoints", "no endpoints should be provided for resolution type NONE")}},
		{name: "static without endpoints", yaml: se("  hosts: [a.example.com]\n" + httpPort + "  resolution: STATIC\n"),
			want: []want{warnAt("spec.endpoints", "resolution STATIC without endpoints")}},
		{name: "static endpoints", yaml: se("  hosts: [a.example.com]\n" + httpPort + "  resolution: STATIC\n  endpoints:\n  - {address: backend.example.com}\n  - {ports: {web: 8080}}\n  - {address: \"unix:///var/run/a.sock\"}\n  - {address: 10.0.0.1, ports: {http: 0}, labels: {\"bad key\": x}}\n"),
			want: []want{
				errAt("spec.endpoints[0].address", `endpoint address "backend.example.com" is not a valid IP address (resolution STATIC needs IP addresses)`),
				errAt("spec.endpoints[1].address", "address is required"),
				errAt("spec.endpoints[1].ports.web", "endpoint port web is not defined by the service entry"),
				warnAt("spec.endpoints[2].address", "Faultline does not dial unix domain sockets"),
				errAt("spec.endpoints[3].ports.http", "port number 0"),
				errAt("spec.endpoints[3].labels.bad key", "invalid label key"),
			}},
		{name: "dns needs fqdn hosts", yaml: se("  hosts: [\"*.example.com\", a.example.com]\n" + httpPort + "  resolution: DNS\n"),
			want: []want{errAt("spec.hosts[0]", "hosts must be FQDN (no wildcard) if no endpoints are provided for resolution mode DNS")}},
		{name: "dns endpoints", yaml: se("  hosts: [\"*.example.com\"]\n" + httpPort + "  resolution: DNS\n  endpoints: [{address: backend.example.com}, {address: bad_name}]\n"),
			want: []want{errAt("spec.endpoints[1].address", `endpoint address "bad_name" is not a valid FQDN or an IP address`)}},
		{name: "dns round robin", yaml: se("  hosts: [a.example.com]\n" + httpPort + "  resolution: DNS_ROUND_ROBIN\n  endpoints: [{address: 10.0.0.1}, {address: 10.0.0.2}]\n"),
			want: []want{errAt("spec.endpoints", "there must only be 0 or 1 endpoint for resolution mode DNS_ROUND_ROBIN")}},
		{name: "addresses", yaml: se("  hosts: [a.example.com]\n  addresses: [10.0.0.0/24, 10.0.0.300, 10.0.0.1/40]\n" + httpPort + "  resolution: DNS\n"),
			want: []want{
				errAt("spec.addresses[1]", "10.0.0.300 is not a valid IP"),
				errAt("spec.addresses[2]", "10.0.0.1/40 is not a valid CIDR block"),
				errAt("spec.addresses", "CIDR addresses are allowed only for NONE/STATIC resolution types"),
			}},
	})
}
