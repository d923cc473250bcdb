package client

import (
	"context"
	"net/http"
	"strings"
	"time"
)

// Environment is a stored environment and its live data plane.
type Environment struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	// Version is 1 when created and grows by one on every update.
	Version int `json:"version"`
	// Format is yaml or json: how Source was sent.
	Format string `json:"format"`
	// Source is the document as submitted (Get, Create, Update).
	Source    string    `json:"source,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	// Warnings are the problems of an accepted document (Create, Update).
	Warnings []Problem `json:"warnings,omitempty"`
	// Plane is the environment's data plane; nil when the server runs
	// none for it.
	Plane *EnvironmentPlane `json:"plane,omitempty"`
}

// EnvironmentPlane is an environment's live data plane.
type EnvironmentPlane struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	// Version is the stored version in force.
	Version int `json:"version"`
	// Listening is false when the plane could not listen; Error says why
	// (an address taken).
	Listening bool       `json:"listening"`
	Error     string     `json:"error,omitempty"`
	Listeners []Listener `json:"listeners"`
	StartedAt time.Time  `json:"startedAt"`
	// Holder is the run or overlay in force; nil at the baseline.
	Holder *Holder `json:"holder,omitempty"`
	// PendingVersion is a stored version waiting for the holder to leave;
	// zero when none waits.
	PendingVersion int `json:"pendingVersion,omitempty"`
	// LastOverlay is the last overlay that ended, and why.
	LastOverlay *EndedOverlay    `json:"lastOverlay,omitempty"`
	Endpoints   []EndpointHealth `json:"endpoints"`
	// Baseline names the baseline's Istio resources ("VirtualService
	// reviews").
	Baseline []string `json:"baseline"`
	// Stats are the plane's counters since it started (Get only).
	Stats     *ProxyStats       `json:"stats,omitempty"`
	Services  []ServiceBinding  `json:"services"`
	Addresses []ListenerAddress `json:"addresses"`
}

// Holder is what holds an environment now: a run or an overlay.
type Holder struct {
	// Kind is run or overlay.
	Kind       string    `json:"kind"`
	RunID      int64     `json:"runId,omitempty"`
	Experiment string    `json:"experiment,omitempty"`
	Overlay    *Overlay  `json:"overlay,omitempty"`
	Since      time.Time `json:"since"`
}

// EndpointHealth says whether an endpoint of an environment answers.
type EndpointHealth struct {
	Service   string    `json:"service"`
	Address   string    `json:"address"`
	Up        bool      `json:"up"`
	Error     string    `json:"error,omitempty"`
	CheckedAt time.Time `json:"checkedAt"`
}

// ServiceBinding is a service an environment binds: its host and port,
// its own listener if any, and its endpoints.
type ServiceBinding struct {
	Host      string   `json:"host"`
	Port      int      `json:"port"`
	Listen    string   `json:"listen,omitempty"`
	Endpoints []string `json:"endpoints"`
}

// ListenerAddress is a listener address an environment's document asks
// for, with its field (spec.egress, spec.services[0].listen…).
type ListenerAddress struct {
	Field string `json:"field"`
	Addr  string `json:"addr"`
}

// Overlay is a set of Istio resources laid over an environment's baseline
// until its TTL ends, it is removed, or the safety lever is engaged.
type Overlay struct {
	ID          int64  `json:"id"`
	Environment string `json:"environment"`
	// Resources name what it holds ("VirtualService reviews").
	Resources []string  `json:"resources"`
	Source    string    `json:"source"`
	TTLMs     int64     `json:"ttlMs"`
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt"`
	// RemainingMs is the time it had left by the server's clock when read.
	RemainingMs int64 `json:"remainingMs"`
}

// TTL is how long the overlay was laid for.
func (o *Overlay) TTL() time.Duration { return time.Duration(o.TTLMs) * time.Millisecond }

// Remaining is the time the overlay had left when read.
func (o *Overlay) Remaining() time.Duration { return time.Duration(o.RemainingMs) * time.Millisecond }

// EndedOverlay is an overlay that ended, when and why.
type EndedOverlay struct {
	Overlay
	EndedAt time.Time `json:"endedAt"`
	Reason  string    `json:"reason"`
}

// ServiceGraph is the traffic an environment carried: who calls whom,
// with rate, error ratio and latency per edge.
type ServiceGraph struct {
	// WindowSeconds is the window of the rates (the last minute).
	WindowSeconds float64 `json:"windowSeconds"`
	Edges         []Edge  `json:"edges"`
}

// Edge is the traffic from one service to another.
type Edge struct {
	// Source is the calling service; unknown for a client outside the
	// services.
	Source      string `json:"source"`
	Destination string `json:"destination"`
	// Requests and Errors count every call since the plane started;
	// WindowRequests and WindowErrors those of the window.
	Requests       int64   `json:"requests"`
	Errors         int64   `json:"errors"`
	WindowRequests int64   `json:"windowRequests"`
	WindowErrors   int64   `json:"windowErrors"`
	RPS            float64 `json:"rps"`
	ErrorRatio     float64 `json:"errorRatio"`
	P50Ms          float64 `json:"p50Ms"`
	P99Ms          float64 `json:"p99Ms"`
	// Faulted says a fault in force acts on the destination.
	Faulted bool `json:"faulted"`
}

// EnvironmentsService stores environments and reads their data planes:
// /api/v1/environments. List gives each environment's data plane without
// counters; Get adds listeners, holder, endpoints and counters. A created
// environment's data plane listens at once (an address taken is a 422,
// Code address_in_use, at its field); an update takes effect at once, or
// after the run or overlay that holds the plane (PendingVersion). Delete
// stops the data plane, and is refused (409) while a run holds or waits
// for it.
type EnvironmentsService struct {
	Documents[Environment]
	c *Client
}

// Graph reads the service graph of the traffic the environment carries;
// one that is not listening is a 409.
func (s *EnvironmentsService) Graph(ctx context.Context, id int64) (*ServiceGraph, error) {
	var g ServiceGraph
	if err := s.c.getJSON(ctx, idPath("/api/v1/environments/%d/graph", id), nil, &g); err != nil {
		return nil, err
	}
	return &g, nil
}

// AccessLog returns the last lines of the environment's access log, in
// Istio's TEXT format, oldest first.
func (s *EnvironmentsService) AccessLog(ctx context.Context, id int64) ([]string, error) {
	b, err := s.c.getBytes(ctx, idPath("/api/v1/environments/%d/access-log", id), nil)
	if err != nil {
		return nil, err
	}
	text := strings.TrimSuffix(string(b), "\n")
	if text == "" {
		return nil, nil
	}
	return strings.Split(text, "\n"), nil
}

// Runs reads a page of the runs on the environment, newest first.
func (s *EnvironmentsService) Runs(ctx context.Context, id int64, opts ListOptions) (*Page[Run], error) {
	var p Page[Run]
	if err := s.c.getJSON(ctx, idPath("/api/v1/environments/%d/runs", id), opts.values(), &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// OverlaysService lays Istio resources over an environment's baseline for
// a while, as a test does with Toxiproxy: /api/v1/environments/{id}/overlays.
type OverlaysService struct{ c *Client }

// Add lays the Istio resources in source (YAML or JSON) over environment
// envID's baseline at once, for ttl (at most an hour): they revert when
// it ends, when removed, or when the safety lever is engaged. It is
// refused (409) while a run or overlay holds the environment (Code busy)
// or the lever is engaged (Code lever); a bad ttl is a 422 at field ttl.
func (s *OverlaysService) Add(ctx context.Context, envID int64, ttl time.Duration, source []byte) (*Overlay, error) {
	body := struct {
		TTL    string `json:"ttl"`
		Source string `json:"source"`
	}{Source: string(source)}
	if ttl != 0 {
		body.TTL = ttl.String()
	}
	var o Overlay
	if err := s.c.postJSON(ctx, http.MethodPost, idPath("/api/v1/environments/%d/overlays", envID), body, &o); err != nil {
		return nil, err
	}
	return &o, nil
}

// List returns the overlay in force on the environment: none or one.
func (s *OverlaysService) List(ctx context.Context, envID int64) ([]Overlay, error) {
	var out struct {
		Items []Overlay `json:"items"`
	}
	if err := s.c.getJSON(ctx, idPath("/api/v1/environments/%d/overlays", envID), nil, &out); err != nil {
		return nil, err
	}
	return out.Items, nil
}

// Remove ends overlay id on the environment now: its baseline is back. An
// overlay no longer in force is a 404.
func (s *OverlaysService) Remove(ctx context.Context, envID, id int64) error {
	return s.c.do(ctx, request{method: http.MethodDelete, path: idPath("/api/v1/environments/%d/overlays/%d", envID, id)}, nil)
}
