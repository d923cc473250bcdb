// Package mesh drives the Istio of a Kubernetes cluster for runs on mesh
// environments (spec.kubernetes): it checks that the credentials may do
// what runs need, applies a run's Istio resources to the environment's
// namespace with server-side apply, saves every resource before changing
// it (in the store and in an annotation), and puts the namespace back
// exactly on every ending of the run, and after a crash.
package mesh

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/faultline/faultline/scenarios"
)

// Group is the API group of Istio's networking resources.
const Group = "networking.istio.io"

// Resources are the four networking kinds runs apply, by kind.
var Resources = map[string]string{
	"VirtualService":  "virtualservices",
	"DestinationRule": "destinationrules",
	"Gateway":         "gateways",
	"ServiceEntry":    "serviceentries",
}

// Verbs are what runs (and the restore after a crash) need on each kind.
var Verbs = []string{"get", "list", "watch", "create", "update", "patch", "delete"}

// requestTimeout bounds one call to the API server.
const requestTimeout = 10 * time.Second

// Options configure how a mesh environment's cluster is reached.
type Options struct {
	// KubeconfigDir is where kubeconfig files may be read from: a
	// relative spec.kubernetes.kubeconfig is resolved in it, and an
	// absolute one must lie in it. Empty refuses kubeconfig files.
	KubeconfigDir string
	// AllowTarget approves the API server's address; nil allows
	// loopback only.
	AllowTarget func(hostport string) error
}

// Cluster is a namespace of a cluster, reached with one set of
// credentials.
type Cluster struct {
	// Server is the API server's URL; Context the kubeconfig context.
	Server, Context, Namespace string

	dyn  dynamic.Interface
	disc discovery.DiscoveryInterface
}

// ConfigError is a spec.kubernetes that names no usable cluster.
type ConfigError struct {
	Field string
	Err   error
}

func (e *ConfigError) Error() string { return e.Field + ": " + e.Err.Error() }

// FieldPath names the field at fault.
func (e *ConfigError) FieldPath() string { return e.Field }

// Unwrap returns the cause.
func (e *ConfigError) Unwrap() error { return e.Err }

// Connect builds the client of a mesh environment's cluster. It reads the
// kubeconfig but does not call the API server: Check does.
func Connect(k *scenarios.Kubernetes, opts Options) (*Cluster, error) {
	cfg, ctxName, err := restConfig(k, opts.KubeconfigDir)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(cfg.Host)
	if err != nil || u.Host == "" {
		return nil, &ConfigError{"spec.kubernetes", fmt.Errorf("the kubeconfig's server %q is not a URL", cfg.Host)}
	}
	hostport := u.Host
	if u.Port() == "" {
		hostport = net.JoinHostPort(u.Hostname(), map[bool]string{true: "443", false: "80"}[u.Scheme == "https"])
	}
	allow := opts.AllowTarget
	if allow == nil {
		allow = scenarios.LoopbackOnly
	}
	if err := allow(hostport); err != nil {
		return nil, &ConfigError{"spec.kubernetes", fmt.Errorf("the API server %s: %w", cfg.Host, err)}
	}
	cfg.Timeout = requestTimeout
	// client-go's default of 5 requests a second would hold a restore
	// behind the access review's 28 calls: putting a namespace back must
	// not wait on a client-side budget.
	cfg.QPS, cfg.Burst = 100, 200
	cfg.UserAgent = "faultline"
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, &ConfigError{"spec.kubernetes", fmt.Errorf("client: %w", err)}
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, &ConfigError{"spec.kubernetes", fmt.Errorf("client: %w", err)}
	}
	return &Cluster{Server: cfg.Host, Context: ctxName, Namespace: k.Namespace, dyn: dyn, disc: disc}, nil
}

// restConfig loads the credentials spec.kubernetes names.
func restConfig(k *scenarios.Kubernetes, dir string) (*rest.Config, string, error) {
	if k.InCluster {
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, "", &ConfigError{"spec.kubernetes.inCluster", err}
		}
		return cfg, "", nil
	}
	path, err := kubeconfigPath(k.Kubeconfig, dir)
	if err != nil {
		return nil, "", &ConfigError{"spec.kubernetes.kubeconfig", err}
	}
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: path},
		&clientcmd.ConfigOverrides{CurrentContext: k.Context})
	raw, err := loader.RawConfig()
	if err != nil {
		return nil, "", &ConfigError{"spec.kubernetes.kubeconfig", fmt.Errorf("%s is not a readable kubeconfig", k.Kubeconfig)}
	}
	ctxName := k.Context
	if ctxName == "" {
		ctxName = raw.CurrentContext
	}
	c, ok := raw.Contexts[ctxName]
	if !ok {
		names := make([]string, 0, len(raw.Contexts))
		for n := range raw.Contexts {
			names = append(names, n)
		}
		slices.Sort(names)
		return nil, "", &ConfigError{"spec.kubernetes.context", fmt.Errorf("kubeconfig %s has no context %q (it has %s)", k.Kubeconfig, ctxName, strings.Join(names, ", "))}
	}
	if u := raw.AuthInfos[c.AuthInfo]; u != nil && u.Exec != nil {
		return nil, "", &ConfigError{"spec.kubernetes.kubeconfig", fmt.Errorf("context %s authenticates by running a command (exec), which the server does not do for a document: use a token or a client certificate", ctxName)}
	}
	cfg, err := loader.ClientConfig()
	if err != nil {
		return nil, "", &ConfigError{"spec.kubernetes.kubeconfig", fmt.Errorf("context %s: %w", ctxName, err)}
	}
	return cfg, ctxName, nil
}

// kubeconfigPath resolves a kubeconfig path inside dir.
func kubeconfigPath(p, dir string) (string, error) {
	if dir == "" {
		return "", errors.New("the server reads no kubeconfig files: start it with --kubeconfig-dir DIR")
	}
	root, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("kubeconfig directory: %w", err)
	}
	full := p
	if !filepath.IsAbs(p) {
		full = filepath.Join(root, p)
	}
	full = filepath.Clean(full)
	if rel, err := filepath.Rel(root, full); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%s is outside the server's kubeconfig directory %s", p, root)
	}
	if real, err := filepath.EvalSymlinks(full); err == nil {
		if realRoot, err := filepath.EvalSymlinks(root); err == nil {
			if rel, err := filepath.Rel(realRoot, real); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				return "", fmt.Errorf("%s leads outside the server's kubeconfig directory %s", p, root)
			}
		}
	}
	return full, nil
}

// AccessError lists what the credentials may not do in the namespace.
type AccessError struct {
	Namespace string
	Missing   []string // "create virtualservices.networking.istio.io"
}

func (e *AccessError) Error() string {
	return fmt.Sprintf("spec.kubernetes: the credentials may not, in namespace %s: %s (runs need get, list, watch, create, update, patch and delete on virtualservices, destinationrules, gateways and serviceentries of %s)",
		e.Namespace, strings.Join(e.Missing, ", "), Group)
}

// FieldPath names the field at fault.
func (e *AccessError) FieldPath() string { return "spec.kubernetes" }

// UnreachableError is an API server that did not answer as one.
type UnreachableError struct{ Err error }

func (e *UnreachableError) Error() string { return "spec.kubernetes: " + e.Err.Error() }

// FieldPath names the field at fault.
func (e *UnreachableError) FieldPath() string { return "spec.kubernetes" }

// Unwrap returns the cause.
func (e *UnreachableError) Unwrap() error { return e.Err }

// Reachable reports whether the API server answers and serves Istio's
// networking kinds; Check also asks for the permissions.
func (c *Cluster) Reachable(ctx context.Context) error {
	list, err := c.disc.ServerResourcesForGroupVersion(Group + "/v1")
	if err != nil {
		return &UnreachableError{fmt.Errorf("the API server %s does not serve %s/v1 (are Istio's CRDs installed?): %w", c.Server, Group, err)}
	}
	served := map[string]bool{}
	for _, r := range list.APIResources {
		served[r.Name] = true
	}
	for _, kind := range slices.Sorted(maps.Keys(Resources)) {
		if !served[Resources[kind]] {
			return &UnreachableError{fmt.Errorf("the API server %s does not serve %s.%s (are Istio's CRDs installed?)", c.Server, Resources[kind], Group)}
		}
	}
	return nil
}

// Check calls the API server: it must answer, serve Istio's networking
// kinds, and let the credentials do what runs need in the namespace. The
// error says which permissions are missing (*AccessError).
func (c *Cluster) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*requestTimeout)
	defer cancel()
	if err := c.Reachable(ctx); err != nil {
		return err
	}
	var missing []string
	for _, kind := range slices.Sorted(maps.Keys(Resources)) {
		for _, verb := range Verbs {
			ok, err := c.allowed(ctx, verb, Resources[kind])
			if err != nil {
				return &UnreachableError{fmt.Errorf("access review at %s: %w", c.Server, err)}
			}
			if !ok {
				missing = append(missing, verb+" "+Resources[kind]+"."+Group)
			}
		}
	}
	if len(missing) > 0 {
		return &AccessError{Namespace: c.Namespace, Missing: missing}
	}
	return nil
}

var ssarResource = schema.GroupVersionResource{Group: "authorization.k8s.io", Version: "v1", Resource: "selfsubjectaccessreviews"}

// allowed asks the API server whether the credentials may do verb on
// resource in the namespace (a SelfSubjectAccessReview).
func (c *Cluster) allowed(ctx context.Context, verb, resource string) (bool, error) {
	review := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "authorization.k8s.io/v1",
		"kind":       "SelfSubjectAccessReview",
		"spec": map[string]any{"resourceAttributes": map[string]any{
			"namespace": c.Namespace, "verb": verb, "group": Group, "resource": resource,
		}},
	}}
	out, err := c.dyn.Resource(ssarResource).Create(ctx, review, metav1.CreateOptions{})
	if err != nil {
		return false, err
	}
	ok, _, _ := unstructured.NestedBool(out.Object, "status", "allowed")
	return ok, nil
}
