package environments

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/faultline/faultline/proxy"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/errkind"
	"github.com/faultline/faultline/server/mesh"
	"github.com/faultline/faultline/server/report"
)

// meshTimeout bounds putting a run's changes back as it ends, and one
// sweep of an environment.
const meshTimeout = 30 * time.Second

func (m *Manager) meshOptions() mesh.Options {
	return mesh.Options{KubeconfigDir: m.cfg.KubeconfigDir, AllowTarget: m.cfg.AllowTarget}
}

// connectLocked makes the client of a mesh environment's cluster in
// place of listeners.
func (p *plane) connectLocked() {
	if p.px != nil {
		_ = p.px.Close()
		p.px = nil
	}
	c, err := mesh.Connect(p.doc.Environment.Spec.Kubernetes, p.m.meshOptions())
	if err != nil {
		p.cluster, p.err = nil, err
		p.m.log.Error("environment has no cluster", "environment", p.v.name, "err", err)
		return
	}
	p.cluster, p.err, p.startedAt = c, nil, p.m.cfg.Now().UTC()
	p.m.log.Info("environment on a cluster", "environment", p.v.name, "server", c.Server, "namespace", c.Namespace)
}

// MeshStatus is a mesh environment's cluster as its page shows it.
type MeshStatus struct {
	Server    string `json:"server,omitempty"`
	Context   string `json:"context,omitempty"`
	Namespace string `json:"namespace"`
	// Entry is where runs send their load; empty means the URL's host.
	Entry string `json:"entry,omitempty"`
	// Reachable says the last probe found the API server serving Istio's
	// kinds; Error says why not.
	Reachable bool      `json:"reachable"`
	Error     string    `json:"error,omitempty"`
	CheckedAt time.Time `json:"checkedAt,omitzero"`
	// Held are the resources the run in force has applied.
	Held []report.MeshResource `json:"held"`
}

// probeMesh checks that the cluster answers, and puts back what a
// crashed run (or a restore that could not reach it) left behind.
func (p *plane) probeMesh(ctx context.Context, now func() time.Time) {
	p.mu.Lock()
	c, id := p.cluster, p.v.id
	p.mu.Unlock()
	if c == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, meshTimeout)
	defer cancel()
	err := c.Reachable(ctx)
	if err == nil && p.m.cfg.Journal != nil {
		var n int
		n, err = c.Sweep(ctx, p.m.cfg.Journal, id, p.holdsRun, now())
		if n > 0 {
			p.m.log.Warn("put back what ended runs left in the cluster", "environment", p.name(), "resources", n)
		}
	}
	p.mu.Lock()
	p.meshErr, p.meshChecked = err, now().UTC()
	p.mu.Unlock()
}

// holdsRun reports whether run runID holds the plane now.
func (p *plane) holdsRun(runID int64) bool {
	h := p.holding()
	return h != nil && h.Kind == HolderRun && h.RunID == runID
}

// sweepAll puts back every change of environment id that no run holds;
// a mesh environment is removed only after.
func (p *plane) sweepAll(ctx context.Context) error {
	p.mu.Lock()
	c, id := p.cluster, p.v.id
	p.mu.Unlock()
	if c == nil || p.m.cfg.Journal == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, meshTimeout)
	defer cancel()
	_, err := c.Sweep(ctx, p.m.cfg.Journal, id, func(int64) bool { return false }, p.m.cfg.Now())
	return err
}

func (p *plane) meshStatusLocked() *MeshStatus {
	k := p.doc.Environment.Spec.Kubernetes
	s := &MeshStatus{Namespace: k.Namespace, Entry: k.Entry, Context: k.Context, Held: []report.MeshResource{}}
	if p.cluster != nil {
		s.Server, s.Context = p.cluster.Server, p.cluster.Context
		s.Reachable = p.meshErr == nil && !p.meshChecked.IsZero()
		s.CheckedAt = p.meshChecked
	}
	if p.meshErr != nil {
		s.Error = p.meshErr.Error()
	}
	if p.meshLease != nil {
		if rec := p.meshLease.MeshRecord(); rec != nil {
			s.Held = rec.Resources
		}
	}
	return s
}

// MeshLease is a run's hold on a mesh environment: the run's Istio
// resources applied to the namespace (ApplyMesh) and put back (Revert,
// Release), its load sent to the environment's entry.
type MeshLease struct {
	*Lease

	mu   sync.Mutex
	held *mesh.Held
}

// Mesh returns the lease as a mesh environment's, or nil when the
// environment is Faultline's own listeners.
func (l *Lease) Mesh() *MeshLease {
	p := l.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.doc == nil || !p.doc.Environment.IsMesh() {
		return nil
	}
	if p.meshLease == nil || p.meshLease.Lease != l {
		p.meshLease = &MeshLease{Lease: l}
	}
	return p.meshLease
}

// Proxy is nil: the cluster's Envoys carry the traffic.
func (l *MeshLease) Proxy() (*proxy.Proxy, error) { return nil, nil }

// Apply refuses: a mesh environment's runs apply with ApplyMesh.
func (l *MeshLease) Apply(*scenarios.Document) error {
	return fmt.Errorf("environment %s is a cluster's namespace: its runs apply with ApplyMesh", l.Environment())
}

// Entry is where the run's load goes: the environment's
// spec.kubernetes.entry, else the URL's host and port themselves.
func (l *MeshLease) Entry(_, host string, port uint32) (string, error) {
	doc, _ := l.p.baseline()
	if e := doc.Environment.Spec.Kubernetes.Entry; e != "" {
		return e, nil
	}
	return net.JoinHostPort(host, strconv.FormatUint(uint64(port), 10)), nil
}

// ApplyMesh applies doc's own Istio resources to the namespace, each
// saved first, to be undone by expires at the latest. The cluster must
// still grant what runs need: a lack is refused before any change.
func (l *MeshLease) ApplyMesh(ctx context.Context, doc *scenarios.Document, expires time.Time) error {
	p := l.p
	p.mu.Lock()
	c, envID, cerr := p.cluster, p.v.id, p.err
	p.mu.Unlock()
	if c == nil {
		return fmt.Errorf("environment %s has no cluster: %w", l.Environment(), cerr)
	}
	if p.m.cfg.Journal == nil {
		return fmt.Errorf("environment %s: the server keeps no journal of cluster changes", l.Environment())
	}
	objs, err := doc.Objects()
	if err != nil {
		return err
	}
	if err := c.Check(ctx); err != nil {
		return fmt.Errorf("environment %s: %w", l.Environment(), err)
	}
	h := l.holder
	held, err := c.Apply(ctx, p.m.cfg.Journal, mesh.Run{EnvironmentID: envID, ID: h.RunID, Experiment: h.Experiment, Expires: expires}, objs)
	l.mu.Lock()
	l.held = held
	l.mu.Unlock()
	return err
}

// Revert puts back what the run applied. A restore that cannot reach the
// cluster is left to the sweep, which retries every probe interval. A
// shutdown does not cut it short: the namespace is back before the
// process ends.
func (l *MeshLease) Revert() {
	l.mu.Lock()
	held := l.held
	l.mu.Unlock()
	if held == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), meshTimeout)
	defer cancel()
	if err := held.Restore(ctx); err != nil {
		l.p.m.log.Error("put the namespace back", "environment", l.Environment(), "err", err)
	}
}

// Release puts the namespace back and lets the next run have the
// environment.
func (l *MeshLease) Release() {
	l.Revert()
	l.p.mu.Lock()
	if l.p.meshLease == l {
		l.p.meshLease = nil
	}
	l.p.mu.Unlock()
	l.Lease.Release()
}

// MeshRecord is the run's account of what it applied and put back; nil
// before ApplyMesh.
func (l *MeshLease) MeshRecord() *report.Mesh {
	l.mu.Lock()
	held := l.held
	l.mu.Unlock()
	if held == nil {
		return nil
	}
	return held.Record()
}

// errMeshOverlay refuses an overlay on a mesh environment.
var errMeshOverlay = errors.New("overlays act on Faultline's own listeners; this environment is a cluster's namespace: run an experiment on it instead")

// meshOverlayError wraps errMeshOverlay as a conflict (409).
func meshOverlayError(name string) error {
	return fmt.Errorf("%w: environment %s: %w", errkind.Conflict, name, errMeshOverlay)
}
