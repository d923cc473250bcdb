package proxy

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// strMatch is a compiled Istio StringMatch.
type strMatch struct {
	kind     strKind
	value    string
	re       *regexp.Regexp
	foldCase bool // ignoreUriCase: exact and prefix only
}

type strKind uint8

const (
	strPresent strKind = iota // {} or regex "*": the value exists
	strExact
	strPrefix
	strRegex
)

func (m *strMatch) match(s string) bool {
	switch m.kind {
	case strExact:
		if m.foldCase {
			return strings.EqualFold(s, m.value)
		}
		return s == m.value
	case strPrefix:
		if m.foldCase {
			return len(s) >= len(m.value) && strings.EqualFold(s[:len(m.value)], m.value)
		}
		return strings.HasPrefix(s, m.value)
	case strRegex:
		return m.re.MatchString(s)
	}
	return true
}

// headerMatch is one entry of headers or withoutHeaders.
type headerMatch struct {
	key    string // canonical
	m      strMatch
	invert bool // withoutHeaders
}

// matches applies Envoy's header matcher as istiod programs it: values of a
// repeated header are joined with ","; withoutHeaders inverts the result
// and, unless it is a presence matcher, treats a missing header as "".
func (hm *headerMatch) matches(h http.Header) bool {
	vv, present := h[hm.key]
	if hm.m.kind == strPresent {
		return present != hm.invert
	}
	var v string
	switch len(vv) {
	case 0:
		if !hm.invert {
			return false
		}
	case 1:
		v = vv[0]
	default:
		v = strings.Join(vv, ",")
	}
	return hm.m.match(v) != hm.invert
}

// queryMatch is one entry of queryParams.
type queryMatch struct {
	key string
	m   strMatch
}

// lookupQuery finds the first value of key in a raw query string without
// allocating unless the value is escaped. "?key" yields ("", true).
func lookupQuery(rawQuery, key string) (string, bool) {
	for rawQuery != "" {
		var part string
		part, rawQuery, _ = strings.Cut(rawQuery, "&")
		k, v, _ := strings.Cut(part, "=")
		if strings.ContainsAny(k, "%+") {
			if uk, err := url.QueryUnescape(k); err == nil {
				k = uk
			}
		}
		if k != key {
			continue
		}
		if strings.ContainsAny(v, "%+") {
			if uv, err := url.QueryUnescape(v); err == nil {
				v = uv
			}
		}
		return v, true
	}
	return "", false
}

// matcher is one compiled HTTPMatchRequest (one Envoy route's match).
type matcher struct {
	uri       *strMatch
	scheme    *strMatch
	method    *strMatch
	authority *strMatch
	headers   []headerMatch
	query     []queryMatch
	port      uint32 // mesh only: compared with the request's port
	// source is the sourceLabels condition (source_labels.go); nil
	// without one.
	source *sourceMatch
}

// catchAll reports a match istiod treats as catch-all: nothing but
// prefix "/" or regex ".*" on the uri.
func (m *matcher) catchAll() bool {
	if m.scheme != nil || m.method != nil || m.authority != nil || len(m.headers) > 0 || len(m.query) > 0 || m.port != 0 || m.source != nil {
		return false
	}
	if m.uri == nil {
		return true
	}
	switch m.uri.kind {
	case strPrefix:
		return m.uri.value == "/"
	case strRegex:
		return m.uri.re.String() == "^(?:.*)$"
	}
	return false
}

// matches evaluates the block: all fields must hold.
func (m *matcher) matches(x *exchange) bool {
	if m.port != 0 && m.port != x.port {
		return false
	}
	if m.uri != nil {
		target := x.path // exact and regex see the path without query
		if m.uri.kind == strPrefix {
			target = x.rawPath // prefix sees the raw :path, query included
		}
		if !m.uri.match(target) {
			return false
		}
	}
	if m.method != nil && !m.method.match(x.r.Method) {
		return false
	}
	if m.authority != nil && !m.authority.match(x.r.Host) {
		return false
	}
	if m.scheme != nil && !m.scheme.match(x.scheme) {
		return false
	}
	for i := range m.headers {
		if !m.headers[i].matches(x.r.Header) {
			return false
		}
	}
	for i := range m.query {
		q := &m.query[i]
		v, ok := lookupQuery(x.rawQuery, q.key)
		if !ok || !q.m.match(v) {
			return false
		}
	}
	if m.source != nil && !m.source.matches(x) {
		return false
	}
	return true
}
