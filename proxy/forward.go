package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/faultline/faultline/proxy/internal/httpfield"
)

var bufPool = sync.Pool{New: func() any { b := make([]byte, copyBufferBytes); return &b }}

var valTrailers = []string{"trailers"}

// upstreamParts are the pieces of a first attempt's request made in one
// allocation: the request itself (when it keeps the downstream request's
// context), its URL and the backing of two header values.
type upstreamParts struct {
	req  http.Request
	url  url.URL
	vals [2]string // X-Forwarded-For, X-Request-Id
}

// upstreamRequest builds the request of the first attempt, with the
// attempt's context, minus the endpoint (attemptRequest sets it). It is a
// shallow copy of the downstream request (no Clone: an unbuffered body
// streams through, header values are shared read-only) with a new URL, a
// new header map and the route's rewrites and header operations. Retries
// and shadows copy it; it is never modified once sent.
func (x *exchange) upstreamRequest(ctx context.Context, r *rule, d *destination) *http.Request {
	in := x.r
	parts := new(upstreamParts)
	var out *http.Request
	if ctx != in.Context() {
		out = in.WithContext(ctx)
	} else {
		out = &parts.req
		*out = *in
	}
	out.RequestURI = ""
	out.Close = false
	// No body: nil lets the transport reuse connections freely.
	out.Body = x.attemptBody()

	u := &parts.url
	u.Scheme = "http"
	rawPath, rawQuery := x.path, x.rawQuery
	if r.hasRewrite {
		var newRaw string
		if r.rewriteRegex != nil {
			newRaw = r.rewriteRegex.ReplaceAllString(x.path, r.rewriteRepl)
			if x.rawQuery != "" {
				newRaw += "?" + x.rawQuery
			}
		} else {
			newRaw = x.replacePath(r.rewriteURI)
		}
		rawPath, rawQuery, _ = strings.Cut(newRaw, "?")
	}
	if strings.HasPrefix(rawPath, "/") && !strings.HasPrefix(rawPath, "//") || rawPath == "*" {
		u.Opaque = rawPath // sent verbatim: no re-escaping of the path
	} else {
		u.Path = rawPath
		if p, err := url.PathUnescape(rawPath); err == nil {
			u.Path, u.RawPath = p, rawPath
		}
	}
	u.RawQuery = rawQuery
	out.URL = u

	// Room for the fields added below: a map sized for at most 8 stays
	// in one group.
	hint := len(in.Header) + 4 + len(r.reqOps) + len(d.reqOps)
	if r.hasRewrite {
		hint++
	}
	if r.timeoutVal != nil || r.retry != nil && r.retry.perTryVal != nil {
		hint++
	}
	// A request without a body reuses the exchange's map: nothing reads
	// it once the exchange ends (retries and shadows copy it). A body's
	// writer may, on its own goroutine: that request gets a map of its own.
	h := x.upstreamHeader
	switch {
	case out.Body != nil:
		h = make(http.Header, hint)
	case h == nil:
		h = make(http.Header, hint)
		x.upstreamHeader = h
	default:
		clear(h)
	}
	tokens := connectionTokens(in.Header)
	for k, vv := range in.Header {
		if isHopByHop(k) || tokens != nil && contains(tokens, k) {
			continue
		}
		if k == "Expect" && len(vv) > 0 && httpfield.HasToken(vv[0], "100-continue") {
			continue // answered here, as Envoy answers it (proxy_100_continue off)
		}
		h[k] = vv
	}
	if te := in.Header["Te"]; len(te) > 0 && headerHasToken(te, "trailers") {
		h["Te"] = valTrailers
	}
	if isWebSocketUpgrade(in.Header) {
		// The one upgrade Istio's routes allow: its headers go through.
		h["Connection"] = valUpgrade
		h["Upgrade"] = in.Header["Upgrade"]
	}
	h[hdrXFF] = forwardedFor(in.Header[hdrXFF], in.RemoteAddr, parts.vals[0:1:1])
	h[hdrXFP] = valHTTP
	if in.TLS != nil {
		h[hdrXFP] = valHTTPS // a gateway that terminated TLS
	}
	if len(h[hdrRequestID]) == 0 || h[hdrRequestID][0] == "" {
		parts.vals[1] = x.ensureRequestID()
		h[hdrRequestID] = parts.vals[1:2:2]
	} else {
		x.requestID = h[hdrRequestID][0]
	}
	h[hdrAttemptCount] = valOne
	if r.retry != nil && r.retry.perTryVal != nil {
		h[hdrExpectedTimeout] = r.retry.perTryVal
	} else if r.timeoutVal != nil {
		h[hdrExpectedTimeout] = r.timeoutVal
	}
	if r.hasRewrite {
		h[hdrOriginalPath] = []string{x.rawPath}
	}
	r.reqOps.apply(h)
	d.reqOps.apply(h)
	out.Header = h
	switch {
	case r.authority != "":
		out.Host = r.authority
	case d.authority != "":
		out.Host = d.authority
	}
	return out
}

func headerHasToken(vv []string, token string) bool {
	for _, v := range vv {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// upstreamFailure answers for the last attempt's failure with Envoy's
// local reply. After a retry, reset bodies say "retried and the latest
// reset reason".
func (x *exchange) upstreamFailure(r *rule, c *cluster, f failure, err error) {
	switch f {
	case failRouteTimeout:
		x.routeTimeout(r, c, true)
	case failClientGone:
		c.stats.rqCancelled.Add(1)
		x.clientGone()
	case failNoHealthy:
		c.stats.cxNoneHealthy.Add(1)
		x.flags |= flagUH
		x.localReply(http.StatusServiceUnavailable, bodyNoHealthyUpstream, "no_healthy_upstream")
	case failPerTryTimeout:
		// The per-try timeout on the final try: Envoy's onPerTryTimeout
		// answers as a timeout, not as a reset.
		c.stats.code(http.StatusGatewayTimeout)
		if r.stats != nil {
			r.stats.timeouts.Add(1)
		}
		x.flags |= flagUT
		x.localReply(http.StatusGatewayTimeout, bodyTimeout, "upstream_per_try_timeout")
	case failOverflow:
		c.stats.code(http.StatusServiceUnavailable)
		x.flags |= flagUO
		x.w.Header()["X-Envoy-Overloaded"] = []string{"true"}
		x.localReply(http.StatusServiceUnavailable, x.resetBody("overflow"),
			"upstream_reset_before_response_started{overflow}")
	case failConnect:
		var de *DialError
		errors.As(err, &de)
		c.stats.code(http.StatusServiceUnavailable)
		x.connectFailed(de)
	default:
		// The upstream closed or reset the connection before headers.
		c.stats.code(http.StatusServiceUnavailable)
		x.flags |= flagUC
		x.localReply(http.StatusServiceUnavailable, x.resetBody("connection termination"),
			"upstream_reset_before_response_started{connection_termination}")
	}
}

// connectFailed answers for a failed dial: Envoy's 503 with flag UF.
func (x *exchange) connectFailed(de *DialError) {
	x.flags |= flagUF
	reason, details := connectFailure(de)
	x.transportFailure = reason
	body := x.resetBody("remote connection failure")
	if reason != "" {
		body += ", transport failure reason: " + reason
	}
	if de.connectTimedOut() {
		body = x.resetBody("connection timeout")
	}
	x.localReply(http.StatusServiceUnavailable, body, details)
}

// resetBody is Envoy's reset reply body for a reset reason.
func (x *exchange) resetBody(reason string) string {
	if x.retried {
		return bodyResetRetried + reason
	}
	return bodyResetPrefix + reason
}

// connectFailure renders a dial error as Envoy's transport failure reason
// ("delayed connect error: 111") and response code details.
func connectFailure(de *DialError) (reason, details string) {
	if de.connectTimedOut() {
		return "", "upstream_reset_before_response_started{connection_timeout}"
	}
	var te *tlsError
	if errors.As(de, &te) {
		reason = tlsFailure(te)
		return reason, "upstream_reset_before_response_started{remote_connection_failure|" + strings.ReplaceAll(reason, " ", "_") + "}"
	}
	var errno syscall.Errno
	if errors.As(de, &errno) {
		reason = "delayed connect error: " + strconv.Itoa(int(errno))
		return reason, "upstream_reset_before_response_started{remote_connection_failure|" + strings.ReplaceAll(reason, " ", "_") + "}"
	}
	return "", "upstream_reset_before_response_started{remote_connection_failure}"
}

// copyResponse streams the upstream response to the client: headers minus
// hop-by-hop ones, server and x-envoy-upstream-service-time, response
// header ops, then the body through a pooled buffer.
func (x *exchange) copyResponse(res *http.Response, r *rule, d *destination, c *cluster) {
	h := x.w.Header()
	tokens := connectionTokens(res.Header)
	for k, vv := range res.Header {
		if isHopByHop(k) || tokens != nil && contains(tokens, k) {
			continue
		}
		h[k] = vv
	}
	if _, ok := h[hdrContentType]; !ok {
		h[hdrContentType] = nil // relay as is: no content sniffing
	}
	h[hdrServer] = x.lt.server
	h[hdrServiceTime] = serviceTimeValue(x.serviceTime)
	if x.setCookie != "" {
		// A consistent-hash cookie the proxy generated (hash.go).
		h["Set-Cookie"] = append(h["Set-Cookie"][:len(h["Set-Cookie"]):len(h["Set-Cookie"])], x.setCookie)
	}
	r.respOps.apply(h)
	d.respOps.apply(h)
	if x.corsOrigin != nil {
		x.corsHeaders(h) // the CORS filter encodes after the router
	}
	if len(res.Trailer) > 0 {
		keys := make([]string, 0, len(res.Trailer))
		for k := range res.Trailer {
			keys = append(keys, k)
		}
		h["Trailer"] = []string{strings.Join(keys, ", ")}
	}
	c.stats.code(res.StatusCode)
	x.code, x.details, x.wroteHeader = res.StatusCode, "via_upstream", true
	x.w.WriteHeader(res.StatusCode)

	bp := bufPool.Get().(*[]byte)
	readErr, writeErr := x.copyBody(res.Body, *bp, res.ContentLength == -1)
	bufPool.Put(bp)
	res.Body.Close()
	switch {
	case writeErr != nil:
		x.clientGone()
		x.abort = true
	case readErr == nil:
		c.stats.rqTime.recordSince(x.routerStart)
	default:
		if x.routeTimedOut() {
			x.routeTimeout(r, c, false) // headers came: not an upstream_rq_timeout
		} else if x.r.Context().Err() != nil {
			x.clientGone()
		} else {
			c.stats.rqRxReset.Add(1)
			x.flags |= flagUR
			c.outlierReset(x.ep)
		}
		x.abort = true
	}
	for k, vv := range res.Trailer {
		h[http.TrailerPrefix+k] = vv
	}
}

// copyBody copies src to the client, flushing after every write when the
// response streams (unknown length), as httputil.ReverseProxy does.
func (x *exchange) copyBody(src io.Reader, buf []byte, flush bool) (readErr, writeErr error) {
	var flusher http.Flusher
	if flush {
		flusher, _ = x.w.(http.Flusher)
	}
	for {
		n, err := src.Read(buf)
		if n > 0 {
			m, werr := x.w.Write(buf[:n])
			x.bytesSent += int64(m)
			if werr != nil {
				return nil, werr
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			return err, nil
		}
	}
}
