package proxy_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A WebSocket upgrade passes through the mesh: the upstream sees the
// Upgrade and Connection fields, its 101 reaches the client, and the
// bytes then flow both ways untouched, those the client sent with its
// request first. Another kind of upgrade goes on as a plain request.
func TestWebSocketUpgradePassesThrough(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") == "" {
			io.WriteString(w, "plain "+r.Header.Get("Connection"))
			return
		}
		conn, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		io.WriteString(brw, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: "+r.Header.Get("Upgrade")+"\r\nSec-WebSocket-Accept: ok\r\n\r\n")
		brw.Flush()
		for {
			line, err := brw.ReadString('\n')
			if err != nil {
				return
			}
			io.WriteString(conn, strings.ToUpper(line))
		}
	}))
	t.Cleanup(upstream.Close)
	h := start(t, experiment(svc("reviews", 9080, strings.TrimPrefix(upstream.URL, "http://"))))

	c, err := net.Dial("tcp", h.p.MeshAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET /chat HTTP/1.1\r\nHost: reviews:9080\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nfirst\n")
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusSwitchingProtocols || res.Header.Get("Upgrade") != "websocket" || res.Header.Get("Sec-Websocket-Accept") != "ok" {
		t.Fatalf("upgrade answered %d %v", res.StatusCode, res.Header)
	}
	for _, msg := range []string{"first\n", "second\n"} {
		if msg == "second\n" {
			io.WriteString(c, msg)
		}
		got, err := br.ReadString('\n')
		if err != nil || got != strings.ToUpper(msg) {
			t.Fatalf("echo of %q: %q, %v", msg, got, err)
		}
	}
	c.Close()
	// The exchange is logged once the stream ends, as a 101.
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(h.log.String(), `"GET /chat HTTP/1.1" 101`) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(h.log.String(), `"GET /chat HTTP/1.1" 101`) {
		t.Errorf("access log lacks the upgrade:\n%s", h.log.String())
	}

	// Any other upgrade is dropped with the hop-by-hop fields.
	r := h.get("reviews:9080", "/", "Connection: Upgrade", "Upgrade: h2c")
	expect(t, r, 200, "plain ")
}

// Expect: 100-continue is answered by the proxy when it reads the body,
// and not forwarded, as Envoy does by default.
func TestExpectContinueAnsweredByTheProxy(t *testing.T) {
	up := newUpstream(t, "reviews")
	h := start(t, experiment(svc("reviews", 9080, up.addr())))
	c, err := net.Dial("tcp", h.p.MeshAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: reviews:9080\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != http.StatusContinue {
		t.Fatalf("interim answer %v %v, want 100", res, err)
	}
	io.WriteString(c, "data")
	res, err = http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("final answer %v %v", res, err)
	}
	seen := up.last(t)
	if v := seen.Header.Get("Expect"); v != "" {
		t.Errorf("the upstream got Expect: %q", v)
	}
}
