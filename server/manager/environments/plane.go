package environments

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/faultline/faultline/proxy"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/errkind"
	"github.com/faultline/faultline/server/mesh"
	"github.com/faultline/faultline/server/store"
)

// Holders of an environment.
const (
	HolderRun     = "run"
	HolderOverlay = "overlay"
)

// Holder is what holds an environment's data plane: a run, or an overlay
// with a time to live.
type Holder struct {
	// Kind is HolderRun or HolderOverlay.
	Kind string `json:"kind"`
	// RunID and Experiment name a run holder.
	RunID      int64  `json:"runId,omitempty"`
	Experiment string `json:"experiment,omitempty"`
	// Overlay describes an overlay holder.
	Overlay *Overlay `json:"overlay,omitempty"`
	// Since is when the holder took the environment (UTC).
	Since time.Time `json:"since"`
}

// describe names the holder for a refusal.
func (h *Holder) describe() string {
	if h.Kind == HolderOverlay && h.Overlay != nil {
		return fmt.Sprintf("overlay %d (until %s)", h.Overlay.ID, h.Overlay.ExpiresAt.Format(time.RFC3339))
	}
	return fmt.Sprintf("run %d of %s", h.RunID, h.Experiment)
}

// BusyError refuses a run or overlay on an environment another one holds.
type BusyError struct {
	Environment string
	Holder      Holder
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("environment %s is busy: %s holds it", e.Environment, e.Holder.describe())
}

// Code names the refusal for API clients.
func (e *BusyError) Code() string { return "busy" }

// Unwrap makes a BusyError an errkind.Conflict (409).
func (e *BusyError) Unwrap() error { return errkind.Conflict }

func busy(name string, h *Holder) error {
	return &BusyError{Environment: name, Holder: *h}
}

// version identifies the stored environment a plane serves.
type version struct {
	id     int64
	name   string
	number int
}

// update is a stored version waiting for the holder to leave.
type update struct {
	v   version
	doc *scenarios.Document
}

// plane is one environment's data plane.
type plane struct {
	m      *Manager
	access *ringLog
	// turn holds a token while a run or overlay holds the plane.
	turn chan struct{}
	// gone is closed when the plane is removed.
	gone chan struct{}

	mu        sync.Mutex
	v         version
	doc       *scenarios.Document // the baseline
	px        *proxy.Proxy
	err       error // why the plane is not listening
	startedAt time.Time
	holder    *Holder
	applied   bool // a holder's overlay is in force
	overlay   *Lease
	ovTimer   *time.Timer
	lastEnded *EndedOverlay
	pending   *update
	health    []EndpointHealth
	closed    bool
	// Of a mesh environment: its cluster (instead of px), the last probe
	// of it, and the lease of the run that holds it.
	cluster     *mesh.Cluster
	meshErr     error
	meshChecked time.Time
	meshLease   *MeshLease
}

func (m *Manager) newPlane(e *store.Environment) *plane {
	return &plane{m: m, access: newRingLog(m.cfg.AccessLogLines), turn: make(chan struct{}, 1), gone: make(chan struct{}),
		v: version{id: e.ID, name: e.Name, number: e.Version}}
}

func (p *plane) name() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.v.name
}

func (p *plane) baseline() (*scenarios.Document, version) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.doc, p.v
}

func (p *plane) proxy() *proxy.Proxy {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.px
}

func (p *plane) holding() *Holder {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.holder
}

func (p *plane) listeners() []proxy.Listener {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.px == nil {
		return nil
	}
	return p.px.Listeners()
}

// put serves doc as the plane's baseline now, or once its holder leaves.
func (p *plane) put(v version, doc *scenarios.Document) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if p.holder != nil {
		p.pending = &update{v: v, doc: doc}
		// The name follows at once, so the environment is found by it.
		p.v.name = v.name
		return
	}
	p.serveLocked(v, doc)
}

// serveLocked makes doc the baseline in force: applied in place when the
// listener addresses are unchanged, else on a new data plane.
func (p *plane) serveLocked(v version, doc *scenarios.Document) {
	old := p.doc
	p.v, p.doc, p.pending = v, doc, nil
	if doc.Environment.IsMesh() {
		p.connectLocked()
		return
	}
	p.cluster = nil
	if p.px != nil && old != nil && slices.Equal(old.Environment.ListenerAddresses(), doc.Environment.ListenerAddresses()) {
		if err := p.px.Apply(doc); err != nil {
			p.m.log.Error("environment: apply baseline", "environment", v.name, "err", err)
			p.restartLocked()
		}
		return
	}
	p.restartLocked()
}

// restartLocked (re)opens the plane's listeners at its baseline.
func (p *plane) restartLocked() {
	if p.px != nil {
		_ = p.px.Close()
		p.px = nil
	}
	env := p.doc.Environment
	px, err := proxy.Start(p.m.base, p.doc, env.Spec.Egress, env.Spec.Gateways, proxy.Options{
		AccessLog:        p.access,
		AllowTarget:      p.m.cfg.AllowTarget,
		Logger:           p.m.log.With("environment", p.v.name),
		DrainTimeout:     time.Second,
		ServiceListeners: serviceListeners(env),
		ServiceGraph:     true,
	})
	if err != nil {
		p.err = err
		p.m.log.Error("environment not listening", "environment", p.v.name, "err", err)
		return
	}
	p.px, p.err, p.startedAt = px, nil, p.m.cfg.Now().UTC()
	p.m.log.Info("environment listening", "environment", p.v.name, "version", p.v.number, "listeners", len(px.Listeners()))
}

func serviceListeners(env *scenarios.Environment) []proxy.ServiceListener {
	var out []proxy.ServiceListener
	for _, l := range env.ServiceListeners() {
		out = append(out, proxy.ServiceListener{Host: l.Host, Port: l.Port, Addr: l.Addr})
	}
	return out
}

// acquire takes the plane's turn, waiting for it when wait is set.
func (p *plane) acquire(ctx context.Context, wait bool) error {
	select {
	case p.turn <- struct{}{}:
		return p.stillThere()
	default:
	}
	if !wait {
		if h := p.holding(); h != nil {
			return busy(p.name(), h)
		}
	}
	select {
	case p.turn <- struct{}{}:
		return p.stillThere()
	case <-ctx.Done():
		return fmt.Errorf("environments: wait for %s: %w", p.name(), context.Cause(ctx))
	case <-p.gone:
		return fmt.Errorf("environments: %w: environment %s was deleted", errkind.NotFound, p.name())
	}
}

// stillThere gives the turn back when the plane was removed meanwhile.
func (p *plane) stillThere() error {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		<-p.turn
		return fmt.Errorf("environments: %w: environment %s was deleted", errkind.NotFound, p.name())
	}
	return nil
}

func (p *plane) hold(h *Holder) {
	p.mu.Lock()
	p.holder = h
	p.mu.Unlock()
}

// revert puts the baseline back in force; a baseline that no longer
// compiles (it always did) restarts the plane, so no fault outlives its
// holder.
func (p *plane) revert() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.applied {
		return
	}
	p.applied = false
	if p.px == nil {
		return
	}
	if err := p.px.Apply(p.doc); err != nil {
		p.m.log.Error("environment: revert to the baseline", "environment", p.v.name, "err", err)
		p.restartLocked()
	}
}

// release ends the holder's hold: the baseline back, a pending update
// served, the turn given to the next in the queue.
func (p *plane) release() {
	p.revert()
	p.mu.Lock()
	p.holder = nil
	if u := p.pending; u != nil && !p.closed {
		p.serveLocked(u.v, u.doc)
	}
	p.mu.Unlock()
	<-p.turn
}

// close stops the plane for good.
func (p *plane) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.gone)
	if p.ovTimer != nil {
		p.ovTimer.Stop()
	}
	px := p.px
	p.px = nil
	p.mu.Unlock()
	if px != nil {
		_ = px.Close()
	}
}

// EndpointHealth is what the last probe of an endpoint found.
type EndpointHealth struct {
	Service   string    `json:"service"`
	Address   string    `json:"address"`
	Up        bool      `json:"up"`
	Error     string    `json:"error,omitempty"`
	CheckedAt time.Time `json:"checkedAt"`
}

// probeTimeout bounds one endpoint's dial.
const probeTimeout = time.Second

// probe dials every endpoint of the baseline's services.
func (p *plane) probe(ctx context.Context, now func() time.Time) {
	doc, _ := p.baseline()
	if doc == nil {
		return
	}
	if doc.Environment.IsMesh() {
		p.probeMesh(ctx, now)
		return
	}
	var out []EndpointHealth
	var d net.Dialer
	for _, s := range doc.Environment.Spec.Services {
		for _, ep := range s.Endpoints {
			h := EndpointHealth{Service: s.Host, Address: ep.Address}
			dctx, cancel := context.WithTimeout(ctx, probeTimeout)
			c, err := d.DialContext(dctx, "tcp", ep.Address)
			cancel()
			if err == nil {
				c.Close()
				h.Up = true
			} else {
				var op *net.OpError
				if errors.As(err, &op) && op.Err != nil {
					err = op.Err
				}
				h.Error = err.Error()
			}
			h.CheckedAt = now().UTC()
			out = append(out, h)
		}
	}
	p.mu.Lock()
	p.health = out
	p.mu.Unlock()
}
