package scenarios_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/faultline/faultline/scenarios"
)

// stagingEnv is an environment with every kind of listener and a baseline
// that routes reviews to v1, except jason to v2.
const stagingEnv = `apiVersion: faultline.dev/v1alpha1
kind: Environment
metadata: {name: staging}
spec:
  egress: 127.0.0.1:15001
  gateways: {ingress: 127.0.0.1:18081}
  services:
  - host: ratings
    port: 9080
    listen: 127.0.0.1:19080
    endpoints: [{address: 127.0.0.1:29080, labels: {version: v1}}]
  - host: reviews
    port: 9080
    endpoints:
    - {address: 127.0.0.1:29081, labels: {version: v1}}
    - {address: 127.0.0.1:29082, labels: {version: v2}}
  - host: productpage
    port: 9080
    endpoints: [{address: 127.0.0.1:29090}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: ingress}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - route: [{destination: {host: reviews, subset: v1}}]
`

func parseEnv(t *testing.T, src string) *scenarios.Document {
	t.Helper()
	env, err := scenarios.ParseEnvironment([]byte(src))
	if err != nil {
		t.Fatalf("ParseEnvironment: %v", err)
	}
	return env
}

func TestParseEnvironment(t *testing.T) {
	env := parseEnv(t, stagingEnv)
	if got, want := env.Name(), "staging"; got != want {
		t.Errorf("name: got %q, want %q", got, want)
	}
	if env.Environment == nil || env.Experiment.Kind != scenarios.KindEnvironment {
		t.Fatalf("want an environment's document, got %+v", env.Experiment)
	}
	if got, want := len(env.Experiment.Spec.Services), 3; got != want {
		t.Errorf("services bound: got %d, want %d", got, want)
	}
	if got, want := len(env.VirtualServices)+len(env.DestinationRules)+len(env.Gateways), 3; got != want {
		t.Errorf("baseline resources: got %d, want %d", got, want)
	}
	var fields []string
	for _, a := range env.Environment.ListenerAddresses() {
		fields = append(fields, a.Field+"="+a.Addr)
	}
	if got, want := strings.Join(fields, " "), "spec.egress=127.0.0.1:15001 spec.gateways.ingress=127.0.0.1:18081 spec.services[0].listen=127.0.0.1:19080"; got != want {
		t.Errorf("listener addresses:\n got %s\nwant %s", got, want)
	}
	sl := env.Environment.ServiceListeners()
	if len(sl) != 1 || sl[0] != (scenarios.ServiceListener{Host: "ratings", Port: 9080, Addr: "127.0.0.1:19080"}) {
		t.Errorf("service listeners: got %+v", sl)
	}
	if !scenarios.IsEnvironment([]byte(stagingEnv)) {
		t.Error("IsEnvironment: false for an environment's stream")
	}
}

// envHead is an Environment with the given spec lines (indented by two).
func envHead(spec string) string {
	return "apiVersion: faultline.dev/v1alpha1\nkind: Environment\nmetadata: {name: e}\nspec:\n" + spec
}

const oneService = "  services:\n  - {host: a, port: 80, endpoints: [{address: 127.0.0.1:9000}]}\n"

func TestValidateEnvironment(t *testing.T) {
	gw := "---\napiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw}\nspec:\n  selector: {istio: ingressgateway}\n  servers:\n" +
		"  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [\"*\"]\n  - port: {number: 8080, name: alt, protocol: HTTP}\n    hosts: [\"*\"]\n"
	cases := []struct {
		name string
		src  string
		want []want
	}{
		{name: "egress only", src: envHead("  egress: 127.0.0.1:15001\n" + oneService)},
		{name: "localhost and every interface are addresses", src: envHead("  egress: localhost:15001\n  gateways: {\"gw:80\": \"0.0.0.0:18080\", \"gw:8080\": \"127.0.0.1:18081\"}\n" + oneService + gw)},
		{name: "no listener at all", src: envHead(oneService),
			want: []want{errAt("spec", "needs at least one listener")}},
		{name: "port 0 is not fixed", src: envHead("  egress: 127.0.0.1:0\n" + oneService),
			want: []want{errAt("spec.egress", "needs a fixed port")}},
		{name: "no interface", src: envHead("  egress: \":15001\"\n" + oneService),
			want: []want{errAt("spec.egress", "names no interface")}},
		{name: "a host name is not an interface", src: envHead("  egress: proxy.example.com:15001\n" + oneService),
			want: []want{errAt("spec.egress", "must listen on an IP address")}},
		{name: "not host:port", src: envHead("  egress: \"15001\"\n" + oneService),
			want: []want{errAt("spec.egress", "must be host:port")}},
		{name: "two listeners on one address", src: envHead("  egress: 127.0.0.1:15001\n  services:\n  - {host: a, port: 80, listen: 127.0.0.1:15001, endpoints: [{address: 127.0.0.1:9000}]}\n"),
			want: []want{errAt("spec.services[0].listen", "is also taken by spec.egress")}},
		{name: "every interface overlaps loopback on the same port", src: envHead("  egress: 0.0.0.0:15001\n  services:\n  - {host: a, port: 80, listen: 127.0.0.1:15001, endpoints: [{address: 127.0.0.1:9000}]}\n"),
			want: []want{errAt("spec.services[0].listen", "is also taken by spec.egress")}},
		{name: "gateway of no Gateway", src: envHead("  egress: 127.0.0.1:15001\n  gateways: {ingress: 127.0.0.1:18081}\n" + oneService),
			want: []want{errAt("spec.gateways.ingress", "names no Gateway")}},
		{name: "one address for a gateway of two ports", src: envHead("  gateways: {gw: 127.0.0.1:18081}\n" + oneService + gw),
			want: []want{errAt("spec.gateways.gw", `give each port its own address, as spec.gateways["gw:80"]`)}},
		{name: "gateway port it does not serve", src: envHead("  gateways: {\"gw:81\": 127.0.0.1:18081}\n" + oneService + gw),
			want: []want{errAt("spec.gateways.gw:81", "has no server on port 81")}},
		{name: "demo endpoints belong to experiments", src: envHead("  egress: 127.0.0.1:15001\n  services:\n  - {host: a, port: 80, endpoints: [{demo: httpbin}]}\n"),
			want: []want{errAt("spec.services[0].endpoints[0]", "addresses of running services")}},
		{name: "service without endpoints", src: envHead("  egress: 127.0.0.1:15001\n  services:\n  - {host: a, port: 80}\n"),
			want: []want{errAt("spec.services[0].endpoints", "needs at least one endpoint")}},
		{name: "unknown field", src: envHead("  egress: 127.0.0.1:15001\n  ingress: 127.0.0.1:1\n" + oneService),
			want: []want{errAt("spec.ingress", `unknown field "ingress"`)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got scenarios.Problems
			for _, p := range scenarios.Lint([]byte(c.src)) {
				if p.Document != "Environment e" {
					t.Errorf("problem outside the environment: %s", p)
					continue
				}
				got = append(got, p)
			}
			checkProblems(t, got, c.want)
		})
	}
}

func TestEnvironmentBaselineHoldsNoFault(t *testing.T) {
	src := envHead("  egress: 127.0.0.1:15001\n"+oneService) + `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: a}
spec:
  hosts: [a]
  http:
  - fault: {abort: {httpStatus: 503, percentage: {value: 100}}}
    route: [{destination: {host: a}}]
`
	checkProblems(t, scenarios.Lint([]byte(src)), []want{errAt("spec.http[0].fault", "an environment's baseline holds no fault")})
	// A fault at 0 % never acts: a production table may keep one.
	inert := strings.Replace(src, "percentage: {value: 100}", "percentage: {value: 0}", 1)
	checkProblems(t, scenarios.Lint([]byte(inert)), nil)
}

func TestEnvironmentStreamsHoldOneKind(t *testing.T) {
	exp := "apiVersion: faultline.dev/v1alpha1\nkind: Experiment\nmetadata: {name: x}\nspec:\n  load: {url: \"http://a/\"}\n"
	if _, err := scenarios.ParseEnvironment([]byte(envHead("  egress: 127.0.0.1:15001\n"+oneService) + "---\n" + exp)); err == nil ||
		!strings.Contains(err.Error(), "an environment's stream holds no Experiment") {
		t.Errorf("environment with an experiment: got %v", err)
	}
	if _, err := scenarios.Parse([]byte(exp + "---\n" + envHead("  egress: 127.0.0.1:15001\n"+oneService))); err == nil ||
		!strings.Contains(err.Error(), "an experiment's stream holds no Environment") {
		t.Errorf("experiment with an environment: got %v", err)
	}
	if _, err := scenarios.ParseEnvironment([]byte("apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: g}\nspec: {servers: []}\n")); err == nil || !strings.Contains(err.Error(), "no document of kind Environment") {
		t.Errorf("no environment: got %v", err)
	}
}

// jasonDelay is an experiment on staging that delays ratings for jason and
// replaces the baseline's reviews route, adding a timeout.
const jasonDelay = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: ratings-delay-jason}
spec:
  environment: staging
  load: {url: "http://productpage:9080/productpage", headers: {end-user: jason}, requests: 10}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings]
  http:
  - match: [{headers: {end-user: {exact: jason}}}]
    fault: {delay: {fixedDelay: 7s, percentage: {value: 100}}}
    route: [{destination: {host: ratings}}]
  - route: [{destination: {host: ratings}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews, subset: v2}}]
    timeout: 500ms
`

func TestParseOnLaysTheExperimentOverTheBaseline(t *testing.T) {
	env := parseEnv(t, stagingEnv)
	doc, err := scenarios.ParseOn([]byte(jasonDelay), env)
	if err != nil {
		t.Fatalf("ParseOn: %v", err)
	}
	var vs []string
	for _, v := range doc.VirtualServices {
		vs = append(vs, v.Metadata.Name+":"+strings.Join(v.Spec.Hosts, ","))
	}
	// The experiment's reviews replaces the baseline's in its place; its
	// ratings is added.
	if got, want := strings.Join(vs, " "), "reviews:reviews ratings:ratings"; got != want {
		t.Errorf("virtual services: got %s, want %s", got, want)
	}
	if got := doc.VirtualServices[0].Spec.HTTP[0].Timeout; got == nil || got.String() != "500ms" {
		t.Errorf("reviews is not the experiment's: timeout %v", got)
	}
	if got, want := len(doc.DestinationRules)+len(doc.Gateways), 2; got != want {
		t.Errorf("baseline DestinationRule and Gateway kept: got %d resources, want %d", got, want)
	}
	var hosts []string
	for _, s := range doc.Experiment.Spec.Services {
		hosts = append(hosts, s.Host)
	}
	if got, want := strings.Join(hosts, " "), "ratings reviews productpage"; got != want {
		t.Errorf("services: got %s, want %s", got, want)
	}
	if len(doc.Warnings) != 0 {
		t.Errorf("warnings: %v", doc.Warnings)
	}
	// The environment's document is left as it was.
	if got := len(env.VirtualServices[0].Spec.HTTP); got != 2 {
		t.Errorf("baseline reviews changed: %d rules", got)
	}
}

func TestParseOnResolvesAgainstTheEnvironment(t *testing.T) {
	env := parseEnv(t, stagingEnv)
	exp := func(spec, resources string) string {
		return "apiVersion: faultline.dev/v1alpha1\nkind: Experiment\nmetadata: {name: x}\nspec:\n  environment: staging\n  load: {url: \"http://productpage:9080/\"}\n" + spec + resources
	}
	vs := func(host, dest string) string {
		return "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: v}\nspec:\n  hosts: [" + host + "]\n  http:\n  - route: [{destination: " + dest + "}]\n"
	}
	cases := []struct {
		name string
		src  string
		want []want
	}{
		{name: "hosts and subsets of the environment", src: exp("", vs("reviews", "{host: reviews, subset: v2}"))},
		{name: "a gateway of the environment", src: exp("", strings.Replace(vs("reviews", "{host: reviews}"), "  hosts:", "  gateways: [ingress]\n  hosts:", 1))},
		{name: "an added service", src: exp("  services:\n  - {host: details, port: 9080, endpoints: [{address: 127.0.0.1:29091}]}\n", vs("details", "{host: details}"))},
		// The proxy compiler says so (503 UH per request), and refuses the
		// run only if its load reaches it (experiment.Check).
		{name: "a host nobody binds", src: exp("", vs("nowhere", "{host: nowhere}"))},
		{name: "a subset no DestinationRule defines", src: exp("", vs("reviews", "{host: reviews, subset: v9}")),
			want: []want{warnAt("spec.http[0].route[0].destination.subset", `subset "v9" of reviews is defined by no DestinationRule`)}},
		{name: "rebinding a service of the environment", src: exp("  services:\n  - {host: ratings, port: 9080, endpoints: [{address: 127.0.0.1:1}]}\n", ""),
			want: []want{errAt("spec.services[0].host", "ratings is bound by environment staging already")}},
		{name: "another environment", src: strings.Replace(exp("", ""), "environment: staging", "environment: prod", 1),
			want: []want{errAt("spec.environment", `names "prod", but the experiment is checked against environment "staging"`)}},
		{name: "listeners are the environment's", src: exp("  services:\n  - {host: details, port: 9080, listen: 127.0.0.1:1, endpoints: [{address: 127.0.0.1:2}]}\n", ""),
			want: []want{errAt("spec.services[0].listen", "only an Environment's services have listeners")}},
		{name: "no demo targets on an environment", src: exp("  services:\n  - {host: details, port: 9080, endpoints: [{demo: httpbin}]}\n", ""),
			want: []want{errAt("spec.services[0].endpoints[0]", "adds services by address")}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := scenarios.LintOn([]byte(c.src), env)
			checkProblems(t, got, c.want)
		})
	}
}

func TestParseAloneDefersTheEnvironmentsChecks(t *testing.T) {
	ps := scenarios.Lint([]byte(jasonDelay))
	if errs := ps.Errors(); len(errs) != 0 {
		t.Fatalf("errors without the environment: %v", errs)
	}
	if !slices.ContainsFunc(ps, func(p scenarios.Problem) bool {
		return p.Path == "spec.environment" && strings.Contains(p.Message, "checked against environment staging when the server stores or runs")
	}) {
		t.Errorf("no warning that the environment is resolved later: %v", ps)
	}
}

func TestParseOverlay(t *testing.T) {
	env := parseEnv(t, stagingEnv)
	abort := `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - fault: {abort: {httpStatus: 503, percentage: {value: 50}}}
    route: [{destination: {host: reviews, subset: v1}}]
`
	doc, err := scenarios.ParseOverlay([]byte(abort), env)
	if err != nil {
		t.Fatalf("ParseOverlay: %v", err)
	}
	if got := len(doc.VirtualServices); got != 1 || doc.VirtualServices[0].Spec.HTTP[0].Fault == nil {
		t.Fatalf("the overlay's reviews replaces the baseline's: %d virtual services", got)
	}
	if got := len(doc.Experiment.Spec.Services); got != 3 {
		t.Errorf("services: got %d, want the environment's 3", got)
	}
	for _, c := range []struct{ name, src, want string }{
		{"an experiment is no overlay", jasonDelay, "an overlay holds Istio resources only"},
		{"nothing to lay over", "# nothing\n", "the overlay holds no Istio resource"},
		{"a host the environment does not bind", strings.ReplaceAll(abort, "host: reviews", "host: nowhere"), "nowhere is bound to no endpoints"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := scenarios.ParseOverlay([]byte(c.src), env); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}
