package api

import (
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/faultline/faultline/scenarios"
)

// The guards a browser needs: a page the operator visits, on another site
// or under a host name rebound to loopback, must neither write nor read.
//
//	request → security headers → Host → deadlines → cross-site writes
//	        → authenticate → audit → authorize → content type → body limit → handler
//
// Nothing reads the body before authorize has let the request through.

// contentSecurityPolicy lets the dashboard load only its own files and
// talk only to this server, and no page frame it. The dashboard's
// scripts set style attributes (editor marks, graph widths), hence
// style-src-attr.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; " +
	"img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// securityHeaders sends, on every answer, the headers that keep the
// dashboard and the API out of other sites' frames, scripts and sniffing.
func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	c.Next()
}

// hostGuard admits requests by their Host header: loopback names
// (localhost, 127.0.0.0/8, ::1) at any port, and the names given to
// --allow-host ("*" admits any). A page under a name that DNS rebinding
// pointed at loopback is refused, so it can read nothing. /healthz answers
// any Host, for probes that call the server by a container's name.
type hostGuard struct {
	any   bool
	names map[string]bool
}

func newHostGuard(allow []string) *hostGuard {
	g := &hostGuard{names: make(map[string]bool, len(allow))}
	for _, a := range allow {
		a = strings.ToLower(strings.TrimSpace(a))
		if a == "*" {
			g.any = true
		} else if a != "" {
			g.names[hostName(a)] = true
		}
	}
	return g
}

// hostName strips the port and an IPv6 literal's brackets from a Host
// header or an origin's host.
func hostName(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
}

// admits reports whether the server answers to host (a Host header).
func (g *hostGuard) admits(host string) bool {
	name := hostName(host)
	if name == "" {
		return false
	}
	return g.any || scenarios.IsLoopbackHost(name) || g.names[name]
}

func (h *handlers) checkHost(c *gin.Context) {
	if c.Request.URL.Path == "/healthz" || h.hosts.admits(c.Request.Host) {
		c.Next()
		return
	}
	h.refuse(c, &Error{Status: http.StatusForbidden, Field: "Host", Code: "host",
		Message: "this server answers to loopback names only, not to host " + strconv.Quote(c.Request.Host) +
			": start serve with --allow-host " + hostName(c.Request.Host) + " (or FAULTLINE_ALLOW_HOST) if that name is meant to reach it"})
}

// checkCrossSite refuses a write a browser sends from another site: by
// Sec-Fetch-Site (cross-site or same-site), or by an Origin that is
// neither this server's own (the scheme, host and port the request came
// to) nor at a name given to --allow-host. A write with neither header
// (curl, the CLI, Go clients) passes; a token, where one is required, is
// what guards those.
func (h *handlers) checkCrossSite(c *gin.Context) {
	r := c.Request
	if isRead(r.Method) {
		c.Next()
		return
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" {
		h.refuse(c, &Error{Status: http.StatusForbidden, Field: "Sec-Fetch-Site", Code: "cross-site",
			Message: "a write from another site's page is refused (Sec-Fetch-Site: " + site + "): use the dashboard this server serves, or a client outside the browser"})
		return
	}
	if origin := r.Header.Get("Origin"); origin != "" && !h.sameOrigin(origin, r) {
		h.refuse(c, &Error{Status: http.StatusForbidden, Field: "Origin", Code: "cross-site",
			Message: "a write from the page at " + strconv.Quote(origin) + " is refused: it is not this server's origin " + strconv.Quote(ownOrigin(r)) +
				" (serve --allow-host NAME admits pages served under NAME)"})
		return
	}
	c.Next()
}

// sameOrigin reports whether origin (an Origin header) is the request's
// own, or has a host name given to --allow-host ("*" does not count: it
// admits Host headers, not other sites' pages).
func (h *handlers) sameOrigin(origin string, r *http.Request) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.Opaque != "" || u.Path != "" {
		return false // "null", or not an origin
	}
	if h.hosts.names[hostName(u.Host)] {
		return true
	}
	return strings.EqualFold(u.Scheme+"://"+withPort(u.Host, u.Scheme), ownScheme(r)+"://"+withPort(r.Host, ownScheme(r)))
}

func ownScheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

func ownOrigin(r *http.Request) string { return ownScheme(r) + "://" + r.Host }

// withPort adds the scheme's default port to a host that has none.
func withPort(host, scheme string) string {
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	port := "80"
	if strings.EqualFold(scheme, "https") {
		port = "443"
	}
	return net.JoinHostPort(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), port)
}

// yamlTypes are the media types of a YAML body.
var yamlTypes = []string{"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"}

// documentTypes are the media types a write's body may have.
var documentTypes = append([]string{"application/json"}, yamlTypes...)

// readsAsYAML reports whether a document's reader takes a body of
// mediaType as YAML: a YAML type, or none or text/plain (which
// checkContentType refuses on writes before any reader sees them).
func readsAsYAML(mediaType string) bool {
	return mediaType == "" || mediaType == "text/plain" || slices.Contains(yamlTypes, mediaType)
}

// unsupportedMediaType is the 415 of a body neither JSON nor YAML.
func unsupportedMediaType(mediaType string) error {
	return &Error{Status: http.StatusUnsupportedMediaType, Message: "Content-Type must be application/yaml or application/json, not " + mediaType, Field: "Content-Type"}
}

// checkContentType refuses (415) a write whose body is not declared JSON
// or YAML: a form or text/plain body is what a page on another site can
// send without asking, so it is never read as a document.
func (h *handlers) checkContentType(c *gin.Context) {
	r := c.Request
	if isRead(r.Method) || !hasBody(r) {
		c.Next()
		return
	}
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	for _, t := range documentTypes {
		if err == nil && mediaType == t {
			c.Next()
			return
		}
	}
	got := "none"
	if ct := r.Header.Get("Content-Type"); ct != "" {
		got = strconv.Quote(ct)
	}
	h.refuse(c, &Error{Status: http.StatusUnsupportedMediaType, Field: "Content-Type",
		Message: "Content-Type must be application/json or application/yaml, not " + got})
}

// refuse answers a request the guards turn away. When the request
// carries a body, the connection closes after the answer: the server
// neither reads nor waits for a body it will not use.
func (h *handlers) refuse(c *gin.Context, err error) {
	if hasBody(c.Request) {
		c.Header("Connection", "close")
	}
	writeError(c, h.log, err)
}

// hasBody reports whether the request says it carries a body.
func hasBody(r *http.Request) bool { return r.ContentLength > 0 || r.ContentLength < 0 }

// deadlines bounds how long a request may take to send its body
// (ReadTimeout: then 408) and an answer other than an event stream may
// take to be written (WriteTimeout), per request, so that event streams
// stay open as long as they follow something.
func (h *handlers) deadlines(c *gin.Context) {
	rc := http.NewResponseController(c.Writer)
	if !isEventStream(c.FullPath()) {
		_ = rc.SetWriteDeadline(time.Now().Add(h.cfg.WriteTimeout))
		// The connection may carry an event stream next.
		defer func() { _ = rc.SetWriteDeadline(time.Time{}) }()
	}
	if hasBody(c.Request) {
		_ = rc.SetReadDeadline(time.Now().Add(h.cfg.ReadTimeout))
		c.Request.Body = &deadlineBody{ReadCloser: c.Request.Body, clear: func() { _ = rc.SetReadDeadline(time.Time{}) }}
	}
	c.Next()
}

// isEventStream reports whether route answers with server-sent events.
func isEventStream(route string) bool { return strings.HasSuffix(route, "/events") }

// deadlineBody lifts the read deadline once the body has been read to
// its end: the server's own read that notices a client leaving must not
// time out while the handler works.
type deadlineBody struct {
	io.ReadCloser
	clear func()
	done  bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done {
		b.done = true
		b.clear()
	}
	return n, err
}
