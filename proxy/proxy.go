// Package proxy is Faultline's L7 data plane: an HTTP/1.1 routing proxy
// that does to traffic what Envoy does under Istio, from the VirtualService,
// DestinationRule, Gateway and ServiceEntry resources of an experiment.
// docs/istio.md is the reference for every behaviour: fields, defaults,
// status codes, response flags, headers and counters, each with the Envoy
// or Istio source it follows.
//
// An experiment compiles once (Compile) into an immutable Table of
// listeners, virtual hosts, routes and clusters; a Proxy serves one table
// at a time and swaps it atomically (Apply). The "mesh" listener plays the
// sidecar: it routes by Host, or by the absolute URI of a client that uses
// it as HTTP_PROXY, and tunnels CONNECT (tunnel.go). Each Gateway server
// port gets its own listener, named "<gateway>:<port>"; a service listener
// ("svc:<host>:<port>", Options.ServiceListeners) routes with the mesh's
// table as if every request had been sent to its service. A Gateway
// server (or a service listener's port) whose protocol is TCP-like, or
// TLS passed through, gets a listener that proxies connections as Envoy's
// tcp_proxy does, by tcp routes or by the SNI of the ClientHello through
// tls routes (tcp.go); mesh tunnels to such ports are routed the same
// way. A Proxy can
// outlive many Applies (an environment's baseline and the overlays of its
// runs): Stats.Sub gives a run the counters of its window, and the
// optional service graph (graph.go) who calls whom, how often, how badly
// and how slowly. Per-request state is pooled, counters are atomics,
// random draws come from a per-request generator derived from
// Options.Seed, and nothing on the request path takes a shared lock (the
// access log, when enabled, is the one exception: a buffered writer behind
// a mutex; the service graph, when enabled, registers request ids under
// one of 64 striped locks).
//
// DestinationRules shape each cluster (one per host, port and subset, as
// Envoy's outbound|port|subset|host): its policy is merged per block from
// the DR level, port-level settings and the subset (policy.go); its
// connectionPool becomes circuit breakers and a sized keep-alive pool
// (breaker.go, upstream.go, upstream_pool.go; requests go out over
// HTTP/1.1 on the goroutine that serves them, upstream_http1.go), its
// loadBalancer a picker, consistent hashes included (hash.go), its
// outlierDetection a per-endpoint detector whose interval sweeps run
// lazily against a monotonic clock (outlier.go). A cluster whose
// endpoints and policy an Apply leaves unchanged keeps its connections,
// breakers and ejections, as Envoy keeps an unchanged cluster.
//
// Where Faultline departs from Envoy it does so on purpose, and
// docs/istio.md lists every case under "Where Faultline differs from
// Envoy". The main ones: unknown hosts are refused as REGISTRY_ONLY does
// and every dial target passes Options.AllowTarget, so the proxy never
// dials an address the experiment did not name; circuit-breaker limits
// are exact rather than per worker; request bodies are buffered (up to
// 1 MiB) before the first attempt when a retry or a shadow may resend
// them; HTTP/2 and protocol upgrades other than WebSocket are not
// implemented. A Gateway
// server in SIMPLE or MUTUAL terminates TLS with certificates from
// Options.Credentials or Options.CA (tls_gateway.go), and a
// DestinationRule's SIMPLE or MUTUAL tls originates it to the endpoints
// (upstream_tls.go).
package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faultline/faultline/proxy/inbound"
	"github.com/faultline/faultline/scenarios"
)

// Options configure a Proxy and the compilation of its tables.
type Options struct {
	// Seed drives every random decision (fault draws, weighted routing,
	// RANDOM and LEAST_REQUEST picks, retry back-off, mirror draws). Requests arriving in the same order
	// on a listener draw the same values under the same seed. Zero is a
	// seed like any other: the engine picks a fresh one when the
	// experiment names none.
	Seed int64
	// AccessLog receives Istio's TEXT access log, one line per request.
	// Nil disables it at no cost.
	AccessLog io.Writer
	// AllowTarget approves every upstream address ("host:port") when a
	// table compiles; a refusal is a compile error naming the address. Nil
	// allows loopback only (127.0.0.0/8, ::1, localhost).
	AllowTarget func(hostport string) error
	// Logger receives compile warnings and server errors. Nil discards.
	Logger *slog.Logger
	// DrainTimeout bounds how long Close waits for requests in flight
	// before closing their connections. Zero means 5s.
	DrainTimeout time.Duration
	// MaxMirrorsInFlight bounds the shadow (mirrored) requests in flight
	// at once; a shadow over the limit is dropped and counted
	// (Totals.MirrorsDropped), so a slow mirror target never delays
	// clients nor grows goroutines without bound. Zero means 1024.
	MaxMirrorsInFlight int
	// ServiceListeners are listeners that stand for one service each: a
	// request arriving on one is routed by the mesh's table as if it had
	// been sent to that service, whatever Host or absolute URI the client
	// used (clients that ignore HTTP_PROXY); a CONNECT tunnels to its own
	// target, as on the mesh. Start opens them; Apply leaves them be. Nil
	// opens none.
	ServiceListeners []ServiceListener
	// ServiceGraph turns on the service graph (Proxy.Graph): per-edge
	// counters, rates and latency percentiles between the services that
	// call each other through the proxy. Off, it costs nothing per request.
	ServiceGraph bool
	// Credentials is the credentials directory: the certificates and keys
	// that Gateway servers and DestinationRules name by credentialName or
	// by file path (layout in tls_credentials.go, docs/istio.md). Nil: a
	// terminating Gateway server presents a certificate of CA, and TLS
	// origination that names credentials is a compile error.
	Credentials fs.FS
	// CA signs the certificates of terminating Gateway servers when
	// Credentials is nil; the run's load trusts its root. Nil makes one
	// per compilation.
	CA *CA

	// now is outlier detection's monotonic clock; nil means the process's
	// (cluster_stats.go). Tests set it to advance time without sleeping.
	now func() time.Duration
}

// ServiceListener asks for a listener that stands for one service: every
// request it receives is routed by the mesh's table with its Host set to
// "<Host>:<Port>".
type ServiceListener struct {
	// Host is the service's host as bound in the experiment's
	// spec.services ("ratings").
	Host string
	// Port is the service port (9080).
	Port uint32
	// Addr is the address to listen on ("127.0.0.1:19080"); empty means
	// 127.0.0.1:0.
	Addr string
}

// Listener kinds (Listener.Kind).
const (
	KindMesh    = "mesh"
	KindGateway = "gateway"
	KindService = "service"
)

// Listener describes an open listener.
type Listener struct {
	// Name is "mesh", "<gateway>:<port>", or "svc:<host>:<port>" for a
	// service listener.
	Name string `json:"name"`
	// Kind is KindMesh, KindGateway or KindService.
	Kind string `json:"kind"`
	// Gateway is the Gateway's name; empty for the other kinds.
	Gateway string `json:"gateway,omitempty"`
	// Host is a service listener's service host; empty for the other
	// kinds.
	Host string `json:"host,omitempty"`
	// Port is the Gateway server port, or a service listener's service
	// port; 0 for the mesh.
	Port uint32 `json:"port,omitempty"`
	// Protocol is ProtocolHTTP, or ProtocolTCP / ProtocolTLS for a
	// listener that proxies connections (tcp.go): a Gateway server or a
	// service port whose protocol is TCP-like, or TLS passed through.
	Protocol string `json:"protocol"`
	// Addr is the address the listener accepts on.
	Addr string `json:"addr"`
}

// serviceListenerName names the listener of a service port.
func serviceListenerName(host string, port uint32) string {
	return "svc:" + host + ":" + strconv.FormatUint(uint64(port), 10)
}

// kindRank orders listeners by kind: mesh, gateways, services.
func kindRank(kind string) int {
	switch kind {
	case KindMesh:
		return 0
	case KindGateway:
		return 1
	}
	return 2
}

// Proxy serves route tables on its listeners.
//
// Per request, outer to inner (docs/istio.md, The request pipeline):
//
//	listener ──► vhost by Host ──► first matching route ──┬─► redirect | directResponse
//	                                                      └─► fault (delay, then abort)
//	  ──► router: weighted destination ──► cluster (503 NC if missing)
//	  ──► mirror draw; request body buffered for replay (≤ 1 MiB)
//	  ──► route timeout (one deadline over all attempts and back-off; 504 UT)
//	  ──► retry loop: per attempt, per-try timeout ─► pick endpoint (LB,
//	      previous hosts avoided on retry unless consistent hashing; 503
//	      UH if none, ejected endpoints excluded) ─► circuit breaker
//	      (pending queue; 503 UO on overflow, never retried) ─► shadows fire
//	      with the first attempt ─► transport (per-cluster keep-alive pool
//	      sized by connectionPool; 503 UF on connect failure) ─► outcome to
//	      outlier detection ─► retryOn decides: relay, local reply, or back
//	      off and retry (within http.maxRetries outstanding; else UO)
type Proxy struct {
	opts   Options
	logger *slog.Logger
	seed   uint64
	reg    *registry
	table  atomic.Pointer[Table]
	log    *accessLogger
	// shadows are the mirrored requests in flight (mirror.go).
	shadows *shadows
	// tunnels are the CONNECT tunnels open (tunnel.go).
	tunnels *tunnels
	// graph is the service graph (graph.go); nil when
	// Options.ServiceGraph is off.
	graph *graph

	mu           sync.Mutex // control plane only: listeners, Apply, Close
	listeners    []*openListener
	gatewayAddrs map[string]string
	handlers     map[string]*listenerHandler
	closed       bool
	closeDone    chan struct{} // closed when the first Close has returned
	closeErr     error         // what the first Close returned, once closeDone is closed
	stopCtx      func() bool
	serving      sync.WaitGroup
}

type openListener struct {
	Listener
	ln  net.Listener
	srv *inbound.Server // nil on a TCP or TLS listener
	l4  *l4Handler      // nil on an HTTP listener
}

func newProxy(opts Options) *Proxy {
	p := &Proxy{
		opts:      opts,
		logger:    opts.logger(),
		seed:      uint64(opts.Seed),
		reg:       newRegistry(),
		handlers:  map[string]*listenerHandler{},
		shadows:   newShadows(opts.MaxMirrorsInFlight),
		tunnels:   newTunnels(),
		closeDone: make(chan struct{}),
	}
	if opts.ServiceGraph {
		p.graph = newGraph(opts.clock())
		p.reg.graph = p.graph
	}
	if opts.AccessLog != nil {
		p.log = newAccessLogger(opts.AccessLog)
	}
	return p
}

// Start compiles doc, opens its listeners and serves until Close or until
// ctx is done. The mesh listens on meshAddr ("127.0.0.1:0" typically); an
// empty meshAddr opens no mesh socket, and the mesh still serves in
// process (Handler("mesh")) and for the service listeners. Each Gateway
// server port listens on gatewayAddrs["<gateway>:<port>"] or
// gatewayAddrs["<gateway>"] when given, else on 127.0.0.1:0; each
// Options.ServiceListeners entry on its Addr. A listener that cannot open
// fails Start with an error naming it and its address, and leaves nothing
// open.
func Start(ctx context.Context, doc *scenarios.Document, meshAddr string, gatewayAddrs map[string]string, opts Options) (*Proxy, error) {
	if doc == nil {
		return nil, errors.New("proxy: start: no document")
	}
	services, err := serviceListenerSpecs(opts.ServiceListeners)
	if err != nil {
		return nil, err
	}
	p := newProxy(opts)
	p.gatewayAddrs = gatewayAddrs
	var opened []*openListener
	abort := func(err error) (*Proxy, error) {
		for _, o := range opened {
			o.ln.Close()
		}
		p.tunnels.close()
		return nil, err
	}
	for _, spec := range listenerSpecs(doc) {
		addr := meshAddr
		if spec.Name != meshListener {
			addr = p.gatewayListenAddr(spec.Listener)
		} else if meshAddr == "" {
			continue
		}
		ol, err := p.open(spec.Listener, addr)
		if err != nil {
			return abort(err)
		}
		opened = append(opened, ol)
	}
	for _, s := range services {
		s.Protocol = servicePortProtocol(doc, s.Host, s.Port)
		ol, err := p.open(s.Listener, s.addr)
		if err != nil {
			return abort(err)
		}
		opened = append(opened, ol)
	}
	p.listeners = opened
	t, err := compile(doc, opts, p.gatewayAddrLocked, p.reg)
	if err != nil {
		return abort(err)
	}
	p.table.Store(t)
	for _, o := range opened {
		p.startServing(o)
	}
	// Under mu: with ctx done already, Close runs at once, beside Start.
	p.mu.Lock()
	p.stopCtx = context.AfterFunc(ctx, func() { _ = p.Close() })
	p.mu.Unlock()
	return p, nil
}

// serviceListenerSpec is a service listener to open, and its address.
type serviceListenerSpec struct {
	Listener
	addr string
}

// serviceListenerSpecs checks Options.ServiceListeners: each names a host
// and a port, at most once.
func serviceListenerSpecs(in []ServiceListener) ([]serviceListenerSpec, error) {
	out := make([]serviceListenerSpec, 0, len(in))
	seen := map[string]bool{}
	for i, sl := range in {
		host := strings.ToLower(sl.Host)
		if host == "" || sl.Port == 0 || sl.Port > 65535 {
			return nil, fmt.Errorf("proxy: start: service listener %d (%q, port %d): needs a host and a port 1-65535", i, sl.Host, sl.Port)
		}
		name := serviceListenerName(host, sl.Port)
		if seen[name] {
			return nil, fmt.Errorf("proxy: start: service listener %s is listed twice", name)
		}
		seen[name] = true
		addr := sl.Addr
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		out = append(out, serviceListenerSpec{Listener: Listener{Name: name, Kind: KindService, Host: host, Port: sl.Port}, addr: addr})
	}
	return out, nil
}

func (p *Proxy) gatewayListenAddr(l Listener) string {
	if a, ok := p.gatewayAddrs[l.Name]; ok {
		return a
	}
	if a, ok := p.gatewayAddrs[l.Gateway]; ok {
		return a
	}
	return "127.0.0.1:0"
}

// open listens for one listener; serving starts with serve.
func (p *Proxy) open(l Listener, addr string) (*openListener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("proxy: listen %s on %s: %w", l.Name, addr, err)
	}
	l.Addr = ln.Addr().String()
	if l.Protocol == "" {
		l.Protocol = ProtocolHTTP
	}
	if !servesHTTP(l.Protocol) {
		return &openListener{Listener: l, ln: ln, l4: p.l4Handler(l)}, nil
	}
	srv := &inbound.Server{
		Handler:   p.handler(l),
		ConnState: p.reg.connState,
		Logger:    p.logger,
	}
	if l.Protocol == ProtocolHTTPS {
		cfg := p.tlsConfig(l.Name)
		srv.Handler = p.xfcc(l.Name, srv.Handler)
		ln = tls.NewListener(ln, cfg)
	}
	return &openListener{Listener: l, ln: ln, srv: srv}, nil
}

func (p *Proxy) startServing(o *openListener) {
	p.serving.Add(1)
	if o.l4 != nil {
		go p.serveL4(o)
		return
	}
	go func() {
		defer p.serving.Done()
		if err := o.srv.Serve(o.ln); err != nil && !errors.Is(err, inbound.ErrServerClosed) {
			p.logger.Error("proxy: listener stopped", "listener", o.Name, "err", err)
		}
	}()
}

// handler returns the listener's handler, one per name for the Proxy's
// life. The mesh and service listeners tunnel CONNECT; a service listener
// serves from the mesh's table with its own counters.
func (p *Proxy) handler(l Listener) *listenerHandler {
	if h, ok := p.handlers[l.Name]; ok {
		return h
	}
	stats, id := p.reg.listener(l.Name)
	h := &listenerHandler{p: p, id: id, salt: hashString(l.Name), stats: stats}
	switch l.Kind {
	case KindMesh:
		h.tunnels = true
	case KindService:
		_, h.id = p.reg.listener(meshListener)
		h.authority = l.Host + ":" + strconv.FormatUint(uint64(l.Port), 10)
		h.tunnels = true
	}
	p.handlers[l.Name] = h
	return h
}

// Handler serves the named listener ("mesh", "<gateway>:<port>" or
// "svc:<host>:<port>") in process, from the current table, with the same
// pipeline and counters as its socket. A name the table lacks answers 404
// (NR).
func (p *Proxy) Handler(listener string) http.Handler {
	p.mu.Lock()
	defer p.mu.Unlock()
	kind := KindGateway
	if listener == meshListener {
		kind = KindMesh
	}
	return p.handler(Listener{Name: listener, Kind: kind})
}

// Listeners lists the open listeners: the mesh first, then the gateways,
// then the service listeners.
func (p *Proxy) Listeners() []Listener {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Listener, len(p.listeners))
	for i, o := range p.listeners {
		out[i] = o.Listener
	}
	slices.SortStableFunc(out, func(a, b Listener) int { return kindRank(a.Kind) - kindRank(b.Kind) })
	return out
}

// MeshAddr is the mesh listener's address; "" when Start opened no mesh
// socket.
func (p *Proxy) MeshAddr() string {
	a, _ := p.listenerAddr(meshListener)
	return a
}

// GatewayAddr is the address of a Gateway server port's listener.
func (p *Proxy) GatewayAddr(gateway string, port uint32) (string, bool) {
	return p.listenerAddr(gateway + ":" + strconv.FormatUint(uint64(port), 10))
}

// ServiceAddr is the address of the service listener of host and port.
func (p *Proxy) ServiceAddr(host string, port uint32) (string, bool) {
	return p.listenerAddr(serviceListenerName(strings.ToLower(host), port))
}

func (p *Proxy) listenerAddr(name string) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addrLocked(name)
}

func (p *Proxy) addrLocked(name string) (string, bool) {
	if o := p.openLocked(name); o != nil {
		return o.Addr, true
	}
	return "", false
}

func (p *Proxy) openLocked(name string) *openListener {
	for _, o := range p.listeners {
		if o.Name == name {
			return o
		}
	}
	return nil
}

func (p *Proxy) gatewayAddrLocked(gateway string, port uint32) (string, bool) {
	return p.addrLocked(gateway + ":" + strconv.FormatUint(uint64(port), 10))
}

// Apply compiles doc and swaps it in atomically. Requests in flight finish
// on the table they started with; on error the old table keeps serving.
// Gateway server ports new in doc get listeners; the mesh and service
// listeners stay as Start opened them.
func (p *Proxy) Apply(doc *scenarios.Document) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	if doc == nil {
		return errors.New("proxy: apply: no document")
	}
	var added []*openListener
	for _, spec := range listenerSpecs(doc) {
		if spec.Name == meshListener {
			continue
		}
		if o := p.openLocked(spec.Name); o != nil {
			if o.Protocol != spec.Protocol {
				p.dropLocked(added)
				return fmt.Errorf("proxy: apply: listener %s is open for %s and cannot turn %s: start a new proxy", spec.Name, o.Protocol, spec.Protocol)
			}
			continue
		}
		ol, err := p.open(spec.Listener, p.gatewayListenAddr(spec.Listener))
		if err != nil {
			p.dropLocked(added)
			return err
		}
		added = append(added, ol)
		p.listeners = append(p.listeners, ol)
	}
	t, err := compile(doc, p.opts, p.gatewayAddrLocked, p.reg)
	if err != nil {
		p.dropLocked(added)
		return err
	}
	p.table.Store(t)
	for _, o := range added {
		p.startServing(o)
	}
	return nil
}

func (p *Proxy) dropLocked(added []*openListener) {
	for _, o := range added {
		o.ln.Close()
		p.listeners = slices.DeleteFunc(p.listeners, func(x *openListener) bool { return x == o })
	}
}

// Table returns the table being served.
func (p *Proxy) Table() *Table { return p.table.Load() }

// Stats returns a snapshot of every counter.
func (p *Proxy) Stats() Stats { return p.reg.snapshot() }

// Close ends the CONNECT tunnels, stops the listeners, lets requests in
// flight finish for up to Options.DrainTimeout, then closes what remains,
// waits for handlers to
// return, cancels the shadow requests still in flight and waits for them,
// closes idle upstream connections and flushes the access log.
// It is safe to call more than once, and from several goroutines: every
// call returns once all of that is done (the end of Start's ctx calls it
// too, and a caller's own Close must not return before that one has
// flushed the log).
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.closeDone
		return p.closeErr
	}
	p.closed = true
	listeners := slices.Clone(p.listeners)
	stopCtx := p.stopCtx
	p.mu.Unlock()
	if stopCtx != nil {
		stopCtx()
	}
	// A tunnel has no end of its own to wait for.
	p.tunnels.close()
	grace := p.opts.DrainTimeout
	if grace <= 0 {
		grace = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	var wg sync.WaitGroup
	var errs []error
	var errMu sync.Mutex
	for _, o := range listeners {
		if o.srv == nil {
			// A TCP or TLS listener: its connections ended with the
			// tunnels above.
			o.ln.Close()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := o.srv.Shutdown(ctx); err != nil {
				// Drain timed out: cut the remaining connections, which
				// cancels their requests.
				if cerr := o.srv.Close(); cerr != nil {
					errMu.Lock()
					errs = append(errs, cerr)
					errMu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	p.serving.Wait()
	p.waitIdle(2 * time.Second)
	p.shadows.close(2 * time.Second)
	p.reg.closeIdle()
	if p.log != nil {
		p.log.close()
	}
	p.closeErr = errors.Join(errs...)
	close(p.closeDone)
	return p.closeErr
}

// waitIdle waits, bounded, for handlers still running (cancelled requests
// and in-process Handler callers) to return.
func (p *Proxy) waitIdle(limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		busy := false
		p.reg.mu.Lock()
		for _, l := range p.reg.listeners {
			if l.active.Load() > 0 {
				busy = true
			}
		}
		p.reg.mu.Unlock()
		if !busy {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Interface guards.
var _ http.Handler = (*listenerHandler)(nil)
