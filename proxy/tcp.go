package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// The L4 data path: what Envoy's tcp_proxy does for a TCP listener, and
// with tls_inspector before it for a passed-through TLS one
// (docs/istio.md, TCP and TLS routes).
//
//	accept ─► [TLS: peek the ClientHello's SNI, never terminate it]
//	  ─► route: tcp routes in order (first match wins), tls routes by SNI
//	     (exact name, then the longest wildcard); none: close (NR, or UH
//	     to BlackHoleCluster on the mesh)
//	  ─► weighted destination (the connection's seeded draw) ─► cluster
//	     (none: close, NC) ─► maxConnections (full: close, UO,
//	     upstream_cx_overflow) ─► endpoint (none: close, UH)
//	  ─► dial within connectTimeout (failed: close, UF,URX)
//	  ─► copy both ways, each end's EOF passed on as a half-close
//	  ─► one access-log line when both directions ended
//
// A connection is closed rather than answered on every failure: there is
// no protocol to answer in.

// Listener protocols (Listener.Protocol).
const (
	ProtocolHTTP = "HTTP"
	// ProtocolTCP is a TCP listener: Envoy's tcp_proxy over tcp routes.
	ProtocolTCP = "TCP"
	// ProtocolTLS is a TLS listener in PASSTHROUGH: tls routes by the SNI
	// of the unterminated ClientHello.
	ProtocolTLS = "TLS"
)

// blackHoleCluster is where the mesh sends TCP traffic that matches no
// route under REGISTRY_ONLY: a cluster without endpoints (UH).
const blackHoleCluster = "BlackHoleCluster"

// sniTimeout bounds the wait for a ClientHello: Envoy's default
// listener_filters_timeout, after which the connection is closed.
const sniTimeout = 15 * time.Second

// l4Table routes the connections of a TCP or TLS listener, or of the
// mesh's tunnels to one service port.
type l4Table struct {
	// tls: read the SNI first and route by tls routes.
	tls    bool
	routes []*l4Route
	// fallback takes connections no route matches (the mesh's route to
	// the service's own cluster); nil closes them.
	fallback *l4Route
	// blackHole: a connection nothing matches goes to BlackHoleCluster
	// (UH), as on the mesh under REGISTRY_ONLY; else it is closed as NR.
	blackHole bool
}

// l4Route is one compiled tcp or tls route.
type l4Route struct {
	// matches are OR'ed; none matches every connection.
	matches []l4Match
	weighted
}

// l4Match is one match block: port, destination subnets, the caller's
// sourceLabels and, for TLS, server names, AND'ed.
type l4Match struct {
	port    uint32         // 0: any
	subnets []netip.Prefix // the connection's local address; empty: any
	sni     []string       // exact names and "*.suffix" wildcards; TLS only
	source  *sourceMatch   // nil: any caller (source_labels.go)
}

// holds reports whether the block holds for a connection to port,
// accepted on local, from remote.
func (m *l4Match) holds(port uint32, local, remote netip.Addr) bool {
	if m.port != 0 && m.port != port {
		return false
	}
	if m.source != nil && !m.source.matchesAddr(remote) {
		return false
	}
	if len(m.subnets) == 0 {
		return true
	}
	for _, p := range m.subnets {
		if p.Contains(local.Unmap()) {
			return true
		}
	}
	return false
}

// sniScore rates how specifically pattern names sni: -1 no match, an
// exact name above any wildcard, a longer wildcard above a shorter one
// (Envoy's filter chain match on server names).
func sniScore(pattern, sni string) int {
	switch {
	case pattern == sni:
		return 1 << 20
	case pattern == "*":
		return 0
	case strings.HasPrefix(pattern, "*.") && len(sni) > len(pattern)-1 && strings.HasSuffix(sni, pattern[1:]):
		return len(pattern)
	}
	return -1
}

// route finds the route of a connection: for TLS the most specific SNI
// match (the first on a tie), for TCP the first route whose match holds.
func (t *l4Table) route(sni string, port uint32, local, remote netip.Addr) *l4Route {
	if t.tls {
		var best *l4Route
		bestScore := -1
		for _, r := range t.routes {
			for i := range r.matches {
				m := &r.matches[i]
				if !m.holds(port, local, remote) {
					continue
				}
				for _, pat := range m.sni {
					if s := sniScore(pat, sni); s > bestScore {
						best, bestScore = r, s
					}
				}
			}
		}
		if best != nil {
			return best
		}
		return t.fallback
	}
	for _, r := range t.routes {
		if len(r.matches) == 0 {
			return r
		}
		for i := range r.matches {
			if r.matches[i].holds(port, local, remote) {
				return r
			}
		}
	}
	return t.fallback
}

// l4Session is one proxied connection's state, for its counters and its
// access-log line.
type l4Session struct {
	start   time.Time
	rng     rng
	flags   flag
	sni     string
	cluster string
	ep      *endpoint
	failure string // %UPSTREAM_TRANSPORT_FAILURE_REASON%
	upLocal string
	rx, tx  int64
}

// dialL4 routes a connection (accepted on local, from remote) and opens
// its upstream. On failure it returns nil with the session's flags saying
// why; on success, release must be called once the upstream connection
// has closed.
func (p *Proxy) dialL4(ctx context.Context, t *l4Table, s *l4Session, ls *listenerStats, port uint32, local, remote netip.Addr) (up net.Conn, c *cluster, release func()) {
	r := t.route(s.sni, port, local, remote)
	if r == nil {
		ls.tcpNoRoute.Add(1)
		if t.blackHole {
			s.cluster = blackHoleCluster
			s.flags |= flagUH
		} else {
			s.flags |= flagNR
		}
		return nil, nil, nil
	}
	d := r.pick(&s.rng)
	s.cluster = d.name
	c = d.resolve(port)
	if c == nil {
		ls.tcpNoRoute.Add(1)
		s.flags |= flagNC
		return nil, nil, nil
	}
	s.cluster = c.name
	// Envoy checks the cluster's connection budget before asking the pool
	// for a connection, and closes the downstream when it is spent.
	lim := c.rt.limits
	if lim != nil && !lim.trySlot() {
		c.stats.cxOverflow.Add(1)
		s.flags |= flagUO
		return nil, nil, nil
	}
	free := func() {
		if lim != nil {
			lim.releaseSlot()
		}
	}
	ep := c.pickEndpoint(&s.rng)
	if ep == nil {
		free()
		c.stats.cxNoneHealthy.Add(1)
		s.flags |= flagUH
		return nil, nil, nil
	}
	s.ep = ep
	dctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(p.tunnels.stop, cancel)
	up, err := c.transport.connect(dctx, ep.addr)
	stop()
	cancel()
	if err != nil {
		free()
		de := &DialError{Addr: ep.addr, Err: err}
		c.stats.cxConnectFail.Add(1)
		ep.pool.cx.connectFail.Add(1)
		// One connect attempt (Istio leaves max_connect_attempts at 1):
		// the failure exhausts them.
		c.stats.cxConnectAttemptsExceeded.Add(1)
		s.flags |= flagUF | flagURX
		if de.connectTimedOut() && ctx.Err() == nil {
			c.stats.cxConnectTimeout.Add(1)
			c.outlierConnect(ep, resultTimeout)
		} else if ctx.Err() == nil {
			c.outlierConnect(ep, resultConnectFailed)
		}
		s.failure, _ = connectFailure(de)
		return nil, nil, nil
	}
	c.stats.cxTotal.Add(1)
	c.stats.cxActive.Add(1)
	ep.pool.cx.opened()
	c.outlierConnected(ep)
	s.upLocal = up.LocalAddr().String()
	return up, c, func() {
		free() // before the gauge: a reader that sees it fall finds the slot free
		c.stats.cxActive.Add(-1)
		ep.pool.cx.active.Add(-1)
	}
}

// outlierConnect feeds a failed connect to the cluster's detector:
// Envoy's LocalOriginConnectFailed or LocalOriginTimeout.
func (c *cluster) outlierConnect(ep *endpoint, r result) {
	if d := c.rt.outlier; d != nil {
		d.putResult(ep, r)
	}
}

// outlierConnected feeds a connection that opened: Envoy's
// LocalOriginConnectSuccessFinal, a success (200) unless local-origin
// errors are split, where it resets the local-origin count.
func (c *cluster) outlierConnected(ep *endpoint) {
	d := c.rt.outlier
	if d == nil {
		return
	}
	if d.cfg.split {
		zero(&ep.host.consecutiveLocal)
		return
	}
	d.putCode(ep, 200)
}

// l4Handler serves the connections of one TCP or TLS listener.
type l4Handler struct {
	p     *Proxy
	id    int // the table listener it routes with
	salt  uint64
	stats *listenerStats
	port  uint32
	// service is the "host:port" of a service listener, routed by the
	// mesh's tunnel targets; empty on gateway listeners.
	service string
}

// serveL4 accepts connections until the listener closes. Other accept
// errors (out of file descriptors) are retried after a pause that doubles
// up to a second, as net/http's server does.
func (p *Proxy) serveL4(o *openListener) {
	defer p.serving.Done()
	var pause time.Duration
	for {
		conn, err := o.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			p.logger.Warn("proxy: accept failed; retrying", "listener", o.Name, "err", err, "in", pause)
			time.Sleep(pause)
			continue
		}
		pause = 0
		p.serving.Add(1)
		go func() {
			defer p.serving.Done()
			o.l4.serve(conn)
		}()
	}
}

// table returns the L4 table a connection of h routes with; nil when the
// current table has none for the listener.
func (h *l4Handler) table() *l4Table {
	t := h.p.table.Load()
	if h.service != "" {
		if ct := t.connect[h.service]; ct != nil {
			return ct.l4
		}
		return nil
	}
	if lt := t.listener(h.id); lt != nil {
		return lt.l4
	}
	return nil
}

// serve proxies one downstream connection.
func (h *l4Handler) serve(down net.Conn) {
	p := h.p
	ls := h.stats
	seq := uint64(ls.tcpCxTotal.Add(1))
	s := &l4Session{start: time.Now(), rng: newRequestRNG(p.seed, h.salt, seq)}
	tn := &tunnel{down: down}
	if !p.tunnels.add(tn) {
		down.Close()
		return
	}
	defer p.tunnels.remove(tn)
	defer func() {
		p.reg.countFlags(s.flags)
		if p.log != nil {
			p.log.writeL4(s, down)
		}
	}()
	t := h.table()
	if t == nil {
		// The table no longer has this listener (an Apply dropped its
		// Gateway): nothing routes here.
		ls.tcpNoRoute.Add(1)
		s.flags |= flagNR
		down.Close()
		return
	}
	var client io.Reader = down
	if t.tls {
		br := bufio.NewReaderSize(down, maxClientHelloRecord)
		_ = down.SetReadDeadline(time.Now().Add(sniTimeout))
		s.sni, _ = peekSNI(br)
		_ = down.SetReadDeadline(time.Time{})
		client = br
	}
	local := addrOf(down.LocalAddr())
	up, c, release := p.dialL4(context.Background(), t, s, ls, h.port, local, addrOf(down.RemoteAddr()))
	if up == nil {
		down.Close()
		return
	}
	defer release()
	if !p.tunnels.attach(tn, up) {
		down.Close()
		up.Close()
		return
	}
	s.rx, s.tx = p.relayL4(tn, client, s, ls, c, &ls.tcpRxBytes, &ls.tcpTxBytes)
}

// relayL4 copies both ways, counting the bytes on the cluster and on up
// (from the client) and down (to it), until both directions ended or the
// connection's idle timeout or maximum duration closed it (Envoy's
// tcp_proxy idle_timeout and max_downstream_connection_duration, from
// the cluster's tcp.idleTimeout and tcp.maxConnectionDuration).
func (p *Proxy) relayL4(t *tunnel, client io.Reader, s *l4Session, ls *listenerStats, c *cluster, up, down *atomic.Int64) (rx, tx int64) {
	tm := startL4Timers(t, c.rt.pool)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var err error
		rx, err = pumpActive(t.up, client, &tm.last, up, &c.stats.cxTxBytes)
		endDirection(t, t.up, err)
	}()
	tx, err := pumpActive(t.down, t.up, &tm.last, down, &c.stats.cxRxBytes)
	endDirection(t, t.down, err)
	<-done
	t.down.Close()
	t.up.Close()
	tm.stop()
	if tm.expired.Load() {
		s.flags |= flagDT
		ls.tcpMaxDuration.Add(1)
	}
	if tm.idle.Load() {
		ls.tcpIdleTimeout.Add(1)
	}
	return rx, tx
}

// l4Timers close a connection idle for too long, or past its maximum
// duration.
type l4Timers struct {
	last          atomic.Int64 // UnixNano of the last bytes either way
	idleT, durT   *time.Timer
	expired, idle atomic.Bool
}

func startL4Timers(t *tunnel, pool poolConfig) *l4Timers {
	tm := &l4Timers{}
	tm.last.Store(time.Now().UnixNano())
	closeBoth := func() {
		t.down.Close()
		t.up.Close()
	}
	if d := pool.maxConnDuration; d > 0 {
		tm.durT = time.AfterFunc(d, func() {
			tm.expired.Store(true)
			closeBoth()
		})
	}
	if idle := pool.tcpIdle; idle > 0 {
		// Armed after the assignment, so the callback sees the timer.
		tm.idleT = time.AfterFunc(time.Duration(math.MaxInt64), func() {
			quiet := time.Duration(time.Now().UnixNano() - tm.last.Load())
			if quiet >= idle {
				tm.idle.Store(true)
				closeBoth()
				return
			}
			tm.idleT.Reset(idle - quiet)
		})
		tm.idleT.Reset(idle)
	}
	return tm
}

func (tm *l4Timers) stop() {
	if tm.durT != nil {
		tm.durT.Stop()
	}
	if tm.idleT != nil {
		tm.idleT.Stop()
	}
}

// addrOf is a net.Addr's IP, or the zero Addr.
func addrOf(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(ta.IP)
		return ip.Unmap()
	}
	return netip.Addr{}
}

// writeL4 writes a connection's line in Istio's TEXT format, as Envoy
// writes it for a tcp_proxy: the HTTP operators print "-", the response
// code 0, the bytes are the connection's, the duration its lifetime.
func (l *accessLogger) writeL4(s *l4Session, down net.Conn) {
	b := make([]byte, 0, 256)
	b = append(b, '[')
	b = s.start.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
	b = append(b, "] \"- - -\" 0 "...)
	b = appendFlags(b, s.flags)
	b = append(b, " - - "...) // %RESPONSE_CODE_DETAILS%, %CONNECTION_TERMINATION_DETAILS%
	b = appendQuoted(b, spaceToUnderscore(s.failure))
	b = append(b, ' ')
	b = strconv.AppendInt(b, s.rx, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, s.tx, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, time.Since(s.start).Milliseconds(), 10)
	b = append(b, ` - "-" "-" "-" "-" `...)
	host := ""
	if s.ep != nil {
		host = s.ep.addr
	}
	b = appendQuoted(b, host)
	b = append(b, ' ')
	b = appendField(b, s.cluster)
	b = append(b, ' ')
	b = appendField(b, s.upLocal)
	b = append(b, ' ')
	b = append(b, down.LocalAddr().String()...)
	b = append(b, ' ')
	b = append(b, down.RemoteAddr().String()...)
	b = append(b, ' ')
	b = appendField(b, s.sni)
	b = append(b, " -\n"...) // %ROUTE_NAME%
	l.writeLine(b)
}

// tunnelL4 serves a mesh CONNECT whose target port is routed by tcp or tls
// routes: 200 at once, then the connection is routed and proxied as the
// sidecar's tcp_proxy would (docs/istio.md, TCP and TLS routes). The
// access-log line is the CONNECT's, with the cluster, endpoint, flags and
// SNI of the routing. It reports whether the upstream connected.
func (p *Proxy) tunnelL4(x *exchange, ct *connectTarget) bool {
	hj, ok := x.w.(http.Hijacker)
	if !ok {
		x.localReply(http.StatusNotImplemented, "CONNECT needs a connection of its own: it cannot be served in process", "connect_not_hijackable")
		return false
	}
	down, brw, err := hj.Hijack()
	if err != nil {
		x.localReply(http.StatusInternalServerError, "", "connect_hijack_failed")
		return false
	}
	x.code, x.details, x.wroteHeader = http.StatusOK, "via_upstream", true
	tn := &tunnel{down: down}
	if !p.tunnels.add(tn) {
		down.Close()
		x.flags |= flagLR
		x.details = "proxy_closed"
		return false
	}
	defer p.tunnels.remove(tn)
	if _, err := down.Write(connectEstablished); err != nil {
		down.Close()
		return false
	}
	s := &l4Session{start: x.start, rng: x.rng}
	var client io.Reader = brw.Reader
	if ct.l4.tls {
		br := bufio.NewReaderSize(brw.Reader, maxClientHelloRecord)
		_ = down.SetReadDeadline(time.Now().Add(sniTimeout))
		s.sni, _ = peekSNI(br)
		_ = down.SetReadDeadline(time.Time{})
		client = br
	}
	up, c, release := p.dialL4(x.r.Context(), ct.l4, s, x.ls, ct.port, addrOf(down.LocalAddr()), addrOf(down.RemoteAddr()))
	x.flags |= s.flags
	x.clusterName, x.ep, x.sni, x.transportFailure = s.cluster, s.ep, s.sni, s.failure
	if up == nil {
		down.Close()
		return false
	}
	defer release()
	if !p.tunnels.attach(tn, up) {
		down.Close()
		up.Close()
		return false
	}
	x.upstreamLocal = s.upLocal
	tc := &p.reg.tunnels
	tc.opened.Add(1)
	tc.active.Add(1)
	defer tc.active.Add(-1)
	x.bytesReceived, x.bytesSent = p.relayL4(tn, client, s, x.ls, c, &tc.bytesUp, &tc.bytesDown)
	x.flags |= s.flags
	return true
}
