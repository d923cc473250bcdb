package proxy

import (
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
)

// Header values the proxy writes on every request are built once: slices
// shared read-only by every request (net/http only reads them).
var (
	valOne          = []string{"1"}
	valHTTP         = []string{"http"}
	valEnvoy        = []string{"envoy"}
	valIstioEnvoy   = []string{"istio-envoy"}
	valTextPlain    = []string{"text/plain"}
	valGRPC         = []string{"application/grpc"}
	valFaultAbort   = []string{"fault filter abort"}
	serviceTimeVals [1000][]string // "0".."999": x-envoy-upstream-service-time without allocating
)

func init() {
	for i := range serviceTimeVals {
		serviceTimeVals[i] = []string{strconv.Itoa(i)}
	}
}

// serviceTimeValue renders milliseconds for x-envoy-upstream-service-time.
func serviceTimeValue(ms int64) []string {
	if ms >= 0 && ms < int64(len(serviceTimeVals)) {
		return serviceTimeVals[ms]
	}
	return []string{strconv.FormatInt(ms, 10)}
}

// Canonical names of the headers the proxy reads or writes.
const (
	hdrRequestID       = "X-Request-Id"
	hdrAttemptCount    = "X-Envoy-Attempt-Count"
	hdrExpectedTimeout = "X-Envoy-Expected-Rq-Timeout-Ms"
	hdrOriginalPath    = "X-Envoy-Original-Path"
	hdrServiceTime     = "X-Envoy-Upstream-Service-Time"
	hdrXFF             = "X-Forwarded-For"
	hdrXFP             = "X-Forwarded-Proto"
	hdrServer          = "Server"
	hdrContentType     = "Content-Type"
	hdrGRPCStatus      = "Grpc-Status"
	hdrGRPCMessage     = "Grpc-Message"
	hdrLocation        = "Location"
)

// isHopByHop reports the hop-by-hop headers httputil.ReverseProxy removes
// (RFC 9110 §7.6.1), by canonical name.
func isHopByHop(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// connectionTokens returns the header names listed in Connection, which are
// hop-by-hop too. It allocates only when Connection is present.
func connectionTokens(h http.Header) []string {
	vv := h["Connection"]
	if len(vv) == 0 {
		return nil
	}
	var out []string
	for _, v := range vv {
		for tok := range strings.SplitSeq(v, ",") {
			if tok = textproto.TrimString(tok); tok != "" {
				out = append(out, textproto.CanonicalMIMEHeaderKey(tok))
			}
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// headerOp is one compiled set/add/remove.
type headerOp struct {
	kind opKind
	key  string   // canonical
	vals []string // set: the shared value slice; add: one value
}

type opKind uint8

const (
	opSet opKind = iota
	opAdd
	opRemove
)

// headerOps are compiled HeaderOperations, applied in Envoy's order:
// remove, then set, then add.
type headerOps []headerOp

func (ops headerOps) apply(h http.Header) {
	for i := range ops {
		op := &ops[i]
		switch op.kind {
		case opRemove:
			delete(h, op.key)
		case opSet:
			h[op.key] = op.vals
		case opAdd:
			if old := h[op.key]; len(old) > 0 {
				h[op.key] = append(old[:len(old):len(old)], op.vals[0])
			} else {
				h[op.key] = op.vals
			}
		}
	}
}

// forwardedFor is X-Forwarded-For with the client IP of RemoteAddr
// "ip:port" appended; one, a slice of length 1, holds the value when it is
// the only one.
func forwardedFor(prior []string, remoteAddr string, one []string) []string {
	ip := remoteAddr
	if i := strings.LastIndexByte(ip, ':'); i >= 0 {
		ip = ip[:i]
	}
	ip = strings.TrimSuffix(strings.TrimPrefix(ip, "["), "]")
	if ip == "" {
		return prior
	}
	if len(prior) == 0 {
		one[0] = ip
		return one
	}
	one[0] = strings.Join(prior, ", ") + ", " + ip
	return one
}
