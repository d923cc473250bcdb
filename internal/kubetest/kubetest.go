// Package kubetest runs a real kube-apiserver with etcd on loopback, with
// Istio's CustomResourceDefinitions installed, for tests that apply Istio
// resources to a Kubernetes namespace.
//
// A test package shares one cluster per test binary:
//
//	func TestMain(m *testing.M) { os.Exit(kubetest.Main(m)) }
//
//	func TestSomething(t *testing.T) {
//		c := kubetest.Get(t)
//		ns := c.Namespace(t)
//		kubeconfig := c.Kubeconfig(t, "editor")
//		...
//	}
//
// The binaries are looked up, each on its own, in $FAULTLINE_KUBE_ASSETS,
// $KUBEBUILDER_ASSETS, ~/.cache/faultline/kube-v1.37.2 and then on PATH:
// kube-apiserver (bash tools/kube/build.sh builds it into the cache
// directory) and etcd (apt-get install etcd-server). Istio's CRDs are read
// from $FAULTLINE_ISTIO_CRDS, else from kubernetes/customresourcedefinitions.gen.yaml
// in the istio.io/api module: the version go.mod requires, else
// IstioAPIVersion, found with `go list -m -f '{{.Dir}}'` in the module
// cache (go mod download istio.io/api@v1.32.0). When something is
// missing the test is skipped with a message saying how to get it, except
// when the environment variable CI is non-empty: then it fails, so that CI
// never skips these tests.
//
// The cluster knows three users, each authenticated by a bearer token:
// "admin" (group system:masters: everything), "editor" (no rights but those
// Namespace grants it) and "nobody" (authenticated, no rights at all).
// Authorization is RBAC. No controllers run: nothing but the API server and
// its storage, so a deleted namespace stays Terminating, and nothing
// schedules or reconciles.
package kubetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/faultline/faultline/internal/spawn"
)

// Users of the cluster, for Kubeconfig and RESTConfig.
const (
	// Admin is in group system:masters and may do anything.
	Admin = "admin"
	// Editor may get, list, watch, create, update, patch and delete Istio's
	// networking resources (virtualservices, destinationrules, gateways,
	// serviceentries) in the namespaces Namespace creates, and nothing else.
	Editor = "editor"
	// Nobody is authenticated and bound to no role.
	Nobody = "nobody"
)

// ContextName is the name of the one context (and of its cluster) in the
// files Kubeconfig writes.
const ContextName = "kubetest"

// Cluster is a real API server with Istio's CRDs, on loopback.
type Cluster struct {
	// URL is the API server's address, https://127.0.0.1:<port>. Its
	// serving certificate is self-signed; Kubeconfig and RESTConfig trust it.
	URL string

	dir    string            // temporary directory: etcd's data, certificates, logs
	ca     []byte            // PEM of the serving certificate and its CA (cert-dir/apiserver.crt)
	tokens map[string]string // user -> bearer token

	etcd, apiserver *spawn.Proc
	spawn           *spawn.Spawner
}

var shared struct {
	mu      sync.Mutex
	started bool     // start was tried
	c       *Cluster // the cluster, when it started
	missing string   // what is missing to start one, when something is
	err     error    // why it failed to start otherwise
}

// Main runs the tests of m and returns their exit code, for TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(kubetest.Main(m)) }
//
// The tests share one cluster that the first call of Get starts; Main stops
// it (killing etcd and kube-apiserver, removing their files) once m.Run has
// returned. A package whose tests call Get should use Main.
func Main(m *testing.M) int {
	code := m.Run()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.c != nil {
		shared.c.stop()
		shared.c = nil
		shared.err = fmt.Errorf("kubetest: the shared cluster was stopped when Main returned")
	}
	return code
}

// Get returns the test binary's shared cluster, starting it on first use
// (once per test binary: later calls, from any test, return the same
// cluster, or fail or skip as the first did). When kube-apiserver, etcd or
// Istio's CRD file cannot be found, t is skipped with a message saying how
// to get them, or fails when the environment variable CI is non-empty.
// When the cluster fails to start, t fails with the tail of both
// processes' logs.
//
// Main stops the cluster after the tests. Without Main nothing stops it
// before the test binary exits: the processes then die with it (they are
// started with a parent-death signal), but their temporary directory stays.
func Get(t testing.TB) *Cluster {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.started {
		shared.started = true
		a, missing := findAssets()
		if missing != "" {
			shared.missing = missing
		} else {
			began := time.Now()
			c, timing, err := start(a)
			if err != nil {
				shared.err = err
			} else {
				shared.c = c
				t.Logf("kubetest: %s is up (%s; %s in all)", c.URL, timing, time.Since(began).Round(time.Millisecond))
			}
		}
	}
	switch {
	case shared.missing != "":
		if os.Getenv("CI") != "" {
			t.Fatalf("kubetest: %s (CI is set, so this fails instead of skipping)", shared.missing)
		}
		t.Skipf("kubetest: %s", shared.missing)
	case shared.err != nil:
		t.Fatal(shared.err)
	}
	return shared.c
}

// RESTConfig returns a client configuration for user ("admin", "editor"
// or "nobody"), authenticated by the user's bearer token and verifying the
// API server's certificate. It panics for any other user.
func (c *Cluster) RESTConfig(user string) *rest.Config {
	token, ok := c.tokens[user]
	if !ok {
		panic(fmt.Sprintf("kubetest: no user %q (admin, editor or nobody)", user))
	}
	return &rest.Config{
		Host:            c.URL,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: append([]byte(nil), c.ca...)},
		QPS:             100,
		Burst:           200,
	}
}

// Kubeconfig writes a kubeconfig file for user ("admin", "editor" or
// "nobody") into t.TempDir() and returns its path. The file has one
// cluster, one user and one context, all named by ContextName, which is
// its current context; it embeds the API server's self-signed certificate
// as certificate-authority-data, so clients verify the server.
func (c *Cluster) Kubeconfig(t testing.TB, user string) string {
	t.Helper()
	token, ok := c.tokens[user]
	if !ok {
		t.Fatalf("kubetest: no user %q (admin, editor or nobody)", user)
	}
	cfg := clientcmdapi.Config{
		Clusters: map[string]*clientcmdapi.Cluster{
			ContextName: {Server: c.URL, CertificateAuthorityData: append([]byte(nil), c.ca...)},
		},
		AuthInfos: map[string]*clientcmdapi.AuthInfo{
			user: {Token: token},
		},
		Contexts: map[string]*clientcmdapi.Context{
			ContextName: {Cluster: ContextName, AuthInfo: user, Namespace: metav1.NamespaceDefault},
		},
		CurrentContext: ContextName,
	}
	path := filepath.Join(t.TempDir(), user+".kubeconfig")
	if err := clientcmd.WriteToFile(cfg, path); err != nil {
		t.Fatalf("kubetest: writing kubeconfig: %v", err)
	}
	return path
}

// Dynamic returns a dynamic client acting as "admin".
func (c *Cluster) Dynamic(t testing.TB) dynamic.Interface {
	t.Helper()
	d, err := dynamic.NewForConfig(c.RESTConfig(Admin))
	if err != nil {
		t.Fatalf("kubetest: dynamic client: %v", err)
	}
	return d
}

// Resources of the networking.istio.io group that Namespace lets "editor"
// work with.
var editorResources = []string{"virtualservices", "destinationrules", "gateways", "serviceentries"}

var (
	namespacesGVR   = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	rolesGVR        = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"}
	roleBindingsGVR = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"}
	accessReviewGVR = schema.GroupVersionResource{Group: "authorization.k8s.io", Version: "v1", Resource: "subjectaccessreviews"}
)

// Namespace creates a fresh namespace with a random name ("t-" and 8 hex
// digits) and a Role and RoleBinding (both named "kubetest-editor") that let
// "editor" get, list, watch, create, update, patch and delete
// virtualservices, destinationrules, gateways and serviceentries
// (networking.istio.io) in it. It returns once the API server authorizes
// editor there, and deletes the namespace in t.Cleanup.
func (c *Cluster) Namespace(t testing.TB) string {
	t.Helper()
	d := c.Dynamic(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	ns := "t-" + hex.EncodeToString(b[:])
	nsObj := obj("v1", "Namespace", "", ns)
	if _, err := d.Resource(namespacesGVR).Create(ctx, nsObj, metav1.CreateOptions{}); err != nil {
		t.Fatalf("kubetest: creating namespace %s: %v", ns, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := d.Resource(namespacesGVR).Delete(ctx, ns, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("kubetest: deleting namespace %s: %v", ns, err)
		}
	})

	resources := make([]any, len(editorResources))
	for i, r := range editorResources {
		resources[i] = r
	}
	role := obj("rbac.authorization.k8s.io/v1", "Role", ns, "kubetest-editor")
	role.Object["rules"] = []any{map[string]any{
		"apiGroups": []any{"networking.istio.io"},
		"resources": resources,
		"verbs":     []any{"get", "list", "watch", "create", "update", "patch", "delete"},
	}}
	if _, err := d.Resource(rolesGVR).Namespace(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatalf("kubetest: creating role in %s: %v", ns, err)
	}
	binding := obj("rbac.authorization.k8s.io/v1", "RoleBinding", ns, "kubetest-editor")
	binding.Object["roleRef"] = map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "kubetest-editor"}
	binding.Object["subjects"] = []any{map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": Editor}}
	if _, err := d.Resource(roleBindingsGVR).Namespace(ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatalf("kubetest: creating role binding in %s: %v", ns, err)
	}

	// The RBAC authorizer reads bindings through an informer: wait until it
	// has seen this one, so that editor's first request is allowed.
	review := obj("authorization.k8s.io/v1", "SubjectAccessReview", "", "")
	review.Object["spec"] = map[string]any{
		"user":   Editor,
		"groups": []any{"system:authenticated"},
		"resourceAttributes": map[string]any{
			"namespace": ns, "verb": "create", "group": "networking.istio.io", "resource": "virtualservices",
		},
	}
	for {
		got, err := d.Resource(accessReviewGVR).Create(ctx, review, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("kubetest: reviewing editor's access to %s: %v", ns, err)
		}
		if allowed, _, _ := unstructured.NestedBool(got.Object, "status", "allowed"); allowed {
			return ns
		}
		select {
		case <-ctx.Done():
			t.Fatalf("kubetest: editor is still not allowed to create virtualservices in %s", ns)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// obj returns an object of kind with name (none when empty) in namespace ns
// (none when empty).
func obj(apiVersion, kind, ns, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind}}
	if name != "" {
		u.SetName(name)
	}
	if ns != "" {
		u.SetNamespace(ns)
	}
	return u
}
