package proxy

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/wait"
)

// holdingListener accepts connections and keeps them open until cleanup.
func holdingListener(t *testing.T) (addr string, accepted *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted = new(atomic.Int64)
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String(), accepted
}

func testPool(t *testing.T, pool poolConfig) (*clusterTransport, *hostPool, *atomic.Int64) {
	t.Helper()
	addr, accepted := holdingListener(t)
	if pool.connectTimeout == 0 {
		pool.connectTimeout = time.Second
	}
	ep := &endpoint{addr: addr}
	tr := newClusterTransport(pool, &clusterStats{}, []*endpoint{ep})
	t.Cleanup(tr.CloseIdleConnections)
	return tr, ep.pool, accepted
}

func (p *hostPool) waiting() (idleWait, dialWait, idle int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, w := range p.idleWait {
		if !w.done {
			idleWait++
		}
	}
	for _, w := range p.dialWait {
		if !w.done {
			dialWait++
		}
	}
	return idleWait, dialWait, len(p.idle)
}

// maxConnections per address: a request over the limit waits, gets the
// connection the first one returns (no second dial), and a waiter that
// gives up leaves the connection to the idle list.
func TestPoolMaxConnectionsWaits(t *testing.T) {
	tr, p, accepted := testPool(t, poolConfig{maxConnections: 1, idleTimeout: time.Hour})
	ctx := context.Background()
	first, err := p.get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *upConn, 1)
	go func() {
		pc, err := p.get(ctx)
		if err != nil {
			t.Error(err)
		}
		got <- pc
	}()
	wait.For(t, 5*time.Second, "the second request to wait", func() bool { _, d, _ := p.waiting(); return d == 1 })
	p.put(first)
	if second := <-got; second != first {
		t.Errorf("the waiting request got another connection")
	}
	if n := tr.stats.cxTotal.Load(); n != 1 {
		t.Errorf("%d connections dialled, want 1", n)
	}

	// A waiter that gives up.
	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, err := p.get(cctx)
		errc <- err
	}()
	wait.For(t, 5*time.Second, "the third request to wait", func() bool { _, d, _ := p.waiting(); return d == 1 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("gave up with %v, want context.Canceled", err)
	}
	p.put(first)
	if _, _, idle := p.waiting(); idle != 1 {
		t.Errorf("%d idle connections, want the returned one", idle)
	}

	// Closing the connection frees the slot for a new dial.
	pc, _ := p.get(ctx)
	pc.close()
	pc, err = p.get(ctx)
	if err != nil || pc == first {
		t.Fatalf("after close: %v, same connection %v", err, pc == first)
	}
	wait.For(t, 5*time.Second, "the second connection to be accepted", func() bool { return accepted.Load() == 2 })
	if active := tr.stats.cxActive.Load(); active != 1 {
		t.Errorf("%d active, want 1", active)
	}
	pc.close()
}

// CloseIdleConnections closes the idle connections and those returned
// after it, until a request asks for a connection again.
func TestPoolCloseIdle(t *testing.T) {
	tr, p, _ := testPool(t, poolConfig{maxConnections: unlimited, idleTimeout: time.Hour})
	ctx := context.Background()
	a, _ := p.get(ctx)
	b, _ := p.get(ctx)
	p.put(a)
	tr.CloseIdleConnections()
	if !a.closed.Load() {
		t.Error("the idle connection is still open")
	}
	p.put(b)
	if !b.closed.Load() {
		t.Error("a connection returned after CloseIdleConnections was kept")
	}
	c, _ := p.get(ctx)
	p.put(c)
	if c.closed.Load() {
		t.Error("a connection returned after a new request was closed")
	}
	if got := tr.stats.cxActive.Load(); got != 1 {
		t.Errorf("upstream_cx_active %d, want 1", got)
	}
}

// The idle timer counts from the last time the connection turned idle,
// however often it was reused meanwhile.
func TestPoolIdleTimerAfterReuse(t *testing.T) {
	const idle = 40 * time.Millisecond
	tr, p, _ := testPool(t, poolConfig{maxConnections: unlimited, idleTimeout: idle})
	ctx := context.Background()
	pc, _ := p.get(ctx)
	p.put(pc)
	// Time in use and time idle are the scenario, and the pool's idle timer
	// runs on the wall clock over a real connection (no bubble can hold it).
	for i := 0; i < 4; i++ { // busy across the first expiry
		time.Sleep(idle / 4)
		again, _ := p.get(ctx)
		if again != pc {
			t.Fatalf("reuse %d got another connection", i)
		}
		time.Sleep(idle / 2)
		p.put(again)
	}
	if pc.closed.Load() {
		t.Fatal("closed while it never stayed idle for the timeout")
	}
	// close marks the connection closed before it lowers cx_active: wait
	// for the whole close, not its first step.
	wait.For(t, 5*time.Second, "the idle connection to close", func() bool { return pc.closed.Load() && tr.stats.cxActive.Load() == 0 })
	if _, _, n := p.waiting(); n != 0 || tr.stats.cxActive.Load() != 0 || tr.stats.cxTotal.Load() != 1 {
		t.Errorf("idle %d, active %d, dialled %d; want 0, 0, 1", n, tr.stats.cxActive.Load(), tr.stats.cxTotal.Load())
	}
}

// Requests served by their own dials do not pile up in the queue for idle
// connections when no connection is ever returned (every response closes
// its connection).
func TestPoolWaitQueueStaysSmall(t *testing.T) {
	_, p, _ := testPool(t, poolConfig{maxConnections: unlimited, idleTimeout: time.Hour})
	for i := 0; i < 500; i++ {
		pc, err := p.get(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		pc.close()
	}
	p.mu.Lock()
	n := len(p.idleWait)
	p.mu.Unlock()
	if n > 64 {
		t.Errorf("%d requests still queued for idle connections", n)
	}
}
