package scenarios

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

const gwapiExperiment = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: t}
spec:
  services:
  - host: app
    port: 9080
    endpoints: [{address: "127.0.0.1:9080"}]
  load: {url: "http://app.example.com/", via: gw}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  gatewayClassName: istio
  listeners:
  - {name: http, port: 80, protocol: HTTP}
`

// route renders an HTTPRoute on gw with the given rules YAML.
func gwapiRoute(rules string) string {
	return gwapiExperiment + `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r}
spec:
  parentRefs: [{name: gw}]
  rules:
` + rules
}

// problemAt finds the problem of severity s at document doc and path.
func problemAt(ps Problems, s Severity, doc, path string) (Problem, bool) {
	for _, p := range ps {
		if p.Severity == s && p.Document == doc && p.Path == path {
			return p, true
		}
	}
	return Problem{}, false
}

func TestGatewayAPIProblems(t *testing.T) {
	cases := []struct {
		name, src   string
		sev         Severity
		doc, path   string
		line        int
		msgContains string
	}{
		{"unknown field", gwapiRoute("  - matchez: []\n"), SeverityError, "HTTPRoute r", "spec.rules[0].matchez", 25, "unknown field"},
		{"class", strings.Replace(gwapiExperiment, "gatewayClassName: istio", "gatewayClassName: envoy", 1), SeverityError, "Gateway gw", "spec.gatewayClassName", 15, `must be "istio"`},
		{"https listener without tls", strings.Replace(gwapiExperiment, "protocol: HTTP}", "protocol: HTTPS}", 1), SeverityError, "Gateway gw", "spec.listeners[0].tls", 17, "required"},
		{"tcp listener", strings.Replace(gwapiExperiment, "protocol: HTTP}", "protocol: TCP}", 1), SeverityError, "Gateway gw", "spec.listeners[0].protocol", 17, "TCPRoutes"},
		{"tls on http", strings.Replace(gwapiExperiment, "protocol: HTTP}", "protocol: HTTP, tls: {mode: Passthrough}}", 1), SeverityError, "Gateway gw", "spec.listeners[0].tls", 17, "must not be set"},
		{"https passthrough", strings.Replace(gwapiExperiment, "protocol: HTTP}", "protocol: HTTPS, tls: {mode: Passthrough}}", 1), SeverityError, "Gateway gw", "spec.listeners[0].tls.mode", 17, "must be Terminate"},
		{"terminate without certificates", strings.Replace(gwapiExperiment, "protocol: HTTP}", "protocol: HTTPS, tls: {mode: Terminate}}", 1), SeverityError, "Gateway gw", "spec.listeners[0].tls.certificateRefs", 17, "required"},
		{"certificate in another namespace", strings.Replace(gwapiExperiment, "protocol: HTTP}", "protocol: HTTPS, tls: {certificateRefs: [{name: c, namespace: istio-system}]}}", 1), SeverityError, "Gateway gw", "spec.listeners[0].tls.certificateRefs[0].namespace", 17, "ReferenceGrant"},
		{"certificate not a secret", strings.Replace(gwapiExperiment, "protocol: HTTP}", "protocol: HTTPS, tls: {certificateRefs: [{kind: ConfigMap, name: c}]}}", 1), SeverityError, "Gateway gw", "spec.listeners[0].tls.certificateRefs[0].kind", 17, "Secret"},
		{"three certificates", strings.Replace(gwapiExperiment, "protocol: HTTP}", "protocol: HTTPS, tls: {certificateRefs: [{name: a}, {name: b}, {name: c}]}}", 1), SeverityError, "Gateway gw", "spec.listeners[0].tls.certificateRefs", 17, "up to 2"},
		{"tls mode", strings.Replace(gwapiExperiment, "protocol: HTTP}", "protocol: TLS, tls: {mode: Decrypt}}", 1), SeverityError, "Gateway gw", "spec.listeners[0].tls.mode", 17, "Terminate or Passthrough"},
		{"tls listener", strings.Replace(gwapiExperiment, "protocol: HTTP}", "protocol: TLS, tls: {mode: Passthrough}}", 1), SeverityWarning, "Gateway gw", "spec.listeners[0]", 17, "no route attaches"},
		{"tlsroute", gwapiExperiment + "---\napiVersion: gateway.networking.k8s.io/v1\nkind: TLSRoute\nmetadata: {name: t}\nspec: {}\n", SeverityError, "TLSRoute t", "kind", 0, "TLSRoute is not implemented"},
		{"addresses", strings.Replace(gwapiExperiment, "  gatewayClassName: istio\n", "  gatewayClassName: istio\n  addresses: [{value: 10.0.0.1}]\n", 1), SeverityWarning, "Gateway gw", "spec.addresses", 16, "ignored"},
		{"backend port", gwapiRoute("  - backendRefs: [{name: app}]\n"), SeverityError, "HTTPRoute r", "spec.rules[0].backendRefs[0].port", 25, "required"},
		{"backend not a port", gwapiRoute("  - backendRefs: [{name: app, port: 80}]\n"), SeverityWarning, "HTTPRoute r", "spec.rules[0].backendRefs[0]", 25, "not a port of app"},
		{"backend kind", gwapiRoute("  - backendRefs: [{kind: ServiceImport, name: app, port: 9080}]\n"), SeverityError, "HTTPRoute r", "spec.rules[0].backendRefs[0].kind", 25, "not implemented"},
		{"backend namespace", gwapiRoute("  - backendRefs: [{name: app, namespace: other, port: 9080}]\n"), SeverityError, "HTTPRoute r", "spec.rules[0].backendRefs[0].namespace", 25, "ReferenceGrant"},
		{"redirect and rewrite", gwapiRoute("  - filters: [{type: RequestRedirect, requestRedirect: {hostname: x}}, {type: URLRewrite, urlRewrite: {hostname: y}}]\n"), SeverityError, "HTTPRoute r", "spec.rules[0].filters", 25, "not both"},
		{"filter twice", gwapiRoute("  - filters: [{type: URLRewrite, urlRewrite: {hostname: x}}, {type: URLRewrite, urlRewrite: {hostname: y}}]\n    backendRefs: [{name: app, port: 9080}]\n"), SeverityError, "HTTPRoute r", "spec.rules[0].filters[1].type", 25, "once"},
		{"route twice", gwapiRoute("  - backendRefs: [{name: app, port: 9080}]\n") + "---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec: {parentRefs: [{name: gw}]}\n", SeverityError, "HTTPRoute r", "metadata.name", 29, "share this name"},
		{"path dots", gwapiRoute("  - matches: [{path: {value: /a/../b}}]\n    backendRefs: [{name: app, port: 9080}]\n"), SeverityError, "HTTPRoute r", "spec.rules[0].matches[0].path.value", 25, "absolute path"},
		{"header name", gwapiRoute("  - matches: [{headers: [{name: \"a b\", value: x}]}]\n    backendRefs: [{name: app, port: 9080}]\n"), SeverityError, "HTTPRoute r", "spec.rules[0].matches[0].headers[0].name", 25, "not a valid header name"},
		{"missing backend", gwapiRoute("  - backendRefs: [{name: nope, port: 9080}]\n"), SeverityWarning, "HTTPRoute r", "spec.rules[0].backendRefs[0]", 25, "get 500"},
		{"mixed backends", gwapiRoute("  - backendRefs: [{name: nope, port: 9080}, {name: app, port: 9080}]\n"), SeverityWarning, "HTTPRoute r", "spec.rules[0].backendRefs[0]", 25, "get 500"},
		{"cors", gwapiRoute("  - filters: [{type: CORS, cors: {}}]\n    backendRefs: [{name: app, port: 9080}]\n"), SeverityError, "HTTPRoute r", "spec.rules[0].filters[0].cors", 25, "not implemented"},
		{"filter field", gwapiRoute("  - filters: [{type: URLRewrite}]\n    backendRefs: [{name: app, port: 9080}]\n"), SeverityError, "HTTPRoute r", "spec.rules[0].filters[0].urlRewrite", 25, "required"},
		{"retry", gwapiRoute("  - retry: {codes: [200]}\n    backendRefs: [{name: app, port: 9080}]\n"), SeverityError, "HTTPRoute r", "spec.rules[0].retry.codes[0]", 25, "between 400 and 599"},
		{"regex", gwapiRoute("  - matches: [{path: {type: RegularExpression, value: \"(\"}}]\n    backendRefs: [{name: app, port: 9080}]\n"), SeverityError, "HTTPRoute r", "spec.rules[0].matches[0].path.value", 25, "invalid RE2"},
		{"mesh parent port", strings.Replace(gwapiRoute("  - backendRefs: [{name: app, port: 9080}]\n"), "parentRefs: [{name: gw}]", "parentRefs: [{group: \"\", kind: Service, name: app, port: 80}]", 1), SeverityError, "HTTPRoute r", "spec.parentRefs[0].port", 23, "not a port of app"},
		{"mesh parent unbound", strings.Replace(gwapiRoute("  - backendRefs: [{name: app, port: 9080}]\n"), "parentRefs: [{name: gw}]", "parentRefs: [{group: \"\", kind: Service, name: nope}]", 1), SeverityWarning, "HTTPRoute r", "spec.parentRefs[0].name", 23, "no mesh traffic"},
		{"section", strings.Replace(gwapiRoute("  - backendRefs: [{name: app, port: 9080}]\n"), "parentRefs: [{name: gw}]", "parentRefs: [{name: gw, sectionName: https}]", 1), SeverityError, "HTTPRoute r", "spec.parentRefs[0].sectionName", 23, "no listener"},
		{"no gateway", strings.Replace(gwapiRoute("  - backendRefs: [{name: app, port: 9080}]\n"), "parentRefs: [{name: gw}]", "parentRefs: [{name: other}]", 1), SeverityError, "HTTPRoute r", "spec.parentRefs[0].name", 23, "names no Gateway"},
		{"no hostname match", strings.Replace(gwapiRoute("  - backendRefs: [{name: app, port: 9080}]\n"), "protocol: HTTP}", "protocol: HTTP, hostname: a.example.com}", 1) + "  hostnames: [b.example.com]\n", SeverityWarning, "HTTPRoute r", "spec.parentRefs[0]", 23, "attaches to no listener"},
		{"grpcroute", gwapiExperiment + "---\napiVersion: gateway.networking.k8s.io/v1\nkind: GRPCRoute\nmetadata: {name: g}\nspec: {}\n", SeverityError, "GRPCRoute g", "kind", 0, "Gateway or HTTPRoute"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ps := Lint([]byte(c.src))
			p, ok := problemAt(ps, c.sev, c.doc, c.path)
			if !ok {
				t.Fatalf("no %s at %s %s in %v", c.sev, c.doc, c.path, ps)
			}
			if !strings.Contains(p.Message, c.msgContains) || c.line != 0 && p.Line != c.line {
				t.Errorf("got %v, want line %d and %q", p, c.line, c.msgContains)
			}
		})
	}
}

// A rule of several matches reports its action's problems once.
func TestGatewayAPIProblemsOnce(t *testing.T) {
	src := gwapiRoute("  - matches: [{path: {value: /a}}, {path: {value: /b}}]\n    backendRefs: [{name: app}]\n")
	n := 0
	for _, p := range Lint([]byte(src)) {
		if p.Path == "spec.rules[0].backendRefs[0].port" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the missing port is reported %d times", n)
	}
}

func TestGatewayAPIEnvironmentRefused(t *testing.T) {
	src := `apiVersion: faultline.dev/v1alpha1
kind: Environment
metadata: {name: env}
spec:
  services:
  - host: app
    port: 9080
    endpoints: [{address: "127.0.0.1:9080"}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r}
spec: {}
`
	if _, ok := problemAt(Lint([]byte(src)), SeverityError, "HTTPRoute r", "apiVersion"); !ok {
		t.Errorf("an environment's HTTPRoute is accepted: %v", Lint([]byte(src)))
	}
}

// The twins validate without a problem, and the translation is what
// istiod generates: one Istio Gateway, one VirtualService per host, rules
// split to one match each and sorted.
func TestGatewayAPITranslation(t *testing.T) {
	for _, f := range []string{"httpbin-gateway-api.yaml", "bookinfo-gateway-api.yaml", "httpbin-istio.yaml", "bookinfo-istio.yaml"} {
		src, err := os.ReadFile("testdata/gatewayapi/" + f)
		if err != nil {
			t.Fatal(err)
		}
		if ps := Lint(src); len(ps) > 0 {
			t.Errorf("%s: %v", f, ps)
		}
	}
	src, _ := os.ReadFile("testdata/gatewayapi/bookinfo-gateway-api.yaml")
	doc, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Gateways) != 1 || len(doc.VirtualServices) != 1 {
		t.Fatalf("generated %d Gateways, %d VirtualServices", len(doc.Gateways), len(doc.VirtualServices))
	}
	gw := doc.Gateways[0]
	if gw.Metadata.Name != "bookinfo-gateway" || len(gw.Spec.Servers) != 1 || gw.Spec.Servers[0].Port.Number != 80 || gw.Spec.Servers[0].Hosts[0] != "default/*" {
		t.Errorf("gateway %+v", gw)
	}
	vs := doc.VirtualServices[0]
	if vs.Spec.Hosts[0] != "*" || vs.Spec.Gateways[0] != "default/bookinfo-gateway" || len(vs.Spec.HTTP) != 5 {
		t.Fatalf("virtual service %+v", vs.Spec)
	}
	var got []string
	for _, h := range vs.Spec.HTTP {
		m := h.Match[0]
		switch {
		case m.URI.Exact != nil:
			got = append(got, "exact "+*m.URI.Exact)
		case m.URI.Regex != nil:
			got = append(got, "regex "+*m.URI.Regex)
		}
		if m.Port != 80 || h.Name != "default.bookinfo.0" || h.Route[0].Destination.Host != "productpage.default.svc.cluster.local" {
			t.Errorf("rule %+v", h)
		}
	}
	want := "exact /productpage,exact /logout,exact /login,regex /api/v1/products(/.*)?,regex /static(/.*)?"
	if strings.Join(got, ",") != want {
		t.Errorf("rules %s, want %s", strings.Join(got, ","), want)
	}
	if objs, err := doc.Objects(); err != nil || len(objs) != 0 {
		t.Errorf("Objects exports the generated resources: %v %v", objs, err)
	}
}

// Two listeners of one port: a route host a more exact listener names
// goes through that listener only (istiod's hostnameAllowedByIsolation),
// and rules of the wildcard listener that would serve the exact one's
// host here are warned about.
func TestGatewayAPIListenerIsolation(t *testing.T) {
	src := strings.Replace(gwapiExperiment, "  - {name: http, port: 80, protocol: HTTP}\n",
		"  - {name: wild, port: 80, protocol: HTTP, hostname: \"*.example.com\"}\n  - {name: foo, port: 80, protocol: HTTP, hostname: foo.example.com}\n", 1) + `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: a}
spec:
  parentRefs: [{name: gw}]
  hostnames: [foo.example.com]
  rules: [{backendRefs: [{name: app, port: 9080}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: b}
spec:
  parentRefs: [{name: gw, sectionName: wild}]
  rules: [{backendRefs: [{name: app, port: 9080}]}]
`
	doc, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, vs := range doc.VirtualServices {
		names = append(names, vs.Metadata.Name+"="+strings.Join(func() []string {
			var out []string
			for _, h := range vs.Spec.HTTP {
				out = append(out, h.Name)
			}
			return out
		}(), ","))
	}
	if got := strings.Join(names, " "); got != "gw~80~foo.example.com=default.a.0 gw~80~*.example.com=default.b.0" {
		t.Errorf("virtual services %s", got)
	}
	if _, ok := problemAt(doc.Warnings, SeverityWarning, "HTTPRoute b", "spec.parentRefs[0]"); !ok {
		t.Errorf("no warning for route b's rules on listener foo's host: %v", doc.Warnings)
	}
	if _, ok := problemAt(doc.Warnings, SeverityWarning, "HTTPRoute a", "spec.parentRefs[0]"); ok {
		t.Errorf("route a warned: %v", doc.Warnings)
	}
}

// HTTPS and TLS listeners become servers with TLS as istiod's buildTLS
// sets it: Terminate is SIMPLE with the Secret as credentialName (two
// Secrets as credentialNames, the terminate-mode option's mode),
// Passthrough is PASSTHROUGH; HTTPRoutes attach to HTTPS listeners only.
func TestGatewayAPITLSListeners(t *testing.T) {
	src := strings.Replace(gwapiExperiment, "  - {name: http, port: 80, protocol: HTTP}\n", `  - {name: https, port: 443, protocol: HTTPS, hostname: app.example.com, tls: {mode: Terminate, certificateRefs: [{name: app-cert}]}}
  - {name: two, port: 8443, protocol: HTTPS, tls: {certificateRefs: [{name: rsa, kind: Secret, group: ""}, {name: ecdsa}], options: {gateway.istio.io/tls-terminate-mode: MUTUAL}}}
  - {name: pass, port: 9443, protocol: TLS, hostname: "*.example.com", tls: {mode: Passthrough}}
  - {name: term, port: 9444, protocol: TLS, tls: {certificateRefs: [{name: tcp-cert, namespace: default}]}}
`, 1) + `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r}
spec:
  parentRefs: [{name: gw}]
  rules: [{backendRefs: [{name: app, port: 9080}]}]
`
	doc, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Gateways) != 1 {
		t.Fatalf("generated %d Gateways", len(doc.Gateways))
	}
	var got []string
	for _, s := range doc.Gateways[0].Spec.Servers {
		got = append(got, fmt.Sprintf("%d %s %s %s %s%v", s.Port.Number, s.Port.Protocol, strings.Join(s.Hosts, ","), s.TLS.Mode, s.TLS.CredentialName, s.TLS.CredentialNames))
	}
	want := []string{
		"443 HTTPS default/app.example.com SIMPLE app-cert[]",
		"8443 HTTPS default/* MUTUAL [rsa ecdsa]",
		"9443 TLS default/*.example.com PASSTHROUGH []",
		"9444 TLS default/* SIMPLE tcp-cert[]",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("servers\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var vss []string
	for _, vs := range doc.VirtualServices {
		vss = append(vss, vs.Metadata.Name)
		if vs.Metadata.Annotations[RouteSemanticsAnnotation] != RouteSemanticsGateway {
			t.Errorf("%s lacks the gateway route semantics annotation", vs.Metadata.Name)
		}
	}
	if got := strings.Join(vss, " "); got != "gw~443~app.example.com gw~8443~*" {
		t.Errorf("virtual services %s, want the HTTPS listeners' only", got)
	}
}
