package proxy_test

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/wait"
)

// tcp.maxConnectionDuration is the tcp_proxy's maximum downstream
// connection duration: the connection is closed when it is reached, with
// flag DT, counted in tcp.max_downstream_connection_duration.
func TestTCPMaxConnectionDuration(t *testing.T) {
	up := newTCPEcho(t, "echo")
	h := start(t, tcpGatewaySrc(up.addr(), "    connectionPool: {tcp: {maxConnectionDuration: 100ms}}\n"))
	addr, _ := h.p.GatewayAddr("tcp-echo-gateway", 31400)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	began := time.Now()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, _ := c.Read(make([]byte, 1)); n != 0 {
		t.Fatal("read a byte from a connection nothing was sent on")
	}
	if d := time.Since(began); d < 90*time.Millisecond || d > 4*time.Second {
		t.Errorf("closed after %v, want about 100ms", d)
	}
	// The counter follows the close the client saw.
	wait.For(t, 5*time.Second, "the connection to be counted", func() bool {
		ls, _ := h.p.Stats().Listener("tcp-echo-gateway:31400")
		return ls.TCPMaxDuration > 0
	})
	ls, _ := h.p.Stats().Listener("tcp-echo-gateway:31400")
	if ls.TCPMaxDuration != 1 || ls.TCPIdleTimeouts != 0 {
		t.Errorf("max_downstream_connection_duration %d, idle_timeout %d; want 1, 0", ls.TCPMaxDuration, ls.TCPIdleTimeouts)
	}
	if lines := h.accessLog(); len(lines) != 1 || !strings.Contains(lines[0], `"- - -" 0 DT - - `) {
		t.Errorf("access log %q: want one DT line", lines)
	}
}

// tcp.idleTimeout closes a connection on which no byte moved either way
// for that long; bytes in either direction keep it open.
func TestTCPIdleTimeout(t *testing.T) {
	up := newTCPEcho(t, "echo")
	h := start(t, tcpGatewaySrc(up.addr(), "    connectionPool: {tcp: {idleTimeout: 150ms}}\n"))
	addr, _ := h.p.GatewayAddr("tcp-echo-gateway", 31400)

	// A connection that sends a byte every 50ms for 450ms outlives three
	// idle timeouts: the pauses are the scenario.
	busy, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for range 9 {
		if _, err := io.WriteString(busy, "."); err != nil {
			t.Fatalf("write on a busy connection: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = busy.(*net.TCPConn).CloseWrite()
	_ = busy.SetReadDeadline(time.Now().Add(5 * time.Second))
	if got, _ := io.ReadAll(busy); string(got) != "echo:........." {
		t.Errorf("busy connection got %q, want its bytes echoed", got)
	}

	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	began := time.Now()
	_ = idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, _ := idle.Read(make([]byte, 1)); n != 0 {
		t.Fatal("read a byte from an idle connection")
	}
	if d := time.Since(began); d < 140*time.Millisecond || d > 4*time.Second {
		t.Errorf("idle connection closed after %v, want about 150ms", d)
	}
	wait.For(t, 5*time.Second, "the connection to be counted", func() bool {
		ls, _ := h.p.Stats().Listener("tcp-echo-gateway:31400")
		return ls.TCPIdleTimeouts > 0
	})
	ls, _ := h.p.Stats().Listener("tcp-echo-gateway:31400")
	if ls.TCPIdleTimeouts != 1 || ls.TCPMaxDuration != 0 {
		t.Errorf("idle_timeout %d, max_downstream_connection_duration %d; want 1, 0", ls.TCPIdleTimeouts, ls.TCPMaxDuration)
	}
}
