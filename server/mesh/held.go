package mesh

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/report"
	"github.com/faultline/faultline/server/store"
)

// FieldManager is the field manager of Faultline's server-side applies.
const FieldManager = "faultline"

// The labels and annotations a run puts on what it applies.
const (
	// LabelRun (label and annotation) is the ID of the run that applied
	// the resource.
	LabelRun = "faultline.dev/run"
	// AnnotationExperiment names the run's experiment.
	AnnotationExperiment = "faultline.dev/experiment"
	// AnnotationExpires is when the change must be undone at the latest
	// (RFC 3339): the run's wall-clock cap.
	AnnotationExpires = "faultline.dev/expires"
	// AnnotationOriginal holds the resource as it was before the run
	// (its spec, labels and annotations, as JSON), so it can be put back
	// from the cluster alone; left out when it would be too large.
	AnnotationOriginal = "faultline.dev/original"
)

// maxOriginalAnnotation bounds AnnotationOriginal: Kubernetes allows
// 256 KiB of annotations in all.
const maxOriginalAnnotation = 128 << 10

// Journal is where changes are saved before they are made: the store.
type Journal interface {
	SaveMeshChange(ctx context.Context, c *store.MeshChange) error
	MarkMeshApplied(ctx context.Context, id int64, version string) error
	EndMeshChange(ctx context.Context, id int64, state, restoredVersion, detail string) error
	OpenMeshChanges(ctx context.Context, envID int64) ([]store.MeshChange, error)
}

// Run is the run that applies resources.
type Run struct {
	EnvironmentID int64
	ID            int64
	Experiment    string
	// Expires is when its changes must be undone at the latest.
	Expires time.Time
}

// Held is what one run applied to the namespace, until Restore.
type Held struct {
	c   *Cluster
	j   Journal
	run Run

	mu      sync.Mutex
	changes []*held
}

type held struct {
	row             store.MeshChange
	originalVersion string
}

// Apply applies the run's resources to the namespace in order, each saved
// first: to the journal (so a crash leaves it to be put back) and into an
// annotation on the changed resource. It stops at the first failure;
// whatever it applied until then is in the returned Held, which the
// caller must Restore in every case.
func (c *Cluster) Apply(ctx context.Context, j Journal, run Run, objs []scenarios.Object) (*Held, error) {
	h := &Held{c: c, j: j, run: run}
	for _, o := range objs {
		if err := h.apply(ctx, o); err != nil {
			return h, fmt.Errorf("mesh: apply %s %s in %s: %w", o.Kind, o.Name, c.Namespace, err)
		}
	}
	return h, nil
}

func gvr(apiVersion, kind string) (schema.GroupVersionResource, error) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil || gv.Group != Group {
		return schema.GroupVersionResource{}, fmt.Errorf("apiVersion %q is not one of %s", apiVersion, Group)
	}
	res, ok := Resources[kind]
	if !ok {
		return schema.GroupVersionResource{}, fmt.Errorf("kind %q is not one of Istio's networking kinds", kind)
	}
	return gv.WithResource(res), nil
}

func (h *Held) apply(ctx context.Context, o scenarios.Object) error {
	c := h.c
	r, err := gvr(o.APIVersion, o.Kind)
	if err != nil {
		return err
	}
	api := c.dyn.Resource(r).Namespace(c.Namespace)
	row := store.MeshChange{EnvironmentID: h.run.EnvironmentID, RunID: h.run.ID, Namespace: c.Namespace,
		APIVersion: o.APIVersion, Kind: o.Kind, Name: o.Name, ExpiresAt: h.run.Expires}
	var originalVersion string
	cur, err := api.Get(ctx, o.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return fmt.Errorf("read the namespace's own: %w", err)
	default:
		if owner := cur.GetLabels()[LabelRun]; owner != "" {
			return fmt.Errorf("run %s holds it already (it is put back when that run ends, or by the server's sweep)", owner)
		}
		b, err := json.Marshal(cur.Object)
		if err != nil {
			return err
		}
		row.Original, originalVersion = string(b), cur.GetResourceVersion()
	}
	if err := h.j.SaveMeshChange(ctx, &row); err != nil {
		return err
	}
	hc := &held{row: row, originalVersion: originalVersion}
	h.mu.Lock()
	h.changes = append(h.changes, hc)
	h.mu.Unlock()

	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(o.Source); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	obj.SetNamespace(c.Namespace)
	// What the cluster sets itself, and Faultline's own description,
	// which Kubernetes metadata has no field for (server-side apply
	// refuses it).
	for _, k := range append(slices.Clone(scenarios.ClusterSetMetadata), "description") {
		unstructured.RemoveNestedField(obj.Object, "metadata", k)
	}
	unstructured.RemoveNestedField(obj.Object, "status")
	runID := strconv.FormatInt(h.run.ID, 10)
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelRun] = runID
	obj.SetLabels(labels)
	ann := obj.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[LabelRun] = runID
	ann[AnnotationExperiment] = h.run.Experiment
	ann[AnnotationExpires] = h.run.Expires.UTC().Format(time.RFC3339)
	if row.Original != "" {
		if saved := originalAnnotation(cur); len(saved) <= maxOriginalAnnotation {
			ann[AnnotationOriginal] = saved
		}
	}
	obj.SetAnnotations(ann)
	body, err := obj.MarshalJSON()
	if err != nil {
		return err
	}
	out, err := api.Patch(ctx, o.Name, types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: FieldManager, Force: ptr(true)})
	if err != nil {
		return err
	}
	// Server-side apply merges: fields of the namespace's own resource
	// that the run's does not name would stay. The run's resource is to be
	// exactly what the experiment says, so those are taken out.
	if extra := extraSpecFields(out, obj); len(extra) > 0 {
		for _, f := range extra {
			unstructured.RemoveNestedField(out.Object, "spec", f)
		}
		if out, err = api.Update(ctx, out, metav1.UpdateOptions{FieldManager: FieldManager}); err != nil {
			return fmt.Errorf("remove the fields the experiment leaves out (%s): %w", strings.Join(extra, ", "), err)
		}
	}
	hc.row.AppliedVersion = out.GetResourceVersion()
	hc.row.State = store.MeshApplied
	return h.j.MarkMeshApplied(ctx, hc.row.ID, hc.row.AppliedVersion)
}

func ptr[T any](v T) *T { return &v }

// originalAnnotation is what AnnotationOriginal holds of a resource.
func originalAnnotation(u *unstructured.Unstructured) string {
	spec, _, _ := unstructured.NestedMap(u.Object, "spec")
	b, _ := json.Marshal(map[string]any{"spec": spec, "labels": u.GetLabels(), "annotations": u.GetAnnotations()})
	return string(b)
}

// extraSpecFields lists the top-level spec fields of applied that want
// does not set.
func extraSpecFields(applied, want *unstructured.Unstructured) []string {
	got, _, _ := unstructured.NestedMap(applied.Object, "spec")
	mine, _, _ := unstructured.NestedMap(want.Object, "spec")
	var out []string
	for k := range got {
		if _, ok := mine[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// Restore puts back, newest first, every resource the run applied: the
// saved original where there was one, nothing where the run created it.
// A resource someone else changed during the run is left as they made it
// and recorded as a conflict. It is safe to call more than once; a change
// it could not undo (the API server unreachable) stays open in the
// journal for the sweep, and the error says so.
func (h *Held) Restore(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var errs []error
	for i := len(h.changes) - 1; i >= 0; i-- {
		hc := h.changes[i]
		if !hc.row.Open() {
			continue
		}
		if err := h.c.restore(ctx, h.j, &hc.row); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Record is the report's account of the run's changes.
func (h *Held) Record() *report.Mesh {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := &report.Mesh{Server: h.c.Server, Context: h.c.Context, Namespace: h.c.Namespace, Resources: []report.MeshResource{}}
	for _, hc := range h.changes {
		r := hc.row
		res := report.MeshResource{Kind: r.Kind, Name: r.Name, Action: "created", OriginalVersion: hc.originalVersion,
			AppliedVersion: r.AppliedVersion, RestoredVersion: r.RestoredVersion, State: r.State, Detail: r.Detail}
		if r.Original != "" {
			res.Action = "changed"
		}
		if r.State == store.MeshSaved {
			res.State = "not applied"
		}
		m.Resources = append(m.Resources, res)
	}
	return m
}

// restore undoes one change and ends it in the journal: restored, or a
// conflict when someone else changed the resource since the run did.
// Only a failure to reach the API server or the journal is an error.
func (c *Cluster) restore(ctx context.Context, j Journal, row *store.MeshChange) error {
	r, err := gvr(row.APIVersion, row.Kind)
	if err != nil {
		return c.end(ctx, j, row, store.MeshConflict, "", err.Error())
	}
	api := c.dyn.Resource(r).Namespace(row.Namespace)
	runID := strconv.FormatInt(row.RunID, 10)
	cur, err := api.Get(ctx, row.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		if row.Original == "" {
			return c.end(ctx, j, row, store.MeshRestored, "", "")
		}
		return c.end(ctx, j, row, store.MeshConflict, "", "deleted during the run by someone else: not recreated")
	case err != nil:
		return fmt.Errorf("mesh: restore %s %s/%s: %w", row.Kind, row.Namespace, row.Name, err)
	}
	if cur.GetLabels()[LabelRun] != runID {
		if row.State == store.MeshSaved {
			return c.end(ctx, j, row, store.MeshRestored, "", "the change never reached the cluster")
		}
		return c.end(ctx, j, row, store.MeshConflict, "", fmt.Sprintf("changed during the run by someone else (resourceVersion %s): left as they made it", cur.GetResourceVersion()))
	}
	if row.AppliedVersion != "" && cur.GetResourceVersion() != row.AppliedVersion {
		return c.end(ctx, j, row, store.MeshConflict, "", fmt.Sprintf("changed during the run by someone else (resourceVersion %s, the run left %s): left as they made it", cur.GetResourceVersion(), row.AppliedVersion))
	}
	if row.Original == "" {
		rv := cur.GetResourceVersion()
		err := api.Delete(ctx, row.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &rv}})
		switch {
		case err == nil || apierrors.IsNotFound(err):
			return c.end(ctx, j, row, store.MeshRestored, "", "")
		case apierrors.IsConflict(err):
			return c.end(ctx, j, row, store.MeshConflict, "", "changed by someone else as the run ended: left as they made it")
		}
		return fmt.Errorf("mesh: delete %s %s/%s: %w", row.Kind, row.Namespace, row.Name, err)
	}
	orig := &unstructured.Unstructured{}
	if err := orig.UnmarshalJSON([]byte(row.Original)); err != nil {
		return c.end(ctx, j, row, store.MeshConflict, "", "the saved original does not decode: "+err.Error())
	}
	back := orig.DeepCopy()
	back.SetResourceVersion(cur.GetResourceVersion())
	unstructured.RemoveNestedField(back.Object, "status")
	out, err := api.Update(ctx, back, metav1.UpdateOptions{FieldManager: FieldManager})
	switch {
	case err == nil:
		return c.end(ctx, j, row, store.MeshRestored, out.GetResourceVersion(), "")
	case apierrors.IsConflict(err):
		return c.end(ctx, j, row, store.MeshConflict, "", "changed by someone else as the run ended: left as they made it")
	}
	return fmt.Errorf("mesh: put back %s %s/%s: %w", row.Kind, row.Namespace, row.Name, err)
}

func (c *Cluster) end(ctx context.Context, j Journal, row *store.MeshChange, state, version, detail string) error {
	if err := j.EndMeshChange(ctx, row.ID, state, version, detail); err != nil {
		return err
	}
	row.State, row.RestoredVersion, row.Detail = state, version, detail
	return nil
}

// Sweep puts back the open changes of environment envID whose run is no
// longer active (active reports false) or whose expiry has passed: what a
// crash, or a restore that could not reach the API server, left behind.
// It returns how many it ended.
func (c *Cluster) Sweep(ctx context.Context, j Journal, envID int64, active func(runID int64) bool, now time.Time) (int, error) {
	open, err := j.OpenMeshChanges(ctx, envID)
	if err != nil {
		return 0, err
	}
	var errs []error
	n := 0
	for i := len(open) - 1; i >= 0; i-- { // newest first, as Restore
		row := open[i]
		if active(row.RunID) && now.Before(row.ExpiresAt) {
			continue
		}
		if err := c.restore(ctx, j, &row); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}
