// Package environments keeps the long-lived data planes of the stored
// environments (docs/architecture.md, Environments): each listens at its
// fixed addresses from start-up, routes with its baseline, and is held by
// one run or one overlay at a time, which lays its resources over the
// baseline and puts the baseline back when it ends. A crash cannot leave a
// fault behind: a new process starts every environment at its baseline.
package environments

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// Store is what the manager reads of the database.
type Store interface {
	ListEnvironments(ctx context.Context, p store.Page) ([]store.Environment, int64, error)
}

// Config configures a Manager.
type Config struct {
	Store Store
	// AllowTarget approves every upstream address and CONNECT target of
	// the data planes; nil allows loopback only.
	AllowTarget func(hostport string) error
	Logger      *slog.Logger
	// ProbeInterval is how often every endpoint is dialled to tell the
	// environment's page whether it is up; default 5s.
	ProbeInterval time.Duration
	// AccessLogLines is how many access-log lines each environment keeps;
	// default 1000.
	AccessLogLines int
	// MaxOverlayTTL bounds an overlay's time to live; default 1h.
	MaxOverlayTTL time.Duration
	// Now is the clock of overlays and holders; nil means time.Now.
	Now func() time.Time
	// Journal keeps what runs change in mesh environments' clusters,
	// saved before each change; nil refuses runs on mesh environments.
	Journal mesh.Journal
	// KubeconfigDir is where mesh environments' kubeconfig files may be
	// read from; empty allows in-cluster credentials only.
	KubeconfigDir string
}

// Manager owns the data plane of every stored environment.
type Manager struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	planes map[int64]*plane // by environment ID
	nextOv int64            // overlay IDs
	closed bool
	// lever, when engaged, refuses overlays.
	lever store.LeverState

	// base bounds the life of every data plane and overlay timer.
	base     context.Context
	shutdown context.CancelFunc
	wg       sync.WaitGroup
}

// New returns a Manager; Start opens the stored environments' listeners.
func New(cfg Config) *Manager {
	if cfg.ProbeInterval <= 0 {
		cfg.ProbeInterval = 5 * time.Second
	}
	if cfg.AccessLogLines <= 0 {
		cfg.AccessLogLines = 1000
	}
	if cfg.MaxOverlayTTL <= 0 {
		cfg.MaxOverlayTTL = time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	base, cancel := context.WithCancel(context.Background())
	return &Manager{cfg: cfg, log: log, planes: map[int64]*plane{}, base: base, shutdown: cancel}
}

// Start brings up the data plane of every stored environment at its
// baseline. An environment that cannot listen (a port taken) is kept,
// with the reason on its status; only a failure to read the store is
// returned.
func (m *Manager) Start(ctx context.Context) error {
	for offset := 0; ; {
		page, total, err := m.cfg.Store.ListEnvironments(ctx, store.Page{Limit: 500, Offset: offset})
		if err != nil {
			return fmt.Errorf("environments: list: %w", err)
		}
		for i := range page {
			if err := m.Put(&page[i]); err != nil {
				m.log.Error("environment not started", "environment", page[i].Name, "err", err)
			}
		}
		offset += len(page)
		if len(page) == 0 || int64(offset) >= total {
			return nil
		}
	}
}

// Run probes the endpoints of every environment until ctx ends, then
// closes every data plane.
func (m *Manager) Run(ctx context.Context) error {
	t := time.NewTicker(m.cfg.ProbeInterval)
	defer t.Stop()
	for {
		m.probeAll(ctx)
		select {
		case <-ctx.Done():
			m.Close()
			return nil
		case <-t.C:
		}
	}
}

// Close stops every data plane and overlay timer.
func (m *Manager) Close() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	m.mu.Unlock()
	m.shutdown()
	for _, p := range m.sortedPlanes() {
		p.close()
	}
	m.wg.Wait()
}

// Put brings the stored environment's data plane to its document: a new
// environment starts listening, a changed one is updated in place (its
// listeners re-opened when their addresses changed) — after the run or
// overlay that holds it, if one does. The document must have been checked
// (ParseEnvironment, the safety policy, Check).
func (m *Manager) Put(e *store.Environment) error {
	doc, err := scenarios.ParseEnvironment([]byte(e.Source))
	if err != nil {
		return fmt.Errorf("environments: %s: %w", e.Name, err)
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return errClosed
	}
	p := m.planes[e.ID]
	if p == nil {
		p = m.newPlane(e)
		m.planes[e.ID] = p
	}
	m.wg.Add(1)
	m.mu.Unlock()
	p.put(version{id: e.ID, name: e.Name, number: e.Version}, doc)
	// Its page says at once whether its endpoints answer.
	go func() {
		defer m.wg.Done()
		p.probe(m.base, m.cfg.Now)
	}()
	return nil
}

// Remove stops and forgets an environment's data plane. One held by a run
// is refused (ErrBusy); an overlay is dropped with it. An unknown ID is
// not an error: the environment never listened.
func (m *Manager) Remove(id int64) error {
	p, err := m.unheld(id)
	if p == nil || err != nil {
		return err
	}
	if err := p.sweepAll(m.base); err != nil {
		return fmt.Errorf("environments: %w: %s still has changes in its cluster that could not be put back: %w", errkind.Conflict, p.name(), err)
	}
	m.mu.Lock()
	delete(m.planes, id)
	m.mu.Unlock()
	p.close()
	return nil
}

// unheld returns environment id's data plane unless a run holds it (a
// busy error); nil for an unknown ID.
func (m *Manager) unheld(id int64) (*plane, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.planes[id]
	if p == nil {
		return nil, nil
	}
	if h := p.holding(); h != nil && h.Kind == HolderRun {
		return nil, busy(p.name(), h)
	}
	return p, nil
}

// ListenError is a listener address an environment cannot take.
type ListenError struct {
	Field string
	Addr  string
	Err   error
}

func (e *ListenError) Error() string {
	return fmt.Sprintf("%s: %s cannot be listened on: %v", e.Field, e.Addr, e.Err)
}

// FieldPath names the field at fault.
func (e *ListenError) FieldPath() string { return e.Field }

// Code names the refusal.
func (e *ListenError) Code() string { return "address_in_use" }

// Unwrap returns the listen error.
func (e *ListenError) Unwrap() error { return e.Err }

// Check checks what environment id (0 for a new one) needs of the world
// to serve doc. A mesh environment's cluster must answer and grant what
// runs need (see mesh.Cluster.Check). Of Faultline's own listeners, it
// tries every address the environment does not hold already, and returns
// a *ListenError naming the first field whose address cannot be listened
// on: taken by another environment or another program.
func (m *Manager) Check(ctx context.Context, id int64, doc *scenarios.Document) error {
	if doc.Environment.IsMesh() {
		c, err := mesh.Connect(doc.Environment.Spec.Kubernetes, m.meshOptions())
		if err != nil {
			return err
		}
		return c.Check(ctx)
	}
	m.mu.Lock()
	held := map[string]bool{}
	if p := m.planes[id]; p != nil {
		for _, l := range p.listeners() {
			held[l.Addr] = true
		}
	}
	m.mu.Unlock()
	for _, a := range doc.Environment.ListenerAddresses() {
		if held[a.Addr] || held[canonicalAddr(a.Addr)] {
			continue
		}
		ln, err := net.Listen("tcp", a.Addr)
		if err != nil {
			return &ListenError{Field: a.Field, Addr: a.Addr, Err: errors.Unwrap(err)}
		}
		ln.Close()
	}
	return nil
}

// canonicalAddr spells localhost as the loopback address, as a bound
// listener reports itself.
func canonicalAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err == nil && host == "localhost" {
		return net.JoinHostPort("127.0.0.1", port)
	}
	return addr
}

// Resolve returns the baseline document and version of the environment
// named name, for an experiment on it to be parsed on (scenarios.ParseOn).
// An unknown name is an errkind.NotFound.
func (m *Manager) Resolve(name string) (*scenarios.Document, int, error) {
	p := m.byName(name)
	if p == nil {
		return nil, 0, fmt.Errorf("environments: %w: no environment %q", errkind.NotFound, name)
	}
	doc, v := p.baseline()
	return doc, v.number, nil
}

func (m *Manager) byName(name string) *plane {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range m.planes {
		if p.name() == name {
			return p
		}
	}
	return nil
}

func (m *Manager) byID(id int64) *plane {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.planes[id]
}

// Busy reports whether a run or an overlay holds the named environment.
func (m *Manager) Busy(name string) bool {
	p := m.byName(name)
	return p != nil && p.holding() != nil
}

// Acquire waits until the named environment is free (unless wait is
// false: then a held one is refused with ErrBusy) and gives h the lease of
// its data plane. The lease must be released; until then no other run or
// overlay can have the environment.
func (m *Manager) Acquire(ctx context.Context, name string, h Holder, wait bool) (*Lease, error) {
	p := m.byName(name)
	if p == nil {
		return nil, fmt.Errorf("environments: %w: no environment %q", errkind.NotFound, name)
	}
	if err := p.acquire(ctx, wait); err != nil {
		return nil, err
	}
	h.Since = m.cfg.Now().UTC()
	p.hold(&h)
	return &Lease{p: p, holder: &h}, nil
}

// Proxies returns the live data plane of every environment, by name.
func (m *Manager) Proxies() map[string]*proxy.Proxy {
	out := map[string]*proxy.Proxy{}
	for _, p := range m.sortedPlanes() {
		if px := p.proxy(); px != nil {
			out[p.name()] = px
		}
	}
	return out
}

// LeverMoved drops every overlay when the safety lever is engaged, and
// refuses new ones until it is released; it is the run manager's lever
// hook. Runs on environments are stopped by the run manager itself, and
// their leases put the baselines back.
func (m *Manager) LeverMoved(s store.LeverState) {
	m.mu.Lock()
	m.lever = s
	m.mu.Unlock()
	if !s.Engaged {
		return
	}
	for _, p := range m.sortedPlanes() {
		if h := p.holding(); h != nil && h.Kind == HolderOverlay {
			p.endOverlay(h.Overlay.ID, "the safety lever was engaged: "+s.Reason)
		}
	}
}

func (m *Manager) probeAll(ctx context.Context) {
	for _, p := range m.sortedPlanes() {
		p.probe(ctx, m.cfg.Now)
	}
}

// sortedPlanes returns the planes in ID order.
func (m *Manager) sortedPlanes() []*plane {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := make([]int64, 0, len(m.planes))
	for id := range m.planes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]*plane, len(ids))
	for i, id := range ids {
		out[i] = m.planes[id]
	}
	return out
}

var errClosed = errors.New("environments: the manager is closed")
