package environments

import (
	"fmt"
	"strings"
	"sync"

	"github.com/faultline/faultline/proxy"
	"github.com/faultline/faultline/scenarios"
)

// Lease is a run's (or an overlay's) hold on an environment's data plane:
// Apply lays a document over the baseline, Revert puts the baseline back,
// Release does both and hands the environment to the next in the queue.
type Lease struct {
	p      *plane
	holder *Holder
	once   sync.Once
}

// Environment is the environment's name.
func (l *Lease) Environment() string { return l.p.name() }

// Baseline returns the baseline in force and its stored version; an
// experiment on the environment is parsed on it (scenarios.ParseOn).
func (l *Lease) Baseline() (*scenarios.Document, int) {
	doc, v := l.p.baseline()
	return doc, v.number
}

// Proxy is the environment's data plane, for its counters.
func (l *Lease) Proxy() (*proxy.Proxy, error) {
	p := l.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.px == nil {
		return nil, p.notListening()
	}
	return p.px, nil
}

func (p *plane) notListening() error {
	if p.err != nil {
		return fmt.Errorf("environment %s is not listening: %w", p.v.name, p.err)
	}
	return fmt.Errorf("environment %s is not listening", p.v.name)
}

// Apply lays doc (an experiment parsed on the baseline, or an overlay)
// over the environment, atomically: requests in flight finish on the
// table they started with.
func (l *Lease) Apply(doc *scenarios.Document) error {
	p := l.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.px == nil {
		return p.notListening()
	}
	if err := p.px.Apply(doc); err != nil {
		return fmt.Errorf("environment %s: apply: %w", p.v.name, err)
	}
	p.applied = true
	return nil
}

// Revert puts the baseline back in force. It is safe to call more than
// once, and Release calls it too.
func (l *Lease) Revert() { l.p.revert() }

// Release reverts to the baseline, applies an update of the environment
// that waited for the holder, and lets the next run or overlay have the
// environment. It is safe to call more than once.
func (l *Lease) Release() {
	l.once.Do(l.p.release)
}

// Entry returns the address a run's load enters the environment through:
// the listener of the Gateway via names on port, or — for the mesh — the
// egress listener, else the listener of the load's host itself.
func (l *Lease) Entry(via, host string, port uint32) (string, error) {
	p := l.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.px == nil {
		return "", p.notListening()
	}
	if via != "" && via != scenarios.MeshGateway {
		if a, ok := p.px.GatewayAddr(via, port); ok {
			return a, nil
		}
		return "", fmt.Errorf("environment %s: gateway %s has no listener on port %d", p.v.name, via, port)
	}
	for _, ln := range p.px.Listeners() {
		if ln.Kind == proxy.KindMesh {
			return ln.Addr, nil
		}
	}
	for _, ln := range p.px.Listeners() {
		if ln.Kind == proxy.KindService && ln.Port == port && scenarios.SameHost(ln.Host, host) {
			return ln.Addr, nil
		}
	}
	return "", fmt.Errorf("environment %s has no egress listener and no listener of %s: give it spec.egress, or a listen address for %s",
		p.v.name, strings.TrimSpace(fmt.Sprintf("%s:%d", host, port)), host)
}
