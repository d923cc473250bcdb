package proxy

import (
	"bytes"
	"io"
	"net/http"
)

// Request bodies and replay. Envoy's router buffers the request body while
// a retry or a shadow may still need it, up to the listener's buffer
// limit; past it, retries and shadowing are abandoned for that request
// (cluster stat retry_or_shadow_abandoned) and the body streams on. Faultline
// does the same with one difference in timing: it reads the body (up to
// maxReplayBodyBytes) before the first attempt instead of while it is in
// flight. A body past the limit therefore always finds "an attempt in
// flight" in Envoy's terms, so Envoy's 507 (which needs the overflow to
// happen while waiting for a retry) never occurs: the request is forwarded
// once, streaming, without retries or shadows.
//
// Requests without a body, and routes with neither retries nor mirrors,
// stream as before and buffer nothing.

// hasBody reports whether the downstream request carries a body.
func hasBody(r *http.Request) bool {
	return r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
}

// bufferBody reads the request body for replay when the rule may need it
// again (retries or mirrors). It returns false when the client went away
// while sending it, after recording that.
func (x *exchange) bufferBody(r *rule, c *cluster) bool {
	if !hasBody(x.r) || r.retry.retriesFor() == 0 && len(r.mirrors) == 0 {
		return true
	}
	in := x.r.Body
	size := x.r.ContentLength
	if size > maxReplayBodyBytes {
		x.abandonReplay(c, nil, in)
		return true
	}
	var buf []byte
	if size > 0 {
		buf = make([]byte, 0, size+1) // +1: room to see EOF without growing
	} else {
		buf = make([]byte, 0, 4<<10)
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := in.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > maxReplayBodyBytes {
			x.abandonReplay(c, buf, in)
			return true
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			c.stats.rqCancelled.Add(1)
			x.clientGone()
			return false
		}
	}
	x.reqBody, x.replay = buf, true
	return true
}

// abandonReplay gives up retries and shadows for a body over the limit: the
// part already read goes first, the rest streams from the client.
func (x *exchange) abandonReplay(c *cluster, head []byte, rest io.ReadCloser) {
	c.stats.retryOrShadowAbandoned.Add(1)
	x.noReplay = true
	if len(head) > 0 {
		x.streamBody = readCloser{io.MultiReader(bytes.NewReader(head), rest), rest}
	}
}

type readCloser struct {
	io.Reader
	io.Closer
}

// attemptBody returns the body of one attempt (or shadow): a fresh reader
// over the buffered bytes, the downstream body itself when nothing was
// buffered, or nil without a body.
func (x *exchange) attemptBody() io.ReadCloser {
	switch {
	case x.replay:
		return io.NopCloser(bytes.NewReader(x.reqBody))
	case x.streamBody != nil:
		return x.streamBody
	case hasBody(x.r):
		return x.r.Body
	}
	return nil
}
