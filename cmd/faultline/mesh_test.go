package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/faultline/faultline/internal/kubetest"
)

// End-to-end tests of mesh environments: `faultline serve` processes on a
// real API server with Istio's CRDs, changing a namespace for runs and
// always putting it back.

var (
	virtualServices  = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"}
	destinationRules = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "destinationrules"}
)

// meshCluster is the test's namespace, the kubeconfig directory serve
// reads, and an admin client standing for the team.
type meshCluster struct {
	t        *testing.T
	ns, dir  string
	dyn      dynamic.Interface
	team     *unstructured.Unstructured // the namespace's own reviews route
	entryURL string                     // the load's entry: a loopback service
}

func newMeshCluster(t *testing.T) *meshCluster {
	t.Helper()
	kc := kubetest.Get(t)
	m := &meshCluster{t: t, ns: kc.Namespace(t), dir: t.TempDir(), dyn: kc.Dynamic(t)}
	for _, user := range []string{"editor", "nobody"} {
		b, err := os.ReadFile(kc.Kubeconfig(t, user))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(m.dir, user), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var team unstructured.Unstructured
	src, _ := yaml.YAMLToJSON([]byte(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  labels: {app: reviews}
  annotations: {owner: reviews-team}
spec:
  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews, subset: v1}}]
`))
	if err := team.UnmarshalJSON(src); err != nil {
		t.Fatal(err)
	}
	created, err := m.dyn.Resource(virtualServices).Namespace(m.ns).Create(context.Background(), &team, metav1.CreateOptions{FieldManager: "kubectl"})
	if err != nil {
		t.Fatal(err)
	}
	m.team = created
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "reviews") }))
	t.Cleanup(svc.Close)
	m.entryURL = strings.TrimPrefix(svc.URL, "http://")
	return m
}

func (m *meshCluster) environment(user string) []byte {
	return fmt.Appendf(nil, `apiVersion: faultline.dev/v1alpha1
kind: Environment
metadata: {name: staging}
spec:
  kubernetes: {kubeconfig: %s, namespace: %s, entry: "%s"}
`, user, m.ns, m.entryURL)
}

// experiment aborts half of reviews' calls for duration, on the mesh.
func (m *meshCluster) experiment(name, duration string) []byte {
	return fmt.Appendf(nil, `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: %s}
spec:
  environment: staging
  load: {url: "http://reviews:9080/", qps: 20, connections: 2, duration: %s}
  hypothesis:
  - {metric: error_ratio, op: "<", value: 0.01}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - fault: {abort: {httpStatus: 503, percentage: {value: 50}}}
    route: [{destination: {host: reviews, subset: v2}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets: [{name: v2, labels: {version: v2}}]
`, name, duration)
}

func (m *meshCluster) reviews() *unstructured.Unstructured {
	m.t.Helper()
	u, err := m.dyn.Resource(virtualServices).Namespace(m.ns).Get(context.Background(), "reviews", metav1.GetOptions{})
	if err != nil {
		m.t.Fatal(err)
	}
	return u
}

// runHolds reports whether run id's VirtualService is in the cluster.
func (m *meshCluster) runHolds(id int64) bool {
	return m.reviews().GetLabels()["faultline.dev/run"] == fmt.Sprint(id)
}

// waitFor polls cond every 20 ms until it holds, or fails after within.
func (m *meshCluster) waitFor(what string, within time.Duration, cond func() bool) time.Duration {
	m.t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			m.t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// putBack reports whether the namespace is as the team left it: its own
// reviews route exactly, and no DestinationRule of a run.
func (m *meshCluster) putBack() bool {
	vs := m.reviews()
	_, err := m.dyn.Resource(destinationRules).Namespace(m.ns).Get(context.Background(), "reviews", metav1.GetOptions{})
	return apierrors.IsNotFound(err) &&
		reflect.DeepEqual(vs.Object["spec"], m.team.Object["spec"]) &&
		reflect.DeepEqual(vs.GetLabels(), m.team.GetLabels()) &&
		reflect.DeepEqual(vs.GetAnnotations(), m.team.GetAnnotations())
}

func (m *meshCluster) serve(db string) (*proc, apiClient) {
	m.t.Helper()
	p := startProc(m.t, "serve", childEnv(), "serve", "--addr", "127.0.0.1:0", "--db", db, "--no-examples", "--kubeconfig-dir", m.dir)
	return p, apiClient{t: m.t, base: "http://" + p.waitLine(m.t, servingLine, 30*time.Second)[1]}
}

// meshReport is the part of a mesh run's report these tests read.
type meshReport struct {
	Status   string
	Reason   string
	Warnings []string
	Requests int64
	Mesh     struct {
		Namespace string
		Entry     string
		Resources []struct {
			Kind, Name, Action, State, Detail                string
			OriginalVersion, AppliedVersion, RestoredVersion string
		}
	}
}

func (c apiClient) meshReport(id int64) meshReport {
	c.t.Helper()
	var r struct{ Report json.RawMessage }
	c.json("GET", fmt.Sprintf("/api/v1/runs/%d", id), "", nil, http.StatusOK, &r)
	var rep meshReport
	if err := json.Unmarshal(r.Report, &rep); err != nil {
		c.t.Fatalf("run %d report: %v: %s", id, err, r.Report)
	}
	return rep
}

func TestMeshEnvironmentRunsAndPutsTheNamespaceBack(t *testing.T) {
	m := newMeshCluster(t)
	_, c := m.serve(filepath.Join(t.TempDir(), "f.db"))

	// Credentials without rights are refused before anything is stored,
	// naming what they lack.
	code, body := call(t, "POST", c.base+"/api/v1/environments", "", "application/yaml", m.environment("nobody"))
	if code < 400 || code >= 500 || !strings.Contains(string(body), "create virtualservices.networking.istio.io") {
		t.Fatalf("an environment without rights: %d %s", code, body)
	}
	var list struct{ Total int64 }
	c.json("GET", "/api/v1/environments", "", nil, http.StatusOK, &list)
	if list.Total != 0 {
		t.Fatalf("a refused environment was stored: %+v", list)
	}
	var env struct {
		ID    int64
		Plane struct {
			Listening  bool
			Kubernetes struct{ Namespace, Server string }
		}
	}
	c.json("POST", "/api/v1/environments", "application/yaml", m.environment("editor"), http.StatusCreated, &env)
	if !env.Plane.Listening || env.Plane.Kubernetes.Namespace != m.ns || env.Plane.Kubernetes.Server == "" {
		t.Fatalf("environment %+v", env)
	}

	t.Run("a run applies, then restores", func(t *testing.T) {
		c := apiClient{t: t, base: c.base}
		id := c.startRun(c.createExperiment(m.experiment("reviews-abort", "1s")))
		r := c.waitRun(id, 30*time.Second)
		rep := c.meshReport(id)
		if r.Status != "succeeded" || rep.Requests < 10 || rep.Mesh.Namespace != m.ns || rep.Mesh.Entry != m.entryURL || len(rep.Mesh.Resources) != 2 {
			t.Fatalf("run %+v, report %+v", r, rep)
		}
		for _, res := range rep.Mesh.Resources {
			if res.State != "restored" || res.AppliedVersion == "" {
				t.Errorf("resource %+v", res)
			}
		}
		if vs := rep.Mesh.Resources[1]; vs.Kind != "VirtualService" || vs.Action != "changed" || vs.OriginalVersion != m.team.GetResourceVersion() || vs.RestoredVersion == "" {
			t.Errorf("the team's VirtualService: %+v", vs)
		}
		if !m.putBack() {
			t.Errorf("the namespace is not as the team left it: %v", m.reviews().Object)
		}
	})

	t.Run("an edit during the run is kept and reported", func(t *testing.T) {
		c := apiClient{t: t, base: c.base}
		id := c.startRun(c.createExperiment(m.experiment("reviews-abort-edited", "3s")))
		m.waitFor("the run's VirtualService", 10*time.Second, func() bool { return m.runHolds(id) })
		vs := m.reviews()
		_ = unstructured.SetNestedStringSlice(vs.Object, []string{"reviews", "reviews.canary"}, "spec", "hosts")
		edited, err := m.dyn.Resource(virtualServices).Namespace(m.ns).Update(context.Background(), vs, metav1.UpdateOptions{FieldManager: "someone"})
		if err != nil {
			t.Fatal(err)
		}
		c.waitRun(id, 30*time.Second)
		rep := c.meshReport(id)
		if got := m.reviews(); got.GetResourceVersion() != edited.GetResourceVersion() {
			t.Errorf("someone's edit was overwritten: %v", got.Object["spec"])
		}
		if vsRes := rep.Mesh.Resources[1]; vsRes.State != "conflict" || !strings.Contains(vsRes.Detail, "someone else") {
			t.Errorf("the VirtualService's record: %+v", vsRes)
		}
		if !strings.Contains(strings.Join(rep.Warnings, "\n"), "conflict") {
			t.Errorf("the report's warnings do not say so: %v", rep.Warnings)
		}
		// Put the team's route back for the next step.
		cur := m.reviews()
		m.team.SetResourceVersion(cur.GetResourceVersion())
		if m.team, err = m.dyn.Resource(virtualServices).Namespace(m.ns).Update(context.Background(), m.team, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("the lever puts the namespace back within a second", func(t *testing.T) {
		c := apiClient{t: t, base: c.base}
		id := c.startRun(c.createExperiment(m.experiment("reviews-abort-long", "60s")))
		m.waitFor("the run's VirtualService", 10*time.Second, func() bool { return m.runHolds(id) })
		c.json("POST", "/api/v1/safety/lever", "application/json", []byte(`{"engaged": true, "reason": "stop the game day"}`), http.StatusOK, nil)
		took := m.waitFor("the namespace put back after the lever", time.Second, m.putBack)
		t.Logf("the namespace was back %v after the lever", took)
		if r := c.waitRun(id, 10*time.Second); r.Status != "stopped" {
			t.Errorf("run %+v", r)
		}
		c.json("POST", "/api/v1/safety/lever", "application/json", []byte(`{"engaged": false}`), http.StatusOK, nil)
	})
}

// TestMeshEnvironmentSurvivesAShutdownAndAKill: serve stopped with
// SIGTERM mid-run puts the namespace back before it exits; serve killed
// with SIGKILL leaves the run's resources in the cluster, and the next
// serve on the same database puts the namespace back as it starts.
func TestMeshEnvironmentSurvivesAShutdownAndAKill(t *testing.T) {
	m := newMeshCluster(t)
	db := filepath.Join(t.TempDir(), "f.db")
	p, c := m.serve(db)
	c.json("POST", "/api/v1/environments", "application/yaml", m.environment("editor"), http.StatusCreated, nil)
	exp := c.createExperiment(m.experiment("reviews-abort", "60s"))
	id := c.startRun(exp)
	m.waitFor("the run's VirtualService", 10*time.Second, func() bool { return m.runHolds(id) })
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("serve still running 30s after SIGTERM")
	}
	if !m.putBack() {
		t.Fatalf("serve exited with the run's resources in the cluster: %v", m.reviews().Object)
	}

	p, c = m.serve(db)
	id = c.startRun(exp)
	m.waitFor("the run's VirtualService", 10*time.Second, func() bool { return m.runHolds(id) })
	p.kill(t)
	if !m.runHolds(id) || m.putBack() {
		t.Fatal("the kill left nothing to put back: the test proves nothing")
	}
	_, c = m.serve(db)
	took := m.waitFor("the namespace put back after the restart", 15*time.Second, m.putBack)
	t.Logf("the namespace was back %v after the restart", took)
	if r := c.run(id); r.Status != "interrupted" {
		t.Errorf("run %+v", r)
	}
}
