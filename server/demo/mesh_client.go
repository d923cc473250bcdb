package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"
)

// maxUpstreamBody bounds what a Bookinfo service reads of an upstream reply.
const maxUpstreamBody = 1 << 20

// errNoMesh is the dial error of a call made before SetMesh.
var errNoMesh = errors.New("demo: no proxy listener set (SetMesh)")

// propagated are the request headers a Bookinfo service copies onto its
// outbound calls, as Bookinfo does, so the proxy can match on the user and
// trace the call: end-user, x-request-id, the B3 and W3C trace headers,
// user-agent and cookie.
var propagated = []string{
	"End-User", "X-Request-Id",
	"X-B3-Traceid", "X-B3-Spanid", "X-B3-Parentspanid", "X-B3-Sampled", "X-B3-Flags", "B3",
	"Traceparent", "Tracestate", "X-Ot-Span-Context",
	"User-Agent", "Cookie",
}

// meshClient sends a service's outbound calls in one of two ways:
//
//   - through a Faultline proxy listener (newMeshClient): every connection
//     is dialled to the listener's address, whatever host the URL names,
//     and the request keeps its Host ("reviews:9080"), so the proxy routes
//     it by name as a sidecar would;
//   - by name (newNamedClient), as an ordinary HTTP client: through the
//     forward proxy its proxy function picks for the URL (an absolute-form
//     request), or straight to the named host when there is none.
type meshClient struct {
	byName    bool
	addr      atomic.Pointer[string]
	transport *http.Transport
}

func newMeshClient(addr string) *meshClient {
	c := &meshClient{}
	c.transport = newTransport(nil, c.dial) // never HTTP_PROXY from the environment: the mesh is the proxy
	if addr != "" {
		c.addr.Store(&addr)
	}
	return c
}

// newNamedClient returns a client that calls by name through the forward
// proxy proxy picks for each request (nil = http.ProxyFromEnvironment), or
// directly when it picks none.
func newNamedClient(proxy func(*http.Request) (*url.URL, error)) *meshClient {
	if proxy == nil {
		proxy = http.ProxyFromEnvironment
	}
	var d net.Dialer
	return &meshClient{byName: true, transport: newTransport(proxy, d.DialContext)}
}

func newTransport(proxy func(*http.Request) (*url.URL, error), dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Transport {
	return &http.Transport{
		Proxy:               proxy,
		DialContext:         dial,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
}

// outbound returns the client of a Bookinfo service configured by opts.
func (o BookinfoOptions) outbound() *meshClient {
	if o.ByName {
		return newNamedClient(o.Proxy)
	}
	return newMeshClient(o.Mesh)
}

// setAddr points later calls at addr and drops idle connections to the
// previous one. A client that calls by name ignores it.
func (c *meshClient) setAddr(addr string) {
	if c.byName {
		return
	}
	c.addr.Store(&addr)
	c.transport.CloseIdleConnections()
}

func (c *meshClient) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	a := c.addr.Load()
	if a == nil || *a == "" {
		return nil, errNoMesh
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", *a)
}

// reply is an upstream answer, body read.
type reply struct {
	status int
	body   []byte
}

// get calls rawURL (through the mesh, or by name) within timeout, copying
// the propagated headers of in. An error means no reply: a connection
// failure, a reset or the timeout.
func (c *meshClient) get(ctx context.Context, rawURL string, in http.Header, timeout time.Duration) (reply, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return reply{}, fmt.Errorf("demo: call %s: %w", rawURL, err)
	}
	for _, k := range propagated {
		if vv := in.Values(k); len(vv) > 0 {
			req.Header[k] = vv
		}
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "faultline-bookinfo")
	}
	res, err := c.transport.RoundTrip(req)
	if err != nil {
		return reply{}, fmt.Errorf("demo: call %s: %w", rawURL, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxUpstreamBody))
	if err != nil {
		return reply{}, fmt.Errorf("demo: call %s: read: %w", rawURL, err)
	}
	return reply{status: res.StatusCode, body: body}, nil
}
