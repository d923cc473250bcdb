package proxy

import (
	"net"
	"net/http"
	"strconv"
	"strings"
)

// Bodies of Envoy's local replies, byte for byte (docs/istio.md, Local
// replies).
const (
	bodyFaultAbort        = "fault filter abort"
	bodyNoHealthyUpstream = "no healthy upstream"
	bodyTimeout           = "upstream request timeout"
	bodyResetPrefix       = "upstream connect error or disconnect/reset before headers. reset reason: "
	bodyResetRetried      = "upstream connect error or disconnect/reset before headers. retried and the latest reset reason: "
)

// localReply answers with a router- or filter-generated reply: a text body,
// text/plain, the listener's server header, no response header ops, no
// x-envoy-upstream-service-time. gRPC requests get Envoy's gRPC form.
func (x *exchange) localReply(code int, body, details string) {
	h := x.w.Header()
	if isGRPC(x.r) {
		h[hdrContentType] = valGRPC
		h[hdrGRPCStatus] = []string{strconv.Itoa(grpcStatusForHTTP(code))}
		if body != "" {
			h[hdrGRPCMessage] = []string{body}
		}
		x.finishLocal(http.StatusOK, nil, details)
		return
	}
	if body != "" {
		h[hdrContentType] = valTextPlain
	}
	x.writeHead(code, details)
	if body != "" {
		n, err := x.w.(stringWriter).WriteString(body)
		x.bytesSent += int64(n)
		if err != nil {
			x.flags |= flagDC
		}
	}
}

type stringWriter interface{ WriteString(string) (int, error) }

// finishLocal answers with code and an optional body, headers as already
// set by the caller.
func (x *exchange) finishLocal(code int, body []byte, details string) {
	x.writeHead(code, details)
	if len(body) > 0 {
		n, err := x.w.Write(body)
		x.bytesSent += int64(n)
		if err != nil {
			x.flags |= flagDC
		}
	}
}

func (x *exchange) writeHead(code int, details string) {
	if x.lt != nil {
		x.w.Header()[hdrServer] = x.lt.server
	} else {
		x.w.Header()[hdrServer] = valEnvoy
	}
	if x.corsOrigin != nil {
		x.corsHeaders(x.w.Header())
	}
	x.code, x.details, x.wroteHeader = code, details, true
	x.w.WriteHeader(code)
}

// noRoute is Envoy's 404 with flag NR and an empty body.
func (x *exchange) noRoute() {
	x.flags |= flagNR
	x.ls.noRoute.Add(1)
	x.finishLocal(http.StatusNotFound, nil, "route_not_found")
}

// clientGone records a client that went away before a response: code 0,
// flag DC, as Envoy logs it.
func (x *exchange) clientGone() {
	x.flags |= flagDC
	x.details = "downstream_remote_disconnect"
	x.ls.clientCancel.Add(1)
}

func isGRPC(r *http.Request) bool {
	vv := r.Header[hdrContentType]
	return len(vv) > 0 && strings.HasPrefix(vv[0], "application/grpc")
}

// grpcStatusForHTTP is Envoy's HTTP → gRPC status mapping for local replies.
func grpcStatusForHTTP(code int) int {
	switch code {
	case 400:
		return 13 // INTERNAL
	case 401:
		return 16 // UNAUTHENTICATED
	case 403:
		return 7 // PERMISSION_DENIED
	case 404:
		return 12 // UNIMPLEMENTED
	case 429, 502, 503, 504:
		return 14 // UNAVAILABLE
	}
	return 2 // UNKNOWN
}

// directReply answers a directResponse rule. Route response header ops
// apply (Envoy finalizes direct replies), after a default text/plain.
func (x *exchange) directReply(r *rule) {
	x.ls.direct.Add(1)
	if r.stats != nil {
		r.stats.direct.Add(1)
	}
	h := x.w.Header()
	if len(r.direct.body) > 0 {
		h[hdrContentType] = valTextPlain
	}
	r.respOps.apply(h)
	x.finishLocal(r.direct.status, r.direct.body, "direct_response")
}

// redirect answers a redirect rule (docs/istio.md, Redirects and direct
// responses; Envoy newUri).
func (x *exchange) redirect(r *rule) {
	x.ls.redirects.Add(1)
	if r.stats != nil {
		r.stats.redirect.Add(1)
	}
	rd := r.redirect
	scheme := x.scheme
	if rd.scheme != "" {
		scheme = rd.scheme
	}
	var port string
	switch {
	case rd.port != 0:
		port = ":" + strconv.FormatUint(uint64(rd.port), 10)
	case rd.derivePort == "FROM_REQUEST_PORT":
		port = ":" + strconv.FormatUint(uint64(x.port), 10)
	}
	host := rd.authority
	if host == "" {
		host = x.r.Host
		if h, p, err := net.SplitHostPort(host); err == nil {
			drop := port != "" || rd.derivePort == "FROM_PROTOCOL_DEFAULT"
			if scheme != x.scheme {
				drop = drop || x.scheme == "http" && p == "80" || x.scheme == "https" && p == "443"
			}
			if drop {
				host = h
				if strings.Contains(h, ":") {
					host = "[" + h + "]"
				}
			}
		}
	}
	var path string
	switch {
	case rd.uri != "":
		path = rd.uri
		if !strings.Contains(rd.uri, "?") && x.rawQuery != "" {
			path += "?" + x.rawQuery
		}
	case rd.hasPrefix:
		path = x.replacePath(rd.prefix)
	default:
		path = x.rawPath
	}
	h := x.w.Header()
	h[hdrLocation] = []string{scheme + "://" + host + port + path}
	r.respOps.apply(h)
	x.finishLocal(rd.code, nil, "direct_response")
}

// httpsRedirect is a gateway server's tls.httpsRedirect: 301 to https.
func (x *exchange) httpsRedirect() {
	x.ls.redirects.Add(1)
	host := x.r.Host
	if h, p, err := net.SplitHostPort(host); err == nil && p == "80" {
		host = h
	}
	x.w.Header()[hdrLocation] = []string{"https://" + host + x.rawPath}
	x.finishLocal(http.StatusMovedPermanently, nil, "direct_response")
}

// replacePath applies Envoy's prefix_rewrite: the matched prefix of the raw
// path is replaced; for exact and regex matches the whole path is, and the
// query is kept.
func (x *exchange) replacePath(with string) string {
	e := x.entry
	if e.wholeURI {
		if x.rawQuery != "" {
			return with + "?" + x.rawQuery
		}
		return with
	}
	if len(e.prefix) <= len(x.rawPath) {
		return with + x.rawPath[len(e.prefix):]
	}
	return with
}
