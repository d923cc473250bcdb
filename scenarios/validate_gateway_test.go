package scenarios_test

import (
	"fmt"
	"strings"
	"testing"
)

// gateway is a Gateway t with the given servers (YAML list items indented
// by two spaces, under spec.servers).
func gateway(servers string) string {
	return "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: t}\nspec:\n  selector: {istio: ingressgateway}\n  servers:\n" + servers
}

// server is one HTTP server on port 80 with the given hosts and extra fields.
func server(hosts, extra string) string {
	return "  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: " + hosts + "\n" + extra
}

func TestValidateGatewayServers(t *testing.T) {
	runLintCases(t, "Gateway", []lintCase{
		{name: "httpbin gateway", yaml: gateway(server(`["*"]`, ""))},
		{name: "hosts forms", yaml: gateway(server(`["./httpbin.example.com", "*/*.example.com", "istio-system/a.example.com", "10.0.0.1", "bookinfo.com."]`, "    tls: {httpsRedirect: true}\n    name: web\n"))},
		{name: "http2 and grpc-web", yaml: gateway("  - port: {number: 8080, name: h2, protocol: HTTP2}\n    hosts: [\"*\"]\n    tls: {httpsRedirect: true}\n  - port: {number: 8081, name: grpc-web, protocol: grpc-web}\n    hosts: [\"*\"]\n")},
		{name: "no servers", yaml: "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: t}\nspec: {selector: {istio: ingressgateway}}\n",
			want: []want{errAt("spec.servers", "gateway must have at least one server")}},
		{name: "dotted name", doc: "my.gw", yaml: strings.Replace(gateway(server(`["*"]`, "")), "{name: t}", "{name: my.gw}", 1),
			want: []want{errAt("metadata.name", `invalid gateway name "my.gw": must be a DNS-1123 label`)}},
		{name: "bad selector", yaml: strings.Replace(gateway(server(`["*"]`, "")), "{istio: ingressgateway}", "{\"bad key\": x}", 1),
			want: []want{errAt("spec.selector.bad key", "invalid label key")}},
		{name: "bad port", yaml: gateway("  - port: {targetPort: 8080}\n    hosts: [\"*\"]\n  - port: {number: 70000, name: big, protocol: FTP}\n    hosts: [\"*\"]\n"),
			want: []want{
				errAt("spec.servers[0].port.number", "is required"),
				errAt("spec.servers[0].port.protocol", "is required"),
				errAt("spec.servers[0].port.name", "port name must be set"),
				errAt("spec.servers[0].port.targetPort", "targetPort has no impact on Gateways"),
				errAt("spec.servers[1].port.number", "port number 70000 must be in the range 1..65535"),
				errAt("spec.servers[1].port.protocol", `invalid protocol "FTP"`),
			}},
		{name: "bad hosts", yaml: gateway(server(`[httpbin, "*foo.example.com", "bad_ns/a.example.com", "/a.example.com", "a..example.com"]`, "")),
			want: []want{
				errAt("spec.servers[0].hosts[0]", "short names (non FQDN) are not allowed"),
				errAt("spec.servers[0].hosts[1]", `partial wildcard "*foo.example.com" not allowed`),
				errAt("spec.servers[0].hosts[2]", `invalid namespace value "bad_ns"`),
				errAt("spec.servers[0].hosts[3]", "cannot be empty"),
				errAt("spec.servers[0].hosts[4]", `label "" invalid`),
			}},
		{name: "no hosts", yaml: gateway("  - port: {number: 80, name: http, protocol: HTTP}\n"),
			want: []want{errAt("spec.servers[0].hosts", "server config must contain at least one host")}},
		{name: "duplicate names (servers sharing a port are merged, as Envoy does)", yaml: gateway(server(`["a.example.com"]`, "    name: web\n") + server(`["b.example.com"]`, "    name: web\n")),
			want: []want{
				errAt("spec.servers[1].port.name", "port names in servers must be unique: duplicate name http"),
				errAt("spec.servers[1].name", "server names must be unique: duplicate name web"),
			}},
		{name: "bind", yaml: gateway(server(`["*"]`, "    bind: 10.0.0.1\n") + "  - port: {number: 81, name: b, protocol: HTTP}\n    hosts: [\"*\"]\n    bind: nowhere\n"),
			want: []want{
				errAt("spec.servers[0].bind", "is not implemented by Faultline"),
				errAt("spec.servers[1].bind", "nowhere is not a valid IP"),
			}},
	})
}

func TestValidateGatewayProtocolsAndTLS(t *testing.T) {
	var cases []lintCase
	for proto, w := range map[string][]want{
		"HTTPS": {errAt("spec.servers[0].tls", "server must have TLS settings for HTTPS/TLS protocols")},
		"TLS":   {errAt("spec.servers[0].tls", "server must have TLS settings for HTTPS/TLS protocols")},
		"TCP":   nil, // proxied as TCP (tcp routes)
		"MONGO": nil,
		"GRPC":  {warnAt("spec.servers[0].port.protocol", "GRPC is carried as HTTP/1.1")},
	} {
		cases = append(cases, lintCase{
			name: proto,
			yaml: gateway(fmt.Sprintf("  - port: {number: 443, name: p, protocol: %s}\n    hosts: [\"*\"]\n", proto)),
			want: w,
		})
	}
	cases = append(cases,
		lintCase{name: "https with tls", yaml: gateway("  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: [\"*\"]\n    tls: {mode: SIMPLE, credentialName: cert, httpsRedirect: true}\n"),
			want: []want{
				warnAt("spec.servers[0].tls.httpsRedirect", "tls.httpsRedirect should only be used with http servers"),
			}},
		lintCase{name: "tls mode on http", yaml: gateway(server(`["*"]`, "    tls: {mode: PASSTHROUGH}\n")),
			want: []want{errAt("spec.servers[0].tls", "server cannot have TLS settings for plain text HTTP ports")}},
		lintCase{name: "bad tls mode", yaml: gateway(server(`["*"]`, "    tls: {mode: OPPORTUNISTIC}\n")),
			want: []want{errAt("spec.servers[0].tls.mode", "must be one of PASSTHROUGH, SIMPLE, MUTUAL, AUTO_PASSTHROUGH, ISTIO_MUTUAL, OPTIONAL_MUTUAL")}},
	)
	runLintCases(t, "Gateway", cases)
}
