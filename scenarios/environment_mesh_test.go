package scenarios_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/faultline/faultline/scenarios"
)

const meshEnv = `apiVersion: faultline.dev/v1alpha1
kind: Environment
metadata: {name: cluster}
spec:
  kubernetes: {kubeconfig: staging.yaml, context: staging, namespace: bookinfo, entry: "127.0.0.1:8080"}
`

// problemText returns the problems of an InvalidError as "path:
// message" lines.
func problemText(t *testing.T, err error) string {
	t.Helper()
	var lines []string
	for _, p := range problemsOf(t, err) {
		lines = append(lines, p.Path+": "+p.Message)
	}
	return strings.Join(lines, "\n")
}

func TestMeshEnvironmentIsChecked(t *testing.T) {
	doc, err := scenarios.ParseEnvironment([]byte(meshEnv))
	if err != nil {
		t.Fatal(err)
	}
	if !doc.Environment.IsMesh() || doc.Environment.Spec.Kubernetes.Namespace != "bookinfo" {
		t.Fatalf("environment %+v", doc.Environment.Spec)
	}
	for _, tc := range []struct{ name, spec, want string }{
		{"no credentials", `kubernetes: {namespace: bookinfo}`, "spec.kubernetes.kubeconfig: is required"},
		{"both credentials", `kubernetes: {kubeconfig: k, inCluster: true, namespace: bookinfo}`, "spec.kubernetes.inCluster: set kubeconfig or inCluster, not both"},
		{"a context without a kubeconfig", `kubernetes: {inCluster: true, context: c, namespace: bookinfo}`, "spec.kubernetes.context: names a kubeconfig context"},
		{"a bad namespace", `kubernetes: {kubeconfig: k, namespace: Book_Info}`, `spec.kubernetes.namespace: must name a Kubernetes namespace`},
		{"a bad entry", `kubernetes: {kubeconfig: k, namespace: b, entry: "10.0.0.1"}`, "spec.kubernetes.entry: must be host:port"},
		{"listeners beside it", "egress: 127.0.0.1:15001\n  kubernetes: {kubeconfig: k, namespace: b}", "spec.egress: belongs to an environment of Faultline's own listeners"},
		{"services beside it", "services: [{host: reviews, port: 9080, endpoints: [{address: 127.0.0.1:1}]}]\n  kubernetes: {kubeconfig: k, namespace: b}", "spec.services: belongs to"},
		{"an unknown field", `kubernetes: {kubeconfig: k, namespace: b, cluster: x}`, "spec.kubernetes.cluster"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := scenarios.ParseEnvironment([]byte("apiVersion: faultline.dev/v1alpha1\nkind: Environment\nmetadata: {name: cluster}\nspec:\n  " + tc.spec + "\n"))
			if got := problemText(t, err); !strings.Contains(got, tc.want) {
				t.Errorf("problems:\n%s\nwant one containing %q", got, tc.want)
			}
		})
	}
	_, err = scenarios.ParseEnvironment([]byte(meshEnv + `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: reviews}}]}]
`))
	if got := problemText(t, err); !strings.Contains(got, "holds no baseline resources") {
		t.Errorf("a mesh environment with a baseline: %s", got)
	}
}

// experimentOnMesh is an experiment whose hosts, subsets and gateway are
// the cluster's: none of them is in the stream.
const experimentOnMesh = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: reviews-abort}
spec:
  environment: cluster
  load: {url: "http://productpage:9080/", via: bookinfo-gateway, requests: 10}
  hypothesis: [{metric: error_ratio, op: "<", value: 0.5}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: bookinfo}
spec:
  hosts: [reviews]
  gateways: [mesh, bookinfo-gateway]
  http:
  - fault: {abort: {httpStatus: 503, percentage: {value: 50}}}
    route: [{destination: {host: reviews, subset: v3}}]
`

func TestExperimentOnAMeshResolvesAgainstTheCluster(t *testing.T) {
	env, err := scenarios.ParseEnvironment([]byte(meshEnv))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := scenarios.ParseOn([]byte(experimentOnMesh), env)
	if err != nil {
		t.Fatalf("an experiment naming the cluster's hosts, subsets and gateway: %v", err)
	}
	objs, err := doc.Objects()
	if err != nil || len(objs) != 1 {
		t.Fatalf("objects %+v (%v)", objs, err)
	}
	var vs map[string]any
	if err := json.Unmarshal(objs[0].Source, &vs); err != nil {
		t.Fatal(err)
	}
	if objs[0].Kind != "VirtualService" || objs[0].APIVersion != "networking.istio.io/v1" || objs[0].Namespace != "bookinfo" ||
		vs["spec"].(map[string]any)["http"].([]any)[0].(map[string]any)["fault"] == nil {
		t.Errorf("object %+v: %s", objs[0], objs[0].Source)
	}

	for _, tc := range []struct{ name, from, to, want string }{
		{"another namespace", "namespace: bookinfo}", "namespace: other}", `metadata.namespace: is "other"`},
		{"services of its own", "  hypothesis:", "  services: [{host: reviews, port: 9080, endpoints: [{address: 127.0.0.1:1}]}]\n  hypothesis:", "spec.services: binds hosts"},
		{"a counter the mesh keeps", "metric: error_ratio", "metric: retries", "spec.hypothesis[0].metric: retries is counted by the data plane"},
		{"phases", "requests: 10}", "qps: 10}\n  phases: {baseline: 1s, fault: 1s, recovery: 1s}", "spec.phases: a run on a mesh environment applies its resources to the cluster once"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := scenarios.ParseOn([]byte(strings.Replace(experimentOnMesh, tc.from, tc.to, 1)), env)
			if got := problemText(t, err); !strings.Contains(got, tc.want) {
				t.Errorf("problems:\n%s\nwant one containing %q", got, tc.want)
			}
		})
	}
}

func TestObjectsAreTheStreamsOwnInApplyOrder(t *testing.T) {
	doc, err := scenarios.ParseOn([]byte(`apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: jason}
spec:
  environment: staging
  load: {url: "http://productpage:9080/", requests: 1}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings]
  http: [{route: [{destination: {host: ratings}}]}]
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: ratings}
spec: {host: ratings}
`), mustEnvironment(t))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := doc.Objects()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, o.APIVersion+" "+o.Kind+" "+o.Name)
	}
	// The baseline's reviews and ingress are the environment's, not the
	// experiment's; the DestinationRule comes before the VirtualService.
	if want := "networking.istio.io/v1alpha3 DestinationRule ratings,networking.istio.io/v1beta1 VirtualService ratings"; strings.Join(got, ",") != want {
		t.Errorf("objects %v, want %s", got, want)
	}
}

func mustEnvironment(t *testing.T) *scenarios.Document {
	t.Helper()
	env, err := scenarios.ParseEnvironment([]byte(stagingEnv))
	if err != nil {
		t.Fatal(err)
	}
	return env
}
