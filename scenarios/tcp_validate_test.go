package scenarios_test

import (
	"fmt"
	"testing"

	"github.com/faultline/faultline/scenarios"
)

// l4vs is a VirtualService t for hosts, bound to gateway gw, with the given
// tcp or tls routes (YAML from the `tcp:` or `tls:` key on).
func l4vs(hosts, routes string) string {
	return "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: t}\nspec:\n  hosts: " + hosts + "\n  gateways: [gw]\n" + routes
}

// TCP and TLS routes are accepted as Faultline routes them (tcp_proxy,
// SNI passthrough) and checked with Istio's rules: a route needs a
// destination, a TLS match needs SNI hosts within the VirtualService's
// hosts, subnets must parse; source selection is refused, as for HTTP.
func TestValidateTCPAndTLSRoutes(t *testing.T) {
	runLintCases(t, "VirtualService", []lintCase{
		{name: "weighted tcp route with a port match",
			yaml: l4vs(`["*"]`, "  tcp:\n  - match: [{port: 31400, destinationSubnets: [10.1.0.0/16, 10.2.0.1]}]\n    route:\n    - {destination: {host: reviews, port: {number: 9080}, subset: v1}, weight: 80}\n    - {destination: {host: reviews, port: {number: 9080}, subset: v2}, weight: 20}\n"),
			want: []want{warnAt("spec.tcp[0].match[0].destinationSubnets", "not the connection's original destination")}},
		{name: "tls route by sni",
			yaml: l4vs(`["*.example.com"]`, "  tls:\n  - match: [{port: 443, sniHosts: [login.example.com, \"*.shop.example.com\"]}]\n    route: [{destination: {host: reviews}}]\n")},
		{name: "tcp route without destination",
			yaml: l4vs(`["*"]`, "  tcp:\n  - match: [{port: 31400}]\n"),
			want: []want{errAt("spec.tcp[0].route", "TCP route is required")}},
		{name: "tls route without match",
			yaml: l4vs(`["*.example.com"]`, "  tls:\n  - route: [{destination: {host: reviews}}]\n"),
			want: []want{errAt("spec.tls[0].match", "TLS route must have at least one match condition")}},
		{name: "tls match without sni hosts",
			yaml: l4vs(`["*.example.com"]`, "  tls:\n  - match: [{port: 443}]\n    route: [{destination: {host: reviews}}]\n"),
			want: []want{errAt("spec.tls[0].match[0].sniHosts", "TLS match must have at least one SNI host")}},
		{name: "sni host outside the virtual service hosts",
			yaml: l4vs(`["*.example.com"]`, "  tls:\n  - match: [{sniHosts: [example.com, a.example.org]}]\n    route: [{destination: {host: reviews}}]\n"),
			want: []want{
				errAt("spec.tls[0].match[0].sniHosts[0]", `SNI host "example.com" is not a compatible subset`),
				errAt("spec.tls[0].match[0].sniHosts[1]", `SNI host "a.example.org" is not a compatible subset`),
			}},
		{name: "bad subnet and port",
			yaml: l4vs(`["*"]`, "  tcp:\n  - match: [{port: 70000, destinationSubnets: [10.0.0.0/33]}]\n    route: [{destination: {host: reviews}}]\n"),
			want: []want{
				errAt("spec.tcp[0].match[0].destinationSubnets[0]", "not a valid IP address or CIDR block"),
				errAt("spec.tcp[0].match[0].port", "port number 70000"),
			}},
		{name: "sourceLabels meet the connection's caller; sourceNamespace has no workloads to act on",
			yaml: l4vs(`["*"]`, "  tcp:\n  - match: [{sourceLabels: {app: a}, sourceNamespace: ns}]\n    route: [{destination: {host: reviews}}]\n"),
			want: []want{
				warnAt("spec.tcp[0].match[0].sourceLabels", "connection's caller"),
				errAt("spec.tcp[0].match[0].sourceNamespace", "not implemented by Faultline"),
			}},
		{name: "weights",
			yaml: l4vs(`["*"]`, "  tcp:\n  - route:\n    - {destination: {host: reviews, subset: v1}, weight: -1}\n    - {destination: {host: reviews, subset: v2}, weight: 0}\n    - {destination: {host: reviews, subset: v2}, weight: 1}\n"),
			want: []want{
				errAt("spec.tcp[0].route[0].weight", "weight -1 < 0"),
				errAt("spec.tcp[0].route", "total destination weight = 0"),
			}},
		{name: "weights sum to 100 up to Istio 1.14", istio: "1.14",
			yaml: l4vs(`["*"]`, "  tcp:\n  - route:\n    - {destination: {host: reviews, subset: v1}, weight: 3}\n    - {destination: {host: reviews, subset: v2}, weight: 1}\n"),
			want: []want{errAt("spec.tcp[0].route", "total destination weight 4 != 100")}},
	})
}

// Gateway servers: TCP-like protocols are proxied as TCP, TLS and HTTPS
// in PASSTHROUGH (the mode's zero value) routed by SNI; terminating modes
// stay refused.
func TestValidateGatewayTCPAndPassthroughServers(t *testing.T) {
	runLintCases(t, "Gateway", []lintCase{
		{name: "tcp-like protocols", yaml: gateway("  - port: {number: 31400, name: tcp, protocol: TCP}\n    hosts: [\"*\"]\n  - port: {number: 27017, name: mongo, protocol: MONGO}\n    hosts: [\"*\"]\n  - port: {number: 3306, name: mysql, protocol: MYSQL}\n    hosts: [\"*\"]\n  - port: {number: 6379, name: redis, protocol: REDIS}\n    hosts: [\"*\"]\n")},
		{name: "https passthrough", yaml: gateway("  - port: {number: 443, name: https, protocol: HTTPS}\n    tls: {mode: PASSTHROUGH}\n    hosts: [nginx.example.com]\n")},
		{name: "tls with an empty tls block is passthrough", yaml: gateway("  - port: {number: 443, name: tls, protocol: TLS}\n    tls: {}\n    hosts: [\"*\"]\n")},
		{name: "auto passthrough", yaml: gateway("  - port: {number: 15443, name: tls, protocol: TLS}\n    tls: {mode: AUTO_PASSTHROUGH}\n    hosts: [\"*.local\"]\n")},
		{name: "mesh mTLS at a gateway is the mesh's plain text", yaml: gateway("  - port: {number: 443, name: https, protocol: HTTPS}\n    tls: {mode: ISTIO_MUTUAL}\n    hosts: [\"*\"]\n"),
			want: []want{warnAt("spec.servers[0].tls.mode", "ISTIO_MUTUAL: the mesh's mTLS, terminated")}},
		{name: "passthrough on a tcp server", yaml: gateway("  - port: {number: 31400, name: tcp, protocol: TCP}\n    tls: {mode: PASSTHROUGH}\n    hosts: [\"*\"]\n"),
			want: []want{errAt("spec.servers[0].tls.mode", "PASSTHROUGH needs a TLS or HTTPS server")}},
	})
}

// ServiceEntry ports of every protocol Faultline carries are accepted;
// GRPC and UDP are not carried.
func TestValidateServiceEntryL4Ports(t *testing.T) {
	runLintCases(t, "ServiceEntry", []lintCase{
		{name: "tcp, tls and https ports", yaml: se("  hosts: [db.example.com]\n  ports: [{number: 27017, name: mongo, protocol: MONGO}, {number: 443, name: https, protocol: HTTPS}, {number: 8443, name: tls, protocol: TLS}, {number: 5432, name: tcp, protocol: TCP}]\n  resolution: STATIC\n  endpoints: [{address: 127.0.0.1}]\n")},
		{name: "udp", yaml: se("  hosts: [db.example.com]\n  ports: [{number: 53, name: dns, protocol: UDP}]\n  resolution: STATIC\n  endpoints: [{address: 127.0.0.1}]\n"),
			want: []want{errAt("spec.ports[0].protocol", "UDP is not implemented by Faultline")}},
	})
}

// What tcp and tls routes name is checked against the document, as for
// http routes: gateways, destination hosts (a warning: the load is HTTP,
// so an experiment never depends on them), subsets.
func TestValidateL4RouteRefs(t *testing.T) {
	runLintCases(t, "VirtualService", []lintCase{
		{name: "unknown gateway, host and subset",
			yaml: l4vs(`["*"]`, "  tcp:\n  - match: [{gateways: [nowhere]}]\n    route:\n    - {destination: {host: mongo}, weight: 50}\n    - {destination: {host: reviews, subset: v9}, weight: 50}\n"),
			want: []want{
				warnAt("spec.tcp[0].match[0].gateways[0]", `names no Gateway of this experiment: "nowhere"`),
				warnAt("spec.tcp[0].route[0].destination.host", "mongo is bound to no endpoints: connections routed here are closed (UH)"),
				warnAt("spec.tcp[0].route[1].destination.subset", `subset "v9" of reviews is defined by no DestinationRule: connections routed here are closed (NC)`),
			}},
	})
}

// The load is plain HTTP: into a TLS passthrough server it would find no
// ClientHello (an error); into a mesh port a ServiceEntry declares TCP it
// is routed as HTTP (a warning saying so).
func TestValidateLoadOnL4Ports(t *testing.T) {
	const exp = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: e}
spec:
  services:
  - {host: db.example.com, port: 5432, endpoints: [{address: 127.0.0.1:15432}]}
  load: {url: "http://db.example.com:%s/", via: %s}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: db}
spec:
  hosts: [db.example.com]
  ports: [{number: 5432, name: tcp, protocol: TCP}]
  resolution: STATIC
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge}
spec:
  servers:
  - port: {number: 443, name: tls, protocol: TLS}
    hosts: ["*"]
    tls: {mode: PASSTHROUGH}
`
	for _, tc := range []struct {
		name, port, via string
		want            want
	}{
		{"through a tls passthrough server", "443", "edge", errAt("spec.load.via", "Gateway edge serves port 443 as TLS passed through by SNI")},
		{"to a tcp port on the mesh", "5432", "mesh", warnAt("spec.load.url", "ServiceEntry db declares port 5432 of db.example.com TCP")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got scenarios.Problems
			for _, p := range scenarios.Lint([]byte(fmt.Sprintf(exp, tc.port, tc.via))) {
				if p.Document == "Experiment e" {
					got = append(got, p)
				}
			}
			checkProblems(t, got, []want{tc.want})
		})
	}
}
