package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The upstream connection pool: per endpoint address, the keep-alive
// connections of one cluster (Envoy's per-host HTTP/1.1 connection pool),
// sized by the connectionPool policy.
//
//	get ─► most recently used idle connection, if still open (LIFO, so
//	       surplus connections age out after idleTimeout)
//	    └► else wait for whichever comes first: a connection that turns
//	       idle, or one dialled for this request (a dial needs one of the
//	       maxConnections slots of the address; without one the request
//	       waits for a connection to close)
//	put ─► hand the connection to the oldest waiting request, else keep
//	       it idle (at most maxIdlePerHost, closed after idleTimeout)
//
// A dial runs on its own goroutine and outlives the request that started
// it: when that request gives up (its deadline, per-try timeout or client
// went away) the connection still opens, within connectTimeout, and serves
// the next request. A connection is owned by exactly one party at a time:
// the pool while idle, the request between get and the end of its
// response (put or close). Nothing here runs per connection in the
// background: requests and responses are written and read by the
// goroutine that sends the request (upstream_http1.go).

// hostPool holds the connections of one cluster to one address (and,
// under auto_sni, one SNI: Envoy keys its connection pools by the
// transport socket options a request sets, the SNI among them, so no
// connection carries requests of two names).
type hostPool struct {
	t    *clusterTransport
	addr string
	// tlsCfg is the TLS configuration of a pool of one SNI; nil for the
	// address's own pool, which dials with the cluster's.
	tlsCfg *tls.Config
	// bySNI are the address's pools of the other SNIs (auto_sni), made
	// on first use; guarded by mu, on the address's own pool only.
	bySNI map[string]*hostPool

	// mu guards the fields below and every upConn's idle state. It is
	// held for O(1) work (or a walk of the waiters on the slow path),
	// never across I/O: the pool's one lock, as an http.Transport has.
	mu sync.Mutex
	// idle are the idle connections, most recently used last.
	idle []*upConn
	// conns counts open and dialling connections when the address has
	// a connection limit (t.maxPerHost > 0).
	conns int
	// idleWait are requests waiting for the next connection that turns
	// idle (or for their own dial); dialWait those waiting for a
	// connection slot before they may dial. Both are FIFO and skip
	// requests that are done.
	idleWait []*wantConn
	dialWait []*wantConn
	// dials are the dials in progress, so CloseIdleConnections can
	// cancel those no request waits for any more.
	dials []*wantConn

	// cx counts the address's connections for /clusters (admin.go).
	cx hostConns
}

// wantConn is a request waiting for a connection. Its fields are guarded
// by hostPool.mu.
type wantConn struct {
	// ch receives the one result delivered to the request.
	ch chan connResult
	// done: a result was delivered, or the request gave up.
	done bool
	// cancelDial cancels the dial started for the request, while it runs.
	cancelDial context.CancelFunc
}

type connResult struct {
	pc  *upConn
	err error
}

// deliverLocked hands a connection (or a dial error) to w unless w is
// done; it reports whether w took it.
func (w *wantConn) deliverLocked(pc *upConn, err error) bool {
	if w.done {
		return false
	}
	w.done = true
	w.ch <- connResult{pc: pc, err: err}
	return true
}

// pushWaiting queues w, first dropping requests that are done: those at
// the front, and all of them once the queue grows (a request served by
// its own dial stays queued for idle connections until then).
func pushWaiting(q *[]*wantConn, w *wantConn) {
	for len(*q) > 0 && (*q)[0].done {
		(*q)[0] = nil
		*q = (*q)[1:]
	}
	if len(*q) >= 64 {
		*q = slices.DeleteFunc(*q, func(w *wantConn) bool { return w.done })
	}
	*q = append(*q, w)
}

// popWaiting removes and returns the first request of q still waiting.
func popWaiting(q *[]*wantConn) *wantConn {
	for len(*q) > 0 {
		w := (*q)[0]
		(*q)[0] = nil
		*q = (*q)[1:]
		if !w.done {
			return w
		}
	}
	return nil
}

// forHost is the pool of a request whose Host is host, on a cluster
// whose SNI follows it (auto_sni): p itself for the cluster's own SNI, an
// IP address or no name, else the address's pool of that SNI.
func (p *hostPool) forHost(host string) *hostPool {
	sni := sniOf(host)
	if sni == "" || sni == p.t.tls.cfg.ServerName {
		return p
	}
	p.mu.Lock()
	q := p.bySNI[sni]
	if q == nil {
		q = &hostPool{t: p.t, addr: p.addr, tlsCfg: p.t.tls.forSNI(sni)}
		if p.bySNI == nil {
			p.bySNI = map[string]*hostPool{}
		}
		p.bySNI[sni] = q
	}
	p.mu.Unlock()
	return q
}

// sniOf is the SNI Envoy's auto_sni takes from a Host: the name without
// its port, lower case; "" for an IP address.
func sniOf(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if net.ParseIP(strings.Trim(host, "[]")) != nil {
		return ""
	}
	return host
}

// get returns a connection for one request, or ctx's cause, or the
// *DialError of the dial made for it.
func (p *hostPool) get(ctx context.Context) (*upConn, error) {
	t := p.t
	for {
		p.mu.Lock()
		if t.disableKeepAlives {
			break // every request gets a connection of its own
		}
		// Stop closing connections that turn idle: a request wants one
		// (CloseIdleConnections set it).
		t.closeIdle.Store(false)
		pc, stale := p.popIdleLocked()
		if stale != nil {
			p.mu.Unlock()
			stale.close()
			continue
		}
		if pc == nil {
			break
		}
		p.mu.Unlock()
		if pc.stillOpen() {
			return pc, nil
		}
		// It died while idle (the upstream closed it, or sent bytes
		// nobody asked for): drop it and look again.
		pc.close()
	}
	// Still holding p.mu: wait for the next idle connection and dial one.
	w := &wantConn{ch: make(chan connResult, 1)}
	if !t.disableKeepAlives {
		pushWaiting(&p.idleWait, w)
	}
	if t.maxPerHost <= 0 || p.conns < t.maxPerHost {
		if t.maxPerHost > 0 {
			p.conns++
		}
		p.startDialLocked(w)
	} else {
		pushWaiting(&p.dialWait, w)
	}
	p.mu.Unlock()

	select {
	case r := <-w.ch:
		if r.err != nil && ctx.Err() != nil {
			return nil, context.Cause(ctx) // the dial failed as the request ended
		}
		return r.pc, r.err
	case <-ctx.Done():
	}
	p.mu.Lock()
	var pc *upConn
	if w.done {
		pc = (<-w.ch).pc // delivered as the request ended
	}
	w.done = true
	p.mu.Unlock()
	if pc != nil {
		p.put(pc)
	}
	return nil, context.Cause(ctx)
}

// popIdleLocked takes the most recently used idle connection. A
// connection found idle for longer than idleTimeout (its timer not run
// yet) comes back as stale, for the caller to close.
func (p *hostPool) popIdleLocked() (pc, stale *upConn) {
	n := len(p.idle)
	if n == 0 {
		return nil, nil
	}
	pc = p.idle[n-1]
	p.idle[n-1] = nil
	p.idle = p.idle[:n-1]
	pc.idle = false
	if d := p.t.idleTimeout; d > 0 && time.Since(pc.idleAt) >= d {
		return nil, pc
	}
	return pc, nil
}

// startDialLocked dials for w on a new goroutine.
func (p *hostPool) startDialLocked(w *wantConn) {
	ctx, cancel := context.WithCancel(context.Background())
	w.cancelDial = cancel
	p.dials = append(p.dials, w)
	go p.dialFor(ctx, w)
}

// dialFor opens a connection for w; when w no longer wants it, the
// connection goes to the pool like one that turned idle.
func (p *hostPool) dialFor(ctx context.Context, w *wantConn) {
	pc, err := p.t.dial(ctx, p)
	p.mu.Lock()
	w.cancelDial()
	w.cancelDial = nil
	if i := slices.Index(p.dials, w); i >= 0 {
		p.dials = slices.Delete(p.dials, i, i+1)
	}
	delivered := w.deliverLocked(pc, err)
	if err != nil {
		p.releaseSlotLocked()
	}
	p.mu.Unlock()
	if err == nil && !delivered {
		p.put(pc)
	}
}

// releaseSlotLocked gives up a connection slot (a connection closed or a
// dial failed): the oldest request waiting for a slot dials with it.
func (p *hostPool) releaseSlotLocked() {
	if p.t.maxPerHost <= 0 {
		return
	}
	if w := popWaiting(&p.dialWait); w != nil {
		p.startDialLocked(w)
		return
	}
	p.conns--
}

// put returns a connection whose exchange completed in good order: to
// the oldest waiting request, else to the idle list, else it is closed
// (keep-alive disabled, CloseIdleConnections in effect, maxIdlePerHost).
func (p *hostPool) put(pc *upConn) {
	t := p.t
	if t.disableKeepAlives || pc.closed.Load() {
		pc.close()
		return
	}
	pc.reused = true
	p.mu.Lock()
	for {
		w := popWaiting(&p.idleWait)
		if w == nil {
			break
		}
		if w.deliverLocked(pc, nil) {
			p.mu.Unlock()
			return
		}
	}
	if t.closeIdle.Load() || len(p.idle) >= t.maxIdlePerHost {
		p.mu.Unlock()
		pc.close()
		return
	}
	pc.idle = true
	pc.idleAt = time.Now()
	p.idle = append(p.idle, pc)
	if d := t.idleTimeout; d > 0 {
		switch {
		case pc.idleTimer == nil:
			pc.idleTimer = time.AfterFunc(d, pc.idleExpired)
			pc.timerArmed = true
		case !pc.timerArmed:
			pc.idleTimer.Reset(d)
			pc.timerArmed = true
		}
	}
	p.mu.Unlock()
}

// idleExpired is a connection's idle timer. The timer is armed once and
// re-armed lazily: a connection reused in the meantime only pushes the
// expiry back when the timer fires, so the request path never touches it.
func (pc *upConn) idleExpired() {
	p := pc.pool
	p.mu.Lock()
	if !pc.idle {
		pc.timerArmed = false // in use; put re-arms it
		p.mu.Unlock()
		return
	}
	if left := p.t.idleTimeout - time.Since(pc.idleAt); left > 0 {
		pc.idleTimer.Reset(left)
		p.mu.Unlock()
		return
	}
	if i := slices.Index(p.idle, pc); i >= 0 {
		p.idle = slices.Delete(p.idle, i, i+1)
	}
	pc.idle = false
	p.mu.Unlock()
	pc.close()
}

// closeIdle closes the idle connections and cancels the dials no request
// waits for.
func (p *hostPool) closeIdle() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	for _, pc := range idle {
		pc.idle = false
	}
	for _, w := range p.dials {
		if w.done && w.cancelDial != nil {
			w.cancelDial()
		}
	}
	subs := make([]*hostPool, 0, len(p.bySNI))
	for _, q := range p.bySNI {
		subs = append(subs, q)
	}
	p.mu.Unlock()
	for _, pc := range idle {
		pc.close()
	}
	for _, q := range subs {
		q.closeIdle()
	}
}

// dial opens a connection to p's address within connectTimeout. It
// counts upstream_cx_total and upstream_cx_active (until the connection
// closes), and upstream_cx_connect_timeout when the connect timeout (not
// a cancellation) ended it; a failure is a *DialError.
func (t *clusterTransport) dial(ctx context.Context, p *hostPool) (*upConn, error) {
	conn, err := t.connectTLS(ctx, p.addr, p.tlsCfg)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil {
			t.stats.cxConnectTimeout.Add(1)
		}
		if ctx.Err() == nil {
			p.cx.connectFail.Add(1)
		}
		return nil, &DialError{Addr: p.addr, Err: err}
	}
	t.stats.cxTotal.Add(1)
	t.stats.cxActive.Add(1)
	p.cx.opened()
	pc := &upConn{conn: conn, pool: p, born: time.Now(), local: conn.LocalAddr().String()}
	if sc, ok := conn.(syscall.Conn); ok { // not a TLS connection
		pc.raw, _ = sc.SyscallConn()
	}
	pc.br = bufio.NewReaderSize(pc, ioBufferBytes)
	pc.bw = bufio.NewWriterSize(pc, ioBufferBytes)
	pc.abortFn = pc.abort
	pc.peekFn = pc.peek
	return pc, nil
}

// upConn is one upstream connection and its buffers.
//
// Invariants: exactly one party owns an open upConn at a time (the pool,
// or one request from get until its response ends); only the owner reads
// or writes it, except that the owner's context watch may close it from
// another goroutine, and a request body is written by a goroutine of the
// request's own (upstream_http1.go). close is idempotent and is the only
// place where upstream_cx_active and the address's slot count go down.
type upConn struct {
	conn net.Conn
	raw  syscall.RawConn // for the liveness probe; nil if unavailable
	pool *hostPool
	br   *bufio.Reader // reads through Read below
	bw   *bufio.Writer // writes through Write below
	born time.Time
	// local is conn's local address, formatted once for the access log.
	local string

	closed atomic.Bool
	// aborted: the request's context ended while it owned the connection.
	aborted atomic.Bool

	// Owner's state.
	requests  int64 // requests sent, for maxRequestsPerConnection
	reused    bool  // it has been through the pool (it may have died there)
	nwrite    int64 // bytes written to conn
	readLimit int64 // bytes conn may still deliver (response headers)
	sawEOF    bool  // conn reported EOF
	// abortFn is abort as a func value, made once. The watch of the
	// current request's context (watchContext) is guarded by watchMu.
	abortFn     func()
	watchMu     sync.Mutex
	watchTimer  *time.Timer
	watchCtx    context.Context
	watchArmed  bool
	watchCancel func() bool // context.AfterFunc's stop, once registered
	// body is the request body's writer, while one runs.
	body *bodyWrite
	// The liveness probe's func value (made once) and its results.
	peekFn  func(fd uintptr) bool
	peekBuf [1]byte
	peekN   int
	peekErr error

	// Idle state, guarded by pool.mu.
	idle       bool
	idleAt     time.Time
	idleTimer  *time.Timer
	timerArmed bool
}

// Read reads from the connection for br, enforcing readLimit and noting
// EOF.
func (pc *upConn) Read(p []byte) (int, error) {
	if pc.readLimit <= 0 {
		return 0, errResponseHeadersTooLong
	}
	if int64(len(p)) > pc.readLimit {
		p = p[:pc.readLimit]
	}
	n, err := pc.conn.Read(p)
	if err == io.EOF {
		pc.sawEOF = true
	}
	pc.readLimit -= int64(n)
	return n, err
}

// Write writes to the connection for bw, counting bytes written.
func (pc *upConn) Write(p []byte) (int, error) {
	n, err := pc.conn.Write(p)
	pc.nwrite += int64(n)
	return n, err
}

// abort closes the connection because its request's context ended.
func (pc *upConn) abort() {
	pc.aborted.Store(true)
	pc.close()
}

// close closes the connection once: upstream_cx_active and the
// address's slot go with it.
func (pc *upConn) close() {
	if !pc.closed.CompareAndSwap(false, true) {
		return
	}
	pc.conn.Close()
	pc.pool.t.stats.cxActive.Add(-1)
	pc.pool.cx.active.Add(-1)
	p := pc.pool
	p.mu.Lock()
	if pc.idleTimer != nil {
		pc.idleTimer.Stop()
	}
	p.releaseSlotLocked()
	p.mu.Unlock()
}

// stillOpen reports whether an idle connection can carry a request: it
// is open as far as the kernel knows and holds no unsolicited bytes.
func (pc *upConn) stillOpen() bool {
	if pc.br.Buffered() > 0 {
		return false
	}
	return pc.raw == nil || pc.probe()
}
