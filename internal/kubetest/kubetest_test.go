package kubetest_test

import (
	"context"
	"os"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/faultline/faultline/internal/kubetest"
)

func TestMain(m *testing.M) { os.Exit(kubetest.Main(m)) }

var vsGVR = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"}

// virtualService returns a VirtualService named name that aborts every
// request to host reviews with abort (a map of the fault's abort).
func virtualService(name string, abort map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "networking.istio.io/v1",
		"kind":       "VirtualService",
		"metadata":   map[string]any{"name": name},
		"spec": map[string]any{
			"hosts": []any{"reviews"},
			"http": []any{map[string]any{
				"fault": map[string]any{"abort": abort},
				"route": []any{map[string]any{"destination": map[string]any{"host": "reviews"}}},
			}},
		},
	}}
}

func validAbort() map[string]any {
	return map[string]any{"httpStatus": int64(503), "percentage": map[string]any{"value": 100.0}}
}

// clientFor returns a dynamic client built from the kubeconfig file that
// Kubeconfig writes for user, so that the file itself is what is tested.
func clientFor(t *testing.T, c *kubetest.Cluster, user string) dynamic.Interface {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig(t, user))
	if err != nil {
		t.Fatal(err)
	}
	d, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestGetSharesOneCluster(t *testing.T) {
	a, b := kubetest.Get(t), kubetest.Get(t)
	if a != b || a.URL == "" {
		t.Fatalf("Get returned %p (%s) then %p", a, a.URL, b)
	}
}

func TestKubeconfig(t *testing.T) {
	c := kubetest.Get(t)
	cfg, err := clientcmd.LoadFromFile(c.Kubeconfig(t, "editor"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CurrentContext != "kubetest" || len(cfg.Contexts) != 1 || cfg.Contexts["kubetest"] == nil {
		t.Fatalf("contexts %v, current %q; want one, kubetest", cfg.Contexts, cfg.CurrentContext)
	}
	cl := cfg.Clusters[cfg.Contexts["kubetest"].Cluster]
	if cl == nil || cl.Server != c.URL || len(cl.CertificateAuthorityData) == 0 || cl.InsecureSkipTLSVerify {
		t.Fatalf("cluster %+v; want server %s, verified against embedded CA data", cl, c.URL)
	}
	if u := cfg.AuthInfos[cfg.Contexts["kubetest"].AuthInfo]; u == nil || u.Token == "" {
		t.Fatalf("user %+v; want a token", u)
	}
}

func TestAdminCreatesVirtualService(t *testing.T) {
	c := kubetest.Get(t)
	ns := c.Namespace(t)
	d := clientFor(t, c, "admin")
	if _, err := d.Resource(vsGVR).Namespace(ns).Create(ctx(t), virtualService("reviews-abort", validAbort()), metav1.CreateOptions{}); err != nil {
		t.Fatalf("admin creating a VirtualService in %s: %v", ns, err)
	}
	got, err := c.Dynamic(t).Resource(vsGVR).Namespace(ns).Get(ctx(t), "reviews-abort", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	http, _, _ := unstructured.NestedSlice(got.Object, "spec", "http")
	if len(http) != 1 {
		t.Fatalf("stored spec.http = %v", http)
	}
	status, _, _ := unstructured.NestedInt64(http[0].(map[string]any), "fault", "abort", "httpStatus")
	if status != 503 {
		t.Fatalf("stored httpStatus = %d, want 503", status)
	}
}

// The API server validates VirtualServices against Istio's CRD schema:
// structural types, oneOf and CEL rules.
func TestSchemaRejectsInvalidVirtualService(t *testing.T) {
	c := kubetest.Get(t)
	ns := c.Namespace(t)
	d := c.Dynamic(t)
	for _, tc := range []struct {
		name  string
		abort map[string]any
	}{
		{"httpStatus not an integer", map[string]any{"httpStatus": "abc"}},
		{"httpStatus and grpcStatus both", map[string]any{"httpStatus": int64(503), "grpcStatus": "UNAVAILABLE"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := d.Resource(vsGVR).Namespace(ns).Create(ctx(t), virtualService("invalid", tc.abort), metav1.CreateOptions{})
			if !apierrors.IsInvalid(err) {
				t.Fatalf("creating a VirtualService with abort %v: %v; want Invalid", tc.abort, err)
			}
			t.Log(err)
		})
	}
	t.Run("fixedDelay below 1ms", func(t *testing.T) {
		vs := virtualService("invalid", validAbort())
		if err := unstructured.SetNestedField(vs.Object, []any{map[string]any{
			"fault": map[string]any{"delay": map[string]any{"fixedDelay": "0s"}},
			"route": []any{map[string]any{"destination": map[string]any{"host": "reviews"}}},
		}}, "spec", "http"); err != nil {
			t.Fatal(err)
		}
		_, err := d.Resource(vsGVR).Namespace(ns).Create(ctx(t), vs, metav1.CreateOptions{})
		if !apierrors.IsInvalid(err) {
			t.Fatalf("creating a VirtualService with fixedDelay 0s: %v; want Invalid", err)
		}
		t.Log(err)
	})
}

func TestEditorOnlyInItsNamespace(t *testing.T) {
	c := kubetest.Get(t)
	ns := c.Namespace(t)
	d := clientFor(t, c, "editor")
	vs := d.Resource(vsGVR)
	if _, err := vs.Namespace(ns).Create(ctx(t), virtualService("reviews-abort", validAbort()), metav1.CreateOptions{}); err != nil {
		t.Fatalf("editor creating a VirtualService in its namespace %s: %v", ns, err)
	}
	if _, err := vs.Namespace(ns).List(ctx(t), metav1.ListOptions{}); err != nil {
		t.Fatalf("editor listing VirtualServices in %s: %v", ns, err)
	}
	if err := vs.Namespace(ns).Delete(ctx(t), "reviews-abort", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("editor deleting its VirtualService: %v", err)
	}

	// A namespace of its own, created by admin, where editor has no binding.
	other := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace"}}
	other.SetGenerateName("other-")
	nsGVR := schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	created, err := c.Dynamic(t).Resource(nsGVR).Create(ctx(t), other, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Dynamic(t).Resource(nsGVR).Delete(context.Background(), created.GetName(), metav1.DeleteOptions{})
	})
	for _, o := range []string{created.GetName(), "default"} {
		_, err := vs.Namespace(o).Create(ctx(t), virtualService("reviews-abort", validAbort()), metav1.CreateOptions{})
		if !apierrors.IsForbidden(err) {
			t.Errorf("editor creating a VirtualService in %s: %v; want Forbidden", o, err)
		}
	}
	if _, err := d.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace(ns).List(ctx(t), metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("editor listing ConfigMaps in %s: %v; want Forbidden", ns, err)
	}
}

func TestNobodyIsForbidden(t *testing.T) {
	c := kubetest.Get(t)
	ns := c.Namespace(t)
	vs := clientFor(t, c, "nobody").Resource(vsGVR).Namespace(ns)
	if _, err := vs.Create(ctx(t), virtualService("reviews-abort", validAbort()), metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("nobody creating a VirtualService: %v; want Forbidden", err)
	}
	if _, err := vs.List(ctx(t), metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("nobody listing VirtualServices: %v; want Forbidden", err)
	}
}

// Every CRD of Istio's file is served, not only VirtualService.
func TestIstioResourcesServed(t *testing.T) {
	c := kubetest.Get(t)
	ns := c.Namespace(t)
	d := c.Dynamic(t)
	for _, gvr := range []schema.GroupVersionResource{
		{Group: "networking.istio.io", Version: "v1", Resource: "destinationrules"},
		{Group: "networking.istio.io", Version: "v1", Resource: "gateways"},
		{Group: "networking.istio.io", Version: "v1", Resource: "serviceentries"},
		{Group: "networking.istio.io", Version: "v1alpha3", Resource: "envoyfilters"},
		{Group: "security.istio.io", Version: "v1", Resource: "authorizationpolicies"},
		{Group: "telemetry.istio.io", Version: "v1", Resource: "telemetries"},
	} {
		if _, err := d.Resource(gvr).Namespace(ns).List(ctx(t), metav1.ListOptions{}); err != nil {
			t.Errorf("listing %s: %v", gvr, err)
		}
	}
}
