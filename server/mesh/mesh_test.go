package mesh_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	networking "istio.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/faultline/faultline/internal/kubetest"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/mesh"
	"github.com/faultline/faultline/server/store"
)

func TestMain(m *testing.M) { os.Exit(kubetest.Main(m)) }

var (
	vsRes = schema.GroupVersionResource{Group: mesh.Group, Version: "v1", Resource: "virtualservices"}
	drRes = schema.GroupVersionResource{Group: mesh.Group, Version: "v1", Resource: "destinationrules"}
	gwRes = schema.GroupVersionResource{Group: mesh.Group, Version: "v1", Resource: "gateways"}
	seRes = schema.GroupVersionResource{Group: mesh.Group, Version: "v1", Resource: "serviceentries"}
)

// env is a mesh environment's cluster in a fresh namespace, reached as
// user, and a journal in a fresh store.
type env struct {
	c   *mesh.Cluster
	db  *store.DB
	dyn dynamic.Interface
	ns  string
}

func newEnv(t *testing.T, user string) *env {
	t.Helper()
	kc := kubetest.Get(t)
	ns := kc.Namespace(t)
	path := kc.Kubeconfig(t, user)
	c, err := mesh.Connect(&scenarios.Kubernetes{Kubeconfig: filepath.Base(path), Namespace: ns}, mesh.Options{KubeconfigDir: filepath.Dir(path)})
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "f.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &env{c: c, db: db, dyn: kc.Dynamic(t), ns: ns}
}

// experiment parses an experiment on a mesh environment of namespace ns.
func experiment(t *testing.T, ns, resources string) *scenarios.Document {
	t.Helper()
	base, err := scenarios.ParseEnvironment([]byte(`apiVersion: faultline.dev/v1alpha1
kind: Environment
metadata: {name: cluster}
spec:
  kubernetes: {kubeconfig: config, namespace: ` + ns + `}
`))
	if err != nil {
		t.Fatalf("environment: %v", err)
	}
	doc, err := scenarios.ParseOn([]byte(`apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: reviews-chaos}
spec:
  environment: cluster
  load: {url: "http://reviews:9080/", requests: 1}
---
`+resources), base)
	if err != nil {
		t.Fatalf("experiment: %v", err)
	}
	return doc
}

const runResources = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, description: "half of reviews' calls fail"}
spec:
  hosts: [reviews]
  http:
  - fault:
      abort: {httpStatus: 503, percentage: {value: 50}}
    route:
    - destination: {host: reviews, subset: v2}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v2, labels: {version: v2}}
  trafficPolicy:
    connectionPool: {tcp: {maxConnections: 1}}
---
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: chaos-gateway}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1alpha3
kind: ServiceEntry
metadata: {name: payments}
spec:
  hosts: [payments.example.com]
  ports:
  - {number: 80, name: http, protocol: HTTP}
  resolution: DNS
  location: MESH_EXTERNAL
`

// teamVirtualService is the namespace's own reviews route, with a field
// (exportTo) the run's version leaves out.
func teamVirtualService(ns string) *unstructured.Unstructured {
	return object(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: ` + ns + `
  labels: {team: bookinfo}
  annotations: {owner: "reviews-team"}
spec:
  hosts: [reviews]
  exportTo: ["."]
  http:
  - route:
    - destination: {host: reviews}
`)
}

func object(src string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	b, err := yaml.YAMLToJSON([]byte(src))
	if err != nil {
		panic(err)
	}
	if err := u.UnmarshalJSON(b); err != nil {
		panic(err)
	}
	return u
}

func run(id int64) mesh.Run {
	return mesh.Run{EnvironmentID: 1, ID: id, Experiment: "reviews-chaos", Expires: time.Now().Add(time.Minute)}
}

func (e *env) get(t *testing.T, r schema.GroupVersionResource, name string) *unstructured.Unstructured {
	t.Helper()
	u, err := e.dyn.Resource(r).Namespace(e.ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get %s %s: %v", r.Resource, name, err)
	}
	return u
}

func (e *env) absent(t *testing.T, r schema.GroupVersionResource, name string) {
	t.Helper()
	_, err := e.dyn.Resource(r).Namespace(e.ns).Get(context.Background(), name, metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("%s %s: want it gone, got err %v", r.Resource, name, err)
	}
}

func spec(u *unstructured.Unstructured) map[string]any {
	s, _, _ := unstructured.NestedMap(u.Object, "spec")
	return s
}

func TestCheckNamesWhatTheCredentialsLack(t *testing.T) {
	ctx := context.Background()
	if err := newEnv(t, "editor").c.Check(ctx); err != nil {
		t.Fatalf("editor in its namespace: %v", err)
	}
	err := newEnv(t, "nobody").c.Check(ctx)
	var ae *mesh.AccessError
	if !errors.As(err, &ae) {
		t.Fatalf("nobody: want an AccessError, got %v", err)
	}
	if len(ae.Missing) != 28 || !slices.Contains(ae.Missing, "create virtualservices.networking.istio.io") || !strings.Contains(err.Error(), ae.Namespace) {
		t.Errorf("nobody: missing %v (%v)", ae.Missing, err)
	}
}

func TestConnectRefusesAKubeconfigOutsideItsDirectory(t *testing.T) {
	kc := kubetest.Get(t)
	path := kc.Kubeconfig(t, "admin")
	_, err := mesh.Connect(&scenarios.Kubernetes{Kubeconfig: path, Namespace: "default"}, mesh.Options{KubeconfigDir: t.TempDir()})
	var ce *mesh.ConfigError
	if !errors.As(err, &ce) || ce.Field != "spec.kubernetes.kubeconfig" {
		t.Errorf("want a ConfigError on spec.kubernetes.kubeconfig, got %v", err)
	}
	_, err = mesh.Connect(&scenarios.Kubernetes{Kubeconfig: filepath.Base(path), Context: "elsewhere", Namespace: "default"}, mesh.Options{KubeconfigDir: filepath.Dir(path)})
	if !errors.As(err, &ce) || ce.Field != "spec.kubernetes.context" {
		t.Errorf("want a ConfigError on spec.kubernetes.context, got %v", err)
	}
	_, err = mesh.Connect(&scenarios.Kubernetes{Kubeconfig: filepath.Base(path), Namespace: "default"}, mesh.Options{KubeconfigDir: filepath.Dir(path),
		AllowTarget: func(hp string) error { return errors.New(hp + " is not allowed") }})
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "not allowed") {
		t.Errorf("want the allow-list's refusal, got %v", err)
	}
}

// TestApplyAndRestoreEveryKind applies one resource of each kind — the
// VirtualService over the namespace's own — and puts the namespace back
// exactly.
func TestApplyAndRestoreEveryKind(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "editor")
	team, err := e.dyn.Resource(vsRes).Namespace(e.ns).Create(ctx, teamVirtualService(e.ns), metav1.CreateOptions{FieldManager: "kubectl"})
	if err != nil {
		t.Fatal(err)
	}
	doc := experiment(t, e.ns, runResources)
	objs, err := doc.Objects()
	if err != nil {
		t.Fatal(err)
	}
	held, err := e.c.Apply(ctx, e.db, run(7), objs)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}

	vs := e.get(t, vsRes, "reviews")
	if _, has := spec(vs)["exportTo"]; has {
		t.Errorf("applied VirtualService kept the namespace's exportTo: %v", spec(vs))
	}
	if got := vs.GetLabels(); got[mesh.LabelRun] != "7" || got["team"] != "bookinfo" {
		t.Errorf("applied labels %v", got)
	}
	ann := vs.GetAnnotations()
	if ann[mesh.AnnotationExperiment] != "reviews-chaos" || ann[mesh.AnnotationExpires] == "" || !strings.Contains(ann[mesh.AnnotationOriginal], `"exportTo":["."]`) {
		t.Errorf("applied annotations %v", ann)
	}
	pct, _, _ := unstructured.NestedFloat64(vs.Object, "spec", "http", "0", "fault", "abort", "percentage", "value")
	http, _, _ := unstructured.NestedSlice(vs.Object, "spec", "http")
	if len(http) != 1 || !strings.Contains(toJSON(t, http), `"httpStatus":503`) {
		t.Errorf("applied http routes %s (pct %v)", toJSON(t, http), pct)
	}
	for _, r := range []struct {
		res  schema.GroupVersionResource
		name string
	}{{drRes, "reviews"}, {gwRes, "chaos-gateway"}, {seRes, "payments"}} {
		if u := e.get(t, r.res, r.name); u.GetLabels()[mesh.LabelRun] != "7" {
			t.Errorf("%s %s: labels %v", r.res.Resource, r.name, u.GetLabels())
		}
	}
	// What the API server stored decodes with Istio's own Go types.
	var pb networking.VirtualService
	if err := protojson.Unmarshal([]byte(toJSON(t, spec(vs))), &pb); err != nil || pb.GetHttp()[0].GetFault().GetAbort().GetHttpStatus() != 503 {
		t.Errorf("stored VirtualService in Istio's types: %v (%v)", &pb, err)
	}

	if err := held.Restore(ctx); err != nil {
		t.Fatalf("restore: %v", err)
	}
	back := e.get(t, vsRes, "reviews")
	if !reflect.DeepEqual(spec(back), spec(team)) || !reflect.DeepEqual(back.GetLabels(), team.GetLabels()) || !reflect.DeepEqual(back.GetAnnotations(), team.GetAnnotations()) {
		t.Errorf("restored VirtualService differs:\n got %v %v %v\nwant %v %v %v", spec(back), back.GetLabels(), back.GetAnnotations(), spec(team), team.GetLabels(), team.GetAnnotations())
	}
	e.absent(t, drRes, "reviews")
	e.absent(t, gwRes, "chaos-gateway")
	e.absent(t, seRes, "payments")

	rec := held.Record()
	if len(rec.Resources) != 4 || rec.Namespace != e.ns {
		t.Fatalf("record %+v", rec)
	}
	for _, r := range rec.Resources {
		if r.State != "restored" || r.AppliedVersion == "" {
			t.Errorf("record %+v", r)
		}
		if want := map[bool]string{true: "changed", false: "created"}[r.Kind == "VirtualService"]; r.Action != want {
			t.Errorf("%s action %s, want %s", r.Kind, r.Action, want)
		}
	}
	if vsRec := rec.Resources[3]; vsRec.OriginalVersion != team.GetResourceVersion() || vsRec.RestoredVersion != back.GetResourceVersion() {
		t.Errorf("VirtualService versions %+v, team %s, back %s", vsRec, team.GetResourceVersion(), back.GetResourceVersion())
	}
	if open, _ := e.db.OpenMeshChanges(ctx, 1); len(open) != 0 {
		t.Errorf("open changes after restore: %+v", open)
	}
	if err := held.Restore(ctx); err != nil {
		t.Errorf("a second restore: %v", err)
	}
}

func toJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAnEditDuringTheRunIsLeftAndReported: someone else's change to a
// resource the run holds is not overwritten as the run ends.
func TestAnEditDuringTheRunIsLeftAndReported(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "editor")
	if _, err := e.dyn.Resource(vsRes).Namespace(e.ns).Create(ctx, teamVirtualService(e.ns), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	objs, _ := experiment(t, e.ns, runResources).Objects()
	held, err := e.c.Apply(ctx, e.db, run(8), objs)
	if err != nil {
		t.Fatal(err)
	}
	vs := e.get(t, vsRes, "reviews")
	if err := unstructured.SetNestedStringSlice(vs.Object, []string{"reviews", "reviews.other"}, "spec", "hosts"); err != nil {
		t.Fatal(err)
	}
	edited, err := e.dyn.Resource(vsRes).Namespace(e.ns).Update(ctx, vs, metav1.UpdateOptions{FieldManager: "someone"})
	if err != nil {
		t.Fatal(err)
	}
	if err := held.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	now := e.get(t, vsRes, "reviews")
	if now.GetResourceVersion() != edited.GetResourceVersion() {
		t.Errorf("the edited VirtualService was overwritten: %v", spec(now))
	}
	var vsRec, drRec = held.Record().Resources[3], held.Record().Resources[0]
	if vsRec.State != store.MeshConflict || !strings.Contains(vsRec.Detail, "someone else") {
		t.Errorf("VirtualService record %+v", vsRec)
	}
	if drRec.State != store.MeshRestored {
		t.Errorf("the others are still put back: %+v", drRec)
	}
}

// TestSweepPutsBackWhatACrashLeft: the journal alone (a new process, a
// new client) is enough to put the namespace back, once the run is not
// active or its expiry has passed.
func TestSweepPutsBackWhatACrashLeft(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "editor")
	team, err := e.dyn.Resource(vsRes).Namespace(e.ns).Create(ctx, teamVirtualService(e.ns), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	objs, _ := experiment(t, e.ns, runResources).Objects()
	if _, err := e.c.Apply(ctx, e.db, run(9), objs); err != nil {
		t.Fatal(err)
	}
	active := func(id int64) bool { return id == 9 }
	if n, err := e.c.Sweep(ctx, e.db, 1, active, time.Now()); err != nil || n != 0 {
		t.Fatalf("a sweep while the run is active and unexpired ended %d (%v)", n, err)
	}
	if n, err := e.c.Sweep(ctx, e.db, 1, active, time.Now().Add(2*time.Minute)); err != nil || n != 4 {
		t.Fatalf("a sweep after the expiry ended %d, want 4 (%v)", n, err)
	}
	back := e.get(t, vsRes, "reviews")
	if !reflect.DeepEqual(spec(back), spec(team)) || !reflect.DeepEqual(back.GetLabels(), team.GetLabels()) || !reflect.DeepEqual(back.GetAnnotations(), team.GetAnnotations()) {
		t.Errorf("swept VirtualService differs: %v %v %v", spec(back), back.GetLabels(), back.GetAnnotations())
	}
	e.absent(t, drRes, "reviews")
	changes, _ := e.db.RunMeshChanges(ctx, 9)
	for _, c := range changes {
		if c.State != store.MeshRestored {
			t.Errorf("change %+v", c)
		}
	}
}

// TestApplyRefusesAResourceAnotherRunHolds: two runs never stack their
// changes on one resource (the second would save the first's as the
// original).
func TestApplyRefusesAResourceAnotherRunHolds(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "editor")
	objs, _ := experiment(t, e.ns, runResources).Objects()
	first, err := e.c.Apply(ctx, e.db, run(10), objs)
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.c.Apply(ctx, e.db, run(11), objs)
	if err == nil || !strings.Contains(err.Error(), "run 10 holds it") {
		t.Fatalf("second apply: %v", err)
	}
	if err := second.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	if err := first.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	e.absent(t, gwRes, "chaos-gateway")
}

// TestStoredResourcesAreTheExperimentsDocuments: what the API server
// stored, read back and parsed by Faultline, is the experiment's own
// resources: the mesh enforces the documents the proxy compiles.
func TestStoredResourcesAreTheExperimentsDocuments(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "editor")
	doc := experiment(t, e.ns, runResources)
	objs, _ := doc.Objects()
	held, err := e.c.Apply(ctx, e.db, run(12), objs)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Restore(ctx)
	var stream []string
	for _, o := range objs {
		r := map[string]schema.GroupVersionResource{"VirtualService": vsRes, "DestinationRule": drRes, "Gateway": gwRes, "ServiceEntry": seRes}[o.Kind]
		u := e.get(t, r, o.Name)
		clean := &unstructured.Unstructured{Object: map[string]any{"apiVersion": o.APIVersion, "kind": o.Kind,
			"metadata": map[string]any{"name": u.GetName()}, "spec": spec(u)}}
		b, _ := clean.MarshalJSON()
		y, _ := yaml.JSONToYAML(b)
		stream = append(stream, string(y))
	}
	back := experiment(t, e.ns, strings.Join(stream, "---\n"))
	for _, vs := range doc.VirtualServices {
		vs.Metadata.Description = "" // Faultline's own note: not applied
	}
	if !reflect.DeepEqual(back.VirtualServices, doc.VirtualServices) || !reflect.DeepEqual(back.DestinationRules, doc.DestinationRules) ||
		!reflect.DeepEqual(back.Gateways, doc.Gateways) || !reflect.DeepEqual(back.ServiceEntries, doc.ServiceEntries) {
		t.Errorf("the stored resources parse to other documents than the experiment's:\n%s", strings.Join(stream, "---\n"))
	}
}
