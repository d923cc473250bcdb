package proxy

import (
	"bufio"
	"io"
	"net/http"

	"golang.org/x/net/http/httpguts"

	"github.com/faultline/faultline/proxy/internal/httpfield"
)

// WebSocket upgrades, which Istio enables on every HTTP route: the
// request's Connection: Upgrade and Upgrade: websocket go to the
// upstream (other upgrades are dropped with the hop-by-hop fields, and
// the request goes on as a plain one); a 101 answer is passed to the
// client, and the two connections are then joined byte for byte until
// either side ends. The route's faults apply to the upgrade request as to
// any other; nothing applies inside the upgraded stream.

var valUpgrade = []string{"Upgrade"}

// isWebSocketUpgrade: a request asking to switch to WebSocket.
func isWebSocketUpgrade(h http.Header) bool {
	up := h["Upgrade"]
	return len(up) == 1 && httpfield.EqualFold(up[0], "websocket") &&
		httpguts.HeaderValuesContainsToken(h["Connection"], "upgrade")
}

// switchProtocols passes a 101 answer to the client and joins the two
// connections (tunnel.go's relay counts the bytes and lets Close end it).
func (p *Proxy) switchProtocols(x *exchange, res *http.Response, c *cluster) {
	up, ok := res.Body.(io.ReadWriteCloser)
	hj, canHijack := x.w.(http.Hijacker)
	if !ok || !canHijack || !isWebSocketUpgrade(x.r.Header) {
		// A 101 the client did not ask for, or a connection that cannot
		// be taken over: Envoy resets such an upstream stream.
		res.Body.Close()
		c.stats.rqRxReset.Add(1)
		x.flags |= flagUPE
		x.localReply(http.StatusBadGateway, "upstream sent an unexpected protocol switch", "upstream_protocol_error")
		return
	}
	down, brw, err := hj.Hijack()
	if err != nil {
		up.Close()
		x.localReply(http.StatusInternalServerError, "", "upgrade_hijack_failed")
		return
	}
	c.stats.code(res.StatusCode)
	x.code, x.details, x.wroteHeader = res.StatusCode, "via_upstream", true
	writeSwitchHead(brw.Writer, res, x.lt.server)
	if err := brw.Flush(); err != nil {
		down.Close()
		up.Close()
		x.flags |= flagDC
		return
	}
	t := &tunnel{down: down}
	if !p.tunnels.add(t) {
		down.Close() // Close is under way
		up.Close()
		return
	}
	defer p.tunnels.remove(t)
	x.bytesReceived, x.bytesSent = p.join(t, brw.Reader, up)
}

// writeSwitchHead writes the 101 head: the upstream's fields, Connection
// and Upgrade included, and the listener's server name.
func writeSwitchHead(w *bufio.Writer, res *http.Response, server []string) {
	w.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	for k, vv := range res.Header {
		if k == hdrServer {
			continue
		}
		for _, v := range vv {
			w.WriteString(k + ": " + v + "\r\n")
		}
	}
	for _, v := range server {
		w.WriteString(hdrServer + ": " + v + "\r\n")
	}
	w.WriteString("\r\n")
}

// join copies both ways between the client (whose buffered bytes come
// first) and an upgraded upstream stream until either ends, then closes
// both. It returns the bytes carried up and down.
func (p *Proxy) join(t *tunnel, client io.Reader, up io.ReadWriteCloser) (sent, received int64) {
	tc := &p.reg.tunnels
	done := make(chan struct{})
	go func() {
		defer close(done)
		sent, _ = pump(up, client, &tc.bytesUp)
		up.Close()
		t.down.Close()
	}()
	received, _ = pump(t.down, up, &tc.bytesDown)
	up.Close()
	t.down.Close()
	<-done
	return sent, received
}
