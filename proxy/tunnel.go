package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// CONNECT on the mesh and service listeners: what a client does for an
// https:// URL through HTTP_PROXY. The proxy resolves the target, dials it
// and passes the bytes through untouched, as a sidecar passes TLS it
// cannot read; no L7 policy applies inside a tunnel.
//
//	CONNECT host:port ─┬─► a service port of the table (any name the mesh accepts) ─► one of its endpoints
//	                   │    (the balancer of its cluster, ejected endpoints skipped; 503 UH if none)
//	                   ├─► else the literal host:port, if Options.AllowTarget approves it (nil: loopback)
//	                   └─► else 403: not on the allow-list
//	  ─► dial (503 UF on failure) ─► 200 Connection Established ─► copy both ways
//
// A target whose port tcp or tls routes apply to (tcp.go) answers 200 at
// once and is then routed as a TCP connection: by its SNI, peeked, for a
// TLS port; a failure then closes the connection, as Envoy's tcp_proxy
// does.
//
// A side that ends its stream (EOF) is half-closed towards the other; the
// tunnel closes when both directions ended, on any error, or at Close.

// passthroughCluster is what the access log names as the cluster of a
// tunnel to a literal address (Envoy's name for ALLOW_ANY traffic).
const passthroughCluster = "PassthroughCluster"

// connectEstablished is the answer to a CONNECT whose tunnel is open.
var connectEstablished = []byte("HTTP/1.1 200 Connection Established\r\n\r\n")

// connectTarget is a service port a CONNECT may name.
type connectTarget struct {
	// cluster names the port's cluster; when the table has it, its
	// balancer and outlier detection choose the endpoint.
	cluster string
	addrs   []string
	// port is the service port; l4, when set, routes the tunnel by the
	// tcp or tls routes that apply to it (tcp.go).
	port uint32
	l4   *l4Table
}

// connectTargets indexes the service ports with endpoints by every name
// the mesh accepts for them ("ratings:9080",
// "ratings.default.svc.cluster.local:9080"…). Ports bound to a gateway
// are left out: a tunnel goes to endpoints only.
func (b *builder) connectTargets() map[string]*connectTarget {
	out := map[string]*connectTarget{}
	for _, fq := range b.svcOrder {
		svc := b.services[fq]
		for _, port := range svc.ports {
			eps := svc.eps[port]
			if len(eps) == 0 {
				continue
			}
			ct := &connectTarget{cluster: clusterName(port, "", fq), port: port, l4: b.meshL4(svc, port)}
			for _, ep := range eps {
				ct.addrs = append(ct.addrs, ep.addr)
			}
			suffix := ":" + strconv.FormatUint(uint64(port), 10)
			for _, d := range meshDomains(fq) {
				if _, ok := out[d+suffix]; !ok {
					out[d+suffix] = ct
				}
			}
		}
	}
	return out
}

// tunnels are the open tunnels of a Proxy, so that Close can end them.
type tunnels struct {
	dialer net.Dialer
	// stop is cancelled by close: dials in progress give up.
	stop   context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	open   map[*tunnel]struct{}
	closed bool
}

// tunnel is one open tunnel, or one connection of a TCP or TLS listener:
// the client's connection and the target's (nil until dialled).
type tunnel struct {
	down, up net.Conn
}

func newTunnels() *tunnels {
	ctx, cancel := context.WithCancel(context.Background())
	return &tunnels{
		dialer: net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second},
		stop:   ctx,
		cancel: cancel,
		open:   map[*tunnel]struct{}{},
	}
}

// add registers t; false once the tunnels are closed.
func (ts *tunnels) add(t *tunnel) bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.closed {
		return false
	}
	ts.open[t] = struct{}{}
	return true
}

func (ts *tunnels) remove(t *tunnel) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	delete(ts.open, t)
}

// close ends every tunnel and refuses new ones. The handlers of the
// tunnels return once their copies see the closed connections.
func (ts *tunnels) close() {
	ts.cancel()
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.closed = true
	for t := range ts.open {
		t.down.Close()
		if t.up != nil {
			t.up.Close()
		}
	}
}

// attach gives t, registered before its upstream was dialled, its upstream
// connection; false once the tunnels are closed.
func (ts *tunnels) attach(t *tunnel, up net.Conn) bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.closed {
		return false
	}
	t.up = up
	return true
}

// tunnel serves a CONNECT on the mesh or a service listener. It counts as
// a request of the listener (active while the tunnel is open) and writes
// one access-log line when it ends.
func (h *listenerHandler) tunnel(w http.ResponseWriter, r *http.Request) {
	p := h.p
	x := h.newExchange(w, r)
	x.rawPath = "-" // a CONNECT has no :path

	if !p.openTunnel(x) {
		p.reg.tunnels.refused.Add(1)
	}

	if c := x.code / 100; c >= 1 && c <= 5 {
		h.stats.byClass[c].Add(1)
	}
	p.reg.countFlags(x.flags)
	if p.log != nil {
		p.log.write(x)
	}
	h.stats.active.Add(-1) // last, as in ServeHTTP
	x.recycle()
}

// openTunnel resolves, dials and runs the tunnel of x, or answers why not.
// It reports whether the tunnel opened; when it did, it returns once the
// tunnel has closed.
func (p *Proxy) openTunnel(x *exchange) bool {
	tbl := p.table.Load()
	target := strings.ToLower(x.r.Host)
	if ct := tbl.connect[target]; ct != nil {
		if ct.l4 != nil {
			return p.tunnelL4(x, ct)
		}
	} else if _, ps, err := net.SplitHostPort(target); err == nil && len(tbl.meshTLS) > 0 {
		// A host the mesh does not know, on a port mesh tls routes
		// listen on: routed by SNI, as the sidecar's 0.0.0.0:<port>
		// listener routes it.
		port := parsePort(ps)
		tt := tbl.meshTLS[port]
		if tt == nil {
			tt = tbl.meshTLS[0]
		}
		if tt != nil {
			return p.tunnelL4(x, &connectTarget{port: port, l4: tt})
		}
	}
	addr, ok := p.tunnelTarget(x)
	if !ok {
		return false
	}
	hj, ok := x.w.(http.Hijacker)
	if !ok {
		x.localReply(http.StatusNotImplemented, "CONNECT needs a connection of its own: it cannot be served in process", "connect_not_hijackable")
		return false
	}
	ctx, cancel := context.WithTimeout(x.r.Context(), connectTimeout)
	stop := context.AfterFunc(p.tunnels.stop, cancel)
	up, err := p.tunnels.dialer.DialContext(ctx, "tcp", addr)
	stop()
	cancel()
	if err != nil {
		x.connectFailed(&DialError{Addr: addr, Err: err})
		return false
	}
	down, brw, err := hj.Hijack()
	if err != nil {
		up.Close()
		x.localReply(http.StatusInternalServerError, "", "connect_hijack_failed")
		return false
	}
	t := &tunnel{down: down, up: up}
	if !p.tunnels.add(t) {
		// Close is under way: the client sees its connection close.
		down.Close()
		up.Close()
		x.flags |= flagLR
		x.details = "proxy_closed"
		return false
	}
	defer p.tunnels.remove(t)
	if p.log != nil {
		x.upstreamLocal = up.LocalAddr().String()
	}
	x.code, x.details, x.wroteHeader = http.StatusOK, "via_upstream", true
	p.reg.tunnels.opened.Add(1)
	p.reg.tunnels.active.Add(1)
	defer p.reg.tunnels.active.Add(-1)
	if _, err := down.Write(connectEstablished); err != nil {
		down.Close()
		up.Close()
		return true
	}
	x.bytesReceived, x.bytesSent = p.relay(t, brw.Reader)
	return true
}

// tunnelTarget resolves the CONNECT target to the address to dial, or
// answers 403 (not on the allow-list) or 503 (no healthy endpoint). The
// chosen endpoint and cluster go to the access log.
func (p *Proxy) tunnelTarget(x *exchange) (string, bool) {
	target := strings.ToLower(x.r.Host)
	t := p.table.Load()
	if ct := t.connect[target]; ct != nil {
		x.clusterName = ct.cluster
		if c := t.clusters[ct.cluster]; c != nil {
			ep := c.pickEndpoint(&x.rng)
			if ep == nil {
				c.stats.cxNoneHealthy.Add(1)
				x.flags |= flagUH
				x.localReply(http.StatusServiceUnavailable, bodyNoHealthyUpstream, "no_healthy_upstream")
				return "", false
			}
			x.ep = ep
			return ep.addr, true
		}
		x.ep = &endpoint{addr: ct.addrs[x.rng.below(uint64(len(ct.addrs)))]}
		return x.ep.addr, true
	}
	allow := p.opts.AllowTarget
	if allow == nil {
		allow = loopbackOnly
	}
	if err := allow(target); err != nil {
		x.localReply(http.StatusForbidden, "CONNECT "+target+" refused: the target is not on the allow-list ("+err.Error()+"); Faultline never dials an address the configuration did not name\n", "connect_target_not_allowed")
		return "", false
	}
	x.clusterName = passthroughCluster
	x.ep = &endpoint{addr: target}
	return target, true
}

// relay copies both ways until both directions ended, then closes both
// connections. client reads what the client sent, the bytes its
// connection had buffered first. It returns the bytes carried up (client
// to target) and down.
func (p *Proxy) relay(t *tunnel, client io.Reader) (up, down int64) {
	tc := &p.reg.tunnels
	done := make(chan struct{})
	go func() {
		defer close(done)
		var err error
		up, err = pump(t.up, client, &tc.bytesUp)
		endDirection(t, t.up, err)
	}()
	down, err := pump(t.down, t.up, &tc.bytesDown)
	endDirection(t, t.down, err)
	<-done
	t.down.Close()
	t.up.Close()
	return up, down
}

// endDirection ends one direction of a tunnel: a clean end (EOF) is passed
// on as a half-close of dst; an error closes the tunnel.
func endDirection(t *tunnel, dst net.Conn, err error) {
	if err == nil {
		if cw, ok := dst.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
			return
		}
	}
	t.down.Close()
	t.up.Close()
}

// pump copies src to dst through a pooled buffer, adding every chunk
// written to each of totals as it goes. A nil error means src ended (EOF).
func pump(dst io.Writer, src io.Reader, totals ...*atomic.Int64) (int64, error) {
	return pumpActive(dst, src, nil, totals...)
}

// pumpActive is pump that also stamps last (when not nil) with the time
// of every chunk written: a TCP connection's idle timer reads it.
func pumpActive(dst io.Writer, src io.Reader, last *atomic.Int64, totals ...*atomic.Int64) (int64, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var n int64
	for {
		nr, rerr := src.Read(buf)
		if nr > 0 {
			nw, werr := dst.Write(buf[:nr])
			n += int64(nw)
			for _, t := range totals {
				t.Add(int64(nw))
			}
			if last != nil {
				last.Store(time.Now().UnixNano())
			}
			if werr != nil {
				return n, werr
			}
		}
		if errors.Is(rerr, io.EOF) {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}
