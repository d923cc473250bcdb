package export_test

import (
	"context"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/faultline/faultline/internal/kubetest"
	"github.com/faultline/faultline/server/export"
)

// resources are the API resources of the kinds an export writes.
var resources = map[string]string{
	"VirtualService":  "virtualservices",
	"DestinationRule": "destinationrules",
	"Gateway":         "gateways",
	"ServiceEntry":    "serviceentries",
	"Job":             "jobs",
}

// dryRun creates d in the API server without storing it (server-side
// dry run), refusing unknown fields as kubectl apply does.
func dryRun(ctx context.Context, t *testing.T, dyn dynamic.Interface, d exported) error {
	t.Helper()
	gv, err := schema.ParseGroupVersion(d.apiVersion)
	if err != nil {
		t.Fatalf("%s %s: %v", d.kind, d.apiVersion, err)
	}
	res, ok := resources[d.kind]
	if !ok {
		t.Fatalf("an export holds no %s", d.kind)
	}
	u := &unstructured.Unstructured{Object: d.obj}
	_, err = dyn.Resource(gv.WithResource(res)).Namespace(u.GetNamespace()).Create(ctx, u,
		metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: metav1.FieldValidationStrict})
	return err
}

// TestExportDryRunOnAPIServer exports every shipped scenario for a fresh
// namespace of a real API server with Istio's CRDs and creates each
// document there with a server-side dry run: the API server validates
// the Istio resources against Istio's own schema and the Job against
// batch/v1's, and must accept every one.
func TestExportDryRunOnAPIServer(t *testing.T) {
	kc := kubetest.Get(t)
	ns := kc.Namespace(t)
	dyn := kc.Dynamic(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kinds := map[string]int{}
	for _, e := range examples(t) {
		for _, d := range split(t, stream(t, e.doc, export.Options{Namespace: ns})) {
			if got := d.obj["metadata"].(map[string]any)["namespace"]; got != ns {
				t.Errorf("%s: %s is in namespace %v, want %s", e.file, d.kind, got, ns)
			}
			if err := dryRun(ctx, t, dyn, d); err != nil {
				t.Errorf("%s: the API server refuses %s: %v\n%s", e.file, d.kind, err, d.raw)
			}
			kinds[d.kind]++
		}
	}
	// Every kind was sent, so each schema was exercised.
	for kind := range resources {
		if kinds[kind] == 0 {
			t.Errorf("no shipped scenario exports a %s", kind)
		}
	}
	t.Logf("accepted: %v", kinds)

	// The dry runs are checked: a spec Istio's schema refuses is refused.
	docs := split(t, stream(t, exampleNamed(t, "httpbin-abort.yaml").doc, export.Options{Namespace: ns}))
	bad := docs[0]
	if bad.kind != "VirtualService" {
		t.Fatalf("%s is not the VirtualService of httpbin-abort.yaml", bad.kind)
	}
	bad.obj["spec"].(map[string]any)["http"].([]any)[0].(map[string]any)["fault"] = map[string]any{"abort": map[string]any{"httpStatus": "five hundred"}}
	err := dryRun(ctx, t, dyn, bad)
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "httpStatus") {
		t.Errorf("a VirtualService with httpStatus \"five hundred\": %v, want it refused as invalid", err)
	}
}
