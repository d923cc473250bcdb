package environments

import (
	"context"
	"fmt"
	"time"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/errkind"
	"github.com/faultline/faultline/server/safety"
)

// Overlay is a set of Istio resources laid over an environment's baseline
// for a while (what a test does with Toxiproxy): it ends when its TTL
// does, when it is deleted, or when the safety lever is engaged.
type Overlay struct {
	ID          int64  `json:"id"`
	Environment string `json:"environment"`
	// Resources name what the overlay holds ("VirtualService reviews").
	Resources []string      `json:"resources"`
	Source    string        `json:"source"`
	TTL       time.Duration `json:"-"`
	TTLMs     int64         `json:"ttlMs"`
	CreatedAt time.Time     `json:"createdAt"`
	ExpiresAt time.Time     `json:"expiresAt"`
	// RemainingMs is the time left by the server's clock when the overlay
	// was read, so a page counts down right whatever its own clock says.
	RemainingMs int64 `json:"remainingMs"`
}

// EndedOverlay is the last overlay of an environment that ended, and why.
type EndedOverlay struct {
	Overlay
	EndedAt time.Time `json:"endedAt"`
	Reason  string    `json:"reason"`
}

// TTLError is a refused overlay TTL.
type TTLError struct{ Message string }

func (e *TTLError) Error() string { return "ttl: " + e.Message }

// FieldPath names the field at fault.
func (e *TTLError) FieldPath() string { return "ttl" }

// AddOverlay lays the Istio resources of src over environment id's
// baseline at once, for ttl: a *scenarios.InvalidError for a bad stream,
// a *TTLError for a TTL out of (0, MaxOverlayTTL], a *BusyError while a
// run or another overlay holds the environment, a *safety.LeverError while the
// lever is engaged.
func (m *Manager) AddOverlay(envID int64, src []byte, ttl time.Duration) (*Overlay, error) {
	if ttl <= 0 || ttl > m.cfg.MaxOverlayTTL {
		return nil, &TTLError{Message: fmt.Sprintf("is required, between 1ms and %s (an overlay always ends), not %s", m.cfg.MaxOverlayTTL, ttl)}
	}
	m.mu.Lock()
	lever := m.lever
	p := m.planes[envID]
	m.mu.Unlock()
	if lever.Engaged {
		return nil, &safety.LeverError{Reason: lever.Reason, Refused: "no overlay is applied"}
	}
	if p == nil {
		return nil, fmt.Errorf("environments: %w: no environment %d", errkind.NotFound, envID)
	}
	base, v := p.baseline()
	if base == nil {
		return nil, fmt.Errorf("environments: %w: environment %d has no baseline", errkind.NotFound, envID)
	}
	if base.Environment.IsMesh() {
		return nil, meshOverlayError(v.name)
	}
	doc, err := scenarios.ParseOverlay(src, base)
	if err != nil {
		return nil, err
	}
	now := m.cfg.Now().UTC()
	m.mu.Lock()
	m.nextOv++
	id := m.nextOv
	m.mu.Unlock()
	ov := &Overlay{ID: id, Environment: v.name, Resources: resourceNames(doc, base), Source: string(src), TTL: ttl, TTLMs: ttl.Milliseconds(),
		CreatedAt: now, ExpiresAt: now.Add(ttl), RemainingMs: ttl.Milliseconds()}
	lease, err := m.Acquire(context.Background(), v.name, Holder{Kind: HolderOverlay, Overlay: ov}, false)
	if err != nil {
		return nil, err
	}
	if err := lease.Apply(doc); err != nil {
		lease.Release()
		return nil, err
	}
	p.mu.Lock()
	p.overlay = lease
	p.ovTimer = time.AfterFunc(ttl, func() { p.endOverlay(id, "its TTL ended") })
	p.mu.Unlock()
	m.log.Info("overlay applied", "environment", v.name, "overlay", id, "ttl", ttl, "resources", ov.Resources)
	return ov, nil
}

// RemoveOverlay ends environment envID's overlay ovID now; one that is
// not in force (ended already, or never was) is an errkind.NotFound.
func (m *Manager) RemoveOverlay(envID, ovID int64) error {
	p := m.byID(envID)
	if p == nil || !p.endOverlay(ovID, "it was deleted") {
		return fmt.Errorf("environments: %w: no overlay %d in force on environment %d", errkind.NotFound, ovID, envID)
	}
	return nil
}

// endOverlay ends overlay id if it is the one in force, and reports
// whether it was.
func (p *plane) endOverlay(id int64, reason string) bool {
	p.mu.Lock()
	h := p.holder
	if h == nil || h.Kind != HolderOverlay || h.Overlay.ID != id || p.overlay == nil {
		p.mu.Unlock()
		return false
	}
	lease := p.overlay
	p.overlay = nil
	if p.ovTimer != nil {
		p.ovTimer.Stop()
		p.ovTimer = nil
	}
	p.lastEnded = &EndedOverlay{Overlay: *h.Overlay, EndedAt: p.m.cfg.Now().UTC(), Reason: reason}
	name := p.v.name
	p.mu.Unlock()
	lease.Release()
	p.m.log.Info("overlay ended", "environment", name, "overlay", id, "reason", reason)
	return true
}

// resourceNames lists the resources of doc that are not the baseline's.
func resourceNames(doc, base *scenarios.Document) []string {
	inBase := map[any]bool{}
	for _, x := range base.VirtualServices {
		inBase[x] = true
	}
	for _, x := range base.DestinationRules {
		inBase[x] = true
	}
	for _, x := range base.Gateways {
		inBase[x] = true
	}
	for _, x := range base.ServiceEntries {
		inBase[x] = true
	}
	var out []string
	add := func(res any, kind, name string) {
		if !inBase[res] {
			out = append(out, kind+" "+name)
		}
	}
	for _, x := range doc.VirtualServices {
		add(x, "VirtualService", x.Metadata.Name)
	}
	for _, x := range doc.DestinationRules {
		add(x, "DestinationRule", x.Metadata.Name)
	}
	for _, x := range doc.Gateways {
		add(x, "Gateway", x.Metadata.Name)
	}
	for _, x := range doc.ServiceEntries {
		add(x, "ServiceEntry", x.Metadata.Name)
	}
	return out
}
