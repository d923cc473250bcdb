package environments

import (
	"time"

	"github.com/faultline/faultline/proxy"
	"github.com/faultline/faultline/scenarios"
)

// Status is an environment's data plane as its page shows it.
type Status struct {
	ID      int64  `json:"id"`
	Name    string `json:"name"`
	Version int    `json:"version"`
	// Listening says the data plane is up; Error says why not.
	Listening bool   `json:"listening"`
	Error     string `json:"error,omitempty"`
	// Listeners are the open listeners: the egress (kind mesh), gateways
	// and service listeners.
	Listeners []proxy.Listener `json:"listeners"`
	StartedAt *time.Time       `json:"startedAt,omitempty"`
	// Holder is the run or overlay in force; nil at the baseline.
	Holder *Holder `json:"holder,omitempty"`
	// PendingVersion is a stored version waiting for the holder to leave;
	// 0 when none.
	PendingVersion int `json:"pendingVersion,omitempty"`
	// LastOverlay is the last overlay that ended, and why.
	LastOverlay *EndedOverlay `json:"lastOverlay,omitempty"`
	// Endpoints are the last probe of every endpoint.
	Endpoints []EndpointHealth `json:"endpoints"`
	// Baseline lists the baseline's Istio resources ("VirtualService reviews").
	Baseline []string `json:"baseline"`
	// Services are the hosts the environment binds, and Addresses the
	// listener addresses its document asks for (shown also when the
	// plane could not take them).
	Services  []ServiceInfo               `json:"services"`
	Addresses []scenarios.ListenerAddress `json:"addresses"`
	// Stats are the data plane's counters since it started.
	Stats *proxy.Stats `json:"stats,omitempty"`
	// Kubernetes is a mesh environment's cluster; nil for Faultline's own
	// listeners.
	Kubernetes *MeshStatus `json:"kubernetes,omitempty"`
}

// ServiceInfo is one host an environment binds.
type ServiceInfo struct {
	Host      string   `json:"host"`
	Port      uint32   `json:"port"`
	Listen    string   `json:"listen,omitempty"`
	Endpoints []string `json:"endpoints"`
}

// Status returns environment id's data plane; ok is false for an
// environment the manager does not serve.
func (m *Manager) Status(id int64) (Status, bool) {
	p := m.byID(id)
	if p == nil {
		return Status{}, false
	}
	return p.status(), true
}

// Statuses returns every environment's data plane, in ID order.
func (m *Manager) Statuses() []Status {
	planes := m.sortedPlanes()
	out := make([]Status, len(planes))
	for i, p := range planes {
		out[i] = p.status()
	}
	return out
}

func (p *plane) status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Status{ID: p.v.id, Name: p.v.name, Version: p.v.number, Listening: p.px != nil || p.cluster != nil, Holder: p.holder,
		LastOverlay: p.lastEnded, Endpoints: p.health}
	if p.err != nil {
		s.Error = p.err.Error()
	}
	if p.pending != nil {
		s.PendingVersion = p.pending.v.number
	}
	if p.doc != nil {
		s.Baseline = resourceNames(p.doc, &scenarios.Document{})
		s.Addresses = p.doc.Environment.ListenerAddresses()
		if p.doc.Environment.IsMesh() {
			s.Kubernetes = p.meshStatusLocked()
		}
		for _, svc := range p.doc.Environment.Spec.Services {
			info := ServiceInfo{Host: svc.Host, Port: svc.Port, Listen: svc.Listen, Endpoints: []string{}}
			for _, ep := range svc.Endpoints {
				info.Endpoints = append(info.Endpoints, ep.Address)
			}
			s.Services = append(s.Services, info)
		}
	}
	if h := s.Holder; h != nil && h.Overlay != nil {
		ov := *h.Overlay
		ov.RemainingMs = max(0, ov.ExpiresAt.Sub(p.m.cfg.Now()).Milliseconds())
		held := *h
		held.Overlay = &ov
		s.Holder = &held
	}
	if p.px != nil {
		s.Listeners = p.px.Listeners()
		stats := p.px.Stats()
		s.Stats = &stats
		started := p.startedAt
		s.StartedAt = &started
	}
	if s.Endpoints == nil {
		s.Endpoints = []EndpointHealth{}
	}
	if s.Listeners == nil {
		s.Listeners = []proxy.Listener{}
	}
	if s.Baseline == nil {
		s.Baseline = []string{}
	}
	if s.Services == nil {
		s.Services = []ServiceInfo{}
	}
	return s
}

// Graph returns environment id's service graph; ok is false when it is
// not listening.
func (m *Manager) Graph(id int64) (proxy.Graph, bool) {
	p := m.byID(id)
	if p == nil {
		return proxy.Graph{}, false
	}
	px := p.proxy()
	if px == nil {
		return proxy.Graph{}, false
	}
	return px.Graph(), true
}

// AccessLog returns the last lines of environment id's access log, oldest
// first.
func (m *Manager) AccessLog(id int64) ([]string, bool) {
	p := m.byID(id)
	if p == nil {
		return nil, false
	}
	return p.access.lines(), true
}
